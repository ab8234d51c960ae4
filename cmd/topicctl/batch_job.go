package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	"github.com/topicd/topicd/internal/batchfile"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// batchJob is the state one run shares between its input, its output and its progress.
type batchJob struct {
	flags  *batchFlags
	in     *batchfile.Input
	out    *batchfile.Output
	stderr io.Writer
	client *client.Client // the servers, reached before the job began; nil with --local

	done, skipped atomic.Int64 // records written; documents skipped as already done
	inputErrs     atomic.Int64
	mu            sync.Mutex // guards the counts below and stderr lines
	labels        map[string]int64
	serverErrs    int64
	transient     map[codes.Code]int64 // documents with "retry" records, by code
	reported      int
	bar           *progressbar.ProgressBar
	barStop       chan struct{}
	barDone       chan struct{}
	barTotal      atomic.Int64
}

func newBatchJob(f *batchFlags, in *batchfile.Input, out *batchfile.Output, stderr io.Writer) *batchJob {
	return &batchJob{flags: f, in: in, out: out, stderr: stderr, labels: map[string]int64{}, transient: map[codes.Code]int64{}}
}

// maxReported bounds the bad-input messages printed on standard error; all of them are in
// the output anyway.
const maxReported = 50

// run reads the input and classifies it, locally or on the servers, until the input ends or
// ctx is done. The output is closed when it returns.
func (j *batchJob) run(ctx context.Context) (resent int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	j.startProgress()
	docs := make(chan *topicdv1.Document, 1024)
	var feedErr atomic.Pointer[error]
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := j.feed(ctx, docs); err != nil {
			feedErr.Store(&err)
			cancel()
		}
	})
	if j.flags.local {
		err = runLocal(ctx, j, docs)
	} else {
		resent, err = j.classifyRemote(ctx, docs)
	}
	cancel()
	if err == nil {
		// The job ends only once the input did, so this does not wait. After an error the
		// reader may be blocked on standard input: leave it, nothing it does matters now.
		wg.Wait()
	}
	j.stopProgress()
	closeErr := j.out.Close()
	if e := feedErr.Load(); e != nil {
		return resent, fmt.Errorf("read input %s: %w", j.flags.in, *e)
	}
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errors.New("interrupted: rerun with --resume to finish the job")
		}
		return resent, err
	}
	return resent, closeErr
}

// feed reads the input, writes a record for each bad input record, skips what an earlier run
// wrote, and sends the rest to docs. It closes docs when the input ends.
func (j *batchJob) feed(ctx context.Context, docs chan<- *topicdv1.Document) error {
	defer close(docs)
	done := j.out.Done()
	for {
		d, err := j.in.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if !done.Admit(j.in, &d) {
			j.skipped.Add(1)
			continue
		}
		if d.Err != nil {
			if err := j.inputError(d); err != nil {
				return err
			}
			continue
		}
		select {
		case docs <- &topicdv1.Document{Id: d.ID, Text: d.Text, Title: d.Title, ContentType: d.ContentType}:
		case <-ctx.Done():
			return nil
		}
	}
}

// inputError writes the record of a bad input record and reports it on standard error.
func (j *batchJob) inputError(d batchfile.Doc) error {
	msg := j.in.Message(d)
	j.inputErrs.Add(1)
	j.done.Add(1)
	if !j.flags.quiet {
		j.mu.Lock()
		j.reported++
		switch {
		case j.reported <= maxReported:
			j.printLine("topicctl batch: bad input: " + msg)
		case j.reported == maxReported+1:
			j.printLine("topicctl batch: more bad input; see the error records in the output")
		}
		j.mu.Unlock()
	}
	return j.out.WriteError(d.ID, d.Line, status.Error(codes.InvalidArgument, msg))
}

// emit writes the record of one result. It may be called from several goroutines.
func (j *batchJob) emit(r client.Result) error {
	j.done.Add(1)
	j.mu.Lock()
	switch {
	case r.Err == nil:
		j.labels[r.Classification.GetLabel()]++
	case client.Transient(r.Err):
		j.transient[status.Code(r.Err)]++
	default:
		j.serverErrs++
	}
	j.mu.Unlock()
	switch {
	case r.Err == nil:
		return j.out.WriteClassification(r.ID, r.Classification)
	case client.Transient(r.Err):
		return j.out.WriteRetry(r.ID, r.Err)
	}
	return j.out.WriteError(r.ID, 0, r.Err)
}

// reportResume says what --resume found in the output, when it changes what the job does.
func (j *batchJob) reportResume() {
	if n := j.out.Done().Retries; n > 0 && !j.flags.quiet {
		j.mu.Lock()
		j.printLine(fmt.Sprintf("topicctl batch: sending again the %d documents whose records in %s say \"retry\"", n, j.flags.out))
		j.mu.Unlock()
	}
}

// finish prints the summary when wanted and returns the job's outcome: runErr, or an error when
// documents failed for transient reasons, so that the exit status tells the job is not done.
func (j *batchJob) finish(elapsed time.Duration, resent int64, runErr error) error {
	if runErr != nil {
		return runErr
	}
	// The summary is for the person watching, like the bar; a log gets it on request.
	if j.flags.summary || (!j.flags.quiet && isTerminal(j.stderr)) {
		j.summary(j.stderr, elapsed, resent)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	var n int64
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(j.transient)) {
		n += j.transient[c]
		parts = append(parts, fmt.Sprintf("%s %d", code.Code(c), j.transient[c]))
	}
	if n == 0 {
		return nil
	}
	what := fmt.Sprintf("%d documents were not classified because the servers were unavailable, overloaded or too slow (%s)", n, strings.Join(parts, ", "))
	if j.flags.out == "-" {
		return fmt.Errorf("%s: their records say \"retry\"; send those documents again (with --out FILE, --resume does it)", what)
	}
	return fmt.Errorf("%s: their records in %s say \"retry\"; run the same command with --resume to send them again", what, j.flags.out)
}

// summary prints what the job did.
func (j *batchJob) summary(w io.Writer, elapsed time.Duration, resent int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.done.Load()
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "topicctl batch: %d documents in %.2f s, %.0f docs/s\n", n, elapsed.Seconds(), rate)
	for _, l := range slices.Sorted(maps.Keys(j.labels)) {
		fmt.Fprintf(w, "  %-16s %d\n", l, j.labels[l])
	}
	var transient int64
	for _, n := range j.transient {
		transient += n
	}
	fmt.Fprintf(w, "  %-16s %d (%d bad input records, %d rejected by the server)\n", "errors", j.inputErrs.Load()+j.serverErrs, j.inputErrs.Load(), j.serverErrs)
	if transient > 0 {
		fmt.Fprintf(w, "  %-16s %d not classified: servers unavailable, overloaded or too slow; --resume sends them again\n", "to retry", transient)
	}
	if s := j.skipped.Load(); s > 0 || j.flags.resume {
		fmt.Fprintf(w, "  %-16s %d already in %s\n", "skipped", s, j.flags.out)
	}
	if resent > 0 {
		fmt.Fprintf(w, "  %-16s %d after failed calls\n", "re-sent", resent)
	}
}
