// Command shortprior measures calibrations whose label bias depends on the document's length, an
// attempt to read short on-topic text (headlines) with less weight on the class prior than a news
// stream needs. For raw scores s of a document with n known terms it fits, on out-of-fold scores
// of the training rows only,
//
//	z_c = s_c / (T (1 + n)^p) + b_c + d_c h(n)
//
// with the shipped form (d = 0) as the first row, then several shapes h that fall with n, with and
// without "slices" (each held-out row cut to its first 6-20 words, so that the calibration sees
// headline-length text taken from the corpus), and last a hand-set ceiling: the bias of an even
// label mix for documents of at most 12 or 20 known terms (not fitted: it shows how far any
// length-dependent prior could move the headlines, and what the stream pays). docs/accuracy.md
// reports the numbers.
//
//	go run ./scripts/experiments/shortprior -data ../shared/corpus/news-topics-train-v2.jsonl            # newest-rows split
//	go run ./scripts/experiments/shortprior -data ../shared/corpus/news-topics-train-v2.jsonl -all       # trained on every row
//
// Both score the development halves of the probe sets (-probes); the first also the newest 20 %
// of each label, on which it does not train. About a minute each on an idle 2-core machine.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

type doc struct {
	raw   []float64
	label int
	n     int
}

type set struct {
	name string
	docs []doc
}

func main() {
	data := flag.String("data", "../shared/corpus/news-topics-train-v2.jsonl", "corpus JSONL")
	all := flag.Bool("all", false, "train on every row (as the shipped model is) instead of the newest-rows training split")
	probes := flag.String("probes", "scripts/experiments/probe", "folder of the probe sets")
	flag.Parse()
	if err := run(*data, *probes, *all); err != nil {
		log.Fatal(err)
	}
}

