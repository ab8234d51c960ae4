package training

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/topicd/topicd/classifier"
)

// Topic calibration: a logistic regression per topic over the passage and label features the
// scorer reads (classifier.TopicFeature), fitted on documents the model did not train on, and a
// threshold per topic for present.
//
// The corpus rows are short (one paragraph) and few are about two topics, while the documents the
// topics matter for are articles of many paragraphs. So the regression is fitted on both: the
// held-out rows with their own topics, and articles assembled from held-out rows (MixedDocuments):
// a few paragraphs on each of none to three topics, paragraphs of `other` news around them, and
// often a sentence or two on further topics, which do not make the article about them.

// TopicSample is one held-out document as topic fitting sees it.
type TopicSample struct {
	// Features per topic, in the model's topic order (classifier.Model.Topics).
	Features [][classifier.NumTopicFeatures]float64
	// Present per topic: whether the document is about it.
	Present []bool
	// Weight scales the sample's share of the loss; 0 means 1.
	Weight float64
}

// TopicSamples reads the features of docs under m with passages of window known terms (0: m's
// own) scored at the passage temperature (see classifier.TopicCalibration.Temperature). A
// document's topics are its Topics, or when it has none listed (nil), its label unless that is
// the fallback.
func TopicSamples(m *classifier.Model, docs []Example, window int, temperature float64) []TopicSample {
	topics := m.Topics()
	fallback := m.FallbackLabel()
	out := make([]TopicSample, 0, len(docs))
	for _, d := range docs {
		s := TopicSample{Features: m.TopicFeaturesAt(d.Title, d.Text, window, temperature), Present: make([]bool, len(topics))}
		for j, t := range topics {
			s.Present[j] = slices.Contains(ExampleTopics(d, fallback), t)
		}
		out = append(out, s)
	}
	return out
}

// ExampleTopics is the topic set of an example: its Topics, or when the corpus lists none (nil),
// its label unless that is the fallback.
func ExampleTopics(ex Example, fallback string) []string {
	if ex.Topics != nil || ex.Label == fallback || ex.Label == "" {
		return ex.Topics
	}
	return []string{ex.Label}
}

