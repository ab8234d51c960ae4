package server

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

func TestClassifyStream(t *testing.T) {
	env := newTestEnv(t, nil, Options{MaxDocumentBytes: 1000})
	ctx := testCtx(t)
	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	wantCode := map[string]codes.Code{}
	go func() {
		for i := range n {
			req := &topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprintf("d%d", i), fmt.Sprintf("story %d: %s", i, sampleArticle))}
			switch i % 10 {
			case 3:
				req.Document.Text = " "
			case 5:
				req.Document.Text = strings.Repeat("z", 1001)
			case 7:
				req.Model = "missing"
			case 9:
				req.Options = &topicdv1.ClassifyOptions{ExplainTerms: 99}
				if i%20 == 19 {
					req.Options = &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"sports": 0.2}}
				}
			}
			if err := stream.Send(req); err != nil {
				t.Errorf("Send(%d) = %v", i, err)
				return
			}
		}
		stream.CloseSend()
	}()
	for i := range n {
		id := fmt.Sprintf("d%d", i)
		switch i % 10 {
		case 3, 5, 9:
			wantCode[id] = codes.InvalidArgument
		case 7:
			wantCode[id] = codes.NotFound
		default:
			wantCode[id] = codes.OK
		}
	}
	got, err := recvAll(t, stream)
	if err != nil {
		t.Fatalf("stream ended with %v, want a clean end", err)
	}
	if len(got) != n {
		t.Errorf("got %d responses, want %d", len(got), n)
	}
	for id, code := range wantCode {
		r := got[id]
		switch {
		case r == nil:
			t.Errorf("no response for %s", id)
		case code == codes.OK && r.GetClassification().GetDocumentId() != id:
			t.Errorf("response for %s = %v, want its classification", id, r)
		case code != codes.OK && codes.Code(r.GetError().GetCode()) != code:
			t.Errorf("response for %s = %v, want error %v", id, r, code)
		}
	}
}

// gateModel holds documents containing "SLOW" until the gate is opened.
type gateModel struct {
	Model
	gate chan struct{}
}

func (g gateModel) Classify(title, text string, opts classifier.Options) (classifier.Result, error) {
	if strings.Contains(text, "SLOW") {
		<-g.gate
	}
	return g.Model.Classify(title, text, opts)
}

func TestClassifyStreamOutOfOrder(t *testing.T) {
	gate := make(chan struct{})
	var classified atomic.Int64
	m := countingModel{gateModel{defaultModel(t), gate}, &classified}
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: "m", Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{StreamWorkers: 2})
	base := classified.Load() // the Floor's precomputed answer
	ctx := testCtx(t)
	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc("slow", "SLOW hackers")}); err != nil {
		t.Fatal(err)
	}
	// The fast document goes only once a worker holds the slow one, so a second worker must
	// start for it whatever the timing.
	for deadline := time.Now().Add(20 * time.Second); classified.Load() < base+1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("slow document never reached the model")
		}
	}
	if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc("fast", "migrants at the border")}); err != nil {
		t.Fatal(err)
	}
	// The slow document blocks one worker; the other answers the fast one first.
	first, err := stream.Recv()
	if err != nil || first.DocumentId != "fast" || first.GetClassification().GetDocumentId() != "fast" {
		t.Fatalf("first response = %v, %v; want the fast document", first, err)
	}
	close(gate)
	second, err := stream.Recv()
	if err != nil || second.DocumentId != "slow" {
		t.Fatalf("second response = %v, %v; want the slow document", second, err)
	}
	stream.CloseSend()
	if rest, err := recvAll(t, stream); err != nil || len(rest) != 0 {
		t.Errorf("after both answers: %v, %v; want a clean end", rest, err)
	}
}

// countingModel counts the documents classified.
type countingModel struct {
	Model
	n *atomic.Int64
}

func (c countingModel) Classify(title, text string, opts classifier.Options) (classifier.Result, error) {
	c.n.Add(1)
	return c.Model.Classify(title, text, opts)
}

