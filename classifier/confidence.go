package classifier

import (
	"fmt"
	"math"
	"slices"
)

// Calibration turns raw naive-Bayes scores into honest confidences. Naive Bayes treats every term
// as independent evidence, so its raw confidences are too sure, and more so the longer the
// document; a temperature that grows with the document's length corrects both. For raw scores s
// (from Model.LogScores) of a document with n known terms:
//
//	T = Temperature * (1 + n)^LengthPower * (1 + LengthSlope * ln(1 + n))
//	confidence_c = softmax_c(s_c / T + Bias_c)
//
// The raw score gaps grow in proportion to n, because naive Bayes counts every word as fresh
// evidence although the words of one text are far from independent. A temperature growing like a
// power of n lets confidence rise with more text, but only as fast as the evidence does; the
// logarithmic LengthSlope form is the older one, still read from model files that use it.
//
// The zero value is T = 1 with no bias: the plain naive-Bayes posterior.
type Calibration struct {
	// Temperature divides the scores; 0 means 1. Must be positive and finite otherwise.
	Temperature float64 `json:"temperature,omitempty"`
	// LengthSlope makes the temperature grow with the logarithm of the known-term count; 0 keeps
	// it constant. Must be >= 0.
	LengthSlope float64 `json:"length_slope,omitempty"`
	// LengthPower makes the temperature grow with the known-term count to this power; 0 keeps it
	// constant. Must be in [0, 1]: at 1 the scaled scores are the mean evidence per term.
	LengthPower float64 `json:"length_power,omitempty"`
	// Bias is added to each label's scaled score, in model label order; empty means none.
	Bias []float64 `json:"bias,omitempty"`
	// Mix is the label mix of the data the calibration was fitted on, in model label order,
	// summing to 1: the prior its confidences assume, which Options.LabelMix re-weights from.
	// Empty in models from before it was recorded; Model.LabelMix then falls back to the
	// training documents' mix.
	Mix []float64 `json:"mix,omitempty"`
}

// maxCalibration bounds calibration values read from a file.
const maxCalibration = 1e6

func (c Calibration) clone() Calibration {
	c.Bias = slices.Clone(c.Bias)
	c.Mix = slices.Clone(c.Mix)
	return c
}

func (c Calibration) validate(labels int) error {
	if t := c.Temperature; !(t >= 0 && t <= maxCalibration) {
		return fmt.Errorf("calibration temperature %v out of range (0, %g]", t, float64(maxCalibration))
	}
	if s := c.LengthSlope; !(s >= 0 && s <= maxCalibration) {
		return fmt.Errorf("calibration length slope %v out of range [0, %g]", s, float64(maxCalibration))
	}
	if p := c.LengthPower; !(p >= 0 && p <= 1) {
		return fmt.Errorf("calibration length power %v out of range [0, 1]", p)
	}
	if len(c.Bias) != 0 && len(c.Bias) != labels {
		return fmt.Errorf("calibration has %d biases for %d labels", len(c.Bias), labels)
	}
	for _, b := range c.Bias {
		if !(math.Abs(b) <= maxCalibration) {
			return fmt.Errorf("calibration bias %v out of range", b)
		}
	}
	if len(c.Mix) != 0 {
		if len(c.Mix) != labels {
			return fmt.Errorf("calibration has a mix of %d labels for %d labels", len(c.Mix), labels)
		}
		var sum float64
		for _, p := range c.Mix {
			if !(p > 0 && p <= 1) {
				return fmt.Errorf("calibration mix share %v out of range (0, 1]", p)
			}
			sum += p
		}
		if math.Abs(sum-1) > 1e-6 {
			return fmt.Errorf("calibration mix sums to %v, not 1", sum)
		}
	}
	return nil
}

// log1pSmall holds math.Log1p(n) for the known-term counts of short documents, where computing
// it is a visible part of the work (README, Performance, BenchmarkTemperature); the values are
// Log1p's own, so T is the same.
var log1pSmall = func() (t [256]float64) {
	for n := range t {
		t[n] = math.Log1p(float64(n))
	}
	return t
}()

// TemperatureFor returns T for a document with knownTokens known terms.
func (c Calibration) TemperatureFor(knownTokens int) float64 {
	t := c.Temperature
	if t == 0 {
		t = 1
	}
	if c.LengthSlope == 0 && c.LengthPower == 0 {
		return t
	}
	var l float64
	if uint(knownTokens) < uint(len(log1pSmall)) {
		l = log1pSmall[knownTokens]
	} else {
		l = math.Log1p(float64(knownTokens))
	}
	if c.LengthPower != 0 {
		t *= math.Exp(c.LengthPower * l)
	}
	if c.LengthSlope != 0 {
		t *= 1 + c.LengthSlope*l
	}
	return t
}

// Apply writes into dst (grown as needed and returned) the calibrated confidences for raw scores
// of a document with knownTokens known terms. The confidences are in [0, 1], sum to 1 and are
// finite whenever the scores are.
func (c Calibration) Apply(dst, scores []float64, knownTokens int) []float64 {
	dst = slices.Grow(dst[:0], len(scores))[:len(scores)]
	softmax(dst, scores, 1/c.TemperatureFor(knownTokens), c.Bias)
	return dst
}

// softmax sets dst to softmax(scores*inv + bias) without overflow: the largest term is shifted to
// 0 before exponentiating, so the sum is at least 1.
func softmax(dst, scores []float64, inv float64, bias []float64) {
	maxZ := math.Inf(-1)
	for i, s := range scores {
		z := s * inv
		if len(bias) != 0 {
			z += bias[i]
		}
		dst[i] = z
		if z > maxZ {
			maxZ = z
		}
	}
	var sum float64
	for i, z := range dst {
		// The largest term's exponent is exactly 0 and Exp(0) is exactly 1: one call fewer.
		// (z == maxZ would not do: an infinite z gives NaN, as Exp(Inf - Inf) does.)
		e := 1.0
		if d := z - maxZ; d != 0 {
			e = math.Exp(d)
		}
		dst[i] = e
		sum += e
	}
	for i := range dst {
		dst[i] /= sum
	}
}
