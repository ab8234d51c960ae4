package client_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/client"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// runAll runs a batch over docs and returns the results by id.
func runAll(t *testing.T, c *client.Client, cfg client.BatchConfig, docs []*topicdv1.Document) (map[string]client.Result, client.BatchStats) {
	t.Helper()
	ch := make(chan *topicdv1.Document, len(docs))
	for _, d := range docs {
		ch <- d
	}
	close(ch)
	got := map[string]client.Result{}
	stats, err := c.RunBatch(ctx(t), cfg, ch, func(r client.Result) error {
		if _, dup := got[r.ID]; dup {
			t.Errorf("id %q has two results", r.ID)
		}
		got[r.ID] = r
		return nil
	})
	if err != nil {
		t.Fatalf("RunBatch: %v", err)
	}
	if len(got) != len(docs) {
		t.Fatalf("RunBatch gave %d results for %d documents", len(got), len(docs))
	}
	return got, stats
}

// TestRunBatchUnsendable: a document that is not UTF-8 or over the document limit used to fail
// its whole chunk in the encoder with INTERNAL, retried MaxAttempts times. It gets
// INVALID_ARGUMENT at once and no call is made for it.
func TestRunBatchUnsendable(t *testing.T) {
	for _, tr := range []client.Transport{client.TransportBatch, client.TransportStream} {
		t.Run(tr.String(), func(t *testing.T) {
			s := startServer(t)
			c := newClient(t, s.addr)
			docs := []*topicdv1.Document{
				{Id: "latin1-text", Text: "Les n\xe9gociations ont repris."},
				{Id: "latin1-title", Title: "n\xe9gociations", Text: cyberText},
				{Id: "bad-id-\xff", Text: cyberText},
				{Id: "too-large", Text: strings.Repeat("word ", 300)},
			}
			got, stats := runAll(t, c, client.BatchConfig{Transport: tr, MaxDocumentBytes: 1000, MaxAttempts: 10, Backoff: time.Second}, docs)
			for id, r := range got {
				if status.Code(r.Err) != codes.InvalidArgument {
					t.Errorf("document %q: %v, want INVALID_ARGUMENT", id, r.Err)
				}
			}
			if msg := status.Convert(got["latin1-text"].Err).Message(); !strings.Contains(msg, "document.text is not valid UTF-8 (first bad byte at offset 5)") {
				t.Errorf("Latin-1 text: message %q, want one naming the field and the offset", msg)
			}
			if msg := status.Convert(got["too-large"].Err).Message(); !strings.Contains(msg, "1500 bytes (title and text), over the limit of 1000") {
				t.Errorf("large document: message %q, want one giving its size and the limit", msg)
			}
			// A stream worker opens its stream before it has a document, so only ClassifyBatch
			// calls tell that nothing was sent.
			if stats.Resent != 0 || (tr == client.TransportBatch && s.calls.Load() != 0) {
				t.Errorf("%d documents re-sent, %d calls to the server; want none", stats.Resent, s.calls.Load())
			}
		})
	}
}

// TestRunBatchChunkBytes: large documents used to make chunks over the server's message
// limit, refused with RESOURCE_EXHAUSTED and retried as if the server were down. Chunks are
// bounded by bytes; a server with a still lower limit gets smaller chunks; a document it cannot
// take alone gets INVALID_ARGUMENT without retries.
func TestRunBatchChunkBytes(t *testing.T) {
	const limit = 600 << 10
	s := startServer(t, grpc.MaxRecvMsgSize(limit))
	c := newClient(t, s.addr)
	var docs []*topicdv1.Document
	for i := range 12 {
		text := fmt.Sprintf("Round %d: migrants crossed the border. ", i)
		docs = append(docs, &topicdv1.Document{Id: fmt.Sprint(i), Text: strings.Repeat(text, (100<<10)/len(text))})
	}
	docs = append(docs, &topicdv1.Document{Id: "alone-too-large", Text: strings.Repeat("border talks ", (700<<10)/13)})

	// Bounded to 400 KiB: four documents a call, under the limit.
	got, stats := runAll(t, c, client.BatchConfig{ChunkSize: 100, Concurrency: 1, MaxChunkBytes: 400 << 10, MaxAttempts: 3}, docs)
	// Bounded to 4 MiB, over the server's limit: the client halves its chunks.
	got2, stats2 := runAll(t, c, client.BatchConfig{ChunkSize: 100, Concurrency: 1, MaxAttempts: 3}, docs)
	for i, res := range []map[string]client.Result{got, got2} {
		for id, r := range res {
			want := codes.OK
			if id == "alone-too-large" {
				want = codes.InvalidArgument
			}
			if status.Code(r.Err) != want {
				t.Errorf("run %d, document %s: %v, want %v", i, id, r.Err, want)
			}
		}
	}
	if stats.Resent != 0 || stats2.Resent != 0 {
		t.Errorf("documents re-sent: %d and %d, want none: size is not an outage", stats.Resent, stats2.Resent)
	}
}

// TestTransient: a document whose attempts ran out because no server answered has an error
// Transient reports; the server's verdict on a document does not.
func TestTransient(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	down := newClient(t, addr)
	got, _ := runAll(t, down, client.BatchConfig{MaxAttempts: 2, CallTimeout: 100 * time.Millisecond, Backoff: time.Millisecond},
		[]*topicdv1.Document{{Id: "a", Text: cyberText}})
	if r := got["a"]; !client.Transient(r.Err) {
		t.Errorf("no server: %v, want an error Transient reports", r.Err)
	}
	up := newClient(t, startServer(t).addr)
	got, _ = runAll(t, up, client.BatchConfig{}, []*topicdv1.Document{{Id: "empty", Text: " "}})
	if r := got["empty"]; r.Err == nil || client.Transient(r.Err) {
		t.Errorf("empty document: %v, want an error Transient does not report", r.Err)
	}
	for _, code := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted} {
		if !client.Transient(status.Error(code, "x")) {
			t.Errorf("Transient(%v) = false, want true", code)
		}
	}
	for _, code := range []codes.Code{codes.OK, codes.InvalidArgument, codes.Internal, codes.NotFound, codes.Canceled} {
		if client.Transient(status.Error(code, "x")) {
			t.Errorf("Transient(%v) = true, want false", code)
		}
	}
}
