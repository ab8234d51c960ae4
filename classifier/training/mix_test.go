package training

import (
	"math"
	"strings"
	"testing"
)

// TestCalibrationMix checks that the calibration samples are weighed to the stated mix, that the
// labels left out share the rest by their rows, short and long samples alike, and that the
// fitted calibration records the mix.
func TestCalibrationMix(t *testing.T) {
	// 6 rows of label 0, 3 of label 1, 1 of label 2; long samples evenly 2 per label.
	var short, long []CalibrationSample
	for c, n := range []int{6, 3, 1} {
		for range n {
			short = append(short, CalibrationSample{Scores: []float64{0, 0, 0}, Label: c})
		}
		for range 2 {
			long = append(long, CalibrationSample{Scores: []float64{0, 0, 0}, Label: c})
		}
	}
	mix := fullMix(short, []float64{0, 0, 0.5})
	want := []float64{0.5 * 6 / 9, 0.5 * 3 / 9, 0.5}
	for c := range want {
		if math.Abs(mix[c]-want[c]) > 1e-12 {
			t.Fatalf("fullMix = %v, want %v", mix, want)
		}
	}
	for _, s := range [][]CalibrationSample{short, long} {
		toMix(s, mix)
		got := labelMix(s, 3)
		var sum float64
		for _, x := range s {
			sum += x.Weight
		}
		for c := range want {
			if math.Abs(got[c]-want[c]) > 1e-12 {
				t.Errorf("weighted mix = %v, want %v", got, want)
			}
		}
		if math.Abs(sum/float64(len(s))-1) > 1e-12 {
			t.Errorf("mean weight %v, want 1", sum/float64(len(s)))
		}
	}
}

func TestCalibrationMixChecked(t *testing.T) {
	for _, tc := range []struct {
		mix     map[string]float64
		balance float64
		want    string
	}{
		{map[string]float64{"cybersecurity": 0.05}, 0.25, "set one, not both"},
		{map[string]float64{"cybersecurity": 1.5}, 0, "want a share in (0, 1)"},
		{map[string]float64{"sport": 0.5}, 0, "not one of the labels"},
		{map[string]float64{"cybersecurity": 0.6, "other": 0.6}, 0, "sums to"},
		{map[string]float64{"cybersecurity": 0.1, "migration": 0.1, "diplomacy": 0.1, "other": 0.1}, 0, "sums to"},
	} {
		r := Shipped()
		r.CalibrationMix, r.CalibrationBalance = tc.mix, tc.balance
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mix %v balance %v: Check() = %v, want an error saying %q", tc.mix, tc.balance, err, tc.want)
		}
	}
	if err := Shipped().Check(); err != nil {
		t.Errorf("Shipped().Check() = %v", err)
	}
}
