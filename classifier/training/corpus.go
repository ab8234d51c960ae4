package training

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxCorpusLine bounds one JSONL line of a corpus.
const maxCorpusLine = 64 << 20

// corpusLine is one line of a corpus file; other fields are ignored.
type corpusLine struct {
	ID          string `json:"id"`
	Date        string `json:"date"`
	Label       string `json:"label"`
	LabelSource string `json:"label_source"`
	Title       string `json:"title"`
	Text        string `json:"text"`
	// Topics is every topic the row is about (corpus version 2 and the multi-topic probe
	// sets); nil when the file has no such field.
	Topics []string `json:"topics"`
}

// ReadCorpus reads a JSONL corpus: one JSON object a line with the fields id, date, label,
// label_source, title (optional) and text; other fields are ignored, blank lines skipped. An
// error names the line it is on.
func ReadCorpus(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxCorpusLine)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var l corpusLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("corpus line %d: %v", line, err)
		}
		if l.Label == "" {
			return nil, fmt.Errorf("corpus line %d: no label", line)
		}
		if l.ID == "" {
			l.ID = fmt.Sprintf("line-%d", line)
		}
		out = append(out, Example(l))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("corpus line %d: %w", line+1, err)
	}
	return out, nil
}

// ReadCorpusFile reads the JSONL corpus at path (see ReadCorpus) and returns its examples and the
// SHA-256 of the file, in hex, for Config.CorpusSHA256.
func ReadCorpusFile(path string) ([]Example, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	ex, err := ReadCorpus(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return ex, hex.EncodeToString(sum[:]), nil
}

// Corpus is a training corpus and the provenance a model trained on it records.
type Corpus struct {
	Name     string // recorded in the model, for example the file's base name
	SHA256   string // of the file, in hex
	Examples []Example
	// License of the data, stored in the model.
	License string
	// TrainedAt is the model's date. LoadCorpus sets the newest row date, not the clock, so
	// training is byte-reproducible.
	TrainedAt time.Time
	// TopicArticles, when set, are full-length articles labelled with every topic they are
	// about (LoadTopicArticles): Recipe.Build rescales the topic probabilities to them (see
	// Recipe.Fit). TopicArticlesName names them in the model's provenance.
	TopicArticles     []Example
	TopicArticlesName string
}

// DefaultTopicArticles are the hand-written articles, relative to the repository's root, that
// the shipped model's topic probabilities are rescaled to: the development halves of the
// multi-topic and border sets and the short multi-topic items, which have no test half
// (docs/accuracy.md). The test halves are never read in training.
var DefaultTopicArticles = []string{
	"scripts/experiments/probe/multitopic-dev.jsonl",
	"scripts/experiments/probe/border-dev.jsonl",
	"scripts/experiments/probe/multitopic2-dev.jsonl",
	"scripts/experiments/probe/multitopic-short-dev.jsonl",
}

// LoadTopicArticles reads the article files at paths (JSONL in the corpus format, each row with
// a topics list) and names them for the provenance: base names and the SHA-256 of their bytes in
// order.
func LoadTopicArticles(paths []string) ([]Example, string, error) {
	var all []Example
	var names []string
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, "", err
		}
		h.Write(data)
		exs, err := ReadCorpus(bytes.NewReader(data))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p, err)
		}
		for _, ex := range exs {
			if ex.Topics == nil {
				return nil, "", fmt.Errorf("%s: row %q has no topics list; topic articles must say every topic they are about", p, ex.ID)
			}
		}
		all = append(all, exs...)
		names = append(names, filepath.Base(p))
	}
	return all, fmt.Sprintf("%s (sha256 %s)", strings.Join(names, ","), hex.EncodeToString(h.Sum(nil))[:16]), nil
}

// NewsTopicsLicense is the credit the news-topics corpus requires of derived works.
const NewsTopicsLicense = `Derived from "Wikipedia contributors, Portal:Current events", CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); the model file is distributed under CC BY-SA 4.0.`

// knownLicenses are the licences of corpora known by their SHA-256: the versions of
// ../shared/corpus/news-topics-train*.jsonl.
var knownLicenses = map[string]string{
	"f53f1e4a56c45249aba5415ddec567ec53be344a6074a5861022c57929f6b6ab": NewsTopicsLicense, // news-topics-train.jsonl
	"b784dfdaf7c2861c14a66693675a9dc254caf6c7493f3a98a2c2b61a3b1ef91d": NewsTopicsLicense, // news-topics-train-v2.jsonl
}

// LoadCorpus reads the JSONL corpus at path (see ReadCorpus). The corpus is named after the
// file's base name, dated by its newest row (NewestDate), and carries the licence of a corpus
// known by its hash (the news-topics credit), else none. Callers may change any of these.
func LoadCorpus(path string) (Corpus, error) {
	exs, sum, err := ReadCorpusFile(path)
	if err != nil {
		return Corpus{}, err
	}
	return Corpus{Name: filepath.Base(path), SHA256: sum, Examples: exs, License: knownLicenses[sum], TrainedAt: NewestDate(exs)}, nil
}

// NewestDate is the newest row date of exs (YYYY-MM-DD), or the zero time when no row has one.
func NewestDate(exs []Example) time.Time {
	var newest time.Time
	for _, ex := range exs {
		if t, err := time.Parse(time.DateOnly, ex.Date); err == nil && t.After(newest) {
			newest = t
		}
	}
	return newest
}
