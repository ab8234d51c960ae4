package classifier

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Topics: besides one label per document, a model says for every topic label (every label but
// the fallback) how likely the document is to be substantially about it, each topic on its own:
// an article about a hack that exposed migration talks is about both, and the probabilities do not
// sum to 1.
//
// While the scorer sums the document's term weights it also cuts the document into passages of
// TopicCalibration.Window known terms and scores each passage on its own with the label
// calibration. From those passage confidences and the document's own confidence it reads a few
// features per topic (see TopicFeature) and a logistic regression per topic, fitted on held-out
// data and stored in the model file, turns them into a probability. A topic is present when its
// probability reaches its threshold, chosen on validation and stored with it; a request may set
// its own (Options.TopicThreshold).

// TopicFeature names one input of a topic's logistic regression; TopicFit.Weights holds an
// intercept and then one weight per feature, in this order.
type TopicFeature int

const (
	// FeatureConfidence is the logit of the document's label confidence for the topic, under
	// the model's own calibration (never a request's label mix).
	FeatureConfidence TopicFeature = iota
	// FeatureShare is the logit of the passages' mean confidence for the topic, each passage
	// weighted by its known terms: the share of the text the topic holds, read softly.
	FeatureShare
	// FeatureWins is the logit of the share of known terms in passages where the topic has the
	// highest confidence, squeezed into [0.01, 0.99]: the share of the text the topic wins.
	FeatureWins
	// FeaturePeak is the logit of the highest confidence any one passage gives the topic.
	FeaturePeak
	// FeatureLength is ln(1 + known terms).
	FeatureLength
	// FeaturePair is the logit of the passages' mean confidence for the topic against the
	// fallback label alone, c_t / (c_t + c_fallback), each passage weighted by its known terms:
	// unlike the others it does not drop when a second topic holds the same passage, as a hack
	// of a refugee database is both.
	FeaturePair
	// FeaturePairPeak is the logit of the highest such pair confidence any one passage gives.
	FeaturePairPeak
	// NumTopicFeatures is the number of features.
	NumTopicFeatures
)

// topicFeatureNames are the features' names, for reports.
var topicFeatureNames = [NumTopicFeatures]string{"confidence", "share", "wins", "peak", "length", "pair", "pairpeak"}

// minTopicWeights is the fewest weights a TopicFit may hold: the intercept and the first five
// features, as model files before the pair features hold; the missing weights are 0.
const minTopicWeights = 1 + int(FeatureLength) + 1

// String returns the feature's name.
func (f TopicFeature) String() string {
	if f >= 0 && f < NumTopicFeatures {
		return topicFeatureNames[f]
	}
	return fmt.Sprintf("TopicFeature(%d)", int(f))
}

// TopicCalibration turns a document's passage and label confidences into per-topic
// probabilities. The zero value (no Topics) makes a topic's probability its label confidence,
// present at 0.5: what a model without a fitted topic calibration serves.
type TopicCalibration struct {
	// Window is the length of a passage in known terms; the last passage of a document may be
	// shorter. Between 1 and MaxTopicWindow when Topics is set.
	Window int `json:"window,omitempty"`
	// Temperature multiplies the label calibration's temperature when passages are scored; 0
	// means 1. Above 1 it softens passage confidences, so a passage about two topics gives the
	// second a share instead of nearly nothing. Range [0, 1000].
	Temperature float64 `json:"temperature,omitempty"`
	// Topics holds one fit per topic label (every label but the fallback), in model label order.
	Topics []TopicFit `json:"topics,omitempty"`
}

// TopicFit is one topic's logistic regression and threshold.
type TopicFit struct {
	Topic string `json:"topic"`
	// Weights are the intercept, then one weight per TopicFeature in order:
	// probability = 1 / (1 + exp(-(w0 + sum_i w_(i+1) x_i))).
	Weights []float64 `json:"weights"`
	// Threshold is the probability at which the topic is present, in (0, 1).
	Threshold float64 `json:"threshold"`
}

// MaxTopicWindow bounds TopicCalibration.Window.
const MaxTopicWindow = 1 << 16

// defaultTopicThreshold is the threshold of a model without a topic calibration.
const defaultTopicThreshold = 0.5

// logitClip keeps a feature's logit finite.
const logitClip = 1e-4

func (c TopicCalibration) clone() TopicCalibration {
	c.Topics = slices.Clone(c.Topics)
	for i := range c.Topics {
		c.Topics[i].Weights = slices.Clone(c.Topics[i].Weights)
	}
	return c
}

// validate checks c against the model's labels.
func (c TopicCalibration) validate(labels []string, fallback int) error {
	if len(c.Topics) == 0 {
		if c.Window != 0 {
			return errors.New("topic calibration has a window but no topics")
		}
		return nil
	}
	if c.Window < 1 || c.Window > MaxTopicWindow {
		return fmt.Errorf("topic window %d out of range [1, %d]", c.Window, MaxTopicWindow)
	}
	if !(c.Temperature >= 0 && c.Temperature <= 1000) {
		return fmt.Errorf("topic passage temperature %v out of range [0, 1000]", c.Temperature)
	}
	if len(c.Topics) != len(labels)-1 {
		return fmt.Errorf("topic calibration has %d topics for %d topic labels", len(c.Topics), len(labels)-1)
	}
	j := 0
	for l, label := range labels {
		if l == fallback {
			continue
		}
		t := c.Topics[j]
		j++
		if t.Topic != label {
			return fmt.Errorf("topic calibration lists %q where label %q belongs", t.Topic, label)
		}
		if len(t.Weights) < minTopicWeights || len(t.Weights) > 1+int(NumTopicFeatures) {
			return fmt.Errorf("topic %q has %d weights, want %d to %d", t.Topic, len(t.Weights), minTopicWeights, 1+int(NumTopicFeatures))
		}
		for _, w := range t.Weights {
			if !(math.Abs(w) <= maxCalibration) {
				return fmt.Errorf("topic %q: weight %v out of range", t.Topic, w)
			}
		}
		if !(t.Threshold > 0 && t.Threshold < 1) {
			return fmt.Errorf("topic %q: threshold %v out of range (0, 1)", t.Topic, t.Threshold)
		}
	}
	return nil
}

// TopicScore is one topic's probability for a document.
type TopicScore struct {
	Topic       string
	Probability float64
	Present     bool    // Probability >= Threshold
	Threshold   float64 // the request's Options.TopicThreshold, or the model's for this topic
	// Evidence, with Options.ExplainTerms > 0 and for a present topic only: the passage of the
	// text that supports the topic most. Nil otherwise, or when no passage has a known term.
	Evidence *Passage
}

// Passage is a span of a document's text.
type Passage struct {
	Start, End int    // byte offsets into the text: Text == text[Start:End]
	Text       string // the passage
	Score      float64
	// Score is the topic's confidence for the passage read alone, under the label calibration.
}

// TopicCalibration returns the model's topic calibration.
func (m *Model) TopicCalibration() TopicCalibration { return m.topics.clone() }

// Topics returns the model's topic labels (every label but the fallback) in model order.
func (m *Model) Topics() []string {
	out := make([]string, 0, len(m.labels)-1)
	for c, l := range m.labels {
		if c != m.fallback {
			out = append(out, l)
		}
	}
	return out
}

// TopicThresholds returns each topic's threshold for present.
func (m *Model) TopicThresholds() map[string]float64 {
	out := make(map[string]float64, len(m.labels)-1)
	for j, t := range m.Topics() {
		out[t] = defaultTopicThreshold
		if len(m.topics.Topics) > 0 {
			out[t] = m.topics.Topics[j].Threshold
		}
	}
	return out
}

// WithTopicCalibration returns a copy of m that applies c. It fails, wrapping ErrInvalidModel,
// when c does not fit the model's labels or is out of range.
func (m *Model) WithTopicCalibration(c TopicCalibration) (*Model, error) {
	n := m.shallow()
	n.topics = c.clone()
	return n.finish()
}

// passages accumulates a document's passage confidences while the scorer sums its terms. Its
// arrays hold stackLabels labels, so it lives on the caller's stack; a model of more labels
// scores no passages (its topic features fall back on the document's confidence).
type passages struct {
	window int     // known terms per passage
	inv    float64 // multiplies the label calibration's 1/T for passages
	known  int     // known terms before the open passage
	start  [stackLabels]float64
	share  [stackLabels]float64 // sum over passages of known terms x confidence
	wins   [stackLabels]float64 // known terms of the passages each label wins
	peak   [stackLabels]float64
	pair   [stackLabels]float64 // sum over passages of known terms x confidence against the fallback
	pairPk [stackLabels]float64
	weight float64 // known terms in closed passages
}

// startPassages readies p for a document of model m; it returns nil when m scores no passages.
func (m *Model) startPassages(p *passages) *passages {
	if m.topics.Window == 0 || len(m.labels) > stackLabels {
		return nil
	}
	p.window = m.topics.Window
	p.inv = 1
	if t := m.topics.Temperature; t != 0 {
		p.inv = 1 / t
	}
	copy(p.start[:], m.priors)
	return p
}

// closePassage ends the open passage at known terms with running sums sums and scores it.
func (m *Model) closePassage(p *passages, sums []float64, known int) {
	n := known - p.known
	if n <= 0 {
		return
	}
	k := len(m.labels)
	var z [stackLabels]float64
	for c := range k {
		z[c] = sums[c] - p.start[c] + m.priors[c]
	}
	softmax(z[:k], z[:k], m.invTemperature(n)*p.inv, m.cal.Bias)
	best := 0
	w := float64(n)
	fb := z[m.fallback]
	for c := range k {
		p.share[c] += w * z[c]
		p.peak[c] = max(p.peak[c], z[c])
		pair := 0.5
		if d := z[c] + fb; d > 0 {
			pair = z[c] / d
		}
		p.pair[c] += w * pair
		p.pairPk[c] = max(p.pairPk[c], pair)
		if z[c] > z[best] {
			best = c
		}
	}
	p.wins[best] += w
	p.weight += w
	copy(p.start[:k], sums)
	p.known = known
}

func logit(p float64) float64 {
	p = min(max(p, logitClip), 1-logitClip)
	return math.Log(p / (1 - p))
}

// topicFeatures fills x with topic label c's features: conf holds the document's confidences
// under the model's calibration, p its passages (nil when none were scored).
//
// With weights (a TopicFit's) it computes only the features whose weight is not 0, and leaves
// the others 0: each costs a logarithm, a noticeable share of classifying a short document.
func topicFeatures(x *[NumTopicFeatures]float64, c, fallback int, conf []float64, p *passages, known int, weights []float64) {
	share, wins, peak := conf[c], 0.0, conf[c]
	pair := 0.5
	if d := conf[c] + conf[fallback]; d > 0 {
		pair = conf[c] / d
	}
	pairPeak := pair
	if p != nil && p.weight > 0 {
		share, wins, peak = p.share[c]/p.weight, p.wins[c]/p.weight, p.peak[c]
		pair, pairPeak = p.pair[c]/p.weight, p.pairPk[c]
	} else {
		best := 0
		for l := range conf {
			if conf[l] > conf[best] {
				best = l
			}
		}
		if best == c {
			wins = 1
		}
	}
	need := func(f TopicFeature) bool {
		return weights == nil || (1+int(f) < len(weights) && weights[1+int(f)] != 0)
	}
	if need(FeatureConfidence) {
		x[FeatureConfidence] = logit(conf[c])
	}
	if need(FeatureShare) {
		x[FeatureShare] = logit(share)
	}
	if need(FeatureWins) {
		x[FeatureWins] = logit(0.01 + 0.98*wins)
	}
	if need(FeaturePeak) {
		x[FeaturePeak] = logit(peak)
	}
	if need(FeatureLength) {
		x[FeatureLength] = math.Log1p(float64(known))
	}
	if need(FeaturePair) {
		x[FeaturePair] = logit(pair)
	}
	if need(FeaturePairPeak) {
		x[FeaturePairPeak] = logit(pairPeak)
	}
}

// TopicFeatures returns, for each topic label in model order, the features its logistic
// regression reads for the document (see TopicFeature), with passages of window known terms
// (0: the model's window), so a topic calibration can be fitted on held-out data.
func (m *Model) TopicFeatures(title, text string, window int) [][NumTopicFeatures]float64 {
	return m.TopicFeaturesAt(title, text, window, m.topics.Temperature)
}

// TopicFeaturesAt is TopicFeatures with passages scored at the given passage temperature (see
// TopicCalibration.Temperature) in place of the model's.
func (m *Model) TopicFeaturesAt(title, text string, window int, temperature float64) [][NumTopicFeatures]float64 {
	if window == 0 {
		window = m.topics.Window
	}
	n := *m
	n.topics.Window = window
	n.topics.Temperature = temperature
	var pa passages
	p := n.startPassages(&pa)
	raw, st, _ := n.logScores(nil, title, text, p)
	conf := n.cal.Apply(nil, raw, st.KnownTokens)
	out := make([][NumTopicFeatures]float64, 0, len(m.labels)-1)
	for c := range m.labels {
		if c == m.fallback {
			continue
		}
		var x [NumTopicFeatures]float64
		topicFeatures(&x, c, m.fallback, conf, p, st.KnownTokens, nil)
		out = append(out, x)
	}
	return out
}

// topicProbability is topic j's probability for features x.
func (m *Model) topicProbability(j int, x *[NumTopicFeatures]float64) float64 {
	w := m.topics.Topics[j].Weights
	z := w[0]
	for i, v := range w[1:] {
		z += v * x[i]
	}
	return 1 / (1 + math.Exp(-z))
}

// scoreTopics fills dst (one entry per topic, already allocated) from the document's confidences
// under the model's calibration and its passages, sorted by probability, high to low.
func (m *Model) scoreTopics(dst []TopicScore, conf []float64, p *passages, known int, threshold float64) {
	j := 0
	for c, l := range m.labels {
		if c == m.fallback {
			continue
		}
		ts := TopicScore{Topic: l, Probability: conf[c], Threshold: defaultTopicThreshold}
		if len(m.topics.Topics) > 0 {
			var x [NumTopicFeatures]float64
			topicFeatures(&x, c, m.fallback, conf, p, known, m.topics.Topics[j].Weights)
			ts.Probability = m.topicProbability(j, &x)
			ts.Threshold = m.topics.Topics[j].Threshold
		}
		if threshold > 0 {
			ts.Threshold = threshold
		}
		ts.Present = ts.Probability >= ts.Threshold
		dst[j] = ts
		j++
	}
	// Insertion sort: a handful of topics, and ties keep model order.
	for i := 1; i < len(dst); i++ {
		for k := i; k > 0 && dst[k].Probability > dst[k-1].Probability; k-- {
			dst[k], dst[k-1] = dst[k-1], dst[k]
		}
	}
}

// maxPassageBytes bounds an evidence passage: a longer sentence is cut at a space.
const maxPassageBytes = 600

// sentences calls fn with the byte span of each sentence of text: a sentence ends at a line
// break or after '.', '!' or '?' followed by white space, and is cut at a space when it runs
// past maxPassageBytes. Spans are trimmed of white space; empty ones are skipped.
func sentences(text string, fn func(start, end int)) {
	emit := func(s, e int) {
		for s < e && isSpaceByte(text[s]) {
			s++
		}
		for e > s && isSpaceByte(text[e-1]) {
			e--
		}
		if s < e {
			fn(s, e)
		}
	}
	start, lastSpace := 0, -1
	for i := 0; i < len(text); i++ {
		b := text[i]
		switch {
		case b == '\n':
			emit(start, i)
			start, lastSpace = i+1, -1
			continue
		case (b == '.' || b == '!' || b == '?') && i+1 < len(text) && isSpaceByte(text[i+1]):
			emit(start, i+1)
			start, lastSpace = i+1, -1
			continue
		case b == ' ' || b == '\t':
			lastSpace = i
		}
		if i-start >= maxPassageBytes && lastSpace > start {
			emit(start, lastSpace)
			start, lastSpace = lastSpace+1, -1
		}
	}
	emit(start, len(text))
}

func isSpaceByte(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// evidence sets the Evidence of every present topic in ts: the sentence of text whose own
// confidence for the topic, under the label calibration, is highest (the earliest of equals).
func (m *Model) evidence(ts []TopicScore, text string) {
	type best struct {
		start, end int
		score      float64
	}
	want := make(map[string]*best, len(ts))
	for _, t := range ts {
		if t.Present {
			want[t.Topic] = &best{start: -1}
		}
	}
	if len(want) == 0 {
		return
	}
	var raw, conf []float64
	sentences(text, func(s, e int) {
		var st Stats
		raw, st, _ = m.logScores(raw[:0], "", text[s:e], nil)
		if st.KnownTokens == 0 {
			return
		}
		conf = m.cal.Apply(conf, raw, st.KnownTokens)
		for c, l := range m.labels {
			if b := want[l]; b != nil && (b.start < 0 || conf[c] > b.score) {
				*b = best{s, e, conf[c]}
			}
		}
	})
	for i := range ts {
		if b := want[ts[i].Topic]; b != nil && b.start >= 0 {
			ts[i].Evidence = &Passage{Start: b.start, End: b.end, Text: text[b.start:b.end], Score: b.score}
		}
	}
}
