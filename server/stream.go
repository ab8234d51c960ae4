package server

import (
	"context"
	"errors"
	"io"
	"runtime/debug"
	"sync"

	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// streamBlock is every message of one stream response in one allocation.
type streamBlock struct {
	resp topicdv1.ClassifyStreamResponse
	one  topicdv1.ClassifyStreamResponse_Classification
	cb   classificationBlock
}

// ClassifyStream labels a stream of documents, one response per request, each echoing the
// document id.
//
// Three kinds of goroutine share the work: one receives, a few classify (Options.StreamWorkers,
// so one stream can use every core; responses may therefore come back out of order) and the
// handler's own goroutine sends. At most Options.StreamWindow documents are between Recv and
// Send: when the window is full the receiver stops calling Recv, the HTTP/2 flow-control window
// fills, and a client that sends faster than it reads is slowed down instead of growing the
// server's memory.
//
// A bad document gets an error response and the stream goes on. When the server drains
// ([Server.Drain]) the stream stops taking documents, answers the ones it took, and ends with
// UNAVAILABLE; documents the client sent after that got no response and must be sent again.
func (s *Server) ClassifyStream(stream topicdv1.ClassifierService_ClassifyStreamServer) error {
	ctx := stream.Context()
	st := &streamState{
		tokens:   make(chan struct{}, s.opts.StreamWindow),
		jobs:     make(chan *topicdv1.ClassifyStreamRequest, s.opts.StreamWindow),
		results:  make(chan *topicdv1.ClassifyStreamResponse, s.opts.StreamWindow),
		recvDone: make(chan error, 1),
	}
	go st.receive(ctx, stream, s.draining)
	var wg sync.WaitGroup
	for range s.opts.StreamWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for req := range st.jobs {
				st.results <- s.streamItem(ctx, req)
			}
		}()
	}
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
			if err := stream.Send(r); err != nil {
				return err
			}
			if !logged && r.GetClassification() != nil {
				logModel(ctx, r.GetClassification().Model)
				logged = true
			}
			sent++
			<-st.tokens
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

// streamState is what the goroutines of one stream share.
type streamState struct {
	tokens   chan struct{} // one per document between Recv and Send
	jobs     chan *topicdv1.ClassifyStreamRequest
	results  chan *topicdv1.ClassifyStreamResponse
	recvDone chan error // the receiver's last error: io.EOF at the end of the stream

	mu         sync.Mutex
	stopped    bool
	dispatched int
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
		req, err := stream.Recv()
		if err != nil {
			st.recvDone <- err
			return
		}
		st.mu.Lock()
		if st.stopped {
			st.mu.Unlock()
			return
		}
		st.dispatched++
		st.mu.Unlock()
		st.jobs <- req // never blocks: jobs holds a whole window
	}
}

// streamItem classifies one document of a stream. A panic becomes this document's INTERNAL error:
// the recovery interceptor cannot see panics on a worker goroutine, and the stream goes on.
func (s *Server) streamItem(ctx context.Context, req *topicdv1.ClassifyStreamRequest) (resp *topicdv1.ClassifyStreamResponse) {
	b := new(streamBlock)
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
		opts, oerr := classifyOptions(req.GetOptions())
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
