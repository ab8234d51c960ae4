package client

import (
	"fmt"
	"math/rand/v2"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// randomResponse builds a ClassifyBatchResponse using every field the fast decoder knows.
func randomResponse(rng *rand.Rand, n int) *topicdv1.ClassifyBatchResponse {
	labels := []string{"cybersecurity", "migration", "diplomacy", "other"}
	resp := &topicdv1.ClassifyBatchResponse{}
	for i := range n {
		r := &topicdv1.ClassifyBatchResult{DocumentId: fmt.Sprint("doc-", i)}
		switch rng.IntN(6) {
		case 0:
			r.Result = &topicdv1.ClassifyBatchResult_Error{Error: &spb.Status{Code: 3, Message: "empty"}}
		case 1:
			// a result with no outcome at all
		default:
			c := &topicdv1.Classification{
				Label: labels[rng.IntN(4)], Confidence: rng.Float32(), Model: "news-topics", ModelVersion: "abc123",
				Abstained: rng.IntN(5) == 0,
			}
			if rng.IntN(4) > 0 {
				c.DocumentId = r.DocumentId
			} else if rng.IntN(2) == 0 {
				c.DocumentId = "other-id"
			}
			for range rng.IntN(5) {
				c.Scores = append(c.Scores, &topicdv1.LabelScore{Label: labels[rng.IntN(4)], Confidence: rng.Float32()})
			}
			if rng.IntN(3) > 0 {
				c.Stats = &topicdv1.InputStats{Bytes: rng.Uint64N(1 << 20), Tokens: rng.Uint64N(1000), KnownTokens: rng.Uint64N(1000)}
			}
			if rng.IntN(4) == 0 {
				c.Explanations = []*topicdv1.Explanation{{Label: c.Label, Terms: []*topicdv1.TermWeight{{Term: "hack", Weight: 1.5}}}}
			}
			r.Result = &topicdv1.ClassifyBatchResult_Classification{Classification: c}
		}
		resp.Results = append(resp.Results, r)
	}
	return resp
}

// TestBatchCodec checks that the fast decoder gives exactly what protobuf-go gives, and that a
// response with a field it does not know still decodes in full.
func TestBatchCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 5, 128, 1000} {
		for trial := range 5 {
			want := randomResponse(rng, n)
			b, err := proto.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			if trial == 4 && n > 0 {
				// A field from a newer server, inside the first classification or at the top.
				b = protowire.AppendTag(b, 99, protowire.VarintType)
				b = protowire.AppendVarint(b, 1)
			}
			var gotStd topicdv1.ClassifyBatchResponse
			if err := proto.Unmarshal(b, &gotStd); err != nil {
				t.Fatal(err)
			}
			var got topicdv1.ClassifyBatchResponse
			if err := (batchCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &got); err != nil {
				t.Fatalf("n=%d trial %d: Unmarshal: %v", n, trial, err)
			}
			if !proto.Equal(&got, &gotStd) {
				t.Fatalf("n=%d trial %d: fast decode differs from protobuf-go:\n got %v\nwant %v", n, trial, &got, &gotStd)
			}
		}
	}
	// Truncated input falls back to protobuf-go, which reports the error.
	b, _ := proto.Marshal(randomResponse(rng, 3))
	var got topicdv1.ClassifyBatchResponse
	if err := (batchCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b[:len(b)-3])}, &got); err == nil {
		t.Error("truncated response: no error")
	}
}

func BenchmarkBatchResponseDecode(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	resp := randomResponse(rng, 128)
	for _, r := range resp.Results {
		if c := r.GetClassification(); c != nil {
			c.Explanations = nil
		}
	}
	data, _ := proto.Marshal(resp)
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m topicdv1.ClassifyBatchResponse
			if err := proto.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batchCodec", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m topicdv1.ClassifyBatchResponse
			if err := (batchCodec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