func run(data, probes string, all bool) error {
	c, err := training.LoadCorpus(data)
	if err != nil {
		return err
	}
	r := training.Shipped()
	cfg := training.Config{
		Labels:       r.Labels,
		Fallback:     r.Fallback,
		Tokenizer:    r.Tokenizer,
		Scoring:      r.Scoring,
		MinTermCount: r.MinTermCount,
		MaxTerms:     r.MaxTerms,
	}
	exs := c.Examples
	if r.DropTextLabels {
		return fmt.Errorf("the shipped recipe drops text-labelled rows: not handled here")
	}
	var trainEx, validEx []training.Example
	if all {
		trainEx = exs
	} else {
		if trainEx, validEx, err = training.SplitNewestExamples(exs, 0.2); err != nil {
			return err
		}
	}
	short, slc, long, m, err := prepare(trainEx, cfg, r.CalibrationFolds, r.Long)
	if err != nil {
		return err
	}
	labels := m.Labels()
	var sets []set
	if !all {
		sets = append(sets, set{"newest rows", score(m, validEx)})
	}
	for _, n := range []string{"headlines-dev", "headlines-border-dev", "border-dev", "articles-dev", "multitopic-dev"} {
		f, err := os.Open(filepath.Join(probes, n+".jsonl"))
		if err != nil {
			return err
		}
		pe, err := training.ReadCorpus(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		sets = append(sets, set{n, score(m, pe)})
	}
	for _, s := range sets {
		ns := make([]int, len(s.docs))
		for i, d := range s.docs {
			ns[i] = d.n
		}
		slices.Sort(ns)
		fmt.Printf("%s: known terms p10 %d, median %d, p90 %d\n", s.name, ns[len(ns)/10], ns[len(ns)/2], ns[len(ns)*9/10])
	}

	// Weights as Recipe.Fit gives them: every group at the recipe's label mix, long documents
	// half the loss; slices, when used, share times the short rows' weight.
	partial := make([]float64, len(labels))
	for i, l := range labels {
		partial[i] = r.CalibrationMix[l]
	}
	mix := training.FullMix(short, partial)
	build := func(share float64) []training.CalibrationSample {
		sh, lo, sl := slices.Clone(short), slices.Clone(long), slices.Clone(slc)
		training.ToMix(sh, mix)
		training.ToMix(lo, mix)
		training.ToMix(sl, mix)
		out := sh
		wl := r.LongShare / (1 - r.LongShare) * float64(len(sh)) / float64(len(lo))
		for _, s := range lo {
			s.Weight *= wl
			out = append(out, s)
		}
		if share > 0 {
			w := share * float64(len(sh)) / float64(len(sl))
			for _, s := range sl {
				s.Weight *= w
				out = append(out, s)
			}
		}
		return out
	}
	step := func(cut int) func(int, float64) float64 {
		return func(n int, _ float64) float64 {
			if n <= cut {
				return 1
			}
			return 0
		}
	}
	rows := []struct {
		name  string
		share float64
		h     func(int, float64) float64
	}{
		{"shipped form: power+bias", 0, nil},
		{"power+bias, slices 0.5", 0.5, nil},
		{"power+bias, slices 1", 1, nil},
		{"short bias 1/sqrt(1+n), no slices", 0, func(n int, _ float64) float64 { return 1 / math.Sqrt(1+float64(n)) }},
		{"short bias 1/sqrt(1+n), slices 0.25", 0.25, func(n int, _ float64) float64 { return 1 / math.Sqrt(1+float64(n)) }},
		{"short bias 1/sqrt(1+n), slices 0.5", 0.5, func(n int, _ float64) float64 { return 1 / math.Sqrt(1+float64(n)) }},
		{"short bias 1/sqrt(1+n), slices 1", 1, func(n int, _ float64) float64 { return 1 / math.Sqrt(1+float64(n)) }},
		{"short bias 1/(1+n), slices 1", 1, func(n int, _ float64) float64 { return 1 / (1 + float64(n)) }},
		{"short bias exp(-n/10), slices 1", 1, func(n int, _ float64) float64 { return math.Exp(-float64(n) / 10) }},
		{"short bias exp(-n/5), slices 1", 1, func(n int, _ float64) float64 { return math.Exp(-float64(n) / 5) }},
		{"short bias n<=12, slices 0.5", 0.5, step(12)},
		{"short bias n<=12, slices 1", 1, step(12)},
		{"prior weight (1+n)^-p, slices 1", 1, func(n int, p float64) float64 { return math.Pow(1+float64(n), -p) }},
	}
	for _, row := range rows {
		cal := fitPower(build(row.share), row.h)
		printRow(row.name, cal, labels, sets)
	}
	base := fitPower(build(0), nil)
	for _, cut := range []int{12, 20} {
		cal := base
		cal.d = make([]float64, len(labels))
		for i := range labels {
			cal.d[i] = math.Log(0.25 / mix[i])
		}
		cal.h = step(cut)
		printRow(fmt.Sprintf("ceiling, not fitted: an even mix's bias for n<=%d", cut), cal, labels, sets)
	}
	return nil
}

func printRow(name string, cal calibration, labels []string, sets []set) {
	line := fmt.Sprintf("| %s | T %.3f, p %.3f, b %.2f, d %.2f |", name, cal.t, cal.power, cal.b, cal.d)
	for _, s := range sets {
		rep := cal.report(labels, s.docs)
		line += fmt.Sprintf(" %s: accuracy %.3f, macro-F1 %.3f,", s.name, rep.Accuracy, rep.MacroF1)
		for _, lm := range rep.Labels {
			if lm.Label == "cybersecurity" || lm.Label == "diplomacy" {
				line += fmt.Sprintf(" %s P/R %.2f/%.2f,", lm.Label[:3], lm.Precision, lm.Recall)
			}
		}
		line += fmt.Sprintf(" ECE %.3f |", rep.ExpectedCalibrationError)
	}
	fmt.Println(line)
}

func score(m *classifier.Model, exs []training.Example) []doc {
	out := make([]doc, 0, len(exs))
	for _, ex := range exs {
		c := slices.Index(m.Labels(), ex.Label)
		if c < 0 {
			continue
		}
		s, st := m.LogScores(nil, ex.Title, ex.Text)
		out = append(out, doc{s, c, st.KnownTokens})
	}
	return out
}

// slice cuts a row to its first 6-20 words (the count from a hash of its id), like a headline;
// false when the row is no longer than that.
func slice(ex training.Example) (training.Example, bool) {
	w := strings.Fields(strings.TrimSpace(ex.Title + " " + ex.Text))
	h := fnv.New32a()
	h.Write([]byte(ex.ID))
	k := 6 + int(h.Sum32()%15)
	if len(w) <= k {
		return ex, false
	}
	ex.Title, ex.Text = "", strings.Join(w[:k], " ")
	return ex, true
}

// prepare scores every training row, its slice and long documents made of held-out rows with a
// model that did not train on them (as training.OutOfFoldSamples does), and trains the
// uncalibrated model on every training row.
func prepare(exs []training.Example, cfg training.Config, k, perLabelLong int) (short, slc, long []training.CalibrationSample, m *classifier.Model, err error) {
	ids := make([]string, len(exs))
	labels := make([]string, len(exs))
	for i, ex := range exs {
		ids[i], labels[i] = ex.ID, ex.Label
	}
	folds, err := training.KFold(ids, labels, k)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	pick := func(idx []int) []training.Example {
		out := make([]training.Example, len(idx))
		for i, j := range idx {
			out[i] = exs[j]
		}
		return out
	}
	add := func(m *classifier.Model, dst []training.CalibrationSample, es []training.Example) []training.CalibrationSample {
		for _, d := range score(m, es) {
			dst = append(dst, training.CalibrationSample{Scores: d.raw, Label: d.label, KnownTokens: d.n})
		}
		return dst
	}
	for _, held := range folds {
		fm, err := training.Train(pick(training.FoldTraining(len(exs), held)), cfg)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		he := pick(held)
		short = add(fm, short, he)
		var sl []training.Example
		for _, ex := range he {
			if s, ok := slice(ex); ok {
				sl = append(sl, s)
			}
		}
		slc = add(fm, slc, sl)
		long = add(fm, long, training.LongDocuments(he, fm.Labels(), perLabelLong))
	}
	m, err = training.Train(exs, cfg)
	return short, slc, long, m, err
}

// calibration is z_c = s_c / (t (1+n)^power) + b_c + d_c h(n, power).
type calibration struct {
	t, power float64
	b, d     []float64
	h        func(int, float64) float64
}

func (c calibration) conf(dst, s []float64, n int) []float64 {
	dst = dst[:0]
	inv := 1 / (c.t * math.Pow(1+float64(n), c.power))
	var hn float64
	if c.d != nil {
		hn = c.h(n, c.power)
	}
	mx := math.Inf(-1)
	for i, v := range s {
		z := v*inv + c.b[i]
		if c.d != nil {
			z += c.d[i] * hn
		}
		dst = append(dst, z)
		mx = math.Max(mx, z)
	}
	var sum float64
	for i := range dst {
		dst[i] = math.Exp(dst[i] - mx)
		sum += dst[i]
	}
	for i := range dst {
		dst[i] /= sum
	}
	return dst
}

func (c calibration) report(labels []string, docs []doc) training.Report {
	var p []float64
	preds := make([]training.Prediction, len(docs))
	for i, d := range docs {
		p = c.conf(p, d.raw, d.n)
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
		}
		preds[i] = training.Prediction{Label: labels[d.label], Predicted: labels[best], Confidence: p[best]}
	}
	return training.Evaluate(labels, preds)
}

