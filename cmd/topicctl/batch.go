package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// batchFlags are the settings of one `topicctl batch` run.
type batchFlags struct {
	conn          connFlags
	in, out       string
	format        string
	model         string
	concurrency   int
	topK          int
	minConfidence float64
	labelMix      labelMixFlag
	ordered       bool
	resume, force bool
	quiet         bool
	summary       bool
	local         bool
	transport     string
	chunk, window int
	maxAttempts   int
	cpuProfile    string
}

// runBatch classifies every document of an input file, folder or stream into a JSONL file.
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f batchFlags
	f.conn.register(fs)
	fs.StringVar(&f.in, "in", "", "input: a JSONL file (id, text, optional title), a CSV file with a header (id, text, optional title), a folder of .txt files (id = file name), or - for standard input")
	fs.StringVar(&f.out, "out", "-", "output JSONL `file`, one record per input document (- for standard output)")
	fs.StringVar(&f.format, "format", "auto", "input format: auto (by --in), jsonl, csv or dir")
	fs.StringVar(&f.model, "model", "", "model `name` (default: the server's default model)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "calls or streams at once, over all servers; give two or more per server")
	fs.IntVar(&f.topK, "top-k", 0, "keep only the `k` best labels in scores (0: all)")
	fs.Float64Var(&f.minConfidence, "min-confidence", 0, "abstain (label other) when the best confidence is below `p`")
	fs.Var(&f.labelMix, "label-mix", labelMixUsage)
	fs.BoolVar(&f.ordered, "ordered", false, "write records in input order (default: as they come back)")
	fs.BoolVar(&f.resume, "resume", false, "continue a job: skip the documents --out already holds and append the rest")
	fs.BoolVar(&f.force, "force", false, "overwrite a non-empty --out instead of refusing")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing on standard error but fatal errors (and the summary with --summary)")
	fs.BoolVar(&f.summary, "summary", false, "print the end-of-job summary on standard error even when it is not a terminal, e.g. for logs (a terminal gets it unless --quiet)")
	fs.BoolVar(&f.local, "local", false, "classify in this process with the embedded default model instead of a server (for measuring the batch path against the library)")
	fs.StringVar(&f.transport, "transport", "batch", "how documents travel: batch (ClassifyBatch calls of --chunk documents) or stream (ClassifyStream)")
	fs.IntVar(&f.chunk, "chunk", 1000, "documents per ClassifyBatch call, at most (halved when a server's batch limit is lower)")
	fs.IntVar(&f.window, "window", 0, "documents read and not yet written, at most (0: 2 x concurrency x chunk)")
	fs.IntVar(&f.maxAttempts, "max-attempts", 10, "sends of one document before its record carries the error")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process to `file` (for performance work)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: topicctl batch --in FILE|DIR|- [--out FILE] [flags]

Classifies every input document and writes one JSONL record per document:
  {"id", "label", "confidence", "scores": {label: confidence}, "model", "model_version"}
or, for a document the server rejected, {"id", "error": {"code", "message"}}. A bad input line
(invalid JSON, missing id or text, duplicate id) gets such an error record with its "line" and is
reported on standard error; the job goes on. With several servers or a dns:/// target, documents
are balanced over the replicas and re-sent elsewhere when one fails. A job stopped at any point
continues with --resume, which never writes an id twice. When standard error is a terminal, it
shows a progress bar and an end-of-job summary; elsewhere only bad input, warnings and errors
(--summary adds the summary, e.g. for logs; --quiet leaves only fatal errors).

flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.in == "" {
		fs.Usage()
		return errors.New("--in is required")
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("batch takes no arguments, got %q", fs.Args())
	}
	if f.concurrency < 1 || f.chunk < 1 || f.maxAttempts < 1 {
		return errors.New("--concurrency, --chunk and --max-attempts must be at least 1")
	}
	var transport client.Transport
	switch f.transport {
	case "batch":
		transport = client.TransportBatch
	case "stream":
		transport = client.TransportStream
	default:
		return fmt.Errorf("--transport %q: use batch or stream", f.transport)
	}

	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pf.Close()
		defer pprof.StopCPUProfile()
	}
	in, err := openInput(f.in, f.format, os.Stdin)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer in.Close()
	out, rs, err := openOutput(f.out, f.resume, f.force, stdout)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	j := &batchJob{flags: &f, out: out, rs: rs, stderr: stderr, labels: map[string]int64{}}
	j.startProgress(stderr, in)
	docs := make(chan *topicdv1.Document, 1024)
	var feedErr atomic.Pointer[error]
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := j.feed(ctx, in, docs); err != nil {
			feedErr.Store(&err)
			cancel()
		}
	})

	start := time.Now()
	var runErr error
	var resent int64
	if f.local {
		runErr = runLocal(ctx, j, docs)
	} else {
		c, err := f.conn.dial()
		if err != nil {
			cancel()
			out.close()
			return err
		}
		defer c.Close()
		// A wrong --model is the job's mistake, not a document's: say so once instead of
		// writing an error record for every document.
		if _, err := c.GetModel(ctx, f.model); status.Code(err) == codes.NotFound {
			cancel()
			out.close()
			return fmt.Errorf("--model %q: %s", f.model, status.Convert(err).Message())
		}
		logger := slog.New(slog.DiscardHandler)
		if !f.quiet {
			logger = slog.New(slog.NewTextHandler(&lineWriter{j: j}, &slog.HandlerOptions{Level: slog.LevelWarn}))
		}
		var stats client.BatchStats
		stats, runErr = c.RunBatch(ctx, client.BatchConfig{
			Transport:   transport,
			Concurrency: f.concurrency,
			ChunkSize:   f.chunk,
			Window:      f.window,
			MaxAttempts: f.maxAttempts,
			CallTimeout: f.conn.timeout,
			Ordered:     f.ordered,
			Logger:      logger,
		}, docs, j.emit, client.WithModel(f.model), client.WithTopK(f.topK), client.WithMinConfidence(f.minConfidence), client.WithLabelMix(f.labelMix))
		resent = stats.Resent
	}
	elapsed := time.Since(start)
	cancel()
	if runErr == nil {
		// The job ends only once the input did, so this does not wait. After an error the
		// reader may be blocked on standard input: leave it, nothing it does matters now.
		wg.Wait()
	}
	j.stopProgress()
	closeErr := out.close()
	if err := feedErr.Load(); err != nil {
		return fmt.Errorf("read input %s: %w", f.in, *err)
	}
	if runErr != nil {
		if ctx.Err() != nil && errors.Is(runErr, context.Canceled) {
			runErr = errors.New("interrupted: rerun with --resume to finish the job")
		}
		return runErr
	}
	if closeErr != nil {
		return closeErr
	}
	// The summary is for the person watching, like the bar; a log gets it on request.
	if f.summary || (!f.quiet && isTerminal(stderr)) {
		j.summary(stderr, elapsed, resent)
	}
	return nil
}

