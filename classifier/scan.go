package classifier

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// scoreWords adds the weights of the known words of s to sums: the scorer's hot loop for models
// without word pairs. It splits words exactly as the tokenizer does (FuzzScoreWords checks that)
// but keeps its state in registers instead of a tokenizer, and looks a word up before asking
// whether it is a stop word: the table holds the stop words of a model that drops them in rows
// of their own, so one probe answers both questions.
func (m *Model) scoreWords(sums []float64, s string, st *Stats) {
	tbl := m.tbl
	cfg := &m.tokenizer
	var buf [64]byte
	low := buf[:0]
	for i := 0; i < len(s); {
		c := asciiClass[s[i]]
		if c <= clsBreak {
			i++
			continue
		}
		start := i
		var k0 uint64
		short := false // the word fits in k0, as it was read
		var word []byte
		var runes int
		var digits bool
		slow := c == clsMulti
		if slow {
			if r, size := utf8.DecodeRuneInString(s[i:]); !isWordRune(r) {
				i += size
				continue
			}
		} else {
			// The same eight-bytes-at-a-time scan as tokenizer.nextWord.
			all, any := uint8(clsDigit), uint8(0)
			tail := true
			for i+8 <= len(s) {
				w := binary.LittleEndian.Uint64(stringBytes(s[i : i+8]))
				upper, letter, wb := wordBytes(w)
				nonword := ^wb & msb8
				if nonword != 0 {
					tz := bits.TrailingZeros64(nonword)
					keep := uint64(1)<<(tz-7) - 1
					upper, letter = upper&keep, letter&keep
					if i == start {
						// The whole word is in w: keep its packed key.
						k0, short = w&keep, true
					}
					i += tz >> 3
					tail = false
				} else {
					i += 8
				}
				if upper != 0 {
					any |= clsUpper
				}
				if letter != 0 {
					all = clsLower
				}
				if !tail {
					break
				}
			}
			for tail && i < len(s) {
				c := asciiClass[s[i]]
				if c-clsLower > clsUpper-clsLower {
					break
				}
				all &= c
				any |= c
				i++
			}
			switch {
			case i < len(s) && asciiClass[s[i]] == clsMulti:
				slow, short = true, false
			case any&clsUpper == 0:
				word = stringBytes(s[start:])[: i-start : len(s)-start]
				runes, digits = i-start, all == clsDigit
			default:
				short = false
				low = append(low[:0], s[start:i]...)
				for j, b := range low {
					low[j] = asciiLower[b]
				}
				word = low
				runes, digits = i-start, all == clsDigit
			}
		}
		if slow {
			low, i, runes, digits = lowerWord(low[:0], s, start)
			word = low
		}
		if runes < cfg.MinLength || (cfg.DropNumbers && digits) {
			continue
		}
		// The key and the table probe are written out here rather than called: in Go a call
		// spills every live register, and this loop holds many.
		n := len(word)
		var key termKey
		switch {
		case short:
			key = termKey{k0: k0, h: shortHash(k0, 0, n)}
		case n <= 16 && cap(word) >= 16:
			w16 := word[:16]
			a := binary.LittleEndian.Uint64(w16[:8]) & (uint64(1)<<(uint(min(n, 8))*8) - 1)
			b := binary.LittleEndian.Uint64(w16[8:]) & (uint64(1)<<(uint(max(n-8, 0))*8) - 1)
			key = termKey{a, b, shortHash(a, b, n)}
		default:
			key = makeKey(word)
		}
		r := -1
		tag := uint32(key.h>>56) << 24
		for j := key.h & tbl.mask; ; j = (j + 1) & tbl.mask {
			e := tbl.index[j]
			if e == 0 {
				break
			}
			if e&0xff000000 != tag {
				continue
			}
			x := int(e&0xffffff) - 1
			row := tbl.rows[x*tbl.stride : x*tbl.stride+rowHeader : x*tbl.stride+rowHeader]
			if row[0] == key.k0 && row[1] == key.k1 && uint32(row[2]) == uint32(n) &&
				(n <= 16 || bytes.Equal(tbl.arena[row[2]>>32+16:row[2]>>32+uint64(n)], word[16:])) {
				r = x
				break
			}
		}
		if r < 0 {
			st.Tokens++
			continue
		}
		if r >= tbl.words {
			continue // a stop word
		}
		st.Tokens++
		st.KnownTokens++
		o := (r*tbl.stride + rowHeader) * 2
		if len(sums) == 4 {
			// Four labels, the common case, add without a loop.
			acc4 := (*[4]float64)(sums)
			w := (*[4]float32)(tbl.weights[o : o+4])
			acc4[0] += float64(w[0])
			acc4[1] += float64(w[1])
			acc4[2] += float64(w[2])
			acc4[3] += float64(w[3])
			continue
		}
		for c, w := range tbl.weights[o : o+len(sums)] {
			sums[c] += float64(w)
		}
	}
}
