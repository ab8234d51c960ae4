// Package server implements the topicd gRPC services on top of the classifier.
//
// # Services
//
// [Server] implements topicd.v1.ClassifierService (Classify, ClassifyBatch, ClassifyStream) and
// topicd.v1.ModelService (ListModels, GetModel). [Floor] implements topicd.bench.v1.FloorService,
// a do-nothing call of the same size as Classify that load tests use as the floor gRPC sets.
//
// # Models
//
// The models come from a [Registry]: built-in models (the embedded default) plus every *.model
// file of a folder, reloaded on demand ([Registry.Reload], wired to SIGHUP by cmd/topicd) and when
// a file changes ([Registry.Watch]). A reload builds a new immutable snapshot and swaps it in
// atomically; a call keeps the model it started with, and a file that fails to load never
// replaces a model that works.
//
// # Errors
//
// Only this package turns classifier errors into gRPC status codes (see errors.go). Every message
// says what the caller should change and never shows internals; the full error goes to the log.
//
// Invalid UTF-8 in a request's strings, which the protobuf runtime refuses before any handler
// runs, is decoded leniently (codec.go) so that it is INVALID_ARGUMENT for that one document.
// ClassifyBatch messages, the largest and most frequent under batch jobs, skip protobuf-go's
// reflection: requests are decoded into one slab (batch_decode.go), responses encoded straight
// from the structs into the same bytes (batch_encode.go); other shapes fall back to protobuf-go.
//
// # Interceptors
//
// [Server.ServerOptions] returns the codec and the interceptor chain metrics (go-grpc-middleware's
// Prometheus provider) -> call log -> default deadline -> recovery (go-grpc-middleware): the
// outermost interceptor sees every call, the innermost turns a panic into INTERNAL so the server
// keeps serving. The call log writes one slog line per call (msg "call": method, code,
// duration_us, peer, model, error), never the document text.
//
// # HTTP
//
// [Server.NewHTTPFront] serves the same services as HTTP/JSON (grpc-gateway over the proto's
// google.api.http routes; unary calls in process through the interceptor chain, ClassifyStream
// as NDJSON through an inner grpc.Server on an in-memory listener), with errors as
// google.rpc.Status JSON and the usual HTTP statuses (http_errors.go), /healthz and /readyz,
// /openapi.json, and the page at / (web/). HTML documents (content_type HTML) are read by
// internal/article before any classification, whichever way they come (html.go).
//
// # Streams
//
// ClassifyStream classifies on a few goroutines per stream and bounds what it holds: see
// [Server.ClassifyStream] and Options.StreamWindow.
package server

