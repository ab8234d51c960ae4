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
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// slowRequest is a POST /v1/classify on its own connection whose handler is running: the server
// asked for its body (100 Continue) and has half of it.
type slowRequest struct {
	conn net.Conn
	r    *bufio.Reader
	rest string
}

func startSlowRequest(t *testing.T, addr string) *slowRequest {
	t.Helper()
	body := `{"document": {"text": "The foreign ministers signed a treaty in Geneva after talks on the border"}}`
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /v1/classify HTTP/1.1\r\nHost: topicd\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body))
	r := bufio.NewReader(conn)
	// Go's server sends 100 Continue when the handler first reads the body: from then on the
	// request is in flight, whatever happens next.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("slow request: server answered %q, %v; want 100 Continue", line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line after the 100
		t.Fatal(err)
	}
	half := len(body) / 2
	if _, err := io.WriteString(conn, body[:half]); err != nil {
		t.Fatal(err)
	}
	return &slowRequest{conn: conn, r: r, rest: body[half:]}
}

// finish sends the rest of the body and returns the answer.
func (s *slowRequest) finish(t *testing.T) (int, string) {
	t.Helper()
	if _, err := io.WriteString(s.conn, s.rest); err != nil {
		t.Fatalf("slow request: sending the rest of the body: %v", err)
	}
	resp, err := http.ReadResponse(s.r, nil)
	if err != nil {
		t.Fatalf("slow request: no answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// httpDo sends one request on a new connection, as a probe does.
func httpDo(method, url, body string) (*http.Response, string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// waitNotReady polls /readyz until it stops answering 200 and returns that answer.
func waitNotReady(t *testing.T, addr string) (*http.Response, string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		resp, body, err := httpDo("GET", "http://"+addr+"/readyz", "")
		if err != nil {
			t.Fatalf("GET /readyz during the drain: %v; want 503 saying the server is draining", err)
		}
		if resp.StatusCode != http.StatusOK {
			return resp, body
		}
	}
	t.Fatal("GET /readyz still answers 200 30s after SIGTERM")
	return nil, ""
}

// checkDraining checks a 503 answer whose body is a google.rpc.Status saying UNAVAILABLE and
// what words.
func checkDraining(t *testing.T, what string, resp *http.Response, body string, words ...string) {
	t.Helper()
	var s struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &s) != nil || s.Code != int(codes.Unavailable) {
		t.Errorf("%s during the drain = %d %q, want 503 with a google.rpc.Status of code 14", what, resp.StatusCode, body)
		return
	}
	for _, w := range words {
		if !strings.Contains(s.Message, w) {
			t.Errorf("%s during the drain: message %q, want it to say %q", what, s.Message, w)
		}
	}
}

// TestHTTPDrain sends SIGTERM while two HTTP requests are in flight: /readyz answers 503 saying
// the server is draining for as long as the drain lasts (it is not refused), a new API request
// is refused with 503 UNAVAILABLE, the request that finishes its body gets its answer, and the
// one that never does is cut at --shutdown-timeout, when topicd exits cleanly.
func TestHTTPDrain(t *testing.T) {
	p := startTopicd(t, "--shutdown-timeout", "6s")
	addr := httpAddr(t, p)
	finishing := startSlowRequest(t, addr)
	stuck := startSlowRequest(t, addr)

	p.cmd.Process.Signal(syscall.SIGTERM)
	resp, body := waitNotReady(t, addr)
	checkDraining(t, "GET /readyz", resp, body, "draining")

	resp, body, err := httpDo("POST", "http://"+addr+"/v1/classify", `{"document": {"text": "Hackers stole files"}}`)
	if err != nil {
		t.Fatalf("POST /v1/classify during the drain: %v; want 503", err)
	}
	checkDraining(t, "POST /v1/classify", resp, body, "shutting down")
	if !resp.Close {
		t.Errorf("POST /v1/classify during the drain: the connection stays open; want Connection: close")
	}
	// The drain lasts while a request is in flight: /readyz still answers.
	resp, body, err = httpDo("GET", "http://"+addr+"/readyz", "")
	if err != nil {
		t.Fatalf("GET /readyz later in the drain: %v; want 503", err)
	}
	checkDraining(t, "GET /readyz", resp, body, "draining")

	if code, body := finishing.finish(t); code != http.StatusOK || !strings.Contains(body, `"label"`) {
		t.Errorf("request in flight at SIGTERM = %d %s, want 200 with its classification", code, body)
	}
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("topicd did not exit within 60s of SIGTERM with a --shutdown-timeout of 6s")
	}
	if p.exitErr != nil {
		t.Errorf("topicd exit after SIGTERM = %v, want success", p.exitErr)
	}
	stuck.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, err := http.ReadResponse(stuck.r, nil); err == nil {
		t.Errorf("request whose body never ended: answered %s, want its connection cut", resp.Status)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("request whose body never ended: connection still open after topicd exited")
	}
	if !strings.Contains(p.Logs(), "cutting the requests still open") {
		t.Errorf("no log line for the HTTP request cut at the shutdown timeout:\n%s", p.Logs())
	}
}

// TestDrainDelay: during --drain-delay, readiness says NOT_SERVING on both ports while calls
// are still served on both; a second signal ends the delay and topicd at once, with status 1.
func TestDrainDelay(t *testing.T) {
	p := startTopicd(t, "--drain-delay", "50s", "--shutdown-timeout", "1m")
	addr := httpAddr(t, p)
	ctx := testCtx(t)
	conn := dial(t, p.addr)
	cls := topicdv1.NewClassifierServiceClient(conn)
	if _, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}}); err != nil {
		t.Fatal(err)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	resp, body := waitNotReady(t, addr)
	checkDraining(t, "GET /readyz", resp, body, "draining")

	if resp, body, err := httpDo("POST", "http://"+addr+"/v1/classify", `{"document": {"text": "Hackers stole files"}}`); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("POST /v1/classify during --drain-delay = %v %q %v, want 200", resp, body, err)
	}
	if _, err := cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}}); err != nil {
		t.Errorf("gRPC Classify on an open connection during --drain-delay = %v, want OK", err)
	}
	fresh := topicdv1.NewClassifierServiceClient(dial(t, p.addr))
	if _, err := fresh.Classify(ctx, &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Text: sampleArticle}}); err != nil {
		t.Errorf("gRPC Classify on a new connection during --drain-delay = %v, want OK", err)
	}
	for _, svc := range []string{"", topicdv1.ClassifierService_ServiceDesc.ServiceName} {
		h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || h.Status != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health Check(%q) during --drain-delay = %v, %v; want NOT_SERVING", svc, h, status.Code(err))
		}
	}
	// Logs are written in the background: wait for the line.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.Logs(), `"drain_delay":"50s"`); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no shutting down line with the drain delay after SIGTERM")
		}
	}

	err := p.stop(t, syscall.SIGTERM, 30*time.Second)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("topicd exit after a second SIGTERM during --drain-delay = %v, want exit status 1", err)
	}
}
