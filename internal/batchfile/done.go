package batchfile

import (
	"fmt"
	"hash/maphash"
)

// Done is what the output already holds, and the ids this run has seen: it decides which input
// documents need a record. It is not safe for concurrent use: one goroutine reads the input.
type Done struct {
	ids   *idSet           // ids with a record; line 0 until seen in this run's input
	lines map[int]struct{} // input lines with a bad-input record
	// Records is how many records an earlier run wrote that count as done.
	Records int
	// Retries is how many records of transient failures an earlier run wrote; resume dropped
	// them and sends those documents again.
	Retries int
}

func newDone() *Done {
	return &Done{ids: newIDSet(), lines: map[int]struct{}{}}
}

// Admit reports whether d still needs a record: false when an earlier run wrote it (by id, or
// by line for a bad input record). A document whose id came earlier in this run's input gets
// d.Err set (a duplicate) and is admitted, so it gets an error record.
func (s *Done) Admit(in *Input, d *Doc) bool {
	if _, ok := s.lines[d.Line]; ok {
		return false
	}
	if d.Err != nil {
		return true
	}
	k := s.ids.key(d.ID)
	first, ok := s.ids.m[k]
	switch {
	case ok && first > 0:
		d.Err = fmt.Errorf("duplicate id %q (first on %s)", clip(d.ID), in.Where(int(first)))
	case ok:
		s.ids.m[k] = int32(d.Line)
		return false
	default:
		s.ids.m[k] = int32(d.Line)
	}
	return true
}

// idSet remembers ids with the input line they were first seen on, in 16 bytes of hash plus 4
// of line per id (about 30 bytes with the map's overhead, 300 MB for 10 million ids), instead
// of the ids themselves. Two independent 64-bit hashes make a false match about 1 in 10^24
// for 10 million ids.
type idSet struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int32
}

func newIDSet() *idSet {
	return &idSet{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: make(map[[2]uint64]int32)}
}

func (s *idSet) key(id string) [2]uint64 {
	return [2]uint64{maphash.String(s.s1, id), maphash.String(s.s2, id)}
}