import (
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Defaults for the zero values of [Options].
const (
	DefaultMaxDocumentBytes  = 1 << 20
	DefaultMaxBatchDocuments = 1000
	DefaultStreamWindow      = 64
	DefaultStreamWindowBytes = 4 << 20
	DefaultMaxBufferedBytes  = 64 << 20
	DefaultTimeout           = 30 * time.Second
)

// Transport limits set by [Server.ServerOptions]. Data a client sends on a stream and the server
// has not read yet is bounded by StreamFlowWindow per stream; received headers by
// MaxHeaderListBytes per call. ConnFlowWindow bounds a connection's data in flight (gRPC
// acknowledges it as it arrives, so it bounds no memory).
const (
	StreamFlowWindow   = 256 << 10
	ConnFlowWindow     = 1 << 20
	MaxHeaderListBytes = 64 << 10
)

// maxStreamWorkers caps the classification goroutines of one stream: more than the cores only
// adds scheduling.
const maxStreamWorkers = 4

// Model is what the server needs from a classifier model. Implementations must be safe for
// concurrent use: one model serves every call at once. *classifier.Model implements it.
type Model interface {
	Classify(title, text string, opts classifier.Options) (classifier.Result, error)
	// PrepareOptions validates options against the model (label_mix names its labels) and
	// readies them for many Classify calls.
	PrepareOptions(opts classifier.Options) (classifier.Options, error)
	// LabelMix is the share of each label the model's confidences assume.
	LabelMix() map[string]float64
	Version() string
	Info() classifier.Info
	Labels() []string
}

// Options configure a [Server]. The zero value is the default.
type Options struct {
	// Logger receives one line per call and every error. Nil discards.
	Logger *slog.Logger
	// MaxDocumentBytes bounds len(title)+len(text) of one document. 0 means
	// DefaultMaxDocumentBytes (1 MiB).
	MaxDocumentBytes int
	// MaxBatchDocuments bounds the documents of one ClassifyBatch call. 0 means
	// DefaultMaxBatchDocuments.
	MaxBatchDocuments int
	// StreamWorkers is how many documents of one stream, or of one batch of 16 documents or
	// more from a client that sends one batch at a time, are classified at once. 0 means GOMAXPROCS, at most 4.
	StreamWorkers int
	// StreamWindow bounds the documents of one stream that were received and not yet answered;
	// when it is full the server stops reading, so HTTP/2 flow control slows the client down
	// instead of the server buffering without bound. 0 means DefaultStreamWindow.
	StreamWindow int
	// StreamWindowBytes bounds the text (title and text bytes) of the documents of one stream
	// between Recv and Send; the receiver waits for answers before reading more once it is
	// reached, so one stream holds at most this plus one document. 0 means
	// DefaultStreamWindowBytes (4 MiB).
	StreamWindowBytes int
	// MaxBufferedBytes bounds the stream data held by the whole server between Recv and Send:
	// the documents of every open ClassifyStream (title, text and id) and their answers. When
	// it is reached, streams stop reading until answers are sent, so HTTP/2 flow control slows
	// their clients down; each stream may go over it by one document and the answers of the
	// documents it holds. So that clients that never read cannot starve the others, a stream
	// holding less than 64 KiB may always take one more document. 0 means
	// DefaultMaxBufferedBytes (64 MiB).
	MaxBufferedBytes int64
	// DefaultTimeout is the deadline given to unary calls that arrive without one. 0 means
	// DefaultTimeout (30s); negative means none. Streams get no default deadline: a batch job
	// may stream for hours.
	DefaultTimeout time.Duration
	// Metrics records Prometheus metrics. Nil records none.
	Metrics *Metrics
	// MaxHTMLBytes bounds len(title)+len(text) of an HTML document before its article is
	// extracted; the extracted text is then bounded by MaxDocumentBytes. 0 means
	// DefaultMaxHTMLBytes (4 MiB).
	MaxHTMLBytes int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxDocumentBytes <= 0 {
		o.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if o.MaxBatchDocuments <= 0 {
		o.MaxBatchDocuments = DefaultMaxBatchDocuments
	}
	if o.StreamWorkers <= 0 {
		o.StreamWorkers = min(runtime.GOMAXPROCS(0), maxStreamWorkers)
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = DefaultStreamWindow
	}
	if o.StreamWindowBytes <= 0 {
		o.StreamWindowBytes = DefaultStreamWindowBytes
	}
	if o.MaxHTMLBytes <= 0 {
		o.MaxHTMLBytes = DefaultMaxHTMLBytes
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.DefaultTimeout == 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	return o
}

// Server implements ClassifierService and ModelService over the models of a [Registry]. Its
// methods are safe for concurrent use.
type Server struct {
	topicdv1.UnimplementedClassifierServiceServer
	topicdv1.UnimplementedModelServiceServer

	reg  *Registry
	opts Options
	log  *slog.Logger

	// batchCalls counts the ClassifyBatch calls running, and lastOverlap is when (time since
	// started, 0 for never) two of them last ran at once: see batchStarted, which reads the
	// clock with since (time.Since; tests set their own clock).
	batchCalls  atomic.Int32
	lastOverlap atomic.Int64
	started     time.Time
	since       func(time.Time) time.Duration

	// buffered is what open streams hold, against Options.MaxBufferedBytes.
	buffered *budget

	drainOnce sync.Once
	// draining is closed by Drain: open streams answer what they hold and end with UNAVAILABLE.
	draining chan struct{}
}

var (
	_ topicdv1.ClassifierServiceServer = (*Server)(nil)
	_ topicdv1.ModelServiceServer      = (*Server)(nil)
)

// New returns a Server that classifies with the models of reg.
func New(reg *Registry, opts Options) *Server {
	opts = opts.withDefaults()
	return &Server{
		reg:      reg,
		opts:     opts,
		log:      opts.Logger,
		draining: make(chan struct{}),
		started:  time.Now(),
		since:    time.Since,
		buffered: newBudget(opts.MaxBufferedBytes),
	}
}

// BufferedBytes returns what open streams hold between receiving and answering, as counted
// against Options.MaxBufferedBytes. Safe for concurrent use.
func (s *Server) BufferedBytes() int64 { return s.buffered.used.Load() }

// Drain tells open streams that the server is going away: each stops reading, sends the results
// of the documents it already took, and ends with UNAVAILABLE, which clients retry on another
// replica. Unary calls are not affected; call Drain before grpc.Server.GracefulStop. Drain may be
// called more than once.
func (s *Server) Drain() {
	s.drainOnce.Do(func() { close(s.draining) })
}
