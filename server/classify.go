package server

import (
	"context"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// ctxCheckEvery is how many documents of a batch are classified between looks at the deadline.
const ctxCheckEvery = 32

// minParallelBatch is the smallest batch split over several goroutines: below it, starting them
// costs more than it saves.
const minParallelBatch = 16

// unaryBlock is every message of a Classify response in one allocation.
type unaryBlock struct {
	resp topicdv1.ClassifyResponse
	cb   classificationBlock
	room scoreRoom
}

// batchBlock is every message of one batch result in one allocation.
type batchBlock struct {
	res topicdv1.ClassifyBatchResult
	one topicdv1.ClassifyBatchResult_Classification
	cb  classificationBlock
}

// Classify labels one document.
func (s *Server) Classify(ctx context.Context, req *topicdv1.ClassifyRequest) (*topicdv1.ClassifyResponse, error) {
	e, err := s.reg.lookup(req.GetModel())
	if err != nil {
		return nil, s.rejected(err)
	}
	logModel(ctx, e.name)
	opts, err := classifyOptions(req.GetOptions(), e.model)
	if err != nil {
		return nil, s.rejected(err)
	}
	b := new(unaryBlock)
	b.cb.use(&b.room)
	c, err := s.classify(ctx, &b.cb, e, req.GetDocument(), opts)
	if err != nil {
		return nil, s.rejected(err)
	}
	b.resp.Classification = c
	return &b.resp, nil
}

// ClassifyBatch labels up to Options.MaxBatchDocuments documents with one model: one result per
// document, in order; a bad document gets an error result and the others are classified. A batch
// of 16 documents or more is classified on Options.StreamWorkers goroutines when no other
// ClassifyBatch call ran at the same time in the last second.
func (s *Server) ClassifyBatch(ctx context.Context, req *topicdv1.ClassifyBatchRequest) (*topicdv1.ClassifyBatchResponse, error) {
	docs := req.GetDocuments()
	if len(docs) > s.opts.MaxBatchDocuments {
		return nil, errBatchTooLarge(len(docs), s.opts.MaxBatchDocuments)
	}
	e, err := s.reg.lookup(req.GetModel())
	if err != nil {
		return nil, err
	}
	logModel(ctx, e.name)
	opts, err := classifyOptions(req.GetOptions(), e.model)
	if err != nil {
		return nil, err
	}
	split := s.batchStarted()
	defer s.batchCalls.Add(-1)
	blocks := make([]batchBlock, len(docs))
	// The label scores of every document in two slabs: a document has at most one per label.
	k := len(e.model.Labels())
	scores := make([]topicdv1.LabelScore, k*len(docs))
	ptrs := make([]*topicdv1.LabelScore, k*len(docs))
	for i := range blocks {
		cb := &blocks[i].cb
		cb.scores, cb.ptrs = scores[i*k:(i+1)*k:(i+1)*k], ptrs[i*k:(i+1)*k:(i+1)*k]
	}
	results := make([]*topicdv1.ClassifyBatchResult, len(docs))
	classifyRange := func(from, to int) {
		for i := from; i < to; i++ {
			if (i-from)%ctxCheckEvery == 0 && ctx.Err() != nil {
				return
			}
			results[i] = s.batchItem(ctx, &blocks[i], e, docs[i], opts)
		}
	}
	if w := s.opts.StreamWorkers; w > 1 && split && len(docs) >= minParallelBatch {
		var wg sync.WaitGroup
		chunk := (len(docs) + w - 1) / w
		for from := 0; from < len(docs); from += chunk {
			wg.Go(func() { classifyRange(from, min(from+chunk, len(docs))) })
		}
		wg.Wait()
	} else {
		classifyRange(0, len(docs))
	}
	if err := ctx.Err(); err != nil {
		return nil, contextError(err)
	}
	return &topicdv1.ClassifyBatchResponse{Results: results}, nil
}

// overlapMemory is how long after two ClassifyBatch calls last ran at once a call alone is
// still taken for one of several.
const overlapMemory = time.Second

// batchStarted counts a ClassifyBatch call in (the caller counts it out of s.batchCalls) and
// reports whether to split it over the workers, so that one call can use every core. Only a
// call of a client that sends one batch at a time is split: a client with several calls in
// flight already keeps the cores busy, and splitting its calls only adds goroutine switches
// (see docs/performance.md). Such calls are not always in the handler at the same moment (they
// are also being received and sent), hence the memory.
func (s *Server) batchStarted() bool {
	now := s.since(s.started)
	if s.batchCalls.Add(1) > 1 {
		s.lastOverlap.Store(max(int64(now), 1))
		return false
	}
	t := s.lastOverlap.Load()
	return t == 0 || now-time.Duration(t) > overlapMemory
}

// batchID is the id a batch result echoes: the document's, or for an id over the limit (which
// gets an error) its first maxIDBytes bytes, so that a batch of such documents gets one error
// each instead of an answer too large to send. Results are in request order, so the full id is
// not needed to match them. Streams, whose answers come out of order, echo every id whole.
func batchID(id string) string {
	if len(id) > maxIDBytes {
		cut := maxIDBytes
		for cut > maxIDBytes-utf8.UTFMax && !utf8.RuneStart(id[cut]) {
			cut-- // not inside a character
		}
		id = id[:cut]
	}
	return validUTF8(id)
}

// batchItem classifies one document of a batch into b. A panic becomes this document's INTERNAL
// error: the batch may run on goroutines the recovery interceptor does not watch.
func (s *Server) batchItem(ctx context.Context, b *batchBlock, e *modelEntry, d *topicdv1.Document, opts classifier.Options) (res *topicdv1.ClassifyBatchResult) {
	b.res.DocumentId = batchID(d.GetId())
	defer func() {
		if p := recover(); p != nil {
			err := s.rejected(s.panicError(ctx, "ClassifyBatch", p, debug.Stack()))
			b.res.Result = &topicdv1.ClassifyBatchResult_Error{Error: status.Convert(err).Proto()}
			res = &b.res
		}
	}()
	c, err := s.classify(ctx, &b.cb, e, d, opts)
	if err != nil {
		b.res.Result = &topicdv1.ClassifyBatchResult_Error{Error: status.Convert(s.rejected(err)).Proto()}
	} else {
		b.one.Classification = c
		b.res.Result = &b.one
	}
	return &b.res
}

// classify validates d, classifies it with e and fills cb with the result.
func (s *Server) classify(ctx context.Context, cb *classificationBlock, e *modelEntry, d *topicdv1.Document, opts classifier.Options) (*topicdv1.Classification, error) {
	d, extracted, err := s.readDocument(d)
	if err != nil {
		return nil, err
	}
	if err := s.validateDocument(d); err != nil {
		return nil, err
	}
	// Without metrics (the default) the clock is not read: on short documents two reads are a
	// share of the work worth saving (docs/performance.md).
	var start time.Time
	if e.metrics != nil {
		start = time.Now()
	}
	r, err := e.model.Classify(d.Title, d.Text, opts)
	if err != nil {
		return nil, s.classifyError(ctx, e.name, err)
	}
	if e.metrics != nil {
		e.metrics.observe(r.Label, len(d.Title)+len(d.Text), time.Since(start))
	}
	c := cb.fill(d.Id, e, &r)
	if extracted != nil && opts.ExplainTerms > 0 {
		c.Extracted = extracted
	}
	return c, nil
}

// rejected counts a document the server did not classify and returns err.
func (s *Server) rejected(err error) error {
	s.opts.Metrics.reject(status.Code(err))
	return err
}
