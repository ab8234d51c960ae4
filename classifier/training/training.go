// Package training makes topic models: it reads a labelled corpus, learns per-label term counts
// with goml, fits the calibration on out-of-fold scores, validates on held-out rows and measures
// the result. Serving needs none of it: package classifier loads and scores the model file that
// training writes, and goml is linked only into programs that train.
//
// # Recipe
//
// A [Recipe] is every setting of a model; [Shipped] is the shipped default model's, and
// [Recipe.Build] turns a [Corpus] into a model with it:
//
//	c, err := training.LoadCorpus("../shared/corpus/news-topics-train-v2.jsonl")
//	m, v, err := training.Shipped().Build(ctx, c) // v: the held-out validation stored in m
//
// The settings are recorded in the model's provenance and the same corpus and recipe give the
// same bytes, which a test checks against the embedded model.
//
// # Counting
//
// [Train] feeds [Example] values through goml's text.NaiveBayes OnlineLearn with classifier's
// tokenizer (see classifier.TokenizerConfig) and a pass-through sanitizer, keeps goml's per-label
// term counts and compiles them with classifier.New.
//
// # Calibration and evaluation
//
// [OutOfFoldSamples] scores every row with a model that did not train on it; [FitCalibration]
// fits a classifier.Calibration to such scores. [SplitNewest], [SplitByDate] and [KFold] hold
// rows out; [Evaluate] turns predictions into accuracy, per-label F1, a confusion matrix and a
// reliability table, and [LongDocuments] joins rows into article-length documents.
//
// No function modifies its arguments, so any may be called from many goroutines at once.
package training

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/topicd/topicd/classifier"
)

// Recipe is every setting that shapes a model: what Train counts, how the calibration is fitted
// and how the model is validated before it is trained on every row. Recipe.Build turns a corpus
// into a model with them, and every setting is recorded in the model's provenance (see
// Recipe.Settings), so a model file says how to rebuild it.
//
// A new setting is a field here, a line in Settings (and Shipped), and a flag in `topicctl train`.
type Recipe struct {
	// Labels in model order; every row's label must be one. Fallback is the label a
	// classification that abstains returns.
	Labels   []string
	Fallback string
	// Tokenizer and Scoring are stored in the model and used when it scores.
	Tokenizer classifier.TokenizerConfig
	Scoring   classifier.ScoringConfig
	// MinTermCount drops terms seen fewer times in all training rows together.
	MinTermCount int
	// MaxTerms, when positive, keeps only that many terms, those most tied to one label
	// (Config.MaxTerms).
	MaxTerms int
	// MaxDocsPerLabel, when positive, keeps at most that many rows of each label.
	MaxDocsPerLabel int
	// DropTextLabels leaves out of training the rows whose label was decided from their text
	// (label_source "text").
	DropTextLabels bool
	// Calibrate names the calibration fitted on out-of-fold scores: none, temperature, length,
	// power, bias, length+bias or power+bias (see ParseCalibrationFit).
	Calibrate string
	// CalibrationFolds is how many folds the out-of-fold scores come from.
	CalibrationFolds int
	// Long is how many long documents (3-30 rows of one label joined) per label and fold the
	// calibration fits on, and per label validation scores.
	Long int
	// LongShare is the share of the calibration loss the long documents carry, in [0, 1).
	LongShare float64
	// CalibrationBalance weighs calibration samples by (1/label frequency)^B, in [0, 1]: 0
	// calibrates for the training label mix, 1 for a balanced mix.
	CalibrationBalance float64
	// CalibrationMix, when not empty, is the label mix the calibration is fitted for, in place
	// of CalibrationBalance: the calibration samples are weighed so that each label named here
	// has that share of their weight, and the labels not named share the rest in proportion to
	// their rows. The model records the mix (classifier.Calibration.Mix) as the prior its
	// confidences assume, which a request's label_mix replaces.
	CalibrationMix map[string]float64
	// TopicFeatures names the features the topic regressions read, joined by "+" (see
	// ParseTopicFeatures), or "none" for a model without a topic calibration, whose topic
	// probabilities are its label confidences.
	TopicFeatures string
	// TopicWindow is the passage length, in known terms, the topic features are read with, and
	// TopicTemperature the passage temperature (classifier.TopicCalibration.Temperature; 0
	// means 1).
	TopicWindow      int
	TopicTemperature float64
	// TopicMixed is how many articles assembled from held-out rows (MixedDocuments) each
	// calibration fold adds to the topic calibration's samples.
	TopicMixed int
	// TopicMixedShare is the share of the topic calibration's loss the assembled articles carry,
	// in [0, 1); the held-out rows carry the rest.
	TopicMixedShare float64
	// topicArticles and topicArticlesName come from Corpus.TopicArticles in Build.
	topicArticles     []Example
	topicArticlesName string
	// Validation is the held-out measurement stored in the model: newest=F (the newest share F
	// of each label by date), date=YYYY-MM-DD, kfold=K or none (see Recipe.Validate).
	Validation string
}

