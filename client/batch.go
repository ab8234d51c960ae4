package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Transport is how RunBatch sends documents.
type Transport int

const (
	// TransportBatch sends chunks of BatchConfig.ChunkSize documents with ClassifyBatch calls,
	// Concurrency calls at once. Each call is balanced across replicas on its own, so a
	// replica that comes back gets work at once. It is the default: measured faster than
	// streams on topicd (see cmd/topicctl/README.md).
	TransportBatch Transport = iota
	// TransportStream sends one document per message over Concurrency ClassifyStream calls.
	TransportStream
)

// String returns "batch" or "stream".
func (t Transport) String() string {
	if t == TransportStream {
		return "stream"
	}
	return "batch"
}

// BatchConfig configures RunBatch. The zero value is the default for every field.
type BatchConfig struct {
	// Transport picks ClassifyBatch chunks (the default) or ClassifyStream.
	Transport Transport
	// Concurrency is how many calls or streams run at once. Default 4. Give at least two per
	// replica so each replica always has work queued.
	Concurrency int
	// Window bounds the documents read from the input and not yet passed to emit: it bounds
	// memory and, with Ordered, how far the output may run ahead of a slow document. Default
	// 2 * Concurrency * ChunkSize, at most 4096. It counts documents, not bytes: lower it for
	// documents of megabytes.
	Window int
	// ChunkSize is how many documents one ClassifyBatch call carries at most. Default 1000,
	// topicd's default batch limit, which measured cheapest per document; when a server
	// refuses a chunk with INVALID_ARGUMENT (a lower limit), the worker halves its chunks.
	ChunkSize int
	// StreamDocuments is how many documents one ClassifyStream call carries before the stream is
	// closed and a new one opened. A stream stays on the replica it started on, so this is what
	// spreads streams over replicas that were not ready when the job began or that came back
	// later. Default 2000.
	StreamDocuments int
	// MaxDocumentBytes bounds len(title)+len(text) of a plain-text document, as the server's
	// --max-document-bytes does: a larger document gets INVALID_ARGUMENT at once, without being
	// sent. Default 1 MiB, topicd's default.
	MaxDocumentBytes int
	// MaxHTMLBytes is the same bound for an HTML document (content type HTML), as the server's
	// --max-html-bytes. Default 4 MiB, topicd's default.
	MaxHTMLBytes int
	// MaxChunkBytes bounds the encoded documents of one ClassifyBatch call, so that chunks stay
	// under the server's message limit. A document larger than this goes alone. Default 4 MiB,
	// gRPC's default message limit; a server that refuses a chunk as too large anyway gets
	// smaller ones, and a document it refuses alone gets INVALID_ARGUMENT.
	MaxChunkBytes int
	// MaxAttempts bounds how many times one document is sent before its Result carries the last
	// error (UNAVAILABLE, for example). Default 10. A call does not wait for a connection that
	// is failing: while no replica can be reached (connection refused, name not resolved,
	// every replica NOT_SERVING) each attempt fails at once, so with the default backoff a
	// document gets its error after about 10 to 20 s of backoff, and a replica that is back
	// within a few seconds still gets it.
	MaxAttempts int
	// Backoff is the first wait before a document is re-sent; it doubles on each attempt, up to
	// MaxBackoff, with jitter. Defaults 100 ms and 5 s.
	Backoff, MaxBackoff time.Duration
	// CallTimeout bounds one ClassifyBatch call, and how long a stream may go without answering
	// while documents are in flight, before they are re-sent. Default 30 s. It also bounds a
	// connection attempt that hangs (an address that drops packets); one that fails, fails the
	// call at once.
	CallTimeout time.Duration
	// Ordered passes results to emit in input order. The default passes each result as soon as
	// it arrives.
	Ordered bool
	// Logger receives a warning for each failed call or stream. Default: discard.
	Logger *slog.Logger
}

