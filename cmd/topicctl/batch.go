package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	"github.com/topicd/topicd/internal/batchfile"
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
	lockWait      time.Duration
	quiet         bool
	summary       bool
	local         bool
	transport     client.Transport
	chunk, window int
	chunkBytes    int
	docBytes      int
	htmlBytes     int
	maxAttempts   int
	cpuProfile    string
	// connectTimeout bounds the wait for a server before the job starts; serverSet says
	// whether --server was given, for the message when none answers.
	connectTimeout time.Duration
	serverSet      bool
}

// maxConnectTimeout bounds --connect-timeout: a job that cannot reach a server after ten minutes
// is better told so than left waiting.
const maxConnectTimeout = 10 * time.Minute

const batchUsage = `usage: topicctl batch --in FILE|DIR|- [--out FILE] [flags]

Classifies every input document and writes one JSONL record per document:
  {"id", "label", "confidence", "scores": {label: confidence}, "topics": [present topic],
   "topic_probabilities": {topic: probability}, "model", "model_version"}
or, for a document the server rejected, {"id", "error": {"code", "message"}}. A bad input record
(invalid JSON or CSV, missing id or text, text that is not UTF-8, duplicate id) gets such an
error record with its "line" and is reported on standard error; the job goes on. A document
that failed only because the servers were unavailable, overloaded or too slow gets a record with
"retry": true, the job exits with an error saying how many, and --resume sends them again. When
no server answers within --connect-timeout, the job exits 1 before it changes --out. With
several servers or a dns:/// target, documents are balanced over the replicas and re-sent
elsewhere when one fails. A job stopped at any point continues with --resume, which never writes
an id twice; the output is locked while a job writes it. When standard error is a terminal, it
shows a progress bar and an end-of-job summary; elsewhere only bad input, warnings and errors
(--summary adds the summary, e.g. for logs; --quiet leaves only fatal errors).

flags:`

// parseBatchFlags reads the flags of `topicctl batch`.
func parseBatchFlags(args []string, stderr io.Writer) (*batchFlags, error) {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &batchFlags{}
	f.conn.register(fs)
	fs.StringVar(&f.in, "in", "", "input: a JSONL file (id, text, optional title and content_type), a CSV file with a header (id, text, optional title), a folder of .txt and .html files (id = file name), or - for standard input")
	fs.StringVar(&f.out, "out", "-", "output JSONL `file`, one record per input document (- for standard output)")
	fs.StringVar(&f.format, "format", "auto", "input format: auto (by --in), jsonl, csv or dir")
	fs.StringVar(&f.model, "model", "", "model `name` (default: the server's default model)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "calls or streams at once, over all servers; give two or more per server")
	fs.IntVar(&f.topK, "top-k", 0, "keep only the `k` best labels in scores (0: all)")
	fs.Float64Var(&f.minConfidence, "min-confidence", 0, "abstain (label other) when the best confidence is below `p`")
	fs.Var(&f.labelMix, "label-mix", labelMixUsage)
	fs.BoolVar(&f.ordered, "ordered", false, "write records in input order (default: as they come back)")
	fs.BoolVar(&f.resume, "resume", false, "continue a job: skip the documents --out already holds, send again those with \"retry\" records, and append")
	fs.BoolVar(&f.force, "force", false, "overwrite a non-empty --out instead of refusing")
	fs.DurationVar(&f.lockWait, "lock-wait", 0, "wait up to `duration` for another job writing --out to end (0: refuse at once)")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing on standard error but fatal errors (and the summary with --summary)")
	fs.BoolVar(&f.summary, "summary", false, "print the end-of-job summary on standard error even when it is not a terminal, e.g. for logs (a terminal gets it unless --quiet)")
	fs.BoolVar(&f.local, "local", false, "classify in this process with the embedded default model instead of a server (for measuring the batch path against the library)")
	transport := fs.String("transport", "batch", "how documents travel: batch (ClassifyBatch calls of --chunk documents) or stream (ClassifyStream)")
	fs.IntVar(&f.chunk, "chunk", 1000, "documents per ClassifyBatch call, at most (halved when a server's batch limit is lower)")
	fs.IntVar(&f.chunkBytes, "chunk-bytes", 4<<20, "`bytes` of documents per ClassifyBatch call, at most, to stay under the server's message limit (a larger document goes alone)")
	fs.IntVar(&f.docBytes, "max-document-bytes", 1<<20, "the server's --max-document-bytes: a plain-text document (title and text) over this many `bytes` gets INVALID_ARGUMENT without being sent")
	fs.IntVar(&f.htmlBytes, "max-html-bytes", 4<<20, "the server's --max-html-bytes: an HTML document (title and page) over this many `bytes` gets INVALID_ARGUMENT without being sent")
	fs.IntVar(&f.window, "window", 0, "documents read and not yet written, at most (0: 2 x concurrency x chunk, at most 4096)")
	fs.IntVar(&f.maxAttempts, "max-attempts", 10, "sends of one document before its record carries the error")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 10*time.Second, "wait up to `duration` for a server to answer before the job starts; with none, exit 1 leaving --out as it was")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process to `file` (for performance work)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, batchUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) { f.serverSet = f.serverSet || fl.Name == "server" })
	switch {
	case f.in == "":
		fs.Usage()
		return nil, errors.New("--in is required")
	case fs.NArg() > 0:
		return nil, fmt.Errorf("batch takes no arguments, got %q", fs.Args())
	case f.concurrency < 1 || f.chunk < 1 || f.maxAttempts < 1 || f.chunkBytes < 1 || f.docBytes < 1 || f.htmlBytes < 1:
		return nil, errors.New("--concurrency, --chunk, --chunk-bytes, --max-document-bytes, --max-html-bytes and --max-attempts must be at least 1")
	case f.window < 0 || f.lockWait < 0:
		return nil, errors.New("--window and --lock-wait must not be negative")
	case f.connectTimeout <= 0 || f.connectTimeout > maxConnectTimeout:
		return nil, fmt.Errorf("--connect-timeout: must be a positive duration such as 10s, at most %s, got %s", maxConnectTimeout, f.connectTimeout)
	}
	switch *transport {
	case "batch":
		f.transport = client.TransportBatch
	case "stream":
		f.transport = client.TransportStream
	default:
		return nil, fmt.Errorf("--transport %q: use batch or stream", *transport)
	}
	return f, nil
}

