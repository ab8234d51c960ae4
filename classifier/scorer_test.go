package classifier

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
)

// tinyExamples is the hand-computed example: vocabulary {cat, dog, fish}.
//
//	label a: "cat cat dog"  counts cat 2, dog 1, fish 0; N(a) = 3
//	label b: "dog fish"     counts cat 0, dog 1, fish 1; N(b) = 2
//	label c: "fish"         counts cat 0, dog 0, fish 1; N(c) = 1
var tinyExamples = []testDoc{
	{ID: "1", Label: "a", Text: "cat cat dog"},
	{ID: "2", Label: "b", Text: "Dog, fish."},
	{ID: "3", Label: "c", Text: "fish"},
}

func trainTiny(t testing.TB, s ScoringConfig) *Model {
	t.Helper()
	m, err := newTestModel(tinyExamples, Parts{Labels: []string{"a", "b", "c"}, Fallback: "c", Scoring: s})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLogScoresHandComputed(t *testing.T) {
	ln := math.Log
	third := ln(1.0 / 3)
	tests := []struct {
		name    string
		scoring ScoringConfig
		text    string
		want    []float64
	}{
		{
			// P(t|c) = (n(t,c)+1) / (N(c)+3); learned priors 1/3 each.
			"multinomial one word", ScoringConfig{}, "cat",
			[]float64{third + ln(3.0/6), third + ln(1.0/5), third + ln(1.0/4)},
		},
		{
			"multinomial repeated words", ScoringConfig{}, "dog fish dog",
			[]float64{third + 2*ln(2.0/6) + ln(1.0/6), third + 2*ln(2.0/5) + ln(2.0/5), third + 2*ln(1.0/4) + ln(2.0/4)},
		},
		{
			// P(t|c) = (n(t,c)+0.5) / (N(c)+1.5), uniform priors.
			"alpha and uniform priors", ScoringConfig{Alpha: 0.5, Priors: PriorsUniform}, "fish",
			[]float64{third + ln(0.5/4.5), third + ln(1.5/3.5), third + ln(1.5/2.5)},
		},
		{
			// Complement counts of cat: not-a (0, N 3), not-b (2, N 4), not-c (2, N 5);
			// weight = -log((ñ+1)/(Ñ+3)).
			"complement", ScoringConfig{Variant: Complement, Priors: PriorsUniform}, "cat",
			[]float64{third + ln(6.0/1), third + ln(7.0/3), third + ln(8.0/3)},
		},
		{
			// Label a weighs 2: counts cat 4, dog 2, N(a) 6; 2 of 4 weighted documents.
			"label weights", ScoringConfig{LabelWeights: map[string]float64{"a": 2}}, "cat",
			[]float64{ln(2.0/4) + ln(5.0/9), ln(1.0/4) + ln(1.0/5), ln(1.0/4) + ln(1.0/4)},
		},
		{
			// N = (3, 2, 1) rescaled to 2 each: a's counts times 2/3, c's times 2.
			"balanced", ScoringConfig{Priors: PriorsBalanced}, "cat",
			[]float64{third + ln((7.0/3)/5), third + ln(1.0/5), third + ln(1.0/5)},
		},
		{"unknown words score the priors", ScoringConfig{}, "zebra", []float64{third, third, third}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := trainTiny(t, tt.scoring)
			got, _ := m.LogScores(nil, "", tt.text)
			for i := range tt.want {
				// Weights are stored as float32.
				if math.Abs(got[i]-tt.want[i]) > 1e-5 {
					t.Fatalf("LogScores(%q) = %v, want %v", tt.text, got, tt.want)
				}
			}
		})
	}
}

