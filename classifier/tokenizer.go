package classifier

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"sync"
	"unicode"
	"unicode/utf8"
)

// TokenizerConfig chooses how text becomes terms. The zero value keeps every word of one or more
// characters, numbers included, and no word pairs.
//
// A word is a maximal run of Unicode letters, decimal digits and combining marks, lower-cased
// rune by rune with unicode.ToLower; everything else separates words, so punctuation and newlines
// never glue two words together. Word pairs never span a sentence break (. ! ? ; : a newline or
// another sentence terminator) and are formed after short words, numbers and stop words are
// dropped.
type TokenizerConfig struct {
	// MinLength drops words of fewer runes. 0 and 1 keep every word.
	MinLength int `json:"min_length,omitempty"`
	// DropNumbers drops words made only of digits ("2024"); words mixing letters and digits
	// ("g20", "covid19") are kept.
	DropNumbers bool `json:"drop_numbers,omitempty"`
	// DropStopWords drops a small built-in list of English function words (see IsStopWord).
	DropStopWords bool `json:"drop_stop_words,omitempty"`
	// Bigrams adds, after each word, the pair "previous word" + " " + "word" as a term of its own.
	Bigrams bool `json:"bigrams,omitempty"`
}

// maxMinLength bounds TokenizerConfig.MinLength so a corrupt model file cannot ask for nonsense.
const maxMinLength = 64

func (c TokenizerConfig) validate() error {
	if c.MinLength < 0 || c.MinLength > maxMinLength {
		return fmt.Errorf("tokenizer min_length %d out of range [0, %d]", c.MinLength, maxMinLength)
	}
	return nil
}

// Tokenize calls fn with every term of text, in order. The slice passed to fn is only valid
// during the call: copy it to keep it. Tokenize allocates nothing per term.
func (c TokenizerConfig) Tokenize(text string, fn func(term []byte)) {
	tz := getTokenizer(c, text)
	for tz.next() {
		fn(tz.term)
	}
	putTokenizer(tz)
}

// tokenizers recycles tokenizers and their buffers, so scanning a document allocates nothing.
var tokenizers = sync.Pool{New: func() any { return new(tokenizer) }}

// maxPooledBuffer keeps one huge word from pinning its buffer in the pool.
const maxPooledBuffer = 1 << 10

func getTokenizer(cfg TokenizerConfig, s string) *tokenizer {
	t := tokenizers.Get().(*tokenizer)
	t.reset(cfg, s)
	return t
}

func putTokenizer(t *tokenizer) {
	t.s, t.term, t.word = "", nil, nil
	if cap(t.lower) > maxPooledBuffer || cap(t.prev) > maxPooledBuffer || cap(t.pair) > 2*maxPooledBuffer {
		t.lower, t.prev, t.pair = nil, nil, nil
	}
	tokenizers.Put(t)
}

// Byte classes of the ASCII fast path. They are computed at init from the same predicates the
// Unicode path uses, so the two paths cannot disagree.
const (
	clsSep   = iota // separates words
	clsBreak        // separates words and breaks word pairs
	clsLower        // word byte, already lower case
	clsDigit        // word byte, a digit
	clsUpper        // word byte, needs lower-casing
	clsMulti        // first or later byte of a multi-byte UTF-8 sequence
)

var asciiClass [256]uint8

// asciiLower maps a byte to its lower case; only ASCII capitals change.
var asciiLower [256]byte

