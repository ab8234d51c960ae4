package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// httpAddr is the HTTP address from p's startup line.
func httpAddr(t *testing.T, p *proc) string {
	t.Helper()
	m := regexp.MustCompile(`"http_addr":"([^"]*)"`).FindStringSubmatch(p.Logs())
	if m == nil {
		t.Fatalf("no http_addr in topicd's startup line:\n%s", p.Logs())
	}
	return m[1]
}

// readmeCurls returns the curl commands of the README's ```sh blocks, each with its
// continuation lines joined, in order.
func readmeCurls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	isCurl := regexp.MustCompile(`(^|[|;&]\s*|\n\s*)curl `)
	var cmds []string
	inSh := false
	var cur strings.Builder
	for line := range strings.SplitSeq(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
			continue
		case strings.HasPrefix(line, "```"):
			inSh = false
			continue
		}
		trimmed := strings.TrimSpace(line)
		if !inSh || cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(line)
		// A command goes on past a line ending in \ or |, or inside a quoted string.
		c := cur.String()
		if !strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "|") && strings.Count(c, "'")%2 == 0 {
			if isCurl.MatchString(c) {
				cmds = append(cmds, c)
			}
			cur.Reset()
		}
	}
	return cmds
}

// The README's curl examples run as written against a real topicd, with its HTTP address in
// place of localhost:8080. Each must exit 0 and print JSON (or the probes' words).
func TestReadmeCurlExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("curl is not installed; .ci/run installs it: %v", err)
		}
		t.Skip("curl is not installed")
	}
	cmds := readmeCurls(t)
	if len(cmds) < 8 {
		t.Fatalf("found %d curl examples in README.md, want the HTTP section's (at least 8)", len(cmds))
	}
	p := startTopicd(t)
	addr := httpAddr(t, p)
	dir := t.TempDir()
	// Every curl fails (exit 22) on an HTTP error status, printing the body: an example that
	// shows an error says so by printing its status with -w '%{http_code}'.
	if err := os.WriteFile(dir+"/.curlrc", []byte("fail-with-body\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		run := strings.ReplaceAll(c, "localhost:8080", addr)
		cmd := exec.Command("sh", "-c", "set -e; "+run)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CURL_HOME="+dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if showsError := strings.Contains(c, "%{http_code}"); showsError {
			if !regexp.MustCompile(`\n4\d\d\n?$`).MatchString(stdout.String()) {
				t.Errorf("README error example printed %q, want a google.rpc.Status and a 4xx status:\n%s", stdout.String(), c)
			}
			continue
		}
		if err != nil {
			t.Errorf("README example failed (%v):\n%s\nstdout: %s\nstderr: %s", err, c, stdout.String(), stderr.String())
			continue
		}
		out := strings.TrimSpace(stdout.String())
		if out == "" || !(strings.HasPrefix(out, "{") || strings.HasPrefix(out, "HTTP/") || out == "ok" || out == "ready") {
			t.Errorf("README example printed %q, want JSON:\n%s", out, c)
		}
	}
}

// A client that sends its headers a byte at a time is cut off after --http-read-header-timeout.
func TestHTTPSlowHeaders(t *testing.T) {
	p := startTopicd(t, "--http-read-header-timeout", "1s", "--http-read-timeout", "2s")
	conn, err := net.Dial("tcp", httpAddr(t, p))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn)
		closed <- err
	}()
	req := "POST /v1/classify HTTP/1.1\r\nHost: topicd\r\n" + strings.Repeat("X-Slow: 1\r\n", 1000)
	// Sends for up to 100 s; the server must close the connection long before.
	for i := 0; i < len(req); i++ {
		if _, err := conn.Write([]byte{req[i]}); err != nil {
			break // the server closed it
		}
		select {
		case <-closed:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server kept a connection open whose headers never ended")
	}
}

