// Package classifier labels documents by topic with a naive-Bayes model, scored by a compiled,
// read-only scorer. It holds what serving needs: the tokenizer, the scorer, calibration as
// applied, explanations and the model file. Training (goml, the corpus, calibration fitting,
// evaluation) is package classifier/training, which hands its counts to [New].
//
// # Counts
//
// A model is built from per-label term counts ([Counts]): classifier/training learns them with
// goml's text.NaiveBayes (github.com/cdipaolo/goml) fed by this package's tokenizer, and [New]
// compiles them with the settings in [Parts].
//
// # Tokenizing
//
// Words are runs of Unicode letters, digits and combining marks, lower-cased; everything else
// separates them, so "hack.The" is two words. An ASCII fast path handles the common case without
// decoding runes and is checked against the plain Unicode definition by a fuzz test. Short words,
// numbers and stop words can be dropped and word pairs added (see [TokenizerConfig]); the model
// file stores the settings, so scoring always tokenizes as training did.
//
// # Scoring
//
// A [Model] compiles the counts into an open-addressing hash table whose rows hold one float32
// log-likelihood per label (multinomial or complement naive Bayes with additive smoothing, see
// [ScoringConfig]). A document's score for label c is
//
//	s_c = log prior_c + sum over terms t of the document of w(t, c)
//
// and the confidences are softmax(s/T + bias) with the temperature T of the model's
// [Calibration]. They lie in [0, 1], sum to 1 and are finite for any document length.
//
// # Calibration
//
// Raw naive-Bayes posteriors are over-confident, more so on long documents. A [Calibration]
// stored in the model divides the scores by a temperature that may grow with the number of known
// terms; classifier/training fits one on held-out data from [Model.LogScores], and
// [Model.WithCalibration] sets it.
//
// # Model files
//
// A model is one self-describing file (see [Load] and [Model.Encode]): format version, labels,
// tokenizer and scoring settings, the goml counts, calibration, provenance, the evaluation report
// and the licence of the data it was derived from. Encoding is deterministic, so the same corpus
// and settings give the same bytes, and [Model.Version] is a hash of those bytes.
//
// # Concurrency
//
// A Model is immutable once built: every method may be called from many goroutines at once, and
// classification takes no lock and writes no shared memory.
package classifier

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Sentinel errors. Callers test them with errors.Is; the server maps them to gRPC codes.
var (
	// ErrEmptyDocument: a document's title and text are both empty or only white space. A
	// *DocumentError wraps it (see ValidateDocument).
	ErrEmptyDocument = errors.New("document title and text are empty or only white space")
	// ErrInvalidUTF8: a document's id, title or text is not valid UTF-8. A *DocumentError that
	// names the field wraps it.
	ErrInvalidUTF8 = errors.New("not valid UTF-8")
	// ErrInvalidModel: a model file is corrupt, truncated, of an unknown format version, or
	// inconsistent.
	ErrInvalidModel = errors.New("invalid model file")
	// ErrInvalidOptions: an Options field is out of range.
	ErrInvalidOptions = errors.New("invalid classification options")
)

// Options tune one classification. The zero value returns every label, never abstains and
// explains nothing.
type Options struct {
	// TopK is how many labels Result.Scores holds, best first; 0 means all.
	TopK int
	// MinConfidence: when the best confidence is below it, Result.Label is the model's fallback
	// label and Result.Abstained is true. 0 never abstains. Range [0, 1].
	MinConfidence float64
	// ExplainTerms is how many terms per returned label Result.Explanations holds; 0 explains
	// nothing. At most MaxExplainTerms.
	ExplainTerms int
	// LabelMix, when set, is the share of each label among the documents the caller sends
	// (label -> share in (0, 1)), for a stream whose mix differs from the one the model's
	// confidences assume (Model.LabelMix). The confidences are re-weighted to it by Bayes' rule
	// for a change of priors. Labels left out share what remains, in the proportions the model
	// assumes; listing every label needs shares that sum to 1.
	LabelMix map[string]float64
	// TopicThreshold, when positive, is the probability at which every topic is present, in
	// place of the model's own threshold for each topic. Range [0, 1].
	TopicThreshold float64

	// mixed caches the biases LabelMix gives for the model mixedFor (see PrepareOptions).
	mixed    []float64
	mixedFor *Model
}

// MaxExplainTerms bounds Options.ExplainTerms.
const MaxExplainTerms = 50

// Result is the classification of one document.
type Result struct {
	Label      string       // best label, or the fallback label when Abstained
	Confidence float64      // confidence of the best label
	Abstained  bool         // best confidence was below Options.MinConfidence
	Scores     []LabelScore // high to low; every label, or the TopK best
	// Topics holds every topic label (all labels but the fallback) with its own probability,
	// high to low; see TopicScore.
	Topics []TopicScore
	Stats  Stats
	// Explanations, one per entry of Scores in the same order, when Options.ExplainTerms > 0.
	Explanations []Explanation
}

// LabelScore is one label's calibrated confidence.
type LabelScore struct {
	Label      string
	Confidence float64
}

// Stats describe what the model read.
type Stats struct {
	Bytes       int // bytes of text read
	Tokens      int // terms produced by the tokenizer: words, plus word pairs when the model uses them
	KnownTokens int // terms found in the vocabulary
}

// Explanation lists the terms that pushed a document toward one label.
type Explanation struct {
	Label string
	Terms []TermWeight // strongest first
}

// TermWeight is one term's summed contribution to a label's log-odds against the others.
type TermWeight struct {
	Term   string
	Weight float64
}

