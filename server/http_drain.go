package server

import (
	"context"
	"net/http"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The HTTP front drains in two steps, so that /readyz keeps answering 503 for as long as the
// process serves anything: closing the listener, as http.Server.Shutdown does, would make the
// readiness probe "connection refused" while requests are still finishing. SetDraining turns
// readiness off and nothing else, for the time load balancers take to notice; Shutdown then
// refuses new API requests and waits for those in flight, while the probes, the page and
// /openapi.json go on answering on the open listener.

// drainState is what the front knows of its shutdown. Safe for concurrent use.
type drainState struct {
	mu       sync.Mutex
	draining bool          // /readyz answers 503
	stopping bool          // API requests are refused
	inFlight int           // API requests admitted and not yet answered
	idle     chan struct{} // closed once stopping and inFlight is 0
}

// SetDraining makes /readyz answer 503 with a google.rpc.Status saying that the server is
// draining, whatever HTTPOptions.Health says; every route goes on serving. Call it when
// shutdown begins, before [HTTPFront.Shutdown], so that load balancers stop sending requests
// before any is refused. It cannot be undone. Safe for concurrent use.
func (f *HTTPFront) SetDraining() {
	f.drain.mu.Lock()
	f.drain.draining = true
	f.drain.mu.Unlock()
}

// Shutdown makes /readyz answer 503 (as SetDraining) and refuses the API requests that arrive
// from now on with 503 UNAVAILABLE and Connection: close, so clients send them to another
// replica. It waits until the API requests in flight have been answered, or until ctx ends,
// when it returns ctx's error: cut what is left by closing the http.Server. An NDJSON stream
// is in flight until it ends: call [Server.Drain] first, which ends them. The probes, the page
// and /openapi.json are still served, and the http.Server is not stopped: stop it after
// Shutdown, then Close the front. Safe for concurrent use.
func (f *HTTPFront) Shutdown(ctx context.Context) error {
	d := &f.drain
	d.mu.Lock()
	d.draining, d.stopping = true, true
	if d.inFlight == 0 {
		d.closeIdle()
	}
	d.mu.Unlock()
	select {
	case <-d.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeIdle closes idle once. Call it with mu held.
func (d *drainState) closeIdle() {
	select {
	case <-d.idle:
	default:
		close(d.idle)
	}
}

func (d *drainState) isDraining() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.draining
}

// admit counts an API request in flight, or reports false once the front is shutting down.
func (d *drainState) admit() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return false
	}
	d.inFlight++
	return true
}

func (d *drainState) done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inFlight--
	if d.stopping && d.inFlight == 0 {
		d.closeIdle()
	}
}

// admitAPI wraps the API routes: their requests are counted while in flight, and refused once
// the front is shutting down.
func (f *HTTPFront) admitAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.drain.admit() {
			// The client's next request should open a connection that a load balancer may
			// send to another replica.
			w.Header().Set("Connection", "close")
			writeStatus(w, http.StatusServiceUnavailable, status.New(codes.Unavailable,
				"the server is shutting down and takes no new requests; send the request to another replica"))
			return
		}
		defer f.drain.done()
		next.ServeHTTP(w, r)
	})
}
