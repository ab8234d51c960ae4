package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/internal/batchfile"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
	"github.com/topicd/topicd/server"
)

// record is an output line as a reader of the output sees it.
type record struct {
	ID         string             `json:"id"`
	Line       int                `json:"line"`
	Label      string             `json:"label"`
	Confidence float64            `json:"confidence"`
	Scores     map[string]float64 `json:"scores"`
	Topics     []string           `json:"topics"`
	TopicProbs map[string]float64 `json:"topic_probabilities"`
	Model      string             `json:"model"`
	Version    string             `json:"model_version"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// readRecords parses an output file, failing on any line that is not a record.
func readRecords(t *testing.T, path string) []record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []record
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte{'\n'}), []byte{'\n'}) {
		if len(line) == 0 && len(b) == 0 {
			break
		}
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("output line %d is not JSON (%v): %.200s", i+1, err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// runCmd runs topicctl in this process and returns its standard error.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stderr.String(), err
}

// TestBatchLocalBadInput runs the whole batch pipeline in process (--local, no server) over an
// input with bad lines, then resumes it after cutting the output mid-line.
func TestBatchLocalBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var lines []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf(`{"id":"d%d","text":"Ministers met to discuss border policy and visas, round %d."}`, i, i))
	}
	lines[9] = `{"id":"d9","text":`                          // line 10: invalid JSON
	lines[19] = `{"id":"d19"}`                               // line 20: missing text
	lines[29] = `{"id":"d5","text":"a duplicate of line 6"}` // line 30: duplicate id
	lines[39] = `{"id":"d39","text":"   "}`                  // line 40: the classifier rejects it
	lines[49] = `{"text":"no id at all"}`                    // line 50: missing id
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	stderr, err := runCmd(t, "batch", "--local", "--in", in, "--out", out)
	if err != nil {
		t.Fatalf("batch: %v\n%s", err, stderr)
	}
	for _, want := range []string{"line 10: invalid JSON", `line 20: missing "text"`, `line 30: duplicate id "d5" (first on line 6)`, `line 50: missing "id"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not report %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "documents in") {
		t.Errorf("stderr, not a terminal, has the summary without --summary:\n%s", stderr)
	}
	check := func(recs []record) {
		t.Helper()
		ids := map[string]int{}
		lineErrs := map[int]string{}
		for _, r := range recs {
			if r.Line > 0 {
				lineErrs[r.Line] = r.Error.Code
				continue
			}
			ids[r.ID]++
		}
		if len(recs) != 300 {
			t.Errorf("got %d records, want 300 (one per input line)", len(recs))
		}
		for i := range 300 {
			id := fmt.Sprintf("d%d", i)
			want := 1
			if i == 9 || i == 19 || i == 29 || i == 49 {
				want = 0 // only the line-numbered error record
			}
			if ids[id] != want {
				t.Errorf("id %s has %d records without a line, want %d", id, ids[id], want)
			}
		}
		for _, l := range []int{10, 20, 30, 50} {
			if lineErrs[l] != "INVALID_ARGUMENT" {
				t.Errorf("line %d: error code %q, want INVALID_ARGUMENT", l, lineErrs[l])
			}
		}
	}
	recs := readRecords(t, out)
	check(recs)
	for _, r := range recs {
		if r.ID == "d39" && (r.Error == nil || r.Error.Code != "INVALID_ARGUMENT") {
			t.Errorf("whitespace-only text: record %+v, want an INVALID_ARGUMENT error", r)
		}
		if r.Error == nil && (r.Label == "" || len(r.Scores) != 4 || r.Model == "" || r.Version == "") {
			t.Errorf("incomplete record %+v", r)
		}
	}

	// A killed run: keep the first 120 lines and half of the 121st, then resume.
	b, _ := os.ReadFile(out)
	cut := 0
	for range 120 {
		cut += bytes.IndexByte(b[cut:], '\n') + 1
	}
	if err := os.WriteFile(out, b[:cut+20], 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err = runCmd(t, "batch", "--local", "--resume", "--in", in, "--out", out)
	if err != nil {
		t.Fatalf("batch --resume: %v\n%s", err, stderr)
	}
	check(readRecords(t, out))

	// Resuming a finished job does nothing.
	if _, err := runCmd(t, "batch", "--local", "--resume", "--quiet", "--in", in, "--out", out); err != nil {
		t.Fatal(err)
	}
	check(readRecords(t, out))

	// Without --resume, an existing output is not overwritten.
	if _, err := runCmd(t, "batch", "--local", "--in", in, "--out", out); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("batch onto an existing output: error %v, want one that suggests --resume", err)
	}
}

