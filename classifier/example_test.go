package classifier_test

import (
	"fmt"

	"github.com/topicd/topicd/classifier"
)

// A model is compiled from per-label term counts; classifier/training learns them from a corpus.
func ExampleNew() {
	m, err := classifier.New(classifier.Parts{
		Labels:   []string{"cybersecurity", "other"},
		Fallback: "other",
		Counts: classifier.Counts{
			Documents: []uint64{2, 2},
			// Terms in byte order, then one count per label for each.
			Terms:    []string{"cup", "hackers", "ransomware", "team"},
			PerLabel: []uint32{0, 2, 2, 0, 3, 0, 0, 2},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Classify("", "Hackers used ransomware against the team.", classifier.Options{ExplainTerms: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Label, r.Stats.KnownTokens, r.Explanations[0].Terms[0].Term)
	// Output: cybersecurity 3 ransomware
}
