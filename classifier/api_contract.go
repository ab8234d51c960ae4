package classifier

// CONTRACT (temporary file, to be folded into classifier.go by its owner): the types and
// signatures other packages build against. Names and meanings here are fixed; add to them freely.

import (
	"errors"
	"time"
)

// Sentinel errors. Callers test them with errors.Is; the server maps them to gRPC codes.
var (
	// ErrEmptyDocument: the text is empty or only white space.
	ErrEmptyDocument = errors.New("document text is empty or only white space")
	// ErrInvalidUTF8: the text is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("document text is not valid UTF-8")
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
}

// MaxExplainTerms bounds Options.ExplainTerms.
const MaxExplainTerms = 50

// Result is the classification of one document.
type Result struct {
	Label      string       // best label, or the fallback label when Abstained
	Confidence float64      // confidence of the best label
	Abstained  bool         // best confidence was below Options.MinConfidence
	Scores     []LabelScore // high to low; every label, or the TopK best
	Stats      Stats
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
	Tokens      int // tokens produced by the tokenizer
	KnownTokens int // tokens found in the vocabulary
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

// Model methods that other packages use (implemented elsewhere in this package):
//
//	func Load(data []byte) (*Model, error)              // parse + validate a model file; errors wrap ErrInvalidModel
//	func (m *Model) Encode(w io.Writer) error           // write the model file (deterministic bytes)
//	func (m *Model) Version() string                    // content hash of the encoded file, 12 hex digits
//	func (m *Model) Info() Info
//	func (m *Model) Labels() []string
//	func (m *Model) Classify(title, text string, opts Options) (Result, error) // safe for concurrent use
