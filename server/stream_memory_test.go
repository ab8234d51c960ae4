package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"

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

// Headers are bounded per call: a client that ignores the server's advertised limit (as a hostile
// one does; gRPC's own client refuses to send) and sends 1 MiB of headers on each of 20 streams
// gets its streams reset or, as x/net's framer does once the headers run far past the limit, its
// connection closed; nothing is held, and the server keeps serving.
func TestHeaderListBounded(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	c, err := env.lis.DialContext(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"}, {Name: ":authority", Value: "bufnet"},
		{Name: ":path", Value: "/topicd.v1.ClassifierService/ClassifyStream"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	} {
		enc.WriteField(f)
	}
	for i := range 128 { // 1 MiB in 8 KiB headers
		enc.WriteField(hpack.HeaderField{Name: fmt.Sprintf("x-junk-%d", i), Value: strings.Repeat("j", 8<<10)})
	}
	const streams = 20
	go func() {
		for i := range streams {
			id := uint32(2*i + 1)
			b := block.Bytes()
			const chunk = 16 << 10
			if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b[:chunk]}) != nil {
				return // the server closed the connection
			}
			for b = b[chunk:]; len(b) > 0; {
				n := min(chunk, len(b))
				if fr.WriteContinuation(id, n == len(b), b[:n]) != nil {
					return
				}
				b = b[n:]
			}
		}
	}()
	reset := map[uint32]bool{}
	// A server that takes the headers answers nothing until the stream sends a message: the read
	// deadline turns that into a failure instead of a hang.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	closed := false
	for len(reset) < streams && !closed {
		f, err := fr.ReadFrame()
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			t.Fatalf("%d of %d streams with 1 MiB of headers reset, the others held open: the headers were taken", len(reset), streams)
		case err != nil:
			closed = true // the connection, and all it held, is gone
			continue
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			reset[f.StreamID] = true
		case *http2.HeadersFrame:
			t.Fatalf("stream %d with 1 MiB of headers was answered, want it reset", f.StreamID)
		}
	}
	t.Logf("%d streams reset, connection closed: %v", len(reset), closed)
	if _, err := env.cls.Classify(testCtx(t), &topicdv1.ClassifyRequest{Document: doc("", sampleArticle)}); err != nil {
		t.Errorf("Classify after = %v", err)
	}
}

// Clients that never read cannot starve the others: with the server-wide bound spent by their
// streams, a stream whose client reads its answers still gets every answer.
func TestStreamBudgetNoStarvation(t *testing.T) {
	env := newTestEnv(t, nil, Options{MaxBufferedBytes: 256 << 10})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	text := strings.Repeat(sampleArticle+" ", 4)
	id := strings.Repeat("i", 1<<10)
	// The non-reading clients' own windows are small, so their answers stay on the server.
	dial := append(bufconnDial(env), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	conn, err := grpc.NewClient("passthrough:///bufnet", dial...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hostile := topicdv1.NewClassifierServiceClient(conn)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for s := range 10 {
		stream, err := hostile.ClassifyStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				req := &topicdv1.ClassifyStreamRequest{
					Document: &topicdv1.Document{Id: fmt.Sprintf("%s-%d-%d", id, s, i), Text: text},
					Options:  &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 50},
				}
				if stream.Send(req) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	// Wait until every non-reading sender is blocked by flow control: nothing sent for a second.
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
	if !env.srv.buffered.full() {
		t.Fatalf("non-reading streams did not fill the server-wide bound: %d bytes buffered", env.srv.buffered.used.Load())
	}
	done := make(chan struct{})
	var got int
	go func() {
		got, err = recvAllAfterSend(t, env, 50)
		close(done)
	}()
	select {
	case <-done:
		if err != nil || got != 50 {
			t.Errorf("reading stream beside non-reading ones: %d of 50 answers, %v", got, err)
		}
	case <-time.After(15 * time.Second): // well before the non-reading streams' context ends
		t.Errorf("reading stream beside non-reading ones got no answers: starved (%d bytes buffered)", env.srv.buffered.used.Load())
	}
	cancel()
	wg.Wait()
	<-done
}

// Idle streams cost a couple of goroutines each, not one per stream worker: with 64 workers per
// stream, 50 idle streams used to start 3,200 goroutines.
func TestIdleStreamGoroutines(t *testing.T) {
	env := newTestEnv(t, nil, Options{StreamWorkers: 64})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	before := runtime.NumGoroutine()
	const n = 50
	for range n {
		stream, err := env.cls.ClassifyStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// One document each, so the server has surely opened the stream.
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc("a", sampleArticle)}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if grown := runtime.NumGoroutine() - before; grown > 8*n {
		t.Errorf("%d idle streams added %d goroutines, want at most %d", n, grown, 8*n)
	} else {
		t.Logf("%d idle streams added %d goroutines", n, grown)
	}
}
