package server

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire/wiretest"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// TestMarshalBatchResponse checks that the hand-written encoder gives exactly protobuf-go's bytes.
func TestMarshalBatchResponse(t *testing.T) {
	classified := func(id string, c *topicdv1.Classification) *topicdv1.ClassifyBatchResult {
		return &topicdv1.ClassifyBatchResult{DocumentId: id, Result: &topicdv1.ClassifyBatchResult_Classification{Classification: c}}
	}
	full := func(id string) *topicdv1.Classification {
		return &topicdv1.Classification{
			DocumentId: id, Label: "cybersecurity", Confidence: 0.75, Model: "news-topics", ModelVersion: "sha256:0123",
			Scores: []*topicdv1.LabelScore{{Label: "cybersecurity", Confidence: 0.75}, {Label: "other", Confidence: 0.25}, {Label: "migration"}},
			Stats:  &topicdv1.InputStats{Bytes: 1 << 20, Tokens: 300, KnownTokens: 0},
		}
	}
	long := strings.Repeat("x", 300) // two-byte length prefixes
	// The server's own answer to a batch mixing good and bad documents.
	s := New(fuzzServer(t).reg, Options{})
	served, err := s.ClassifyBatch(context.Background(), &topicdv1.ClassifyBatchRequest{
		Documents: []*topicdv1.Document{doc("a", FloorSample), doc("b", ""), doc("c\xff", "migrants crossed the border"), nil, {Id: "d", Title: "t", Text: long}},
	})
	if err != nil {
		t.Fatal(err)
	}
	explained, err := s.ClassifyBatch(context.Background(), &topicdv1.ClassifyBatchRequest{
		Documents: []*topicdv1.Document{doc("e", FloorSample)},
		Options:   &topicdv1.ClassifyOptions{Explain: true, TopK: 2},
	})
	if err != nil {
		t.Fatal(err)
	}

	many := func(n int, idPrefix string) *topicdv1.ClassifyBatchResponse {
		resp := &topicdv1.ClassifyBatchResponse{}
		for i := range n {
			id := fmt.Sprint(idPrefix, i)
			resp.Results = append(resp.Results, classified(id, full(id)))
		}
		return resp
	}
	tests := []struct {
		name string
		resp *topicdv1.ClassifyBatchResponse
	}{
		// Pooled buffers, the second one reused from the first and shorter: no stale byte may
		// show.
		{"pooled", many(100, "a-long-document-id-")},
		{"pooled again, shorter", many(60, "id")},
		{"empty", &topicdv1.ClassifyBatchResponse{}},
		{"served", served},
		{"explained", explained},
		{"full", &topicdv1.ClassifyBatchResponse{Results: []*topicdv1.ClassifyBatchResult{classified("1", full("1")), classified(long, full(long))}}},
		{"zero values", &topicdv1.ClassifyBatchResponse{Results: []*topicdv1.ClassifyBatchResult{classified("", &topicdv1.Classification{}), {}}}},
		{"negative zero and abstained", &topicdv1.ClassifyBatchResponse{Results: []*topicdv1.ClassifyBatchResult{
			classified("z", &topicdv1.Classification{Label: "other", Confidence: float32(math.Copysign(0, -1)), Abstained: true, Stats: &topicdv1.InputStats{}}),
		}}},
		{"error", &topicdv1.ClassifyBatchResponse{Results: []*topicdv1.ClassifyBatchResult{
			{DocumentId: "x", Result: &topicdv1.ClassifyBatchResult_Error{Error: &status.Status{Code: 3, Message: "bad"}}},
			classified("y", full("y")),
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := proto.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := marshalBatchResponse(tt.resp)
			if err != nil {
				t.Fatalf("marshalBatchResponse = %v", err)
			}
			if b := got.Materialize(); !bytes.Equal(b, want) {
				t.Errorf("marshalBatchResponse =\n%x\nproto.Marshal =\n%x", b, want)
			}
			got.Free()
		})
	}
}

// TestMarshalBatchResponseRandom fills every field of random responses (every field the
// descriptors list, so also one added to Classification later) and checks that each
// classification is encoded by hand, to exactly proto.Marshal's bytes.
func TestMarshalBatchResponseRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 500 {
		resp := new(topicdv1.ClassifyBatchResponse)
		wiretest.Fill(rng, resp.ProtoReflect())
		for _, r := range resp.Results {
			if r.GetClassification() != nil && handClassification(r) == nil {
				t.Fatalf("response %d: a classification left to protobuf-go:\n%v", i, r)
			}
		}
		want, err := proto.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalBatchResponse(resp)
		if err != nil {
			t.Fatalf("response %d: marshalBatchResponse = %v", i, err)
		}
		if b := got.Materialize(); !bytes.Equal(b, want) {
			t.Fatalf("response %d: marshalBatchResponse =\n%x\nproto.Marshal =\n%x\nof\n%v", i, b, want, resp)
		}
		got.Free()
	}
}

// BenchmarkMarshalBatchResponse compares the encoder with protobuf-go on 1000 classifications
// (ns/op is per response).
func BenchmarkMarshalBatchResponse(b *testing.B) {
	s := New(fuzzServer(b).reg, Options{})
	docs := make([]*topicdv1.Document, DefaultMaxBatchDocuments)
	for i := range docs {
		docs[i] = doc(fmt.Sprint("doc-", i), FloorSample)
	}
	resp, err := s.ClassifyBatch(context.Background(), &topicdv1.ClassifyBatchRequest{Documents: docs})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("topicd", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := marshalBatchResponse(resp)
			if err != nil {
				b.Fatal(err)
			}
			data.Free()
		}
	})
	// The same response without topic probabilities, which the server has filled since the
	// model gained them, to compare with measurements from before.
	bare := proto.Clone(resp).(*topicdv1.ClassifyBatchResponse)
	for _, r := range bare.Results {
		r.GetClassification().Topics = nil
	}
	b.Run("topicd-without-topics", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			data, err := marshalBatchResponse(bare)
			if err != nil {
				b.Fatal(err)
			}
			data.Free()
		}
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}
