package classifier

import (
	"slices"
	"testing"
)

// scanModels are tiny models with every tokenizer setting scoreWords handles, with four labels
// (its fast path) and with three.
func scanModels(t testing.TB) []*Model {
	t.Helper()
	ex := []Example{
		{ID: "1", Label: "a", Text: "The EU and the UN met in 2024; Über-Angriff auf Behörden. ÉTAT x1 G20 a"},
		{ID: "2", Label: "b", Text: "Hackers breached servers of the ministry, 42 times: नमस्ते दुनिया Ωmega"},
		{ID: "3", Label: "c", Text: "Asylum seekers crossed the border averyveryverylongwordindeed"},
		{ID: "4", Label: "d", Text: "The team won the cup final"},
	}
	var out []*Model
	for bits := 0; bits < 16; bits++ {
		cfg := TokenizerConfig{DropNumbers: bits&1 != 0, DropStopWords: bits&2 != 0}
		if bits&4 != 0 {
			cfg.MinLength = 3
		}
		labels, data := []string{"a", "b", "c", "d"}, ex
		if bits&8 != 0 {
			labels, data = labels[:3], ex[:3]
		}
		m, err := Train(data, TrainConfig{Labels: labels, Fallback: "a", Tokenizer: cfg})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func FuzzScoreWords(f *testing.F) {
	for _, s := range []string{
		"", "the EU", "Hackers BREACHED the ministry's servers in 2024.", "Über-Angriff auf Behörden", "x1 G20 a",
		"नमस्ते दुनिया", "\xffab\xe2\x82 ÉTAT", "abcdefghijklmnopqrstuvwxyz0123456789 Ωmega",
		"averyveryverylongwordindeed AVERYVERYVERYLONGWORDINDEED",
	} {
		f.Add(s)
	}
	models := scanModels(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range models {
			fast, slow := slices.Clone(m.priors), slices.Clone(m.priors)
			var fst, sst Stats
			m.scoreWords(fast, s, &fst)
			m.scoreTerms(slow, s, &sst)
			if !slices.Equal(fast, slow) || fst != sst {
				t.Fatalf("tokenizer %+v: scoreWords(%q) = %v %+v, scoreTerms = %v %+v", m.tokenizer, s, fast, fst, slow, sst)
			}
		}
	})
}
