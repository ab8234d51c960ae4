// Command sublabels measures training `other` as several labels, one per group of the corpus'
// sections (crime, conflict, politics, sport, ...), and reading their confidences back as one
// `other`. The sections are never a model input: they only split the training label, and every
// answer still has the four labels. Each row is calibrated as the shipped model is (power+bias on
// out-of-fold scores, at the recipe's label mix) and, for split rows, also with a loss that scores
// only the merged label ("grouped loss"). docs/accuracy.md reports the numbers.
//
//	go run ./scripts/experiments/sublabels -data ../shared/corpus/news-topics-train-v2.jsonl         # newest-rows split
//	go run ./scripts/experiments/sublabels -data ../shared/corpus/news-topics-train-v2.jsonl -all    # every row
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

func main() {
	data := flag.String("data", "../shared/corpus/news-topics-train-v2.jsonl", "corpus JSONL")
	all := flag.Bool("all", false, "train on every row instead of the newest-rows training split")
	probes := flag.String("probes", "scripts/experiments/probe", "folder of the probe sets")
	only := flag.String("only", "", "run only the rows whose name holds this")
	extra = flag.String("rows", "", "more rows: scheme|mix|weights|alpha;... (scheme all, crime, news3 or empty)")
	flag.Parse()
	if err := run(*data, *probes, *all, *only); err != nil {
		log.Fatal(err)
	}
}

// group maps an editors' section to a sub-label of other.
func group(section string, scheme string) string {
	s := strings.ToLower(section)
	var g string
	switch {
	case strings.Contains(s, "armed conflict"):
		g = "conflict"
	case strings.Contains(s, "crime"):
		g = "crime"
	case strings.Contains(s, "politic"):
		g = "politics"
	case strings.Contains(s, "disaster"):
		g = "disasters"
	case strings.Contains(s, "business"):
		g = "business"
	case strings.Contains(s, "health"):
		g = "health"
	case strings.Contains(s, "arts"):
		g = "arts"
	case strings.Contains(s, "sport"):
		g = "sport"
	case strings.Contains(s, "science"):
		g = "science"
	default:
		g = "misc"
	}
	switch scheme {
	case "crime":
		if g != "crime" {
			g = "rest"
		}
	case "news3":
		if g != "crime" && g != "conflict" && g != "politics" {
			g = "rest"
		}
	}
	return "other-" + g
}

var extra *string

type row struct {
	name   string
	scheme string // "" for the four labels
	edit   func(*training.Recipe)
}

func run(data, probes string, all bool, only string) error {
	c, err := training.LoadCorpus(data)
	if err != nil {
		return err
	}
	sections, err := readSections(data)
	if err != nil {
		return err
	}
	exs := c.Examples
	var trainEx, validEx []training.Example
	if all {
		trainEx = exs
	} else {
		if trainEx, validEx, err = training.SplitNewestExamples(exs, 0.2); err != nil {
			return err
		}
	}
	type set struct {
		name string
		exs  []training.Example
	}
	var sets []set
	if !all {
		sets = append(sets, set{"newest", validEx})
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
		sets = append(sets, set{n, pe})
	}
	rows := []row{
		{"shipped labels", "", nil},
		{"other split by section (9 groups)", "all", nil},
		{"other split: crime, rest", "crime", nil},
		{"other split: crime, conflict, politics, rest", "news3", nil},
		{"9 groups, no label weights", "all", func(r *training.Recipe) { r.Scoring.LabelWeights = nil }},
		{"9 groups, multinomial", "all", func(r *training.Recipe) { r.Scoring.Variant = classifier.Multinomial }},
		{"9 groups, mix cyber 5 %", "all", func(r *training.Recipe) { r.CalibrationMix = map[string]float64{"cybersecurity": 0.05} }},
	}
	for _, spec := range strings.Split(*extra, ";") {
		if spec == "" {
			continue
		}
		// scheme|mix|weights|alpha
		f := strings.Split(spec, "|")
		for len(f) < 4 {
			f = append(f, "")
		}
		mixS, wS, aS := f[1], f[2], f[3]
		rows = append(rows, row{spec, f[0], func(r *training.Recipe) {
			if mixS != "" {
				mx, err := training.ParseLabelWeights(mixS)
				if err != nil {
					log.Fatal(err)
				}
				r.CalibrationMix = mx
			}
			if wS != "" {
				w, err := training.ParseLabelWeights(wS)
				if err != nil {
					log.Fatal(err)
				}
				r.Scoring.LabelWeights = w
			}
			if aS != "" {
				fmt.Sscan(aS, &r.Scoring.Alpha)
			}
		}})
	}
	for _, rw := range rows {
		if only != "" && !strings.Contains(rw.name, only) {
			continue
		}
		r := training.Shipped()
		r.TopicFeatures = "none"
		tex := trainEx
		if rw.scheme != "" {
			tex = slices.Clone(trainEx)
			seen := map[string]bool{}
			for i := range tex {
				if tex[i].Label == "other" {
					tex[i].Label = group(sections[tex[i].ID], rw.scheme)
					seen[tex[i].Label] = true
				}
			}
			r.Labels = []string{"cybersecurity", "migration", "diplomacy"}
			for _, l := range slices.Sorted(maps.Keys(seen)) {
				r.Labels = append(r.Labels, l)
			}
			r.Fallback = r.Labels[3]
		}
		if rw.edit != nil {
			rw.edit(&r)
		}
		cfg := training.Config{Labels: r.Labels, Fallback: r.Fallback, Tokenizer: r.Tokenizer, Scoring: r.Scoring,
			MinTermCount: r.MinTermCount, MaxTerms: r.MaxTerms}
		short, long, err := training.OutOfFoldSamples(tex, cfg, r.CalibrationFolds, r.Long)
		if err != nil {
			return err
		}
		partial := make([]float64, len(r.Labels))
		for i, l := range r.Labels {
			partial[i] = r.CalibrationMix[l]
		}
		mix := training.FullMix(short, partial)
		training.ToMix(short, mix)
		training.ToMix(long, mix)
		samples := short
		wl := r.LongShare / (1 - r.LongShare) * float64(len(short)) / float64(len(long))
		for _, l := range long {
			l.Weight *= wl
			samples = append(samples, l)
		}
		fc, err := training.FitCalibration(samples, training.CalibrationFit{Power: true, Bias: true})
		if err != nil {
			return err
		}
		base := cal{t: fc.Temperature, power: fc.LengthPower, b: fc.Bias}
		group := make([]int, len(r.Labels))
		for i, l := range r.Labels {
			group[i] = slices.Index(four, merge(l))
		}
		m, err := training.Train(tex, cfg)
		if err != nil {
			return err
		}
		cals := []cal{base}
		names := []string{""}
		if rw.scheme != "" {
			cals = append(cals, fitGrouped(samples, group, base))
			names = append(names, " (grouped loss)")
		}
		for ci, cl := range cals {
			line := "| " + rw.name + names[ci] + fmt.Sprintf(" T %.2f p %.2f |", cl.t, cl.power)
			for _, s := range sets {
				rep := eval(m, cl, group, s.exs)
				line += fmt.Sprintf(" %s: acc %.3f F1 %.3f", s.name, rep.Accuracy, rep.MacroF1)
				for _, lm := range rep.Labels {
					if lm.Label != "other" {
						line += fmt.Sprintf(" %s %.2f/%.2f", lm.Label[:3], lm.Precision, lm.Recall)
					}
				}
				line += fmt.Sprintf(" ECE %.3f |", rep.ExpectedCalibrationError)
			}
			fmt.Println(line)
		}
	}
	return nil
}