// A body sent slowly is cut off after --http-read-timeout, and the server keeps serving.
func TestHTTPSlowBody(t *testing.T) {
	p := startTopicd(t, "--http-read-header-timeout", "1s", "--http-read-timeout", "2s")
	addr := httpAddr(t, p)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("POST /v1/classify HTTP/1.1\r\nHost: topicd\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")); err != nil {
		t.Fatal(err)
	}
	answered := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- "closed: " + err.Error()
			return
		}
		answered <- resp.Status
	}()
	for range 1000 {
		if _, err := conn.Write([]byte(" ")); err != nil {
			break
		}
		select {
		case got := <-answered:
			t.Logf("slow body: %s", got)
			goto served
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("the server kept reading a body that never ended")
served:
	resp, err := http.Post("http://"+addr+"/v1/classify", "application/json", strings.NewReader(`{"document": {"text": "Hackers stole files"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after a slow client: POST /v1/classify = %d, want 200", resp.StatusCode)
	}
}

// The HTTP port takes the gRPC port's TLS settings: with --tls-client-ca, a client without a
// certificate is refused there too.
func TestHTTPMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	p := startTopicd(t, "--tls-cert", pki.serverCert, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caFile)
	url := "https://" + httpAddr(t, p) + "/v1/classify"
	body := `{"document": {"text": "Hackers stole files from the ministry"}}`
	post := func(certs []tls.Certificate) (*http.Response, error) {
		c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: pki.pool, Certificates: certs}}}
		return c.Post(url, "application/json", strings.NewReader(body))
	}
	resp, err := post([]tls.Certificate{pki.client})
	if err != nil {
		t.Fatalf("HTTPS with a client certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("HTTPS with a client certificate = %s %s, want 200 over HTTP/2", resp.Proto, resp.Status)
	}
	if resp, err := post(nil); err == nil {
		resp.Body.Close()
		t.Errorf("HTTPS without a client certificate = %s, want the handshake refused", resp.Status)
	}
	if resp, err := http.Post("http://"+httpAddr(t, p)+"/v1/classify", "application/json", strings.NewReader(body)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP to the TLS port = %s, want it refused", resp.Status)
		}
	}
}

func TestHTTPOff(t *testing.T) {
	p := startTopicd(t, "--http-listen=")
	if a := httpAddr(t, p); a != "" {
		t.Errorf("--http-listen= serves HTTP on %s, want no HTTP", a)
	}
}

func TestHTTPConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		listen  string
		off     bool
		wantErr string
	}{
		{"default", nil, env(), ":8080", false, ""},
		{"flag", []string{"--http-listen", "127.0.0.1:9000"}, env(), "127.0.0.1:9000", false, ""},
		{"flag empty", []string{"--http-listen="}, env(), "", true, ""},
		{"env", nil, env("TOPICD_HTTP_LISTEN", ":9001"), ":9001", false, ""},
		{"env empty", nil, env("TOPICD_HTTP_LISTEN", emptyEnv), "", true, ""},
		{"flag over env", []string{"--http-listen", ":9002"}, env("TOPICD_HTTP_LISTEN", emptyEnv), ":9002", false, ""},
		{"timeout too long", []string{"--http-idle-timeout", "2h"}, env(), "", false, "--http-idle-timeout: must be a positive duration of at most 1h0m0s"},
		{"timeout zero", []string{"--http-read-header-timeout", "0s"}, env(), "", false, "--http-read-header-timeout"},
		{"bad origin", []string{"--http-cors-origins", "news.example.org"}, env(), "", false, `"news.example.org" is not an origin`},
		{"html limit over the message limit", []string{"--max-html-bytes", "20000000"}, env(), "", false, "--max-message-bytes: must be at least --max-html-bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig(tt.args, tt.env, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("parseConfig(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseConfig(%q) = %v", tt.args, err)
			}
			if cfg.HTTP.Listen != tt.listen || cfg.HTTP.Off != tt.off {
				t.Errorf("parseConfig(%q): HTTP listen %q off %v, want %q off %v", tt.args, cfg.HTTP.Listen, cfg.HTTP.Off, tt.listen, tt.off)
			}
		})
	}
}

// On SIGTERM an NDJSON stream over HTTP answers what it took, ends with an UNAVAILABLE line
// (batch clients re-send the rest elsewhere), and topicd exits.
func TestHTTPStreamAtShutdown(t *testing.T) {
	p := startTopicd(t, "--shutdown-timeout", "5s")
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(testCtx(t), "POST", "http://"+httpAddr(t, p)+"/v1/classify:stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		respc <- resp
	}()
	pw.Write([]byte(`{"document": {"id": "before", "text": "Hackers stole files from the ministry"}}` + "\n"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() || !strings.Contains(lines.Text(), `"before"`) {
		t.Fatalf("first stream line = %q, want the answer for the document sent", lines.Text())
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	if !strings.Contains(last, `"code":14`) && !strings.Contains(last, `"code": 14`) || !strings.Contains(last, "shutting down") {
		t.Errorf("last stream line after SIGTERM = %q, want UNAVAILABLE saying the server is shutting down", last)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("topicd did not exit after SIGTERM with an HTTP stream open")
	}
}

// TOPICD_HTTP_LISTEN set to the empty string turns HTTP off, as --http-listen= does.
func TestHTTPOffByEnvironment(t *testing.T) {
	bin, _ := binaries(t)
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TOPICD_HTTP_LISTEN=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"msg":"serving"`) {
			if !strings.Contains(sc.Text(), `"http_addr":""`) {
				t.Errorf("TOPICD_HTTP_LISTEN= serving line = %s, want no HTTP address", sc.Text())
			}
			return
		}
	}
	t.Fatal("topicd did not log its serving line")
}

// An NDJSON stream lasts as long as its job: --http-read-timeout, meant for one request body,
// does not cut it.
func TestHTTPStreamOutlivesReadTimeout(t *testing.T) {
	p := startTopicd(t, "--http-read-header-timeout", "1s", "--http-read-timeout", "1s")
	pr, pw := io.Pipe()
	defer pw.Close()
	req, err := http.NewRequestWithContext(testCtx(t), "POST", "http://"+httpAddr(t, p)+"/v1/classify:stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		respc <- resp
	}()
	pw.Write([]byte(`{"document": {"id": "1", "text": "Hackers stole files"}}` + "\n"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for i := range 3 {
		if i > 0 {
			time.Sleep(1500 * time.Millisecond) // past the read timeout
			pw.Write([]byte(`{"document": {"id": "` + string(rune('1'+i)) + `", "text": "Treaty signed in Geneva"}}` + "\n"))
		}
		if !lines.Scan() || !strings.Contains(lines.Text(), `"classification"`) {
			t.Fatalf("stream answer %d after %d pauses longer than the read timeout = %q (%v), want a classification", i+1, i, lines.Text(), lines.Err())
		}
	}
}

// A keep-alive connection left idle is closed after --http-idle-timeout.
func TestHTTPIdleTimeout(t *testing.T) {
	p := startTopicd(t, "--http-idle-timeout", "1s")
	conn, err := net.Dial("tcp", httpAddr(t, p))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: topicd\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("GET /healthz = %s (close %v), want 200 on a kept-alive connection", resp.Status, resp.Close)
	}
	// Nothing more is sent; the server must close the connection (bounded by the test's own
	// deadline, far past the idle timeout).
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := r.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("idle keep-alive connection: read %d bytes, %v; want it closed by the server", n, err)
	}
}
