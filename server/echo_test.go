package server

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// What a client sent is clipped before an error message quotes it: a 3 MB label_mix key gives a
// short message, not a 3 MB one.
func TestLabelMixKeyClipped(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	key := strings.Repeat("k", 3<<20)
	_, err := env.cls.Classify(testCtx(t), &topicdv1.ClassifyRequest{
		Document: doc("", sampleArticle),
		Options:  &topicdv1.ClassifyOptions{LabelMix: map[string]float64{key: 0.5}},
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Classify(label_mix with a 3 MB key) = %v, want INVALID_ARGUMENT", err)
	}
	if msg := status.Convert(err).Message(); len(msg) > 1024 {
		t.Errorf("Classify(label_mix with a 3 MB key): message of %d bytes, want at most 1 KiB", len(msg))
	}
	if !strings.Contains(env.logs.String(), "label_mix") || len(env.logs.String()) > 64<<10 {
		t.Errorf("log of %d bytes after one call, want the call line with its clipped error", len(env.logs.String()))
	}
}

// A label_mix key that is not UTF-8 is the caller's mistake: INVALID_ARGUMENT, not INTERNAL, in
// a unary call, a batch and a stream.
func TestLabelMixKeyNotUTF8(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	opts := &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"cafe": 0.5}}

	var resp topicdv1.ClassifyResponse
	err := env.conn.Invoke(ctx, "/topicd.v1.ClassifierService/Classify",
		corrupt(t, &topicdv1.ClassifyRequest{Document: doc("", sampleArticle), Options: opts}, "cafe", "caf\xe9"), &resp, sendRaw())
	wantStatus(t, "Classify(label_mix key not UTF-8)", err, codes.InvalidArgument, "label_mix")

	var bresp topicdv1.ClassifyBatchResponse
	err = env.conn.Invoke(ctx, "/topicd.v1.ClassifierService/ClassifyBatch",
		corrupt(t, &topicdv1.ClassifyBatchRequest{Documents: []*topicdv1.Document{doc("a", sampleArticle)}, Options: opts}, "cafe", "caf\xe9"), &bresp, sendRaw())
	wantStatus(t, "ClassifyBatch(label_mix key not UTF-8)", err, codes.InvalidArgument, "label_mix")

	desc := &grpc.StreamDesc{StreamName: "ClassifyStream", ServerStreams: true, ClientStreams: true}
	cs, err := env.conn.NewStream(ctx, desc, "/topicd.v1.ClassifierService/ClassifyStream", sendRaw())
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(corrupt(t, &topicdv1.ClassifyStreamRequest{Document: doc("s1", sampleArticle), Options: opts}, "cafe", "caf\xe9")); err != nil {
		t.Fatal(err)
	}
	cs.CloseSend()
	var sresp topicdv1.ClassifyStreamResponse
	if err := cs.RecvMsg(&sresp); err != nil {
		t.Fatalf("ClassifyStream(label_mix key not UTF-8) = %v, want an item error", err)
	}
	if code := codes.Code(sresp.GetError().GetCode()); code != codes.InvalidArgument || sresp.DocumentId != "s1" {
		t.Errorf("ClassifyStream(label_mix key not UTF-8) = %v, want document s1 with INVALID_ARGUMENT", &sresp)
	}
}

// A batch of documents whose ids are over the limit gets one error per document, not one
// RESOURCE_EXHAUSTED for the call: the answer does not echo 16 KB ids.
func TestBatchLongIDs(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	const n = 250 // 250 x 16 KiB: just under gRPC's default 4 MiB receive limit
	docs := make([]*topicdv1.Document, n)
	for i := range docs {
		docs[i] = doc(strings.Repeat("x", 16<<10-8)+fmt.Sprintf("%08d", i), "Hackers leaked the ministry's files")
	}
	resp, err := env.cls.ClassifyBatch(testCtx(t), &topicdv1.ClassifyBatchRequest{Documents: docs})
	if err != nil {
		t.Fatalf("ClassifyBatch(%d documents with 16 KiB ids) = %v, want one result per document", n, err)
	}
	if len(resp.Results) != n {
		t.Fatalf("ClassifyBatch: %d results, want %d", len(resp.Results), n)
	}
	for i, r := range resp.Results {
		if codes.Code(r.GetError().GetCode()) != codes.InvalidArgument || !strings.Contains(r.GetError().GetMessage(), "document.id") {
			t.Fatalf("result %d = %.300v, want INVALID_ARGUMENT about document.id", i, r)
		}
		if len(r.DocumentId) > maxIDBytes || !strings.HasPrefix(docs[i].Id, r.DocumentId) {
			t.Fatalf("result %d echoes an id of %d bytes, want a prefix of the id of at most %d", i, len(r.DocumentId), maxIDBytes)
		}
	}
}
