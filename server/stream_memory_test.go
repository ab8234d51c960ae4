package server

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC() // twice: sync.Pool keeps buffers over one collection
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Clients that open many streams, send documents with large answers and never read must not grow
// the server's memory past its bounds: HTTP/2 windows that do not grow by themselves, each stream's
// window, and the server-wide bound on buffered stream data. Memory is measured (live heap of this
// process), not timed.
func TestStreamMemoryBounded(t *testing.T) {
	const (
		conns      = 2
		streams    = 10 // per connection
		maxBuffer  = 8 << 20
		docBytes   = 4 << 10
		idBytes    = 1 << 10
		heapBudget = 56 << 20 // measured: 41 MiB; 116 MiB with growing windows and no server-wide bound
	)
	env := newTestEnv(t, nil, Options{MaxBufferedBytes: maxBuffer})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	text := strings.Repeat(sampleArticle+" ", docBytes/len(sampleArticle))
	id := strings.Repeat("i", idBytes)
	opts := &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 50}

	base := heapInUse()
	var sent atomic.Int64
	var wg sync.WaitGroup
	for c := range conns {
		// The clients' windows are fixed and small, so that what they buffer of the answers
		// they do not read stays out of the measure: the server's memory is what is measured.
		dial := append(bufconnDial(env), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
		conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cls := topicdv1.NewClassifierServiceClient(conn)
		for s := range streams {
			stream, err := cls.ClassifyStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					req := &topicdv1.ClassifyStreamRequest{
						Document: &topicdv1.Document{Id: fmt.Sprintf("%s-%d-%d-%d", id, c, s, i), Text: text},
						Options:  opts,
					}
					if stream.Send(req) != nil {
						return
					}
					sent.Add(1)
				}
			}()
		}
	}
	// Wait until every sender is blocked by flow control: nothing sent for a second.
	for last, deadline := int64(-1), time.Now().Add(60*time.Second); ; {
		time.Sleep(time.Second)
		n := sent.Load()
		if n == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("senders still sending after 60s (%d documents): nothing pushes back", n)
		}
		last = n
	}
	grown := int64(heapInUse()) - int64(base)
	buffered := env.srv.buffered.used.Load()
	t.Logf("%d streams: %d documents sent, %d bytes buffered by the server, heap grew %.1f MiB",
		conns*streams, sent.Load(), buffered, float64(grown)/(1<<20))
	if buffered > maxBuffer+conns*streams*(docBytes+4*idBytes+64<<10) {
		t.Errorf("server buffers %d bytes of stream data, bound %d plus one document and answer per stream", buffered, maxBuffer)
	}
	if grown > heapBudget {
		t.Errorf("heap grew by %d bytes with %d non-reading streams, want at most %d", grown, conns*streams, heapBudget)
	}
	cancel()
	wg.Wait()
	// What the streams held goes back to the budget when they end, answered or not.
	for deadline := time.Now().Add(30 * time.Second); env.srv.buffered.used.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still counted as buffered after every stream ended", env.srv.buffered.used.Load())
		}
	}
	got, err := recvAllAfterSend(t, env, 50)
	if err != nil || got != 50 {
		t.Errorf("a new stream after the others ended: %d of 50 answers, %v", got, err)
	}
}

// recvAllAfterSend sends n documents on a new stream of env's connection, closes its side and
// counts the answers.
func recvAllAfterSend(t *testing.T, env *testEnv, n int) (int, error) {
	t.Helper()
	stream, err := env.cls.ClassifyStream(testCtx(t))
	if err != nil {
		return 0, err
	}
	for i := range n {
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprint(i), sampleArticle)}); err != nil {
			return 0, err
		}
	}
	stream.CloseSend()
	got, err := recvAll(t, stream)
	return len(got), err
}

// Headers are bounded per call: a call with 1 MiB of metadata is refused, and the server goes on.
func TestHeaderListBounded(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-junk", strings.Repeat("j", 1<<20))
	if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", sampleArticle)}); err == nil {
		t.Errorf("Classify with 1 MiB of metadata succeeded, want it refused (limit %d bytes)", MaxHeaderListBytes)
	}
	if _, err := env.cls.Classify(testCtx(t), &topicdv1.ClassifyRequest{Document: doc("", sampleArticle)}); err != nil {
		t.Errorf("Classify after = %v", err)
	}
}
