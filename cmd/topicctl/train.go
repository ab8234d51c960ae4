package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

// recipeFlags are the flags of `topicctl train` that shape the model: the fields of a
// training.Recipe. Their defaults are the shipped model's recipe (training.Shipped).
type recipeFlags struct {
	labels       string
	fallback     string
	variant      string
	alpha        float64
	priors       string
	labelWeights string
	minLength    int
	dropNumbers  bool
	stopWords    bool
	bigrams      bool
	minTermCount int
	maxTerms     int
	maxDocs      int
	textLabels   string
	calibrate    string
	calFolds     int
	longDocs     int
	longShare    float64
	calBalance   float64
	calMix       string
	validate     string
	topicFeats   string
	topicWindow  int
	topicTemp    float64
	topicMixed   int
	topicShare   float64
}

func (s *recipeFlags) register(fs *flag.FlagSet) {
	r := training.Shipped()
	textLabels := "keep"
	if r.DropTextLabels {
		textLabels = "drop"
	}
	fs.StringVar(&s.labels, "labels", strings.Join(r.Labels, ","), "the model's labels, in order; every row's label must be one")
	fs.StringVar(&s.fallback, "fallback", r.Fallback, "label returned when a classification abstains; one of --labels")
	fs.StringVar(&s.variant, "variant", r.Scoring.Variant.String(), "naive-Bayes variant: multinomial or complement")
	fs.Float64Var(&s.alpha, "alpha", r.Scoring.Alpha, "additive smoothing")
	fs.StringVar(&s.priors, "priors", r.Scoring.Priors.String(), "class priors: learned, uniform or balanced")
	fs.StringVar(&s.labelWeights, "label-weights", training.FormatLabelWeights(r.Scoring.LabelWeights), "per-label count weights, `label=w,...` (others weigh 1)")
	fs.IntVar(&s.minLength, "min-length", r.Tokenizer.MinLength, "drop words of fewer runes")
	fs.BoolVar(&s.dropNumbers, "drop-numbers", r.Tokenizer.DropNumbers, "drop all-digit words")
	fs.BoolVar(&s.stopWords, "stop-words", r.Tokenizer.DropStopWords, "drop English stop words")
	fs.BoolVar(&s.bigrams, "bigrams", r.Tokenizer.Bigrams, "add word pairs as terms")
	fs.IntVar(&s.minTermCount, "min-term-count", r.MinTermCount, "drop terms seen fewer times in all training rows")
	fs.IntVar(&s.maxTerms, "max-terms", r.MaxTerms, "keep only this many terms, those with the largest chi-squared statistic against a label (0: all)")
	fs.IntVar(&s.maxDocs, "max-docs-per-label", r.MaxDocsPerLabel, "keep at most this many rows of each label (0: all)")
	fs.StringVar(&s.textLabels, "text-labels", textLabels, "training rows with label_source=text: keep or drop")
	fs.StringVar(&s.calibrate, "calibrate", r.Calibrate, "calibration to fit: none, temperature, length (temperature growing with ln n), power (growing with a power of n), bias, length+bias or power+bias")
	fs.IntVar(&s.calFolds, "calibration-folds", r.CalibrationFolds, "folds of the out-of-fold scores calibration is fitted on")
	fs.IntVar(&s.longDocs, "long", r.Long, "long documents (3-30 rows joined) per label for calibration (per fold) and evaluation")
	fs.Float64Var(&s.longShare, "long-share", r.LongShare, "share of the calibration loss carried by long documents")
	fs.Float64Var(&s.calBalance, "calibration-balance", r.CalibrationBalance, "weigh calibration samples by (1/label frequency)^B: 0 calibrates for the training label mix, 1 for a balanced mix")
	fs.StringVar(&s.calMix, "calibration-mix", training.FormatLabelWeights(r.CalibrationMix), "calibrate for this label mix, `label=share,...` (labels left out share the rest by their rows), in place of --calibration-balance, which must then be 0; the model records the mix as the prior of its confidences")
	fs.StringVar(&s.topicFeats, "topic-features", r.TopicFeatures, "features of the per-topic regressions, joined by +: confidence, share, wins, peak, length, pair, pairpeak; none for no topic calibration")
	fs.IntVar(&s.topicWindow, "topic-window", r.TopicWindow, "passage length in known terms for the topic features")
	fs.Float64Var(&s.topicTemp, "topic-temperature", r.TopicTemperature, "passages are scored at the label calibration's temperature times this, for the topic features")
	fs.IntVar(&s.topicMixed, "topic-mixed", r.TopicMixed, "articles assembled from held-out rows per calibration fold for the topic calibration")
	fs.Float64Var(&s.topicShare, "topic-mixed-share", r.TopicMixedShare, "share of the topic calibration loss carried by the assembled articles")
	fs.StringVar(&s.validate, "validate", r.Validation, "held-out validation: newest=F (newest share F of each label by date), date=YYYY-MM-DD, kfold=K or none")
}

