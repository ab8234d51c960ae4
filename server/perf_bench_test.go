package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// BenchmarkCallLog compares the server's call-log interceptor with go-grpc-middleware's logging
// interceptor, which it replaced, on the same unary call, both writing one JSON line per call to
// io.Discard.
func BenchmarkCallLog(b *testing.B) {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	info := &grpc.UnaryServerInfo{FullMethod: topicdv1.ClassifierService_Classify_FullMethodName}
	handler := func(ctx context.Context, req any) (any, error) {
		logModel(ctx, "news-topics")
		return req, nil
	}
	b.Run("topicd", func(b *testing.B) {
		s := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
		b.ReportAllocs()
		for b.Loop() {
			s.logUnary(ctx, nil, info, handler)
		}
	})
	b.Run("go-grpc-middleware", func(b *testing.B) {
		lg := slog.New(slog.NewJSONHandler(io.Discard, nil))
		ic := logging.UnaryServerInterceptor(logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
			lg.Log(ctx, slog.Level(lvl), msg, fields...)
		}), logging.WithLogOnEvents(logging.FinishCall))
		b.ReportAllocs()
		for b.Loop() {
			ic(ctx, nil, info, handler)
		}
	})
}

var sinkDuration time.Duration

// BenchmarkClockReads is the two clock reads a classification costs when metrics are on (its
// start and its duration), to hold against BenchmarkHandler's whole Classify.
func BenchmarkClockReads(b *testing.B) {
	for b.Loop() {
		start := time.Now()
		sinkDuration += time.Since(start)
	}
}