// A client that sends without reading must be slowed down by flow control, not buffered by the
// server without bound.
func TestClassifyStreamBackpressure(t *testing.T) {
	var classified atomic.Int64
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: "m", Model: countingModel{defaultModel(t), &classified}}}})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{StreamWindow: 8})
	ctx := testCtx(t)
	// Fixed 64 KiB windows on the client: no BDP growth, so what the client can buffer is known.
	conn, err := grpc.NewClient(env.conn.Target(), append(bufconnDial(env), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stream, err := topicdv1.NewClassifierServiceClient(conn).ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	var sent atomic.Int64
	sendDone := make(chan error, 1)
	go func() {
		for i := range n {
			if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprint(i), sampleArticle)}); err != nil {
				sendDone <- err
				return
			}
			sent.Add(1)
		}
		sendDone <- stream.CloseSend()
	}()

	// Wait until the server stops classifying (the count holds still for half a second).
	last, still := int64(-1), 0
	for deadline := time.Now().Add(20 * time.Second); still < 10 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		if c := classified.Load(); c == last {
			still++
		} else {
			last, still = c, 0
		}
	}
	// Responses of ~0.3 KB: the client's 64 KiB window holds a few hundred, the window 8 more.
	t.Logf("classified %d of %d before the client read", classified.Load(), n)
	if c := classified.Load(); c >= n/2 {
		t.Fatalf("server classified %d of %d documents the client never read: no backpressure", c, n)
	}
	got, err := recvAll(t, stream)
	if err != nil {
		t.Fatalf("stream = %v", err)
	}
	if err := <-sendDone; err != nil {
		t.Fatalf("Send = %v", err)
	}
	if len(got) != n {
		t.Errorf("got %d responses, want %d", len(got), n)
	}
}

func TestClassifyStreamDrain(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprint(i), sampleArticle)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("Recv before drain = %v", err)
		}
	}
	env.srv.Drain()
	_, err = stream.Recv()
	wantStatus(t, "stream after Drain", err, codes.Unavailable, "shutting down")
	// Unary calls still work while the grpc.Server has not stopped.
	if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers")}); err != nil {
		t.Errorf("Classify after Drain = %v", err)
	}
}

// With a byte budget smaller than one document, a stream takes the next document only after the
// previous one is answered, even with idle workers.
func TestClassifyStreamByteBudget(t *testing.T) {
	gate := make(chan struct{})
	var classified atomic.Int64
	m := countingModel{gateModel{defaultModel(t), gate}, &classified}
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: "m", Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{StreamWorkers: 2, StreamWindowBytes: 5})
	base := classified.Load() // the Floor's precomputed answer
	ctx := testCtx(t)
	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*topicdv1.Document{doc("slow", "SLOW hackers"), doc("next", "migrants at the border")} {
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: d}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); classified.Load() < base+1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("first document never reached the model")
		}
	}
	// A broken budget would let the idle worker take the second document at once.
	time.Sleep(200 * time.Millisecond)
	if n := classified.Load() - base; n != 1 {
		t.Fatalf("%d documents classified while the first holds the whole byte budget, want 1", n)
	}
	close(gate)
	stream.CloseSend()
	got, err := recvAll(t, stream)
	if err != nil || len(got) != 2 {
		t.Errorf("after the gate opened: %d responses, %v; want 2", len(got), err)
	}
}

// Several streams at once on one connection, each with its own ids, each getting exactly its
// own documents back.
func TestClassifyStreamConcurrent(t *testing.T) {
	env := newTestEnv(t, nil, Options{StreamWorkers: 3, StreamWindow: 16})
	ctx := testCtx(t)
	const streams, n = 6, 400
	errs := make(chan error, streams)
	for s := range streams {
		go func() {
			stream, err := env.cls.ClassifyStream(ctx)
			if err != nil {
				errs <- err
				return
			}
			go func() {
				for i := range n {
					text := fmt.Sprintf("stream %d document %d: %s", s, i, sampleArticle[:50+i%100])
					if stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc(fmt.Sprintf("%d/%d", s, i), text)}) != nil {
						return
					}
				}
				stream.CloseSend()
			}()
			seen := map[string]bool{}
			for {
				r, err := stream.Recv()
				if err != nil {
					if err != io.EOF {
						errs <- err
						return
					}
					break
				}
				if seen[r.DocumentId] || !strings.HasPrefix(r.DocumentId, fmt.Sprintf("%d/", s)) || r.GetClassification() == nil {
					errs <- fmt.Errorf("stream %d: unexpected response %v", s, r)
					return
				}
				seen[r.DocumentId] = true
			}
			if len(seen) != n {
				errs <- fmt.Errorf("stream %d: %d responses, want %d", s, len(seen), n)
				return
			}
			errs <- nil
		}()
	}
	for range streams {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
