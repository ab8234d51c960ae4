package classifier

import (
	"fmt"
	"maps"
	"slices"
)

// MaxTermBytes is the longest term a model holds. Training drops longer words: they never recur.
const MaxTermBytes = maxTermBytes

// Counts are what training learns from a corpus: how many documents of each label it read and
// how often each term occurred in documents of each label (goml's Count and Word.Count).
type Counts struct {
	// Documents per label, in model label order.
	Documents []uint64
	// Terms in strictly ascending byte order, each 1 to MaxTermBytes bytes.
	Terms []string
	// PerLabel[i*len(labels)+c] is the count of Terms[i] in documents of label c.
	PerLabel []uint32
}

// Parts are everything a Model is built from: the learned counts and the settings that turn
// them into confidences. Training assembles them; New compiles them.
type Parts struct {
	// Labels in model order, and the one Classify returns when it abstains.
	Labels   []string
	Fallback string
	// Tokenizer the counts were made with; scoring tokenizes alike.
	Tokenizer   TokenizerConfig
	Scoring     ScoringConfig
	Calibration Calibration
	// Topics turns passage and label confidences into per-topic probabilities; the zero value
	// serves each topic's label confidence.
	Topics     TopicCalibration
	Counts     Counts
	Provenance Provenance
	Evaluation *Evaluation // nil for none
	License    string      // licence of the data the counts come from
}

// New compiles a model from its parts. It fails, wrapping ErrInvalidModel, on parts a model file
// could not hold: labels, settings or counts out of range, or terms not in ascending order.
// The same parts always give a model with the same bytes.
func New(p Parts) (*Model, error) {
	fb := slices.Index(p.Labels, p.Fallback)
	if fb < 0 {
		return nil, fmt.Errorf("%w: fallback label %q is not one of the labels %v", ErrInvalidModel, p.Fallback, p.Labels)
	}
	k := len(p.Labels)
	c := p.Counts
	if len(c.PerLabel) != len(c.Terms)*k {
		return nil, fmt.Errorf("%w: %d counts for %d terms and %d labels", ErrInvalidModel, len(c.PerLabel), len(c.Terms), k)
	}
	m := &Model{
		labels:    slices.Clone(p.Labels),
		fallback:  fb,
		tokenizer: p.Tokenizer,
		scoring:   p.Scoring.clone(),
		cal:       p.Calibration.clone(),
		topics:    p.Topics.clone(),
		license:   p.License,
		docs:      slices.Clone(c.Documents),
		offsets:   make([]uint32, 0, len(c.Terms)+1),
		counts:    slices.Clone(c.PerLabel),
	}
	n := 0
	for i, t := range c.Terms {
		if len(t) > maxTermBytes {
			return nil, fmt.Errorf("%w: term %q is longer than %d bytes", ErrInvalidModel, t, maxTermBytes)
		}
		if i > 0 && c.Terms[i-1] >= t {
			return nil, fmt.Errorf("%w: term %q does not follow %q in ascending order", ErrInvalidModel, t, c.Terms[i-1])
		}
		n += len(t)
	}
	arena := make([]byte, 0, n)
	m.offsets = append(m.offsets, 0)
	for _, t := range c.Terms {
		arena = append(arena, t...)
		m.offsets = append(m.offsets, uint32(len(arena)))
	}
	m.arena = arena
	m.prov = p.Provenance
	m.prov.Settings = maps.Clone(p.Provenance.Settings)
	if p.Evaluation != nil {
		e := *p.Evaluation
		e.Labels = slices.Clone(e.Labels)
		m.eval = &e
	}
	return m.finish()
}

// Counts returns a copy of the counts the model was compiled from.
func (m *Model) Counts() Counts {
	c := Counts{
		Documents: slices.Clone(m.docs),
		Terms:     make([]string, len(m.offsets)-1),
		PerLabel:  slices.Clone(m.counts),
	}
	for i := range c.Terms {
		c.Terms[i] = string(m.arena[m.offsets[i]:m.offsets[i+1]])
	}
	return c
}
