package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// HTTP metric names, for dashboards and the README.
const (
	MetricHTTPRequests = "topicd_http_requests_total"
	MetricHTTPSeconds  = "topicd_http_request_duration_seconds"
)

// HTTPMetrics are the HTTP front's Prometheus metrics: requests by route, method and status
// code, and their duration by route. The gRPC calls behind them are also counted by the
// server's grpc_server_* metrics. A nil *HTTPMetrics records nothing. Safe for concurrent use.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// NewHTTPMetrics creates the HTTP metrics and registers them with reg.
func NewHTTPMetrics(reg prometheus.Registerer) (*HTTPMetrics, error) {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricHTTPRequests,
			Help: "HTTP requests answered, by route, method and status code.",
		}, []string{"route", "method", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricHTTPSeconds,
			Help:    "Time from an HTTP request's headers to the end of its answer, by route.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 4, 10),
		}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.seconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *HTTPMetrics) observe(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.seconds.WithLabelValues(route).Observe(d.Seconds())
}

// statusWriter remembers the status code and size of an answer. It passes Flush on, which the
// NDJSON stream needs to send each line as it is ready, and Unwrap for http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe writes the HTTP call log (one line per request: msg "http" with method, route,
// status, duration, bytes sent and peer; never the body) and the HTTP metrics. It also puts
// the client's address where the gRPC call log looks for a peer, and lets the NDJSON stream
// read its body while it writes answers (HTTP/1.1 full duplex).
func (f *HTTPFront) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if addr, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
			r = r.WithContext(peer.NewContext(r.Context(), &peer.Peer{Addr: addr}))
		}
		route := routeOf(r.URL.Path)
		if route == "/v1/classify:stream" {
			rc := http.NewResponseController(w)
			// A stream lasts as long as its job: the server's read timeout, meant for one
			// request body, would cut it.
			rc.EnableFullDuplex()
			rc.SetReadDeadline(time.Time{})
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		f.metrics.observe(route, r.Method, sw.code, d)
		level := slog.LevelInfo
		switch {
		case route == "/healthz" || route == "/readyz":
			level = slog.LevelDebug // probes every few seconds would drown the log
		case sw.code >= 500:
			level = slog.LevelWarn
		}
		if !f.log.Enabled(r.Context(), level) {
			return
		}
		f.log.LogAttrs(r.Context(), level, "http",
			slog.String("method", r.Method),
			slog.String("route", route),
			slog.Int("status", sw.code),
			slog.Int64("duration_us", d.Microseconds()),
			slog.Int64("bytes", sw.bytes),
			slog.String("peer", r.RemoteAddr),
		)
	})
}

// healthz is the liveness probe: the process answers HTTP.
func (f *HTTPFront) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz is the readiness probe: 200 while the gRPC health's overall status is SERVING, 503
// before that and from the moment shutdown begins (SetDraining) until the process exits, so a
// load balancer sends HTTP traffic where gRPC goes.
func (f *HTTPFront) readyz(w http.ResponseWriter, r *http.Request) {
	if f.drain.isDraining() {
		writeStatus(w, http.StatusServiceUnavailable, status.New(codes.Unavailable,
			"not ready: the server is draining (shutting down, finishing the requests in flight); send requests to another replica"))
		return
	}
	if f.health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		resp, err := f.health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			writeStatus(w, http.StatusServiceUnavailable, status.New(codes.Unavailable,
				"not ready: the server is starting or shutting down; send requests to another replica"))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}
