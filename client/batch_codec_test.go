package client

import (
	"fmt"
	"math/rand/v2"
	"testing"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire/wiretest"
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
			// The fast decoder takes every response but the one with a field it does not know.
			fast := decodeBatchResponse(b, new(topicdv1.ClassifyBatchResponse))
			if wantFast := trial != 4 || n == 0; (fast == nil) != wantFast {
				t.Fatalf("n=%d trial %d: fast decoder error %v, want it to take the response: %v", n, trial, fast, wantFast)
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

// TestBatchCodecRandom fills every field of random requests and responses (every field the
// descriptors list, so also one added to the API later) and checks that the hand encoder writes
// each request itself, to protobuf-go's bytes, and that the fast decoder decodes each response
// itself, to what protobuf-go decodes.
func TestBatchCodecRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := range 500 {
		req := new(topicdv1.ClassifyBatchRequest)
		wiretest.Fill(rng, req.ProtoReflect())
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := encodeBatchRequest(req)
		if !ok {
			t.Fatalf("request %d: the hand encoder left it to protobuf-go:\n%v", i, req)
		}
		if b := got.Materialize(); string(b) != string(want) {
			t.Fatalf("request %d: hand encoder =\n%x\nproto.Marshal =\n%x\nof\n%v", i, b, want, req)
		}
		got.Free()

		resp := new(topicdv1.ClassifyBatchResponse)
		wiretest.Fill(rng, resp.ProtoReflect())
		b, err := proto.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		var dec topicdv1.ClassifyBatchResponse
		if err := decodeBatchResponse(b, &dec); err != nil {
			t.Fatalf("response %d: the fast decoder left it to protobuf-go (%v):\n%v", i, err, resp)
		}
		if !proto.Equal(&dec, resp) {
			t.Fatalf("response %d: fast decoder =\n%v\nwant\n%v", i, &dec, resp)
		}
	}
}

// FuzzBatchResponseBytes checks that the codec decodes arbitrary bytes as protobuf-go does: the
// same error or none, the same message.
func FuzzBatchResponseBytes(f *testing.F) {
	rng := rand.New(rand.NewPCG(13, 14))
	for range 8 {
		resp := new(topicdv1.ClassifyBatchResponse)
		wiretest.Fill(rng, resp.ProtoReflect())
		b, err := proto.Marshal(resp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x0a\x05\x12\x03\x12\x01\xff")) // a label that is not UTF-8
	f.Add([]byte("\x0a\x04\x12\x00\x12\x00"))     // a classification twice: protobuf merges them
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got topicdv1.ClassifyBatchResponse
		wantErr := proto.Unmarshal(b, &want)
		err := batchCodec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, &got)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Unmarshal(%x) error = %v, protobuf-go: %v", b, err, wantErr)
		}
		if err == nil && !proto.Equal(&got, &want) {
			t.Fatalf("Unmarshal(%x) =\n%v\nprotobuf-go:\n%v", b, &got, &want)
		}
	})
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

// randomRequest builds a ClassifyBatchRequest with every field set or empty at random.
func randomRequest(rng *rand.Rand, n int) *topicdv1.ClassifyBatchRequest {
	texts := []string{"", "a", "Ransomware hit the ministry", "Grenzübergang geschlossen — 国境", string(make([]byte, 300))}
	req := &topicdv1.ClassifyBatchRequest{}
	for i := range n {
		d := &topicdv1.Document{Text: texts[rng.IntN(len(texts))]}
		if rng.IntN(8) > 0 {
			d.Id = fmt.Sprint("doc-", i)
		}
		if rng.IntN(2) == 0 {
			d.Title = texts[rng.IntN(len(texts))]
		}
		req.Documents = append(req.Documents, d)
	}
	if rng.IntN(2) == 0 {
		req.Model = "news-topics"
	}
	switch rng.IntN(4) {
	case 0:
		req.Options = &topicdv1.ClassifyOptions{}
	case 1:
		req.Options = &topicdv1.ClassifyOptions{TopK: rng.Uint32N(5), MinConfidence: rng.Float32(), Explain: rng.IntN(2) == 0, ExplainTerms: 3}
	case 2:
		// One entry: proto.Marshal orders map entries at random, so two would not compare.
		req.Options = &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"cybersecurity": rng.Float64()}}
	}
	return req
}

// TestBatchCodecMarshal checks that the request encoder writes exactly proto.Marshal's bytes,
// and that what it declines (invalid UTF-8, unknown fields, nil documents) still gets
// protobuf-go's bytes or error.
func TestBatchCodecMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	withUnknown := func(m proto.Message) proto.Message {
		m.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 99, protowire.VarintType), 1))
		return m
	}
	cases := []struct {
		name    string
		req     func(n int) *topicdv1.ClassifyBatchRequest
		fast    bool // the hand encoder must take it
		wantErr bool
	}{
		{"random", func(n int) *topicdv1.ClassifyBatchRequest { return randomRequest(rng, n) }, true, false},
		{"invalid UTF-8 text", func(n int) *topicdv1.ClassifyBatchRequest {
			req := randomRequest(rng, n+1)
			req.Documents[n].Text = "bad \xff"
			return req
		}, false, true},
		{"invalid UTF-8 model", func(n int) *topicdv1.ClassifyBatchRequest {
			req := randomRequest(rng, n)
			req.Model = "\xc3"
			return req
		}, false, true},
		{"unknown field in a document", func(n int) *topicdv1.ClassifyBatchRequest {
			req := randomRequest(rng, n+1)
			withUnknown(req.Documents[0])
			return req
		}, false, false},
		{"unknown field in the request", func(n int) *topicdv1.ClassifyBatchRequest {
			return withUnknown(randomRequest(rng, n)).(*topicdv1.ClassifyBatchRequest)
		}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 7, 1000} {
				for range 5 {
					req := tc.req(n)
					if _, ok := encodeBatchRequest(req); ok != tc.fast {
						t.Fatalf("n=%d: hand encoder took it: %v, want %v", n, ok, tc.fast)
					}
					want, wantErr := proto.Marshal(req)
					got, err := batchCodec{}.Marshal(req)
					if (err != nil) != tc.wantErr || (wantErr != nil) != tc.wantErr {
						t.Fatalf("n=%d: error %v (protobuf-go: %v), want error: %v", n, err, wantErr, tc.wantErr)
					}
					if err != nil {
						continue
					}
					if b := got.Materialize(); string(b) != string(want) {
						t.Fatalf("n=%d: encoded %d bytes different from proto.Marshal's %d", n, len(b), len(want))
					}
					got.Free()
				}
			}
		})
	}
}

func BenchmarkBatchCodecMarshal(b *testing.B) {
	req := randomRequest(rand.New(rand.NewPCG(1, 2)), 1000)
	for _, bc := range []struct {
		name  string
		codec interface {
			Marshal(any) (mem.BufferSlice, error)
		}
	}{{"protobuf-go", protoCodec}, {"batchCodec", batchCodec{}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := bc.codec.Marshal(req)
				if err != nil {
					b.Fatal(err)
				}
				out.Free()
			}
		})
	}
}