// Info describes a model, for ModelService and `topicctl models`.
type Info struct {
	FormatVersion     int
	Labels            []string
	FallbackLabel     string
	VocabularySize    int
	TrainingDocuments map[string]int // per label
	Provenance        Provenance
	Evaluation        *Evaluation // nil when the model file holds none
	License           string
	// TopicThresholds is each topic's threshold for present.
	TopicThresholds map[string]float64
}

// Provenance tells where a model came from.
type Provenance struct {
	Corpus       string
	CorpusSHA256 string
	TrainedAt    time.Time
	Settings     map[string]string
}

// Evaluation is a model's measured quality on held-out data.
type Evaluation struct {
	Dataset                  string
	Documents                int
	Accuracy                 float64
	MacroF1                  float64
	ExpectedCalibrationError float64
	Labels                   []LabelMetrics
}

// LabelMetrics are one label's scores.
type LabelMetrics struct {
	Label     string
	Precision float64
	Recall    float64
	F1        float64
	Support   int
}

// FormatVersion is the newest model file format this package writes and reads. It reads every
// version from 1 on, and writes the oldest version that can hold the model, so a model that
// needs no newer feature stays readable by older topicd releases (see Model.Encode).
const FormatVersion = 3

// Model is a trained, compiled topic model. Build one with New or Load. A Model is immutable:
// methods that change a setting (WithCalibration, WithScoring, WithEvaluation) return a new
// Model, and every method is safe for concurrent use.
type Model struct {
	labels    []string
	fallback  int
	tokenizer TokenizerConfig
	scoring   ScoringConfig
	cal       Calibration
	topics    TopicCalibration
	prov      Provenance
	eval      *Evaluation
	license   string
	docs      []uint64 // goml's Count: training documents per label

	// The goml counts: term i (sorted, distinct) is arena[offsets[i]:offsets[i+1]] and its
	// per-label counts are counts[i*len(labels):(i+1)*len(labels)].
	arena   []byte
	offsets []uint32
	counts  []uint32

	// Compiled from the above by compile.
	tbl    *table
	priors []float64
	// invT caches 1/T for documents of fewer than 256 known terms: the power form of T costs an
	// Exp, a visible part of classifying a headline (README, Performance, BenchmarkTemperature).
	invT *[256]float64

	version string
}

// Labels returns the model's labels in model order. The caller may modify the returned slice.
func (m *Model) Labels() []string { return slices.Clone(m.labels) }

// FallbackLabel is the label Classify returns when it abstains.
func (m *Model) FallbackLabel() string { return m.labels[m.fallback] }

// Version is a content hash of the model's encoded file: 12 hex digits that change whenever any
// byte of the file would.
func (m *Model) Version() string { return m.version }

// TokenizerConfig returns the tokenizer settings the model was trained with.
func (m *Model) TokenizerConfig() TokenizerConfig { return m.tokenizer }

// ScoringConfig returns how the model turns counts into weights.
func (m *Model) ScoringConfig() ScoringConfig { return m.scoring.clone() }

// Calibration returns the calibration Classify applies.
func (m *Model) Calibration() Calibration { return m.cal.clone() }

// Info describes the model.
func (m *Model) Info() Info {
	docs := make(map[string]int, len(m.labels))
	for i, l := range m.labels {
		docs[l] = int(m.docs[i])
	}
	prov := m.prov
	prov.Settings = maps.Clone(prov.Settings)
	var eval *Evaluation
	if m.eval != nil {
		e := *m.eval
		e.Labels = slices.Clone(e.Labels)
		eval = &e
	}
	return Info{
		FormatVersion:     m.formatVersion(),
		Labels:            m.Labels(),
		FallbackLabel:     m.FallbackLabel(),
		VocabularySize:    len(m.offsets) - 1,
		TrainingDocuments: docs,
		Provenance:        prov,
		Evaluation:        eval,
		License:           m.license,
		TopicThresholds:   m.TopicThresholds(),
	}
}

// WithCalibration returns a copy of m that applies c. It fails, wrapping ErrInvalidModel, when c
// is out of range or has a bias count other than 0 or the number of labels.
func (m *Model) WithCalibration(c Calibration) (*Model, error) {
	n := m.shallow()
	n.cal = c.clone()
	return n.finish()
}

// WithScoring returns a copy of m whose weights are recompiled from the same goml counts with s,
// so settings that do not change the counts can be compared without retraining.
func (m *Model) WithScoring(s ScoringConfig) (*Model, error) {
	n := m.shallow()
	n.scoring = s.clone()
	n.tbl = nil
	return n.finish()
}

// WithEvaluation returns a copy of m that carries e as its evaluation report (nil removes it).
func (m *Model) WithEvaluation(e *Evaluation) (*Model, error) {
	n := m.shallow()
	if e != nil {
		c := *e
		c.Labels = slices.Clone(e.Labels)
		n.eval = &c
	} else {
		n.eval = nil
	}
	return n.finish()
}

// shallow copies m; the count arrays are shared, which is safe because nothing writes them.
func (m *Model) shallow() *Model {
	n := *m
	n.version = ""
	return &n
}

// finish validates a model, compiles its scorer unless it has one and computes its version.
func (m *Model) finish() (*Model, error) {
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	if m.tbl == nil {
		m.compile()
	}
	if err := m.checkCompiled(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	m.invT = new([256]float64)
	for n := range m.invT {
		m.invT[n] = 1 / m.cal.TemperatureFor(n)
	}
	h := sha256.New()
	if err := m.Encode(h); err != nil {
		return nil, err
	}
	m.version = hex.EncodeToString(h.Sum(nil))[:12]
	return m, nil
}
