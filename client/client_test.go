package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

// testServer is a real topicd server (package server, the embedded model, grpc.health.v1) on
// a loopback TCP port, counting the calls it receives.
type testServer struct {
	addr   string
	gs     *grpc.Server
	srv    *server.Server
	health *health.Server
	calls  atomic.Int64
}

func startServer(t testing.TB, opts ...grpc.ServerOption) *testServer {
	return startServerWith(t, server.Options{}, opts...)
}

func startServerWith(t testing.TB, so server.Options, opts ...grpc.ServerOption) *testServer {
	t.Helper()
	return startServerOn(t, so, "127.0.0.1:0", opts...)
}

// startServerOn is startServerWith on the address addr, for a server restarted where it was.
func startServerOn(t testing.TB, so server.Options, addr string, opts ...grpc.ServerOption) *testServer {
	t.Helper()
	m, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: server.New(reg, so), health: health.NewServer()}
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasPrefix(info.FullMethod, "/topicd.v1.") {
			ts.calls.Add(1)
		}
		return h(ctx, req)
	}
	countStream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if strings.HasPrefix(info.FullMethod, "/topicd.v1.") {
			ts.calls.Add(1)
		}
		return h(srv, ss)
	}
	opts = append(append(opts, ts.srv.ServerOptions()...), grpc.ChainUnaryInterceptor(count), grpc.ChainStreamInterceptor(countStream))
	ts.gs = grpc.NewServer(opts...)
	topicdv1.RegisterClassifierServiceServer(ts.gs, ts.srv)
	topicdv1.RegisterModelServiceServer(ts.gs, ts.srv)
	healthpb.RegisterHealthServer(ts.gs, ts.health)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = lis.Addr().String()
	go ts.gs.Serve(lis)
	t.Cleanup(ts.gs.Stop)
	return ts
}

func newClient(t testing.TB, target string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(target, opts...)
	if err != nil {
		t.Fatalf("client.New(%q): %v", target, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

const cyberText = "Hackers breached the ministry's network and stole passwords in a ransomware attack."

func TestClassify(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.addr)

	cl, err := c.Classify(ctx(t), &topicdv1.Document{Id: "x1", Text: cyberText}, client.WithTopK(2), client.WithExplain(3))
	if err != nil {
		t.Fatalf("Classify: %v", err)
	}
	if cl.GetDocumentId() != "x1" || cl.GetLabel() != "cybersecurity" || len(cl.GetScores()) != 2 || len(cl.GetExplanations()) != 2 {
		t.Errorf("Classify(%q) = %v, want id x1, label cybersecurity, 2 scores, 2 explanations", cyberText, cl)
	}
	cl, err = c.ClassifyText(ctx(t), cyberText)
	if err != nil || len(cl.GetScores()) != 4 {
		t.Errorf("ClassifyText(%q) = %v, %v; want 4 scores", cyberText, cl, err)
	}

	for _, tt := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"empty text", second(c.ClassifyText(ctx(t), "  ")), codes.InvalidArgument},
		{"unknown model", second(c.ClassifyText(ctx(t), cyberText, client.WithModel("nope"))), codes.NotFound},
		{"unknown GetModel", second(c.GetModel(ctx(t), "nope")), codes.NotFound},
	} {
		if status.Code(tt.err) != tt.code {
			t.Errorf("%s: error %v, want code %v", tt.name, tt.err, tt.code)
		}
	}

	res, err := c.ClassifyBatch(ctx(t), []*topicdv1.Document{{Id: "a", Text: cyberText}, {Id: "b", Text: ""}, {Id: "c", Text: "Migrants crossed the border seeking asylum."}})
	if err != nil {
		t.Fatalf("ClassifyBatch: %v", err)
	}
	if len(res) != 3 || res[0].ID != "a" || res[0].Classification == nil || status.Code(res[1].Err) != codes.InvalidArgument || res[2].Classification.GetLabel() != "migration" {
		t.Errorf("ClassifyBatch = %+v, want a classified, b INVALID_ARGUMENT, c migration", res)
	}

	ms, err := c.ListModels(ctx(t))
	if err != nil || len(ms) != 1 || ms[0].GetName() != models.DefaultName || !ms[0].GetDefault() {
		t.Errorf("ListModels = %v, %v; want the default model", ms, err)
	}
	m, err := c.GetModel(ctx(t), "")
	if err != nil || m.GetName() != models.DefaultName || len(m.GetLabels()) != 4 {
		t.Errorf("GetModel(\"\") = %v, %v; want the default model with 4 labels", m, err)
	}
}

