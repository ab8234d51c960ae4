package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// record is an output line as a reader of the output sees it.
type record struct {
	ID         string             `json:"id"`
	Line       int                `json:"line"`
	Label      string             `json:"label"`
	Confidence float64            `json:"confidence"`
	Scores     map[string]float64 `json:"scores"`
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

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " back \ slash`, "tab\tnl\nnul\x00 del\x7f", "été 😀 \u2028", "bad \xff utf8 \xe2\x82", "</script>&"} {
		t.Run(fmt.Sprintf("%.10q", s), func(t *testing.T) {
			b := appendJSONString(nil, s)
			var got string
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("appendJSONString(%q) = %s: not JSON: %v", s, b, err)
			}
			want := strings.ToValidUTF8(s, "\uFFFD")
			if !utf8.ValidString(s) {
				// encoding/json turns each bad byte into one U+FFFD.
				var w strings.Builder
				for i := 0; i < len(s); {
					r, n := utf8.DecodeRuneInString(s[i:])
					w.WriteRune(r)
					i += n
				}
				want = w.String()
			}
			if got != want {
				t.Errorf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	b := appendError(nil, "x", 7, status.Error(codes.InvalidArgument, "line 7: bad"))
	want := `{"id":"x","line":7,"error":{"code":"INVALID_ARGUMENT","message":"line 7: bad"}}`
	if string(b) != want {
		t.Errorf("appendError = %s, want %s", b, want)
	}
	b = appendError(nil, "y", 0, errors.New("plain"))
	want = `{"id":"y","error":{"code":"UNKNOWN","message":"plain"}}`
	if string(b) != want {
		t.Errorf("appendError = %s, want %s", b, want)
	}
}

func TestReadDone(t *testing.T) {
	good := `{"id":"a","label":"other"}` + "\n" + `{"id":"","line":3,"error":{"code":"INVALID_ARGUMENT","message":"m"}}` + "\n"
	tests := []struct {
		name, content string
		wantLen       int
		wantIDs       []string
		wantErr       string
	}{
		{"complete", good, len(good), []string{"a"}, ""},
		{"partial last line", good + `{"id":"b","lab`, len(good), []string{"a"}, ""},
		{"NUL tail", good + "\x00\x00\x00\n\x00\x00", len(good), []string{"a"}, ""},
		{"garbage last line", good + "garbage\n", len(good), []string{"a"}, ""},
		{"garbage in the middle", "garbage\n" + good, 0, nil, "damaged"},
		{"empty", "", 0, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &resumeState{ids: newIDSet(), lines: map[int]struct{}{}}
			n, err := readDone(strings.NewReader(tt.content), rs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readDone error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || int(n) != tt.wantLen {
				t.Fatalf("readDone = %d, %v; want %d, nil", n, err, tt.wantLen)
			}
			for _, id := range tt.wantIDs {
				if _, ok := rs.ids.m[rs.ids.key(id)]; !ok {
					t.Errorf("readDone did not mark id %q done", id)
				}
			}
			if len(rs.ids.m) != len(tt.wantIDs) {
				t.Errorf("readDone marked %d ids done, want %d", len(rs.ids.m), len(tt.wantIDs))
			}
		})
	}
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
