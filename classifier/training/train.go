package training

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cdipaolo/goml/base"
	"github.com/cdipaolo/goml/text"

	"github.com/topicd/topicd/classifier"
)

// DefaultLabels are the labels Train uses when Config.Labels is empty.
var DefaultLabels = []string{"cybersecurity", "migration", "diplomacy", "other"}

// DefaultFallbackLabel is the fallback label when Config.Fallback is empty.
const DefaultFallbackLabel = "other"

// Example is one labelled training document.
type Example struct {
	ID          string
	Date        string // YYYY-MM-DD, for date splits; not a model input
	Label       string
	LabelSource string // how the label was decided (section, story, text); not a model input
	Title       string
	Text        string
	// Topics is every topic the document is about, when the corpus says (its `topics` field);
	// nil when it does not. Not a model input: topic calibration fits and is judged on it.
	Topics []string
}

// maxLabels is goml's limit: it numbers classes with a uint8.
const maxLabels = 255

// Config sets up Train. The zero value trains a multinomial model on DefaultLabels with the
// zero classifier.TokenizerConfig, every document and every term.
type Config struct {
	// Labels in model order; empty means DefaultLabels. Every example's label must be one.
	Labels []string
	// Fallback is the label returned when Classify abstains; empty means DefaultFallbackLabel,
	// which must then be among Labels.
	Fallback  string
	Tokenizer classifier.TokenizerConfig
	Scoring   classifier.ScoringConfig
	// Calibration to store in the model; fit it on held-out data (FitCalibration) and set it
	// with Model.WithCalibration when it is not known in advance.
	Calibration classifier.Calibration
	// Topics is the topic calibration to store in the model (FitTopicCalibration); the zero
	// value serves each topic's label confidence.
	Topics classifier.TopicCalibration
	// MaxDocsPerLabel, when positive, keeps at most that many documents of each label, spread
	// evenly over the label's examples in input order (deterministic).
	MaxDocsPerLabel int
	// MinTermCount drops terms seen fewer times than this in all training documents together.
	MinTermCount int
	// MaxTerms, when positive, keeps only that many terms (of those MinTermCount keeps): the ones
	// whose counts say most about the label, by the largest chi-squared statistic of the term
	// against any one label (see selectTerms).
	MaxTerms int
	// Provenance recorded in the model file. TrainedAt stays zero unless set, so training is
	// byte-reproducible; Settings are merged over the settings Train records itself.
	Corpus       string
	CorpusSHA256 string
	TrainedAt    time.Time
	Settings     map[string]string
	// License of the training data, stored in the model file.
	License string
}

// gomlKey maps a term to the key goml stores. goml's OnlineLearn silently drops words shorter
// than three bytes ("eu", "un", "us" matter for diplomacy), so short terms are padded with NUL
// bytes, which the tokenizer never produces; termOf strips them again.
func gomlKey(term string) string {
	switch len(term) {
	case 1:
		return term + "\x00\x00"
	case 2:
		return term + "\x00"
	}
	return term
}

func termOf(key string) string { return strings.TrimRight(key, "\x00") }

// gomlTokenizer adapts the project's tokenizer to goml's Tokenizer interface and, when vocab is
// not nil, remembers every key it produced, since goml offers no way to list its vocabulary.
type gomlTokenizer struct {
	cfg   classifier.TokenizerConfig
	vocab map[string]struct{}
}

// Tokenize implements text.Tokenizer.
func (g *gomlTokenizer) Tokenize(s string) []string {
	var out []string
	g.cfg.Tokenize(s, func(term []byte) {
		if len(term) > classifier.MaxTermBytes {
			return
		}
		k := gomlKey(string(term))
		if g.vocab != nil {
			g.vocab[k] = struct{}{}
		}
		out = append(out, k)
	})
	return out
}

// keepNothingOut is the pass-through sanitizer: goml's default one deletes punctuation and
// newlines and so glues words together.
func keepNothingOut(rune) bool { return false }

// Train learns a model from examples. The counts are learned by goml's text.NaiveBayes through
// OnlineLearn, fed by the project's tokenizer, and compiled for scoring by classifier.New. goml's
// own Predict and Probability are never used to score: Predict does not normalise by a label's
// token total and Probability underflows on ordinary articles. The same examples and config
// always give a model with the same bytes.
func Train(examples []Example, cfg Config) (*classifier.Model, error) {
	p, _, err := count(examples, cfg)
	if err != nil {
		return nil, err
	}
	return classifier.New(p)
}

