package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// streamLine is one answer of the NDJSON stream.
type streamLine struct {
	Result struct {
		DocumentID     string `json:"documentId"`
		Classification *struct {
			Label string `json:"label"`
		} `json:"classification"`
		Error *rpcStatus `json:"error"`
	} `json:"result"`
	Error *rpcStatus `json:"error"` // the stream's end, when it fails
}

// A document on a line longer than the front's limit gets an error answer of its own, naming
// the limit and the flag that sets it, and the stream goes on: the documents after it are
// classified. The id is echoed when it comes before the long text.
func TestHTTPStreamDocumentOverLimit(t *testing.T) {
	e := newHTTPEnv(t, Options{MaxHTMLBytes: 4096}, HTTPOptions{MaxBodyBytes: 8192})
	page := "<html><body><article><p>" + strings.Repeat("Hackers broke into the ministry network and stole files. ", 1000) + "</p></article></body></html>"
	body := strings.Join([]string{
		`{"document": {"id": "before", "text": "Hackers stole files from the ministry"}}`,
		// Over --max-html-bytes, within the line limit: the server's own per-document error.
		`{"document": {"id": "html-over-html-limit", "contentType": "CONTENT_TYPE_HTML", "text": ` + jsonString(page[:6000]) + `}}`,
		// Over the line limit.
		`{"document": {"id": "html-huge", "contentType": "CONTENT_TYPE_HTML", "text": ` + jsonString(page) + `}}`,
		`{"document": {"text": ` + jsonString(page) + `, "id": "id-after-text"}}`,
		`{"document": {"id": "after", "text": "The foreign ministers signed a treaty in Geneva"}}`,
	}, "\n") + "\n"
	code, out := e.do(t, "POST", "/v1/classify:stream", ndjsonType, body)
	if code != 200 {
		t.Fatalf("stream = %d\n%s", code, out)
	}
	byID := map[string]streamLine{}
	var lines []streamLine
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var l streamLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("stream line %q: %v", s, err)
		}
		lines = append(lines, l)
		byID[l.Result.DocumentID] = l
	}
	if len(lines) != 5 {
		t.Fatalf("stream with two lines over the limit: %d answers, want one per document (5):\n%s", len(lines), out)
	}
	for _, id := range []string{"before", "after"} {
		if l := byID[id]; l.Result.Classification == nil {
			t.Errorf("answer for %q = %+v, want a classification: a line over the limit before it must not end the stream", id, l)
		}
	}
	if l := byID["html-over-html-limit"]; l.Result.Error == nil || l.Result.Error.Code != 3 || !strings.Contains(l.Result.Error.Message, "limit of 4096 bytes for HTML") {
		t.Errorf("answer for the HTML over --max-html-bytes = %+v, want INVALID_ARGUMENT naming the HTML limit", l)
	}
	for id, n := range map[string]string{"html-huge": "document 3 ", "": "document 4 "} {
		l := byID[id]
		if l.Result.Error == nil || l.Result.Error.Code != 3 || !strings.Contains(l.Result.Error.Message, n+"of the NDJSON body") ||
			!strings.Contains(l.Result.Error.Message, "limit of 8192 bytes") || !strings.Contains(l.Result.Error.Message, "--max-message-bytes") {
			t.Errorf("answer for the line over the limit with id %q = %+v, want INVALID_ARGUMENT for %s naming the limit and --max-message-bytes", id, l, n)
		}
	}
}

func TestLeadingID(t *testing.T) {
	tests := []struct {
		line, want string
	}{
		{`{"document": {"id": "a1", "text": "xxx`, "a1"},
		{`  {"model": "m", "options": {"explain": true, "labelMix": {"id": "no"}}, "document": {"title": "t", "id": "a\"2\u00e9", "text": "xx`, `a"2é`},
		{`{"document": {"text": "xxxxxxxx`, ""},
		{`{"options": {"id": "not the document's"}, "document": {"text": "xx`, ""},
		{`{"document": {"extra": [{"id": "nested"}], "id": "top"}, "text": "`, "top"},
		{`{"id": "outside", "document": {"text": "x`, ""},
		{`{"document": {"id": 7, "text": "x`, ""},
		{`[{"document": {"id": "in an array"}}`, ""},
		{`not json`, ""},
		{`{"document": {"title": "` + strings.Repeat("t", idScanBytes) + `", "id": "too late"}}`, ""},
	}
	for _, tt := range tests {
		if got := leadingID(strings.NewReader(tt.line)); got != tt.want {
			t.Errorf("leadingID(%.60q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

// Lines over the limit only: each gets its answer, though no document reaches the server.
func TestHTTPStreamOnlyLinesOverLimit(t *testing.T) {
	e := newHTTPEnv(t, Options{}, HTTPOptions{MaxBodyBytes: 4096})
	long := `{"document": {"id": "%d", "text": "` + strings.Repeat("a", 5000) + `"}}` + "\n"
	code, out := e.do(t, "POST", "/v1/classify:stream", ndjsonType, fmt.Sprintf(long+long+long, 1, 2, 3))
	if code != 200 || strings.Count(out, `"code":3`) != 3 || !strings.Contains(out, `"documentId":"3"`) {
		t.Errorf("stream of three lines over the limit = %d\n%s\nwant three error answers", code, out)
	}
}
