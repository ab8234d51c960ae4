package main

import (
	"io"
	"strings"
	"testing"
)

// Once its output is a closed pipe, the log writer drops and counts lines, and writing never
// fails or blocks the caller.
func TestLogWriterClosedPipe(t *testing.T) {
	r, w := io.Pipe()
	r.Close()
	lw := newLogWriter(w)
	lw.start(nil)
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 10 {
		if n, err := lw.Write(line); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line))
		}
	}
	lw.Flush()
	for range 5 {
		lw.Write(line)
	}
	lw.Close()
	if got := lw.Dropped(); got != 15 {
		t.Errorf("Dropped() = %d, want 15", got)
	}
}

// An output that takes nothing (a stuck pipe) does not hold more than maxLogBuffer, and lines
// beyond it are counted.
func TestLogWriterStuck(t *testing.T) {
	r, w := io.Pipe() // nobody reads: a write blocks
	defer r.Close()
	lw := newLogWriter(w)
	line := []byte(strings.Repeat("y", 1023) + "\n")
	// Write never touches the output, so lines pile up as they would behind a flush stuck in it.
	n := 2 * maxLogBuffer / len(line)
	for range n {
		lw.Write(line)
	}
	if d := lw.Dropped(); d != int64(n/2) {
		t.Errorf("Dropped() = %d after %d lines of 1 KiB with nothing written out, want %d", d, n, n/2)
	}
	lw.mu.Lock()
	held := len(lw.buf)
	lw.mu.Unlock()
	if held > maxLogBuffer {
		t.Errorf("buffer holds %d bytes, want at most %d", held, maxLogBuffer)
	}
}
