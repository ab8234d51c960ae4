package server

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// streamBlock is every message of one stream response in one allocation.
type streamBlock struct {
	resp topicdv1.ClassifyStreamResponse
	one  topicdv1.ClassifyStreamResponse_Classification
	cb   classificationBlock
	room scoreRoom
}

// ClassifyStream labels a stream of documents, one response per request, each echoing the
// document id.
//
// Three kinds of goroutine share the work: one receives, a few classify (Options.StreamWorkers,
// so one stream can use every core; responses may therefore come back out of order) and the
// handler's own goroutine sends. At most Options.StreamWindow documents, and about
// Options.StreamWindowBytes of text, are between Recv and Send: when the window is full the
// receiver stops calling Recv, the HTTP/2 flow-control window fills, and a client that sends
// faster than it reads is slowed down instead of growing the server's memory.
//
// A bad document gets an error response and the stream goes on. When the server drains
// ([Server.Drain]) the stream stops taking documents, answers the ones it took, and ends with
// UNAVAILABLE; documents the client sent after that got no response and must be sent again.
func (s *Server) ClassifyStream(stream topicdv1.ClassifierService_ClassifyStreamServer) error {
	ctx := stream.Context()
	st := &streamState{
		tokens:   make(chan struct{}, s.opts.StreamWindow),
		jobs:     make(chan streamJob, s.opts.StreamWindow),
		results:  make(chan streamResult, s.opts.StreamWindow),
		recvDone: make(chan error, 1),
		freed:    make(chan struct{}, 1),
		maxBytes: int64(s.opts.StreamWindowBytes),
		budget:   s.buffered,
	}
	defer st.end()
	// Workers start as documents arrive, up to Options.StreamWorkers: an idle stream costs two
	// goroutines (this one and the receiver), not one per worker.
	st.maxWorkers = s.opts.StreamWorkers
	st.spawn = func() {
		go func() {
			for j := range st.jobs {
				r := streamResult{s.streamItem(ctx, j.req), j.size, j.charge}
				if j.req.GetOptions().GetExplain() {
					// Explanations make answers far larger than the estimate: count them.
					if extra := int64(proto.Size(r.resp)) - answerEstimate; extra > 0 {
						st.charge(extra)
						r.charge += extra
					}
				}
				st.results <- r
				st.idle.Add(1) // back to wait for the next job
			}
		}()
	}
	go st.receive(ctx, stream, s.draining)
	// Workers never block: results holds a whole window. They end when the receiver closes jobs,
	// which it does once Recv fails, at the latest when this handler returns and gRPC cancels ctx.

	sent, final := 0, -1 // final: documents dispatched, once the receiver has stopped
	eof, draining := false, s.draining
	logged := false
	for {
		if final >= 0 && sent == final {
			if eof {
				return nil
			}
			return errDraining()
		}
		select {
		case r := <-st.results:
			if err := stream.Send(r.resp); err != nil {
				return err
			}
			if !logged && r.resp.GetClassification() != nil {
				logModel(ctx, r.resp.GetClassification().Model)
				logged = true
			}
			sent++
			st.release(r.size, r.charge)
		case err := <-st.recvDone:
			if err != nil && !errors.Is(err, io.EOF) {
				// The client canceled or the connection broke: nobody is left to answer.
				if _, ok := status.FromError(err); ok {
					return err
				}
				return contextError(err)
			}
			eof = err != nil
			final = st.stop()
		case <-draining:
			draining = nil
			final = st.stop()
		case <-ctx.Done():
			return contextError(ctx.Err())
		}
	}
}

// streamGuarantee is what a stream may always hold, whatever the server-wide bound says: one
// document at a time at least, so that streams whose clients read their answers keep moving when
// clients that do not read have spent the bound.
const streamGuarantee = 64 << 10

// answerEstimate is what an answer without explanations is counted as against
// Options.MaxBufferedBytes, beyond its document id: labels, scores, model name and version.
const answerEstimate = 512

// streamJob is a received document with its size in bytes, which counts against
// Options.StreamWindowBytes until its response is sent, and its charge against
// Options.MaxBufferedBytes (the document, its id and its answer).
type streamJob struct {
	req    *topicdv1.ClassifyStreamRequest
	size   int64
	charge int64
}

type streamResult struct {
	resp   *topicdv1.ClassifyStreamResponse
	size   int64
	charge int64
}

// streamState is what the goroutines of one stream share.
type streamState struct {
	tokens   chan struct{} // one per document between Recv and Send
	jobs     chan streamJob
	results  chan streamResult
	recvDone chan error // the receiver's last error: io.EOF at the end of the stream

	bytes    atomic.Int64  // document bytes between Recv and Send
	maxBytes int64         // receiver waits before Recv while bytes >= maxBytes
	freed    chan struct{} // signalled when a response is sent and its bytes released

	mu         sync.Mutex
	stopped    bool
	dispatched int

	spawn      func() // starts a worker; called by the receiver only
	workers    int    // started so far; the receiver's alone
	maxWorkers int
	// idle counts workers that finished a job and have not been handed another: workers add
	// one after each answer, the receiver takes one for each job it gives an idle worker.
	// Only the receiver lowers it, so a positive count it reads is never stale.
	idle atomic.Int64

	budget *budget // the server's, shared by every stream
	cmu    sync.Mutex
	held   int64 // charged to budget and not yet released
	ended  bool  // the handler returned: everything held went back to budget
}

