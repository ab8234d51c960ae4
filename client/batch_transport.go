package client

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// chunkWorker sends chunks of documents with ClassifyBatch, one call at a time.
func (r *runner) chunkWorker() {
	src := r.newSource()
	size, budget := r.cfg.ChunkSize, r.cfg.MaxChunkBytes
	chunk := make([]*item, 0, size)
	docs := make([]*topicdv1.Document, 0, size)
	fails := 0
	for {
		chunk, docs = chunk[:0], docs[:0]
		it := r.next(src, true, nil)
		if it == nil {
			return
		}
		bytes := 0
		for it != nil {
			n := encodedSize(it.doc)
			if len(chunk) > 0 && bytes+n > budget {
				r.retry <- it // the next chunk's first; never blocks: it holds at most Window documents
				break
			}
			chunk = append(chunk, it)
			docs = append(docs, it.doc)
			bytes += n
			if len(chunk) >= size || bytes >= budget {
				break
			}
			it = r.next(src, false, nil)
		}
		r.release(src)
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.CallTimeout)
		// Not WaitForReady: a call waits while a connection is being made, but fails at once
		// with the connection's error once every replica refused it or failed, instead of
		// waiting out CallTimeout on each attempt (ten attempts of 30 s kept a job whose only
		// server was gone busy for five minutes). The backoff between attempts is what gives
		// a replica time to come back.
		resp, err := r.c.classifier.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{
			Documents: docs, Model: r.co.model, Options: r.co.opts,
		}, grpc.ForceCodecV2(batchCodec{}))
		cancel()
		if err == nil && len(resp.GetResults()) != len(docs) {
			err = status.Errorf(codes.Internal, "server returned %d results for %d documents", len(resp.GetResults()), len(docs))
		}
		if err != nil {
			if r.ctx.Err() != nil {
				return
			}
			if tooLarge(err) {
				if len(chunk) > 1 {
					// Over the server's message limit: send fewer bytes at once.
					budget = max(bytes/2, 1)
					r.cfg.Logger.Warn("classify batch call too large for the server; sending smaller chunks", "documents", len(chunk), "bytes", bytes, "err", err)
					for _, it := range chunk {
						r.retry <- it // never blocks: it holds at most Window documents
					}
					continue
				}
				r.deliver(chunk[0], Result{Err: status.Errorf(codes.InvalidArgument, "document is too large for the server's message limit: %s", status.Convert(err).Message())})
				continue
			}
			if status.Code(err) == codes.InvalidArgument && len(chunk) > 1 {
				// Most likely more documents than this server's batch limit: split the chunk.
				// If the call is refused for another reason, halving ends at one document
				// and the job stops with the server's error.
				size = max(len(chunk)/2, 1)
				r.cfg.Logger.Warn("classify batch call refused; sending smaller chunks", "documents", len(chunk), "next", size, "err", err)
				for _, it := range chunk {
					r.retry <- it // never blocks: it holds at most Window documents
				}
				continue
			}
			if fatal(err) {
				r.abort(err)
				return
			}
			r.cfg.Logger.Warn("classify batch call failed; re-sending its documents", "documents", len(chunk), "err", err)
			for _, it := range chunk {
				r.failed(it, err)
			}
			fails++
			r.sleep(r.backoff(fails))
			continue
		}
		fails = 0
		// A fresh slice per call: the collector owns it once sent.
		ds := make([]delivery, 0, len(chunk))
		for i, res := range resp.GetResults() {
			it := chunk[i]
			if e := statusErr(res.GetError()); e != nil {
				if retryableItem(e) {
					r.failed(it, e)
				} else {
					ds = addDelivery(ds, it, Result{Err: e})
				}
				continue
			}
			ds = addDelivery(ds, it, Result{Classification: res.GetClassification()})
		}
		if len(ds) > 0 {
			r.results <- ds
		}
	}
}

// encodedSize is about what d adds to a ClassifyBatch request: its strings and their tags.
func encodedSize(d *topicdv1.Document) int {
	return len(d.GetId()) + len(d.GetTitle()) + len(d.GetText()) + 24
}

