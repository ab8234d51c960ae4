package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/topicd/topicd/models"
	benchv1 "github.com/topicd/topicd/proto/topicd/bench/v1"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

// run is topicd: it serves until ctx ends, then shuts down gracefully. Only main exits.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	start := time.Now()
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	logOut := newLogWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg, logOut)
	logOut.start(func(n int64) {
		log.Warn("log lines dropped: the log output failed or could not keep up", "dropped", n)
	})

	var metrics *server.Metrics
	promReg := prometheus.NewRegistry()
	if cfg.MetricsListen != "" {
		promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		if metrics, err = server.NewMetrics(promReg); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		promReg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "topicd_log_lines_dropped_total",
			Help: "Log lines dropped because standard error failed (a closed pipe) or could not keep up.",
		}, func() float64 { return float64(logOut.Dropped()) }))
	}

	embedded, err := models.Default()
	if err != nil {
		return fmt.Errorf("load embedded model %q: %w", models.DefaultName, err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{
		Builtin:       []server.NamedModel{{Name: models.DefaultName, Model: embedded}},
		Dir:           cfg.ModelDir,
		Default:       cfg.DefaultModel,
		Logger:        log,
		Metrics:       metrics,
		MaxModelBytes: int64(cfg.MaxModelBytes),
	})
	if err != nil {
		return fmt.Errorf("load models: %w", err)
	}
	srv := server.New(reg, server.Options{
		Logger:            log,
		MaxDocumentBytes:  cfg.MaxDocumentBytes,
		MaxBatchDocuments: cfg.MaxBatchDocuments,
		StreamWorkers:     cfg.StreamWorkers,
		StreamWindow:      cfg.StreamWindow,
		StreamWindowBytes: cfg.StreamWindowBytes,
		MaxBufferedBytes:  int64(cfg.MaxBufferedBytes),
		DefaultTimeout:    cfg.DefaultTimeout,
		Metrics:           metrics,
		MaxHTMLBytes:      cfg.MaxHTMLBytes,
	})
	if metrics != nil {
		promReg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "topicd_stream_buffered_bytes",
			Help: "Bytes of ClassifyStream documents and answers held between receiving and answering, against --max-buffered-bytes.",
		}, func() float64 { return float64(srv.BufferedBytes()) }))
	}

	opts, err := grpcOptions(cfg)
	if err != nil {
		return err
	}
	gs := grpc.NewServer(append(srv.ServerOptions(), opts...)...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	if cfg.BenchFloor {
		floor, err := server.NewFloor(reg)
		if err != nil {
			return fmt.Errorf("bench floor: %w", err)
		}
		benchv1.RegisterFloorServiceServer(gs, floor)
	}
	hs := newHealthServer()
	healthpb.RegisterHealthServer(gs, hs)
	for _, name := range []string{"", topicdv1.ClassifierService_ServiceDesc.ServiceName, topicdv1.ModelService_ServiceDesc.ServiceName} {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	reflection.Register(gs)
	metrics.InitializeGRPC(gs)

	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	var httpSrv *http.Server
	metricsAddr := ""
	if cfg.MetricsListen != "" {
		mlis, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			lis.Close()
			return fmt.Errorf("listen on %s for metrics: %w", cfg.MetricsListen, err)
		}
		metricsAddr = mlis.Addr().String()
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
		httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := httpSrv.Serve(mlis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server failed", "error", err)
			}
		}()
	}

	hl, err := startHTTP(cfg, log, srv, hs, promReg)
	if err != nil {
		lis.Close()
		return err
	}

	bg, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go reg.Watch(bg, cfg.ReloadInterval)
	go reloadOnHangup(bg, reg, log)

	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(lis) }()
	log.Info("serving",
		"addr", lis.Addr().String(),
		"metrics_addr", metricsAddr,
		"http_addr", hl.addr(),
		"tls", cfg.TLSCert != "",
		"mtls", cfg.TLSClientCA != "",
		"default_model", cfg.DefaultModel,
		"models", reg.Models(),
		"bench_floor", cfg.BenchFloor,
		"ready_ms", time.Since(start).Milliseconds(),
	)
	logOut.Flush() // whoever waits for the address should not wait for the next flush

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve gRPC: %w", err)
	case err := <-hl.failed():
		return fmt.Errorf("serve HTTP: %w", err)
	}
	deadline := time.Now().Add(cfg.ShutdownTimeout)
	drain(cfg, deadline, log, gs, hs, srv, hl)
	if httpSrv != nil {
		sctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if httpSrv.Shutdown(sctx) != nil {
			httpSrv.Close()
		}
	}
	log.Info("stopped")
	return nil
}

