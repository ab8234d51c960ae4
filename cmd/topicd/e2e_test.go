package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The end-to-end tests build the real topicd and grpcurl once, start topicd on a free loopback
// port and talk to it as users do.

// sampleArticle is a multi-topic news text written for these tests: a state-sponsored hack that
// exposed migration talks between two governments.
const sampleArticle = "Hackers working for a foreign intelligence agency broke into the interior " +
	"ministry's network and leaked confidential documents from talks between the two governments " +
	"on asylum seekers, deportations and border controls. Investigators said the group used " +
	"phishing emails and malware to steal passwords; the foreign minister summoned the ambassador."

var (
	binDir   string
	buildErr error
	build    sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries builds topicd and grpcurl once per test run and returns their paths.
func binaries(t *testing.T) (topicd, grpcurl string) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test builds binaries; skipped with -short")
	}
	build.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "topicd-e2e-"); buildErr != nil {
			return
		}
		// grpcurl is pinned in the tools module (tools/go.mod), not in the service's go.mod.
		for _, b := range [][]string{
			{"build", "-o", filepath.Join(binDir, "topicd"), "."},
			{"-C", "../../tools", "build", "-o", filepath.Join(binDir, "grpcurl"), "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
		} {
			out, err := exec.Command("go", b...).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", b[len(b)-1], err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "topicd"), filepath.Join(binDir, "grpcurl")
}

// proc is a running topicd.
type proc struct {
	cmd         *exec.Cmd
	addr        string // gRPC address, from the startup line
	metricsAddr string
	mu          sync.Mutex
	logs        strings.Builder
	exited      chan struct{}
	exitErr     error
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startTopicd starts topicd on a free loopback port with args and waits for its startup line.
func startTopicd(t *testing.T, args ...string) *proc {
	t.Helper()
	bin, _ := binaries(t)
	cmd := exec.Command(bin, append([]string{"--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	ready := make(chan struct{})
	// Wait closes the pipe as soon as the process has exited, which would drop the last log
	// lines (the shutdown ones) if the reader had not got to them yet: Wait only after the
	// reader has seen the end of stderr.
	logsRead := make(chan struct{})
	go func() {
		defer close(logsRead)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var l struct {
				Msg         string `json:"msg"`
				Addr        string `json:"addr"`
				MetricsAddr string `json:"metrics_addr"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" {
				p.mu.Lock()
				p.addr, p.metricsAddr = l.Addr, l.MetricsAddr
				p.mu.Unlock()
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, stderr) // after a line too long for the scanner: never block topicd
	}()
	go func() {
		<-logsRead
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("topicd logs:\n%s", p.Logs())
		}
	})
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("topicd exited before serving: %v\n%s", p.exitErr, p.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("topicd did not log its address within 30s:\n%s", p.Logs())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p
}

// stop sends sig and waits for the process to exit, at most within.
func (p *proc) stop(t *testing.T, sig os.Signal, within time.Duration) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
		return p.exitErr
	case <-time.After(within):
		t.Fatalf("topicd did not exit within %s of %v", within, sig)
		return nil
	}
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	if len(opts) == 0 {
		opts = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkClassification checks the promises of a result for the sample article.
func checkClassification(t *testing.T, what string, labels []string, confidences []float64) {
	t.Helper()
	if len(labels) != 4 {
		t.Fatalf("%s: %d labels, want 4", what, len(labels))
	}
	sum := 0.0
	for _, c := range confidences {
		sum += c
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("%s: confidences sum to %v, want 1", what, sum)
	}
	if labels[0] == "other" {
		t.Errorf("%s: top label other, want one of the topics for an article about a hack and migration talks", what)
	}
}

func TestEndToEnd(t *testing.T) {
	_, grpcurl := binaries(t)
	p := startTopicd(t, "--metrics-listen", "127.0.0.1:0", "--bench-floor")
	ctx := testCtx(t)
	conn := dial(t, p.addr)

	t.Run("grpc stubs", func(t *testing.T) {
		resp, err := topicdv1.NewClassifierServiceClient(conn).Classify(ctx, &topicdv1.ClassifyRequest{
			Document: &topicdv1.Document{Id: "a1", Text: sampleArticle},
		})
		if err != nil {
			t.Fatalf("Classify = %v", err)
		}
		var labels []string
		var conf []float64
		for _, s := range resp.Classification.Scores {
			labels = append(labels, s.Label)
			conf = append(conf, float64(s.Confidence))
		}
		checkClassification(t, "Classify", labels, conf)

		_, err = topicdv1.NewClassifierServiceClient(conn).Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: " "}})
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Classify(blank) = %v, want INVALID_ARGUMENT", err)
		}
		h := healthpb.NewHealthClient(conn)
		for _, svc := range []string{"", "topicd.v1.ClassifierService", "topicd.v1.ModelService"} {
			r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health Check(%q) = %v, %v; want SERVING", svc, r, err)
			}
		}
	})

	// grpcurlRun runs grpcurl -plaintext [-d data] ADDR args...
	t.Run("go client", func(t *testing.T) {
		c, err := client.New(p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.ClassifyText(ctx, sampleArticle)
		if err != nil {
			t.Fatalf("client.ClassifyText = %v", err)
		}
		var labels []string
		var conf []float64
		for _, s := range res.Scores {
			labels = append(labels, s.Label)
			conf = append(conf, float64(s.Confidence))
		}
		checkClassification(t, "client.ClassifyText", labels, conf)
		results, err := c.ClassifyBatch(ctx, []*topicdv1.Document{{Id: "b1", Text: sampleArticle}, {Id: "b2", Text: ""}})
		if err != nil || len(results) != 2 {
			t.Fatalf("client.ClassifyBatch = %d results, %v; want 2", len(results), err)
		}
	})

	t.Run("limits", func(t *testing.T) {
		cls := topicdv1.NewClassifierServiceClient(conn)
		// Just under the 1 MiB default limit: finite confidences that sum to 1.
		words := strings.Repeat("ransomware asylum embassy weather ", (1<<20)/34)
		resp, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: words}})
		if err != nil {
			t.Fatalf("Classify(%d bytes) = %v", len(words), err)
		}
		sum := 0.0
		for _, s := range resp.Classification.Scores {
			if math.IsNaN(float64(s.Confidence)) || math.IsInf(float64(s.Confidence), 0) {
				t.Errorf("Classify(%d bytes): confidence %v", len(words), s.Confidence)
			}
			sum += float64(s.Confidence)
		}
		if math.Abs(sum-1) > 1e-4 {
			t.Errorf("Classify(%d bytes): confidences sum to %v", len(words), sum)
		}
		big := strings.Repeat("x", 1<<20+1)
		_, err = cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: big}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "1048577 bytes") || !strings.Contains(err.Error(), "limit of 1048576") {
			t.Errorf("Classify(1 MiB + 1) = %v, want INVALID_ARGUMENT with the size and the limit", err)
		}
		docs := make([]*topicdv1.Document, 1001)
		for i := range docs {
			docs[i] = &topicdv1.Document{Text: "x"}
		}
		_, err = cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: docs})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "limit of 1000") {
			t.Errorf("ClassifyBatch(1001 documents) = %v, want INVALID_ARGUMENT naming the limit", err)
		}
		huge := strings.Repeat("x", 17<<20)
		_, err = cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: huge}})
		if status.Code(err) != codes.ResourceExhausted {
			t.Errorf("Classify(17 MiB message) = %v, want RESOURCE_EXHAUSTED (over --max-message-bytes)", err)
		}
		if _, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}}); err != nil {
			t.Errorf("Classify after the rejections = %v", err)
		}
	})

	grpcurlRun := func(t *testing.T, data string, args ...string) (string, error) {
		t.Helper()
		flags := []string{"-plaintext"}
		if data != "" {
			flags = append(flags, "-d", data)
		}
		cmd := exec.CommandContext(ctx, grpcurl, append(append(flags, p.addr), args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Run("grpcurl list", func(t *testing.T) {
		out, err := grpcurlRun(t, "", "list")
		if err != nil {
			t.Fatalf("grpcurl list = %v\n%s", err, out)
		}
		for _, want := range []string{"topicd.v1.ClassifierService", "topicd.v1.ModelService", "grpc.health.v1.Health", "grpc.reflection.v1", "topicd.bench.v1.FloorService"} {
			if !strings.Contains(out, want) {
				t.Errorf("grpcurl list lacks %s:\n%s", want, out)
			}
		}
	})
	t.Run("grpcurl describe", func(t *testing.T) {
		out, err := grpcurlRun(t, "", "describe", "topicd.v1.ClassifierService")
		if err != nil || !strings.Contains(out, "rpc Classify") || !strings.Contains(out, "rpc ClassifyStream") {
			t.Errorf("grpcurl describe = %v\n%s", err, out)
		}
	})
	t.Run("grpcurl classify", func(t *testing.T) {
		req, _ := json.Marshal(map[string]any{"document": map[string]string{"id": "g1", "text": sampleArticle}})
		out, err := grpcurlRun(t, string(req), "topicd.v1.ClassifierService/Classify")
		if err != nil {
			t.Fatalf("grpcurl Classify = %v\n%s", err, out)
		}
		var resp struct {
			Classification struct {
				DocumentID string `json:"documentId"`
				Scores     []struct {
					Label      string  `json:"label"`
					Confidence float64 `json:"confidence"`
				} `json:"scores"`
			} `json:"classification"`
		}
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("grpcurl Classify output is not JSON: %v\n%s", err, out)
		}
		var labels []string
		var conf []float64
		for _, s := range resp.Classification.Scores {
			labels = append(labels, s.Label)
			conf = append(conf, s.Confidence)
		}
		checkClassification(t, "grpcurl Classify", labels, conf)
		if resp.Classification.DocumentID != "g1" {
			t.Errorf("grpcurl Classify document_id = %q, want g1", resp.Classification.DocumentID)
		}
	})
	t.Run("grpcurl errors", func(t *testing.T) {
		out, err := grpcurlRun(t, `{"document":{"text":"  "}}`, "topicd.v1.ClassifierService/Classify")
		if err == nil || !strings.Contains(out, "InvalidArgument") || !strings.Contains(out, "white space") {
			t.Errorf("grpcurl Classify(blank) = %v\n%s; want InvalidArgument", err, out)
		}
		out, err = grpcurlRun(t, `{"document":{"text":"x"},"model":"nope"}`, "topicd.v1.ClassifierService/Classify")
		if err == nil || !strings.Contains(out, "NotFound") || !strings.Contains(out, "news-topics") {
			t.Errorf("grpcurl Classify(model nope) = %v\n%s; want NotFound listing news-topics", err, out)
		}
	})
	t.Run("grpcurl health and models", func(t *testing.T) {
		out, err := grpcurlRun(t, "", "grpc.health.v1.Health/Check")
		if err != nil || !strings.Contains(out, "SERVING") {
			t.Errorf("grpcurl Health/Check = %v\n%s", err, out)
		}
		out, err = grpcurlRun(t, `{"name":"news-topics"}`, "topicd.v1.ModelService/GetModel")
		if err != nil || !strings.Contains(out, `"version"`) || !strings.Contains(out, "cybersecurity") {
			t.Errorf("grpcurl GetModel = %v\n%s", err, out)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`grpc_server_handled_total{grpc_code="OK",grpc_method="Classify"`,
			"grpc_server_handling_seconds_bucket", "topicd_documents_classified_total{",
			"topicd_document_size_bytes_bucket", "topicd_classification_duration_seconds_bucket",
			`topicd_documents_rejected_total{code="InvalidArgument"}`, `topicd_model_info{default="true",model="news-topics"`,
			"topicd_model_load_error", "go_goroutines", "process_resident_memory_bytes",
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})

	if err := p.stop(t, syscall.SIGTERM, 20*time.Second); err != nil {
		t.Errorf("topicd exit after SIGTERM = %v, want success", err)
	}
	logs := p.Logs()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`, `"method":"/topicd.v1.ClassifierService/Classify"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(logs, "Hackers working") {
		t.Errorf("logs hold document text")
	}
}