func init() {
	for c := 0; c < 256; c++ {
		asciiLower[c] = byte(c)
		if 'A' <= c && c <= 'Z' {
			asciiLower[c] = byte(c + 'a' - 'A')
		}
		if c >= utf8.RuneSelf {
			asciiClass[c] = clsMulti
			continue
		}
		r := rune(c)
		switch {
		case unicode.IsDigit(r):
			asciiClass[c] = clsDigit
		case isWordRune(r) && unicode.ToLower(r) != r:
			asciiClass[c] = clsUpper
		case isWordRune(r):
			asciiClass[c] = clsLower
		case isBreakRune(r):
			asciiClass[c] = clsBreak
		default:
			asciiClass[c] = clsSep
		}
	}
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// wordBytes classifies the eight bytes of w at once (SWAR): each result has 0x80 in the bytes
// that are ASCII capitals, ASCII letters, and ASCII letters or digits. Clearing the top bit first
// keeps the additions from carrying between bytes; setting bit 5 folds capitals onto small
// letters, so one range test finds both; a letter is a capital when its bit 5, shifted up to bit
// 7, is clear. Non-ASCII bytes are masked out at the end.
func wordBytes(w uint64) (upper, letter, word uint64) {
	x := w &^ msb8
	f := x | 0x20*lsb8
	letter = (f + 0x1f*lsb8) &^ (f + 0x05*lsb8) &^ w & msb8 // 'a' <= f <= 'z'
	digit := (x + 0x50*lsb8) &^ (x + 0x46*lsb8)             // '0' <= x <= '9'
	word = letter | digit&^w&msb8
	upper = letter &^ (x << 2)
	return upper, letter, word
}

// isWordRune reports whether r belongs inside a word. Marks are included so scripts that write
// vowels as combining marks (Devanagari, Arabic harakat) keep their words whole.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// isBreakRune reports whether r ends a sentence for the purpose of word pairs.
func isBreakRune(r rune) bool {
	switch r {
	case '\n', '\r', ';', ':', 0x85, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Sentence_Terminal, r)
}

// tokenizer walks a text and yields terms. Its buffers are reused through a pool, so ordinary
// words never allocate.
type tokenizer struct {
	cfg  TokenizerConfig
	s    string
	i    int
	term []byte  // the current term: a view into s, word or pair
	key  termKey // the current term's key
	word []byte  // the current word
	// pending is set when the current word's pair is still to be emitted.
	pending bool
	// chained is set when prev holds a word the next word may pair with.
	chained bool
	prev    []byte
	pair    []byte
	lower   []byte
}

func (t *tokenizer) reset(cfg TokenizerConfig, s string) {
	t.cfg = cfg
	t.s = s
	t.i = 0
	t.pending = false
	t.chained = false
}

// next advances to the next term and reports whether there is one.
func (t *tokenizer) next() bool {
	if t.pending {
		t.pending = false
		t.pair = append(append(append(t.pair[:0], t.prev...), ' '), t.word...)
		t.prev = append(t.prev[:0], t.word...)
		t.term = t.pair
		t.key = makeKey(t.pair)
		return true
	}
	cfg := &t.cfg
	for {
		brk, runes, digits, ok := t.nextWord()
		if !ok {
			return false
		}
		if brk {
			t.chained = false
		}
		if runes < cfg.MinLength || (cfg.DropNumbers && digits) {
			continue
		}
		t.key = makeKey(t.word)
		if cfg.DropStopWords && isStopKey(t.key, len(t.word)) {
			continue
		}
		t.term = t.word
		if cfg.Bigrams {
			if t.chained {
				t.pending = true
			} else {
				t.prev = append(t.prev[:0], t.word...)
				t.chained = true
			}
		}
		return true
	}
}

// nextWord scans the next word into t.word. brk reports a sentence break since the previous word,
// runes the word's length in runes and digits whether it is made only of digits.
func (t *tokenizer) nextWord() (brk bool, runes int, digits bool, ok bool) {
	s, i := t.s, t.i
	for i < len(s) {
		switch asciiClass[s[i]] {
		case clsSep:
			i++
			continue
		case clsBreak:
			brk = true
			i++
			continue
		case clsMulti:
			r, size := utf8.DecodeRuneInString(s[i:])
			if isWordRune(r) {
				goto word
			}
			if isBreakRune(r) {
				brk = true
			}
			i += size
			continue
		}
		goto word
	}
	t.i = i
	return brk, 0, false, false

word:
	start := i
	// Fast path: a word of ASCII letters and digits, eight bytes at a time (see wordBytes), so the
	// end of a short word costs a count of trailing zeros rather than a mispredicted branch. The
	// AND of the byte classes stays clsDigit only when every byte is a digit; the OR has
	// clsUpper's bit when a byte needs lower-casing.
	all, any := uint8(clsDigit), uint8(0)
	for i+8 <= len(s) {
		upper, letter, word := wordBytes(binary.LittleEndian.Uint64(stringBytes(s[i : i+8])))
		if nonword := ^word & msb8; nonword != 0 {
			tz := bits.TrailingZeros64(nonword)
			keep := uint64(1)<<(tz-7) - 1 // the bytes before the first non-word byte
			upper, letter = upper&keep, letter&keep
			i += tz >> 3
			if upper != 0 {
				any |= clsUpper
			}
			if letter != 0 {
				all = clsLower
			}
			goto ended
		}
		if upper != 0 {
			any |= clsUpper
		}
		if letter != 0 {
			all = clsLower
		}
		i += 8
	}
	for i < len(s) {
		c := asciiClass[s[i]]
		if c-clsLower > clsUpper-clsLower {
			break
		}
		all &= c
		any |= c
		i++
	}
ended:
	if i == len(s) || asciiClass[s[i]] <= clsBreak {
		t.i = i
		if any&clsUpper == 0 {
			// The capacity runs to the end of s so load64 can read whole words.
			t.word = stringBytes(s[start:])[: i-start : len(s)-start]
		} else {
			low := append(t.lower[:0], s[start:i]...)
			for j, b := range low {
				low[j] = asciiLower[b]
			}
			t.lower = low
			t.word = low
		}
		return brk, i - start, all == clsDigit, true
	}
	t.lower, i, runes, digits = lowerWord(t.lower[:0], s, start)
	t.word = t.lower
	t.i = i
	return brk, runes, digits, true
}

// lowerWord is the slow path for a word with a non-ASCII rune: it appends to low the word that
// starts at s[i], lower-cased rune by rune, and returns it, the index after it, its length in
// runes and whether it is made only of digits.
func lowerWord(low []byte, s string, i int) (word []byte, end, runes int, digits bool) {
	digits = true
	for i < len(s) {
		b := s[i]
		switch asciiClass[b] {
		case clsLower:
			low = append(low, b)
			digits = false
			i++
		case clsDigit:
			low = append(low, b)
			i++
		case clsUpper:
			low = append(low, b+('a'-'A'))
			digits = false
			i++
		case clsMulti:
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isWordRune(r) {
				return low, i, runes, digits
			}
			if !unicode.IsDigit(r) {
				digits = false
			}
			low = utf8.AppendRune(low, unicode.ToLower(r))
			i += size
		default:
			return low, i, runes, digits
		}
		runes++
	}
	return low, i, runes, digits
}
