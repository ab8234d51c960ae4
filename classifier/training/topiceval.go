package training

import (
	"fmt"
	"math"
	"slices"

	"github.com/topicd/topicd/classifier"
)

// TopicPrediction is one document's topics as evaluation sees them, one entry per topic in the
// report's topic order.
type TopicPrediction struct {
	True        []bool    // the document is about the topic
	Probability []float64 // the model's probability for the topic
	Present     []bool    // the model said present
}

// TopicMetrics are one topic's scores over a set of documents.
type TopicMetrics struct {
	Topic     string
	Precision float64
	Recall    float64
	F1        float64
	// ECE is the expected calibration error of the topic's probability: over ReliabilityBins
	// equal-width bins, |share of documents about the topic - mean probability|, weighted by
	// the bin's share of documents.
	ECE     float64
	Support int // documents about the topic
	// Reliability has ReliabilityBins bins; Accuracy is the share of the bin's documents that
	// are about the topic.
	Reliability []ReliabilityBin
}

// TopicReport is a multi-topic evaluation.
type TopicReport struct {
	Documents int
	Topics    []TopicMetrics
	// MacroF1 averages F1 over the topics.
	MacroF1 float64
	// ExactMatch is the share of documents whose present topics are exactly their true topics.
	ExactMatch float64
	// HammingLoss is the share of (document, topic) pairs decided wrongly.
	HammingLoss float64
	// SingleTopic counts the documents about at most one topic, and ExtraTopic the share of them
	// given a topic they are not about.
	SingleTopic int
	ExtraTopic  float64
	// MeanECE averages the topics' ECE; MaxECE is the largest.
	MeanECE, MaxECE float64
}

// EvaluateTopics scores topic predictions; every prediction must have one entry per topic.
func EvaluateTopics(topics []string, preds []TopicPrediction) (TopicReport, error) {
	k := len(topics)
	r := TopicReport{Documents: len(preds)}
	for i, p := range preds {
		if len(p.True) != k || len(p.Probability) != k || len(p.Present) != k {
			return TopicReport{}, fmt.Errorf("topic prediction %d has %d/%d/%d entries for %d topics", i, len(p.True), len(p.Probability), len(p.Present), k)
		}
	}
	var exact, wrong, extra int
	for _, p := range preds {
		ok := true
		n := 0
		for j := range k {
			if p.Present[j] != p.True[j] {
				ok = false
				wrong++
			}
			if p.True[j] {
				n++
			}
		}
		if ok {
			exact++
		}
		if n <= 1 {
			r.SingleTopic++
			for j := range k {
				if p.Present[j] && !p.True[j] {
					extra++
					break
				}
			}
		}
	}
	for j, t := range topics {
		tm := TopicMetrics{Topic: t}
		var tp, fp, fn int
		bins := make([]ReliabilityBin, ReliabilityBins)
		for i := range bins {
			bins[i].Lower = float64(i) / ReliabilityBins
			bins[i].Upper = float64(i+1) / ReliabilityBins
		}
		for _, p := range preds {
			switch {
			case p.Present[j] && p.True[j]:
				tp++
			case p.Present[j]:
				fp++
			case p.True[j]:
				fn++
			}
			if p.True[j] {
				tm.Support++
			}
			c := min(max(p.Probability[j], 0), 1)
			b := min(int(c*ReliabilityBins), ReliabilityBins-1)
			bins[b].Count++
			bins[b].MeanConfidence += c
			if p.True[j] {
				bins[b].Accuracy++
			}
		}
		for i := range bins {
			if n := float64(bins[i].Count); n > 0 {
				bins[i].MeanConfidence /= n
				bins[i].Accuracy /= n
				tm.ECE += n / float64(len(preds)) * math.Abs(bins[i].Accuracy-bins[i].MeanConfidence)
			}
		}
		tm.Reliability = bins
		if tp+fp > 0 {
			tm.Precision = float64(tp) / float64(tp+fp)
		}
		if tp+fn > 0 {
			tm.Recall = float64(tp) / float64(tp+fn)
		}
		if tp > 0 {
			tm.F1 = 2 * float64(tp) / float64(2*tp+fp+fn)
		}
		r.Topics = append(r.Topics, tm)
		r.MacroF1 += tm.F1 / float64(k)
		r.MeanECE += tm.ECE / float64(k)
		r.MaxECE = max(r.MaxECE, tm.ECE)
	}
	if len(preds) > 0 {
		r.ExactMatch = float64(exact) / float64(len(preds))
		r.HammingLoss = float64(wrong) / float64(len(preds)*max(k, 1))
	}
	if r.SingleTopic > 0 {
		r.ExtraTopic = float64(extra) / float64(r.SingleTopic)
	}
	return r, nil
}

// PredictTopics classifies every example with m as serving does, with opts (its TopicThreshold
// included), and returns the topic predictions in m's topic order. A document's true topics are
// ExampleTopics.
func PredictTopics(m *classifier.Model, examples []Example, opts classifier.Options) ([]TopicPrediction, error) {
	topics := m.Topics()
	out := make([]TopicPrediction, 0, len(examples))
	for _, ex := range examples {
		res, err := m.Classify(ex.Title, ex.Text, opts)
		if err != nil {
			return nil, fmt.Errorf("example %q: %w", ex.ID, err)
		}
		p := TopicPrediction{True: make([]bool, len(topics)), Probability: make([]float64, len(topics)), Present: make([]bool, len(topics))}
		truth := ExampleTopics(ex, m.FallbackLabel())
		for j, t := range topics {
			p.True[j] = slices.Contains(truth, t)
			for _, ts := range res.Topics {
				if ts.Topic == t {
					p.Probability[j], p.Present[j] = ts.Probability, ts.Present
				}
			}
		}
		out = append(out, p)
	}
	return out, nil
}
