package training

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/topicd/topicd/classifier"
)

// synthetic draws samples whose true confidences are softmax(scores/trueT + trueBias): each
// sample's label is chosen by a deterministic low-discrepancy sequence against those
// probabilities, so the fit should recover trueT (and the biases) closely.
func synthetic(n int, truth classifier.Calibration) []CalibrationSample {
	trueBias := truth.Bias
	k := len(trueBias)
	var out []CalibrationSample
	u := 0.0
	for i := range n {
		// Lengths from 1 to 1000 terms; scores grow with length as naive Bayes's do.
		known := 1 + (i*37)%1000
		scores := make([]float64, k)
		for c := range k {
			scores[c] = 4 * math.Sin(float64(i*(c+3))*0.7+float64(c)) * (1 + math.Log1p(float64(known)))
		}
		p := truth.Apply(nil, scores, known)
		sum := 1.0
		u = math.Mod(u+0.6180339887498949, 1)
		label, acc := k-1, 0.0
		for c := range k {
			acc += p[c] / sum
			if u < acc {
				label = c
				break
			}
		}
		out = append(out, CalibrationSample{Scores: scores, Label: label, KnownTokens: known})
	}
	return out
}

func TestFitCalibration(t *testing.T) {
	tests := []struct {
		name  string
		truth classifier.Calibration
		fit   CalibrationFit
	}{
		{"over-confident scores", classifier.Calibration{Temperature: 3, Bias: []float64{0, 0, 0}}, CalibrationFit{}},
		{"under-confident scores", classifier.Calibration{Temperature: 0.5, Bias: []float64{0, 0, 0, 0}}, CalibrationFit{}},
		{"temperature and bias", classifier.Calibration{Temperature: 2, Bias: []float64{0.8, -0.3, -0.5}}, CalibrationFit{Bias: true}},
		{"temperature and length", classifier.Calibration{Temperature: 1.5, LengthSlope: 0.4, Bias: []float64{0, 0, 0}}, CalibrationFit{Length: true}},
		{"no length effect", classifier.Calibration{Temperature: 1.5, LengthSlope: 0, Bias: []float64{0, 0, 0}}, CalibrationFit{Length: true}},
		{"temperature and power", classifier.Calibration{Temperature: 0.8, LengthPower: 0.5, Bias: []float64{0, 0, 0}}, CalibrationFit{Power: true}},
		{"power and bias", classifier.Calibration{Temperature: 0.5, LengthPower: 0.7, Bias: []float64{-0.6, 0.2, 0.4}}, CalibrationFit{Power: true, Bias: true}},
		{"no power effect", classifier.Calibration{Temperature: 2, Bias: []float64{0, 0, 0, 0}}, CalibrationFit{Power: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples := synthetic(20000, tt.truth)
			got, err := FitCalibration(samples, tt.fit)
			if err != nil {
				t.Fatal(err)
			}
			// Temperature and slope trade off against each other a little on finite data, so
			// compare the temperatures they give a short and a long document.
			for _, n := range []int{10, 500} {
				if g, w := got.TemperatureFor(n), tt.truth.TemperatureFor(n); math.Abs(g-w)/w > 0.05 {
					t.Errorf("FitCalibration = %+v: temperature at %d terms %v, want %v within 5%%", got, n, g, w)
				}
			}
			if !tt.fit.Length && got.LengthSlope != 0 {
				t.Errorf("FitCalibration = %+v, want no length slope when not fitted", got)
			}
			if !tt.fit.Power && got.LengthPower != 0 {
				t.Errorf("FitCalibration = %+v, want no length power when not fitted", got)
			}
			// The mix is the samples' label shares.
			share := make([]float64, len(tt.truth.Bias))
			for _, s := range samples {
				share[s.Label] += 1.0 / float64(len(samples))
			}
			if len(got.Mix) != len(share) {
				t.Fatalf("FitCalibration mix = %v, want %d shares", got.Mix, len(share))
			}
			for c := range share {
				if math.Abs(got.Mix[c]-share[c]) > 1e-12 {
					t.Errorf("mix[%d] = %v, want the samples' share %v", c, got.Mix[c], share[c])
				}
			}
			if g, w := CalibratedNLL(samples, got), CalibratedNLL(samples, tt.truth); g > w+1e-4 {
				t.Errorf("NLL at the fit %v, want at most the truth's %v", g, w)
			}
			if tt.fit.Bias {
				if len(got.Bias) != len(tt.truth.Bias) {
					t.Fatalf("FitCalibration bias = %v, want %d values", got.Bias, len(tt.truth.Bias))
				}
				for c := range got.Bias {
					if math.Abs(got.Bias[c]-tt.truth.Bias[c]) > 0.1 {
						t.Errorf("bias[%d] = %v, want %v within 0.1", c, got.Bias[c], tt.truth.Bias[c])
					}
				}
			} else if got.Bias != nil {
				t.Errorf("FitCalibration bias = %v, want nil when not fitted", got.Bias)
			}
		})
	}
}