func TestClassifyConfidences(t *testing.T) {
	m := trainTiny(t, ScoringConfig{})
	// Softmax of the multinomial scores of "cat": proportional to 3/6, 1/5, 1/4.
	r, err := m.Classify("", "cat", Options{})
	if err != nil {
		t.Fatal(err)
	}
	z := 0.5 + 0.2 + 0.25
	want := []LabelScore{{"a", 0.5 / z}, {"c", 0.25 / z}, {"b", 0.2 / z}}
	for i, s := range r.Scores {
		if s.Label != want[i].Label || math.Abs(s.Confidence-want[i].Confidence) > 1e-6 {
			t.Fatalf(`Classify("cat").Scores = %v, want %v`, r.Scores, want)
		}
	}
	if r.Label != "a" || r.Confidence != r.Scores[0].Confidence {
		t.Errorf(`Classify("cat") = %s %v, want a %v`, r.Label, r.Confidence, r.Scores[0].Confidence)
	}
	// A temperature of 2 takes the square root of each ratio before normalising.
	mt, err := m.WithCalibration(Calibration{Temperature: 2})
	if err != nil {
		t.Fatal(err)
	}
	r, _ = mt.Classify("", "cat", Options{})
	z = math.Sqrt(0.5) + math.Sqrt(0.2) + math.Sqrt(0.25)
	if got := r.Scores[0].Confidence; math.Abs(got-math.Sqrt(0.5)/z) > 1e-6 {
		t.Errorf(`Classify("cat") at T=2 = %v, want %v`, got, math.Sqrt(0.5)/z)
	}
}

