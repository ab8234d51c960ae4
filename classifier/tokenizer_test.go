package classifier

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func tokens(cfg TokenizerConfig, s string) []string {
	var out []string
	cfg.Tokenize(s, func(term []byte) { out = append(out, string(term)) })
	return out
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		cfg  TokenizerConfig
		in   string
		want []string
	}{
		{"punctuation never glues", TokenizerConfig{}, "hack.The breach,now", []string{"hack", "the", "breach", "now"}},
		{"newlines and hyphens split", TokenizerConfig{}, "state-sponsored hackers\nbreached", []string{"state", "sponsored", "hackers", "breached"}},
		{"short words kept", TokenizerConfig{}, "EU, UN and U.S.", []string{"eu", "un", "and", "u", "s"}},
		{"unicode lower-cased", TokenizerConfig{}, "ÉTAT Über STRASSE straße ΑΘΗΝΑ", []string{"état", "über", "strasse", "straße", "αθηνα"}},
		{"mixed fast and slow path", TokenizerConfig{}, "abcÉfg xyz", []string{"abcéfg", "xyz"}},
		{"kelvin sign lowers to ascii", TokenizerConfig{}, "\u212Aelvin", []string{"kelvin"}},
		{"marks stay inside words", TokenizerConfig{}, "नमस्ते दुनिया", []string{"नमस्ते", "दुनिया"}},
		{"cjk punctuation splits", TokenizerConfig{}, "東京。大阪", []string{"東京", "大阪"}},
		{"invalid utf-8 separates", TokenizerConfig{}, "ab\xffcd", []string{"ab", "cd"}},
		{"digits kept", TokenizerConfig{}, "G20 summit 2024", []string{"g20", "summit", "2024"}},
		{"numbers dropped", TokenizerConfig{DropNumbers: true}, "G20 summit 2024 ٢٠٢٤", []string{"g20", "summit"}},
		{"min length in runes", TokenizerConfig{MinLength: 3}, "EU és élan and", []string{"élan", "and"}},
		{"stop words dropped", TokenizerConfig{DropStopWords: true}, "The talks of the EU", []string{"talks", "eu"}},
		{"empty", TokenizerConfig{}, " \n\t.,", nil},
		{
			"bigrams stop at sentence breaks",
			TokenizerConfig{Bigrams: true},
			"Foreign ministers met. Talks resumed",
			[]string{"foreign", "ministers", "foreign ministers", "met", "ministers met", "talks", "resumed", "talks resumed"},
		},
		{
			"bigrams join kept words",
			TokenizerConfig{Bigrams: true, DropStopWords: true},
			"ministers of the EU\nsummit",
			[]string{"ministers", "eu", "ministers eu", "summit"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokens(tt.cfg, tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// referenceTokens is the tokenizer written the slow, obvious way: rune by rune with the unicode
// package, no fast path and no buffers. The real tokenizer must agree with it on every input.
func referenceTokens(cfg TokenizerConfig, s string) []string {
	type word struct {
		text   string
		runes  int
		digits bool
		brk    bool
	}
	var words []word
	var cur []rune
	digits, brk := true, false
	flush := func() {
		if len(cur) > 0 {
			words = append(words, word{string(cur), len(cur), digits, brk})
			brk = false
		}
		cur, digits = cur[:0], true
	}
	for _, r := range s {
		if isWordRune(r) {
			if !unicode.IsDigit(r) {
				digits = false
			}
			cur = append(cur, unicode.ToLower(r))
			continue
		}
		flush()
		if isBreakRune(r) {
			brk = true
		}
	}
	flush()
	var out []string
	prev := ""
	for _, w := range words {
		if w.brk {
			prev = ""
		}
		if w.runes < cfg.MinLength || (cfg.DropNumbers && w.digits) || (cfg.DropStopWords && IsStopWord(w.text)) {
			continue
		}
		out = append(out, w.text)
		if cfg.Bigrams {
			if prev != "" {
				out = append(out, prev+" "+w.text)
			}
			prev = w.text
		}
	}
	return out
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"", "Hack.The", "EU, UN and U.S.", "ÉTAT Über straße", "नमस्ते दुनिया", "ab\xffcd\xe2\x82",
		"Foreign ministers met. Talks resumed; the end", "G20 2024 ٢٠٢٤ x1", "\u212Aelvin İstanbul ǅ",
		strings.Repeat("a", 200) + " " + strings.Repeat("É", 100),
	} {
		for opts := uint8(0); opts < 16; opts += 5 {
			f.Add(s, opts)
		}
	}
	f.Fuzz(func(t *testing.T, s string, opts uint8) {
		cfg := TokenizerConfig{
			MinLength:     int(opts>>4) % 4,
			DropNumbers:   opts&1 != 0,
			DropStopWords: opts&2 != 0,
			Bigrams:       opts&4 != 0,
		}
		got := tokens(cfg, s)
		if want := referenceTokens(cfg, s); !slices.Equal(got, want) {
			t.Fatalf("Tokenize(%q, %+v) = %q, reference gives %q", s, cfg, got, want)
		}
		unigrams := tokens(TokenizerConfig{}, s)
		for _, w := range unigrams {
			if w == "" || !utf8.ValidString(w) {
				t.Fatalf("Tokenize(%q) produced the term %q", s, w)
			}
		}
		// Tokens are a fixed point: tokenizing the joined tokens gives them back.
		if again := tokens(TokenizerConfig{}, strings.Join(unigrams, " ")); !slices.Equal(again, unigrams) {
			t.Fatalf("Tokenize(Join(Tokenize(%q))) = %q, want %q", s, again, unigrams)
		}
	})
}

func TestTokenizeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	text := strings.Repeat("Hackers breached the Ministry's servers. Über-Angriff auf Behörden! ", 50)
	cfg := TokenizerConfig{Bigrams: true, DropStopWords: true}
	n := 0
	allocs := testing.AllocsPerRun(20, func() {
		cfg.Tokenize(text, func([]byte) { n++ })
	})
	if allocs > 1 {
		t.Errorf("Tokenize allocated %v times per text, want at most 1", allocs)
	}
}
