package classifier

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// stackLabels is how many labels the scorer handles without a heap allocation.
const stackLabels = 16

// LogScores appends to dst the raw, uncalibrated score of every label for the document, in model
// label order: the log prior plus the summed weights of the document's known terms (see the
// package documentation). Calibration.Apply turns them into confidences; LogScores exists so a
// calibration can be fitted on held-out data. The title and the text are tokenized separately,
// so no word pair spans the two. LogScores does not validate the text.
func (m *Model) LogScores(dst []float64, title, text string) ([]float64, Stats) {
	dst, st, _ := m.logScores(dst, title, text, nil)
	return dst, st
}

// logScores is LogScores that also reports whether title and text are valid UTF-8 and, when p
// is not nil, scores the document's passages into p (see passages); the scores of invalid text
// are those LogScores returns for it.
func (m *Model) logScores(dst []float64, title, text string, p *passages) ([]float64, Stats, bool) {
	n := len(dst)
	dst = append(dst, m.priors...)
	var st Stats
	valid := m.accumulate(dst[n:], title, &st, p)
	valid = m.accumulate(dst[n:], text, &st, p) && valid
	if p != nil {
		m.closePassage(p, dst[n:], st.KnownTokens)
	}
	return dst, st, valid
}

// accumulate adds the weights of s's known terms to sums and reports whether s is valid UTF-8.
// This is the hot loop: no lock, no allocation, and a lookup touches one index slot and one row.
// Every p.window known terms it closes a passage of p, when p is not nil.
func (m *Model) accumulate(sums []float64, s string, st *Stats, p *passages) (valid bool) {
	st.Bytes += len(s)
	if len(s) == 0 {
		return true
	}
	if !m.tokenizer.Bigrams {
		return m.scoreWords(sums, s, st, p)
	}
	m.scoreTerms(sums, s, st, p)
	return utf8.ValidString(s)
}

// scoreTerms is accumulate through the general tokenizer, which also makes word pairs.
func (m *Model) scoreTerms(sums []float64, s string, st *Stats, p *passages) {
	tbl := m.tbl
	k := len(sums)
	tz := getTokenizer(m.tokenizer, s)
	defer putTokenizer(tz)
	for tz.next() {
		st.Tokens++
		i := tbl.lookup(tz.term, tz.key)
		if i < 0 {
			continue
		}
		st.KnownTokens++
		o := (i*tbl.stride + rowHeader) * 2
		row := tbl.weights[o : o+k]
		for c, w := range row {
			sums[c] += float64(w)
		}
		if p != nil && st.KnownTokens-p.known >= p.window {
			m.closePassage(p, sums, st.KnownTokens)
		}
	}
}

func (o Options) validate() error {
	if o.TopK < 0 {
		return fmt.Errorf("%w: top_k %d is negative; use 0 for all labels", ErrInvalidOptions, o.TopK)
	}
	if !(o.MinConfidence >= 0 && o.MinConfidence <= 1) {
		return fmt.Errorf("%w: min_confidence %v is outside [0, 1]", ErrInvalidOptions, o.MinConfidence)
	}
	if !(o.TopicThreshold >= 0 && o.TopicThreshold <= 1) {
		return fmt.Errorf("%w: topic_threshold %v is outside [0, 1]", ErrInvalidOptions, o.TopicThreshold)
	}
	if o.ExplainTerms < 0 || o.ExplainTerms > MaxExplainTerms {
		return fmt.Errorf("%w: explain terms %d is outside [0, %d]", ErrInvalidOptions, o.ExplainTerms, MaxExplainTerms)
	}
	return nil
}

