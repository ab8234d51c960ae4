package main

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// logFlushInterval bounds how long a log line waits in the buffer.
	logFlushInterval = 100 * time.Millisecond
	// maxLogBuffer bounds the lines waiting for a slow or stuck output; lines beyond it are
	// dropped and counted rather than held or waited for.
	maxLogBuffer = 1 << 20
	// logCloseWait bounds the last flush at exit, when the output may be stuck.
	logCloseWait = 500 * time.Millisecond
)

// logWriter buffers log lines and writes them out every logFlushInterval, so the line logged for
// every call costs a copy instead of a write system call on the request path.
//
// Logging never stops or kills the server: the request path only appends to a buffer, the
// output is written by a goroutine of its own, and when the output fails (a closed pipe gives
// EPIPE; main ignores SIGPIPE so that it is an error, not death) or stalls past maxLogBuffer,
// lines are dropped and counted (Dropped, the topicd_log_lines_dropped_total metric). A closed
// output is not written again. Its methods are safe for concurrent use.
type logWriter struct {
	out io.Writer

	mu     sync.Mutex
	buf    []byte // lines waiting for the next flush
	closed bool   // the output failed for good: lines are dropped

	wmu   sync.Mutex // serialises writes to out
	spare []byte     // the buffer of the previous flush, reused

	dropped  atomic.Int64
	reported int64       // drops already reported by onDrop; flushLoop only
	onDrop   func(int64) // logs that n lines were dropped; set by start
	stop     chan struct{}
	done     chan struct{}
}

// newLogWriter returns a logWriter for w; call start before logging through it.
func newLogWriter(w io.Writer) *logWriter {
	return &logWriter{out: w, stop: make(chan struct{}), done: make(chan struct{})}
}

// start begins flushing. onDrop, when not nil, is called from the flushing goroutine with the
// number of lines dropped since it was last called, once the output takes lines again.
func (lw *logWriter) start(onDrop func(int64)) {
	lw.onDrop = onDrop
	go lw.flushLoop()
}

// Write implements io.Writer; slog handlers call it once per line. It never blocks on the output
// and never fails: a line it cannot keep is counted as dropped.
func (lw *logWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.closed || len(lw.buf)+len(p) > maxLogBuffer {
		lw.dropped.Add(1)
		return len(p), nil
	}
	lw.buf = append(lw.buf, p...)
	return len(p), nil
}

// Dropped returns how many lines were dropped because the output failed or could not keep up.
func (lw *logWriter) Dropped() int64 { return lw.dropped.Load() }

// Flush writes out what is buffered. It may block while the output does.
func (lw *logWriter) Flush() {
	lw.wmu.Lock()
	defer lw.wmu.Unlock()
	lw.mu.Lock()
	b := lw.buf
	lw.buf = lw.spare[:0]
	lw.mu.Unlock()
	if len(b) == 0 {
		lw.spare = b
		return
	}
	_, err := lw.out.Write(b)
	if err != nil {
		lw.dropped.Add(int64(bytes.Count(b, []byte{'\n'})))
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) {
			lw.mu.Lock()
			lw.closed = true
			lw.buf = nil
			lw.mu.Unlock()
		}
	}
	if cap(b) > maxLogBuffer {
		b = nil
	}
	lw.spare = b[:0]
}

// Close stops the flushing goroutine and flushes, waiting at most logCloseWait for a stuck
// output.
func (lw *logWriter) Close() {
	close(lw.stop)
	<-lw.done
	flushed := make(chan struct{})
	go func() {
		lw.Flush()
		close(flushed)
	}()
	select {
	case <-flushed:
	case <-time.After(logCloseWait):
	}
}

func (lw *logWriter) flushLoop() {
	defer close(lw.done)
	t := time.NewTicker(logFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-lw.stop:
			return
		case <-t.C:
			lw.Flush()
			// Say that lines were lost once the output takes lines again.
			if d := lw.dropped.Load(); d > lw.reported && lw.onDrop != nil {
				lw.mu.Lock()
				ok := !lw.closed
				lw.mu.Unlock()
				if ok {
					lw.onDrop(d - lw.reported)
					lw.reported = d
				}
			}
		}
	}
}
