package classifier

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// scanModels are tiny models with every tokenizer setting scoreWords handles, with four labels
// (its fast path) and with three.
func scanModels(t testing.TB) []*Model {
	t.Helper()
	ex := []testDoc{
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
		m, err := newTestModel(data, Parts{Labels: labels, Fallback: "a", Tokenizer: cfg})
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
		"cat\xff", "Über\xc3", "\xed\xa0\x80 surrogate", "overlong \xc0\xaf", "a fairly long line of words\xe2\x82",
	} {
		f.Add(s)
	}
	models := scanModels(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range models {
			fast, slow := slices.Clone(m.priors), slices.Clone(m.priors)
			var fst, sst Stats
			valid := m.scoreWords(fast, s, &fst, nil)
			m.scoreTerms(slow, s, &sst, nil)
			if !slices.Equal(fast, slow) || fst != sst {
				t.Fatalf("tokenizer %+v: scoreWords(%q) = %v %+v, scoreTerms = %v %+v", m.tokenizer, s, fast, fst, slow, sst)
			}
			if want := utf8.ValidString(s); valid != want {
				t.Fatalf("tokenizer %+v: scoreWords(%q) valid = %v, want %v", m.tokenizer, s, valid, want)
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

// TestClassifyFindsInvalidUTF8 checks that Classify, which learns whether the text is valid
// UTF-8 from scoring it, rejects exactly the documents utf8.ValidString rejects: invalid bytes at
// the start, inside and after a word, in the last sixteen bytes (the padded tail) and before
// them, with every tokenizer setting, with four labels (the fast path), three, and word pairs.
func TestClassifyFindsInvalidUTF8(t *testing.T) {
	models := scanModels(t)
	pairs, err := newTestModel([]testDoc{{ID: "1", Label: "a", Text: "cat dog"}, {ID: "2", Label: "b", Text: "Über fish"}},
		Parts{Labels: []string{"a", "b"}, Fallback: "a", Tokenizer: TokenizerConfig{Bigrams: true}})
	if err != nil {
		t.Fatal(err)
	}
	models = append(models, pairs)
	long := strings.Repeat("the hackers breached servers ", 3)
	var texts []string
	for _, bad := range []string{"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80", "\xc0\xaf", "\x80", "\xf4\x90\x80\x80"} {
		texts = append(texts,
			bad, bad+"cat", "cat"+bad, "Über"+bad+"x", bad+" "+long, long+bad, long+bad+long,
			"averyveryverylongwordindeed"+bad+long, long+"É"+bad)
	}
	texts = append(texts, "Über-Angriff", long+"Ωmega", "नमस्ते "+long, "\uFFFD cat", long+"é")
	for _, text := range texts {
		for _, title := range []string{"", "title", "\xff"} {
			want := utf8.ValidString(title) && utf8.ValidString(text)
			for _, m := range models {
				_, err := m.Classify(title, text, Options{})
				if got := !errors.Is(err, ErrInvalidUTF8); got != want || (want && err != nil) {
					t.Errorf("tokenizer %+v, %d labels: Classify(%q, %q) error = %v, want valid %v",
						m.tokenizer, len(m.labels), title, text, err, want)
				}
			}
		}
	}
}