// Classify labels one document. It refuses the documents ValidateDocument refuses (but does not
// see the id), with the same *DocumentError: a title and text both empty or white space
// (ErrEmptyDocument; either alone may be empty), or a title or text that is not UTF-8
// (ErrInvalidUTF8); bad options fail with ErrInvalidOptions. A document with no known term gets the calibrated priors.
// Classify is safe for concurrent use; it allocates a constant few objects per call (more with
// explanations), never per term.
func (m *Model) Classify(title, text string, opts Options) (Result, error) {
	if err := opts.validate(); err != nil {
		return Result{}, err
	}
	bias := m.cal.Bias
	var biasArr [stackLabels]float64
	mixed := opts.mixedFor == m || len(opts.LabelMix) > 0
	if opts.mixedFor == m {
		bias = opts.mixed
	} else if len(opts.LabelMix) > 0 {
		var err error
		if bias, err = m.mixBias(biasArr[:0], opts.LabelMix); err != nil {
			return Result{}, err
		}
	}
	// Scoring finds invalid UTF-8 (see scoreWords) and blank never accepts it, so checking for
	// blank text first and for invalid text after scoring gives the same errors as the other
	// order without a second pass over the text.
	if blank(text) && blank(title) {
		return Result{}, emptyDocument()
	}
	k := len(m.labels)
	var rawArr, confArr [stackLabels]float64
	var orderArr [stackLabels]int
	raw, conf, order := rawArr[:0], confArr[:k], orderArr[:k]
	if k > stackLabels {
		conf, order = make([]float64, k), make([]int, k)
	}
	var pa passages
	p := m.startPassages(&pa)
	raw, st, valid := m.logScores(raw, title, text, p)
	if !valid {
		return Result{}, invalidUTF8(title)
	}
	inv := m.invTemperature(st.KnownTokens)
	softmax(conf, raw, inv, bias)
	// Topics read the confidences under the model's own calibration, whatever the label mix.
	topicConf := conf
	if mixed {
		var ownArr [stackLabels]float64
		topicConf = ownArr[:k]
		if k > stackLabels {
			topicConf = make([]float64, k)
		}
		softmax(topicConf, raw, inv, m.cal.Bias)
	}
	topics := make([]TopicScore, k-1)
	m.scoreTopics(topics, topicConf, p, st.KnownTokens, opts.TopicThreshold)

	for i := range order {
		order[i] = i
	}
	// Insertion sort: there are a handful of labels, and ties keep model order.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && conf[order[j]] > conf[order[j-1]]; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	n := k
	if opts.TopK > 0 && opts.TopK < k {
		n = opts.TopK
	}
	res := Result{
		Label:      m.labels[order[0]],
		Confidence: conf[order[0]],
		Scores:     make([]LabelScore, n),
		Topics:     topics,
		Stats:      st,
	}
	for i := range res.Scores {
		res.Scores[i] = LabelScore{Label: m.labels[order[i]], Confidence: conf[order[i]]}
	}
	if res.Confidence < opts.MinConfidence {
		res.Label = m.labels[m.fallback]
		res.Abstained = true
	}
	if opts.ExplainTerms > 0 {
		res.Explanations = m.explain(title, text, inv, order[:n], opts.ExplainTerms)
		m.evidence(res.Topics, text)
	}
	return res, nil
}

// explain lists, for each label in order, the document's terms with the largest summed
// contribution to that label's log-odds against the others. A term's contribution to label c is
// its count times (w(t,c) - mean over the other labels of w(t,l)), scaled by the calibration's
// 1/T: the amount by which the term moved c's scaled score above the average competitor's.
func (m *Model) explain(title, text string, inv float64, order []int, n int) []Explanation {
	counts := make(map[int]int)
	for _, s := range []string{title, text} {
		tz := getTokenizer(m.tokenizer, s)
		for tz.next() {
			if i := m.tbl.lookup(tz.term, tz.key); i >= 0 {
				counts[i]++
			}
		}
		putTokenizer(tz)
	}
	ids := make([]int, 0, len(counts))
	for i := range counts {
		ids = append(ids, i)
	}
	slices.Sort(ids)
	k := len(m.labels)
	out := make([]Explanation, len(order))
	type cand struct {
		id int
		w  float64
	}
	cands := make([]cand, 0, len(ids))
	for j, c := range order {
		cands = cands[:0]
		for _, id := range ids {
			row := m.tbl.row(id)
			var others float64
			for l, w := range row {
				if l != c {
					others += float64(w)
				}
			}
			w := (float64(row[c]) - others/float64(k-1)) * float64(counts[id]) * inv
			if w > 0 && !math.IsInf(w, 0) {
				cands = append(cands, cand{id, w})
			}
		}
		slices.SortStableFunc(cands, func(a, b cand) int {
			switch {
			case a.w > b.w:
				return -1
			case a.w < b.w:
				return 1
			}
			return 0
		})
		if len(cands) > n {
			cands = cands[:n]
		}
		terms := make([]TermWeight, len(cands))
		for i, cd := range cands {
			terms[i] = TermWeight{Term: string(m.tbl.term(cd.id)), Weight: cd.w}
		}
		out[j] = Explanation{Label: m.labels[c], Terms: terms}
	}
	return out
}

