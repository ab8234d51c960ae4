package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHTTPClassify is the server's side of one POST /v1/classify of a 200-byte document,
// without the network: JSON in, the call through the interceptors, JSON out, the call log.
func BenchmarkHTTPClassify(b *testing.B) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	env := newTestEnv(b, nil, Options{Logger: log})
	front, err := env.srv.NewHTTPFront(HTTPOptions{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer front.Close()
	body := `{"document": {"id": "doc-200", "text": "Hackers stole passport scans of asylum applicants from a ministry server on Monday, officials said, as diplomats met in the capital to discuss the breach and the talks on cooperation at the border."}}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/classify", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		front.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}
