package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	benchv1 "github.com/topicd/topicd/proto/topicd/bench/v1"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// BenchmarkHandler is the server's own cost per Classify, without gRPC: validation, model
// lookup, classification, conversion and metrics.
func BenchmarkHandler(b *testing.B) {
	s := New(fuzzServer(b).reg, Options{})
	req := &topicdv1.ClassifyRequest{Document: doc("id", FloorSample)}
	ctx := context.Background()
	b.SetBytes(int64(len(FloorSample)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Classify(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogUnary is the cost of the call log on a unary call, with a JSON handler writing
// to io.Discard.
func BenchmarkLogUnary(b *testing.B) {
	s := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	info := &grpc.UnaryServerInfo{FullMethod: topicdv1.ClassifierService_Classify_FullMethodName}
	handler := func(ctx context.Context, req any) (any, error) {
		logModel(ctx, "news-topics")
		return req, nil
	}
	b.ReportAllocs()
	for b.Loop() {
		s.logUnary(ctx, nil, info, handler)
	}
}

// BenchmarkRPC compares unary Classify with the do-nothing Floor call of the same size, over
// bufconn through the whole interceptor chain (logging to a buffer), in parallel.
func BenchmarkRPC(b *testing.B) {
	env := newTestEnv(b, nil, Options{})
	req := &topicdv1.ClassifyRequest{Document: doc("id", FloorSample)}
	b.Run("Classify", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := env.cls.Classify(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("Floor", func(b *testing.B) {
		freq := &benchv1.FloorRequest{Request: req}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := env.floor.Floor(context.Background(), freq); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkStream is documents per second through one ClassifyStream (ns/op is per document).
func BenchmarkStream(b *testing.B) {
	env := newTestEnv(b, nil, Options{})
	b.ReportAllocs()
	stream, err := env.cls.ClassifyStream(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	go func() {
		for i := range b.N {
			if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprint(i), FloorSample)}); err != nil {
				return
			}
		}
		stream.CloseSend()
	}()
	for range b.N {
		if _, err := stream.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatch is documents per second through ClassifyBatch calls of 100 documents (ns/op is
// per document).
func BenchmarkBatch(b *testing.B) {
	env := newTestEnv(b, nil, Options{})
	docs := make([]*topicdv1.Document, 100)
	for i := range docs {
		docs[i] = doc(fmt.Sprint(i), FloorSample)
	}
	req := &topicdv1.ClassifyBatchRequest{Documents: docs}
	b.ReportAllocs()
	for i := 0; i < b.N; i += len(docs) {
		if _, err := env.cls.ClassifyBatch(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// batchDocs returns n documents of FloorSample with distinct ids, like one chunk of topicctl batch.
func batchDocs(n int) []*topicdv1.Document {
	docs := make([]*topicdv1.Document, n)
	for i := range docs {
		docs[i] = doc(fmt.Sprint("doc-", i), FloorSample)
	}
	return docs
}

// BenchmarkBatchHandler is the server's own cost per document of a ClassifyBatch of 1000, as
// topicctl batch sends them, without gRPC (ns/op is per document). "serial" is one call at a
// time; "concurrent" runs 4 calls at once, topicctl batch's default.
func BenchmarkBatchHandler(b *testing.B) {
	s := New(fuzzServer(b).reg, Options{})
	req := &topicdv1.ClassifyBatchRequest{Documents: batchDocs(DefaultMaxBatchDocuments)}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += len(req.Documents) {
			if _, err := s.ClassifyBatch(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("concurrent", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for next.Add(int64(len(req.Documents)))-int64(len(req.Documents)) < int64(b.N) {
					if _, err := s.ClassifyBatch(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
	})
}

// BenchmarkBatchConcurrent is documents per second through 4 concurrent ClassifyBatch calls of
// 1000 documents over bufconn, topicctl batch's default (ns/op is per document; client and
// server share the process).
func BenchmarkBatchConcurrent(b *testing.B) {
	env := newTestEnv(b, nil, Options{})
	req := &topicdv1.ClassifyBatchRequest{Documents: batchDocs(DefaultMaxBatchDocuments)}
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for next.Add(int64(len(req.Documents)))-int64(len(req.Documents)) < int64(b.N) {
				if _, err := env.cls.ClassifyBatch(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
