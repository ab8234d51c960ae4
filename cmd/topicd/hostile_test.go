package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// These tests treat a real topicd on loopback as an unlucky operator and a hostile client do.

// With standard error a pipe that closes (topicd 2>&1 | head -c 600), topicd keeps serving:
// logging never kills it.
func TestClosedStderrPipe(t *testing.T) {
	bin, _ := binaries(t)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var exitErr error
	exited := make(chan struct{})
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Read up to the serving line, then close the pipe as head does after its bytes.
	sc := bufio.NewScanner(stderr)
	addr := ""
	for addr == "" && sc.Scan() {
		var l struct{ Msg, Addr string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "serving" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no serving line: %v", sc.Err())
	}
	stderr.Close()

	cls := topicdv1.NewClassifierServiceClient(dial(t, addr))
	ctx := testCtx(t)
	// Each call logs a line; the writer meets the closed pipe within a flush interval.
	for i := range 600 {
		if _, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}}); err != nil {
			t.Fatalf("Classify #%d after stderr closed = %v, want the server still serving", i, err)
		}
		if i%100 == 0 {
			time.Sleep(150 * time.Millisecond) // let a flush meet the closed pipe
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("topicd exit after SIGTERM = %v, want success", exitErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("topicd did not exit after SIGTERM")
	}
}

// One idle TCP connection that never speaks does not hold topicd past --shutdown-timeout.
func TestShutdownIdleConnection(t *testing.T) {
	const timeout = 2 * time.Second
	p := startTopicd(t, "--shutdown-timeout", timeout.String())
	idle, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// The server has accepted it (and is waiting for the HTTP/2 preface) once a call on another
	// connection succeeds after it.
	if _, err := topicdv1.NewModelServiceClient(dial(t, p.addr)).ListModels(testCtx(t), &topicdv1.ListModelsRequest{}); err != nil {
		t.Fatal(err)
	}
	// gRPC's own handshake timeout is 120s: exiting within 30s tells the two apart.
	if err := p.stop(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("topicd exit after SIGTERM with an idle connection = %v, want success", err)
	}
}

// A second SIGTERM exits at once, while the first still waits for a call in flight.
func TestSecondSignal(t *testing.T) {
	p := startTopicd(t, "--shutdown-timeout", "1h")
	ctx := testCtx(t)
	// A server reflection stream stays open until the client ends it: GracefulStop waits for it.
	rs, err := reflectionpb.NewServerReflectionClient(dial(t, p.addr)).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Recv(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.Logs(), `"shutting down"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no shutting down line after SIGTERM")
		}
	}
	select {
	case <-p.exited:
		t.Fatalf("topicd exited with a call open and 1h to go: %v", p.exitErr)
	case <-time.After(500 * time.Millisecond):
	}
	err = p.stop(t, syscall.SIGTERM, 30*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("topicd exit after a second SIGTERM = %v, want exit status 1", err)
	}
}

// A model file whose name is not UTF-8, with metrics on: the server starts, ListModels answers,
// /metrics scrapes.
func TestNonUTF8ModelName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m\xff.model"), models.DefaultModelFile(), 0o644); err != nil {
		t.Fatalf("cannot create a file with a non-UTF-8 name here: %v", err)
	}
	p := startTopicd(t, "--model-dir", dir, "--metrics-listen", "127.0.0.1:0")
	list, err := topicdv1.NewModelServiceClient(dial(t, p.addr)).ListModels(testCtx(t), &topicdv1.ListModelsRequest{})
	if err != nil {
		t.Fatalf("ListModels = %v", err)
	}
	found := false
	for _, m := range list.Models {
		if m.Name == `m\xff` && strings.Contains(m.LoadError, "UTF-8") {
			found = true
		}
	}
	if !found {
		t.Errorf("ListModels = %v, want m\\xff with a load error", list.Models)
	}
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"topicd_stream_buffered_bytes 0", "topicd_log_lines_dropped_total 0"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), `topicd_model_load_error{model="m\\xff"} 1`) {
		t.Errorf("GET /metrics = %d, want 200 with the model's load error:\n%.2000s", resp.StatusCode, body)
	}
}

// 1,000 documents with 16 KB ids in one ClassifyBatch: one error per document, not one
// RESOURCE_EXHAUSTED for the call. The request fits the 16 MiB message limit; an answer that
// echoed every id in full, each with its error message, would not.
func TestBatchOfLongIDs(t *testing.T) {
	p := startTopicd(t)
	conn := dial(t, p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)))
	docs := make([]*topicdv1.Document, 1000)
	for i := range docs {
		docs[i] = &topicdv1.Document{Id: fmt.Sprintf("%016700d", i), Text: "Hackers leaked the ministry's files"}
	}
	resp, err := topicdv1.NewClassifierServiceClient(conn).ClassifyBatch(testCtx(t), &topicdv1.ClassifyBatchRequest{Documents: docs})
	if err != nil {
		t.Fatalf("ClassifyBatch(1000 documents with 16,700-byte ids) = %v, want one result per document", err)
	}
	if len(resp.Results) != len(docs) {
		t.Fatalf("ClassifyBatch: %d results, want %d", len(resp.Results), len(docs))
	}
	for i, r := range resp.Results {
		if codes.Code(r.GetError().GetCode()) != codes.InvalidArgument {
			t.Fatalf("result %d = %.200v, want INVALID_ARGUMENT", i, r)
		}
	}
}
