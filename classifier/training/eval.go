package training

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/topicd/topicd/classifier"
)

// ReliabilityBins is how many equal-width confidence bins the expected calibration error and the
// reliability table use.
const ReliabilityBins = 10

// Prediction is one scored document as evaluation sees it: the true label, the label the model
// chose and the confidence it gave that choice.
type Prediction struct {
	Label      string  // true label
	Predicted  string  // label the model chose
	Confidence float64 // confidence of Predicted, in [0, 1]
}

// ReliabilityBin is one row of a reliability table: the predictions whose confidence fell in
// [Lower, Upper) (the last bin also holds 1.0), how confident they were on average and how often
// they were right.
type ReliabilityBin struct {
	Lower, Upper   float64
	Count          int
	MeanConfidence float64 // 0 when Count is 0
	Accuracy       float64 // 0 when Count is 0
}

// Report is a full evaluation: the summary stored in model files plus the confusion matrix and the
// reliability table that `topicctl eval` prints and plots.
type Report struct {
	classifier.Evaluation
	// Confusion[i][j] counts documents of label Labels[i].Label predicted as Labels[j].Label.
	Confusion [][]int
	// Reliability has ReliabilityBins equal-width bins over [0, 1].
	Reliability []ReliabilityBin
}

// Evaluate scores predictions. Labels fixes the order of the per-label rows and of the confusion
// matrix; a label met in preds but missing from labels is appended, in sorted order, so nothing is
// silently dropped.
//
// Macro-F1 averages F1 over the labels that occur as a true or a predicted label, as scikit-learn
// does; a label with no predictions has precision 0. The expected calibration error is the
// top-label ECE over ReliabilityBins equal-width bins: sum over bins of |accuracy - mean confidence|
// weighted by the bin's share of documents.
func Evaluate(labels []string, preds []Prediction) Report {
	all := slices.Clone(labels)
	var extra []string
	for _, p := range preds {
		for _, l := range []string{p.Label, p.Predicted} {
			if !slices.Contains(all, l) && !slices.Contains(extra, l) {
				extra = append(extra, l)
			}
		}
	}
	slices.Sort(extra)
	all = append(all, extra...)
	index := make(map[string]int, len(all))
	for i, l := range all {
		index[l] = i
	}

	conf := make([][]int, len(all))
	for i := range conf {
		conf[i] = make([]int, len(all))
	}
	correct := 0
	for _, p := range preds {
		conf[index[p.Label]][index[p.Predicted]]++
		if p.Label == p.Predicted {
			correct++
		}
	}

	r := Report{Confusion: conf, Reliability: reliability(preds)}
	r.Documents = len(preds)
	if len(preds) > 0 {
		r.Accuracy = float64(correct) / float64(len(preds))
	}
	var f1Sum float64
	var present int
	for i, l := range all {
		tp := conf[i][i]
		var support, predicted int
		for j := range all {
			support += conf[i][j]
			predicted += conf[j][i]
		}
		m := classifier.LabelMetrics{Label: l, Support: support}
		if predicted > 0 {
			m.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			m.Recall = float64(tp) / float64(support)
		}
		if m.Precision+m.Recall > 0 {
			m.F1 = 2 * m.Precision * m.Recall / (m.Precision + m.Recall)
		}
		r.Labels = append(r.Labels, m)
		if support > 0 || predicted > 0 {
			f1Sum += m.F1
			present++
		}
	}
	if present > 0 {
		r.MacroF1 = f1Sum / float64(present)
	}
	for _, b := range r.Reliability {
		if b.Count > 0 {
			r.ExpectedCalibrationError += float64(b.Count) / float64(len(preds)) * math.Abs(b.Accuracy-b.MeanConfidence)
		}
	}
	return r
}

// Label returns the metrics of one label, and false when the report has no such label.
func (r Report) Label(label string) (classifier.LabelMetrics, bool) {
	for _, m := range r.Labels {
		if m.Label == label {
			return m, true
		}
	}
	return classifier.LabelMetrics{}, false
}

func reliability(preds []Prediction) []ReliabilityBin {
	bins := make([]ReliabilityBin, ReliabilityBins)
	for i := range bins {
		bins[i].Lower = float64(i) / ReliabilityBins
		bins[i].Upper = float64(i+1) / ReliabilityBins
	}
	for _, p := range preds {
		c := min(max(p.Confidence, 0), 1)
		i := min(int(c*ReliabilityBins), ReliabilityBins-1)
		bins[i].Count++
		bins[i].MeanConfidence += c
		if p.Label == p.Predicted {
			bins[i].Accuracy++
		}
	}
	for i := range bins {
		if n := float64(bins[i].Count); n > 0 {
			bins[i].MeanConfidence /= n
			bins[i].Accuracy /= n
		}
	}
	return bins
}