func second[T any](_ T, err error) error { return err }

func TestStream(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.addr)
	st, err := c.OpenStream(ctx(t), client.WithTopK(1))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	go func() {
		for i := range n {
			text := cyberText
			if i == 7 {
				text = ""
			}
			st.Send(&topicdv1.Document{Id: fmt.Sprint("s", i), Text: text})
		}
		st.CloseSend()
	}()
	seen := map[string]bool{}
	for {
		r, err := st.Recv()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("Recv: %v", err)
			}
			break
		}
		seen[r.ID] = true
		if (r.ID == "s7") != (status.Code(r.Err) == codes.InvalidArgument) {
			t.Errorf("stream result %s: err %v", r.ID, r.Err)
		}
		if r.Err == nil && len(r.Classification.GetScores()) != 1 {
			t.Errorf("stream result %s: %d scores, want 1 (top-k)", r.ID, len(r.Classification.GetScores()))
		}
	}
	if len(seen) != n {
		t.Errorf("stream answered %d distinct ids, want %d", len(seen), n)
	}
}

// TestBalancing checks that a comma-separated target spreads calls over every replica, and
// that a replica whose health check reports NOT_SERVING gets no calls.
func TestBalancing(t *testing.T) {
	servers := []*testServer{startServer(t), startServer(t), startServer(t)}
	c := newClient(t, servers[0].addr+","+servers[1].addr+", "+servers[2].addr)
	call := func(n int) {
		for range n {
			if _, err := c.ClassifyText(ctx(t), cyberText); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Replicas join the balancer as their connections and health checks come up, so call
	// until every one has had a call.
	deadline := time.Now().Add(10 * time.Second)
	for servers[0].calls.Load() == 0 || servers[1].calls.Load() == 0 || servers[2].calls.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s of calls, calls per server: %d %d %d; want every server used", servers[0].calls.Load(), servers[1].calls.Load(), servers[2].calls.Load())
		}
		call(10)
	}
	servers[0].health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	// The health watch stream delivers the change in its own time: call until a round of calls
	// leaves the server alone, then check that it stays alone.
	deadline = time.Now().Add(10 * time.Second)
	for {
		before := servers[0].calls.Load()
		call(10)
		if servers[0].calls.Load() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after NOT_SERVING, the server still gets calls")
		}
	}
	before := servers[0].calls.Load()
	call(60)
	if got := servers[0].calls.Load() - before; got != 0 {
		t.Errorf("NOT_SERVING server got %d calls, want 0", got)
	}
}

