package classifier

import (
	"errors"
	"math"
	"testing"
)

// synthetic draws samples whose true confidences are softmax(scores/trueT + trueBias): each
// sample's label is chosen by a deterministic low-discrepancy sequence against those
// probabilities, so the fit should recover trueT (and the biases) closely.
func synthetic(n int, trueT float64, trueBias []float64) []CalibrationSample {
	k := len(trueBias)
	var out []CalibrationSample
	u := 0.0
	for i := range n {
		scores := make([]float64, k)
		for c := range k {
			// Spread scores over a few units, varying with i and c.
			scores[c] = 4 * math.Sin(float64(i*(c+3))*0.7+float64(c))
		}
		p := make([]float64, k)
		var sum float64
		for c := range k {
			p[c] = math.Exp(scores[c]/trueT + trueBias[c])
			sum += p[c]
		}
		u = math.Mod(u+0.6180339887498949, 1)
		label, acc := k-1, 0.0
		for c := range k {
			acc += p[c] / sum
			if u < acc {
				label = c
				break
			}
		}
		out = append(out, CalibrationSample{Scores: scores, Label: label, Tokens: 10})
	}
	return out
}

func TestFitCalibration(t *testing.T) {
	tests := []struct {
		name  string
		trueT float64
		bias  []float64
		fit   CalibrationFit
	}{
		{"over-confident scores", 3, []float64{0, 0, 0}, CalibrationFit{}},
		{"under-confident scores", 0.5, []float64{0, 0, 0, 0}, CalibrationFit{}},
		{"temperature and bias", 2, []float64{0.8, -0.3, -0.5}, CalibrationFit{Bias: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			samples := synthetic(20000, tt.trueT, tt.bias)
			temp, bias, err := FitCalibration(samples, tt.fit)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(temp-tt.trueT)/tt.trueT > 0.05 {
				t.Errorf("FitCalibration temperature = %v, want %v within 5%%", temp, tt.trueT)
			}
			if tt.fit.Bias {
				if len(bias) != len(tt.bias) {
					t.Fatalf("FitCalibration bias = %v, want %d values", bias, len(tt.bias))
				}
				for c := range bias {
					if math.Abs(bias[c]-tt.bias[c]) > 0.1 {
						t.Errorf("bias[%d] = %v, want %v within 0.1", c, bias[c], tt.bias[c])
					}
				}
			} else if bias != nil {
				t.Errorf("FitCalibration bias = %v, want nil when not fitted", bias)
			}
			// The fitted calibration is at least as good as the truth and as T = 1 on the fit data.
			got := CalibratedNLL(samples, temp, bias)
			if truth := CalibratedNLL(samples, tt.trueT, tt.bias); got > truth+1e-9 {
				t.Errorf("NLL at fit = %v, above NLL at the truth %v", got, truth)
			}
			if one := CalibratedNLL(samples, 1, nil); got > one+1e-9 {
				t.Errorf("NLL at fit = %v, above NLL at T=1 %v", got, one)
			}
		})
	}
}

func TestFitCalibrationErrors(t *testing.T) {
	if _, _, err := FitCalibration(nil, CalibrationFit{}); !errors.Is(err, ErrNoCalibrationData) {
		t.Errorf("FitCalibration(nil) error = %v, want ErrNoCalibrationData", err)
	}
	bad := [][]CalibrationSample{
		{{Scores: []float64{1, 2}, Label: 2}},
		{{Scores: []float64{1, 2}, Label: 0}, {Scores: []float64{1}, Label: 0}},
		{{Scores: []float64{1, math.NaN()}, Label: 0}},
	}
	for i, s := range bad {
		if _, _, err := FitCalibration(s, CalibrationFit{}); err == nil {
			t.Errorf("FitCalibration(bad[%d]) = nil error, want one", i)
		}
	}
}
