package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocumentValidityLocalAndServer runs the same input through `topicctl batch --local` and
// through a server: both must accept a title alone as a document, refuse one with nothing but
// white space, and give the same answers.
func TestDocumentValidityLocalAndServer(t *testing.T) {
	addr := startServer(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	lines := []string{
		`{"id":"title-only","title":"Hackers broke into the foreign ministry's network","text":""}`,
		`{"id":"title-blank-text","title":"Border police intercepted a boat carrying asylum seekers","text":" \n\t"}`,
		`{"id":"text-only","text":"Ministers met to discuss the treaty and visas."}`,
		`{"id":"blank","title":"  ","text":"\u00a0"}`,
	}
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	results := map[string]map[string]record{}
	for path, flags := range map[string][]string{"--local": {"--local"}, "server": {"--server", addr}} {
		out := filepath.Join(dir, strings.TrimLeft(path, "-")+".jsonl")
		if stderr, err := runCmd(t, append([]string{"batch", "--quiet", "--in", in, "--out", out}, flags...)...); err != nil {
			t.Fatalf("batch %s: %v\n%s", path, err, stderr)
		}
		results[path] = map[string]record{}
		for _, r := range readRecords(t, out) {
			results[path][r.ID] = r
		}
	}
	for path, recs := range results {
		for _, id := range []string{"title-only", "title-blank-text", "text-only"} {
			if r, ok := recs[id]; !ok || r.Error != nil || r.Label == "" {
				t.Errorf("%s: %s = %+v, want a classification", path, id, r)
			}
		}
		if r := recs["blank"]; r.Error == nil || r.Error.Code != "INVALID_ARGUMENT" {
			t.Errorf("%s: blank = %+v, want INVALID_ARGUMENT", path, r)
		}
	}
	for id, local := range results["--local"] {
		srv := results["server"][id]
		if local.Label != srv.Label || local.Confidence != srv.Confidence || (local.Error == nil) != (srv.Error == nil) {
			t.Errorf("%s: --local gives %+v, the server %+v", id, local, srv)
		}
	}
}
