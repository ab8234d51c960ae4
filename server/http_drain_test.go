package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestHTTPFrontDrain: SetDraining turns /readyz to 503 and nothing else; Shutdown also refuses
// new API requests with 503 UNAVAILABLE, while a request in flight (an NDJSON stream) goes on
// and Shutdown waits for it.
func TestHTTPFrontDrain(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	e.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	const doc = `{"document": {"text": "The foreign ministers signed a treaty in Geneva"}}`
	unavailable := func(what string, code int, body string, words string) {
		t.Helper()
		var s rpcStatus
		if code != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &s) != nil || s.Code != 14 || !strings.Contains(s.Message, words) {
			t.Errorf("%s = %d %s, want 503 with code 14 saying %q", what, code, body, words)
		}
	}
	if code, body := e.do(t, "GET", "/readyz", "", ""); code != 200 {
		t.Fatalf("GET /readyz while SERVING = %d %s, want 200", code, body)
	}

	e.front.SetDraining()
	code, body := e.do(t, "GET", "/readyz", "", "")
	unavailable("GET /readyz after SetDraining", code, body, "draining")
	if code, body := e.do(t, "POST", "/v1/classify", "application/json", doc); code != 200 {
		t.Errorf("POST /v1/classify after SetDraining = %d %s, want 200: draining refuses nothing", code, body)
	}

	// A stream in flight: its first answer has come back.
	pw, resp := e.openStream(t, `{"document": {"id": "1", "text": "Hackers stole files"}}`)
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"1"`) {
		t.Fatalf("first stream line = %q, %v; want the answer for document 1", lines.Text(), lines.Err())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.front.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stream open = %v, want it to wait until its context ends", err)
	}
	code, body = e.do(t, "POST", "/v1/classify", "application/json", doc)
	unavailable("POST /v1/classify after Shutdown began", code, body, "shutting down")
	code, body = e.do(t, "GET", "/readyz", "", "")
	unavailable("GET /readyz after Shutdown began", code, body, "draining")
	if code, _ := e.do(t, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz after Shutdown began = %d, want 200 (alive, not ready)", code)
	}

	// The stream in flight is still served.
	pw.Write([]byte(`{"document": {"id": "2", "text": "Border police stopped a boat of asylum seekers"}}` + "\n"))
	if !lines.Scan() || !strings.Contains(lines.Text(), `"2"`) || !strings.Contains(lines.Text(), `"label"`) {
		t.Errorf("stream line after Shutdown began = %q, %v; want the answer for document 2", lines.Text(), lines.Err())
	}
	pw.Close()
	for lines.Scan() {
	}
	if err := e.front.Shutdown(testCtx(t)); err != nil {
		t.Errorf("Shutdown after the stream ended = %v, want nil", err)
	}
}
