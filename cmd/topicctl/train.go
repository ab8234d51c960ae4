package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/topicd/topicd/classifier"
)

// newsTopicsLicense is the credit the news-topics corpus requires of derived works.
const newsTopicsLicense = `Derived from "Wikipedia contributors, Portal:Current events", CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); the model file is distributed under CC BY-SA 4.0.`

// trainSettings are the flags of `topicctl train` that shape the model. Their defaults are the
// settings of the shipped default model, chosen on validation (docs/accuracy.md).
type trainSettings struct {
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
	maxDocs      int
	textLabels   string // keep or drop rows with label_source=text (training rows only)
	calibrate    string // none, temperature, length, power, bias, length+bias, power+bias
	calFolds     int
	longDocs     int     // long documents per label (and fold) for calibration and evaluation
	longShare    float64 // share of the calibration loss the long documents carry
	calBalance   float64 // 0: calibrate for the training label mix, 1: for a balanced mix
}

func (s *trainSettings) register(fs *flag.FlagSet) {
	fs.StringVar(&s.labels, "labels", strings.Join(classifier.DefaultLabels, ","), "the model's labels, in order; every row's label must be one")
	fs.StringVar(&s.fallback, "fallback", classifier.DefaultFallbackLabel, "label returned when a classification abstains; one of --labels")
	fs.StringVar(&s.variant, "variant", "complement", "naive-Bayes variant: multinomial or complement")
	fs.Float64Var(&s.alpha, "alpha", 0.2, "additive smoothing")
	fs.StringVar(&s.priors, "priors", "learned", "class priors: learned, uniform or balanced")
	fs.StringVar(&s.labelWeights, "label-weights", "cybersecurity=5,migration=2", "per-label count weights, `label=w,...` (others weigh 1)")
	fs.IntVar(&s.minLength, "min-length", 2, "drop words of fewer runes")
	fs.BoolVar(&s.dropNumbers, "drop-numbers", true, "drop all-digit words")
	fs.BoolVar(&s.stopWords, "stop-words", true, "drop English stop words")
	fs.BoolVar(&s.bigrams, "bigrams", false, "add word pairs as terms")
	fs.IntVar(&s.minTermCount, "min-term-count", 2, "drop terms seen fewer times in all training rows")
	fs.IntVar(&s.maxDocs, "max-docs-per-label", 0, "keep at most this many rows of each label (0: all)")
	fs.StringVar(&s.textLabels, "text-labels", "keep", "training rows with label_source=text: keep or drop")
	fs.StringVar(&s.calibrate, "calibrate", "power+bias", "calibration to fit: none, temperature, length (temperature growing with ln n), power (growing with a power of n), bias, length+bias or power+bias")
	fs.IntVar(&s.calFolds, "calibration-folds", 5, "folds of the out-of-fold scores calibration is fitted on")
	fs.IntVar(&s.longDocs, "long", 40, "long documents (3-30 rows joined) per label for calibration (per fold) and evaluation")
	fs.Float64Var(&s.longShare, "long-share", 0.5, "share of the calibration loss carried by long documents")
	fs.Float64Var(&s.calBalance, "calibration-balance", 0.25, "weigh calibration samples by (1/label frequency)^B: 0 calibrates for the training label mix, 1 for a balanced mix")
}