// drain shuts topicd down by deadline, whatever its clients do.
//
//  1. Readiness goes off: gRPC health NOT_SERVING (Watch streams are told, then end) and
//     /readyz 503, so load balancers stop sending; for --drain-delay everything else serves as
//     before, new calls included, so that none is refused before the balancers notice.
//  2. Streams are told to end: they answer the documents they took and end with UNAVAILABLE.
//     gRPC's GracefulStop closes the listener and waits for the calls in flight; the HTTP front
//     refuses new API requests with 503 and waits for those in flight, its listener open so that
//     /readyz answers 503, not "connection refused", for as long as anything is in flight.
//  3. In the last tenth of the timeout (at most a second) what is left is cut. topicd returns by
//     the deadline even if gRPC still waits (a connection in its handshake is not cut by Stop).
func drain(cfg Config, deadline time.Time, log *slog.Logger, gs *grpc.Server, hs *healthServer, srv *server.Server, hl *httpListener) {
	cutAt := deadline.Add(-min(cfg.ShutdownTimeout/10, time.Second))
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String(), "drain_delay", cfg.DrainDelay.String())
	hs.Shutdown()
	hl.setDraining()
	if cfg.DrainDelay > 0 {
		time.Sleep(cfg.DrainDelay) // a second signal exits at once (main)
		log.Info("drain delay over; taking no new calls")
	}
	srv.Drain()
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		hl.finish(cutAt)
	}()
	stopGRPC(log, gs, cutAt, deadline)
	select {
	case <-httpDone:
	case <-time.After(time.Until(deadline)):
	}
	hl.close(deadline)
}

// stopGRPC stops gs: GracefulStop waits for the calls in flight until cutAt, after which Stop
// cuts what is left. It returns by deadline whatever gRPC still waits for.
func stopGRPC(log *slog.Logger, gs *grpc.Server, cutAt, deadline time.Time) {
	done := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(time.Until(cutAt))
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	log.Warn("shutdown timeout reached; cutting the calls still open")
	go gs.Stop()
	t.Reset(time.Until(deadline))
	select {
	case <-done:
	case <-t.C:
		log.Warn("connections still open at the shutdown timeout; exiting without them")
	}
}

func reloadOnHangup(ctx context.Context, reg *server.Registry, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading model files")
			if err := reg.Reload(); err != nil {
				log.Error("model reload failed", "error", err)
			}
		}
	}
}

// handshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
const handshakeTimeout = 10 * time.Second

// streamWorkers is how many goroutines gRPC keeps to run calls on; idle ones cost a few KiB each.
const streamWorkers = 64

// grpcOptions are the transport settings: limits, keepalive and TLS.
func grpcOptions(cfg Config) ([]grpc.ServerOption, error) {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.MaxMessageBytes),
		grpc.MaxSendMsgSize(cfg.MaxMessageBytes),
		grpc.MaxConcurrentStreams(uint32(cfg.MaxConcurrentStreams)),
		// Calls run on long-lived goroutines whose stacks have already grown, instead of a new
		// goroutine per call that grows (copies) its stack on every call: measured, stack growth
		// was 10-12% of the server's CPU per unary call. When all are busy, gRPC falls back to a
		// new goroutine, so the number bounds nothing.
		grpc.NumStreamWorkers(streamWorkers),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			// A client that pings more often than this gets GOAWAY (too_many_pings), so a
			// misconfigured client cannot keep the server busy answering pings.
			MinTime: cfg.KeepaliveMinTime,
			// Batch clients keep idle connections warm between jobs: let them ping.
			PermitWithoutStream: !cfg.KeepaliveNoStreamDeny,
		}),
		grpc.KeepaliveParams(keepaliveParams(cfg)),
		// A connection must finish its TLS and HTTP/2 handshake within this: gRPC's default of
		// 120s lets a client that opens a TCP connection and says nothing hold a goroutine,
		// and delay shutdown, for two minutes.
		grpc.ConnectionTimeout(handshakeTimeout),
	}
	if cfg.TLSCert == "" {
		return opts, nil
	}
	tc, err := serverTLS(cfg)
	if err != nil {
		return nil, err
	}
	return append(opts, grpc.Creds(credentials.NewTLS(tc))), nil
}

// keepaliveParams are the server's pings and connection age limit.
func keepaliveParams(cfg Config) keepalive.ServerParameters {
	kp := keepalive.ServerParameters{
		// After a minute without traffic, ping the client to find connections whose peer
		// vanished (a killed pod, a dropped NAT entry)...
		Time: time.Minute,
		// ...and close the connection when the ping is not answered within 20s.
		Timeout: 20 * time.Second,
		// MaxConnectionIdle stays infinite: batch clients keep idle connections warm.
	}
	if cfg.MaxConnectionAge > 0 {
		// A client resolves a headless Service's DNS name when it connects; without an age
		// limit it never sees the replicas started after that. The GOAWAY sent at the age
		// makes it reconnect and re-resolve, while the calls already running get the grace to
		// finish, as on shutdown; a batch stream cut at the end of it is retried by the client.
		kp.MaxConnectionAge = cfg.MaxConnectionAge
		kp.MaxConnectionAgeGrace = cfg.MaxConnectionAgeGrace
		if kp.MaxConnectionAgeGrace == 0 {
			kp.MaxConnectionAgeGrace = cfg.ShutdownTimeout
		}
	}
	return kp
}

func serverTLS(cfg Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if cfg.TLSClientCA != "" {
		pem, err := os.ReadFile(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-client-ca: no PEM certificate in %s", cfg.TLSClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}
