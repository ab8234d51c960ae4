package server

import (
	"context"
	"math"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

func fuzzServer(t testing.TB) *Server {
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}}})
	if err != nil {
		t.Fatal(err)
	}
	return New(reg, Options{MaxDocumentBytes: 4096})
}

// checkClassify calls Classify and checks the request path's promises: no panic, a result that
// can be sent (valid UTF-8, so it marshals) with sane confidences, or an error with a code the
// API documents and a message that says something.
func checkClassify(t *testing.T, s *Server, req *topicdv1.ClassifyRequest) {
	resp, err := s.Classify(context.Background(), req)
	if err != nil {
		st, ok := status.FromError(err)
		if !ok {
			t.Fatalf("Classify = %v, not a gRPC status", err)
		}
		switch st.Code() {
		case codes.InvalidArgument, codes.NotFound:
		default:
			t.Fatalf("Classify = %v, want INVALID_ARGUMENT or NOT_FOUND", err)
		}
		if st.Message() == "" || !utf8.ValidString(st.Message()) {
			t.Fatalf("Classify error message %q is empty or not UTF-8", st.Message())
		}
		return
	}
	if _, err := proto.Marshal(resp); err != nil {
		t.Fatalf("Classify result cannot be sent: %v", err)
	}
	c := resp.Classification
	sum := 0.0
	for _, sc := range c.Scores {
		if !(sc.Confidence >= 0 && sc.Confidence <= 1) {
			t.Fatalf("confidence %v out of [0, 1]", sc.Confidence)
		}
		sum += float64(sc.Confidence)
	}
	if req.GetOptions().GetTopK() == 0 && math.Abs(sum-1) > 1e-3 {
		t.Fatalf("confidences sum to %v, want 1", sum)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("id", "", sampleArticle, "", uint32(0), float32(0), false, uint32(0))
	f.Add("", "Title", "  \n\t ", "", uint32(1), float32(0.5), true, uint32(3))
	f.Add("x\xff", "\xc3", "caf\xe9", "news-topics", uint32(9), float32(1), true, uint32(50))
	f.Add("", "", "hackers", "missing", uint32(0), float32(-1), false, uint32(51))
	f.Add("", "", "a", "", uint32(0), float32(math.NaN()), true, uint32(0))
	s := fuzzServer(f)
	f.Fuzz(func(t *testing.T, id, title, text, model string, topK uint32, minConf float32, explain bool, terms uint32) {
		checkClassify(t, s, &topicdv1.ClassifyRequest{
			Document: &topicdv1.Document{Id: id, Title: title, Text: text},
			Model:    model,
			Options:  &topicdv1.ClassifyOptions{TopK: topK, MinConfidence: minConf, Explain: explain, ExplainTerms: terms},
		})
	})
}

// FuzzRequestBytes feeds arbitrary bytes through the server's codec, as a hostile client would
// put them on the wire, and what decodes through Classify.
func FuzzRequestBytes(f *testing.F) {
	for _, req := range []*topicdv1.ClassifyRequest{
		{Document: &topicdv1.Document{Id: "a", Text: sampleArticle}},
		{Document: &topicdv1.Document{Text: "cafe"}, Model: "news-topics", Options: &topicdv1.ClassifyOptions{TopK: 2, Explain: true}},
	} {
		b, _ := proto.Marshal(req)
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x06, 0x12, 0x04, 'c', 'a', 'f', 0xe9})
	s := fuzzServer(f)
	codec := lenientCodec{encoding.GetCodecV2("proto")}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := &topicdv1.ClassifyRequest{}
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, req); err != nil {
			return
		}
		checkClassify(t, s, req)
	})
}