// config turns the settings into a TrainConfig and the settings map recorded in the model file.
func (s *trainSettings) config() (classifier.TrainConfig, error) {
	var cfg classifier.TrainConfig
	cfg.Labels = strings.Split(s.labels, ",")
	cfg.Fallback = s.fallback
	if err := cfg.Scoring.Variant.UnmarshalText([]byte(s.variant)); err != nil {
		return cfg, fmt.Errorf("--variant: %w", err)
	}
	if err := cfg.Scoring.Priors.UnmarshalText([]byte(s.priors)); err != nil {
		return cfg, fmt.Errorf("--priors: %w", err)
	}
	if !(s.alpha > 0) {
		return cfg, fmt.Errorf("--alpha %v: want a positive number", s.alpha)
	}
	cfg.Scoring.Alpha = s.alpha
	if s.labelWeights != "" {
		cfg.Scoring.LabelWeights = map[string]float64{}
		for _, kv := range strings.Split(s.labelWeights, ",") {
			l, w, ok := strings.Cut(strings.TrimSpace(kv), "=")
			v, err := strconv.ParseFloat(w, 64)
			if !ok || err != nil || !(v > 0) {
				return cfg, fmt.Errorf("--label-weights %q: want label=weight pairs with positive weights", s.labelWeights)
			}
			cfg.Scoring.LabelWeights[l] = v
		}
	}
	cfg.Tokenizer = classifier.TokenizerConfig{MinLength: s.minLength, DropNumbers: s.dropNumbers, DropStopWords: s.stopWords, Bigrams: s.bigrams}
	cfg.MinTermCount = s.minTermCount
	cfg.MaxDocsPerLabel = s.maxDocs
	if s.textLabels != "keep" && s.textLabels != "drop" {
		return cfg, fmt.Errorf("--text-labels %q: want keep or drop", s.textLabels)
	}
	if _, err := s.calibrationFit(); err != nil {
		return cfg, err
	}
	if !(s.calBalance >= 0 && s.calBalance <= 1) {
		return cfg, fmt.Errorf("--calibration-balance %v: want [0, 1]", s.calBalance)
	}
	if s.longShare < 0 || s.longShare >= 1 {
		return cfg, fmt.Errorf("--long-share %v: want [0, 1)", s.longShare)
	}
	cfg.Settings = map[string]string{
		"scoring.variant":        s.variant,
		"scoring.alpha":          strconv.FormatFloat(s.alpha, 'g', -1, 64),
		"scoring.priors":         s.priors,
		"scoring.label_weights":  s.labelWeights,
		"train.text_labels":      s.textLabels,
		"calibration.fit":        s.calibrate,
		"calibration.folds":      strconv.Itoa(s.calFolds),
		"calibration.long":       strconv.Itoa(s.longDocs),
		"calibration.long_share": strconv.FormatFloat(s.longShare, 'g', -1, 64),
		"calibration.balance":    strconv.FormatFloat(s.calBalance, 'g', -1, 64),
	}
	return cfg, nil
}

func (s *trainSettings) calibrationFit() (*classifier.CalibrationFit, error) {
	switch s.calibrate {
	case "none":
		return nil, nil
	case "temperature":
		return &classifier.CalibrationFit{}, nil
	case "length":
		return &classifier.CalibrationFit{Length: true}, nil
	case "bias":
		return &classifier.CalibrationFit{Bias: true}, nil
	case "length+bias":
		return &classifier.CalibrationFit{Length: true, Bias: true}, nil
	case "power":
		return &classifier.CalibrationFit{Power: true}, nil
	case "power+bias":
		return &classifier.CalibrationFit{Power: true, Bias: true}, nil
	}
	return nil, fmt.Errorf("--calibrate %q: want none, temperature, length, power, bias, length+bias or power+bias", s.calibrate)
}

// trainable drops the rows the settings keep out of training.
func (s *trainSettings) trainable(exs []classifier.Example) []classifier.Example {
	if s.textLabels == "keep" {
		return exs
	}
	return slices.DeleteFunc(slices.Clone(exs), func(ex classifier.Example) bool { return ex.LabelSource == "text" })
}

// fit trains on exs: calibration from out-of-fold scores of exs alone, then the model on all exs.
func (s *trainSettings) fit(exs []classifier.Example, cfg classifier.TrainConfig) (*classifier.Model, error) {
	exs = s.trainable(exs)
	fit, _ := s.calibrationFit()
	if fit != nil {
		short, long, err := classifier.OutOfFoldSamples(exs, cfg, s.calFolds, s.longDocs)
		if err != nil {
			return nil, err
		}
		if s.calBalance != 0 {
			balance(short, s.calBalance)
			balance(long, s.calBalance)
		}
		samples := short
		if s.longShare > 0 && len(long) > 0 {
			w := s.longShare / (1 - s.longShare) * float64(len(short)) / float64(len(long))
			for _, l := range long {
				l.Weight = w * weightOf(l)
				samples = append(samples, l)
			}
		}
		cal, err := classifier.FitCalibration(samples, *fit)
		if err != nil {
			return nil, err
		}
		cfg.Calibration = cal
	}
	return classifier.Train(exs, cfg)
}