func (cfg BatchConfig) withDefaults() BatchConfig {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = 1000
	}
	if cfg.Window <= 0 {
		cfg.Window = min(2*cfg.Concurrency*cfg.ChunkSize, 4096)
	}
	if cfg.StreamDocuments <= 0 {
		cfg.StreamDocuments = 2000
	}
	if cfg.MaxDocumentBytes <= 0 {
		cfg.MaxDocumentBytes = 1 << 20
	}
	if cfg.MaxHTMLBytes <= 0 {
		cfg.MaxHTMLBytes = 4 << 20
	}
	if cfg.MaxChunkBytes <= 0 {
		cfg.MaxChunkBytes = 4 << 20
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// BatchStats count what RunBatch did.
type BatchStats struct {
	// Documents is how many results were passed to emit.
	Documents int64
	// Errors is how many of them carry an error.
	Errors int64
	// Resent is how many times a document was sent again after a failed call or stream.
	Resent int64
}

// RunBatch classifies every document received from docs until docs is closed, and passes
// exactly one Result per document to emit: its classification, or the error the server gave for
// it, or, after BatchConfig.MaxAttempts failed sends, the last error (Transient tells such
// errors apart). Documents whose call or stream failed (a replica died, a deadline passed) are
// re-sent with backoff; round_robin sends them to the other replicas. A document that cannot be
// sent (an id, title or text that is not UTF-8, over BatchConfig.MaxDocumentBytes or
// MaxHTMLBytes) gets INVALID_ARGUMENT at once, without a call. Document ids need not be unique.
//
// emit is called from one goroutine at a time; an error from it stops the job and is returned.
// RunBatch also stops, returning the error, when the server refuses the job as a whole (for
// example UNAUTHENTICATED or an unknown method), and when ctx is done. The docs channel is not
// drained after an error.
func (c *Client) RunBatch(ctx context.Context, cfg BatchConfig, docs <-chan *topicdv1.Document, emit func(Result) error, opts ...ClassifyOption) (BatchStats, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &runner{
		c:        c,
		cfg:      cfg,
		co:       newClassifyOptions(opts),
		ctx:      ctx,
		cancel:   cancel,
		window:   make(chan struct{}, cfg.Window),
		work:     make(chan []*item, cfg.Window),
		retry:    make(chan *item, cfg.Window),
		results:  make(chan []delivery, cfg.Window),
		total:    make(chan uint64, 1),
		finished: make(chan struct{}),
	}
	var wg sync.WaitGroup
	wg.Go(func() { r.dispatch(docs) })
	for range cfg.Concurrency {
		if cfg.Transport == TransportStream {
			wg.Go(r.streamWorker)
		} else {
			wg.Go(r.chunkWorker)
		}
	}
	stats, err := r.collect(emit)
	if err != nil {
		cancel(err)
	}
	wg.Wait()
	stats.Resent = r.resent.Load()
	return stats, err
}

// item is one document on its way through the runner.
type item struct {
	seq      uint64
	doc      *topicdv1.Document
	attempts int
	lastErr  error
	done     atomic.Bool
}

type delivery struct {
	it  *item
	res Result
}

type runner struct {
	c      *Client
	cfg    BatchConfig
	co     classifyOptions
	ctx    context.Context
	cancel context.CancelCauseFunc

	window   chan struct{}   // a token per document between input and emit
	work     chan []*item    // new documents, in slices; closed when the input is done
	retry    chan *item      // documents to re-send; never blocks: it holds at most Window items
	results  chan []delivery // to the collector, a call's worth at a time; never blocks: each holds at least one of at most Window documents
	total    chan uint64     // how many documents the input held, once known
	finished chan struct{}   // closed when every document was emitted
	resent   atomic.Int64
}

func (r *runner) isFinished() bool {
	select {
	case <-r.finished:
		return true
	default:
		return false
	}
}

// handOff is the most documents dispatch passes to the workers in one channel operation.
const handOff = 64

// dispatch numbers the input documents and hands them to the workers, one window token each.
// It passes whatever documents are ready at once as one slice, up to handOff, so that a
// worker's receive and the wake-up behind it are paid per slice, not per document; it never
// waits for more documents while holding some.
func (r *runner) dispatch(docs <-chan *topicdv1.Document) {
	defer close(r.work)
	var seq uint64
	defer func() { r.total <- seq }()
	// Items are allocated in slabs, one allocation per 256 documents instead of one each; a
	// slab lives until its last item is emitted, so at most Window/256+1 slabs beyond the window.
	var slab []item
	var batch []*item
	flush := func() {
		if len(batch) > 0 {
			r.work <- batch // never blocks: it holds at most Window slices of at least one document
			batch = nil
		}
	}
	for {
		var doc *topicdv1.Document
		var ok bool
		select {
		case doc, ok = <-docs:
		case <-r.ctx.Done():
			return
		default:
			// Nothing ready: hand over what is held before waiting for the input.
			flush()
			select {
			case doc, ok = <-docs:
			case <-r.ctx.Done():
				return
			}
		}
		if !ok {
			flush()
			return
		}
		select {
		case r.window <- struct{}{}:
		default:
			// The window is full: the documents held must go out before their results can
			// free it.
			flush()
			select {
			case r.window <- struct{}{}:
			case <-r.ctx.Done():
				return
			}
		}
		if len(slab) == 0 {
			slab = make([]item, 256)
		}
		it := &slab[0]
		slab = slab[1:]
		it.seq, it.doc = seq, doc
		seq++
		if err := r.check(doc); err != nil {
			// No server would take it: its result is known without a call, and sending it
			// would fail the whole chunk.
			r.deliver(it, Result{Err: err})
			continue
		}
		if batch == nil {
			batch = make([]*item, 0, handOff)
		}
		batch = append(batch, it)
		if len(batch) == handOff {
			flush()
		}
	}
}

// collect passes results to emit, in order when asked, until every document has one.
func (r *runner) collect(emit func(Result) error) (BatchStats, error) {
	var stats BatchStats
	total := ^uint64(0)
	var next uint64
	pending := map[uint64]Result{}
	out := func(res Result) error {
		stats.Documents++
		if res.Err != nil {
			stats.Errors++
		}
		err := emit(res)
		<-r.window
		return err
	}
	for uint64(stats.Documents) < total {
		select {
		case ds := <-r.results:
			if !r.cfg.Ordered {
				for _, d := range ds {
					if err := out(d.res); err != nil {
						return stats, err
					}
				}
				continue
			}
			for _, d := range ds {
				pending[d.it.seq] = d.res
			}
			for {
				res, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if err := out(res); err != nil {
					return stats, err
				}
			}
		case total = <-r.total:
			if r.ctx.Err() != nil {
				return stats, context.Cause(r.ctx)
			}
		case <-r.ctx.Done():
			return stats, context.Cause(r.ctx)
		}
	}
	close(r.finished)
	return stats, nil
}

// deliver hands the one result of it to the collector; later calls for the same item are
// dropped, which makes "exactly one result per document" hold even if a server answered twice.
func (r *runner) deliver(it *item, res Result) {
	if ds := addDelivery(nil, it, res); len(ds) > 0 {
		r.results <- ds
	}
}

// addDelivery appends the one result of it to ds, for a worker that hands over a call's results
// at once: one channel operation and one wake-up of the collector per call instead of per
// document. Later results for the same item are dropped, as in deliver.
func addDelivery(ds []delivery, it *item, res Result) []delivery {
	if !it.done.CompareAndSwap(false, true) {
		return ds
	}
	res.ID = it.doc.GetId()
	if res.Classification != nil {
		res.Classification.DocumentId = res.ID
	}
	return append(ds, delivery{it: it, res: res})
}

// source is one worker's view of the new documents: r.work, set to nil once the input is
// done, and the rest of the last slice received from it.
type source struct {
	work <-chan []*item
	held []*item
}

func (r *runner) newSource() *source { return &source{work: r.work} }

// release puts the documents src holds back in the queue, for a worker about to wait on a call
// or a backoff: another worker may send them meanwhile.
func (r *runner) release(src *source) {
	for _, it := range src.held {
		r.retry <- it // never blocks: it holds at most Window documents
	}
	src.held = nil
}

// take returns the first of a slice received from work and keeps the rest in src.
func (src *source) take(its []*item) *item {
	src.held = its[1:]
	return its[0]
}

// next returns the next document to send: a re-send first, else one src holds, else a new
// one. With wait false it returns nil when none is ready at once. It returns nil when the job
// is over or stop is closed.
func (r *runner) next(src *source, wait bool, stop <-chan struct{}) *item {
	select {
	case it := <-r.retry:
		return it
	default:
	}
	if len(src.held) > 0 {
		it := src.held[0]
		src.held = src.held[1:]
		return it
	}
	for {
		if !wait {
			select {
			case it := <-r.retry:
				return it
			case its, ok := <-src.work:
				if !ok {
					src.work = nil
					continue
				}
				return src.take(its)
			default:
				return nil
			}
		}
		select {
		case it := <-r.retry:
			return it
		case its, ok := <-src.work:
			if !ok {
				src.work = nil
				continue
			}
			return src.take(its)
		case <-r.finished:
			return nil
		case <-r.ctx.Done():
			return nil
		case <-stop:
			return nil
		}
	}
}

// failed handles a document whose send failed with err: it is re-sent after a backoff, or, when
// it has used its attempts, gets err as its result.
func (r *runner) failed(it *item, err error) {
	it.attempts++
	it.lastErr = err
	if r.ctx.Err() != nil {
		return
	}
	if it.attempts >= r.cfg.MaxAttempts {
		st := innerStatus(err)
		r.deliver(it, Result{Err: status.Errorf(st.Code(), "gave up after %d attempts: %s", it.attempts, st.Message())})
		return
	}
	r.resent.Add(1)
	time.AfterFunc(r.backoff(it.attempts), func() {
		select {
		case r.retry <- it:
		case <-r.ctx.Done():
		}
	})
}

// innerStatus is the status err wraps: gRPC wraps the error of a call whose own retries ran out
// ("max retries exhausted: failed after 4 attempts: rpc error: code = ... desc = ..."), and a
// document's record needs only what went wrong.
func innerStatus(err error) *status.Status {
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		return se.GRPCStatus()
	}
	return status.Convert(err)
}

// backoff returns the wait before attempt n+1: exponential with full jitter in its upper half.
func (r *runner) backoff(n int) time.Duration {
	d := r.cfg.Backoff
	for i := 1; i < n && d < r.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until the job ends.
func (r *runner) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	case <-r.finished:
	}
}

// abort stops the job with err, for an error no replica will answer differently.
func (r *runner) abort(err error) {
	r.cancel(fmt.Errorf("classify batch: %w", err))
}
