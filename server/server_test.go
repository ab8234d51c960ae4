package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
	"github.com/topicd/topicd/models"
	benchv1 "github.com/topicd/topicd/proto/topicd/bench/v1"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// sampleArticle is a multi-topic news text written for these tests.
const sampleArticle = "Hackers backed by a foreign intelligence service broke into the foreign " +
	"ministry's email servers and leaked documents about talks on asylum seekers and border " +
	"controls between the two governments. The ministry said the ransomware attack exposed " +
	"diplomatic cables, and the ambassador was summoned."

// testEnv is a server over bufconn with its clients.
type testEnv struct {
	srv     *Server
	reg     *Registry
	gs      *grpc.Server
	conn    *grpc.ClientConn
	cls     topicdv1.ClassifierServiceClient
	models  topicdv1.ModelServiceClient
	floor   benchv1.FloorServiceClient
	logs    *syncBuffer
	metrics *Metrics
	lis     *bufconn.Listener
}

// syncBuffer is a bytes.Buffer the server's goroutines may log into while a test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func defaultModel(t testing.TB) *classifier.Model {
	t.Helper()
	m, err := models.Default()
	if err != nil {
		t.Fatalf("models.Default() = %v", err)
	}
	return m
}

// newTestEnv serves reg (nil: the embedded default model alone) over bufconn with the full
// interceptor chain.
func newTestEnv(t testing.TB, reg *Registry, opts Options) *testEnv {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	if reg == nil {
		var err error
		reg, err = NewRegistry(RegistryOptions{
			Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
			Logger:  opts.Logger,
			Metrics: opts.Metrics,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := New(reg, opts)
	gs := grpc.NewServer(srv.ServerOptions()...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	floor, err := NewFloor(reg)
	if err != nil {
		t.Fatal(err)
	}
	benchv1.RegisterFloorServiceServer(gs, floor)
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	env := &testEnv{lis: lis}
	conn, err := grpc.NewClient("passthrough:///bufnet", bufconnDial(env)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		gs.Stop()
	})
	*env = testEnv{
		srv: srv, reg: reg, gs: gs, conn: conn, logs: logs, metrics: opts.Metrics, lis: lis,
		cls:    topicdv1.NewClassifierServiceClient(conn),
		models: topicdv1.NewModelServiceClient(conn),
		floor:  benchv1.NewFloorServiceClient(conn),
	}
	return env
}

// bufconnDial are the dial options that reach env's server.
func bufconnDial(env *testEnv) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return env.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantStatus fails t unless err has code and its message contains every part of want.
func wantStatus(t *testing.T, what string, err error, code codes.Code, want ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("%s: code = %v (%q), want %v", what, st.Code(), st.Message(), code)
	}
	for _, w := range want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("%s: message %q does not contain %q", what, st.Message(), w)
		}
	}
}

// trainModel trains a small real model on hand-written examples; variant changes the examples
// so two variants have different versions.
func trainModel(t testing.TB, variant string) *classifier.Model {
	t.Helper()
	texts := map[string][]string{
		"cybersecurity": {"hackers breached the network with ransomware", "a malware attack leaked passwords", "the cyber attack hit servers"},
		"migration":     {"asylum seekers crossed the border", "migrants arrived by boat seeking refuge", "refugees and migration policy"},
		"diplomacy":     {"the ambassador met the foreign minister", "summit talks between governments", "a treaty signed by diplomats"},
		"other":         {"the football team won the match", "rain and storms across the region", "the film festival opened"},
	}
	var ex []training.Example
	for label, ts := range texts {
		for i, x := range ts {
			ex = append(ex, training.Example{ID: label + string(rune('a'+i)), Label: label, Text: x + " " + variant})
		}
	}
	m, err := training.Train(ex, training.Config{License: "test data"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeModel(t testing.TB, m *classifier.Model) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// panicModel is a real model that panics on documents containing "PANIC", to test recovery.
type panicModel struct{ Model }

func (p panicModel) Classify(title, text string, opts classifier.Options) (classifier.Result, error) {
	if strings.Contains(text, "PANIC") {
		panic("test panic")
	}
	return p.Model.Classify(title, text, opts)
}

func doc(id, text string) *topicdv1.Document { return &topicdv1.Document{Id: id, Text: text} }

// recvAll reads a stream to its end and returns the responses by document id.
func recvAll(t *testing.T, stream topicdv1.ClassifierService_ClassifyStreamClient) (map[string]*topicdv1.ClassifyStreamResponse, error) {
	t.Helper()
	got := map[string]*topicdv1.ClassifyStreamResponse{}
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		if _, dup := got[r.DocumentId]; dup {
			t.Errorf("document %q answered twice", r.DocumentId)
		}
		got[r.DocumentId] = r
	}
}

// rawBytes is a request already encoded, for sending what a Go client cannot build: strings
// that are not UTF-8.
type rawBytes []byte

// rawCodec sends rawBytes as they are and handles every other message as the proto codec does.
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if r, ok := v.(rawBytes); ok {
		return mem.BufferSlice{mem.SliceBuffer(r)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// sendRaw is a call option that lets a call send rawBytes.
func sendRaw() grpc.CallOption { return grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2("proto")}) }

// corrupt encodes m and replaces old by bad, which must have the same length, in the bytes.
func corrupt(t testing.TB, m proto.Message, old, bad string) rawBytes {
	t.Helper()
	if len(old) != len(bad) {
		t.Fatalf("corrupt: %q and %q differ in length", old, bad)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("corrupt: %q not in the encoded message", old)
	}
	return bytes.ReplaceAll(b, []byte(old), []byte(bad))
}
