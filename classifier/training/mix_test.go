package training

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// TestCalibrationMix checks that the calibration samples are weighed to the stated mix, that the
// labels left out share the rest by their rows, short and long samples alike, and that the
// fitted calibration records the mix.
func TestCalibrationMix(t *testing.T) {
	// 6 rows of label 0, 3 of label 1, 1 of label 2; long samples evenly 2 per label.
	var short, long []CalibrationSample
	for c, n := range []int{6, 3, 1} {
		for range n {
			short = append(short, CalibrationSample{Scores: []float64{0, 0, 0}, Label: c})
		}
		for range 2 {
			long = append(long, CalibrationSample{Scores: []float64{0, 0, 0}, Label: c})
		}
	}
	mix := FullMix(short, []float64{0, 0, 0.5})
	want := []float64{0.5 * 6 / 9, 0.5 * 3 / 9, 0.5}
	for c := range want {
		if math.Abs(mix[c]-want[c]) > 1e-12 {
			t.Fatalf("fullMix = %v, want %v", mix, want)
		}
	}
	for _, s := range [][]CalibrationSample{short, long} {
		ToMix(s, mix)
		got := labelMix(s, 3)
		var sum float64
		for _, x := range s {
			sum += x.Weight
		}
		for c := range want {
			if math.Abs(got[c]-want[c]) > 1e-12 {
				t.Errorf("weighted mix = %v, want %v", got, want)
			}
		}
		if math.Abs(sum/float64(len(s))-1) > 1e-12 {
			t.Errorf("mean weight %v, want 1", sum/float64(len(s)))
		}
	}
}

func TestCalibrationMixChecked(t *testing.T) {
	for _, tc := range []struct {
		mix     map[string]float64
		balance float64
		want    string
	}{
		{map[string]float64{"cybersecurity": 0.05}, 0.25, "set one, not both"},
		{map[string]float64{"cybersecurity": 1.5}, 0, "want a share in (0, 1)"},
		{map[string]float64{"sport": 0.5}, 0, "not one of the labels"},
		{map[string]float64{"cybersecurity": 0.6, "other": 0.6}, 0, "sums to"},
		{map[string]float64{"cybersecurity": 0.1, "migration": 0.1, "diplomacy": 0.1, "other": 0.1}, 0, "sums to"},
	} {
		r := Shipped()
		r.CalibrationMix, r.CalibrationBalance = tc.mix, tc.balance
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mix %v balance %v: Check() = %v, want an error saying %q", tc.mix, tc.balance, err, tc.want)
		}
	}
	if err := Shipped().Check(); err != nil {
		t.Errorf("Shipped().Check() = %v", err)
	}
}

// TestSelectTerms checks the chi-squared cut: a term found in one label only outranks a term
// spread evenly over the labels, the kept terms stay in their order, and Train keeps MaxTerms
// terms.
func TestSelectTerms(t *testing.T) {
	counts := map[string][]uint64{
		"even":   {5, 5},
		"only-a": {6, 0},
		"only-b": {0, 4},
		"mostly": {3, 1},
	}
	terms := []string{"even", "mostly", "only-a", "only-b"}
	if got, want := selectTerms(terms, counts, 2), []string{"only-a", "only-b"}; !slices.Equal(got, want) {
		t.Errorf("selectTerms(2) = %v, want %v", got, want)
	}
	if got := selectTerms(terms, counts, 3); !slices.Contains(got, "mostly") || slices.Contains(got, "even") {
		t.Errorf("selectTerms(3) = %v, want the three terms tied to a label", got)
	}
	m, err := Train(diplomacyExamples, Config{MaxTerms: 5})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Counts().Terms); n != 5 {
		t.Errorf("Train with MaxTerms 5 kept %d terms", n)
	}
	if got := m.Info().Provenance.Settings["train.max_terms"]; got != "5" {
		t.Errorf("provenance train.max_terms = %q, want 5", got)
	}
}

// TestEvaluateAtMix re-weights a small set by hand: 2 cyber documents (1 right) and 8 other
// documents (6 right, 2 called cyber), at an even mix.
func TestEvaluateAtMix(t *testing.T) {
	var preds []Prediction
	add := func(label, pred string, conf float64, n int) {
		for range n {
			preds = append(preds, Prediction{Label: label, Predicted: pred, Confidence: conf})
		}
	}
	add("cyber", "cyber", 0.95, 1)
	add("cyber", "other", 0.95, 1)
	add("other", "other", 0.95, 6)
	add("other", "cyber", 0.95, 2)
	r := EvaluateAtMix("even", []string{"cyber", "other"}, preds, map[string]float64{"cyber": 0.5, "other": 0.5})
	// Each cyber document weighs 0.25, each other one 0.0625: accuracy 0.25 + 6*0.0625 = 0.625.
	if math.Abs(r.Accuracy-0.625) > 1e-12 {
		t.Errorf("accuracy = %v, want 0.625", r.Accuracy)
	}
	cy := r.Labels[0]
	// Cyber precision: 0.25 / (0.25 + 2*0.0625) = 2/3; recall 0.5 as measured.
	if math.Abs(cy.Precision-2.0/3) > 1e-12 || cy.Recall != 0.5 || cy.Support != 2 {
		t.Errorf("cyber = %+v, want precision 2/3, recall 0.5, support 2", cy)
	}
	// One confidence bin: |0.625 - 0.95|.
	if math.Abs(r.ExpectedCalibrationError-0.325) > 1e-12 {
		t.Errorf("ECE = %v, want 0.325", r.ExpectedCalibrationError)
	}
	plain := Evaluate([]string{"cyber", "other"}, preds)
	same := EvaluateAtMix("own", []string{"cyber", "other"}, preds, map[string]float64{"cyber": 0.2, "other": 0.8})
	if math.Abs(same.Accuracy-plain.Accuracy) > 1e-12 || math.Abs(same.MacroF1-plain.MacroF1) > 1e-12 ||
		math.Abs(same.ExpectedCalibrationError-plain.ExpectedCalibrationError) > 1e-12 {
		t.Errorf("at the set's own mix: %+v, want the plain report's %+v", same, plain.Evaluation)
	}
}
