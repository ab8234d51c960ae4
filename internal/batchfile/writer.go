package batchfile

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Output durability. Records are appended as whole lines: a line is only ever written in one
// write call together with the lines before it, never split across two, so a process killed at
// any moment leaves at most one partial line at the end, and resume cuts it off. Lines are
// flushed when flushBytes are buffered and every flushInterval; the file is fsynced at most every
// syncInterval and at the end. A kill loses only the lines still buffered, and resume redoes
// those documents; a machine crash can also lose up to syncInterval of written lines, which
// resume redoes in the same way. No line is ever written twice, so no id is ever doubled.
const (
	flushBytes    = 256 << 10
	flushInterval = 250 * time.Millisecond
	syncInterval  = time.Second
)

// writer appends JSONL records. Its methods may be called from several goroutines.
type writer struct {
	mu       sync.Mutex
	w        io.Writer
	f        *os.File // nil when writing to standard output
	sync     bool     // f is a regular file, which fsync applies to (not /dev/null, a pipe)
	buf      []byte
	err      error
	lastSync time.Time
	stop     chan struct{}
	stopped  chan struct{}
}

func newWriter(w io.Writer, f *os.File) *writer {
	o := &writer{w: w, f: f, buf: make([]byte, 0, flushBytes+64<<10), lastSync: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if f != nil {
		st, err := f.Stat()
		o.sync = err == nil && st.Mode().IsRegular()
	}
	go func() {
		defer close(o.stopped)
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				o.mu.Lock()
				o.flushLocked()
				o.mu.Unlock()
			case <-o.stop:
				return
			}
		}
	}()
	return o
}

// write appends one record built by appendRecord, plus its newline.
func (o *writer) write(appendRecord func([]byte) []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.buf = appendRecord(o.buf)
	o.buf = append(o.buf, '\n')
	if len(o.buf) >= flushBytes {
		o.flushLocked()
	}
	return o.err
}

func (o *writer) flushLocked() {
	if o.err != nil || len(o.buf) == 0 {
		return
	}
	if _, err := o.w.Write(o.buf); err != nil {
		o.err = fmt.Errorf("write output: %w", err)
		return
	}
	o.buf = o.buf[:0]
	if o.sync && time.Since(o.lastSync) >= syncInterval {
		o.lastSync = time.Now()
		if err := o.f.Sync(); err != nil {
			o.err = fmt.Errorf("sync output: %w", err)
		}
	}
}

// close flushes and syncs everything and closes the file, which releases its lock.
func (o *writer) close() error {
	close(o.stop)
	<-o.stopped
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	if o.sync {
		if err := o.f.Sync(); err != nil && o.err == nil {
			o.err = fmt.Errorf("sync output: %w", err)
		}
	}
	if o.f != nil {
		if err := o.f.Close(); err != nil && o.err == nil {
			o.err = fmt.Errorf("close output: %w", err)
		}
	}
	return o.err
}
