package client

import (
	"context"
	"fmt"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// ClassifyOption tunes one Classify, ClassifyText, ClassifyBatch or OpenStream call.
type ClassifyOption func(*classifyOptions)

type classifyOptions struct {
	model string
	opts  *topicdv1.ClassifyOptions
}

// WithModel picks the model by name. The default, "", is the server's default model.
func WithModel(name string) ClassifyOption {
	return func(o *classifyOptions) { o.model = name }
}

// WithTopK returns only the k best labels in Classification.Scores. The default, 0, returns
// every label.
func WithTopK(k int) ClassifyOption {
	return func(o *classifyOptions) { o.opts.TopK = uint32(max(k, 0)) }
}

// WithMinConfidence makes a result abstain when its best confidence is below p: Abstained is
// true and the label is the model's fallback label (ModelInfo.fallback_label; "other" for the
// default model). The default, 0, never abstains.
func WithMinConfidence(p float64) ClassifyOption {
	return func(o *classifyOptions) { o.opts.MinConfidence = float32(p) }
}

// WithExplain asks for the terms that pushed most toward each returned label, terms of them per
// label (0 means the server's default of 5, at most 50). The default explains nothing.
func WithExplain(terms int) ClassifyOption {
	return func(o *classifyOptions) {
		o.opts.Explain = true
		o.opts.ExplainTerms = uint32(max(terms, 0))
	}
}

// WithLabelMix tells the server the share of each label among the documents sent (label ->
// share in (0, 1)), when it differs from the mix the model assumes (ModelInfo.label_mix); the
// confidences are re-weighted to it. Labels left out share what remains.
func WithLabelMix(mix map[string]float64) ClassifyOption {
	return func(o *classifyOptions) { o.opts.LabelMix = mix }
}

// WithTopicThreshold sets the probability at which every topic is present
// (Classification.topics), in place of the model's own threshold for each topic
// (ModelInfo.topic_thresholds). 0, the default, keeps the model's.
func WithTopicThreshold(p float64) ClassifyOption {
	return func(o *classifyOptions) { o.opts.TopicThreshold = float32(p) }
}

func newClassifyOptions(opts []ClassifyOption) classifyOptions {
	o := classifyOptions{opts: &topicdv1.ClassifyOptions{}}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Classify labels one document. Errors are gRPC status errors: status.Code(err) is
// INVALID_ARGUMENT for a document the server will not take, NOT_FOUND for an unknown model.
func (c *Client) Classify(ctx context.Context, doc *topicdv1.Document, opts ...ClassifyOption) (*topicdv1.Classification, error) {
	o := newClassifyOptions(opts)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.classifier.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc, Model: o.model, Options: o.opts})
	if err != nil {
		return nil, err
	}
	return resp.GetClassification(), nil
}

// ClassifyText labels text, a document with no id or title.
func (c *Client) ClassifyText(ctx context.Context, text string, opts ...ClassifyOption) (*topicdv1.Classification, error) {
	return c.Classify(ctx, &topicdv1.Document{Text: text}, opts...)
}

// ClassifyBatch labels docs in one call and returns one Result per document, in order. A
// document the server rejects gets a Result with Err set and does not fail the others; the
// returned error is for the call as a whole (for example more documents than the server's
// batch limit: INVALID_ARGUMENT).
func (c *Client) ClassifyBatch(ctx context.Context, docs []*topicdv1.Document, opts ...ClassifyOption) ([]Result, error) {
	o := newClassifyOptions(opts)
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	resp, err := c.classifier.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: docs, Model: o.model, Options: o.opts})
	if err != nil {
		return nil, err
	}
	if len(resp.GetResults()) != len(docs) {
		return nil, fmt.Errorf("client: server returned %d results for %d documents", len(resp.GetResults()), len(docs))
	}
	out := make([]Result, len(docs))
	for i, r := range resp.GetResults() {
		out[i] = Result{ID: docs[i].GetId(), Classification: r.GetClassification(), Err: statusErr(r.GetError())}
	}
	return out, nil
}

// Result is the outcome for one document of a batch or stream: a Classification, or Err, a gRPC
// status error (use status.Code and status.Convert on it).
type Result struct {
	// ID is the document's id as the caller gave it.
	ID string
	// Classification is nil when Err is set.
	Classification *topicdv1.Classification
	// Err says why the document has no classification.
	Err error
}

// Stream is one ClassifyStream call: Send documents and Recv their results, which may come back
// in another order. Send and Recv may be called from two goroutines at once, but neither from
// two. Call CloseSend after the last document and then Recv until it returns io.EOF.
type Stream struct {
	s    grpc.BidiStreamingClient[topicdv1.ClassifyStreamRequest, topicdv1.ClassifyStreamResponse]
	opts classifyOptions
}

// OpenStream starts a ClassifyStream call. The stream lives until ctx is done or the server
// ends it; the client's default timeout does not apply, so give ctx a deadline or cancel it.
// Unlike RunBatch, a Stream does not re-send documents when its replica goes away.
func (c *Client) OpenStream(ctx context.Context, opts ...ClassifyOption) (*Stream, error) {
	o := newClassifyOptions(opts)
	s, err := c.classifier.ClassifyStream(ctx)
	if err != nil {
		return nil, err
	}
	return &Stream{s: s, opts: o}, nil
}

// Send sends one document. Give it an id so its result can be matched.
func (s *Stream) Send(doc *topicdv1.Document) error {
	return s.s.Send(&topicdv1.ClassifyStreamRequest{Document: doc, Model: s.opts.model, Options: s.opts.opts})
}

// CloseSend tells the server no more documents follow.
func (s *Stream) CloseSend() error { return s.s.CloseSend() }

// Recv returns the next result. A document the server rejected is a Result with Err set and
// the stream goes on; a returned error ends the stream (io.EOF after CloseSend and the last
// result).
func (s *Stream) Recv() (Result, error) {
	resp, err := s.s.Recv()
	if err != nil {
		return Result{}, err
	}
	return Result{ID: resp.GetDocumentId(), Classification: resp.GetClassification(), Err: statusErr(resp.GetError())}, nil
}

// statusErr turns a google.rpc.Status from a result into an error, nil for none.
func statusErr(s *spb.Status) error {
	if s.GetCode() == 0 {
		return nil
	}
	return status.ErrorProto(s)
}
