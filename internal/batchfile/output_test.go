package batchfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

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

func TestAppendClassificationTopics(t *testing.T) {
	c := &topicdv1.Classification{
		Label: "migration", Confidence: 0.75, Model: "m", ModelVersion: "v",
		Scores: []*topicdv1.LabelScore{{Label: "migration", Confidence: 0.75}, {Label: "other", Confidence: 0.25}},
		Topics: []*topicdv1.TopicScore{
			{Topic: "migration", Probability: 0.9, Present: true},
			{Topic: "cybersecurity", Probability: 0.625, Present: true},
			{Topic: "diplomacy", Probability: 0.125},
		},
	}
	b := AppendClassification(nil, "d1", c)
	want := `{"id":"d1","label":"migration","confidence":0.75,"scores":{"migration":0.75,"other":0.25},` +
		`"topics":["migration","cybersecurity"],"topic_probabilities":{"migration":0.9,"cybersecurity":0.625,"diplomacy":0.125},` +
		`"model":"m","model_version":"v"}`
	if string(b) != want {
		t.Fatalf("AppendClassification =\n%s\nwant\n%s", b, want)
	}
	var rec struct {
		Topics []string           `json:"topics"`
		Probs  map[string]float64 `json:"topic_probabilities"`
	}
	if err := json.Unmarshal(b, &rec); err != nil || len(rec.Topics) != 2 || rec.Probs["diplomacy"] != 0.125 {
		t.Errorf("record reads back as %+v, %v", rec, err)
	}
}

func TestAppendError(t *testing.T) {
	b := AppendError(nil, "x", 7, status.Error(codes.InvalidArgument, "line 7: bad"))
	want := `{"id":"x","line":7,"error":{"code":"INVALID_ARGUMENT","message":"line 7: bad"}}`
	if string(b) != want {
		t.Errorf("AppendError = %s, want %s", b, want)
	}
	b = AppendError(nil, "y", 0, errors.New("plain"))
	want = `{"id":"y","error":{"code":"UNKNOWN","message":"plain"}}`
	if string(b) != want {
		t.Errorf("AppendError = %s, want %s", b, want)
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
			rs := newDone()
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

// TestOutputLock: two jobs on one output used to interleave their lines. The second is refused
// with a message that says why, or waits with LockWait until the first closes.
func TestOutputLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	first, err := Create(context.Background(), path, OutputOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []OutputOptions{{Resume: true}, {Force: true}, {}} {
		_, err := Create(context.Background(), path, opts, nil)
		if err == nil || !strings.Contains(err.Error(), "being written by another batch job") {
			t.Errorf("Create(%+v) on a locked output: error %v, want one that says another job writes it", opts, err)
		}
	}
	if err := first.WriteError("a", 0, status.Error(codes.InvalidArgument, "x")); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(released)
		first.Close()
	}()
	waited := 0
	second, err := Create(context.Background(), path, OutputOptions{Resume: true, LockWait: time.Minute, Waiting: func() { waited++ }}, nil)
	if err != nil {
		t.Fatalf("Create with LockWait: %v", err)
	}
	if waited != 1 {
		t.Errorf("Create with LockWait called Waiting %d times, want once", waited)
	}
	select {
	case <-released:
	default:
		t.Fatal("Create with LockWait returned while the first job still held the lock")
	}
	if second.Done().Records != 1 {
		t.Errorf("resume after the first job: %d records done, want 1", second.Done().Records)
	}
	second.Close()
}

// TestResumeRetries: records of transient failures do not count as done, and resume removes
// them so each document ends with one record.
func TestResumeRetries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	unavailable := status.Error(codes.Unavailable, "gave up after 10 attempts: connection refused")
	var b []byte
	b = append(AppendError(b, "", 2, status.Error(codes.InvalidArgument, "line 2: bad")), '\n')
	b = append(AppendRetry(b, "r1", unavailable), '\n')
	b = append(AppendError(b, "e1", 0, status.Error(codes.InvalidArgument, "empty")), '\n')
	b = append(AppendRetry(b, "r2", unavailable), '\n')
	b = append(b, `{"id":"partial`...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path+".resume-123", []byte("left by a killed run"), 0o644)
	out, err := Create(context.Background(), path, OutputOptions{Resume: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := out.Done()
	if done.Records != 2 || done.Retries != 2 {
		t.Errorf("Done = %d records, %d retries; want 2, 2", done.Records, done.Retries)
	}
	in, err := Open("-", "jsonl", strings.NewReader(`{"id":"r1","text":"x"}`+"\n"+`{"text":"no id"}`+"\n"+`{"id":"e1","text":"x"}`+"\n"+`{"id":"r2","text":"x"}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var admitted []string
	for {
		d, err := in.Next()
		if err != nil {
			break
		}
		if done.Admit(in, &d) {
			admitted = append(admitted, d.ID)
		}
	}
	if strings.Join(admitted, ",") != "r1,r2" {
		t.Errorf("admitted %q, want the two retry documents only", admitted)
	}
	if err := out.WriteClassification("r1", &topicdv1.Classification{Label: "other"}); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := `{"id":"","line":2,"error":{"code":"INVALID_ARGUMENT","message":"line 2: bad"}}
{"id":"e1","error":{"code":"INVALID_ARGUMENT","message":"empty"}}
{"id":"r1","label":"other","confidence":0,"scores":{},"topics":[],"topic_probabilities":{},"model":"","model_version":""}
`
	if string(got) != want {
		t.Errorf("output after resume:\n%s\nwant\n%s", got, want)
	}
	if m, _ := filepath.Glob(path + ".resume-*"); len(m) > 0 {
		t.Errorf("resume left %q behind", m)
	}
}

// TestCreateNotReady: when Ready fails, Create returns its error and leaves the output as it
// found it: not created, or with its bytes (retry records included, which Resume would drop,
// and lines Force would empty) and no copy beside it. Refusals that need no Ready come first.
func TestCreateNotReady(t *testing.T) {
	notReady := errors.New("no server")
	calls := 0
	ready := func() error { calls++; return notReady }
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.jsonl")
	if _, err := Create(context.Background(), missing, OutputOptions{Ready: ready}, nil); !errors.Is(err, notReady) {
		t.Errorf("Create of a new file: %v, want Ready's error", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("new file after Ready failed: %v, want it not created", err)
	}
	earlier := `{"id":"a","label":"x","confidence":1}` + "\n" + `{"id":"b","retry":true,"error":{"code":"UNAVAILABLE","message":"m"}}` + "\n"
	path := filepath.Join(dir, "out.jsonl")
	os.WriteFile(path, []byte(earlier), 0o644)
	for _, opts := range []OutputOptions{{Resume: true, Ready: ready}, {Force: true, Ready: ready}} {
		if _, err := Create(context.Background(), path, opts, nil); !errors.Is(err, notReady) {
			t.Errorf("Create %+v: %v, want Ready's error", opts, err)
		}
		if b, _ := os.ReadFile(path); string(b) != earlier {
			t.Errorf("Create %+v changed the output to:\n%s", opts, b)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the output's folder, want only the output", len(entries))
	}
	calls = 0
	if _, err := Create(context.Background(), path, OutputOptions{Ready: ready}, nil); err == nil || !strings.Contains(err.Error(), "exists") || calls != 0 {
		t.Errorf("Create of a non-empty output without Resume or Force: %v after %d Ready calls, want the refusal before Ready", err, calls)
	}
	if _, err := Create(context.Background(), "-", OutputOptions{Ready: ready}, nil); !errors.Is(err, notReady) {
		t.Errorf("Create of standard output: %v, want Ready's error", err)
	}
}