// batchJob is the state one run shares between its input, its output and its progress.
type batchJob struct {
	flags  *batchFlags
	out    *outputWriter
	rs     *resumeState
	stderr io.Writer

	done, skipped atomic.Int64 // records written; documents skipped as already done
	inputErrs     atomic.Int64
	mu            sync.Mutex // guards labels, serverErrs and stderr lines
	labels        map[string]int64
	serverErrs    int64
	reported      int
	bar           *progressbar.ProgressBar
	barStop       chan struct{}
	barDone       chan struct{}
	barTotal      atomic.Int64
}

// maxReported bounds the bad-input messages printed on standard error; all of them are in
// the output anyway.
const maxReported = 50

// feed reads the input, writes a record for each bad input record, skips what --resume found
// done, and sends the rest to docs. It closes docs when the input ends.
func (j *batchJob) feed(ctx context.Context, in docReader, docs chan<- *topicdv1.Document) error {
	defer close(docs)
	seen := j.rs.ids
	for {
		d, err := in.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := j.rs.lines[d.line]; ok {
			j.skipped.Add(1)
			continue // a bad input record already written by an earlier run
		}
		d.id = strings.ToValidUTF8(d.id, "\uFFFD")
		if d.err == nil {
			k := seen.key(d.id)
			first, ok := seen.m[k]
			switch {
			case ok && first > 0:
				d.err = fmt.Errorf("duplicate id %q (first on %s)", d.id, j.where(int(first)))
			case ok:
				seen.m[k] = int32(d.line)
				j.skipped.Add(1)
				continue // done by an earlier run
			default:
				seen.m[k] = int32(d.line)
			}
		}
		if d.err != nil {
			if err := j.inputError(d); err != nil {
				return err
			}
			continue
		}
		select {
		case docs <- &topicdv1.Document{Id: d.id, Text: d.text, Title: d.title}:
		case <-ctx.Done():
			return nil
		}
	}
}

// where names an input position for messages: a line of a file, or a file of a folder.
func (j *batchJob) where(line int) string {
	if j.flags.format == "dir" || isDir(j.flags.in) {
		return fmt.Sprintf("file #%d", line)
	}
	return fmt.Sprintf("line %d", line)
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// inputError writes the record of a bad input record and reports it on standard error.
func (j *batchJob) inputError(d inputDoc) error {
	msg := fmt.Sprintf("%s: %v", j.where(d.line), d.err)
	if j.flags.format == "dir" || isDir(j.flags.in) {
		msg = fmt.Sprintf("%s: %v", d.id, d.err)
	}
	err := status.Error(codes.InvalidArgument, msg)
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
	return j.out.write(func(b []byte) []byte { return appendError(b, d.id, d.line, err) })
}

// emit writes the record of one result. RunBatch calls it from one goroutine.
func (j *batchJob) emit(r client.Result) error {
	j.done.Add(1)
	if r.Err != nil {
		j.mu.Lock()
		j.serverErrs++
		j.mu.Unlock()
		return j.out.write(func(b []byte) []byte { return appendError(b, r.ID, 0, r.Err) })
	}
	j.mu.Lock()
	j.labels[r.Classification.GetLabel()]++
	j.mu.Unlock()
	return j.out.write(func(b []byte) []byte { return appendClassification(b, r.ID, r.Classification) })
}

// startProgress shows a progress bar on a terminal: documents per second, and the time left
// once the input's lines are counted (in the background, so the job starts at once).
func (j *batchJob) startProgress(stderr io.Writer, in docReader) {
	if j.flags.quiet || !isTerminal(stderr) {
		return
	}
	j.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(stderr),
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
		if n := countInput(j.flags.in, in); n >= 0 {
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
	fmt.Fprintf(w, "  %-16s %d (%d bad input records, %d rejected by the server)\n", "errors", j.inputErrs.Load()+j.serverErrs, j.inputErrs.Load(), j.serverErrs)
	if s := j.skipped.Load(); s > 0 || j.flags.resume {
		fmt.Fprintf(w, "  %-16s %d already in %s\n", "skipped", s, j.flags.out)
	}
	if resent > 0 {
		fmt.Fprintf(w, "  %-16s %d after failed calls\n", "re-sent", resent)
	}
}
