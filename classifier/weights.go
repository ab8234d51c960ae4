package classifier

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
)

// Variant is the naive-Bayes flavour that turns counts into term weights.
type Variant int

const (
	// Multinomial weighs term t for label c by log P(t|c) = log((n(t,c)+α) / (N(c)+α|V|)), where
	// n(t,c) is t's count in c's training documents, N(c) the total count of c's terms and |V|
	// the vocabulary size.
	Multinomial Variant = iota
	// Complement weighs term t for label c by -log((ñ(t,c)+α) / (Ñ(c)+α|V|)), the counts of every
	// label except c (Rennie et al. 2003), which is steadier when labels are unbalanced.
	Complement
)

// String returns "multinomial" or "complement".
func (v Variant) String() string {
	switch v {
	case Multinomial:
		return "multinomial"
	case Complement:
		return "complement"
	}
	return fmt.Sprintf("Variant(%d)", int(v))
}

// MarshalText implements encoding.TextMarshaler.
func (v Variant) MarshalText() ([]byte, error) {
	if v != Multinomial && v != Complement {
		return nil, fmt.Errorf("unknown variant %d", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *Variant) UnmarshalText(b []byte) error {
	switch string(b) {
	case "multinomial":
		*v = Multinomial
	case "complement":
		*v = Complement
	default:
		return fmt.Errorf("unknown variant %q, want multinomial or complement", b)
	}
	return nil
}

// Priors chooses the labels' prior probabilities.
type Priors int

const (
	// PriorsLearned uses each label's share of the training documents (after LabelWeights).
	PriorsLearned Priors = iota
	// PriorsUniform gives every label the same prior.
	PriorsUniform
	// PriorsBalanced gives every label the same prior and rescales each label's counts so every
	// label has the same total term count, so smoothing weighs every label alike; LabelWeights
	// are ignored.
	PriorsBalanced
)

// String returns "learned", "uniform" or "balanced".
func (p Priors) String() string {
	switch p {
	case PriorsLearned:
		return "learned"
	case PriorsUniform:
		return "uniform"
	case PriorsBalanced:
		return "balanced"
	}
	return fmt.Sprintf("Priors(%d)", int(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p Priors) MarshalText() ([]byte, error) {
	if p < PriorsLearned || p > PriorsBalanced {
		return nil, fmt.Errorf("unknown priors %d", int(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priors) UnmarshalText(b []byte) error {
	switch string(b) {
	case "learned":
		*p = PriorsLearned
	case "uniform":
		*p = PriorsUniform
	case "balanced":
		*p = PriorsBalanced
	default:
		return fmt.Errorf("unknown priors %q, want learned, uniform or balanced", b)
	}
	return nil
}

// ScoringConfig chooses how the goml counts become weights. The zero value is multinomial naive
// Bayes with add-one smoothing and learned priors.
type ScoringConfig struct {
	Variant Variant `json:"variant"`
	// Alpha is the additive smoothing; 0 means 1. Must be positive and finite otherwise.
	Alpha  float64 `json:"alpha,omitempty"`
	Priors Priors  `json:"priors"`
	// LabelWeights multiplies a label's counts and document count, as if each of its training
	// documents had been seen that many times; a missing label weighs 1. Use it to keep a large
	// label from drowning a small one.
	LabelWeights map[string]float64 `json:"label_weights,omitempty"`
}

func (s ScoringConfig) clone() ScoringConfig {
	s.LabelWeights = maps.Clone(s.LabelWeights)
	return s
}

func (s ScoringConfig) alpha() float64 {
	if s.Alpha == 0 {
		return 1
	}
	return s.Alpha
}

func (s ScoringConfig) validate(labels []string) error {
	if s.Variant != Multinomial && s.Variant != Complement {
		return fmt.Errorf("unknown scoring variant %d", int(s.Variant))
	}
	if s.Priors < PriorsLearned || s.Priors > PriorsBalanced {
		return fmt.Errorf("unknown priors %d", int(s.Priors))
	}
	if a := s.Alpha; a < 0 || a > 1e6 || math.IsNaN(a) {
		return fmt.Errorf("smoothing alpha %v out of range (0, 1e6]", a)
	}
	for l, w := range s.LabelWeights {
		if !contains(labels, l) {
			return fmt.Errorf("label weight for unknown label %q", l)
		}
		if !(w > 0 && w <= 1e6) {
			return fmt.Errorf("label weight %v for %q out of range (0, 1e6]", w, l)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// compile turns the counts into the weight table and the log priors.
func (m *Model) compile() {
	k := len(m.labels)
	v := len(m.offsets) - 1
	s := m.scoring
	alpha := s.alpha()

	scale := make([]float64, k)
	totals := make([]float64, k) // N(c) after scaling
	raw := make([]float64, k)
	for c, l := range m.labels {
		scale[c] = 1
		if w, ok := s.LabelWeights[l]; ok {
			scale[c] = w
		}
	}
	for i := 0; i < v; i++ {
		for c, n := range m.counts[i*k : (i+1)*k] {
			raw[c] += float64(n)
		}
	}
	if s.Priors == PriorsBalanced {
		var mean float64
		for c := range raw {
			mean += raw[c]
		}
		mean /= float64(k)
		for c := range raw {
			if raw[c] > 0 {
				scale[c] = mean / raw[c]
			}
		}
	}
	var all float64
	for c := range raw {
		totals[c] = raw[c] * scale[c]
		all += totals[c]
	}

	weights := make([]float32, v*k)
	va := alpha * float64(v)
	switch s.Variant {
	case Multinomial:
		den := make([]float64, k)
		for c := range den {
			den[c] = math.Log(totals[c] + va)
		}
		for i := 0; i < v; i++ {
			row := m.counts[i*k : (i+1)*k]
			for c, n := range row {
				weights[i*k+c] = float32(math.Log(float64(n)*scale[c]+alpha) - den[c])
			}
		}
	case Complement:
		den := make([]float64, k)
		for c := range den {
			den[c] = math.Log(all - totals[c] + va)
		}
		for i := 0; i < v; i++ {
			row := m.counts[i*k : (i+1)*k]
			var sum float64
			for c, n := range row {
				sum += float64(n) * scale[c]
			}
			for c, n := range row {
				weights[i*k+c] = float32(-(math.Log(sum-float64(n)*scale[c]+alpha) - den[c]))
			}
		}
	}

	priors := make([]float64, k)
	if s.Priors == PriorsLearned {
		var docs float64
		for c, d := range m.docs {
			docs += float64(d) * scale[c]
		}
		for c, d := range m.docs {
			priors[c] = math.Log(float64(d) * scale[c] / docs)
		}
	} else {
		for c := range priors {
			priors[c] = -math.Log(float64(k))
		}
	}
	// Rows in order of falling frequency (ties in term order) keep the hot terms together.
	seen := make([]uint64, v)
	order := make([]int, v)
	for i := range order {
		order[i] = i
		for _, n := range m.counts[i*k : (i+1)*k] {
			seen[i] += uint64(n)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(seen[b], seen[a]) })
	var stop []string
	if m.tokenizer.DropStopWords {
		// Training never produces a stop word then; leaving any out of a crafted file keeps the
		// stop-word rows that scoreWords relies on unique.
		order = slices.DeleteFunc(order, func(i int) bool {
			t := m.arena[m.offsets[i]:m.offsets[i+1]]
			return isStopKey(makeKey(t), len(t))
		})
		stop = stopWordList
	}
	m.tbl = newTable(m.arena, m.offsets, weights, k, order, stop)
	m.priors = priors
}
