package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// The call log is written by this interceptor rather than go-grpc-middleware's logging one, which
// allocates dozens of objects per call to build its fields, a large share of a whole Classify RPC
// (BenchmarkCallLog compares the two; docs/performance.md). This one builds the line only when
// its level is enabled, with a fixed set of attributes and one allocation of its own.

// callCtx carries what a handler adds to its call's log line (the model) back to the
// interceptor. It is the call's context itself, so adding it costs one allocation.
type callCtx struct {
	context.Context
	model string
}

type callCtxKey struct{}

func (c *callCtx) Value(key any) any {
	if key == (callCtxKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// logModel adds the model to the call's log line. It must run on the handler's goroutine.
func logModel(ctx context.Context, name string) {
	if c, ok := ctx.Value(callCtxKey{}).(*callCtx); ok {
		c.model = name
	}
}

func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	c := &callCtx{Context: ctx}
	resp, err := handler(c, req)
	s.logCall(ctx, info.FullMethod, start, c.model, err)
	return resp, err
}

func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	c := &callCtx{Context: ss.Context()}
	err := handler(srv, &ctxStream{ServerStream: ss, ctx: c})
	s.logCall(c.Context, info.FullMethod, start, c.model, err)
	return err
}

// ctxStream is a ServerStream with another context.
type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// logCall writes the one line of a finished call: method, code, duration, peer, model and the
// error sent to the client. Never the request: it holds the text.
func (s *Server) logCall(ctx context.Context, method string, start time.Time, model string, err error) {
	code := status.Code(err)
	level := levelFor(code)
	if !s.log.Enabled(ctx, level) {
		return
	}
	addr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	attrs := [7]slog.Attr{
		slog.String("method", method),
		slog.String("code", code.String()),
		// An integer: slog's JSON handler formats a float64 through encoding/json, which
		// cost about a fifth of a whole Floor call's server CPU (and grew the goroutine's stack).
		slog.Int64("duration_us", time.Since(start).Microseconds()),
		slog.String("peer", addr),
	}
	n := 4
	if model != "" {
		attrs[n] = slog.String("model", model)
		n++
	}
	if err != nil {
		attrs[n] = slog.String("error", status.Convert(err).Message())
		n++
	}
	s.log.LogAttrs(ctx, level, "call", attrs[:n]...)
}

// levelFor logs server faults as errors, a server going away as warnings, and the caller's
// mistakes (bad documents, unknown models) as info: they are normal traffic.
func levelFor(code codes.Code) slog.Level {
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}