// count learns the parts of a model; it also returns goml's model, for tests that compare counts.
func count(examples []Example, cfg Config) (classifier.Parts, *text.NaiveBayes, error) {
	var none classifier.Parts
	labels := cfg.Labels
	if len(labels) == 0 {
		labels = DefaultLabels
	}
	labels = slices.Clone(labels)
	fallback := cfg.Fallback
	if fallback == "" {
		fallback = DefaultFallbackLabel
	}
	if !slices.Contains(labels, fallback) {
		return none, nil, fmt.Errorf("fallback label %q is not one of the labels %v", fallback, labels)
	}
	if len(labels) < 2 || len(labels) > maxLabels {
		return none, nil, fmt.Errorf("%d labels, want 2 to %d", len(labels), maxLabels)
	}
	index := make(map[string]int, len(labels))
	for i, l := range labels {
		index[l] = i
	}
	perLabel := make([]int, len(labels))
	for _, ex := range examples {
		c, ok := index[ex.Label]
		if !ok {
			return none, nil, fmt.Errorf("example %q: label %q is not one of %v", ex.ID, ex.Label, labels)
		}
		if !utf8.ValidString(ex.Title) || !utf8.ValidString(ex.Text) {
			return none, nil, fmt.Errorf("example %q: %w", ex.ID, classifier.ErrInvalidUTF8)
		}
		perLabel[c]++
	}

	stream := make(chan base.TextDatapoint, 256)
	nb := text.NewNaiveBayes(stream, uint8(len(labels)), keepNothingOut)
	nb.Output = io.Discard
	tok := &gomlTokenizer{cfg: cfg.Tokenizer, vocab: make(map[string]struct{})}
	nb.UpdateTokenizer(tok)
	errs := make(chan error)
	done := make(chan error, 1)
	go func() {
		var first error
		for err := range errs {
			if first == nil {
				first = err
			}
		}
		done <- first
	}()
	go nb.OnlineLearn(errs)

	seen := make([]int, len(labels))
	for _, ex := range examples {
		c := index[ex.Label]
		j := seen[c]
		seen[c]++
		if n := cfg.MaxDocsPerLabel; n > 0 && perLabel[c] > n {
			// Keep the j-th of the label's examples when it crosses a multiple of total/n.
			if (j+1)*n/perLabel[c] == j*n/perLabel[c] {
				continue
			}
		}
		x := ex.Text
		if ex.Title != "" {
			// The newline is a sentence break: no word pair spans title and text, as in scoring.
			x = ex.Title + "\n" + ex.Text
		}
		stream <- base.TextDatapoint{X: x, Y: uint8(c)}
	}
	close(stream)
	if err := <-done; err != nil {
		return none, nil, fmt.Errorf("goml training: %v", err)
	}

	k := len(labels)
	keys := slices.Sorted(maps.Keys(tok.vocab))
	terms := make([]string, 0, len(keys))
	for _, key := range keys {
		terms = append(terms, termOf(key))
	}
	// Padding changes the order of short terms; the file wants byte order.
	slices.Sort(terms)
	counts := make(map[string][]uint64, len(terms))
	kept := terms[:0:0]
	for _, t := range terms {
		w, ok := nb.Words.Get(gomlKey(t))
		if !ok || len(w.Count) != k {
			return none, nil, fmt.Errorf("goml lost the term %q", t)
		}
		if w.Seen >= uint64(cfg.MinTermCount) {
			kept = append(kept, t)
			counts[t] = w.Count
		}
	}
	if cfg.MaxTerms > 0 && len(kept) > cfg.MaxTerms {
		kept = selectTerms(kept, counts, cfg.MaxTerms)
	}
	c := classifier.Counts{Documents: slices.Clone(nb.Count)}
	for _, t := range kept {
		for _, n := range counts[t] {
			if n > math.MaxUint32 {
				return none, nil, fmt.Errorf("term %q: count %d too large", t, n)
			}
			c.PerLabel = append(c.PerLabel, uint32(n))
		}
		c.Terms = append(c.Terms, t)
	}

	settings := map[string]string{
		"tokenizer.min_length":      strconv.Itoa(cfg.Tokenizer.MinLength),
		"tokenizer.drop_numbers":    strconv.FormatBool(cfg.Tokenizer.DropNumbers),
		"tokenizer.drop_stop_words": strconv.FormatBool(cfg.Tokenizer.DropStopWords),
		"tokenizer.bigrams":         strconv.FormatBool(cfg.Tokenizer.Bigrams),
		"train.max_docs_per_label":  strconv.Itoa(cfg.MaxDocsPerLabel),
		"train.min_term_count":      strconv.Itoa(cfg.MinTermCount),
		"train.examples":            strconv.Itoa(len(examples)),
	}
	if cfg.MaxTerms > 0 {
		settings["train.max_terms"] = strconv.Itoa(cfg.MaxTerms)
	}
	maps.Copy(settings, cfg.Settings)
	p := classifier.Parts{
		Labels:      labels,
		Fallback:    fallback,
		Tokenizer:   cfg.Tokenizer,
		Scoring:     cfg.Scoring,
		Calibration: cfg.Calibration,
		Topics:      cfg.Topics,
		Counts:      c,
		Provenance: classifier.Provenance{
			Corpus:       cfg.Corpus,
			CorpusSHA256: cfg.CorpusSHA256,
			TrainedAt:    cfg.TrainedAt,
			Settings:     settings,
		},
		License: cfg.License,
	}
	return p, nb, nil
}

// selectTerms returns the n terms (in their order in terms) with the largest chi-squared
// statistic of term occurrence against label, the largest over the labels: for term t and label
// c, the 2x2 table of term counts (t or another term) by (c or another label). Ties keep the
// earlier term, so the result is deterministic.
func selectTerms(terms []string, counts map[string][]uint64, n int) []string {
	var k int
	for _, t := range terms {
		k = len(counts[t])
		break
	}
	perLabel := make([]float64, k)
	var total float64
	for _, t := range terms {
		for c, v := range counts[t] {
			perLabel[c] += float64(v)
			total += float64(v)
		}
	}
	score := make([]float64, len(terms))
	for i, t := range terms {
		var nt float64
		for _, v := range counts[t] {
			nt += float64(v)
		}
		for c, v := range counts[t] {
			a := float64(v)       // t in c
			b := nt - a           // t elsewhere
			cc := perLabel[c] - a // other terms in c
			d := total - nt - cc  // other terms elsewhere
			den := (a + cc) * (b + d) * (a + b) * (cc + d)
			if den > 0 {
				score[i] = max(score[i], total*(a*d-b*cc)*(a*d-b*cc)/den)
			}
		}
	}
	order := make([]int, len(terms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(score[y], score[x]) })
	order = order[:n]
	slices.Sort(order)
	out := make([]string, n)
	for i, j := range order {
		out[i] = terms[j]
	}
	return out
}