// invTemperature returns 1/T for a document with n known terms, from the cache when it can.
func (m *Model) invTemperature(n int) float64 {
	if m.invT != nil && uint(n) < uint(len(m.invT)) {
		return m.invT[n]
	}
	return 1 / m.cal.TemperatureFor(n)
}

// PrepareOptions checks opts for this model, with the error Classify would return (wrapping
// ErrInvalidOptions), so a caller can refuse a whole batch before classifying any of it, and
// returns them with the work a label mix needs done once: Classify with the result on this
// model skips it.
func (m *Model) PrepareOptions(opts Options) (Options, error) {
	if err := opts.validate(); err != nil {
		return Options{}, err
	}
	opts.mixed, opts.mixedFor = nil, nil
	if len(opts.LabelMix) > 0 {
		b, err := m.mixBias(nil, opts.LabelMix)
		if err != nil {
			return Options{}, err
		}
		opts.mixed, opts.mixedFor = b, m
	}
	return opts, nil
}

// LabelMix returns the share of each label the model's confidences assume: the mix its
// calibration was fitted on, or for a model without one, its training documents' mix.
func (m *Model) LabelMix() map[string]float64 {
	mix := make(map[string]float64, len(m.labels))
	for c, p := range m.assumedMix() {
		mix[m.labels[c]] = p
	}
	return mix
}

func (m *Model) assumedMix() []float64 {
	if len(m.cal.Mix) == len(m.labels) {
		return m.cal.Mix
	}
	mix := make([]float64, len(m.labels))
	var total float64
	for _, d := range m.docs {
		total += float64(d)
	}
	for c, d := range m.docs {
		mix[c] = float64(d) / total
	}
	return mix
}

// clipKey shortens a label_mix key that is no label before an error quotes it: the message goes
// back to the caller and to logs, and must not be as large as what the caller sent.
func clipKey(l string) string {
	if len(l) <= maxLabelLen {
		return l
	}
	return l[:maxLabelLen] + "..." // %q shows a rune cut in two as escaped bytes
}

// mixBias appends to dst the calibration's biases moved from the label mix the model assumes to
// mix: adding ln(new share / assumed share) to a label's score is Bayes' rule for a change of
// priors, applied to calibrated confidences.
func (m *Model) mixBias(dst []float64, mix map[string]float64) ([]float64, error) {
	old := m.assumedMix()
	var listed, listedOld float64
	// Sorted by name, not in map order, so a mix with two mistakes always reports the same one.
	for _, l := range slices.Sorted(maps.Keys(mix)) {
		p := mix[l]
		c := slices.Index(m.labels, l)
		if c < 0 {
			return nil, fmt.Errorf("%w: label_mix names %q, which is not a label of this model (%s)", ErrInvalidOptions, clipKey(l), strings.Join(m.labels, ", "))
		}
		if !(p > 0 && p < 1) {
			return nil, fmt.Errorf("%w: label_mix share %v for %q is outside (0, 1)", ErrInvalidOptions, p, l)
		}
		listed += p
		listedOld += old[c]
	}
	// Shares of every label must add up; a little rounding (0.33 three times) is forgiven and
	// normalised away.
	all := len(mix) == len(m.labels)
	if all && math.Abs(listed-1) > 0.01+1e-9 {
		return nil, fmt.Errorf("%w: label_mix shares of all %d labels sum to %.4g; make them sum to 1", ErrInvalidOptions, len(mix), listed)
	}
	if !all && listed >= 1 {
		return nil, fmt.Errorf("%w: label_mix shares sum to %.4g, leaving nothing for the labels not listed; make them sum to less than 1", ErrInvalidOptions, listed)
	}
	for c, l := range m.labels {
		var p float64
		if v, ok := mix[l]; ok {
			p = v
			if all {
				p /= listed
			}
		} else {
			p = (1 - listed) * old[c] / (1 - listedOld)
		}
		var b float64
		if len(m.cal.Bias) == len(m.labels) {
			b = m.cal.Bias[c]
		}
		dst = append(dst, b+math.Log(p)-math.Log(old[c]))
	}
	return dst, nil
}