// TestBatchSummary checks when the end-of-job summary is printed: standard error is not a
// terminal here, so only with --summary.
func TestBatchSummary(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	input := `{"id":"a","text":"Hackers broke into the ministry's network."}` + "\n" + `{"id":"b"}` + "\n"
	if err := os.WriteFile(in, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flags            []string
		summary, badLine bool
	}{
		{nil, false, true},
		{[]string{"--summary"}, true, true},
		{[]string{"--quiet"}, false, false},
		{[]string{"--quiet", "--summary"}, true, false},
	}
	for i, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("out%d.jsonl", i))
			stderr, err := runCmd(t, append([]string{"batch", "--local", "--in", in, "--out", out}, tt.flags...)...)
			if err != nil {
				t.Fatalf("batch %v: %v\n%s", tt.flags, err, stderr)
			}
			if got := strings.Contains(stderr, "2 documents in"); got != tt.summary {
				t.Errorf("batch %v: summary printed = %v, want %v:\n%s", tt.flags, got, tt.summary, stderr)
			}
			if got := strings.Contains(stderr, `line 2: missing "text"`); got != tt.badLine {
				t.Errorf("batch %v: bad line reported = %v, want %v:\n%s", tt.flags, got, tt.badLine, stderr)
			}
		})
	}
}

// TestBatchLabelMix checks that --label-mix reaches the classifier in a batch job and that a bad
// one stops the job before it writes anything.
func TestBatchLabelMix(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"id":"a","text":"Talks on the border resumed"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	otherConfidence := func(flags ...string) float64 {
		t.Helper()
		out := filepath.Join(dir, fmt.Sprintf("out%d.jsonl", len(flags)))
		if stderr, err := runCmd(t, append([]string{"batch", "--local", "--quiet", "--in", in, "--out", out}, flags...)...); err != nil {
			t.Fatalf("batch %v: %v\n%s", flags, err, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Scores map[string]float64 }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("batch %v wrote %q: %v", flags, b, err)
		}
		return rec.Scores["other"]
	}
	if plain, shifted := otherConfidence(), otherConfidence("--label-mix", "other=0.9"); !(shifted > plain) {
		t.Errorf("confidence of other = %v with --label-mix other=0.9, want more than %v without", shifted, plain)
	}
	out := filepath.Join(dir, "bad.jsonl")
	if _, err := runCmd(t, "batch", "--local", "--in", in, "--out", out, "--label-mix", "sports=0.5"); err == nil || !strings.Contains(err.Error(), `"sports"`) {
		t.Errorf("batch --label-mix sports=0.5: error %v, want one naming sports", err)
	}
}

func TestLabelMixFlag(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String() after Set; empty for an error
		wantErr bool
	}{
		{"cybersecurity=0.5", "cybersecurity=0.5", false},
		{" other=0.3, cybersecurity=0.25 ", "cybersecurity=0.25,other=0.3", false},
		{"cybersecurity", "", true},
		{"=0.5", "", true},
		{"cybersecurity=half", "", true},
		{"other=0.2,other=0.3", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var f labelMixFlag
			err := f.Set(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Set(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && f.String() != tt.want {
				t.Errorf("Set(%q) then String() = %q, want %q", tt.in, f.String(), tt.want)
			}
		})
	}
}