func TestConfidencesFiniteAnyLength(t *testing.T) {
	m := trainTiny(t, ScoringConfig{Variant: Complement})
	huge := strings.Repeat("cat dog fish, the CAT again. ", 4<<20/29)
	for _, text := range []string{"cat", "zebra", huge} {
		for _, cal := range []Calibration{{}, {Temperature: 3, LengthSlope: 0.5}, {Temperature: 0.4, LengthPower: 0.6, Bias: []float64{0.3, 0, -0.3}}, {Bias: []float64{}}, {Bias: []float64{50, 0, -50}}} {
			mc, err := m.WithCalibration(cal)
			if err != nil {
				t.Fatal(err)
			}
			r, err := mc.Classify("", text, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			for _, s := range r.Scores {
				if math.IsNaN(s.Confidence) || s.Confidence < 0 || s.Confidence > 1 {
					t.Fatalf("Classify(%d bytes) confidence %v outside [0, 1]", len(text), s.Confidence)
				}
				sum += s.Confidence
			}
			if math.Abs(sum-1) > 1e-9 || len(r.Scores) != 3 {
				t.Errorf("Classify(%d bytes): %d confidences summing to %v, want 3 summing to 1", len(text), len(r.Scores), sum)
			}
		}
	}
}

func TestClassifyOptionsAndErrors(t *testing.T) {
	m := trainTiny(t, ScoringConfig{})
	tests := []struct {
		name  string
		title string
		text  string
		opts  Options
		err   error
	}{
		{"empty", "", "", Options{}, ErrEmptyDocument},
		{"white space", " \n", "\t\u00a0 ", Options{}, ErrEmptyDocument},
		{"invalid utf-8 text", "", "cat\xff", Options{}, ErrInvalidUTF8},
		{"invalid utf-8 title", "\xfe", "cat", Options{}, ErrInvalidUTF8},
		{"negative top_k", "", "cat", Options{TopK: -1}, ErrInvalidOptions},
		{"min_confidence above 1", "", "cat", Options{MinConfidence: 1.5}, ErrInvalidOptions},
		{"min_confidence NaN", "", "cat", Options{MinConfidence: math.NaN()}, ErrInvalidOptions},
		{"too many explain terms", "", "cat", Options{ExplainTerms: MaxExplainTerms + 1}, ErrInvalidOptions},
		{"title only is a document", "cat", "", Options{}, nil},
		{"no known word is a document", "", "!!!", Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Classify(tt.title, tt.text, tt.opts)
			if !errors.Is(err, tt.err) {
				t.Errorf("Classify(%q, %q, %+v) error = %v, want %v", tt.title, tt.text, tt.opts, err, tt.err)
			}
		})
	}

	r, err := m.Classify("", "cat", Options{TopK: 2, MinConfidence: 0.9, ExplainTerms: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scores) != 2 || !r.Abstained || r.Label != "c" || r.Confidence != r.Scores[0].Confidence {
		t.Errorf(`Classify("cat", top 2, min 0.9) = %+v, want 2 scores, abstained with label c`, r)
	}
	if len(r.Explanations) != 2 || r.Explanations[0].Label != "a" {
		t.Fatalf("Explanations = %+v, want one per returned label, a first", r.Explanations)
	}
	if terms := r.Explanations[0].Terms; len(terms) != 1 || terms[0].Term != "cat" || !(terms[0].Weight > 0) {
		t.Errorf("Explanations[a] = %+v, want cat with a positive weight", terms)
	}
}

func TestExplainOrder(t *testing.T) {
	m := trainTiny(t, ScoringConfig{})
	r, err := m.Classify("", "cat cat dog fish", Options{ExplainTerms: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range r.Explanations {
		if len(e.Terms) > 1 {
			t.Errorf("Explanation %s has %d terms, want at most 1", e.Label, len(e.Terms))
		}
		if e.Label == "a" && (len(e.Terms) == 0 || e.Terms[0].Term != "cat") {
			t.Errorf("Explanation a = %+v, want cat first", e.Terms)
		}
		if e.Label == "c" && (len(e.Terms) == 0 || e.Terms[0].Term != "fish") {
			t.Errorf("Explanation c = %+v, want fish first", e.Terms)
		}
	}
}

func TestClassifyConcurrent(t *testing.T) {
	m := trainTiny(t, ScoringConfig{Variant: Complement})
	texts := make([]string, 16)
	want := make([]Result, len(texts))
	for i := range texts {
		texts[i] = strings.Repeat(fmt.Sprintf("cat %d dog FISH. ", i), i+1) + strings.Repeat("fish ", i)
		var err error
		if want[i], err = m.Classify("", texts[i], Options{ExplainTerms: 3}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for n := 0; n < 200; n++ {
				i := (g + n) % len(texts)
				got, err := m.Classify("", texts[i], Options{ExplainTerms: 3})
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want[i]) {
					errs <- fmt.Sprintf("concurrent Classify(%q) = %v, %v, want %v", texts[i], got, err, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestClassifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	text := strings.Repeat("Hackers breached the ministry's servers. Über-Angriff auf Behörden! ", 100)
	for _, cfg := range []TokenizerConfig{{DropStopWords: true}, {Bigrams: true}} {
		m, err := newTestModel(tinyExamples, Parts{Labels: []string{"a", "b", "c"}, Fallback: "c", Tokenizer: cfg})
		if err != nil {
			t.Fatal(err)
		}
		withTopics, err := m.WithTopicCalibration(testTopicCalibration(m, 5))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*Model{m, withTopics} {
			allocs := testing.AllocsPerRun(20, func() {
				if _, err := m.Classify("Title", text, Options{}); err != nil {
					t.Fatal(err)
				}
			})
			// The two allocations are Result.Scores and Result.Topics.
			if allocs > 2 {
				t.Errorf("Classify with %+v, topic window %d, allocated %v times per document, want 2", cfg, m.topics.Window, allocs)
			}
		}
	}
}

func TestInvTemperatureCache(t *testing.T) {
	m := trainTiny(t, ScoringConfig{Variant: Complement})
	for _, cal := range []Calibration{{}, {Temperature: 3, LengthSlope: 0.5}, {Temperature: 0.5, LengthPower: 0.53}} {
		mc, err := m.WithCalibration(cal)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 10, 255, 256, 10000} {
			if got, want := mc.invTemperature(n), 1/cal.TemperatureFor(n); got != want {
				t.Errorf("%+v: invTemperature(%d) = %v, want 1/TemperatureFor = %v", cal, n, got, want)
			}
		}
	}
}

func confidences(t *testing.T, m *Model, text string, opts Options) map[string]float64 {
	t.Helper()
	r, err := m.Classify("", text, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, s := range r.Scores {
		out[s.Label] = s.Confidence
	}
	return out
}

func TestLabelMix(t *testing.T) {
	base := trainTiny(t, ScoringConfig{Variant: Complement})
	m, err := base.WithCalibration(Calibration{Temperature: 2, Bias: []float64{0.2, -0.1, 0}, Mix: []float64{0.5, 0.3, 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	const text = "cat dog fish"
	plain := confidences(t, m, text, Options{})

	t.Run("the assumed mix changes nothing", func(t *testing.T) {
		got := confidences(t, m, text, Options{LabelMix: m.LabelMix()})
		for l, p := range plain {
			if math.Abs(got[l]-p) > 1e-12 {
				t.Errorf("confidence of %s = %v with the model's own mix, want %v", l, got[l], p)
			}
		}
	})
	t.Run("Bayes rule for new priors", func(t *testing.T) {
		mix := map[string]float64{"a": 0.1, "b": 0.1, "c": 0.8}
		got := confidences(t, m, text, Options{LabelMix: mix})
		old := m.LabelMix()
		var z float64
		for l, p := range plain {
			z += p * mix[l] / old[l]
		}
		for l, p := range plain {
			if want := p * mix[l] / old[l] / z; math.Abs(got[l]-want) > 1e-9 {
				t.Errorf("confidence of %s = %v, want %v", l, got[l], want)
			}
		}
	})
	t.Run("prepared options", func(t *testing.T) {
		mix := map[string]float64{"a": 0.2, "c": 0.5}
		want := confidences(t, m, text, Options{LabelMix: mix})
		prepared, err := m.PrepareOptions(Options{LabelMix: mix})
		if err != nil {
			t.Fatal(err)
		}
		other, err := m.WithCalibration(Calibration{Temperature: 2, Mix: []float64{0.2, 0.2, 0.6}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			m    *Model
			want map[string]float64
		}{
			{"same model", m, want},
			// Prepared for m, so other must work the mix out for itself.
			{"another model", other, confidences(t, other, text, Options{LabelMix: mix})},
		} {
			got := confidences(t, tt.m, text, prepared)
			for l := range tt.want {
				if math.Abs(got[l]-tt.want[l]) > 1e-12 {
					t.Errorf("%s: confidence of %s = %v with prepared options, want %v", tt.name, l, got[l], tt.want[l])
				}
			}
		}
	})
	t.Run("unlisted labels keep their proportions", func(t *testing.T) {
		got := confidences(t, m, text, Options{LabelMix: map[string]float64{"a": 0.9}})
		if got["a"] <= plain["a"] {
			t.Errorf("confidence of a = %v with share 0.9, want more than %v (assumed share 0.5)", got["a"], plain["a"])
		}
		if g, w := got["b"]/got["c"], plain["b"]/plain["c"]; math.Abs(g-w) > 1e-9*w {
			t.Errorf("b/c confidence ratio = %v, want it unchanged at %v", g, w)
		}
	})
	t.Run("rounded shares of every label", func(t *testing.T) {
		got := confidences(t, m, text, Options{LabelMix: map[string]float64{"a": 0.33, "b": 0.33, "c": 0.33}})
		even := confidences(t, m, text, Options{LabelMix: map[string]float64{"a": 1.0 / 3, "b": 1.0 / 3, "c": 1.0 / 3}})
		for l := range even {
			if math.Abs(got[l]-even[l]) > 1e-12 {
				t.Errorf("confidence of %s = %v with 0.33 each, want %v as with 1/3 each", l, got[l], even[l])
			}
		}
	})
	t.Run("invalid mixes", func(t *testing.T) {
		for _, mix := range []map[string]float64{
			{"zebra": 0.5},
			{"a": 0},
			{"a": 1},
			{"a": -0.2},
			{"a": math.NaN()},
			{"a": 0.6, "b": 0.5},
			{"a": 0.5, "b": 0.3, "c": 0.1},
		} {
			if _, err := m.Classify("", text, Options{LabelMix: mix}); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Classify with label mix %v: error %v, want ErrInvalidOptions", mix, err)
			}
			if _, err := m.PrepareOptions(Options{LabelMix: mix}); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("PrepareOptions(label mix %v) = %v, want ErrInvalidOptions", mix, err)
			}
		}
	})
	t.Run("without a recorded mix, the training mix", func(t *testing.T) {
		// Each of the three labels has one training document.
		for l, p := range base.LabelMix() {
			if math.Abs(p-1.0/3) > 1e-12 {
				t.Errorf("LabelMix()[%s] = %v, want 1/3", l, p)
			}
		}
	})
}
