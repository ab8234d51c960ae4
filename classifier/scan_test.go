package classifier

import (
	"encoding/binary"
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

// TestWordBytes checks the SWAR byte classes against the byte class table for every byte value
// in every position, next to neighbours that could carry into it.
func TestWordBytes(t *testing.T) {
	for _, fill := range []byte{0x00, 'Z', 0x7f, 0x80, 0xff, '9'} {
		for pos := 0; pos < 8; pos++ {
			for v := 0; v < 256; v++ {
				var b [8]byte
				for j := range b {
					b[j] = fill
				}
				b[pos] = byte(v)
				upper, letter, word := wordBytes(binary.LittleEndian.Uint64(b[:]))
				for j, c := range b {
					bit := uint64(0x80) << (8 * j)
					cls := asciiClass[c]
					want := [3]bool{cls == clsUpper, cls == clsUpper || cls == clsLower, cls >= clsLower && cls <= clsUpper}
					got := [3]bool{upper&bit != 0, letter&bit != 0, word&bit != 0}
					if got != want {
						t.Fatalf("byte %#x at %d in %x: upper, letter, word = %v, want %v", c, j, b, got, want)
					}
				}
				if (upper|letter|word)&^msb8 != 0 {
					t.Fatalf("%x: bits outside 0x80", b)
				}
			}
		}
	}
}
