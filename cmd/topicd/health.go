package main

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// watchGrace is how long a health Watch stream may stay open after shutdown began, when the
// NOT_SERVING update did not end it first.
const watchGrace = time.Second

// healthServer is gRPC's health server, except that Watch streams end once shutdown has begun
// and the watcher has been told NOT_SERVING. Clients that balance with health checks hold a
// Watch stream per connection that never ends by itself, and GracefulStop waits for every open
// call: without this, every shutdown would last the whole --shutdown-timeout.
type healthServer struct {
	*health.Server
	once     sync.Once
	shutdown chan struct{}
}

func newHealthServer() *healthServer {
	return &healthServer{Server: health.NewServer(), shutdown: make(chan struct{})}
}

// Shutdown sets every service NOT_SERVING and ends the Watch streams.
func (h *healthServer) Shutdown() {
	h.Server.Shutdown()
	h.once.Do(func() { close(h.shutdown) })
}

// Watch implements healthpb.HealthServer.
func (h *healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-h.shutdown:
			t := time.NewTimer(watchGrace)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
				cancel()
			}
		}
	}()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx, cancel: cancel, shutdown: h.shutdown})
	select {
	case <-h.shutdown:
		return status.Error(codes.Unavailable, "server is shutting down")
	default:
		return err
	}
}

// watchStream ends a Watch stream after it sent a status other than SERVING during shutdown.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx      context.Context
	cancel   context.CancelFunc
	shutdown <-chan struct{}
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(r *healthpb.HealthCheckResponse) error {
	err := w.Health_WatchServer.Send(r)
	select {
	case <-w.shutdown:
		if r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			w.cancel()
		}
	default:
	}
	return err
}