// EvaluateModel classifies every example with m, exactly as serving does (default Options), and
// evaluates the predictions in the model's label order. An example whose label the model does not
// know counts as an error of every prediction made for it. Examples that cannot be classified
// (empty text) fail the evaluation.
func EvaluateModel(m *classifier.Model, examples []Example) (Report, error) {
	preds, err := Predict(m, examples)
	if err != nil {
		return Report{}, err
	}
	return Evaluate(m.Labels(), preds), nil
}

// Predict classifies every example with m (default Options) and pairs each result with the
// example's true label, for Evaluate; k-fold validation pools the predictions of its folds.
func Predict(m *classifier.Model, examples []Example) ([]Prediction, error) {
	return PredictWith(m, examples, classifier.Options{})
}

// PredictWith is Predict with options, such as a label mix to evaluate under.
func PredictWith(m *classifier.Model, examples []Example, opts classifier.Options) ([]Prediction, error) {
	opts, err := m.PrepareOptions(opts)
	if err != nil {
		return nil, err
	}
	preds := make([]Prediction, 0, len(examples))
	for _, ex := range examples {
		res, err := m.Classify(ex.Title, ex.Text, opts)
		if err != nil {
			return nil, fmt.Errorf("evaluate: example %q: %w", ex.ID, err)
		}
		preds = append(preds, Prediction{Label: ex.Label, Predicted: res.Label, Confidence: res.Confidence})
	}
	return preds, nil
}

// LongDocuments builds long documents from short ones, as a stand-in for full-length articles:
// for each label (in the order given, then any other label in sorted order) it makes perLabel
// documents, the j-th joining 3 + (11 j mod 28) of that label's examples (3 to 30) with blank
// lines, walking the label's examples cyclically in input order. The result is deterministic, so
// the same examples always give the same long documents (scripts/peers builds the same ones).
// Each document's ID is "long-LABEL-J-PARTS", PARTS the number of examples joined
// (LongDocumentParts reads it back).
func LongDocuments(examples []Example, labels []string, perLabel int) []Example {
	byLabel := map[string][]Example{}
	for _, ex := range examples {
		byLabel[ex.Label] = append(byLabel[ex.Label], ex)
	}
	order := slices.Clone(labels)
	for _, l := range slices.Sorted(maps.Keys(byLabel)) {
		if !slices.Contains(order, l) {
			order = append(order, l)
		}
	}
	var out []Example
	var b strings.Builder
	for _, label := range order {
		items := byLabel[label]
		if len(items) == 0 {
			continue
		}
		off := 0
		for j := range perLabel {
			size := 3 + (11*j)%28
			b.Reset()
			for t := range size {
				if t > 0 {
					b.WriteString("\n\n")
				}
				b.WriteString(items[(off+t)%len(items)].Text)
			}
			off += size
			out = append(out, Example{ID: fmt.Sprintf("long-%s-%d-%d", label, j, size), Label: label, Text: b.String()})
		}
	}
	return out
}

// LongDocumentParts returns how many examples the LongDocuments document with this ID joins, or
// false for an ID LongDocuments did not make.
func LongDocumentParts(id string) (int, bool) {
	if !strings.HasPrefix(id, "long-") {
		return 0, false
	}
	n, err := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// SizeGroup is how the long documents of one size range fared.
type SizeGroup struct {
	MinParts, MaxParts       int
	Documents                int
	Accuracy                 float64
	MeanConfidence           float64
	ExpectedCalibrationError float64
}

// sizeGroups are the ranges LongBySize reports: short, middling and article-length joins.
var sizeGroups = [][2]int{{3, 10}, {11, 20}, {21, 30}}

// LongBySize scores LongDocuments documents by how many rows they join (3-10, 11-20, 21-30),
// leaving out empty ranges; preds[i] is the prediction for long[i].
func LongBySize(labels []string, long []Example, preds []Prediction) []SizeGroup {
	var out []SizeGroup
	for _, g := range sizeGroups {
		var sel []Prediction
		var conf float64
		for i, ex := range long {
			if n, ok := LongDocumentParts(ex.ID); ok && n >= g[0] && n <= g[1] {
				sel = append(sel, preds[i])
				conf += preds[i].Confidence
			}
		}
		if len(sel) == 0 {
			continue
		}
		r := Evaluate(labels, sel)
		out = append(out, SizeGroup{MinParts: g[0], MaxParts: g[1], Documents: len(sel), Accuracy: r.Accuracy,
			MeanConfidence: conf / float64(len(sel)), ExpectedCalibrationError: r.ExpectedCalibrationError})
	}
	return out
}
