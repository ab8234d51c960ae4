package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// startProgress shows a progress bar on a terminal: documents per second, and the time left
// once the input's lines are counted (in the background, so the job starts at once).
func (j *batchJob) startProgress() {
	if j.flags.quiet || !isTerminal(j.stderr) {
		return
	}
	j.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(j.stderr),
		progressbar.OptionSetDescription("classifying"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
	j.barStop, j.barDone = make(chan struct{}), make(chan struct{})
	j.barTotal.Store(-1)
	go func() {
		if n := j.in.Count(); n >= 0 {
			j.barTotal.Store(n)
		}
	}()
	go func() {
		defer close(j.barDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		max := int64(-1)
		for {
			select {
			case <-t.C:
				if n := j.barTotal.Load(); n != max {
					max = n
					j.bar.ChangeMax64(n)
				}
				j.mu.Lock()
				j.bar.Set64(j.done.Load() + j.skipped.Load())
				j.mu.Unlock()
			case <-j.barStop:
				return
			}
		}
	}()
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (j *batchJob) stopProgress() {
	if j.bar == nil {
		return
	}
	close(j.barStop)
	<-j.barDone
	j.bar.Set64(j.done.Load() + j.skipped.Load())
	j.bar.Finish()
	fmt.Fprintln(j.stderr)
}

// printLine writes a line on standard error, above the progress bar if there is one. The
// caller holds j.mu.
func (j *batchJob) printLine(s string) {
	if j.bar != nil {
		j.bar.Clear()
	}
	fmt.Fprintln(j.stderr, s)
}

// lineWriter sends the client's log lines to printLine.
type lineWriter struct{ j *batchJob }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.j.mu.Lock()
	defer w.j.mu.Unlock()
	w.j.printLine("topicctl batch: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
