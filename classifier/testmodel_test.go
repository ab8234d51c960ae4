package classifier

import (
	"fmt"
	"maps"
	"slices"
)

// testDoc is one labelled document of the small models these tests build.
type testDoc struct{ ID, Label, Title, Text string }

// newTestModel builds a model from docs the way classifier/training does, without goml: every
// term of the title and the text (the title a sentence of its own) counted per label, terms
// longer than MaxTermBytes dropped. classifier/training checks that its counts are goml's; p
// gives the labels and settings, and its counts are replaced.
func newTestModel(docs []testDoc, p Parts) (*Model, error) {
	k := len(p.Labels)
	counts := map[string][]uint32{}
	p.Counts = Counts{Documents: make([]uint64, k)}
	for _, d := range docs {
		c := slices.Index(p.Labels, d.Label)
		if c < 0 {
			return nil, fmt.Errorf("document %q: label %q is not one of %v", d.ID, d.Label, p.Labels)
		}
		p.Counts.Documents[c]++
		x := d.Text
		if d.Title != "" {
			x = d.Title + "\n" + d.Text
		}
		p.Tokenizer.Tokenize(x, func(term []byte) {
			if len(term) > MaxTermBytes {
				return
			}
			if counts[string(term)] == nil {
				counts[string(term)] = make([]uint32, k)
			}
			counts[string(term)][c]++
		})
	}
	for _, t := range slices.Sorted(maps.Keys(counts)) {
		p.Counts.Terms = append(p.Counts.Terms, t)
		p.Counts.PerLabel = append(p.Counts.PerLabel, counts[t]...)
	}
	return New(p)
}
