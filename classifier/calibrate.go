package classifier

import (
	"errors"
	"fmt"
	"math"
)

// CalibrationSample is one held-out document as calibration fitting sees it: the model's raw,
// uncalibrated per-label scores (log prior plus summed term weights, in model label order), the
// index of the true label and the number of tokens the document had.
type CalibrationSample struct {
	Scores []float64
	Label  int
	Tokens int
}

// CalibrationFit chooses what FitCalibration may fit. The zero value fits a temperature only.
type CalibrationFit struct {
	// Bias also fits one additive bias per label. The biases move decisions as well as
	// confidences, toward the label mix of the calibration data; leave it off when that mix is not
	// the one the model will see.
	Bias bool
}

// ErrNoCalibrationData is returned when there is nothing to fit calibration on.
var ErrNoCalibrationData = errors.New("calibration: no samples")

// FitCalibration fits the calibration that minimises the mean negative log-likelihood of the true
// labels under softmax(scores/T + bias). The loss is convex in (1/T, bias), so a damped Newton
// method finds the optimum in a few steps; the result does not depend on sample order beyond
// floating-point rounding.
//
// Fitting on the rows a model trained on would make it look surer than it is: pass scores of
// documents the model did not see (a held-out split or out-of-fold scores).
func FitCalibration(samples []CalibrationSample, fit CalibrationFit) (temperature float64, bias []float64, err error) {
	if len(samples) == 0 {
		return 0, nil, ErrNoCalibrationData
	}
	k := len(samples[0].Scores)
	for i, s := range samples {
		if len(s.Scores) != k || s.Label < 0 || s.Label >= k {
			return 0, nil, fmt.Errorf("calibration: sample %d has %d scores and label %d, want %d scores", i, len(s.Scores), s.Label, k)
		}
		for _, v := range s.Scores {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, nil, fmt.Errorf("calibration: sample %d has a non-finite score", i)
			}
		}
	}
	// Parameters: theta[0] = 1/T, theta[1+c] = bias of label c (only when fitting biases).
	np := 1
	if fit.Bias {
		np += k
	}
	theta := make([]float64, np)
	theta[0] = 1
	loss := func(th []float64) float64 { return nll(samples, th, fit.Bias) }
	cur := loss(theta)
	for range 100 {
		g, h := gradHess(samples, theta, fit.Bias)
		// A small ridge fixes the one free direction of the biases (adding a constant to every
		// bias changes nothing) and keeps the Newton step defined.
		for i := range np {
			h[i][i] += 1e-9 * float64(len(samples))
		}
		step, ok := solve(h, g)
		if !ok {
			break
		}
		t := 1.0
		var next []float64
		var nextLoss float64
		for range 40 {
			next = make([]float64, np)
			for i := range theta {
				next[i] = theta[i] - t*step[i]
			}
			if next[0] > 0 {
				if nextLoss = loss(next); nextLoss <= cur {
					break
				}
			}
			t /= 2
		}
		if next[0] <= 0 || nextLoss > cur {
			break
		}
		done := cur-nextLoss < 1e-12*math.Max(1, cur)
		theta, cur = next, nextLoss
		if done {
			break
		}
	}
	temperature = 1 / theta[0]
	if fit.Bias {
		bias = make([]float64, k)
		var mean float64
		for c := range k {
			mean += theta[1+c]
		}
		mean /= float64(k)
		for c := range k {
			bias[c] = theta[1+c] - mean
		}
	}
	return temperature, bias, nil
}

// CalibratedNLL is the mean negative log-likelihood of the true labels under
// softmax(scores/temperature + bias); bias may be nil. It measures a calibration on data, for
// example long documents the calibration was not fitted on.
func CalibratedNLL(samples []CalibrationSample, temperature float64, bias []float64) float64 {
	if len(samples) == 0 {
		return 0
	}
	k := len(samples[0].Scores)
	th := make([]float64, 1+k)
	th[0] = 1 / temperature
	copy(th[1:], bias)
	return nll(samples, th, bias != nil)
}

// logits fills z with theta[0]*scores + bias and returns log-sum-exp(z).
func logits(z []float64, s CalibrationSample, theta []float64, withBias bool) float64 {
	maxZ := math.Inf(-1)
	for c, v := range s.Scores {
		z[c] = theta[0] * v
		if withBias {
			z[c] += theta[1+c]
		}
		maxZ = math.Max(maxZ, z[c])
	}
	var sum float64
	for _, v := range z {
		sum += math.Exp(v - maxZ)
	}
	return maxZ + math.Log(sum)
}

func nll(samples []CalibrationSample, theta []float64, withBias bool) float64 {
	z := make([]float64, len(samples[0].Scores))
	var total float64
	for _, s := range samples {
		total += logits(z, s, theta, withBias) - z[s.Label]
	}
	return total / float64(len(samples))
}

// gradHess returns the gradient and Hessian of the summed NLL. With f_c the features of label c
// (its raw score, then a one-hot for its bias) and p the calibrated confidences, each sample adds
// sum_c p_c f_c - f_label to the gradient and sum_c p_c f_c f_c^T - (sum_c p_c f_c)(...)^T to the
// Hessian.
func gradHess(samples []CalibrationSample, theta []float64, withBias bool) ([]float64, [][]float64) {
	np := len(theta)
	k := len(samples[0].Scores)
	g := make([]float64, np)
	h := make([][]float64, np)
	for i := range h {
		h[i] = make([]float64, np)
	}
	z := make([]float64, k)
	f := make([][]float64, k)
	for c := range f {
		f[c] = make([]float64, np)
		if withBias {
			f[c][1+c] = 1
		}
	}
	mean := make([]float64, np)
	for _, s := range samples {
		lse := logits(z, s, theta, withBias)
		clear(mean)
		for c := range k {
			f[c][0] = s.Scores[c]
			p := math.Exp(z[c] - lse)
			for i := range np {
				mean[i] += p * f[c][i]
				for j := range np {
					h[i][j] += p * f[c][i] * f[c][j]
				}
			}
		}
		for i := range np {
			g[i] += mean[i] - f[s.Label][i]
			for j := range np {
				h[i][j] -= mean[i] * mean[j]
			}
		}
	}
	return g, h
}

// solve returns x with a x = b by Gaussian elimination with partial pivoting; ok is false when a
// is singular.
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for col := range n {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(m[r][col]) > math.Abs(m[piv][col]) {
				piv = r
			}
		}
		if math.Abs(m[piv][col]) < 1e-300 {
			return nil, false
		}
		m[col], m[piv] = m[piv], m[col]
		for r := col + 1; r < n; r++ {
			f := m[r][col] / m[col][col]
			for c := col; c <= n; c++ {
				m[r][c] -= f * m[col][c]
			}
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		v := m[i][n]
		for j := i + 1; j < n; j++ {
			v -= m[i][j] * x[j]
		}
		x[i] = v / m[i][i]
	}
	return x, true
}