// startServer runs a topicd server (package server, the embedded model) on a loopback port.
func startServer(t *testing.T) string {
	t.Helper()
	m, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(reg, server.Options{})
	gs := grpc.NewServer(srv.ServerOptions()...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// TestBatchLatin1File: a Latin-1 .txt among 50 good files used to fail its whole chunk in the
// client's encoder, retried ten times, and end as INTERNAL "gave up". It is one bad input
// record, reported at once, and nothing is re-sent.
func TestBatchLatin1File(t *testing.T) {
	addr := startServer(t)
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	os.Mkdir(docs, 0o755)
	for i := range 50 {
		os.WriteFile(filepath.Join(docs, fmt.Sprintf("good%02d.txt", i)), []byte("Hackers broke into the ministry's network."), 0o644)
	}
	os.WriteFile(filepath.Join(docs, "latin1.txt"), []byte("Les n\xe9gociations sur la fronti\xe8re ont repris."), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	stderr, err := runCmd(t, "batch", "--server", addr, "--summary", "--in", docs, "--out", out)
	if err != nil {
		t.Fatalf("batch: %v\n%s", err, stderr)
	}
	recs := readRecords(t, out)
	var bad []record
	for _, r := range recs {
		if r.Error != nil {
			bad = append(bad, r)
		}
	}
	if len(recs) != 51 || len(bad) != 1 {
		t.Fatalf("%d records, %d errors; want 51 records, 1 error:\n%s", len(recs), len(bad), stderr)
	}
	if r := bad[0]; r.ID != "latin1.txt" || r.Line != 51 || r.Error.Code != "INVALID_ARGUMENT" || !strings.Contains(r.Error.Message, "latin1.txt: the file is not valid UTF-8") {
		t.Errorf("record of the Latin-1 file: %+v %+v, want INVALID_ARGUMENT naming the file", r, *r.Error)
	}
	if !strings.Contains(stderr, "1 bad input records, 0 rejected by the server") || strings.Contains(stderr, "re-sent") {
		t.Errorf("summary does not count one bad input record and no re-sends:\n%s", stderr)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// startDyingServer runs a topicd server like startServer that answers the job's first call
// (GetModel) and goes away at its first ClassifyBatch call: a server lost mid-job.
func startDyingServer(t *testing.T) string {
	t.Helper()
	m, err := models.Default()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := server.NewRegistry(server.RegistryOptions{Builtin: []server.NamedModel{{Name: models.DefaultName, Model: m}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(reg, server.Options{})
	var gs *grpc.Server
	var once sync.Once
	die := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/ClassifyBatch") {
			once.Do(func() { go gs.Stop() })
			return nil, status.Error(codes.Unavailable, "the server is going away")
		}
		return h(ctx, req)
	}
	gs = grpc.NewServer(append(srv.ServerOptions(), grpc.ChainUnaryInterceptor(die))...)
	topicdv1.RegisterClassifierServiceServer(gs, srv)
	topicdv1.RegisterModelServiceServer(gs, srv)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// TestBatchOutageResume: with the only server gone, every document used to get a "gave up"
// record, the job exited 0 and --resume skipped them all. Now the job fails with a message
// that says so, the records say "retry", and --resume classifies those documents, leaving one
// record per id. The server answers the job's start and goes away at its first batch call, as
// a job that finds no server at all stops before it starts (TestBatchNoServer).
func TestBatchOutageResume(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`{"id":"d%d","text":"Refugees crossed the border, round %d."}`, i, i))
	}
	lines = append(lines, `{"id":"blank","text":" "}`, `{"id":"d3","text":"a duplicate"}`)
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")

	dying := startDyingServer(t)
	stderr, err := runCmd(t, "batch", "--server", dying, "--max-attempts", "2", "--timeout", "200ms", "--in", in, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "41 documents were not classified because the servers were unavailable") || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("batch with the server gone: error %v, want one counting 41 documents to retry with --resume\n%s", err, stderr)
	}
	recs := readRecords(t, out)
	b, _ := os.ReadFile(out)
	if len(recs) != 42 || strings.Count(string(b), `"retry":true`) != 41 {
		t.Fatalf("output of the failed job: %d records, %d retry; want 42, 41:\n%s", len(recs), strings.Count(string(b), `"retry":true`), b)
	}

	addr := startServer(t)
	if stderr, err := runCmd(t, "batch", "--server", addr, "--resume", "--in", in, "--out", out); err != nil {
		t.Fatalf("batch --resume with the server up: %v\n%s", err, stderr)
	}
	checkOneEach(t, out)
}

// checkOneEach checks the output of TestBatchOutageResume's input once every document is
// classified: 42 records (one a duplicate's bad-input record) for 41 ids, each once, no error
// but the blank document's.
func checkOneEach(t *testing.T, out string) {
	t.Helper()
	recs := readRecords(t, out)
	ids := map[string]int{}
	for _, r := range recs {
		if r.Line == 0 {
			ids[r.ID]++
		}
		if r.Error != nil && r.ID != "blank" && r.Line == 0 {
			t.Errorf("record %+v: %+v", r, *r.Error)
		}
	}
	if len(recs) != 42 || len(ids) != 41 {
		t.Errorf("%d records for %d ids, want 42 records (one a duplicate line) for 41 ids", len(recs), len(ids))
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("id %s has %d records", id, n)
		}
	}
}

// TestBatchNoServer: a job whose --server had no server used to re-send for five minutes (ten
// attempts of 30 s) before writing "retry" records. It waits --connect-timeout, fails with a
// message naming the address, the connection's error and what to change, and leaves the
// output as it was: missing, or holding an earlier run's records (with "retry" ones, which
// --resume would otherwise rewrite), so the next run behaves as if this one had not happened.
func TestBatchNoServer(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`{"id":"d%d","text":"Refugees crossed the border, round %d."}`, i, i))
	}
	lines = append(lines, `{"id":"blank","text":" "}`, `{"id":"d3","text":"a duplicate"}`)
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	down := freeAddr(t)
	wantMsg := func(t *testing.T, err error, stderr string) {
		t.Helper()
		if err == nil {
			t.Fatalf("batch with no server: no error\n%s", stderr)
		}
		for _, want := range []string{"no topicd server reachable at " + down, "--connect-timeout", "connection refused", "Start topicd", "--server or $TOPICD_SERVER"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if stderr != "" {
			t.Errorf("standard error holds more than the error:\n%s", stderr)
		}
	}

	t.Run("new output", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		stderr, err := runCmd(t, "batch", "--server", down, "--connect-timeout", "200ms", "--in", in, "--out", out)
		wantMsg(t, err, stderr)
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("output after the failed job: %v, want it not created", err)
		}
	})

	// An earlier run wrote some records and "retry" ones; --resume would drop the latter.
	earlier := `{"id":"d0","label":"migration","confidence":0.9}` + "\n" +
		`{"id":"d1","retry":true,"error":{"code":"UNAVAILABLE","message":"gave up after 10 attempts: connection refused"}}` + "\n"
	for _, args := range [][]string{{"--resume"}, {"--force"}, {"--resume", "--model", "news-topics"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			odir := t.TempDir()
			out := filepath.Join(odir, "out.jsonl")
			os.WriteFile(out, []byte(earlier), 0o644)
			stderr, err := runCmd(t, append([]string{"batch", "--server", down, "--connect-timeout", "200ms", "--in", in, "--out", out}, args...)...)
			wantMsg(t, err, stderr)
			if b, _ := os.ReadFile(out); string(b) != earlier {
				t.Errorf("output after the failed job:\n%s\nwant it as it was:\n%s", b, earlier)
			}
			if entries, _ := os.ReadDir(odir); len(entries) != 1 {
				t.Errorf("%d files beside the output, want none", len(entries)-1)
			}
		})
	}

	t.Run("then a server", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		os.WriteFile(out, []byte(earlier), 0o644)
		runCmd(t, "batch", "--server", down, "--connect-timeout", "200ms", "--resume", "--in", in, "--out", out)
		addr := startServer(t)
		if stderr, err := runCmd(t, "batch", "--server", addr, "--connect-timeout", "200ms", "--resume", "--in", in, "--out", out); err != nil {
			t.Fatalf("batch --resume with the server up: %v\n%s", err, stderr)
		}
		// d0 keeps the earlier run's record and d1 is sent again: one record per id.
		checkOneEach(t, out)
		if recs := readRecords(t, out); recs[0].ID != "d0" || recs[0].Confidence != 0.9 {
			t.Errorf("first record %+v, want the earlier run's d0", recs[0])
		}
	})

	t.Run("environment", func(t *testing.T) {
		t.Setenv("TOPICD_SERVER", down)
		_, err := runCmd(t, "batch", "--connect-timeout", "200ms", "--in", in, "--out", "-")
		if err == nil || !strings.Contains(err.Error(), down+" (from $TOPICD_SERVER)") {
			t.Errorf("error %v, want it to name %s from $TOPICD_SERVER", err, down)
		}
	})
}