func TestFitCalibrationErrors(t *testing.T) {
	if _, err := FitCalibration(nil, CalibrationFit{}); !errors.Is(err, ErrNoCalibrationData) {
		t.Errorf("FitCalibration(nil) error = %v, want ErrNoCalibrationData", err)
	}
	bad := [][]CalibrationSample{
		{{Scores: []float64{1, 2}, Label: 2}},
		{{Scores: []float64{1, 2}, Label: 0}, {Scores: []float64{1}, Label: 0}},
		{{Scores: []float64{1, math.NaN()}, Label: 0}},
	}
	for i, s := range bad {
		if _, err := FitCalibration(s, CalibrationFit{}); err == nil {
			t.Errorf("FitCalibration(bad[%d]) = nil error, want one", i)
		}
	}
	good := []CalibrationSample{{Scores: []float64{1, 2}, Label: 0, KnownTokens: 3}}
	if _, err := FitCalibration(good, CalibrationFit{Length: true, Power: true}); err == nil {
		t.Error("FitCalibration(Length and Power) = nil error, want one")
	}
}

func TestOutOfFoldSamples(t *testing.T) {
	words := map[string][]string{
		"cybersecurity": {"hackers", "malware", "breach"},
		"migration":     {"migrants", "asylum", "border"},
		"diplomacy":     {"embassy", "summit", "treaty"},
		"other":         {"football", "museum", "storm"},
	}
	var exs []Example
	for _, l := range DefaultLabels {
		for i := range 20 {
			w := words[l]
			exs = append(exs, Example{ID: fmt.Sprintf("%s-%d", l, i), Label: l, Text: fmt.Sprintf("%s %s news %s", w[i%3], w[(i+1)%3], w[(i+2)%3])})
		}
	}
	short, long, err := OutOfFoldSamples(exs, Config{}, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != len(exs) {
		t.Errorf("%d short samples, want one per example (%d)", len(short), len(exs))
	}
	if want := 4 * len(DefaultLabels) * 2; len(long) != want {
		t.Errorf("%d long samples, want %d (folds x labels x 2)", len(long), want)
	}
	for _, s := range append(short, long...) {
		if len(s.Scores) != len(DefaultLabels) || s.KnownTokens == 0 {
			t.Fatalf("sample %+v, want %d scores and known tokens", s, len(DefaultLabels))
		}
		best := 0
		for c, v := range s.Scores {
			if v > s.Scores[best] {
				best = c
			}
		}
		// Every word of a label is seen in the other folds, so held-out rows score right.
		if best != s.Label {
			t.Errorf("sample with label %d scores best for %d: %v", s.Label, best, s.Scores)
		}
	}
	for _, s := range long {
		if s.KnownTokens < 3*3 {
			t.Errorf("long sample has %d known tokens, want at least 3 rows' worth", s.KnownTokens)
		}
	}
	if _, _, err := OutOfFoldSamples(exs, Config{}, 1, 0); err == nil {
		t.Error("OutOfFoldSamples(k=1) = nil error, want one")
	}
}