// MixedDocuments assembles n articles from examples, deterministically for a given seed. Each
// picks every topic with probability 0.4 and takes 2 to 9 rows of it (rows whose only topic it
// is), 0 to 7 rows of the fallback label (3 more when it has no topic) and passing mentions: for
// each topic it is not about, with probability 0.8 and at most two such topics, the first two
// sentences of a row of that topic, which do not make the article about it. The rows are
// shuffled and joined as paragraphs. Its Topics are the topics it took rows of.
func MixedDocuments(examples []Example, labels []string, fallback string, n int, seed uint64) []Example {
	pure := map[string][]Example{}
	for _, ex := range examples {
		ts := ExampleTopics(ex, fallback)
		switch {
		case ex.Label == fallback && len(ts) == 0:
			pure[fallback] = append(pure[fallback], ex)
		case len(ts) == 1 && ts[0] == ex.Label:
			pure[ex.Label] = append(pure[ex.Label], ex)
		}
	}
	var topics []string
	for _, l := range labels {
		if l != fallback && len(pure[l]) > 0 {
			topics = append(topics, l)
		}
	}
	if len(pure[fallback]) == 0 || len(topics) == 0 {
		return nil
	}
	const (
		mentionChance    = 0.8
		maxMentions      = 2
		mentionSentences = 2
	)
	rng := rand.New(rand.NewPCG(seed, 0x70706963))
	out := make([]Example, 0, n)
	var parts []string
	for d := range n {
		parts = parts[:0]
		var set []string
		for _, t := range topics {
			if rng.Float64() < 0.4 {
				set = append(set, t)
			}
		}
		for _, t := range set {
			for range 2 + rng.IntN(8) {
				parts = append(parts, pure[t][rng.IntN(len(pure[t]))].Text)
			}
		}
		others := rng.IntN(8)
		if len(set) == 0 {
			others += 3
		}
		for range others {
			parts = append(parts, pure[fallback][rng.IntN(len(pure[fallback]))].Text)
		}
		mentions := 0
		for _, t := range topics {
			if slices.Contains(set, t) || mentions == maxMentions || rng.Float64() >= mentionChance {
				continue
			}
			sentences := strings.SplitAfter(pure[t][rng.IntN(len(pure[t]))].Text, ". ")
			parts = append(parts, strings.TrimSpace(strings.Join(sentences[:min(mentionSentences, len(sentences))], "")))
			mentions++
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		if set == nil {
			set = []string{}
		}
		out = append(out, Example{ID: fmt.Sprintf("mixed-%d", d), Label: fallback, Text: strings.Join(parts, "\n\n"), Topics: set})
	}
	return out
}

// OutOfFoldTopicSamples gives topic samples for a model trained on examples with cfg (its
// Calibration set): it splits examples into k stratified folds, trains on k-1 with cfg and reads
// the held-out fold's rows (short) and mixed articles made of them, mixed per fold (long).
func OutOfFoldTopicSamples(examples []Example, cfg Config, k, mixed, window int, temperature float64) (short, long []TopicSample, err error) {
	ids := make([]string, len(examples))
	labels := make([]string, len(examples))
	for i, ex := range examples {
		ids[i], labels[i] = ex.ID, ex.Label
	}
	folds, err := KFold(ids, labels, k)
	if err != nil {
		return nil, nil, err
	}
	for f, held := range folds {
		m, err := Train(pick(examples, FoldTraining(len(examples), held)), cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("topic calibration fold %d: %w", f+1, err)
		}
		heldEx := pick(examples, held)
		short = append(short, TopicSamples(m, heldEx, window, temperature)...)
		long = append(long, TopicSamples(m, MixedDocuments(heldEx, m.Labels(), m.FallbackLabel(), mixed, uint64(f+1)), window, temperature)...)
	}
	return short, long, nil
}

// TopicFit chooses what FitTopicCalibration fits.
type TopicFit struct {
	// Window is the passage length in known terms, and Temperature the passage temperature
	// (classifier.TopicCalibration.Temperature) the samples were read with.
	Window      int
	Temperature float64
	// Features the regressions read; the others get weight 0.
	Features []classifier.TopicFeature
}

// ParseTopicFeatures reads a "+"-separated list of feature names (confidence, share, wins, peak,
// length, pair, pairpeak); "none" is the empty list.
func ParseTopicFeatures(s string) ([]classifier.TopicFeature, error) {
	if s == "none" {
		return nil, nil
	}
	var out []classifier.TopicFeature
	for _, name := range strings.Split(s, "+") {
		f := classifier.TopicFeature(0)
		for ; f < classifier.NumTopicFeatures; f++ {
			if f.String() == name {
				break
			}
		}
		if f == classifier.NumTopicFeatures {
			return nil, fmt.Errorf("topic feature %q: want confidence, share, wins, peak, length, pair or pairpeak, joined by +", name)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("topic feature %q named twice", name)
		}
		out = append(out, f)
	}
	return out, nil
}

// ErrNoTopicData is returned when there is nothing to fit a topic calibration on.
var ErrNoTopicData = errors.New("topic calibration: no samples")

// FitTopicCalibration fits, for each topic, the logistic regression over fit.Features that
// minimises the weighted log loss of Present, and chooses the topic's threshold as the one that
// maximises the weighted F1 of present on the same samples. Pass samples of documents the model
// did not train on. The result is deterministic.
func FitTopicCalibration(samples []TopicSample, topics []string, fit TopicFit) (classifier.TopicCalibration, error) {
	if len(samples) == 0 {
		return classifier.TopicCalibration{}, ErrNoTopicData
	}
	for i, s := range samples {
		if len(s.Features) != len(topics) || len(s.Present) != len(topics) {
			return classifier.TopicCalibration{}, fmt.Errorf("topic calibration: sample %d has %d features and %d flags for %d topics", i, len(s.Features), len(s.Present), len(topics))
		}
	}
	c := classifier.TopicCalibration{Window: fit.Window, Temperature: fit.Temperature}
	for j, t := range topics {
		x := make([][]float64, len(samples))
		y := make([]bool, len(samples))
		w := make([]float64, len(samples))
		for i, s := range samples {
			x[i] = make([]float64, len(fit.Features))
			for f, feat := range fit.Features {
				x[i][f] = s.Features[j][feat]
			}
			y[i], w[i] = s.Present[j], s.Weight
			if w[i] == 0 {
				w[i] = 1
			}
		}
		theta, err := fitLogistic(x, y, w)
		if err != nil {
			return classifier.TopicCalibration{}, fmt.Errorf("topic %q: %w", t, err)
		}
		weights := make([]float64, 1+int(classifier.NumTopicFeatures))
		weights[0] = theta[0]
		for f, feat := range fit.Features {
			weights[1+int(feat)] = theta[1+f]
		}
		tf := classifier.TopicFit{Topic: t, Weights: weights}
		p := make([]float64, len(samples))
		for i := range samples {
			z := theta[0]
			for f := range fit.Features {
				z += theta[1+f] * x[i][f]
			}
			p[i] = 1 / (1 + math.Exp(-z))
		}
		tf.Threshold = bestThreshold(p, y, w)
		c.Topics = append(c.Topics, tf)
	}
	return c, nil
}

// fitLogistic fits intercept and weights of a weighted logistic regression by Newton's method
// with a small ridge, which keeps separable data finite.
func fitLogistic(x [][]float64, y []bool, w []float64) ([]float64, error) {
	d := 1
	if len(x) > 0 {
		d += len(x[0])
	}
	var total float64
	for _, v := range w {
		total += v
	}
	ridge := 1e-3 * total / float64(len(w))
	theta := make([]float64, d)
	xx := make([]float64, d)
	for range 100 {
		g := make([]float64, d)
		h := make([][]float64, d)
		for i := range h {
			h[i] = make([]float64, d)
			h[i][i] = ridge
			g[i] = ridge * theta[i]
		}
		for n := range x {
			xx[0] = 1
			copy(xx[1:], x[n])
			var z float64
			for i := range xx {
				z += theta[i] * xx[i]
			}
			p := 1 / (1 + math.Exp(-z))
			t := 0.0
			if y[n] {
				t = 1
			}
			for i := range xx {
				g[i] += w[n] * (p - t) * xx[i]
				for j := range xx {
					h[i][j] += w[n] * p * (1 - p) * xx[i] * xx[j]
				}
			}
		}
		step, ok := solve(h, g)
		if !ok {
			return nil, errors.New("singular regression")
		}
		var size float64
		for i := range theta {
			theta[i] -= step[i]
			size = math.Max(size, math.Abs(step[i]))
		}
		if size < 1e-9 {
			break
		}
	}
	for _, v := range theta {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("regression did not converge")
		}
	}
	return theta, nil
}

// bestThreshold returns the threshold in [0.05, 0.95], in steps of 0.01, with the highest
// weighted F1 of p >= threshold against y; the lowest of equals.
func bestThreshold(p []float64, y []bool, w []float64) float64 {
	best, bestF := 0.5, -1.0
	for i := 5; i <= 95; i++ {
		th := float64(i) / 100
		var tp, fp, fn float64
		for n := range p {
			switch pr := p[n] >= th; {
			case pr && y[n]:
				tp += w[n]
			case pr:
				fp += w[n]
			case y[n]:
				fn += w[n]
			}
		}
		if f := 2 * tp / math.Max(2*tp+fp+fn, 1e-300); f > bestF+1e-12 {
			best, bestF = th, f
		}
	}
	return best
}
