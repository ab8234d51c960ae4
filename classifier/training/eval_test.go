package training

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/topicd/topicd/classifier"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestEvaluateHandComputed(t *testing.T) {
	// Six documents over labels a, b, c:
	//   a->a 0.90, a->a 0.80, a->b 0.60, b->b 0.70, b->a 0.55, c->c 0.95
	// Confusion (rows true, cols predicted): a=[2 1 0] b=[1 1 0] c=[0 0 1].
	// a: P=2/3 R=2/3 F1=2/3; b: P=1/2 R=1/2 F1=1/2; c: P=R=F1=1. Macro-F1 = (2/3+1/2+1)/3 = 13/18.
	// Bins: 0.5-0.6 {0.55 wrong} |0.55-0|=0.55; 0.6-0.7 {0.60 wrong} 0.60; 0.7-0.8 {0.70 right} 0.30;
	// 0.8-0.9 {0.80 right} 0.20; 0.9-1.0 {0.90, 0.95 right} |1-0.925|=0.075.
	// ECE = (0.55+0.60+0.30+0.20+2*0.075)/6 = 1.8/6 = 0.3.
	preds := []Prediction{
		{"a", "a", 0.90}, {"a", "a", 0.80}, {"a", "b", 0.60},
		{"b", "b", 0.70}, {"b", "a", 0.55}, {"c", "c", 0.95},
	}
	r := Evaluate([]string{"a", "b", "c"}, preds)
	if r.Documents != 6 || !near(r.Accuracy, 4.0/6) {
		t.Errorf("Documents, Accuracy = %d, %v, want 6, %v", r.Documents, r.Accuracy, 4.0/6)
	}
	want := []classifier.LabelMetrics{
		{Label: "a", Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3, Support: 3},
		{Label: "b", Precision: 0.5, Recall: 0.5, F1: 0.5, Support: 2},
		{Label: "c", Precision: 1, Recall: 1, F1: 1, Support: 1},
	}
	for i, w := range want {
		g := r.Labels[i]
		if g.Label != w.Label || g.Support != w.Support || !near(g.Precision, w.Precision) || !near(g.Recall, w.Recall) || !near(g.F1, w.F1) {
			t.Errorf("Labels[%d] = %+v, want %+v", i, g, w)
		}
	}
	if !near(r.MacroF1, 13.0/18) {
		t.Errorf("MacroF1 = %v, want %v", r.MacroF1, 13.0/18)
	}
	wantConf := [][]int{{2, 1, 0}, {1, 1, 0}, {0, 0, 1}}
	for i := range wantConf {
		if !slices.Equal(r.Confusion[i], wantConf[i]) {
			t.Errorf("Confusion[%d] = %v, want %v", i, r.Confusion[i], wantConf[i])
		}
	}
	if !near(r.ExpectedCalibrationError, 0.3) {
		t.Errorf("ECE = %v, want 0.3", r.ExpectedCalibrationError)
	}
	top := r.Reliability[9]
	if top.Count != 2 || !near(top.MeanConfidence, 0.925) || !near(top.Accuracy, 1) {
		t.Errorf("Reliability[9] = %+v, want 2 docs, conf 0.925, acc 1", top)
	}
}

