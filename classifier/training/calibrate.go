package training

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/topicd/topicd/classifier"
)

// CalibrationSample is one held-out document as calibration fitting sees it: the model's raw,
// uncalibrated per-label scores (Model.LogScores, in model label order), the index of the true
// label and the document's known-token count (Stats.KnownTokens), which the length term uses.
type CalibrationSample struct {
	Scores      []float64
	Label       int
	KnownTokens int
	// Weight scales the sample's share of the loss; 0 means 1. It lets a few long documents
	// count as much as many short ones.
	Weight float64
}

// CalibrationFit chooses what FitCalibration fits. The zero value fits a temperature only.
type CalibrationFit struct {
	// Length also fits Calibration.LengthSlope, so the temperature grows with the document's
	// length. Give it long documents among the samples, or it has nothing to learn from.
	Length bool
	// Power fits Calibration.LengthPower instead, so the temperature grows with a power of the
	// document's length; like Length it needs long documents among the samples. At most one of
	// Length and Power may be set.
	Power bool
	// Bias also fits one additive bias per label. The biases move decisions as well as
	// confidences, toward the label mix of the calibration data; leave it off when that mix is not
	// the one the model will see.
	Bias bool
}

// maxLengthSlope bounds the length-slope search: at 4 a 1000-term document's temperature is 28
// times a one-term document's, far past anything naive Bayes needs.
const maxLengthSlope = 4

// ErrNoCalibrationData is returned when there is nothing to fit calibration on.
var ErrNoCalibrationData = errors.New("calibration: no samples")

// FitCalibration fits the Calibration that minimises the weighted mean negative log-likelihood
// of the true labels (see classifier.Calibration for the formula). For a fixed length slope the loss is
// convex in (1/Temperature, Bias), so a damped Newton method finds that optimum; the slope, when
// fitted, is found by golden-section search over [0, 4] around it (the power over [0, 1]). The
// result is deterministic.
//
// Fitting on the rows a model trained on would make it look surer than it is: pass scores of
// documents the model did not see (a held-out split or out-of-fold scores).
func FitCalibration(samples []CalibrationSample, fit CalibrationFit) (classifier.Calibration, error) {
	if len(samples) == 0 {
		return classifier.Calibration{}, ErrNoCalibrationData
	}
	if fit.Length && fit.Power {
		return classifier.Calibration{}, errors.New("calibration: fit the length slope or the length power, not both")
	}
	k := len(samples[0].Scores)
	for i, s := range samples {
		if len(s.Scores) != k || s.Label < 0 || s.Label >= k {
			return classifier.Calibration{}, fmt.Errorf("calibration: sample %d has %d scores and label %d, want %d scores", i, len(s.Scores), s.Label, k)
		}
		if s.Weight < 0 || math.IsNaN(s.Weight) || math.IsInf(s.Weight, 0) {
			return classifier.Calibration{}, fmt.Errorf("calibration: sample %d has weight %v", i, s.Weight)
		}
		for _, v := range s.Scores {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return classifier.Calibration{}, fmt.Errorf("calibration: sample %d has a non-finite score", i)
			}
		}
	}
	// at fits the temperature and biases for a fixed length term x: the slope, or the power.
	at := func(x float64) (classifier.Calibration, float64) {
		shape := classifier.Calibration{Temperature: 1}
		if fit.Power {
			shape.LengthPower = x
		} else {
			shape.LengthSlope = x
		}
		scaled := make([]CalibrationSample, len(samples))
		for i, s := range samples {
			scaled[i] = s
			div := shape.TemperatureFor(s.KnownTokens)
			scaled[i].Scores = make([]float64, k)
			for c, v := range s.Scores {
				scaled[i].Scores[c] = v / div
			}
		}
		t, bias := fitScaled(scaled, fit.Bias)
		c := classifier.Calibration{Temperature: t, LengthSlope: shape.LengthSlope, LengthPower: shape.LengthPower, Bias: bias}
		return c, CalibratedNLL(samples, c)
	}
	if !fit.Length && !fit.Power {
		c, _ := at(0)
		c.Mix = labelMix(samples, k)
		return c, nil
	}
	// Golden-section search on the slope or power; the loss is smooth and, in practice, unimodal
	// in it.
	const phi = 0.6180339887498949
	lo, hi := 0.0, float64(maxLengthSlope)
	if fit.Power {
		hi = 1
	}
	x1, x2 := hi-phi*(hi-lo), lo+phi*(hi-lo)
	_, f1 := at(x1)
	_, f2 := at(x2)
	for hi-lo > 1e-3 {
		if f1 <= f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - phi*(hi-lo)
			_, f1 = at(x1)
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + phi*(hi-lo)
			_, f2 = at(x2)
		}
	}
	best, bestLoss := at((lo + hi) / 2)
	if zero, zeroLoss := at(0); zeroLoss <= bestLoss {
		best = zero
	}
	best.Mix = labelMix(samples, k)
	return best, nil
}