// TestRunBatch runs jobs over two replicas, stopping one midway, for each transport and
// order: every document gets exactly one result, in input order with Ordered.
func TestRunBatch(t *testing.T) {
	for _, tr := range []client.Transport{client.TransportBatch, client.TransportStream} {
		for _, ordered := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/ordered=%v", tr, ordered), func(t *testing.T) {
				a, b := startServer(t), startServer(t)
				c := newClient(t, a.addr+","+b.addr)
				const n = 3000
				docs := make(chan *topicdv1.Document)
				go func() {
					defer close(docs)
					for i := range n {
						if i == n/3 {
							a.gs.Stop()
						}
						text := fmt.Sprintf("Round %d: refugees and migrants crossed the border.", i)
						if i%1000 == 999 {
							text = "" // rejected: an error result, not a retry
						}
						id := fmt.Sprint(i)
						if i == 5 {
							id = "0" // a duplicate id: still its own result
						}
						docs <- &topicdv1.Document{Id: id, Text: text}
					}
				}()
				var got []client.Result
				stats, err := c.RunBatch(ctx(t), client.BatchConfig{Transport: tr, Ordered: ordered, ChunkSize: 16, Concurrency: 4}, docs,
					func(r client.Result) error { got = append(got, r); return nil })
				if err != nil {
					t.Fatalf("RunBatch: %v", err)
				}
				if len(got) != n || stats.Documents != n || stats.Errors != 3 {
					t.Fatalf("RunBatch: %d results, stats %+v; want %d results, 3 errors", len(got), stats, n)
				}
				ids := map[string]int{}
				for i, r := range got {
					ids[r.ID]++
					if ordered {
						want := fmt.Sprint(i)
						if i == 5 {
							want = "0"
						}
						if r.ID != want {
							t.Fatalf("ordered result %d has id %s, want %s", i, r.ID, want)
						}
					}
					if r.Err != nil && status.Code(r.Err) != codes.InvalidArgument {
						t.Errorf("result %s: %v, want a classification or INVALID_ARGUMENT", r.ID, r.Err)
					}
					if r.Err == nil && r.Classification.GetDocumentId() != r.ID {
						t.Errorf("result %s holds document id %q", r.ID, r.Classification.GetDocumentId())
					}
				}
				for i := range n {
					want := 1
					switch i {
					case 0:
						want = 2
					case 5:
						want = 0
					}
					if ids[fmt.Sprint(i)] != want {
						t.Errorf("id %d has %d results, want %d", i, ids[fmt.Sprint(i)], want)
					}
				}
			})
		}
	}
}

// TestRunBatchGivesUp: with no server at all, every document still gets exactly one result,
// carrying the connection's error, once its attempts are used. An attempt fails as soon as the
// connection is refused: calls used to wait for a connection until CallTimeout, which here is
// longer than the test's context, so the job would end with that context's error.
func TestRunBatchGivesUp(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c := newClient(t, addr)
	docs := make(chan *topicdv1.Document, 10)
	for i := range 10 {
		docs <- &topicdv1.Document{Id: fmt.Sprint(i), Text: cyberText}
	}
	close(docs)
	n := 0
	_, err = c.RunBatch(ctx(t), client.BatchConfig{MaxAttempts: 2, CallTimeout: time.Hour, Backoff: time.Millisecond, ChunkSize: 3}, docs, func(r client.Result) error {
		n++
		if status.Code(r.Err) != codes.Unavailable || !strings.Contains(r.Err.Error(), "gave up after 2 attempts: connection error") || !strings.Contains(r.Err.Error(), "connection refused") {
			t.Errorf("result %s: %v, want UNAVAILABLE giving up after 2 attempts on the refused connection", r.ID, r.Err)
		}
		return nil
	})
	if err != nil || n != 10 {
		t.Errorf("RunBatch with no server: %d results, error %v; want 10 error results, nil", n, err)
	}
}

// TestRunBatchServerRestarts: the only server dies mid-job and is back on its address a second
// later. The documents sent meanwhile fail at once (the connection is refused) and are re-sent
// with backoff, and with the default settings they all reach the server when it is back.
func TestRunBatchServerRestarts(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.addr)
	docs := make(chan *topicdv1.Document)
	first := make(chan struct{})
	results := map[string]error{}
	done := make(chan error, 1)
	go func() {
		_, err := c.RunBatch(ctx(t), client.BatchConfig{ChunkSize: 2}, docs, func(r client.Result) error {
			if len(results) == 0 {
				close(first)
			}
			results[r.ID] = r.Err
			return nil
		})
		done <- err
	}()
	docs <- &topicdv1.Document{Id: "0", Text: cyberText}
	<-first
	s.gs.Stop()
	for i := 1; i < 10; i++ {
		docs <- &topicdv1.Document{Id: fmt.Sprint(i), Text: cyberText}
	}
	close(docs)
	time.Sleep(time.Second)
	s2 := startServerOn(t, server.Options{}, s.addr)
	if err := <-done; err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	if len(results) != 10 {
		t.Errorf("%d results, want 10", len(results))
	}
	for id, err := range results {
		if err != nil {
			t.Errorf("document %s: %v, want it classified once the server was back", id, err)
		}
	}
	if s2.calls.Load() == 0 {
		t.Errorf("the restarted server got no call")
	}
}

