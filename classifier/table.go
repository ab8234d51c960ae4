package classifier

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// table maps a term to its row of per-label weights. It is built once and only read after, so
// lookups need no lock. Open addressing with linear probing over a power-of-two array of 8-byte
// slots, at most half full: a slot holds the top 32 bits of the term's hash (a tag, so most
// misses never touch the key bytes) and the term's index plus one (0 marks an empty slot). Keys
// live back to back in one byte arena, weights in one float32 array, row by row.
type table struct {
	slots   []uint64
	mask    uint64
	arena   []byte   // every term's bytes, in index order
	offsets []uint32 // term i is arena[offsets[i]:offsets[i+1]]
	weights []float32
	labels  int
}

// newTable indexes the terms arena[offsets[i]:offsets[i+1]], which must be distinct.
func newTable(arena []byte, offsets []uint32, weights []float32, labels int) *table {
	n := len(offsets) - 1
	size := 16
	for size < 2*n {
		size <<= 1
	}
	t := &table{
		slots:   make([]uint64, size),
		mask:    uint64(size - 1),
		arena:   arena,
		offsets: offsets,
		weights: weights,
		labels:  labels,
	}
	for i := 0; i < n; i++ {
		h := hashTerm(arena[offsets[i]:offsets[i+1]])
		j := h & t.mask
		for t.slots[j] != 0 {
			j = (j + 1) & t.mask
		}
		t.slots[j] = h&^0xffffffff | uint64(i+1)
	}
	return t
}

// find returns the index of term, or -1.
func (t *table) find(term []byte) int {
	h := hashTerm(term)
	tag := h &^ 0xffffffff
	j := h & t.mask
	for {
		e := t.slots[j]
		if e == 0 {
			return -1
		}
		if e&^0xffffffff == tag {
			i := int(uint32(e)) - 1
			if bytes.Equal(t.arena[t.offsets[i]:t.offsets[i+1]], term) {
				return i
			}
		}
		j = (j + 1) & t.mask
	}
}

// row returns term i's weights, one per label.
func (t *table) row(i int) []float32 {
	return t.weights[i*t.labels : (i+1)*t.labels : (i+1)*t.labels]
}

// term returns term i's bytes.
func (t *table) term(i int) []byte {
	return t.arena[t.offsets[i]:t.offsets[i+1]]
}

// len is the number of terms.
func (t *table) len() int { return len(t.offsets) - 1 }

// hashTerm is a fixed, unseeded hash: the vocabulary is fixed when the table is built, so an
// input cannot lengthen a probe sequence beyond the longest cluster already in the table. It
// reads eight bytes at a time, which suits the short keys of a vocabulary.
func hashTerm(b []byte) uint64 {
	const (
		m1 = 0xa0761d6478bd642f
		m2 = 0xe7037ed1a0b428db
	)
	h := uint64(len(b)) * m2
	for len(b) >= 8 {
		hi, lo := bits.Mul64(binary.LittleEndian.Uint64(b)^m1, h^m2)
		h = hi ^ lo
		b = b[8:]
	}
	var tail uint64
	switch len(b) {
	case 7:
		tail = uint64(b[6])<<48 | uint64(b[5])<<40 | uint64(b[4])<<32 | uint64(binary.LittleEndian.Uint32(b))
	case 6:
		tail = uint64(b[5])<<40 | uint64(b[4])<<32 | uint64(binary.LittleEndian.Uint32(b))
	case 5:
		tail = uint64(b[4])<<32 | uint64(binary.LittleEndian.Uint32(b))
	case 4:
		tail = uint64(binary.LittleEndian.Uint32(b))
	case 3:
		tail = uint64(b[2])<<16 | uint64(b[1])<<8 | uint64(b[0])
	case 2:
		tail = uint64(b[1])<<8 | uint64(b[0])
	case 1:
		tail = uint64(b[0])
	}
	hi, lo := bits.Mul64(tail^m1, h^m2)
	h = hi ^ lo
	hi, lo = bits.Mul64(h^m1, m2)
	return hi ^ lo
}
