package training

import (
	"maps"
	"math"
	"slices"

	"github.com/topicd/topicd/classifier"
)

// MixReport is an evaluation re-weighted to a label mix: what accuracy, per-label precision and
// recall, macro-F1 and ECE would be on a stream mixed that way, if each label's documents were
// read as the evaluated ones were. Each document of label l counts Mix[l] / (l's share of the
// documents); recall does not change, precision and everything that sums over labels does.
type MixReport struct {
	Name string
	// Mix is the label mix the report is re-weighted to, summing to 1.
	Mix                      map[string]float64
	Accuracy                 float64
	MacroF1                  float64
	ExpectedCalibrationError float64
	Labels                   []classifier.LabelMetrics // Support stays the unweighted count
}

// EvaluateAtMix re-weights preds to mix (labels it leaves out, or with no documents, count 0).
// Labels orders the per-label rows as in Evaluate; the macro-F1 averages the labels that have
// weight as a true or a predicted label.
func EvaluateAtMix(name string, labels []string, preds []Prediction, mix map[string]float64) MixReport {
	count := map[string]float64{}
	for _, p := range preds {
		count[p.Label]++
	}
	var total float64
	for l, m := range mix {
		if count[l] > 0 {
			total += m
		}
	}
	w := map[string]float64{}
	for l, m := range mix {
		if count[l] > 0 && total > 0 {
			w[l] = m / total / count[l]
		}
	}
	all := slices.Clone(labels)
	for _, l := range slices.Sorted(maps.Keys(count)) {
		if !slices.Contains(all, l) {
			all = append(all, l)
		}
	}
	tp, predicted, support := map[string]float64{}, map[string]float64{}, map[string]float64{}
	var bins [ReliabilityBins]struct{ n, conf, right float64 }
	var weight, right float64
	for _, p := range preds {
		x := w[p.Label]
		weight += x
		support[p.Label] += x
		predicted[p.Predicted] += x
		if p.Label == p.Predicted {
			tp[p.Label] += x
			right += x
		}
		c := min(max(p.Confidence, 0), 1)
		b := &bins[min(int(c*ReliabilityBins), ReliabilityBins-1)]
		b.n += x
		b.conf += x * c
		if p.Label == p.Predicted {
			b.right += x
		}
	}
	r := MixReport{Name: name, Mix: map[string]float64{}}
	for l, x := range w {
		r.Mix[l] = x * count[l]
	}
	if weight == 0 {
		return r
	}
	r.Accuracy = right / weight
	var f1s float64
	var n int
	for _, l := range all {
		m := classifier.LabelMetrics{Label: l, Support: int(count[l])}
		if predicted[l] > 0 {
			m.Precision = tp[l] / predicted[l]
		}
		if support[l] > 0 {
			m.Recall = tp[l] / support[l]
		}
		if m.Precision+m.Recall > 0 {
			m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
		}
		r.Labels = append(r.Labels, m)
		if support[l] > 0 || predicted[l] > 0 {
			f1s += m.F1
			n++
		}
	}
	if n > 0 {
		r.MacroF1 = f1s / float64(n)
	}
	for _, b := range bins {
		if b.n > 0 {
			r.ExpectedCalibrationError += b.n / weight * math.Abs(b.right/b.n-b.conf/b.n)
		}
	}
	return r
}

// ReportMixes are the label mixes validation re-weights its predictions to, besides the mix of
// the held-out rows themselves: the corpus' own mix (a news stream, mostly `other`, filled in by
// Validate), an even mix (the hand-written article sets of scripts/experiments/probe) and the mix
// of the hand-written headline sets (38 % cybersecurity).
var ReportMixes = []struct {
	Name string
	Mix  map[string]float64
}{
	{"corpus", nil},
	{"even", map[string]float64{"cybersecurity": 0.25, "migration": 0.25, "diplomacy": 0.25, "other": 0.25}},
	{"headlines", map[string]float64{"cybersecurity": 0.375, "migration": 0.625 / 3, "diplomacy": 0.625 / 3, "other": 0.625 / 3}},
}
