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

func TestParseTopicFeatures(t *testing.T) {
	got, err := ParseTopicFeatures("share+wins+peak")
	if err != nil || !slices.Equal(got, []classifier.TopicFeature{classifier.FeatureShare, classifier.FeatureWins, classifier.FeaturePeak}) {
		t.Errorf("ParseTopicFeatures = %v, %v", got, err)
	}
	if got, err := ParseTopicFeatures("none"); err != nil || got != nil {
		t.Errorf("none = %v, %v", got, err)
	}
	for _, bad := range []string{"", "share+share", "shares", "share+"} {
		if _, err := ParseTopicFeatures(bad); err == nil {
			t.Errorf("ParseTopicFeatures(%q): want an error", bad)
		}
	}
}

func TestMixedDocuments(t *testing.T) {
	var exs []Example
	for i := range 30 {
		for _, l := range []string{"a", "b", "o"} {
			exs = append(exs, Example{ID: fmt.Sprint(l, i), Label: l, Text: fmt.Sprintf("%s%d first. %s%d second. %s%d third.", l, i, l, i, l, i)})
		}
	}
	// A row about two topics is never used: its text would carry a topic the article is not
	// labelled with.
	exs = append(exs, Example{ID: "ab", Label: "a", Topics: []string{"a", "b"}, Text: "ab0 both."})
	docs := MixedDocuments(exs, []string{"a", "b", "o"}, "o", 200, 7)
	if len(docs) != 200 {
		t.Fatalf("%d documents, want 200", len(docs))
	}
	if again := MixedDocuments(exs, []string{"a", "b", "o"}, "o", 200, 7); !reflect.DeepEqual(docs, again) {
		t.Error("MixedDocuments is not deterministic")
	}
	sets := map[string]int{}
	for _, d := range docs {
		sets[strings.Join(d.Topics, "+")]++
		if d.Topics == nil || strings.Contains(d.Text, "ab0") {
			t.Fatalf("document %+v", d)
		}
		for _, topic := range []string{"a", "b"} {
			// Whole rows of a topic (three sentences) appear only in articles about it; an
			// article not about it holds at most two sentences of a row.
			paragraphs := 0
			for _, p := range strings.Split(d.Text, "\n\n") {
				if strings.HasPrefix(p, topic) && strings.Contains(p, "third.") {
					paragraphs++
				}
			}
			if about := slices.Contains(d.Topics, topic); about != (paragraphs >= 2) {
				t.Errorf("document %s about %v has %d whole rows of %s", d.ID, d.Topics, paragraphs, topic)
			}
		}
	}
	for _, set := range []string{"", "a", "b", "a+b"} {
		if sets[set] < 20 {
			t.Errorf("topic sets %v: want every combination often", sets)
		}
	}
}

func TestFitTopicCalibration(t *testing.T) {
	// One topic present exactly when its share feature is above 0; the other never.
	var samples []TopicSample
	for i := range 200 {
		x := float64(i%40-20) / 4
		var f [classifier.NumTopicFeatures]float64
		f[classifier.FeatureShare] = x
		present := x+0.3*math.Sin(float64(i)) > 0
		samples = append(samples, TopicSample{Features: [][classifier.NumTopicFeatures]float64{f, f}, Present: []bool{present, false}})
	}
	c, err := FitTopicCalibration(samples, []string{"a", "b"}, TopicFit{Window: 7, Features: []classifier.TopicFeature{classifier.FeatureShare}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != 7 || len(c.Topics) != 2 || c.Topics[0].Topic != "a" {
		t.Fatalf("calibration %+v", c)
	}
	w := c.Topics[0].Weights
	for i, v := range w {
		if i != 0 && i != 1+int(classifier.FeatureShare) && v != 0 {
			t.Errorf("weight %d = %v for a feature not fitted", i, v)
		}
	}
	if w[1+int(classifier.FeatureShare)] < 1 {
		t.Errorf("share weight %v, want a steep positive slope", w[1+int(classifier.FeatureShare)])
	}
	if th := c.Topics[0].Threshold; th < 0.05 || th > 0.95 {
		t.Errorf("threshold %v", th)
	}
	if _, err := FitTopicCalibration(nil, []string{"a"}, TopicFit{}); err != ErrNoTopicData {
		t.Errorf("no samples: %v", err)
	}
	if _, err := FitTopicCalibration(samples, []string{"a"}, TopicFit{}); err == nil {
		t.Error("samples of two topics for one: want an error")
	}
}

func TestEvaluateTopics(t *testing.T) {
	preds := []TopicPrediction{
		{True: []bool{true, false}, Probability: []float64{0.9, 0.2}, Present: []bool{true, false}},  // exact
		{True: []bool{true, true}, Probability: []float64{0.8, 0.3}, Present: []bool{true, false}},   // misses b
		{True: []bool{false, false}, Probability: []float64{0.6, 0.1}, Present: []bool{true, false}}, // extra a
		{True: []bool{false, true}, Probability: []float64{0.05, 0.95}, Present: []bool{false, true}},
	}
	r, err := EvaluateTopics([]string{"a", "b"}, preds)
	if err != nil {
		t.Fatal(err)
	}
	// a: tp 2, fp 1, fn 0; b: tp 1, fp 0, fn 1.
	a, b := r.Topics[0], r.Topics[1]
	if a.Precision != 2.0/3 || a.Recall != 1 || b.Precision != 1 || b.Recall != 0.5 || a.Support != 2 || b.Support != 2 {
		t.Errorf("topics %+v %+v", a, b)
	}
	if math.Abs(r.MacroF1-(0.8+2.0/3)/2) > 1e-12 || r.ExactMatch != 0.5 || r.HammingLoss != 2.0/8 {
		t.Errorf("report %+v", r)
	}
	// Three documents are about at most one topic; one of them got an extra topic.
	if r.SingleTopic != 3 || math.Abs(r.ExtraTopic-1.0/3) > 1e-12 {
		t.Errorf("single %d extra %v", r.SingleTopic, r.ExtraTopic)
	}
	// a's bins: 0.0-0.1 (0.05, no), 0.6-0.7 (0.6, no), 0.8-0.9 (0.8, yes), 0.9-1.0 (0.9, yes).
	wantECE := (0.05 + 0.6 + 0.2 + 0.1) / 4
	if math.Abs(a.ECE-wantECE) > 1e-12 || math.Abs(r.MaxECE-max(a.ECE, b.ECE)) > 1e-12 {
		t.Errorf("ECE %v, want %v", a.ECE, wantECE)
	}
	if _, err := EvaluateTopics([]string{"a"}, preds); err == nil {
		t.Error("predictions of two topics for one: want an error")
	}
}
