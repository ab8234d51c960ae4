package training

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/topicd/topicd/classifier"
)

var diplomacyExamples = []Example{
	{ID: "1", Label: "diplomacy", Title: "EU and UN", Text: "The EU and the UN signed a treaty. US envoy met the EU."},
	{ID: "2", Label: "cybersecurity", Text: "Hackers breached the ministry; ransomware hit servers."},
	{ID: "3", Label: "migration", Text: "Asylum seekers crossed the border."},
	{ID: "4", Label: "other", Text: "The team won the cup."},
	{ID: "5", Label: "other", Text: "A storm hit the coast."},
}

// TestCountsAreGoml checks that the compiled model holds exactly goml's counts, short terms
// included, which goml would have dropped without the key padding.
func encode(t testing.TB, m *classifier.Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCountsAreGoml(t *testing.T) {
	for _, cfg := range []classifier.TokenizerConfig{{}, {Bigrams: true}} {
		p, nb, err := count(diplomacyExamples, Config{Tokenizer: cfg})
		if err != nil {
			t.Fatal(err)
		}
		m, err := classifier.New(p)
		if err != nil {
			t.Fatal(err)
		}
		counts, labels := m.Counts(), m.Labels()
		k := len(labels)
		if !slices.Equal(counts.Documents, nb.Count) {
			t.Errorf("documents per label = %v, goml counted %v", counts.Documents, nb.Count)
		}
		var terms []string
		for i, term := range counts.Terms {
			terms = append(terms, term)
			w, ok := nb.Words.Get(gomlKey(term))
			if !ok {
				t.Fatalf("term %q is not in goml's vocabulary", term)
			}
			for c := 0; c < k; c++ {
				if uint64(counts.PerLabel[i*k+c]) != w.Count[c] {
					t.Errorf("count(%q, %s) = %d, goml has %d", term, labels[c], counts.PerLabel[i*k+c], w.Count[c])
				}
			}
		}
		if uint64(len(terms)) != nb.DictCount {
			t.Errorf("vocabulary size %d, goml has %d", len(terms), nb.DictCount)
		}
		for _, short := range []string{"eu", "un", "us", "a"} {
			if !slices.Contains(terms, short) {
				t.Errorf("vocabulary %q lacks the short term %q", terms, short)
			}
		}
		i := slices.Index(terms, "eu")
		if i >= 0 && counts.PerLabel[i*k+2] != 3 {
			t.Errorf("count(eu, diplomacy) = %d, want 3 (title and text)", counts.PerLabel[i*k+2])
		}
	}
}

func TestTrainSettings(t *testing.T) {
	many := slices.Clone(diplomacyExamples)
	for i := 0; i < 9; i++ {
		many = append(many, Example{ID: "o", Label: "other", Text: "rare" + strings.Repeat("x", i) + " common"})
	}
	t.Run("max docs per label", func(t *testing.T) {
		m, err := Train(many, Config{MaxDocsPerLabel: 3})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Info().TrainingDocuments["other"]; got != 3 {
			t.Errorf("TrainingDocuments[other] = %d, want 3", got)
		}
	})
	t.Run("min term count", func(t *testing.T) {
		m, err := Train(many, Config{MinTermCount: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, term := range m.Counts().Terms {
			if strings.HasPrefix(term, "rare") {
				t.Errorf("term %q seen once survived MinTermCount 2", term)
			}
		}
	})
	t.Run("reproducible bytes", func(t *testing.T) {
		cfg := Config{Tokenizer: classifier.TokenizerConfig{Bigrams: true, DropStopWords: true}, Scoring: classifier.ScoringConfig{Variant: classifier.Complement}}
		a, err := Train(many, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Train(many, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(encode(t, a), encode(t, b)) {
			t.Error("training twice gave different model files")
		}
	})
	errCases := []struct {
		name string
		ex   []Example
		cfg  Config
	}{
		{"unknown label", []Example{{ID: "x", Label: "sports", Text: "goal"}}, Config{}},
		{"fallback not a label", diplomacyExamples, Config{Labels: []string{"a", "b"}}},
		{"label without documents", diplomacyExamples[:3], Config{}},
		{"invalid utf-8", []Example{{ID: "x", Label: "other", Text: "\xff"}}, Config{}},
		{"bad tokenizer", diplomacyExamples, Config{Tokenizer: classifier.TokenizerConfig{MinLength: -1}}},
		{"bad smoothing", diplomacyExamples, Config{Scoring: classifier.ScoringConfig{Alpha: -1}}},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			if m, err := Train(tt.ex, tt.cfg); err == nil {
				t.Errorf("Train(%s) = %v, want an error", tt.name, m.Info())
			}
		})
	}
}

func TestReadCorpus(t *testing.T) {
	in := `{"id": "x-1", "date": "2024-01-02", "label": "migration", "label_source": "story", "section": "ignored", "text": "Asylum seekers"}

{"id": "x-2", "date": "2024-01-03", "label": "other", "label_source": "text", "title": "T", "text": "Cup final"}
`
	got, err := ReadCorpus(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Example{
		{ID: "x-1", Date: "2024-01-02", Label: "migration", LabelSource: "story", Text: "Asylum seekers"},
		{ID: "x-2", Date: "2024-01-03", Label: "other", LabelSource: "text", Title: "T", Text: "Cup final"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReadCorpus = %+v, want %+v", got, want)
	}
	for _, bad := range []struct{ in, line string }{
		{`{"label":"a","text":"x"}` + "\n{not json}\n", "line 2"},
		{`{"text":"x"}`, "line 1"},
	} {
		if _, err := ReadCorpus(strings.NewReader(bad.in)); err == nil || !strings.Contains(err.Error(), bad.line) {
			t.Errorf("ReadCorpus(%q) error = %v, want one naming %s", bad.in, err, bad.line)
		}
	}
}