var four = []string{"cybersecurity", "migration", "diplomacy", "other"}

func merge(l string) string {
	if strings.HasPrefix(l, "other") {
		return "other"
	}
	return l
}

// eval scores exs with m's raw scores under calibration c, adds the probabilities of every
// class of a reported label, and scores the result against the four labels.
func eval(m *classifier.Model, c cal, group []int, exs []training.Example) training.Report {
	preds := make([]training.Prediction, 0, len(exs))
	var p []float64
	for _, ex := range exs {
		s, st := m.LogScores(nil, ex.Title, ex.Text)
		p = c.probs(p, s, st.KnownTokens)
		merged := make([]float64, 4)
		for j, v := range p {
			merged[group[j]] += v
		}
		best := 0
		for j := range merged {
			if merged[j] > merged[best] {
				best = j
			}
		}
		preds = append(preds, training.Prediction{Label: ex.Label, Predicted: four[best], Confidence: merged[best]})
	}
	return training.Evaluate(four, preds)
}

func readSections(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r struct{ ID, Section string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, err
		}
		out[r.ID] = r.Section
	}
	return out, sc.Err()
}

// cal is z_c = s_c / (t (1+n)^power) + b_c.
type cal struct {
	t, power float64
	b        []float64
}

func (c cal) probs(dst, s []float64, n int) []float64 {
	dst = dst[:0]
	inv := 1 / (c.t * math.Pow(1+float64(n), c.power))
	mx := math.Inf(-1)
	for i, v := range s {
		z := v*inv + c.b[i]
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

// groupedNLL is the weighted mean of -log (the summed probability of the classes of the sample's
// reported label), and its gradient in (log t, power, b).
func groupedNLL(samples []training.CalibrationSample, group []int, c cal) (float64, []float64) {
	k := len(c.b)
	g := make([]float64, 2+k)
	var loss, wsum float64
	var p []float64
	for _, s := range samples {
		w := s.Weight
		if w == 0 {
			w = 1
		}
		p = c.probs(p, s.Scores, s.KnownTokens)
		tg := group[s.Label]
		var pg float64
		for j := range p {
			if group[j] == tg {
				pg += p[j]
			}
		}
		pg = math.Max(pg, 1e-300)
		loss -= w * math.Log(pg)
		wsum += w
		inv := 1 / (c.t * math.Pow(1+float64(s.KnownTokens), c.power))
		ln := math.Log(1 + float64(s.KnownTokens))
		for j := range p {
			d := p[j]
			if group[j] == tg {
				d -= p[j] / pg
			}
			d *= w
			si := s.Scores[j] * inv
			g[0] -= d * si
			g[1] -= d * si * ln
			g[2+j] += d
		}
	}
	for i := range g {
		g[i] /= wsum
	}
	return loss / wsum, g
}

// fitGrouped improves c by gradient descent with backtracking on the grouped loss.
func fitGrouped(samples []training.CalibrationSample, group []int, c cal) cal {
	step := 1.0
	loss, g := groupedNLL(samples, group, c)
	for it := 0; it < 300; it++ {
		var nc cal
		for {
			nc = cal{t: c.t * math.Exp(-step*g[0]), power: math.Min(1, math.Max(0, c.power-step*g[1])), b: slices.Clone(c.b)}
			for j := range nc.b {
				nc.b[j] -= step * g[2+j]
			}
			nl, ng := groupedNLL(samples, group, nc)
			if nl < loss {
				c, loss, g = nc, nl, ng
				step *= 1.5
				break
			}
			step /= 2
			if step < 1e-9 {
				return c
			}
		}
	}
	return c
}
