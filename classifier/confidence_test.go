package classifier

import (
	"math"
	"testing"
)

func TestTemperatureFor(t *testing.T) {
	tests := []struct {
		name  string
		cal   Calibration
		known int
		want  float64
	}{
		{"zero value", Calibration{}, 100, 1},
		{"constant", Calibration{Temperature: 2.5}, 100, 2.5},
		{"logarithmic", Calibration{Temperature: 2, LengthSlope: 0.5}, 99, 2 * (1 + 0.5*math.Log(100))},
		{"power, short document", Calibration{Temperature: 0.5, LengthPower: 0.5}, 15, 0.5 * 4},
		{"power, long document", Calibration{Temperature: 0.5, LengthPower: 0.5}, 9999, 0.5 * 100},
		{"power one", Calibration{Temperature: 0.1, LengthPower: 1}, 299, 0.1 * 300},
		{"no known terms", Calibration{Temperature: 0.5, LengthPower: 0.5}, 0, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.TemperatureFor(tt.known); math.Abs(got-tt.want) > 1e-9*tt.want {
				t.Errorf("%+v.TemperatureFor(%d) = %v, want %v", tt.cal, tt.known, got, tt.want)
			}
		})
	}
}

func TestCalibrationValidate(t *testing.T) {
	for _, p := range []float64{-0.1, 1.5, math.NaN(), math.Inf(1)} {
		if err := (Calibration{LengthPower: p}).validate(4); err == nil {
			t.Errorf("Calibration{LengthPower: %v}.validate = nil, want an error", p)
		}
	}
	for _, p := range []float64{0, 0.5, 1} {
		if err := (Calibration{LengthPower: p}).validate(4); err != nil {
			t.Errorf("Calibration{LengthPower: %v}.validate = %v, want nil", p, err)
		}
	}
}
