package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Errors over HTTP: the gRPC code of an error becomes the usual HTTP status (grpc-gateway's
// table: INVALID_ARGUMENT and FAILED_PRECONDITION 400, NOT_FOUND 404, RESOURCE_EXHAUSTED 429,
// UNAVAILABLE 503, DEADLINE_EXCEEDED 504, INTERNAL 500, ...), and the body is the
// google.rpc.Status as JSON ({"code": 3, "message": "...", "details": []}), the message the
// same one a gRPC caller reads. Two errors have no gRPC call behind them: a body over the limit
// (413) and a body that is not the request's JSON (400, naming the problem).

// requestState is what the error handler needs to know about a request that the gateway's
// errors do not say: whether the body hit the limit, and whether the call was reached (an
// INVALID_ARGUMENT before it is the gateway's failure to decode the JSON body).
type requestState struct {
	tooLarge bool
	called   bool
	limit    int64

	// For the NDJSON stream, whose body is read on a goroutine of the gateway's: the documents
	// read, and the error that stopped reading the body before its end.
	streamDocs atomic.Int64
	streamErr  atomic.Pointer[error]
	// overLimit is the placeholder request of a line over the limit, set by the decoder and
	// taken by the stream's Send, both on the gateway's sending goroutine.
	overLimit *overLimitLine
}

type stateKey struct{}

func stateOf(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// limitedBody is a request body that records in its request's state when it passed the limit.
type limitedBody struct {
	io.ReadCloser
	st *requestState
}

func (b limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if err != nil && errors.As(err, &mbe) {
		b.st.tooLarge = true
	}
	return n, err
}

// limitBody refuses a body over the limit: at once when its Content-Length says so, else when
// reading passes the limit (http.MaxBytesReader stops there, so it is never read whole). The
// NDJSON stream's body is one document after another for as long as a job runs: it gets no
// overall limit, and gRPC's message limit bounds each document.
func (f *HTTPFront) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := &requestState{limit: f.maxBody}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
		if r.Method == http.MethodPost && r.URL.RawQuery != "" {
			// The POST routes read everything from the body; a query would be dropped unread.
			writeStatus(w, http.StatusBadRequest, status.Newf(codes.InvalidArgument,
				"POST %s takes no query parameters (got %q); put the model and options in the JSON body",
				r.URL.Path, clip(r.URL.RawQuery)))
			return
		}
		if r.URL.Path == "/v1/classify:stream" {
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = &lineLimit{ReadCloser: r.Body, limit: f.maxBody, st: st}
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > f.maxBody {
			writeStatus(w, http.StatusRequestEntityTooLarge, errBodyTooLarge(r.ContentLength, f.maxBody))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, f.maxBody), st: st}
		}
		next.ServeHTTP(w, r)
	})
}

func errBodyTooLarge(size, limit int64) *status.Status {
	what := "over"
	if size > 0 {
		what = fmt.Sprintf("%d bytes, over", size)
	}
	return status.Newf(codes.ResourceExhausted,
		"request body is %s this server's limit of %d bytes; send fewer documents per call, shorter documents, or many documents through POST /v1/classify:stream",
		what, limit)
}

// errorHandler writes the error of a unary route.
func (f *HTTPFront) errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st := stateOf(r.Context())
	s := status.Convert(err)
	code := runtime.HTTPStatusFromCode(s.Code())
	switch {
	case st != nil && st.tooLarge:
		s, code = errBodyTooLarge(0, st.limit), http.StatusRequestEntityTooLarge
	case st != nil && !st.called && s.Code() == codes.InvalidArgument:
		s = status.New(codes.InvalidArgument, badJSONMessage(r, s.Message()))
	}
	writeStatus(w, code, s)
}

// badJSONMessage says what is wrong with a body the gateway could not decode into the
// request message: protojson's own words (which name the field or the position), and where
// the request's shape is written down.
func badJSONMessage(r *http.Request, msg string) string {
	// protobuf-go's messages start "proto:" and a space or, at random, a no-break space.
	msg = strings.TrimLeft(strings.TrimPrefix(msg, "proto:"), " \u00a0")
	if msg == "unexpected EOF" {
		msg = "the JSON ends too early"
	}
	return fmt.Sprintf("request body is not valid JSON for %s %s: %s; send a JSON object with the fields shown in /openapi.json",
		r.Method, r.URL.Path, msg)
}

// routingErrorHandler answers a path or method the API does not have.
func (f *HTTPFront) routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	switch code {
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		w.Header().Set("Allow", allowedMethods(r.URL.Path))
		writeStatus(w, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented,
			"%s is not supported on %s; use %s (see /openapi.json)", r.Method, r.URL.Path, allowedMethods(r.URL.Path)))
	default:
		f.notFound(w, r)
	}
}

// getOnly answers methods other than GET and HEAD with 405.
func getOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeStatus(w, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented,
				"%s is not supported on %s; use GET", r.Method, r.URL.Path))
			return
		}
		h(w, r)
	}
}

func allowedMethods(path string) string {
	if strings.HasPrefix(path, "/v1/models") {
		return http.MethodGet
	}
	return http.MethodPost
}

// notFound answers a path that does not exist.
func (f *HTTPFront) notFound(w http.ResponseWriter, r *http.Request) {
	writeStatus(w, http.StatusNotFound, status.Newf(codes.NotFound,
		"no such path %q; the API is POST /v1/classify, POST /v1/classify:batch, POST /v1/classify:stream, GET /v1/models and GET /v1/models/{name} (see /openapi.json)",
		clip(r.URL.Path)))
}

// streamErrorHandler turns an error that ends an NDJSON stream into the status in its last line.
func streamErrorHandler(_ context.Context, err error) *status.Status {
	return status.Convert(err)
}

// writeStatus writes s as a google.rpc.Status JSON body with HTTP status code.
func writeStatus(w http.ResponseWriter, code int, s *status.Status) {
	body, err := jsonMarshaler.Marshal(s.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}
