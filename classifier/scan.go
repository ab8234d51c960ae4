package classifier

import (
	"encoding/binary"
	"math"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// Results of a word lookup other than a row number.
const (
	wordUnknown = -1 // a term, not in the table
	wordDropped = -2 // not a term: too short, a number the model drops, or no word at all
	wordInvalid = -3 // not a term: a byte that starts no valid UTF-8 sequence
)

// scanPad is how many bytes scoreWords's fast path loads at once.
const scanPad = 16

// scoreWords adds the weights of the known words of s to sums: the scorer's hot loop for models
// without word pairs. It splits words exactly as the tokenizer does (FuzzScoreWords checks that)
// and adds in the same order, in float64, so the sums are bit for bit those of scoreTerms (the
// calibration was fitted on those sums). It reports whether s is valid UTF-8: every non-ASCII
// byte passes through slowWord, which decodes it, so Classify need not read the text twice.
func (m *Model) scoreWords(sums []float64, s string, st *Stats, p *passages) (valid bool) {
	if len(sums) != 4 || m.tbl.stride != rowHeader+2 {
		return m.scoreWordsAny(sums, s, st, p)
	}
	sc := scan4{
		index:   unsafe.SliceData(m.tbl.index),
		mask:    m.tbl.mask,
		rows:    unsafe.Pointer(unsafe.SliceData(m.tbl.rows)),
		words:   m.tbl.words,
		zero:    m.tbl.zero,
		minLen:  m.tokenizer.MinLength,
		numbers: 1,
		sums:    [4]float64(sums),
		limit:   math.MaxUint64,
		pass:    p,
		base:    st.KnownTokens,
	}
	if p != nil {
		sc.limit = uint64(p.known+p.window-sc.base) << 32
	}
	if m.tokenizer.DropNumbers {
		sc.numbers = 0
	}
	i := 0
	if len(s) >= scanPad {
		i = sc.scanAll(m, s, len(s)-scanPad+1)
	}
	if i < len(s) {
		// The last bytes: go on in a zero-padded copy of them, so the fast path can always load
		// sixteen bytes. A zero byte separates words, so the padding changes no word.
		var pad [2 * scanPad]byte
		n := copy(pad[:scanPad], s[i:])
		sc.scanAll(m, unsafe.String(&pad[0], n+scanPad), n)
	}
	copy(sums, sc.sums[:])
	st.Tokens += int(uint32(sc.counts))
	st.KnownTokens += int(sc.counts >> 32)
	return !sc.invalid
}

// scan4 is scoreWords's state for a model of four labels, whose rows are 40 bytes.
type scan4 struct {
	index  *uint32
	mask   uint64
	rows   unsafe.Pointer
	words  int
	zero   int // the row of zeros after the last one
	minLen int
	// numbers is 0 when words made only of digits are dropped, 1 when they are kept.
	numbers uint64
	sums    [4]float64
	// counts is the number of terms in its low 32 bits and of known terms in its high 32 bits,
	// one register for both.
	counts uint64
	// invalid is set when slowWord met a byte that is not valid UTF-8.
	invalid bool
	// limit is the value of counts at which the open passage is full (its known-term count in
	// the high 32 bits), or MaxUint64 when no passages are scored; pass receives them, and base
	// is the document's known terms before this text (its title's).
	limit uint64
	pass  *passages
	base  int
}

// closePassage scores the open passage and opens the next.
func (sc *scan4) closePassage(m *Model) {
	p := sc.pass
	m.closePassage(p, sc.sums[:], sc.base+int(sc.counts>>32))
	sc.limit = uint64(p.known+p.window-sc.base) << 32
}

// scanAll scores the words of s that start before stop and returns the index after the last of
// them; s must hold at least scanPad bytes from every index before stop. scan takes the words it
// can and stops at any other, which slow then takes: so scan calls nothing, and Go, which saves
// no register across a call, keeps scan's sums in registers rather than storing them every word.
//
// scan also stops when a passage is full (counts reaches limit); scanAll closes it and goes on.
func (sc *scan4) scanAll(m *Model, s string, stop int) int {
	i := 0
	for {
		i = sc.scan(s, i, stop)
		if sc.counts >= sc.limit {
			sc.closePassage(m)
			continue
		}
		if i >= stop {
			return i
		}
		i = sc.slow(m, s, i)
		if sc.counts >= sc.limit {
			sc.closePassage(m)
		}
	}
}

// slow scores the word or non-word rune at s[i] through slowWord and returns the index after it.
func (sc *scan4) slow(m *Model, s string, i int) int {
	i, r := m.slowWord(s, i)
	var inc uint64 // a stop word adds nothing
	switch {
	case r < wordUnknown:
		if r == wordInvalid {
			sc.invalid = true
		}
		return i
	case r == wordUnknown:
		r, inc = sc.zero, 1
	case r < sc.words:
		inc = 1 + 1<<32
	}
	sc.counts += inc
	w := (*[4]float32)(unsafe.Add(sc.rows, uintptr(r)*scan4RowBytes+rowHeader*8))
	sc.sums[0] += float64(w[0])
	sc.sums[1] += float64(w[1])
	sc.sums[2] += float64(w[2])
	sc.sums[3] += float64(w[3])
	return i
}

// scan4RowBytes is the size of a row of four float32 weights after the row header.
const scan4RowBytes = (rowHeader + 2) * 8

// scan scores the words of s from index i on that start before stop, up to the first that
// needs slowWord, and returns the index after the last word it scored (so the index of that word
// or one at or after stop); s must hold at least scanPad bytes from every index before stop.
//
// A word of ASCII letters and digits shorter than 16 bytes, nearly every word of English news, is
// read as two 8-byte loads, lower-cased and packed into its key in registers (SWAR, see
// wordBytes), hashed and looked up without leaving the loop; anything else is left to slow. The lookup also finds stop words: the table holds the stop words of a model that
// drops them in rows of their own, so one probe answers both questions. The loop calls nothing
// per word on the fast path and reads memory through unsafe pointers that the bounds above keep
// in range, so the sums and the loop state stay in registers and there are no bounds checks.
func (sc *scan4) scan(s string, i, stop int) int {
	p := unsafe.Pointer(unsafe.StringData(s))
	index, mask, rows := sc.index, sc.mask, sc.rows
	a0, a1, a2, a3 := sc.sums[0], sc.sums[1], sc.sums[2], sc.sums[3]
	counts, limit := sc.counts, sc.limit
	for i < stop {
		b := (*[scanPad]byte)(unsafe.Add(p, i))
		w0 := binary.LittleEndian.Uint64(b[:8])
		up, letter, wb := wordBytes(w0)
		nw := ^wb & msb8
		if nw&0x80 != 0 && b[0] < utf8.RuneSelf {
			i++ // an ASCII separator
			continue
		}
		if nw&0x80 == 0 { // an ASCII word starts here
			var k0, k1 uint64
			var n int
			// end is the high bit of the byte after the word: set when that byte is not ASCII.
			end := uint64(1)
			if nw != 0 {
				tz := bits.TrailingZeros64(nw)
				keep := uint64(1)<<(uint(tz-7)&63) - 1 // the bytes before the first non-word byte
				n, end = tz>>3, w0>>(uint(tz)&63)&1
				k0, letter = (w0|up>>2)&keep, letter&keep
			} else {
				w1 := binary.LittleEndian.Uint64(b[8:])
				up1, letter1, wb1 := wordBytes(w1)
				if nw := ^wb1 & msb8; nw != 0 {
					tz := bits.TrailingZeros64(nw)
					keep := uint64(1)<<(uint(tz-7)&63) - 1
					n, end = 8+tz>>3, w1>>(uint(tz)&63)&1
					k0, k1, letter = w0|up>>2, (w1|up1>>2)&keep, letter|letter1&keep
				}
			}
			// A word of 16 bytes or more, or that goes on with a non-ASCII byte, takes the slow
			// path.
			if end == 0 {
				i += n + 1 // the byte after the word separates, so skip it too
				if n < sc.minLen || letter|sc.numbers == 0 {
					continue
				}
				h := shortHash(k0, k1, n)
				tag := uint32(h>>56) << 24
				// r is the word's row: the zero row for an unknown term, whose weights are
				// zeros, so every term adds a row and the only branches left are the lookup's.
				// inc is what the term adds to counts.
				r, inc := sc.zero, uint64(1)
				for j := h; ; j++ {
					// mask keeps j in the index.
					e := *(*uint32)(unsafe.Add(unsafe.Pointer(index), (j&mask)*4))
					if e == 0 {
						break
					}
					if e&0xff000000 != tag {
						continue
					}
					// The table built every row it indexes, so the row is in range.
					row := (*[rowHeader]uint64)(unsafe.Add(rows, uintptr(e&0xffffff-1)*scan4RowBytes))
					if row[0] == k0 && row[1] == k1 && uint32(row[2]) == uint32(n) {
						r = int(e&0xffffff) - 1
						inc = 0 // a stop word
						if r < sc.words {
							inc = 1 + 1<<32
						}
						break
					}
				}
				// Adding a stop word's or the zero row's +0.0 leaves a sum unchanged: a sum
				// that starts at a log prior can never be -0.0.
				counts += inc
				w := (*[4]float32)(unsafe.Add(rows, uintptr(r)*scan4RowBytes+rowHeader*8))
				a0 += float64(w[0])
				a1 += float64(w[1])
				a2 += float64(w[2])
				a3 += float64(w[3])
				if counts >= limit {
					break // a full passage, for scanAll
				}
				continue
			}
		}
		break // a word for slow
	}
	sc.sums = [4]float64{a0, a1, a2, a3}
	sc.counts = counts
	return i
}

// scoreWordsAny is scoreWords for any number of labels, one slowWord call per word.
func (m *Model) scoreWordsAny(sums []float64, s string, st *Stats, p *passages) (valid bool) {
	valid = true
	for i := 0; i < len(s); {
		if asciiClass[s[i]] <= clsBreak {
			i++
			continue
		}
		var r int
		i, r = m.slowWord(s, i)
		if r == wordInvalid {
			valid = false
		}
		if r == wordUnknown || r >= 0 && r < m.tbl.words {
			st.Tokens++
		}
		if r < 0 || r >= m.tbl.words {
			continue
		}
		st.KnownTokens++
		for c, w := range m.tbl.row(r) {
			sums[c] += float64(w)
		}
		if p != nil && st.KnownTokens-p.known >= p.window {
			m.closePassage(p, sums, st.KnownTokens)
		}
	}
	return valid
}

// slowWord is scoreWords for the word or non-word rune at s[i], whose byte class is above
// clsBreak: any word with a non-ASCII rune, of 16 bytes or more, or near the end of s. It
// returns the index after what it read and the word's row, wordUnknown, wordDropped or, for a
// byte that starts no valid UTF-8 sequence, wordInvalid. Every non-ASCII rune that is not part
// of a word is decoded here, and lowerWord ends a word at an invalid byte, so every invalid byte
// of s comes here on its own. The buffer lives here, not in the caller, so that the fast path
// does not clear it on every call.
//
//go:noinline
func (m *Model) slowWord(s string, i int) (end, r int) {
	var buf [64]byte
	start := i
	if asciiClass[s[i]] == clsMulti {
		if r, size := utf8.DecodeRuneInString(s[i:]); !isWordRune(r) {
			if r == utf8.RuneError && size == 1 {
				return i + 1, wordInvalid
			}
			return i + size, wordDropped
		}
	}
	var word []byte
	var runes int
	var digits bool
	upper := false
	all := uint8(clsDigit)
	for i < len(s) {
		c := asciiClass[s[i]]
		if c-clsLower > clsUpper-clsLower {
			break
		}
		all &= c
		upper = upper || c == clsUpper
		i++
	}
	switch {
	case i < len(s) && asciiClass[s[i]] == clsMulti:
		word, i, runes, digits = lowerWord(buf[:0], s, start)
	case upper:
		word = append(buf[:0], s[start:i]...)
		for j, b := range word {
			word[j] = asciiLower[b]
		}
		runes, digits = i-start, all == clsDigit
	default:
		// The capacity runs to the end of s so makeKey can read whole words.
		word = stringBytes(s[start:])[: i-start : len(s)-start]
		runes, digits = i-start, all == clsDigit
	}
	if runes < m.tokenizer.MinLength || (m.tokenizer.DropNumbers && digits) {
		return i, wordDropped
	}
	if r = m.tbl.find(word, makeKey(word)); r < 0 {
		return i, wordUnknown
	}
	return i, r
}