// defaultTopicArticles is --topic-articles' default: the shipped model's, from the repository's
// root.
var defaultTopicArticles = strings.Join(training.DefaultTopicArticles, ",")

// recipe turns the flags into a training recipe.
func (s *recipeFlags) recipe() (training.Recipe, error) {
	r := training.Recipe{
		Labels:             strings.Split(s.labels, ","),
		Fallback:           s.fallback,
		Tokenizer:          classifier.TokenizerConfig{MinLength: s.minLength, DropNumbers: s.dropNumbers, DropStopWords: s.stopWords, Bigrams: s.bigrams},
		MinTermCount:       s.minTermCount,
		MaxTerms:           s.maxTerms,
		MaxDocsPerLabel:    s.maxDocs,
		Calibrate:          s.calibrate,
		CalibrationFolds:   s.calFolds,
		Long:               s.longDocs,
		LongShare:          s.longShare,
		CalibrationBalance: s.calBalance,
		TopicFeatures:      s.topicFeats,
		TopicWindow:        s.topicWindow,
		TopicTemperature:   s.topicTemp,
		TopicMixed:         s.topicMixed,
		TopicMixedShare:    s.topicShare,
		Validation:         s.validate,
	}
	if err := r.Scoring.Variant.UnmarshalText([]byte(s.variant)); err != nil {
		return r, fmt.Errorf("--variant: %w", err)
	}
	if err := r.Scoring.Priors.UnmarshalText([]byte(s.priors)); err != nil {
		return r, fmt.Errorf("--priors: %w", err)
	}
	r.Scoring.Alpha = s.alpha
	var err error
	if r.Scoring.LabelWeights, err = training.ParseLabelWeights(s.labelWeights); err != nil {
		return r, fmt.Errorf("--label-weights: %w", err)
	}
	switch s.textLabels {
	case "keep":
	case "drop":
		r.DropTextLabels = true
	default:
		return r, fmt.Errorf("--text-labels %q: want keep or drop", s.textLabels)
	}
	if r.CalibrationMix, err = training.ParseLabelWeights(s.calMix); err != nil {
		return r, fmt.Errorf("--calibration-mix: %w", err)
	}
	if err := r.Check(); err != nil {
		return r, err
	}
	return r, nil
}

