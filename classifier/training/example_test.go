package training_test

import (
	"fmt"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

func ExampleTrain() {
	examples := []training.Example{
		{ID: "1", Label: "cybersecurity", Text: "Hackers breached the ministry's servers with ransomware."},
		{ID: "2", Label: "migration", Text: "Asylum seekers crossed the border into the country."},
		{ID: "3", Label: "diplomacy", Text: "The foreign ministers signed a treaty at the summit."},
		{ID: "4", Label: "other", Text: "The home team won the cup final."},
	}
	m, err := training.Train(examples, training.Config{
		Tokenizer: classifier.TokenizerConfig{DropStopWords: true},
		Scoring:   classifier.ScoringConfig{Variant: classifier.Complement, Priors: classifier.PriorsUniform},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r, err := m.Classify("", "Hackers used ransomware; the ransomware hit the servers.", classifier.Options{TopK: 2, ExplainTerms: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Label, len(r.Scores))
	for _, t := range r.Explanations[0].Terms {
		fmt.Println(t.Term)
	}
	// Output:
	// cybersecurity 2
	// ransomware
	// hackers
}