// TestRunBatchFatal: an error no replica would answer differently stops the job.
func TestRunBatchFatal(t *testing.T) {
	s := startServer(t)
	c := newClient(t, s.addr)
	docs := make(chan *topicdv1.Document, 1)
	docs <- &topicdv1.Document{Id: "1", Text: cyberText}
	close(docs)
	_, err := c.RunBatch(ctx(t), client.BatchConfig{ChunkSize: 2000}, docs, func(client.Result) error { return nil })
	if err != nil {
		t.Fatalf("one document in a chunk of 2000: %v", err)
	}
	docs = make(chan *topicdv1.Document, 1)
	close(docs)
	_, err = c.RunBatch(ctx(t), client.BatchConfig{}, docs, func(client.Result) error { return nil })
	if err != nil {
		t.Errorf("empty input: %v, want nil", err)
	}
	docs = make(chan *topicdv1.Document, 1)
	docs <- &topicdv1.Document{Id: "1", Text: cyberText}
	close(docs)
	_, err = c.RunBatch(ctx(t), client.BatchConfig{}, docs, func(client.Result) error { return nil }, client.WithModel("nope"))
	if status.Code(err) != codes.NotFound {
		t.Errorf("RunBatch with an unknown model: %v, want the server's NOT_FOUND", err)
	}
}

// TestRunBatchSmallServerLimit: chunks over a server's batch limit are split, not failed.
func TestRunBatchSmallServerLimit(t *testing.T) {
	s := startServerWith(t, server.Options{MaxBatchDocuments: 10})
	c := newClient(t, s.addr)
	docs := make(chan *topicdv1.Document, 500)
	for i := range 500 {
		docs <- &topicdv1.Document{Id: fmt.Sprint(i), Text: cyberText}
	}
	close(docs)
	n := 0
	stats, err := c.RunBatch(ctx(t), client.BatchConfig{ChunkSize: 100, Concurrency: 2}, docs, func(r client.Result) error {
		n++
		if r.Err != nil {
			t.Errorf("result %s: %v", r.ID, r.Err)
		}
		return nil
	})
	if err != nil || n != 500 || stats.Errors != 0 {
		t.Errorf("RunBatch over a 10-document limit: %d results, %+v, %v; want 500 classifications", n, stats, err)
	}
}

// TestTLS checks TLS and mutual TLS with certificates made here.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := makeCert(t, dir, "ca", nil, nil)
	makeCert(t, dir, "server", caCert, caKey)
	makeCert(t, dir, "client", caCert, caKey)
	serverCert, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	s := startServer(t, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
	})))
	ca := filepath.Join(dir, "ca.pem")
	for _, tt := range []struct {
		name string
		opts []client.Option
		ok   bool
	}{
		{"mutual TLS", []client.Option{client.WithTLS(ca), client.WithClientCertificate(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client-key.pem"))}, true},
		{"no client certificate", []client.Option{client.WithTLS(ca)}, false},
		{"plaintext", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, s.addr, append(tt.opts, client.WithMaxAttempts(1), client.WithTimeout(3*time.Second))...)
			_, err := c.ClassifyText(ctx(t), cyberText)
			if (err == nil) != tt.ok {
				t.Errorf("Classify over %s: error %v, want ok=%v", tt.name, err, tt.ok)
			}
		})
	}
	if _, err := client.New(s.addr, client.WithTLS(filepath.Join(dir, "missing.pem"))); err == nil {
		t.Error("client.New with a missing CA file: no error")
	}
}

// makeCert writes name.pem and name-key.pem: a CA when parent is nil, else a certificate for
// 127.0.0.1 signed by parent.
func makeCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	signer, signKey := parent, parentKey
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		signer, signKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
