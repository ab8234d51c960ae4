package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// httpEnv is a server's HTTP front on a real loopback port.
type httpEnv struct {
	*testEnv
	url     string
	front   *HTTPFront
	health  *health.Server
	metrics *HTTPMetrics
	reg     *prometheus.Registry
}

func newHTTPEnv(t *testing.T, opts Options, hopts HTTPOptions) *httpEnv {
	t.Helper()
	env := newTestEnv(t, nil, opts)
	hs := health.NewServer()
	promReg := prometheus.NewRegistry()
	m, err := NewHTTPMetrics(promReg)
	if err != nil {
		t.Fatal(err)
	}
	hopts.Health, hopts.Metrics = hs, m
	front, err := env.srv.NewHTTPFront(hopts)
	if err != nil {
		t.Fatalf("NewHTTPFront() = %v", err)
	}
	ts := httptest.NewServer(front)
	t.Cleanup(func() {
		ts.Close()
		front.Close()
	})
	return &httpEnv{testEnv: env, url: ts.URL, front: front, health: hs, metrics: m, reg: promReg}
}

// do sends method path with body and returns the status code and the answer.
// openStream opens POST /v1/classify:stream with a body the test goes on writing through pw,
// sends its first line and returns once the answer's headers have come; body and pipe are closed
// when the test ends.
func (e *httpEnv) openStream(t *testing.T, first string) (*io.PipeWriter, *http.Response) {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, err := http.NewRequestWithContext(testCtx(t), "POST", e.url+"/v1/classify:stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ndjsonType)
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
		}
		respc <- resp
	}()
	pw.Write([]byte(first + "\n"))
	resp := <-respc
	if resp == nil {
		t.FailNow()
	}
	t.Cleanup(func() { resp.Body.Close() })
	return pw, resp
}

