package classifier

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// termKey is a term's first 16 bytes packed into two words (zero padded) and its hash. The
// tokenizer computes it once per term; the stop-word set and the vocabulary table both use it.
type termKey struct {
	k0, k1, h uint64
}

const (
	hashM1 = 0xa0761d6478bd642f
	hashM2 = 0xe7037ed1a0b428db
	hashM3 = 0x8ebc6af09c88c6e3
)

// load64 reads up to 8 bytes little-endian, zero padded. When the slice's capacity allows, it
// loads a whole word and masks it, which is much cheaper than assembling bytes.
func load64(b []byte) uint64 {
	if n := len(b); n < 8 && cap(b) >= 8 {
		return binary.LittleEndian.Uint64(b[:8]) & (1<<(8*n) - 1)
	}
	switch len(b) {
	case 0:
		return 0
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 3:
		return uint64(b[2])<<16 | uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	case 5:
		return uint64(b[4])<<32 | uint64(binary.LittleEndian.Uint32(b))
	case 6:
		return uint64(binary.LittleEndian.Uint16(b[4:]))<<32 | uint64(binary.LittleEndian.Uint32(b))
	case 7:
		return uint64(b[6])<<48 | uint64(binary.LittleEndian.Uint16(b[4:]))<<32 | uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// makeKey packs and hashes a term. The hash is fixed and unseeded: the vocabulary is fixed when a
// table is built, so an input cannot lengthen a probe sequence beyond the longest cluster already
// in the table.
func makeKey(b []byte) termKey {
	var k termKey
	n := len(b)
	if n <= 8 {
		k.k0 = load64(b)
	} else {
		k.k0 = binary.LittleEndian.Uint64(b)
		k.k1 = load64(b[8:min(n, 16)])
	}
	if n <= 16 {
		k.h = shortHash(k.k0, k.k1, n)
		return k
	}
	hi, lo := bits.Mul64(k.k0^hashM1, k.k1^hashM2^uint64(n))
	h := hi ^ lo
	for b = b[16:]; len(b) > 0; {
		c := min(len(b), 8)
		hi, lo = bits.Mul64(h^hashM3, load64(b[:c])^hashM1)
		h = hi ^ lo
		b = b[c:]
	}
	hi, lo = bits.Mul64(h^hashM2, hashM3)
	k.h = hi ^ lo
	return k
}

// shortHash is makeKey's hash of a term of n <= 16 bytes packed into k0 and k1; small enough to
// inline, so the scanner can hash a word it already holds in a register.
func shortHash(k0, k1 uint64, n int) uint64 {
	hi, lo := bits.Mul64(k0^hashM1, k1^hashM2^uint64(n))
	return hi ^ lo
}

// table maps a term to its row of per-label weights. It is built once and only read after, so
// lookups need no lock. An index of uint32 slots, a power of two at most half full, holds
// 8 bits of the term's hash (so most misses never leave the index) and the term's row number plus
// one (0 marks an empty slot); collisions probe linearly. A row holds the term's packed key, its
// length and arena offset, then its weights as float32, so a hit reads one row and, for terms
// over 16 bytes only, the arena. Rows are ordered by how often their term was seen in training,
// so the few thousand terms that make up most of any text share a small, cache-resident block.
type table struct {
	index   []uint32
	mask    uint64
	rows    []uint64
	weights []float32 // the same memory as rows
	stride  int       // uint64 words per row
	labels  int
	arena   []byte
	// words is the number of vocabulary rows; rows from words on hold stop words (zero weights),
	// which scoreWords finds in the same probe as real terms and skips.
	words int
	// zero is the number of rows in the index; one more row of zeros follows, which scoreWords
	// adds for an unknown term rather than branching on it.
	zero int
}

// rowHeader is the number of uint64 words before a row's weights.
const rowHeader = 3

// maxTerms bounds the vocabulary: a slot holds a row number in 24 bits.
const maxTerms = 1<<24 - 2

// newTable indexes the distinct terms arena[offsets[i]:offsets[i+1]], whose weights are
// weights[i*labels:(i+1)*labels]; row r holds term order[r]. The stop words, which must not be
// among the terms, follow in rows of their own.
func newTable(arena []byte, offsets []uint32, weights []float32, labels int, order []int, stop []string) *table {
	n := len(order) + len(stop)
	size := 16
	for size < 2*n {
		size <<= 1
	}
	stride := rowHeader + (labels+1)/2
	t := &table{
		index:  make([]uint32, size),
		mask:   uint64(size - 1),
		rows:   make([]uint64, (n+1)*stride),
		zero:   n,
		stride: stride,
		labels: labels,
		arena:  arena,
	}
	t.weights = unsafe.Slice((*float32)(unsafe.Pointer(&t.rows[0])), len(t.rows)*2)
	for r, i := range order {
		term := arena[offsets[i]:offsets[i+1]]
		k := makeKey(term)
		row := t.rows[r*stride:]
		row[0], row[1], row[2] = k.k0, k.k1, uint64(offsets[i])<<32|uint64(len(term))
		copy(t.weights[(r*stride+rowHeader)*2:], weights[i*labels:(i+1)*labels])
		j := k.h & t.mask
		for t.index[j] != 0 {
			j = (j + 1) & t.mask
		}
		t.index[j] = uint32(k.h>>56)<<24 | uint32(r+1)
	}
	t.words = len(order)
	for r, w := range stop {
		r += len(order)
		k := makeKey([]byte(w))
		row := t.rows[r*stride:]
		row[0], row[1], row[2] = k.k0, k.k1, uint64(len(w))
		j := k.h & t.mask
		for t.index[j] != 0 {
			j = (j + 1) & t.mask
		}
		t.index[j] = uint32(k.h>>56)<<24 | uint32(r+1)
	}
	return t
}

// lookup returns the row of the vocabulary term with bytes term and key k, or -1.
func (t *table) lookup(term []byte, k termKey) int {
	if r := t.find(term, k); r < t.words {
		return r
	}
	return -1
}

// find returns the row of the term or stop word with bytes term and key k, or -1.
func (t *table) find(term []byte, k termKey) int {
	tag := uint32(k.h>>56) << 24
	n := uint64(len(term))
	j := k.h & t.mask
	for {
		e := t.index[j]
		if e == 0 {
			return -1
		}
		if e&0xff000000 == tag {
			r := int(e&0xffffff) - 1
			row := t.rows[r*t.stride : r*t.stride+rowHeader : r*t.stride+rowHeader]
			if row[0] == k.k0 && row[1] == k.k1 && uint32(row[2]) == uint32(n) &&
				(n <= 16 || bytes.Equal(t.arena[row[2]>>32+16:row[2]>>32+n], term[16:])) {
				return r
			}
		}
		j = (j + 1) & t.mask
	}
}

// row returns row r's weights, one per label.
func (t *table) row(r int) []float32 {
	s := (r*t.stride + rowHeader) * 2
	return t.weights[s : s+t.labels : s+t.labels]
}

// term returns row r's term.
func (t *table) term(r int) []byte {
	m := t.rows[r*t.stride+2]
	return t.arena[m>>32 : m>>32+uint64(uint32(m))]
}
