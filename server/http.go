package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/test/bufconn"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// DefaultHTTPMaxBodyBytes is what HTTPOptions.MaxBodyBytes 0 means: gRPC's message limit in
// cmd/topicd, so a request too large for one is too large for the other.
const DefaultHTTPMaxBodyBytes = 16 << 20

// HTTPOptions configure the HTTP/JSON front of [Server.NewHTTPFront]. The zero value is the
// default.
type HTTPOptions struct {
	// Logger receives one line per HTTP request (msg "http"). Nil uses the server's logger.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; a larger one is refused with 413 before it is read
	// whole. 0 means DefaultHTTPMaxBodyBytes. The NDJSON stream has no bound on its whole body:
	// each of its documents is bounded by MaxBodyBytes instead.
	MaxBodyBytes int64
	// CORSOrigins are the origins whose pages may call the API from a browser ("*" for any).
	// Empty sends no CORS headers, so only pages served by topicd itself can call it.
	CORSOrigins []string
	// Health answers /readyz: ready while its overall status ("") is SERVING, unless the front
	// is draining ([HTTPFront.SetDraining]). Nil is ready until then.
	Health healthpb.HealthServer
	// Metrics records the HTTP request metrics. Nil records none.
	Metrics *HTTPMetrics
}

// HTTPFront serves the services of a [Server] as HTTP/JSON (grpc-gateway over the
// google.api.http routes of the proto), with /healthz, /readyz, /openapi.json and the page at /.
// To shut down: [HTTPFront.SetDraining], [Server.Drain], [HTTPFront.Shutdown], then the
// http.Server's own Shutdown or Close, then Close.
type HTTPFront struct {
	handler http.Handler
	inner   *grpc.Server
	conn    *grpc.ClientConn
	log     *slog.Logger
	maxBody int64
	health  healthpb.HealthServer
	metrics *HTTPMetrics
	drain   drainState
}

// NewHTTPFront builds the HTTP front of s. Unary calls run in process through the server's
// interceptors; ClassifyStream runs on an inner grpc.Server over an in-memory listener, with
// s's codec and interceptors, whose message limit is MaxBodyBytes and room for the envelope.
func (s *Server) NewHTTPFront(opts HTTPOptions) (*HTTPFront, error) {
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultHTTPMaxBodyBytes
	}
	f := &HTTPFront{log: opts.Logger, maxBody: opts.MaxBodyBytes, health: opts.Health, metrics: opts.Metrics}
	f.drain.idle = make(chan struct{})

	lis := bufconn.Listen(1 << 20)
	msgLimit := int(opts.MaxBodyBytes) + envelopeBytes
	// httpPeer runs first, so the call log and metrics see the HTTP client.
	f.inner = grpc.NewServer(append([]grpc.ServerOption{grpc.ChainStreamInterceptor(httpPeer, headerFirst)}, append(s.ServerOptions(),
		grpc.MaxRecvMsgSize(msgLimit), grpc.MaxSendMsgSize(msgLimit))...)...)
	topicdv1.RegisterClassifierServiceServer(f.inner, s)
	go f.inner.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///topicd-http-front",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(msgLimit), grpc.MaxCallSendMsgSize(msgLimit)),
	)
	if err != nil {
		f.inner.Stop()
		return nil, fmt.Errorf("connect the HTTP front to its inner gRPC server: %w", err)
	}
	f.conn = conn
	local := newLocalClient(s, topicdv1.NewClassifierServiceClient(conn))

	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, apiMarshaler{JSONPb: jsonMarshaler}),
		runtime.WithMarshalerOption(ndjsonType, apiMarshaler{JSONPb: jsonMarshaler, contentType: ndjsonType}),
		runtime.WithErrorHandler(f.errorHandler),
		runtime.WithRoutingErrorHandler(f.routingErrorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		// No request header becomes gRPC metadata: the services read none, and the call log
		// should not depend on what a client puts in its headers.
		runtime.WithIncomingHeaderMatcher(func(string) (string, bool) { return "", false }),
		runtime.WithOutgoingHeaderMatcher(func(string) (string, bool) { return "", false }),
	)
	ctx := context.Background()
	if err := topicdv1.RegisterClassifierServiceHandlerClient(ctx, gw, local); err != nil {
		f.Close()
		return nil, fmt.Errorf("register ClassifierService over HTTP: %w", err)
	}
	if err := topicdv1.RegisterModelServiceHandlerClient(ctx, gw, local); err != nil {
		f.Close()
		return nil, fmt.Errorf("register ModelService over HTTP: %w", err)
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", f.admitAPI(gw))
	mux.HandleFunc("/healthz", getOnly(f.healthz))
	mux.HandleFunc("/readyz", getOnly(f.readyz))
	mux.HandleFunc("/openapi.json", getOnly(serveOpenAPI))
	registerPage(mux)
	mux.HandleFunc("/", f.notFound)

	var h http.Handler = mux
	h = f.limitBody(h)
	if len(opts.CORSOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins: opts.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: []string{"Content-Type"},
			MaxAge:         600,
		}).Handler(h)
	}
	f.handler = f.observe(h)
	return f, nil
}

// envelopeBytes is the room a gRPC message needs beyond its JSON body's worth of document.
const envelopeBytes = 64 << 10

// ServeHTTP implements http.Handler. It is safe for concurrent use.
func (f *HTTPFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.handler.ServeHTTP(w, r)
}

// Close stops the inner gRPC server that carries NDJSON streams. Call it after the
// http.Server's Shutdown and after [Server.Drain], which ends the streams still open.
func (f *HTTPFront) Close() {
	if f.conn != nil {
		f.conn.Close()
	}
	f.inner.Stop()
}

// routeOf names the route of a request path for metrics: a fixed set, so that a client cannot
// grow the metrics' label values.
func routeOf(path string) string {
	switch {
	case path == "/v1/classify", path == "/v1/classify:batch", path == "/v1/classify:stream",
		path == "/v1/models", path == "/healthz", path == "/readyz", path == "/openapi.json", path == "/":
		return path
	case strings.HasPrefix(path, "/v1/models/"):
		return "/v1/models/{name}"
	case strings.HasPrefix(path, pagePrefix):
		return pagePrefix
	}
	return "other"
}