func (e *httpEnv) do(t *testing.T, method, path, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, e.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// rpcStatus is a google.rpc.Status as JSON.
type rpcStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func TestHTTPClassify(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	code, body := e.do(t, "POST", "/v1/classify", "application/json",
		`{"document": {"id": "a1", "text": `+jsonString(sampleArticle)+`}, "options": {"explain": true, "topK": 2}}`)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/classify = %d %s, want 200", code, body)
	}
	var resp struct {
		Classification struct {
			DocumentID   string  `json:"documentId"`
			Label        string  `json:"label"`
			Confidence   float64 `json:"confidence"`
			ModelVersion string  `json:"modelVersion"`
			Scores       []struct {
				Label      string  `json:"label"`
				Confidence float64 `json:"confidence"`
			} `json:"scores"`
			Explanations []struct {
				Label string `json:"label"`
				Terms []struct {
					Term string `json:"term"`
				} `json:"terms"`
			} `json:"explanations"`
		} `json:"classification"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	c := resp.Classification
	if c.DocumentID != "a1" || c.Label == "" || c.ModelVersion == "" || len(c.Scores) != 2 || len(c.Explanations) != 2 || len(c.Explanations[0].Terms) == 0 {
		t.Errorf("POST /v1/classify = %s, want id a1, a label, a model version, 2 scores and 2 explanations in camelCase JSON", body)
	}
}

func TestHTTPErrors(t *testing.T) {
	e := newHTTPEnv(t, Options{MaxDocumentBytes: 1000}, HTTPOptions{MaxBodyBytes: 4096})
	big := `{"document": {"text": "` + strings.Repeat("word ", 2000) + `"}}`
	tests := []struct {
		name, method, path, body string
		code, rpcCode            int
		want                     []string
	}{
		{"empty text", "POST", "/v1/classify", `{"document": {"text": "  "}}`, 400, 3, []string{"document.text is empty"}},
		{"no document", "POST", "/v1/classify", `{}`, 400, 3, []string{"document is missing"}},
		{"empty body", "POST", "/v1/classify", ``, 400, 3, []string{"document is missing"}},
		{"malformed JSON", "POST", "/v1/classify", `{"document": {"text": "x"}`, 400, 3, []string{"not valid JSON", "ends too early"}},
		{"not JSON", "POST", "/v1/classify", `text=hello`, 400, 3, []string{"not valid JSON", "POST /v1/classify"}},
		{"unknown field", "POST", "/v1/classify", `{"documnt": {"text": "x"}}`, 400, 3, []string{"not valid JSON", `unknown field "documnt"`}},
		{"wrong type", "POST", "/v1/classify", `{"document": {"text": 7}}`, 400, 3, []string{"not valid JSON", "text"}},
		{"document over the limit", "POST", "/v1/classify", `{"document": {"text": "` + strings.Repeat("a", 1500) + `"}}`, 400, 3, []string{"1500 bytes", "limit of 1000"}},
		{"body over the limit", "POST", "/v1/classify", big, 413, 8, []string{"limit of 4096 bytes"}},
		{"bad option", "POST", "/v1/classify", `{"document": {"text": "x"}, "options": {"minConfidence": 2}}`, 400, 3, []string{"min_confidence"}},
		{"unknown model", "POST", "/v1/classify", `{"document": {"text": "x"}, "model": "nope"}`, 404, 5, []string{`no model named "nope"`, "news-topics"}},
		{"unknown model by name", "GET", "/v1/models/nope", ``, 404, 5, []string{`no model named "nope"`}},
		{"batch too large", "POST", "/v1/classify:batch", `{"documents": [` + strings.Repeat(`{"text": "x"},`, 1000) + `{"text": "x"}]}`, 413, 8, []string{"limit of 4096 bytes"}},
		{"wrong method", "GET", "/v1/classify", ``, 405, 12, []string{"GET is not supported", "use POST"}},
		{"unknown path", "GET", "/v2/nothing", ``, 404, 5, []string{"no such path", "/openapi.json"}},
		{"query on a POST route", "POST", "/v1/classify?model=nope", `{"document": {"text": "x"}}`, 400, 3, []string{"takes no query parameters", "JSON body"}},
		{"POST to a probe", "POST", "/healthz", ``, 405, 12, []string{"use GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.do(t, tt.method, tt.path, "application/json", tt.body)
			var st rpcStatus
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("%s %s = %d %s: not a google.rpc.Status: %v", tt.method, tt.path, code, body, err)
			}
			if code != tt.code || st.Code != tt.rpcCode {
				t.Errorf("%s %s = %d, code %d (%s), want %d, code %d", tt.method, tt.path, code, st.Code, st.Message, tt.code, tt.rpcCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(st.Message, w) {
					t.Errorf("%s %s message = %q, want it to contain %q", tt.method, tt.path, st.Message, w)
				}
			}
		})
	}
}

// A body over the limit sent without a Content-Length is refused once the limit is read, not
// read whole.
func TestHTTPBodyLimitChunked(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{MaxBodyBytes: 4096})
	pr, pw := io.Pipe()
	go func() {
		// Far more than the limit; the writer stops when the server closes the connection.
		pw.Write([]byte(`{"document": {"text": "`))
		chunk := []byte(strings.Repeat("a", 1024))
		for range 1 << 14 {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(testCtx(t), "POST", e.url+"/v1/classify", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST chunked body: %v", err)
	}
	defer resp.Body.Close()
	pr.CloseWithError(io.ErrClosedPipe)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "limit of 4096") {
		t.Errorf("POST 16 MiB chunked body = %d %s, want 413 naming the limit", resp.StatusCode, b)
	}
}

func TestHTTPBatchAndModels(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	code, body := e.do(t, "POST", "/v1/classify:batch", "application/json",
		`{"documents": [{"id": "1", "text": "Border police intercepted a boat carrying asylum seekers"}, {"id": "2", "text": " "}]}`)
	var batch struct {
		Results []struct {
			DocumentID     string          `json:"documentId"`
			Classification json.RawMessage `json:"classification"`
			Error          *rpcStatus      `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &batch); err != nil || code != 200 {
		t.Fatalf("POST /v1/classify:batch = %d %s (%v)", code, body, err)
	}
	if len(batch.Results) != 2 || batch.Results[0].Classification == nil || batch.Results[1].Error == nil || batch.Results[1].Error.Code != 3 {
		t.Errorf("POST /v1/classify:batch = %s, want a classification for 1 and INVALID_ARGUMENT for 2", body)
	}

	code, body = e.do(t, "GET", "/v1/models", "", "")
	if code != 200 || !strings.Contains(body, `"defaultModel":"news-topics"`) && !strings.Contains(body, `"defaultModel": "news-topics"`) {
		t.Errorf("GET /v1/models = %d %s, want news-topics as defaultModel", code, body)
	}
	code, body = e.do(t, "GET", "/v1/models/news-topics", "", "")
	if code != 200 || !strings.Contains(body, `"fallbackLabel"`) {
		t.Errorf("GET /v1/models/news-topics = %d %s, want the model", code, body)
	}
}

func TestHTTPStreamNDJSON(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	// The body is written while answers are read: both flow at once.
	pw, resp := e.openStream(t, `{"document": {"id": "d1", "text": "The foreign ministers signed a treaty in Geneva"}}`)
	if ct := resp.Header.Get("Content-Type"); ct != ndjsonType {
		t.Errorf("stream Content-Type = %q, want %q", ct, ndjsonType)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(nil, 1<<20)
	next := func() streamLine {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("stream ended early: %v", lines.Err())
		}
		var l streamLine
		if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
			t.Fatalf("stream line %s: %v", lines.Bytes(), err)
		}
		return l
	}
	// The first answer arrives before the body ends.
	if l := next(); l.Result.DocumentID != "d1" || l.Result.Classification == nil || l.Result.Classification.Label != "diplomacy" {
		t.Errorf("first stream line = %+v, want d1 classified as diplomacy", l)
	}
	pw.Write([]byte(`{"document": {"id": "d2", "text": ""}}` + "\n"))
	if l := next(); l.Result.DocumentID != "d2" || l.Result.Error == nil || l.Result.Error.Code != 3 {
		t.Errorf("second stream line = %+v, want d2 with INVALID_ARGUMENT", l)
	}
	pw.Close()
	if lines.Scan() {
		t.Errorf("stream line after the body ended: %s", lines.Bytes())
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"method":"/topicd.v1.ClassifierService/ClassifyStream","code":"OK","duration_us":`) ||
		!regexp.MustCompile(`ClassifyStream","code":"OK","duration_us":\d+,"peer":"127\.0\.0\.1:\d+"`).MatchString(logs) {
		t.Errorf("the stream's call log line lacks the HTTP client as peer:\n%s", logs)
	}
}

func TestHTTPProbes(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	if code, body := e.do(t, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz = %d %s, want 200", code, body)
	}
	e.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if code, body := e.do(t, "GET", "/readyz", "", ""); code != 200 {
		t.Errorf("GET /readyz while SERVING = %d %s, want 200", code, body)
	}
	e.health.Shutdown()
	if code, body := e.do(t, "GET", "/readyz", "", ""); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("GET /readyz after shutdown began = %d %s, want 503", code, body)
	}
	if code, _ := e.do(t, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("GET /healthz after shutdown began = %d, want 200 (alive, not ready)", code)
	}
}

func TestHTTPOpenAPI(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	code, body := e.do(t, "GET", "/openapi.json", "", "")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
		t.Fatalf("GET /openapi.json = %d (%v)", code, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	// An OpenAPI tool loads it and finds it valid.
	loaded, err := openapi3.NewLoader().LoadFromData([]byte(body))
	if err != nil {
		t.Fatalf("kin-openapi cannot load /openapi.json: %v", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Errorf("kin-openapi finds /openapi.json invalid: %v", err)
	}
	if props := loaded.Components.Schemas["topicd.v1.Document"].Value.Properties; props["contentType"] == nil || props["text"] == nil {
		t.Errorf("/openapi.json Document properties = %v, want the JSON names text and contentType", props)
	}
	for path, method := range map[string]string{
		"/v1/classify": "post", "/v1/classify:batch": "post", "/v1/classify:stream": "post",
		"/v1/models": "get", "/v1/models/{name}": "get",
	} {
		if _, ok := doc.Paths[path][method]; !ok {
			t.Errorf("/openapi.json has no %s %s", method, path)
		}
	}
}

func TestHTTPCORS(t *testing.T) {
	preflight := func(t *testing.T, url string) http.Header {
		req, _ := http.NewRequestWithContext(testCtx(t), "OPTIONS", url+"/v1/classify", nil)
		req.Header.Set("Origin", "https://news.example.org")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	off := newHTTPEnv(t, Options{}, HTTPOptions{})
	if h := preflight(t, off.url).Get("Access-Control-Allow-Origin"); h != "" {
		t.Errorf("CORS off: Access-Control-Allow-Origin = %q, want none", h)
	}
	on := newHTTPEnv(t, Options{}, HTTPOptions{CORSOrigins: []string{"https://news.example.org"}})
	if h := preflight(t, on.url).Get("Access-Control-Allow-Origin"); h != "https://news.example.org" {
		t.Errorf("CORS for news.example.org: Access-Control-Allow-Origin = %q, want the origin", h)
	}
}

func TestHTTPLogAndMetrics(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	e.do(t, "POST", "/v1/classify", "application/json", `{"document": {"text": "Hackers stole the files"}}`)
	e.do(t, "POST", "/v1/classify", "application/json", `{"document": {"text": ""}}`)
	if got := testutil.ToFloat64(e.metrics.requests.WithLabelValues("/v1/classify", "POST", "200")); got != 1 {
		t.Errorf("%s{route=/v1/classify,code=200} = %v, want 1", MetricHTTPRequests, got)
	}
	if got := testutil.ToFloat64(e.metrics.requests.WithLabelValues("/v1/classify", "POST", "400")); got != 1 {
		t.Errorf("%s{route=/v1/classify,code=400} = %v, want 1", MetricHTTPRequests, got)
	}
	logs := e.logs.String()
	for _, want := range []string{`"msg":"http","method":"POST","route":"/v1/classify","status":400`, `"msg":"call","method":"/topicd.v1.ClassifierService/Classify","code":"InvalidArgument"`, `"peer":"127.0.0.1:`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "Hackers stole") {
		t.Errorf("log holds the document text:\n%s", logs)
	}
}

// A panic in a handler called over HTTP becomes a 500 with INTERNAL, and the server goes on.
func TestHTTPPanic(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	l := newLocalClient(e.srv, nil)
	_, err := unary(l, context.Background(), infoClassify, 0, func(context.Context, int) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("panicking call = %v, want INTERNAL", err)
	}
	if code, _ := e.do(t, "POST", "/v1/classify", "application/json", `{"document": {"text": "x"}}`); code != 200 {
		t.Errorf("after a panic: POST /v1/classify = %d, want 200", code)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestHTTPClassifyHTML(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	code, body := e.do(t, "POST", "/v1/classify", "application/json",
		`{"document": {"text": `+jsonString(newsPage(t))+`, "contentType": "CONTENT_TYPE_HTML"}, "options": {"explain": true}}`)
	if code != 200 || !strings.Contains(body, `"extracted":{"title":"Ministry servers breached`) && !strings.Contains(body, `"extracted": {"title": "Ministry servers breached`) {
		t.Errorf("POST /v1/classify with an HTML page = %d %s, want its extracted title and text", code, body)
	}
	code, body = e.do(t, "POST", "/v1/classify", "application/json", `{"document": {"text": "<nav>Home</nav>", "contentType": "CONTENT_TYPE_HTML"}}`)
	if code != 400 || !strings.Contains(body, "HTML with no article text") {
		t.Errorf("POST /v1/classify with HTML without text = %d %s, want 400", code, body)
	}
}

// A line of the NDJSON stream over the limit, here the body's last one, which never ends, is
// never held whole: it gets an error answer of its own, with its length, and the stream ends
// normally.
func TestHTTPStreamLineLimit(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{MaxBodyBytes: 4096})
	long := `{"document": {"text": "` + strings.Repeat("a", 1<<20)
	body := `{"document": {"id": "ok", "text": "Hackers stole files"}}` + "\n" + long
	code, out := e.do(t, "POST", "/v1/classify:stream", ndjsonType, body)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 200 || len(lines) != 2 || !strings.Contains(out, `"documentId":"ok","classification"`) ||
		!strings.Contains(out, fmt.Sprintf("document 2 of the NDJSON body is a line of %d bytes, over this server's limit of 4096 bytes", len(long))) {
		t.Errorf("stream with a last line over the limit = %d\n%s\nwant the first document's answer and an error answer for the second naming its size and the limit", code, out)
	}
}

// A line of the NDJSON stream that is not a request ends the stream with an error line that
// names it; the documents after it are not dropped without a word.
func TestHTTPStreamBadLine(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{})
	body := `{"document": {"id": "1", "text": "Hackers stole files"}}` + "\n" + `{"document": {"id": "2", "txt": "x"}}` + "\n" + `{"document": {"id": "3", "text": "Treaty signed"}}` + "\n"
	code, out := e.do(t, "POST", "/v1/classify:stream", ndjsonType, body)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 200 || len(lines) != 2 || !strings.Contains(lines[1], "document 2 of the NDJSON body cannot be read") || !strings.Contains(lines[1], `unknown field \"txt\"`) {
		t.Errorf("stream with a bad second line = %d\n%s\nwant the first answer, then an error naming document 2", code, out)
	}
}

// FuzzHTTPRequest sends arbitrary bodies to the API's routes: every answer is a JSON object
// (an answer or a google.rpc.Status) with a status below 500, whatever the body.
func FuzzHTTPRequest(f *testing.F) {
	env := newTestEnv(f, nil, Options{MaxDocumentBytes: 4096})
	front, err := env.srv.NewHTTPFront(HTTPOptions{MaxBodyBytes: 16 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(front.Close)
	routes := []string{"/v1/classify", "/v1/classify:batch", "/v1/classify:stream"}
	f.Add(uint8(0), `{"document": {"text": "Hackers stole files"}, "options": {"explain": true}}`)
	f.Add(uint8(0), `{"document": {"text": "<p>x</p>", "contentType": "CONTENT_TYPE_HTML"}}`)
	f.Add(uint8(1), `{"documents": [{"id": "1", "text": "a"}, {"text": ""}], "options": {"labelMix": {"other": 0.5}}}`)
	f.Add(uint8(2), "{\"document\": {\"text\": \"a\"}}\n{\"document\": {\"text\": \"\"}}\n")
	f.Add(uint8(2), "{\"document\": {\"id\": \"long\", \"text\": \""+strings.Repeat("a", 20<<10)+"\"}}\n{\"document\": {\"text\": \"a\"}}\n")
	f.Add(uint8(0), `{"document": {"text": "x"}, "options": {"minConfidence": "NaN", "topK": 4294967295}}`)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		path := routes[int(route)%len(routes)]
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		w := httptest.NewRecorder()
		front.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("POST %s %q = %d %s", path, body, w.Code, w.Body.String())
		}
		out := strings.TrimSpace(w.Body.String())
		if out == "" && path == "/v1/classify:stream" {
			return // a stream of no documents has no answers
		}
		for _, line := range strings.Split(out, "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatalf("POST %s %q = %d, answer line %q is not a JSON object: %v", path, body, w.Code, line, err)
			}
		}
	})
}