// balance weighs samples by the inverse of their label's frequency to the power b, normalised to
// a mean of 1: b = 1 makes every label count alike.
func balance(samples []classifier.CalibrationSample, b float64) {
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

func weightOf(s classifier.CalibrationSample) float64 {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
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
	Validation     *validation `json:",omitempty"`
	Model          string      `json:",omitempty"`
	Version        string
	Seconds        float64
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "training corpus, JSONL with fields text and label (required)")
	out := fs.String("out", "", "model file to write (required unless --validate-only)")
	validate := fs.String("validate", "newest=0.2", "held-out validation: newest=F (newest share F of each label by date), date=YYYY-MM-DD, kfold=K or none")
	validateOnly := fs.Bool("validate-only", false, "measure the settings on validation and write no model")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	corpusName := fs.String("corpus-name", "", "corpus name recorded in the model (default: the data file's base name)")
	license := fs.String("license", "", "licence of the training data, stored in the model (default: the news-topics credit for that corpus)")
	var s trainSettings
	s.register(fs)
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
	cfg, err := s.config()
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	start := time.Now()
	exs, sum, err := classifier.ReadCorpusFile(*data)
	if err != nil {
		return fmt.Errorf("train: read corpus: %w", err)
	}
	sm := trainSummary{Corpus: *corpusName, CorpusSHA256: sum, Rows: len(exs), Settings: cfg.Settings}
	if sm.Corpus == "" {
		sm.Corpus = filepath.Base(*data)
	}
	cfg.Settings["validation"] = *validate
	v, err := runValidation(ctx, exs, &s, cfg, *validate, sm.Corpus)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	sm.Validation = v
	if !*asJSON && v != nil {
		printValidation(stdout, v)
	}
	if *validateOnly {
		sm.Seconds = time.Since(start).Seconds()
		if *asJSON {
			return writeJSON(stdout, sm)
		}
		return nil
	}

	cfg.Corpus, cfg.CorpusSHA256 = sm.Corpus, sum
	cfg.License = *license
	if cfg.License == "" && sum == newsTopicsCorpusSHA256 {
		cfg.License = newsTopicsLicense
	}
	if cfg.TrainedAt, err = trainedAt(exs); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	m, err := s.fit(exs, cfg)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if v != nil {
		e := v.Report.Evaluation
		e.Dataset = v.Dataset
		if m, err = m.WithEvaluation(&e); err != nil {
			return fmt.Errorf("train: %w", err)
		}
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
	c := sm.Calibration
	fmt.Fprintf(stdout, "vocabulary: %d terms\ncalibration: %s\n", sm.VocabularySize, describeCalibration(c))
	fmt.Fprintf(stdout, "wrote %s (version %s) in %.1fs\n", *out, sm.Version, sm.Seconds)
	return nil
}

// newsTopicsCorpusSHA256 is the SHA-256 of ../shared/corpus/news-topics-train.jsonl.
const newsTopicsCorpusSHA256 = "f53f1e4a56c45249aba5415ddec567ec53be344a6074a5861022c57929f6b6ab"

// trainedAt is the model's date without reading the clock, so training is byte-reproducible:
// SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else the newest row date.
func trainedAt(exs []classifier.Example) (time.Time, error) {
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q: want seconds since 1970", e)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	var newest time.Time
	for _, ex := range exs {
		if t, err := time.Parse(time.DateOnly, ex.Date); err == nil && t.After(newest) {
			newest = t
		}
	}
	return newest, nil
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