func TestEvaluateEdges(t *testing.T) {
	tests := []struct {
		name        string
		labels      []string
		preds       []Prediction
		wantLabels  []string
		wantMacroF1 float64
		wantECE     float64
	}{
		{
			name:        "empty",
			labels:      []string{"a"},
			wantLabels:  []string{"a"},
			wantMacroF1: 0,
		},
		{
			// A label that is never true nor predicted does not drag macro-F1 down.
			name:        "absent label ignored in macro average",
			labels:      []string{"a", "b", "z"},
			preds:       []Prediction{{"a", "a", 1}, {"b", "b", 1}},
			wantLabels:  []string{"a", "b", "z"},
			wantMacroF1: 1,
		},
		{
			// Unknown labels are appended sorted; predicting a label that never occurs costs F1.
			name:        "unknown labels appended",
			labels:      []string{"a"},
			preds:       []Prediction{{"a", "y", 0.5}, {"x", "a", 0.5}},
			wantLabels:  []string{"a", "x", "y"},
			wantMacroF1: 0,
			wantECE:     0.5,
		},
		{
			// Confidence 1.0 lands in the last bin, not out of range; perfect calibration is 0 ECE.
			name:        "confidence one",
			labels:      []string{"a"},
			preds:       []Prediction{{"a", "a", 1}},
			wantLabels:  []string{"a"},
			wantMacroF1: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Evaluate(tt.labels, tt.preds)
			var got []string
			for _, m := range r.Labels {
				got = append(got, m.Label)
			}
			if !slices.Equal(got, tt.wantLabels) {
				t.Errorf("labels = %v, want %v", got, tt.wantLabels)
			}
			if !near(r.MacroF1, tt.wantMacroF1) {
				t.Errorf("MacroF1 = %v, want %v", r.MacroF1, tt.wantMacroF1)
			}
			if !near(r.ExpectedCalibrationError, tt.wantECE) {
				t.Errorf("ECE = %v, want %v", r.ExpectedCalibrationError, tt.wantECE)
			}
			if len(r.Confusion) != len(tt.wantLabels) {
				t.Errorf("confusion has %d rows, want %d", len(r.Confusion), len(tt.wantLabels))
			}
		})
	}
}

func TestLongDocuments(t *testing.T) {
	var exs []Example
	for i := range 5 {
		exs = append(exs, Example{ID: fmt.Sprint("a", i), Label: "a", Text: fmt.Sprint("a", i)})
	}
	exs = append(exs, Example{ID: "z0", Label: "z", Text: "z0"})
	got := LongDocuments(exs, []string{"a", "b"}, 3)
	// Label a: sizes 3, 14, 25 walking a0..a4 cyclically; z (not in labels) follows, sorted; b has
	// no examples and makes no documents.
	wantSizes := []int{3, 14, 25, 3, 14, 25}
	if len(got) != len(wantSizes) {
		t.Fatalf("LongDocuments made %d documents, want %d", len(got), len(wantSizes))
	}
	for i, d := range got {
		parts := strings.Split(d.Text, "\n\n")
		if len(parts) != wantSizes[i] {
			t.Errorf("document %d joins %d rows, want %d", i, len(parts), wantSizes[i])
		}
		if n, ok := LongDocumentParts(d.ID); !ok || n != wantSizes[i] {
			t.Errorf("LongDocumentParts(%q) = %d, %v; want %d, true", d.ID, n, ok, wantSizes[i])
		}
		for _, p := range parts {
			if p[0] != d.Label[0] {
				t.Errorf("document %d (%s) holds %q of another label", i, d.Label, p)
			}
		}
	}
	if got[0].Text != "a0\n\na1\n\na2" || !strings.HasPrefix(got[1].Text, "a3\n\na4\n\na0") {
		t.Errorf("documents start %q, %q; want a0-a2, then a3, a4, a0...", got[0].Text, got[1].Text[:10])
	}
	if got[3].Label != "z" {
		t.Errorf("document 3 label = %q, want z after the listed labels", got[3].Label)
	}
	if again := LongDocuments(exs, []string{"a", "b"}, 3); !slices.EqualFunc(got, again, func(x, y Example) bool { return reflect.DeepEqual(x, y) }) {
		t.Error("LongDocuments is not deterministic")
	}
}

func TestLongDocumentPartsRejects(t *testing.T) {
	for _, id := range []string{"", "a0", "long-a-3-x", "long-a-3-0", "short-a-3-4"} {
		if n, ok := LongDocumentParts(id); ok {
			t.Errorf("LongDocumentParts(%q) = %d, true; want false", id, n)
		}
	}
}
