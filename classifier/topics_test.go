package classifier

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// testTopicCalibration is a topic calibration for m that uses every feature, so tests exercise
// the whole regression.
func testTopicCalibration(m *Model, window int) TopicCalibration {
	c := TopicCalibration{Window: window, Temperature: 3}
	for i, t := range m.Topics() {
		w := []float64{-1, 0.5, 1, 0.7, 0.3, 0.05, 0.4, 0.2}
		w[0] -= 0.1 * float64(i)
		c.Topics = append(c.Topics, TopicFit{Topic: t, Weights: w, Threshold: 0.4 + 0.1*float64(i)})
	}
	return c
}

func TestTopicsWithoutCalibration(t *testing.T) {
	m, err := newTestModel(tinyExamples, Parts{Labels: []string{"a", "b", "c"}, Fallback: "c"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Classify("", "alpha alpha beta words", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Topics) != 2 {
		t.Fatalf("topics %+v, want a and b", res.Topics)
	}
	// Without a topic calibration a topic's probability is its label confidence, present at 0.5.
	for _, ts := range res.Topics {
		i := slices.IndexFunc(res.Scores, func(s LabelScore) bool { return s.Label == ts.Topic })
		if ts.Probability != res.Scores[i].Confidence || ts.Threshold != 0.5 || ts.Present != (ts.Probability >= 0.5) {
			t.Errorf("topic %+v, label confidence %v", ts, res.Scores[i].Confidence)
		}
	}
	if res.Topics[0].Probability < res.Topics[1].Probability {
		t.Errorf("topics not sorted high to low: %+v", res.Topics)
	}
}

// TestTopicPassagesMatchReference checks the scorer's passages, cut inside its fast word loop,
// against passages scored one by one from the tokenizer's terms: every path (the four-label fast
// path, any number of labels, word pairs) and windows of every size give the same features.
func TestTopicPassagesMatchReference(t *testing.T) {
	text := strings.Repeat("Hackers breached the ministry's servers; refugees crossed the border. Über-Angriff auf Behörden! Envoys met for treaty talks and sanctions. ", 7)
	for _, labels := range [][]string{{"a", "b", "c"}, {"a", "b", "c", "d"}} {
		for _, cfg := range []TokenizerConfig{{DropStopWords: true}, {Bigrams: true}, {MinLength: 2, DropNumbers: true}} {
			base, err := newTestModel(tinyExamples4(labels), Parts{Labels: labels, Fallback: labels[len(labels)-1], Tokenizer: cfg})
			if err != nil {
				t.Fatal(err)
			}
			for _, window := range []int{1, 3, 7, 40, 1000} {
				m, err := base.WithTopicCalibration(testTopicCalibration(base, window))
				if err != nil {
					t.Fatal(err)
				}
				got := m.TopicFeatures("Title words here", text, 0)
				want := referenceTopicFeatures(m, "Title words here", text, window)
				for j := range got {
					for f := range got[j] {
						if math.Abs(got[j][f]-want[j][f]) > 1e-9 {
							t.Fatalf("labels %v, %+v, window %d: topic %d feature %v = %v, want %v", labels, cfg, window, j, TopicFeature(f), got[j][f], want[j][f])
						}
					}
				}
			}
		}
	}
}

// topicTexts are training texts with the words the topic tests score.
var topicTexts = []string{
	"hackers breached servers ransomware attack ministry",
	"refugees crossed the border asylum migrants",
	"envoys met treaty talks sanctions ministry",
	"football match won the cup title words",
	"über angriff auf behörden hackers servers",
	"border patrol refugees asylum title",
}

// tinyExamples4 spreads topicTexts round robin over labels.
func tinyExamples4(labels []string) []testDoc {
	var out []testDoc
	for i, text := range topicTexts {
		out = append(out, testDoc{ID: text, Label: labels[i%len(labels)], Text: text})
	}
	return out
}

// referenceTopicFeatures computes the topic features the slow way: the document's known terms
// from the tokenizer, cut into passages of window terms, each scored from the table's rows.
func referenceTopicFeatures(m *Model, title, text string, window int) [][NumTopicFeatures]float64 {
	var rows []int
	for _, s := range []string{title, text} {
		m.tokenizer.Tokenize(s, func(term []byte) {
			if r := m.tbl.lookup(term, makeKey(term)); r >= 0 {
				rows = append(rows, r)
			}
		})
	}
	k := len(m.labels)
	raw, st := m.LogScores(nil, title, text)
	conf := m.cal.Apply(nil, raw, st.KnownTokens)
	var p passages
	p.window, p.inv = window, 1/m.topics.Temperature
	sums := slices.Clone(m.priors)
	copy(p.start[:], sums)
	for i, r := range rows {
		for c, w := range m.tbl.row(r) {
			sums[c] += float64(w)
		}
		if (i+1)%window == 0 || i == len(rows)-1 {
			m.closePassage(&p, sums, i+1)
		}
	}
	var out [][NumTopicFeatures]float64
	for c := range k {
		if c == m.fallback {
			continue
		}
		var x [NumTopicFeatures]float64
		topicFeatures(&x, c, m.fallback, conf, &p, st.KnownTokens, nil)
		out = append(out, x)
	}
	return out
}

func TestTopicThresholdAndEvidence(t *testing.T) {
	m, err := newTestModel(tinyExamples4([]string{"a", "b", "c"}), Parts{Labels: []string{"a", "b", "c"}, Fallback: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = m.WithTopicCalibration(testTopicCalibration(m, 4)); err != nil {
		t.Fatal(err)
	}
	text := "Nothing here at all.\nHackers breached the servers. Refugees crossed the border! Trailing"
	res, err := m.Classify("", text, Options{TopicThreshold: 1e-9, ExplainTerms: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range res.Topics {
		if !ts.Present || ts.Threshold != 1e-9 {
			t.Errorf("topic %+v: want present at the request's threshold", ts)
		}
		e := ts.Evidence
		if e == nil || text[e.Start:e.End] != e.Text || strings.TrimSpace(e.Text) != e.Text || e.Text == "" {
			t.Fatalf("topic %s evidence %+v is not a span of the text", ts.Topic, e)
		}
	}
	res, err = m.Classify("", text, Options{TopicThreshold: 1, ExplainTerms: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range res.Topics {
		if ts.Present || ts.Evidence != nil {
			t.Errorf("topic %+v at threshold 1: want absent without evidence", ts)
		}
	}
	if _, err := m.Classify("", text, Options{TopicThreshold: 1.5}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("threshold 1.5: err %v, want ErrInvalidOptions", err)
	}
}

func TestSentences(t *testing.T) {
	var got []string
	text := "  First one. Second one!\n\nThird? no-break.here " + strings.Repeat("word ", 200)
	sentences(text, func(s, e int) { got = append(got, text[s:e]) })
	if got[0] != "First one." || got[1] != "Second one!" || got[2] != "Third?" || !strings.HasPrefix(got[3], "no-break.here word") {
		t.Fatalf("sentences %q", got)
	}
	for _, s := range got {
		if len(s) > maxPassageBytes {
			t.Errorf("sentence of %d bytes, want at most %d", len(s), maxPassageBytes)
		}
	}
}

func TestTopicCalibrationFile(t *testing.T) {
	m, err := newTestModel(tinyExamples, Parts{Labels: []string{"a", "b", "c"}, Fallback: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if m.formatVersion() != 1 {
		t.Fatalf("a model without topics writes version %d, want 1", m.formatVersion())
	}
	tm, err := m.WithTopicCalibration(testTopicCalibration(m, 9))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tm.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if back.formatVersion() != 3 || back.Version() != tm.Version() {
		t.Fatalf("reloaded version %d / %s, want 3 / %s", back.formatVersion(), back.Version(), tm.Version())
	}
	if got := back.Info().TopicThresholds; got["a"] != 0.4 || got["b"] != 0.5 || len(got) != 2 {
		t.Errorf("thresholds %v", got)
	}
	bad := []func(c *TopicCalibration){
		func(c *TopicCalibration) { c.Window = 0 },
		func(c *TopicCalibration) { c.Topics = c.Topics[:1] },
		func(c *TopicCalibration) { c.Topics[0].Topic = "c" },
		func(c *TopicCalibration) { c.Topics[1].Weights = c.Topics[1].Weights[:2] },
		func(c *TopicCalibration) { c.Topics[1].Weights = append(c.Topics[1].Weights, 1) },
		func(c *TopicCalibration) { c.Topics[0].Weights[3] = math.NaN() },
		func(c *TopicCalibration) { c.Topics[0].Threshold = 1 },
		func(c *TopicCalibration) { c.Topics = nil },
	}
	// Weights for the first five features only, as written before the pair features: the
	// missing weights are 0.
	short := testTopicCalibration(m, 9)
	for i := range short.Topics {
		short.Topics[i].Weights = short.Topics[i].Weights[:6]
	}
	if _, err := m.WithTopicCalibration(short); err != nil {
		t.Errorf("a calibration of five feature weights: %v", err)
	}
	for i, f := range bad {
		c := testTopicCalibration(m, 9)
		f(&c)
		if i == len(bad)-1 {
			continue // no topics at all is the valid zero value only without a window
		}
		if _, err := m.WithTopicCalibration(c); !errors.Is(err, ErrInvalidModel) {
			t.Errorf("bad calibration %d: err %v, want ErrInvalidModel", i, err)
		}
	}
}

// TestTopicsIgnoreLabelMixAndTopK: a request's label mix re-weights the label confidences, not
// the topics, which read the model's own calibration; top_k trims the labels, not the topics.
func TestTopicsIgnoreLabelMixAndTopK(t *testing.T) {
	m, err := newTestModel(tinyExamples4([]string{"a", "b", "c"}), Parts{Labels: []string{"a", "b", "c"}, Fallback: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = m.WithTopicCalibration(testTopicCalibration(m, 4)); err != nil {
		t.Fatal(err)
	}
	text := "Hackers breached the servers. Refugees crossed the border at night."
	plain, err := m.Classify("", text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mixed, err := m.Classify("", text, Options{LabelMix: map[string]float64{"a": 0.9}, TopK: 1})
	if err != nil {
		t.Fatal(err)
	}
	confA := func(r Result) float64 {
		for _, s := range r.Scores {
			if s.Label == "a" {
				return s.Confidence
			}
		}
		return -1
	}
	if len(mixed.Scores) != 1 || mixed.Scores[0].Label != "a" || !(confA(mixed) > confA(plain)) {
		t.Fatalf("label mix a=0.9 and top_k 1 gave %v (without: %v), want a alone and surer", mixed.Scores, plain.Scores)
	}
	if !reflect.DeepEqual(plain.Topics, mixed.Topics) {
		t.Errorf("topics with a label mix and top_k 1 %v, without %v", mixed.Topics, plain.Topics)
	}
}