// TestBatchConnectTimeoutFlag: --connect-timeout must be positive and at most ten minutes.
func TestBatchConnectTimeoutFlag(t *testing.T) {
	for _, v := range []string{"0s", "-1s", "11m"} {
		_, err := runCmd(t, "batch", "--connect-timeout", v, "--in", "x.jsonl")
		if err == nil || !strings.Contains(err.Error(), "--connect-timeout: must be a positive duration") {
			t.Errorf("--connect-timeout %s: error %v, want one naming the flag and its bounds", v, err)
		}
	}
}

// TestBatchLocked: a second job on an output another job is writing used to interleave its
// lines with the first's. It is refused with a message that says why.
func TestBatchLocked(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"id":"a","text":"Talks resumed."}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	held, err := batchfile.Create(context.Background(), out, batchfile.OutputOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runCmd(t, "batch", "--local", "--resume", "--in", in, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "being written by another batch job") {
		t.Errorf("batch --resume on a locked output: error %v, want one saying another job writes it", err)
	}
	held.Close()
	if stderr, err := runCmd(t, "batch", "--local", "--resume", "--in", in, "--out", out); err != nil {
		t.Errorf("batch --resume once the lock is released: %v\n%s", err, stderr)
	}
}

// TestBatchCSVStrayQuote: one stray quote used to swallow the rest of a CSV file (1000 rows in,
// 3 records out, exit 0). Every row gets its record.
func TestBatchCSVStrayQuote(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	rows := []string{"id,text"}
	for i := range 1000 {
		rows = append(rows, fmt.Sprintf("c%d,Talks on the border resumed %d", i, i))
	}
	rows[3] = `c2,"a stray quote`
	os.WriteFile(in, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	stderr, err := runCmd(t, "batch", "--local", "--in", in, "--out", out)
	if err != nil {
		t.Fatalf("batch: %v\n%s", err, stderr)
	}
	recs := readRecords(t, out)
	errs := 0
	for _, r := range recs {
		if r.Error != nil {
			errs++
			if r.Line != 4 {
				t.Errorf("error record %+v, want the one of line 4", r)
			}
		}
	}
	if len(recs) != 1000 || errs != 1 || !strings.Contains(stderr, "line 4: invalid CSV") {
		t.Errorf("%d records, %d errors, want 1000 and 1 reported on line 4:\n%s", len(recs), errs, stderr)
	}
}

func TestClassifyDocumentHTML(t *testing.T) {
	for _, tt := range []struct {
		file string
		html bool
		want topicdv1.ContentType
	}{
		{"", false, topicdv1.ContentType_CONTENT_TYPE_UNSPECIFIED},
		{"", true, topicdv1.ContentType_CONTENT_TYPE_HTML},
		{"a.txt", false, topicdv1.ContentType_CONTENT_TYPE_UNSPECIFIED},
		{"page.HTML", false, topicdv1.ContentType_CONTENT_TYPE_HTML},
		{"page.htm", false, topicdv1.ContentType_CONTENT_TYPE_HTML},
	} {
		if got := classifyDocument("id", "", "<p>x</p>", tt.file, tt.html).GetContentType(); got != tt.want {
			t.Errorf("classifyDocument(file %q, html %v) content type = %v, want %v", tt.file, tt.html, got, tt.want)
		}
	}
}

// articlePage is a news page whose article is about migration while its navigation, script and
// styles are about computer security: read as plain text it is a different document.
const articlePage = `<!DOCTYPE html><html><head><title>Boats reach the island</title>
<style>.hacker-alert{color:red} /* ransomware malware password breach */</style>
<script>var topics = "hackers ransomware malware cyberattack data breach passwords stolen servers encrypted phishing botnet vulnerability exploit";</script>
</head><body>
<nav><a href="/cyber">Hackers</a> <a href="/ransomware">Ransomware</a> <a href="/malware">Malware</a> <a href="/breach">Data breach</a> <a href="/passwords">Passwords</a></nav>
<article><h1>Hundreds of migrants reach the island by boat</h1>
<p>Hundreds of migrants crossed the sea in small boats overnight and asked for asylum after reaching the island, the coast guard said.</p>
<p>Aid groups said the reception camp for asylum seekers and refugees was overcrowded, and the government promised to move people to the mainland within days.</p>
<p>Border officials said more boats were expected while the weather stayed calm, and the interior ministry asked other countries to take in some of the refugees.</p>
</article>
<footer><script>track("hackers", "cyberattack", "ransomware", "exploit")</script></footer>
</body></html>`

// TestBatchHTML: .html files in a folder and content_type in JSONL are sent as HTML, so the
// server (and --local, with the same extraction) classifies the article, not the markup; the
// same bytes in a .txt file are classified as they are.
func TestBatchHTML(t *testing.T) {
	addr := startServer(t)
	dir := t.TempDir()
	pages := filepath.Join(dir, "pages")
	os.Mkdir(pages, 0o755)
	os.WriteFile(filepath.Join(pages, "page.html"), []byte(articlePage), 0o644)
	os.WriteFile(filepath.Join(pages, "page.txt"), []byte(articlePage), 0o644)
	os.WriteFile(filepath.Join(pages, "empty.html"), []byte("<html><body><nav>menu</nav><script>x()</script></body></html>"), 0o644)
	line, _ := json.Marshal(map[string]string{"id": "page", "text": articlePage, "content_type": "html"})
	jsonl := filepath.Join(dir, "pages.jsonl")
	os.WriteFile(jsonl, append(line, '\n'), 0o644)

	labels := func(flags ...string) map[string]record {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out.jsonl")
		if stderr, err := runCmd(t, append([]string{"batch", "--out", out}, flags...)...); err != nil {
			t.Fatalf("batch %v: %v\n%s", flags, err, stderr)
		}
		got := map[string]record{}
		for _, r := range readRecords(t, out) {
			got[r.ID] = r
		}
		return got
	}
	for _, flags := range [][]string{{"--server", addr}, {"--local"}, {"--server", addr, "--transport", "stream"}} {
		dirRecs := labels(append(flags, "--in", pages)...)
		if r := dirRecs["page.html"]; r.Label != "migration" {
			t.Errorf("batch %v: page.html labelled %q (%+v), want migration", flags, r.Label, r.Error)
		}
		if r := dirRecs["page.txt"]; r.Label == "migration" || r.Error != nil {
			t.Errorf("batch %v: the page as plain text labelled %q (%+v); want the markup to count, as a test that content types travel", flags, r.Label, r.Error)
		}
		if r := dirRecs["empty.html"]; r.Error == nil || r.Error.Code != "INVALID_ARGUMENT" || !strings.Contains(r.Error.Message, "no article text") {
			t.Errorf("batch %v: a page with no article: %+v, want INVALID_ARGUMENT saying so", flags, r)
		}
		if r := labels(append(flags, "--in", jsonl)...)["page"]; r.Label != "migration" {
			t.Errorf("batch %v: JSONL line with content_type html labelled %q, want migration", flags, r.Label)
		}
	}

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"classify", "--server", addr, "--file", filepath.Join(pages, "page.html")}, &stdout, &stderr); err != nil {
		t.Fatalf("classify --file page.html: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "label:  migration") {
		t.Errorf("classify --file page.html:\n%s\nwant label migration", stdout.String())
	}
}