// Shipped returns the recipe of the shipped default model (models/news-topics.model), chosen on
// validation as docs/accuracy.md tells. Rebuilding that model with it from the corpus gives the
// same bytes; a test checks it. Every call returns a fresh copy.
func Shipped() Recipe {
	return Recipe{
		Labels:   slices.Clone(DefaultLabels),
		Fallback: DefaultFallbackLabel,
		Tokenizer: classifier.TokenizerConfig{
			MinLength:     2,
			DropNumbers:   true,
			DropStopWords: true,
		},
		Scoring: classifier.ScoringConfig{
			Variant:      classifier.Complement,
			Alpha:        0.2,
			Priors:       classifier.PriorsLearned,
			LabelWeights: map[string]float64{"cybersecurity": 5, "migration": 2},
		},
		MinTermCount:     2,
		MaxTerms:         20000,
		Calibrate:        "power+bias",
		CalibrationFolds: 5,
		Long:             40,
		LongShare:        0.5,
		CalibrationMix:   map[string]float64{"cybersecurity": 0.08},
		TopicFeatures:    "share+wins+peak+pairpeak",
		TopicWindow:      60,
		TopicTemperature: 8,
		TopicMixed:       400,
		TopicMixedShare:  0.5,
		Validation:       "newest=0.2",
	}
}

// ParseCalibrationFit reads a calibration name (Recipe.Calibrate); "none" gives nil.
func ParseCalibrationFit(name string) (*CalibrationFit, error) {
	switch name {
	case "none":
		return nil, nil
	case "temperature":
		return &CalibrationFit{}, nil
	case "length":
		return &CalibrationFit{Length: true}, nil
	case "bias":
		return &CalibrationFit{Bias: true}, nil
	case "length+bias":
		return &CalibrationFit{Length: true, Bias: true}, nil
	case "power":
		return &CalibrationFit{Power: true}, nil
	case "power+bias":
		return &CalibrationFit{Power: true, Bias: true}, nil
	}
	return nil, fmt.Errorf("calibration %q: want none, temperature, length, power, bias, length+bias or power+bias", name)
}

// Check reports the first setting out of range. Settings that need the corpus (labels its rows
// lack, a validation that leaves no rows) are checked when the recipe is used.
func (r Recipe) Check() error {
	if !(r.Scoring.Alpha > 0) {
		return fmt.Errorf("alpha %v: want a positive number", r.Scoring.Alpha)
	}
	for l, w := range r.Scoring.LabelWeights {
		if !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("label weight %s=%v: want a positive number", l, w)
		}
	}
	if r.MaxTerms < 0 {
		return fmt.Errorf("max terms %d: want 0 (all) or more", r.MaxTerms)
	}
	if _, err := ParseCalibrationFit(r.Calibrate); err != nil {
		return err
	}
	if !(r.CalibrationBalance >= 0 && r.CalibrationBalance <= 1) {
		return fmt.Errorf("calibration balance %v: want [0, 1]", r.CalibrationBalance)
	}
	if len(r.CalibrationMix) > 0 {
		if r.CalibrationBalance != 0 {
			return fmt.Errorf("calibration mix %s and balance %v: set one, not both", FormatLabelWeights(r.CalibrationMix), r.CalibrationBalance)
		}
		var sum float64
		for l, p := range r.CalibrationMix {
			if !(p > 0 && p < 1) {
				return fmt.Errorf("calibration mix %s=%v: want a share in (0, 1)", l, p)
			}
			if len(r.Labels) > 0 && !slices.Contains(r.Labels, l) {
				return fmt.Errorf("calibration mix names %q, which is not one of the labels %v", l, r.Labels)
			}
			sum += p
		}
		if sum > 1+1e-9 || (sum < 1-1e-9 && len(r.CalibrationMix) == len(r.Labels)) {
			return fmt.Errorf("calibration mix %s sums to %v: want 1 when every label is named, less otherwise", FormatLabelWeights(r.CalibrationMix), sum)
		}
	}
	if r.LongShare < 0 || r.LongShare >= 1 {
		return fmt.Errorf("long share %v: want [0, 1)", r.LongShare)
	}
	if _, err := ParseTopicFeatures(r.TopicFeatures); err != nil {
		return err
	}
	if r.TopicFeatures != "none" {
		if r.TopicWindow < 1 || r.TopicWindow > classifier.MaxTopicWindow {
			return fmt.Errorf("topic window %d: want 1 to %d known terms", r.TopicWindow, classifier.MaxTopicWindow)
		}
		if !(r.TopicTemperature >= 0 && r.TopicTemperature <= 1000) {
			return fmt.Errorf("topic temperature %v: want 0 (1) to 1000", r.TopicTemperature)
		}
		if r.TopicMixed < 0 {
			return fmt.Errorf("topic mixed articles %d: want 0 or more", r.TopicMixed)
		}
		if r.TopicMixedShare < 0 || r.TopicMixedShare >= 1 || (r.TopicMixedShare > 0 && r.TopicMixed == 0) {
			return fmt.Errorf("topic mixed share %v: want [0, 1), and 0 without mixed articles", r.TopicMixedShare)
		}
	}
	return nil
}

