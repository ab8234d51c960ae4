package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/topicd/topicd/server"
)

// httpMaxHeaderBytes bounds an HTTP request's headers: the API reads none beyond
// Content-Type, so anything near the limit is an attack, not a client.
const httpMaxHeaderBytes = 64 << 10

// httpStreamWindow is the HTTP/2 receive buffer of one request: what a client may send that
// topicd has not read yet.
const httpStreamWindow = 256 << 10

// httpListener is the HTTP/JSON front: its server, its address and the front it serves.
type httpListener struct {
	srv   *http.Server
	front *server.HTTPFront
	lis   net.Listener
	log   *slog.Logger
	done  chan error
}

// startHTTP listens on cfg.HTTP.Listen and serves srv's HTTP front there, with the gRPC
// listener's TLS settings. It returns nil when the front is off.
func startHTTP(cfg Config, log *slog.Logger, srv *server.Server, hs *healthServer, promReg *prometheus.Registry) (*httpListener, error) {
	if cfg.HTTP.Off || cfg.HTTP.Listen == "" {
		return nil, nil
	}
	var metrics *server.HTTPMetrics
	if cfg.MetricsListen != "" {
		var err error
		if metrics, err = server.NewHTTPMetrics(promReg); err != nil {
			return nil, fmt.Errorf("HTTP metrics: %w", err)
		}
	}
	front, err := srv.NewHTTPFront(server.HTTPOptions{
		Logger:       log,
		MaxBodyBytes: int64(cfg.MaxMessageBytes),
		CORSOrigins:  cfg.HTTP.corsOrigins(),
		Health:       hs,
		Metrics:      metrics,
	})
	if err != nil {
		return nil, err
	}
	hsrv := &http.Server{
		Handler:           front,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		// Over TLS clients speak HTTP/2: the same bounds per connection as the gRPC port.
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          cfg.MaxConcurrentStreams,
			MaxReceiveBufferPerStream:     httpStreamWindow,
			MaxReceiveBufferPerConnection: 4 * httpStreamWindow,
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	lis, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		front.Close()
		return nil, fmt.Errorf("listen on %s for HTTP: %w", cfg.HTTP.Listen, err)
	}
	if cfg.TLSCert != "" {
		tc, err := serverTLS(cfg)
		if err != nil {
			lis.Close()
			front.Close()
			return nil, err
		}
		tc.NextProtos = []string{"h2", "http/1.1"}
		hsrv.TLSConfig = tc
		lis = tls.NewListener(lis, tc)
	}
	h := &httpListener{srv: hsrv, front: front, lis: lis, log: log, done: make(chan error, 1)}
	go func() { h.done <- hsrv.Serve(lis) }()
	return h, nil
}

// addr is the bound address, or "" when HTTP is off.
func (h *httpListener) addr() string {
	if h == nil {
		return ""
	}
	return h.lis.Addr().String()
}

// failed reports the HTTP server's end when it stops by itself.
func (h *httpListener) failed() <-chan error {
	if h == nil {
		return nil
	}
	return h.done
}

// setDraining makes /readyz answer 503 while everything else goes on serving.
func (h *httpListener) setDraining() {
	if h != nil {
		h.front.SetDraining()
	}
}

// finish refuses new API requests (503 UNAVAILABLE, connection closed) and waits for those in
// flight until cutAt, when it cuts them by closing the server. Until then the listener stays
// open, so /readyz answers 503 for the whole drain instead of refusing connections. Call it
// once the services are draining (streams told to end), so that NDJSON streams finish.
func (h *httpListener) finish(cutAt time.Time) {
	if h == nil {
		return
	}
	// Idle keep-alive connections are closed and answers carry Connection: close, so clients
	// open new connections, which a load balancer sends elsewhere.
	h.srv.SetKeepAlivesEnabled(false)
	ctx, cancel := context.WithDeadline(context.Background(), cutAt)
	defer cancel()
	if err := h.front.Shutdown(ctx); err != nil {
		h.log.Warn("HTTP shutdown timeout reached; cutting the requests still open")
		h.srv.Close()
	}
}

// close stops the listener once the drain is over, waiting until deadline for what it still
// answers (probes, refusals), then cutting it.
func (h *httpListener) close(deadline time.Time) {
	if h == nil {
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		h.srv.Close()
	}
	h.front.Close()
	if err := <-h.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		h.log.Error("HTTP server failed", "error", err)
	}
}
