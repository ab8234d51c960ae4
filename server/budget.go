package server

import (
	"sync"
	"sync/atomic"
)

// budget is the server-wide bound on stream data held between Recv and Send
// (Options.MaxBufferedBytes). Streams add what they take and release it once answered; a stream
// whose receiver finds the budget spent stops calling Recv until another stream releases some, so
// HTTP/2 flow control pushes back on its client. Its methods are safe for concurrent use.
type budget struct {
	max  int64
	used atomic.Int64

	waiters atomic.Int32 // receivers waiting for bytes to be released
	mu      sync.Mutex
	wake    chan struct{} // closed, and replaced, when bytes are released while someone waits
}

func newBudget(max int64) *budget {
	return &budget{max: max, wake: make(chan struct{})}
}

func (b *budget) full() bool { return b.used.Load() >= b.max }

func (b *budget) add(n int64) { b.used.Add(n) }

func (b *budget) release(n int64) {
	b.used.Add(-n)
	if b.waiters.Load() > 0 {
		b.mu.Lock()
		close(b.wake)
		b.wake = make(chan struct{})
		b.mu.Unlock()
	}
}

// wait returns a channel that is closed once bytes are released, or nil when the budget is not
// full (any more). A caller given a channel must call done after waiting on it.
func (b *budget) wait() <-chan struct{} {
	b.waiters.Add(1)
	b.mu.Lock()
	ch := b.wake
	b.mu.Unlock()
	// Checked again after registering: a release in between either closed ch or shows here.
	if !b.full() {
		b.waiters.Add(-1)
		return nil
	}
	return ch
}

func (b *budget) done() { b.waiters.Add(-1) }