// FormatLabelWeights writes label weights as `label=w,...` sorted by label, as the model's
// provenance records them; ParseLabelWeights reads them back.
func FormatLabelWeights(w map[string]float64) string {
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(w)) {
		parts = append(parts, l+"="+strconv.FormatFloat(w[l], 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// ParseLabelWeights reads `label=w,...` with positive weights; "" gives nil (every label weighs
// 1).
func ParseLabelWeights(s string) (map[string]float64, error) {
	if s == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		l, w, ok := strings.Cut(strings.TrimSpace(kv), "=")
		v, err := strconv.ParseFloat(w, 64)
		if !ok || err != nil || !(v > 0) {
			return nil, fmt.Errorf("label weights %q: want label=weight pairs with positive weights", s)
		}
		out[l] = v
	}
	return out, nil
}

// Settings are the recipe's settings as the model's provenance records them; Train adds the
// tokenizer and counting settings and the number of rows it read.
func (r Recipe) Settings() map[string]string {
	textLabels := "keep"
	if r.DropTextLabels {
		textLabels = "drop"
	}
	s := map[string]string{
		"scoring.variant":        r.Scoring.Variant.String(),
		"scoring.alpha":          strconv.FormatFloat(r.Scoring.Alpha, 'g', -1, 64),
		"scoring.priors":         r.Scoring.Priors.String(),
		"scoring.label_weights":  FormatLabelWeights(r.Scoring.LabelWeights),
		"train.text_labels":      textLabels,
		"calibration.fit":        r.Calibrate,
		"calibration.folds":      strconv.Itoa(r.CalibrationFolds),
		"calibration.long":       strconv.Itoa(r.Long),
		"calibration.long_share": strconv.FormatFloat(r.LongShare, 'g', -1, 64),
		"calibration.balance":    strconv.FormatFloat(r.CalibrationBalance, 'g', -1, 64),
		"calibration.mix":        FormatLabelWeights(r.CalibrationMix),
		"topics.features":        r.TopicFeatures,
		"topics.window":          strconv.Itoa(r.TopicWindow),
		"topics.temperature":     strconv.FormatFloat(r.TopicTemperature, 'g', -1, 64),
		"topics.mixed":           strconv.Itoa(r.TopicMixed),
		"topics.mixed_share":     strconv.FormatFloat(r.TopicMixedShare, 'g', -1, 64),
		"validation":             r.Validation,
	}
	if r.topicArticlesName != "" {
		s["topics.articles"] = r.topicArticlesName
	}
	return s
}

// config is the Config Train counts with, without provenance.
func (r Recipe) config() Config {
	s := r.Scoring
	s.LabelWeights = maps.Clone(s.LabelWeights)
	return Config{
		Labels:          slices.Clone(r.Labels),
		Fallback:        r.Fallback,
		Tokenizer:       r.Tokenizer,
		Scoring:         s,
		MaxDocsPerLabel: r.MaxDocsPerLabel,
		MinTermCount:    r.MinTermCount,
		MaxTerms:        r.MaxTerms,
		Settings:        r.Settings(),
	}
}

// trainable drops the rows the recipe keeps out of training.
func (r Recipe) trainable(exs []Example) []Example {
	if !r.DropTextLabels {
		return exs
	}
	return slices.DeleteFunc(slices.Clone(exs), func(ex Example) bool { return ex.LabelSource == "text" })
}

// Fit trains a model on exs with the recipe: the calibration from out-of-fold scores of exs
// alone, then the counts of all of exs. cfg carries the provenance (corpus, date, licence) and
// the recipe's settings (Recipe.Build fills it); Fit sets the calibration.
func (r Recipe) Fit(exs []Example, cfg Config) (*classifier.Model, error) {
	exs = r.trainable(exs)
	fit, err := ParseCalibrationFit(r.Calibrate)
	if err != nil {
		return nil, err
	}
	if fit != nil {
		short, long, err := OutOfFoldSamples(exs, cfg, r.CalibrationFolds, r.Long)
		if err != nil {
			return nil, err
		}
		if r.CalibrationBalance != 0 {
			balance(short, r.CalibrationBalance)
			balance(long, r.CalibrationBalance)
		}
		if len(r.CalibrationMix) > 0 {
			labels := cfg.Labels
			if len(labels) == 0 {
				labels = DefaultLabels
			}
			partial := make([]float64, len(labels))
			for c, l := range labels {
				partial[c] = r.CalibrationMix[l]
			}
			mix := FullMix(short, partial)
			ToMix(short, mix)
			ToMix(long, mix)
		}
		samples := short
		if r.LongShare > 0 && len(long) > 0 {
			w := r.LongShare / (1 - r.LongShare) * float64(len(short)) / float64(len(long))
			for _, l := range long {
				l.Weight = w * weight(l)
				samples = append(samples, l)
			}
		}
		cal, err := FitCalibration(samples, *fit)
		if err != nil {
			return nil, err
		}
		cfg.Calibration = cal
	}
	topics, err := r.fitTopics(exs, cfg)
	if err != nil {
		return nil, err
	}
	cfg.Topics = topics
	m, err := Train(exs, cfg)
	if err != nil || len(r.topicArticles) == 0 || len(topics.Topics) == 0 {
		return m, err
	}
	if topics, err = RescaleTopics(m, r.topicArticles); err != nil {
		return nil, fmt.Errorf("topic articles: %w", err)
	}
	return m.WithTopicCalibration(topics)
}

// RescaleTopics fits, for each topic of m, a scale and a shift of its regression's log-odds
// (Platt scaling) to articles labelled with every topic they are about, and returns m's topic
// calibration with them folded into the weights. The regressions are fitted on corpus rows and
// articles assembled from them, whose topics are harder to tell apart than those of real
// articles, so their probabilities come out too timid on real ones; the rescaling fixes the
// probabilities. It keeps every decision: each threshold moves with its probabilities, so a
// document's present topics stay the same. A topic whose articles are all about it, or none,
// keeps its fit.
func RescaleTopics(m *classifier.Model, articles []Example) (classifier.TopicCalibration, error) {
	c := m.TopicCalibration()
	samples := TopicSamples(m, articles, 0, c.Temperature)
	for j := range c.Topics {
		w := c.Topics[j].Weights
		x := make([][]float64, len(samples))
		y := make([]bool, len(samples))
		ones := make([]float64, len(samples))
		var pos int
		for i, s := range samples {
			z := w[0]
			for f, v := range s.Features[j] {
				z += w[1+f] * v
			}
			x[i], y[i], ones[i] = []float64{z}, s.Present[j], 1
			if y[i] {
				pos++
			}
		}
		if pos == 0 || pos == len(samples) {
			continue
		}
		ab, err := fitLogistic(x, y, ones)
		if err != nil {
			return c, fmt.Errorf("topic %q: %w", c.Topics[j].Topic, err)
		}
		if !(ab[1] > 0) {
			continue // a scale that reverses or flattens the regression says the articles disagree with it; keep it
		}
		for i := range w {
			w[i] *= ab[1]
		}
		w[0] += ab[0]
		t := c.Topics[j].Threshold
		c.Topics[j].Threshold = min(max(1/(1+math.Exp(-(ab[0]+ab[1]*math.Log(t/(1-t))))), 0.001), 0.999)
	}
	return c, nil
}

// fitTopics fits the recipe's topic calibration for a model trained on exs with cfg (its label
// calibration set): the regressions on out-of-fold rows and articles assembled from them.
func (r Recipe) fitTopics(exs []Example, cfg Config) (classifier.TopicCalibration, error) {
	feats, err := ParseTopicFeatures(r.TopicFeatures)
	if err != nil || r.TopicFeatures == "none" {
		return classifier.TopicCalibration{}, err
	}
	short, long, err := OutOfFoldTopicSamples(exs, cfg, r.CalibrationFolds, r.TopicMixed, r.TopicWindow, r.TopicTemperature)
	if err != nil {
		return classifier.TopicCalibration{}, err
	}
	samples := short
	if r.TopicMixedShare > 0 && len(long) > 0 {
		w := r.TopicMixedShare / (1 - r.TopicMixedShare) * float64(len(short)) / float64(len(long))
		for _, l := range long {
			l.Weight = w
			samples = append(samples, l)
		}
	}
	labels := cfg.Labels
	if len(labels) == 0 {
		labels = DefaultLabels
	}
	fallback := cfg.Fallback
	if fallback == "" {
		fallback = DefaultFallbackLabel
	}
	var topics []string
	for _, l := range labels {
		if l != fallback {
			topics = append(topics, l)
		}
	}
	return FitTopicCalibration(samples, topics, TopicFit{Window: r.TopicWindow, Temperature: r.TopicTemperature, Features: feats})
}

// balance weighs samples by the inverse of their label's frequency to the power b, normalised to
// a mean of 1: b = 1 makes every label count alike.
func balance(samples []CalibrationSample, b float64) {
	count := map[int]int{}
	for _, s := range samples {
		count[s.Label]++
	}
	var sum float64
	for i := range samples {
		samples[i].Weight = math.Pow(float64(len(samples))/float64(len(count)*count[samples[i].Label]), b)
		sum += samples[i].Weight
	}
	for i := range samples {
		samples[i].Weight *= float64(len(samples)) / sum
	}
}

// FullMix completes a partial label mix (0 for a label not named) from the rows: the labels not
// named share what the named ones leave in proportion to their number of rows.
func FullMix(rows []CalibrationSample, partial []float64) []float64 {
	count := make([]float64, len(partial))
	for _, s := range rows {
		count[s.Label]++
	}
	var fixed, rest float64
	for c, p := range partial {
		if p > 0 {
			fixed += p
		} else {
			rest += count[c]
		}
	}
	mix := slices.Clone(partial)
	for c, p := range partial {
		if p == 0 && rest > 0 {
			mix[c] = (1 - fixed) * count[c] / rest
		}
	}
	return mix
}

// ToMix weighs samples so that each label c has the share mix[c] of their total weight, keeping
// the mean weight 1; a label without samples is left out. Recipe.Fit weighs its calibration
// samples with it to the recipe's label mix (FullMix completes a partial one).
func ToMix(samples []CalibrationSample, mix []float64) {
	count := make([]float64, len(mix))
	for _, s := range samples {
		count[s.Label]++
	}
	var present float64
	for c, p := range mix {
		if count[c] > 0 {
			present += p
		}
	}
	n := float64(len(samples))
	for i := range samples {
		c := samples[i].Label
		samples[i].Weight = mix[c] / present * n / count[c]
	}
}

// Build makes the model the recipe describes from a corpus: it validates the recipe on held-out
// rows (Recipe.Validate), trains on every row (Recipe.Fit) and stores the validation in the
// model. The validation is nil when Recipe.Validation is "none". The same corpus and recipe
// always give a model with the same bytes.
func (r Recipe) Build(ctx context.Context, c Corpus) (*classifier.Model, *Validation, error) {
	if err := r.Check(); err != nil {
		return nil, nil, err
	}
	r.topicArticles, r.topicArticlesName = c.TopicArticles, c.TopicArticlesName
	v, err := r.Validate(ctx, c.Examples, c.Name)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	cfg := r.config()
	cfg.Corpus, cfg.CorpusSHA256, cfg.TrainedAt, cfg.License = c.Name, c.SHA256, c.TrainedAt, c.License
	m, err := r.Fit(c.Examples, cfg)
	if err != nil {
		return nil, nil, err
	}
	if v != nil {
		e := v.Report.Evaluation
		e.Dataset = v.Dataset
		if m, err = m.WithEvaluation(&e); err != nil {
			return nil, nil, err
		}
	}
	return m, v, nil
}