// trainSummary is what `topicctl train --json` prints.
type trainSummary struct {
	Corpus         string
	CorpusSHA256   string
	Rows           int
	TrainingRows   map[string]int
	VocabularySize int
	Settings       map[string]string
	Calibration    classifier.Calibration
	Validation     *training.Validation `json:",omitempty"`
	Model          string               `json:",omitempty"`
	Version        string
	Seconds        float64
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "training corpus, JSONL with fields text and label (required)")
	out := fs.String("out", "", "model file to write (required unless --validate-only)")
	validateOnly := fs.Bool("validate-only", false, "measure the settings on validation and write no model")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	corpusName := fs.String("corpus-name", "", "corpus name recorded in the model (default: the data file's base name)")
	license := fs.String("license", "", "licence of the training data, stored in the model (default: the news-topics credit for that corpus)")
	var s recipeFlags
	s.register(fs)
	topicArticles := fs.String("topic-articles", defaultTopicArticles, "comma-separated JSONL `files` of articles labelled with every topic they are about, to rescale the topic probabilities to (\"\" for none); paths relative to the working directory, so the default needs the repository's root")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: topicctl train --data FILE.jsonl --out MODEL [settings] [--validate newest=F|date=D|kfold=K|none]")
		fmt.Fprintln(stderr, "\nThe setting defaults are those of the shipped default model, chosen on validation (docs/accuracy.md).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || (*out == "" && !*validateOnly) || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("train: --data and --out are required")
	}
	r, err := s.recipe()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if *topicArticles != "" && r.TopicFeatures == "none" {
		return errors.New("train: --topic-articles rescale a topic calibration, which --topic-features none turns off; give --topic-articles \"\" too")
	}
	start := time.Now()
	c, err := training.LoadCorpus(*data)
	if err != nil {
		return fmt.Errorf("train: read corpus: %w", err)
	}
	if *corpusName != "" {
		c.Name = *corpusName
	}
	if *license != "" {
		c.License = *license
	}
	if *topicArticles != "" && !*validateOnly {
		// Validation never reads the articles; a model does. The default names files relative to
		// the repository's root: without them the model would differ from the shipped one, so
		// a missing file is an error, never a quiet change of model.
		paths := strings.Split(*topicArticles, ",")
		for _, p := range paths {
			if _, err := os.Stat(p); err != nil {
				if *topicArticles == defaultTopicArticles && errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("train: the default --topic-articles %s are not in the working directory: run from the repository's root, give their paths with --topic-articles, or pass --topic-articles= to train without rescaling the topic probabilities to them (a different model from the shipped one): %w", *topicArticles, err)
				}
				return fmt.Errorf("train: --topic-articles: %w", err)
			}
		}
		if c.TopicArticles, c.TopicArticlesName, err = training.LoadTopicArticles(paths); err != nil {
			return fmt.Errorf("train: --topic-articles: %w", err)
		}
	}
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		// The reproducible-builds convention for a date that is not the clock.
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return fmt.Errorf("train: SOURCE_DATE_EPOCH %q: want seconds since 1970", e)
		}
		c.TrainedAt = time.Unix(sec, 0).UTC()
	}
	sm := trainSummary{Corpus: c.Name, CorpusSHA256: c.SHA256, Rows: len(c.Examples), Settings: r.Settings()}
	if *validateOnly {
		v, err := r.Validate(ctx, c.Examples, c.Name)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		sm.Validation, sm.Seconds = v, time.Since(start).Seconds()
		if *asJSON {
			return writeJSON(stdout, sm)
		}
		if v != nil {
			printValidation(stdout, v)
		}
		return nil
	}
	m, v, err := r.Build(ctx, c)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	sm.Validation = v
	if !*asJSON && v != nil {
		printValidation(stdout, v)
	}
	if err := writeModel(*out, m); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	info := m.Info()
	sm.TrainingRows, sm.VocabularySize, sm.Calibration = info.TrainingDocuments, info.VocabularySize, m.Calibration()
	sm.Model, sm.Version, sm.Seconds = *out, m.Version(), time.Since(start).Seconds()
	sm.Settings = info.Provenance.Settings
	if *asJSON {
		return writeJSON(stdout, sm)
	}
	fmt.Fprintf(stdout, "final model: trained on %d rows of %s\n", sumCounts(sm.TrainingRows), sm.Corpus)
	for _, l := range m.Labels() {
		fmt.Fprintf(stdout, "  %-14s %6d rows\n", l, sm.TrainingRows[l])
	}
	fmt.Fprintf(stdout, "vocabulary: %d terms\ncalibration: %s\n", sm.VocabularySize, describeCalibration(sm.Calibration))
	fmt.Fprintf(stdout, "wrote %s (version %s) in %.1fs\n", *out, sm.Version, sm.Seconds)
	return nil
}

// writeModel writes the model next to path and renames it into place, so a server watching the
// directory never reads half a file.
func writeModel(path string, m *classifier.Model) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".topicctl-train-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := m.Encode(f); err != nil {
		f.Close()
		return fmt.Errorf("write model: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func sumCounts(m map[string]int) int {
	n := 0
	for v := range maps.Values(m) {
		n += v
	}
	return n
}

// describeCalibration says what a calibration does, naming only the length form it uses.
func describeCalibration(c classifier.Calibration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "temperature %.3f", c.Temperature)
	if c.LengthPower != 0 {
		fmt.Fprintf(&b, " x (1 + n)^%.3f", c.LengthPower)
	}
	if c.LengthSlope != 0 {
		fmt.Fprintf(&b, " x (1 + %.3f ln(1 + n))", c.LengthSlope)
	}
	if len(c.Bias) != 0 {
		fmt.Fprintf(&b, ", bias %.3f", c.Bias)
	}
	return b.String()
}