// charge counts n bytes against the server-wide budget, unless the stream has ended.
func (st *streamState) charge(n int64) {
	st.cmu.Lock()
	if !st.ended {
		st.held += n
		st.budget.add(n)
	}
	st.cmu.Unlock()
}

// holding returns what the stream has charged and not released.
func (st *streamState) holding() int64 {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	return st.held
}

// end gives back to the budget what the stream still holds: answers never sent when the stream
// ends early, and documents its workers are still on.
func (st *streamState) end() {
	st.cmu.Lock()
	st.ended = true
	st.budget.release(st.held)
	st.held = 0
	st.cmu.Unlock()
}

// release frees the window slot and the bytes of an answered document.
func (st *streamState) release(size, charge int64) {
	st.cmu.Lock()
	if !st.ended {
		st.held -= charge
		st.budget.release(charge)
	}
	st.cmu.Unlock()
	st.bytes.Add(-size)
	<-st.tokens
	select {
	case st.freed <- struct{}{}:
	default:
	}
}

// stop makes the receiver dispatch nothing more and returns how many documents it dispatched.
func (st *streamState) stop() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	return st.dispatched
}

func (st *streamState) receive(ctx context.Context, stream topicdv1.ClassifierService_ClassifyStreamServer, draining <-chan struct{}) {
	defer close(st.jobs)
	for {
		select {
		case st.tokens <- struct{}{}:
		case <-ctx.Done():
			st.recvDone <- ctx.Err()
			return
		case <-draining:
			return
		}
		// Large documents fill the byte budget before the count window: wait for answers, of
		// this stream or, when the whole server holds too much, of any.
		for {
			var wake <-chan struct{}
			if st.bytes.Load() < st.maxBytes {
				if st.holding() < streamGuarantee {
					break
				}
				if wake = st.budget.wait(); wake == nil {
					break
				}
			}
			select {
			case <-st.freed:
			case <-wake:
			case <-ctx.Done():
				if wake != nil {
					st.budget.done()
				}
				st.recvDone <- ctx.Err()
				return
			case <-draining:
				if wake != nil {
					st.budget.done()
				}
				return
			}
			if wake != nil {
				st.budget.done()
			}
		}
		req, err := stream.Recv()
		if err != nil {
			st.recvDone <- err
			return
		}
		d := req.GetDocument()
		size := int64(len(d.GetText()) + len(d.GetTitle()))
		// The id counts twice: in the request and echoed in the answer.
		charge := size + 2*int64(len(d.GetId())) + answerEstimate
		st.bytes.Add(size)
		st.mu.Lock()
		if st.stopped {
			st.mu.Unlock()
			st.bytes.Add(-size)
			return
		}
		st.dispatched++
		st.mu.Unlock()
		st.charge(charge)
		// A new worker for each document that finds none idle, until there are enough. (The
		// length of jobs cannot tell: a worker that has just taken a slow document leaves jobs
		// empty while it is busy, and the next document would wait behind it.)
		if st.workers < st.maxWorkers {
			if st.idle.Load() > 0 {
				st.idle.Add(-1)
			} else {
				st.workers++
				st.spawn()
			}
		}
		st.jobs <- streamJob{req, size, charge} // never blocks: jobs holds a whole window
	}
}

// streamItem classifies one document of a stream. A panic becomes this document's INTERNAL error:
// the recovery interceptor cannot see panics on a worker goroutine, and the stream goes on.
func (s *Server) streamItem(ctx context.Context, req *topicdv1.ClassifyStreamRequest) (resp *topicdv1.ClassifyStreamResponse) {
	b := new(streamBlock)
	b.cb.use(&b.room)
	b.resp.DocumentId = validUTF8(req.GetDocument().GetId())
	defer func() {
		if p := recover(); p != nil {
			err := s.rejected(s.panicError(ctx, "ClassifyStream", p, debug.Stack()))
			b.resp.Result = &topicdv1.ClassifyStreamResponse_Error{Error: status.Convert(err).Proto()}
			resp = &b.resp
		}
	}()
	e, err := s.reg.lookup(req.GetModel())
	if err == nil {
		opts, oerr := classifyOptions(req.GetOptions(), e.model)
		if err = oerr; err == nil {
			var c *topicdv1.Classification
			if c, err = s.classify(ctx, &b.cb, e, req.GetDocument(), opts); err == nil {
				b.one.Classification = c
				b.resp.Result = &b.one
				return &b.resp
			}
		}
	}
	b.resp.Result = &topicdv1.ClassifyStreamResponse_Error{Error: status.Convert(s.rejected(err)).Proto()}
	return &b.resp
}