func weight(s training.CalibrationSample) float64 { return cmp.Or(s.Weight, 1) }

// fit fits (1/T, b, d) for a fixed power and h by a damped Newton method on the weighted
// negative log-likelihood, which is convex in them.
func fit(samples []training.CalibrationSample, power float64, h func(int, float64) float64) (calibration, float64) {
	k := len(samples[0].Scores)
	np := 1 + k
	if h != nil {
		np += k
	}
	fs := make([][]float64, k)
	for c := range fs {
		fs[c] = make([]float64, np)
	}
	z := make([]float64, k)
	// logits fills fs and z for sample s and returns log-sum-exp(z).
	logits := func(s training.CalibrationSample, th []float64) float64 {
		mx := math.Inf(-1)
		for c := range k {
			f := fs[c]
			clear(f)
			f[0] = s.Scores[c] / math.Pow(1+float64(s.KnownTokens), power)
			f[1+c] = 1
			if h != nil {
				f[1+k+c] = h(s.KnownTokens, power)
			}
			z[c] = 0
			for j := range np {
				z[c] += th[j] * f[j]
			}
			mx = math.Max(mx, z[c])
		}
		var sum float64
		for c := range k {
			sum += math.Exp(z[c] - mx)
		}
		return mx + math.Log(sum)
	}
	loss := func(th []float64) float64 {
		var tot, ws float64
		for _, s := range samples {
			w := weight(s)
			tot += w * (logits(s, th) - z[s.Label])
			ws += w
		}
		return tot / ws
	}
	theta := make([]float64, np)
	theta[0] = 1
	cur := loss(theta)
	mean := make([]float64, np)
	for range 60 {
		g := make([]float64, np)
		hs := make([][]float64, np)
		for i := range hs {
			hs[i] = make([]float64, np)
		}
		for _, s := range samples {
			w := weight(s)
			lse := logits(s, theta)
			clear(mean)
			for c := range k {
				p := math.Exp(z[c] - lse)
				for i := range np {
					mean[i] += p * fs[c][i]
					for j := range np {
						hs[i][j] += w * p * fs[c][i] * fs[c][j]
					}
				}
			}
			for i := range np {
				g[i] += w * (mean[i] - fs[s.Label][i])
				for j := range np {
					hs[i][j] -= w * mean[i] * mean[j]
				}
			}
		}
		for i := range np {
			hs[i][i] += 1e-6 * float64(len(samples))
		}
		stepv, ok := solve(hs, g)
		if !ok {
			break
		}
		t := 1.0
		var next []float64
		var nl float64
		for range 40 {
			next = make([]float64, np)
			for i := range theta {
				next[i] = theta[i] - t*stepv[i]
			}
			if next[0] > 0 {
				if nl = loss(next); nl <= cur {
					break
				}
			}
			t /= 2
		}
		if next[0] <= 0 || nl > cur {
			break
		}
		done := cur-nl < 1e-10
		theta, cur = next, nl
		if done {
			break
		}
	}
	c := calibration{t: 1 / theta[0], power: power, b: slices.Clone(theta[1 : 1+k]), h: h}
	if h != nil {
		c.d = slices.Clone(theta[1+k:])
	}
	return c, cur
}

// fitPower finds the length power by golden-section search over [0, 1], as
// training.FitCalibration does.
func fitPower(samples []training.CalibrationSample, h func(int, float64) float64) calibration {
	const phi = 0.6180339887498949
	lo, hi := 0.0, 1.0
	x1, x2 := hi-phi*(hi-lo), lo+phi*(hi-lo)
	_, f1 := fit(samples, x1, h)
	_, f2 := fit(samples, x2, h)
	for hi-lo > 1e-2 {
		if f1 <= f2 {
			hi, x2, f2 = x2, x1, f1
			x1 = hi - phi*(hi-lo)
			_, f1 = fit(samples, x1, h)
		} else {
			lo, x1, f1 = x1, x2, f2
			x2 = lo + phi*(hi-lo)
			_, f2 = fit(samples, x2, h)
		}
	}
	c, _ := fit(samples, (lo+hi)/2, h)
	return c
}

// solve returns x with a x = b by Gaussian elimination with partial pivoting.
func solve(a [][]float64, b []float64) ([]float64, bool) {
	n := len(b)
	m := make([][]float64, n)
	for i := range a {
		m[i] = append(slices.Clone(a[i]), b[i])
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