// TestBatchLocalMatchesServer: --local writes through the same record encoder as the server
// path, so the same input gives the same lines, topics included.
func TestBatchLocalMatchesServer(t *testing.T) {
	addr := startServer(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	var lines []string
	for i, text := range []string{
		"Hackers broke into the ministry's network and stole the passwords of diplomats.",
		"Hundreds of migrants crossed the border and asked for asylum.",
		"The foreign ministers met in Geneva to negotiate a ceasefire.",
		"The football club won the league after a late goal.",
		" ",
	} {
		lines = append(lines, fmt.Sprintf(`{"id":"d%d","text":%q}`, i, text))
	}
	os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	outputs := map[string]string{}
	for _, mode := range [][]string{{"--local"}, {"--server", addr}} {
		out := filepath.Join(dir, mode[0]+".jsonl")
		if stderr, err := runCmd(t, append([]string{"batch", "--ordered", "--in", in, "--out", out}, mode...)...); err != nil {
			t.Fatalf("batch %v: %v\n%s", mode, err, stderr)
		}
		b, _ := os.ReadFile(out)
		outputs[mode[0]] = string(b)
	}
	// The classifications are the same lines; the error's message is the server's own wording.
	local, remote := strings.Split(outputs["--local"], "\n"), strings.Split(outputs["--server"], "\n")
	if len(local) != 6 || len(remote) != 6 {
		t.Fatalf("--local wrote %d lines, the server path %d; want 5 records each", len(local)-1, len(remote)-1)
	}
	for i := range 4 {
		if local[i] != remote[i] || !strings.Contains(local[i], `"topic_probabilities":{"`) {
			t.Errorf("record %d: --local wrote\n%s\nthe server path wrote\n%s\nwant the same line, with topic probabilities", i, local[i], remote[i])
		}
	}
	for _, l := range []string{local[4], remote[4]} {
		if !strings.HasPrefix(l, `{"id":"d4","error":{"code":"INVALID_ARGUMENT"`) {
			t.Errorf("blank document: %s, want INVALID_ARGUMENT", l)
		}
	}
}