// streamWorker runs ClassifyStream calls one after another until the job is over.
func (r *runner) streamWorker() {
	fails := 0
	// The first stream is short: when the job starts, only the replica that answered first may
	// be ready, and every worker's first stream lands on it; the next streams spread out.
	limit := min(256, r.cfg.StreamDocuments)
	src := r.newSource()
	for r.ctx.Err() == nil && !r.isFinished() {
		answered, err := r.runStream(limit, src)
		r.release(src)
		limit = r.cfg.StreamDocuments
		if err == nil {
			fails = 0
			continue
		}
		if r.ctx.Err() != nil {
			return
		}
		if fatal(err) {
			r.abort(err)
			return
		}
		r.cfg.Logger.Warn("classify stream failed; re-sending its documents", "answered", answered, "err", err)
		if answered > 0 {
			fails = 0
		}
		fails++
		r.sleep(r.backoff(fails))
	}
}

// runStream sends documents over one stream until the job is over or limit documents were sent,
// and returns how many were answered. On error every document the stream did not answer has
// been handed to failed.
func (r *runner) runStream(limit int, src *source) (answered int, err error) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		inflight = map[string]*item{}
		progress atomic.Int64 // unix nanos of the last answer, or of the first send after idling
		recvErr  error
		recvDone = make(chan struct{})
	)
	progress.Store(time.Now().UnixNano())
	// The watchdog ends a stream that holds documents and has not answered for CallTimeout:
	// a wedged replica must not hold them forever.
	go func() {
		t := time.NewTicker(max(r.cfg.CallTimeout/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				mu.Lock()
				n := len(inflight)
				mu.Unlock()
				if n > 0 && time.Since(time.Unix(0, progress.Load())) > r.cfg.CallTimeout {
					cancel()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	openCtx, openCancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	stop := context.AfterFunc(openCtx, func() {
		if errors.Is(openCtx.Err(), context.DeadlineExceeded) {
			cancel()
		}
	})
	// Not WaitForReady, as for ClassifyBatch: no replica reachable fails the stream at once.
	stream, err := r.c.classifier.ClassifyStream(ctx)
	stop()
	openCancel()
	if err != nil {
		return 0, err
	}
	perStream := max(r.cfg.Window/r.cfg.Concurrency, 1)
	slots := make(chan struct{}, perStream)
	var answeredN atomic.Int64
	go func() {
		defer close(recvDone)
		for {
			resp, err := stream.Recv()
			if err != nil {
				recvErr = err
				return
			}
			mu.Lock()
			it := inflight[resp.GetDocumentId()]
			delete(inflight, resp.GetDocumentId())
			mu.Unlock()
			if it == nil {
				continue // not ours: an id we never sent, or answered twice
			}
			<-slots
			answeredN.Add(1)
			progress.Store(time.Now().UnixNano())
			if e := statusErr(resp.GetError()); e != nil {
				if retryableItem(e) {
					r.failed(it, e)
				} else {
					r.deliver(it, Result{Err: e})
				}
				continue
			}
			r.deliver(it, Result{Classification: resp.GetClassification()})
		}
	}()

	sent := 0
send:
	for sent < limit {
		select {
		case slots <- struct{}{}:
		case <-recvDone:
			break send
		}
		it := r.next(src, true, recvDone)
		if it == nil {
			break
		}
		wire := &topicdv1.Document{Id: strconv.FormatUint(it.seq, 36), Text: it.doc.GetText(), Title: it.doc.GetTitle(), ContentType: it.doc.GetContentType()}
		mu.Lock()
		if len(inflight) == 0 {
			progress.Store(time.Now().UnixNano())
		}
		inflight[wire.Id] = it
		mu.Unlock()
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: wire, Model: r.co.model, Options: r.co.opts}); err != nil {
			break // the real error comes from Recv
		}
		sent++
	}
	if err := stream.CloseSend(); err != nil {
		cancel()
	}
	<-recvDone
	cancel()
	answered = int(answeredN.Load())
	mu.Lock()
	left := make([]*item, 0, len(inflight))
	for _, it := range inflight {
		left = append(left, it)
	}
	clear(inflight)
	mu.Unlock()
	if recvErr == io.EOF && len(left) == 0 {
		return answered, nil
	}
	err = recvErr
	if err == io.EOF || err == nil {
		err = status.Error(codes.Unavailable, "stream ended without answering every document")
	}
	for _, it := range left {
		r.failed(it, err)
	}
	return answered, err
}