// fitScaled fits 1/T and, when withBias, the biases, for fixed (already length-scaled) scores.
func fitScaled(samples []CalibrationSample, withBias bool) (temperature float64, bias []float64) {
	k := len(samples[0].Scores)
	// Parameters: theta[0] = 1/T, theta[1+c] = bias of label c (only when fitting biases).
	np := 1
	if withBias {
		np += k
	}
	theta := make([]float64, np)
	theta[0] = 1
	loss := func(th []float64) float64 { return nll(samples, th, withBias) }
	cur := loss(theta)
	for range 100 {
		g, h := gradHess(samples, theta, withBias)
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
	if withBias {
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
	return temperature, bias
}

// CalibratedNLL is the weighted mean negative log-likelihood of the true labels under c. It
// measures a calibration on data, for example long documents it was not fitted on.
func CalibratedNLL(samples []CalibrationSample, c classifier.Calibration) float64 {
	var total, weights float64
	var p []float64
	for _, s := range samples {
		p = c.Apply(p, s.Scores, s.KnownTokens)
		w := weight(s)
		total -= w * math.Log(math.Max(p[s.Label], math.SmallestNonzeroFloat64))
		weights += w
	}
	if weights == 0 {
		return 0
	}
	return total / weights
}

func weight(s CalibrationSample) float64 {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
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
	var total, weights float64
	for _, s := range samples {
		w := weight(s)
		total += w * (logits(z, s, theta, withBias) - z[s.Label])
		weights += w
	}
	return total / weights
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
		w := weight(s)
		lse := logits(z, s, theta, withBias)
		clear(mean)
		for c := range k {
			f[c][0] = s.Scores[c]
			p := math.Exp(z[c] - lse)
			for i := range np {
				for j := range np {
					h[i][j] += w * p * f[c][i] * f[c][j]
				}
			}
			for i := range np {
				mean[i] += p * f[c][i]
			}
		}
		for i := range np {
			g[i] += w * (mean[i] - f[s.Label][i])
			for j := range np {
				h[i][j] -= w * mean[i] * mean[j]
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

// OutOfFoldSamples gives calibration samples for a model trained on examples with cfg without
// touching any other data: it splits examples into k stratified folds (KFold, by ID), trains on
// k-1 folds with cfg, and scores the held-out fold. short holds one sample per example; long holds
// perLabelLong long documents per label and fold (LongDocuments over the held-out fold), so the
// length term has documents of article length to learn from. Labels are indices into the labels
// the trained models have.
func OutOfFoldSamples(examples []Example, cfg Config, k, perLabelLong int) (short, long []CalibrationSample, err error) {
	ids := make([]string, len(examples))
	labels := make([]string, len(examples))
	for i, ex := range examples {
		ids[i], labels[i] = ex.ID, ex.Label
	}
	folds, err := KFold(ids, labels, k)
	if err != nil {
		return nil, nil, err
	}
	cfg.Calibration = classifier.Calibration{}
	pick := func(idx []int) []Example {
		out := make([]Example, len(idx))
		for i, j := range idx {
			out[i] = examples[j]
		}
		return out
	}
	for f, held := range folds {
		m, err := Train(pick(FoldTraining(len(examples), held)), cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("calibration fold %d: %w", f+1, err)
		}
		heldEx := pick(held)
		add := func(dst []CalibrationSample, exs []Example) ([]CalibrationSample, error) {
			for _, ex := range exs {
				c := slices.Index(m.Labels(), ex.Label)
				if c < 0 {
					return nil, fmt.Errorf("calibration: example %q has label %q, not one of %v", ex.ID, ex.Label, m.Labels())
				}
				scores, st := m.LogScores(nil, ex.Title, ex.Text)
				dst = append(dst, CalibrationSample{Scores: scores, Label: c, KnownTokens: st.KnownTokens})
			}
			return dst, nil
		}
		if short, err = add(short, heldEx); err != nil {
			return nil, nil, err
		}
		if long, err = add(long, LongDocuments(heldEx, m.Labels(), perLabelLong)); err != nil {
			return nil, nil, err
		}
	}
	return short, long, nil
}

// labelMix is the weighted share of each of k labels among the samples: the label mix the
// calibration is fitted for. A fitted bias makes the mean confidence of each label equal its
// share (the likelihood's gradient in that bias is zero there), so this is the prior the
// calibrated confidences assume. It is nil when a label has no samples, since no prior can be
// read for it.
func labelMix(samples []CalibrationSample, k int) []float64 {
	mix := make([]float64, k)
	var total float64
	for _, s := range samples {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		mix[s.Label] += w
		total += w
	}
	for c := range mix {
		if mix[c] == 0 {
			return nil
		}
		mix[c] /= total
	}
	return mix
}
