package server

import (
	"context"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
)

// ServerOptions returns the options a grpc.Server that serves s needs: the codec that turns
// invalid UTF-8 into INVALID_ARGUMENT (codec.go) and the interceptor chain metrics (when
// Options.Metrics is set) -> logging -> default deadline -> recovery. Every service on that
// grpc.Server goes through it, the FloorService too, so the floor benchmark pays the same.
func (s *Server) ServerOptions() []grpc.ServerOption {
	unary, stream := s.interceptors()
	return []grpc.ServerOption{
		codecOption(),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		// Fixed HTTP/2 receive windows: setting them turns off gRPC's BDP estimation, which
		// otherwise grows every window to 16 MiB, so that a stream whose documents are not
		// read (because its client does not read the answers) holds up to 16 MiB in the
		// transport instead of StreamFlowWindow.
		grpc.InitialWindowSize(StreamFlowWindow),
		grpc.InitialConnWindowSize(ConnFlowWindow),
		// gRPC's default accepts 16 MiB of headers per call, held while the call runs.
		grpc.MaxHeaderListSize(MaxHeaderListBytes),
	}
}

// interceptors returns the unary and stream chains, outermost first. The HTTP front runs its
// unary calls through the same unary chain in process (http_local.go).
func (s *Server) interceptors() ([]grpc.UnaryServerInterceptor, []grpc.StreamServerInterceptor) {
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if m := s.opts.Metrics; m != nil {
		unary = append(unary, m.grpc.UnaryServerInterceptor())
		stream = append(stream, m.grpc.StreamServerInterceptor())
	}
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		method, _ := grpc.Method(ctx)
		return s.panicError(ctx, method, p, debug.Stack())
	})
	unary = append(unary,
		s.logUnary,
		s.defaultDeadline,
		recovery.UnaryServerInterceptor(recoverOpt),
	)
	stream = append(stream,
		s.logStream,
		recovery.StreamServerInterceptor(recoverOpt),
	)
	return unary, stream
}

// defaultDeadline gives a unary call without a deadline Options.DefaultTimeout, so a stuck call
// cannot hold its resources forever.
func (s *Server) defaultDeadline(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if _, ok := ctx.Deadline(); ok || s.opts.DefaultTimeout <= 0 {
		return handler(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.DefaultTimeout)
	defer cancel()
	return handler(ctx, req)
}