// runBatch classifies every document of an input file, folder or stream into a JSONL file.
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBatchFlags(args, stderr)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	in, err := batchfile.Open(f.in, f.format, os.Stdin)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer in.Close()
	// The servers are asked once the output is locked and checked, before it is changed: a job
	// that can reach none, or asks for a model they do not have, leaves --out as it was for
	// the next run, and a refusal such as "output exists" still comes at once.
	var c *client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	ready := func() error {
		if f.local {
			return nil
		}
		var err error
		c, err = connect(ctx, f)
		return err
	}
	waiting := func() {
		if !f.quiet {
			fmt.Fprintf(stderr, "topicctl batch: %s is being written by another job; waiting up to %v (--lock-wait)\n", f.out, f.lockWait)
		}
	}
	out, err := batchfile.Create(ctx, f.out, batchfile.OutputOptions{Resume: f.resume, Force: f.force, LockWait: f.lockWait, Waiting: waiting, Ready: ready}, stdout)
	if err != nil {
		return err
	}
	j := newBatchJob(f, in, out, stderr)
	j.client = c
	if f.resume {
		j.reportResume()
	}
	start := time.Now()
	resent, runErr := j.run(ctx)
	return j.finish(time.Since(start), resent, runErr)
}

// startCPUProfile starts --cpuprofile, if given, and returns what stops it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	pf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(pf); err != nil {
		pf.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); pf.Close() }, nil
}

// connect dials the servers and waits up to --connect-timeout for one to answer GetModel for
// --model. It fails when none is reachable in that time, naming the addresses and the last
// connection error, and when the model is unknown: a wrong --model is the job's mistake, not a
// document's, so it is said once instead of in an error record for every document. Any other
// answer lets the job start; its own calls deal with a server that is slow or refuses.
func connect(ctx context.Context, f *batchFlags) (*client.Client, error) {
	c, err := f.conn.dial()
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, f.connectTimeout)
	defer cancel()
	// WaitForReady: the call waits for a connection through refusals and reconnects, so a
	// server still starting gets the whole --connect-timeout; client.GetModel would fail on the
	// first refusal.
	_, err = topicdv1.NewModelServiceClient(c.Conn()).GetModel(pctx, &topicdv1.GetModelRequest{Name: f.model}, grpc.WaitForReady(true))
	switch {
	case err == nil:
		return c, nil
	case status.Code(err) == codes.NotFound:
		c.Close()
		return nil, fmt.Errorf("--model %q: %s", f.model, status.Convert(err).Message())
	case ctx.Err() != nil:
		c.Close()
		return nil, errors.New("interrupted while waiting for a server; nothing was sent or written")
	case c.Conn().GetState() != connectivity.Ready:
		c.Close()
		return nil, unreachable(f, status.Convert(err).Message())
	}
	return c, nil
}

// unreachable is the error of a job that found no server: where it looked, what went wrong
// last, and what to change.
func unreachable(f *batchFlags, last string) error {
	from := "from --server"
	switch {
	case f.serverSet:
	case os.Getenv("TOPICD_SERVER") != "":
		from = "from $TOPICD_SERVER"
	default:
		from = "the default: neither --server nor $TOPICD_SERVER is set"
	}
	// gRPC's wording around the connection's own error says nothing to a user, nor does its
	// balancer's when a name resolved to no address.
	last = strings.TrimPrefix(last, "latest balancer error: ")
	if strings.Contains(last, "no children to pick from") {
		last = "the name resolved to no address"
	}
	return fmt.Errorf("no topicd server reachable at %s (%s) within %s (--connect-timeout); last error: %s. "+
		"Start topicd there, or give the address of a running one with --server or $TOPICD_SERVER. "+
		"Nothing was sent or written", f.conn.server, from, f.connectTimeout, last)
}

// classifyRemote sends docs to the servers connect reached and writes each result.
func (j *batchJob) classifyRemote(ctx context.Context, docs <-chan *topicdv1.Document) (resent int64, err error) {
	f, c := j.flags, j.client
	logger := slog.New(slog.DiscardHandler)
	if !f.quiet {
		logger = slog.New(slog.NewTextHandler(&lineWriter{j: j}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	stats, err := c.RunBatch(ctx, client.BatchConfig{
		Transport:        f.transport,
		Concurrency:      f.concurrency,
		ChunkSize:        f.chunk,
		MaxChunkBytes:    f.chunkBytes,
		MaxDocumentBytes: f.docBytes,
		MaxHTMLBytes:     f.htmlBytes,
		Window:           f.window,
		MaxAttempts:      f.maxAttempts,
		CallTimeout:      f.conn.timeout,
		Ordered:          f.ordered,
		Logger:           logger,
	}, docs, j.emit, client.WithModel(f.model), client.WithTopK(f.topK), client.WithMinConfidence(f.minConfidence), client.WithLabelMix(f.labelMix))
	return stats.Resent, err
}
