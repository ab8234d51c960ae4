package server

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire/wiretest"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// batchRequestSeed is an encoded ClassifyBatchRequest and whether the slab decoder must decode
// it itself rather than hand it to the standard decoder.
type batchRequestSeed struct {
	b    []byte
	fast bool
}

// batchRequestSeeds are encoded ClassifyBatchRequests, some of which the slab decoder hands to
// the standard one.
func batchRequestSeeds(t testing.TB) []batchRequestSeed {
	var seeds []batchRequestSeed
	for _, req := range []*topicdv1.ClassifyBatchRequest{
		{},
		{Documents: []*topicdv1.Document{doc("a", sampleArticle), {Id: "b", Title: "title", Text: "migrants"}, {}, doc("", "")}},
		{Documents: []*topicdv1.Document{doc("a", "x")}, Model: "news-topics", Options: &topicdv1.ClassifyOptions{TopK: 2, MinConfidence: 0.5, Explain: true, ExplainTerms: 3}},
		{Model: "m", Options: &topicdv1.ClassifyOptions{}},
		{Documents: []*topicdv1.Document{{Id: "h", Text: "<p>x</p>", ContentType: topicdv1.ContentType_CONTENT_TYPE_HTML}, {ContentType: -1}}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, batchRequestSeed{b, true})
	}
	raw := func(fields ...[]byte) []byte {
		var b []byte
		for _, f := range fields {
			b = append(b, f...)
		}
		return b
	}
	str := func(num protowire.Number, v string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	varint := func(num protowire.Number, v uint64) []byte {
		return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
	}
	seeds = append(seeds,
		batchRequestSeed{raw(str(1, string(raw(str(1, "bad\xff"), str(2, "caf\xe9"), str(3, "\xc3"))))), true},                                        // invalid UTF-8: kept for validation
		batchRequestSeed{raw(str(2, "first"), str(2, "second")), true},                                                                                // last value wins
		batchRequestSeed{raw(str(1, string(raw(str(2, "one"), str(2, "two"), varint(4, 2), varint(4, 1))))), true},                                    // also inside a document
		batchRequestSeed{raw(str(1, string(varint(4, 1<<32+2)))), true},                                                                               // an enum keeps its low 32 bits
		batchRequestSeed{raw(str(3, string(protowire.AppendVarint([]byte{0x08}, 2))), str(3, string(protowire.AppendVarint([]byte{0x18}, 1)))), true}, // options merge
		batchRequestSeed{raw(str(1, string(raw(str(9, "unknown"), str(2, "text"))))), false},                                                          // unknown document field
		batchRequestSeed{raw(str(7, "unknown"), str(1, string(str(2, "text")))), false},                                                               // unknown request field
		batchRequestSeed{raw(protowire.AppendVarint([]byte{0x08}, 5)), false},                                                                         // wrong wire type
		batchRequestSeed{raw(str(1, string(str(4, "html")))), false},                                                                                  // wrong wire type in a document
		batchRequestSeed{raw(str(1, "\x12\x05ab")), false},                                                                                            // truncated document
		batchRequestSeed{[]byte{0x0a, 0x80}, false},                                                                                                   // truncated request
	)
	return seeds
}

// checkBatchDecode compares the server codec's decoding of b with the standard decoder followed
// by the lenient one, which it replaces for batch requests.
func checkBatchDecode(t *testing.T, b []byte) {
	codec := lenientCodec{encoding.GetCodecV2("proto")}
	got, want := &topicdv1.ClassifyBatchRequest{}, &topicdv1.ClassifyBatchRequest{}
	gotErr := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got)
	wantErr := codec.unmarshalStandard(mem.BufferSlice{mem.SliceBuffer(b)}, want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Unmarshal(%x) error = %v, standard decoding error = %v", b, gotErr, wantErr)
	}
	if gotErr == nil && !proto.Equal(got, want) {
		t.Errorf("Unmarshal(%x) =\n%v\nstandard decoding =\n%v", b, got, want)
	}
}

// TestUnmarshalBatchRequest checks the seeds against the standard decoder, and that the slab
// decoder decoded those it must itself.
func TestUnmarshalBatchRequest(t *testing.T) {
	for i, seed := range batchRequestSeeds(t) {
		t.Run(string(rune('a'+i)), func(t *testing.T) {
			checkBatchDecode(t, seed.b)
			if fast := unmarshalBatchRequest(mem.BufferSlice{mem.SliceBuffer(seed.b)}, new(topicdv1.ClassifyBatchRequest)); fast != seed.fast {
				t.Errorf("slab decoder took %x: %v, want %v", seed.b, fast, seed.fast)
			}
		})
	}
}

// TestUnmarshalBatchRequestRandom fills every field of random requests (every field the
// descriptors list, so also one added to Document later) and checks that the slab decoder
// decodes each itself, to what protobuf-go decodes.
func TestUnmarshalBatchRequestRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		want := new(topicdv1.ClassifyBatchRequest)
		wiretest.Fill(rng, want.ProtoReflect())
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got := new(topicdv1.ClassifyBatchRequest)
		if !unmarshalBatchRequest(mem.BufferSlice{mem.SliceBuffer(b)}, got) {
			t.Fatalf("request %d: the slab decoder handed it to protobuf-go:\n%v", i, want)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("request %d: slab decoder =\n%v\nwant\n%v", i, got, want)
		}
	}
}

// FuzzBatchRequestBytes checks that the batch request decoder agrees with the standard one on
// arbitrary bytes.
func FuzzBatchRequestBytes(f *testing.F) {
	for _, seed := range batchRequestSeeds(f) {
		f.Add(seed.b)
	}
	f.Fuzz(checkBatchDecode)
}

// BenchmarkUnmarshalBatchRequest compares the batch request decoder with protobuf-go on 1000
// documents (ns/op is per request).
func BenchmarkUnmarshalBatchRequest(b *testing.B) {
	req := &topicdv1.ClassifyBatchRequest{Model: "news-topics"}
	for i := range DefaultMaxBatchDocuments {
		req.Documents = append(req.Documents, &topicdv1.Document{Id: fmt.Sprint("doc-", i), Title: "Ministry hacked", Text: FloorSample})
	}
	data, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	codec := lenientCodec{encoding.GetCodecV2("proto")}
	b.Run("topicd", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m topicdv1.ClassifyBatchRequest
			if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var m topicdv1.ClassifyBatchRequest
			if err := proto.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestClassifyBatchInvalidUTF8 sends a batch through a real connection whose documents carry
// invalid UTF-8 in one field each: the slab decoder takes the request (it checks no UTF-8), and
// validation refuses exactly those documents, naming the field, while the others are classified.
func TestClassifyBatchInvalidUTF8(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	docs := []*topicdv1.Document{
		doc("ok", sampleArticle),
		{Id: "cafe", Text: "Migrants crossed the border."},
		{Id: "title", Title: "cafe", Text: "Migrants crossed the border."},
		{Id: "text", Text: "Hackers at the cafe."},
		{Id: "title only", Title: "Hackers broke into the ministry network"},
	}
	raw := corrupt(t, &topicdv1.ClassifyBatchRequest{Documents: docs}, "cafe", "caf\xe9")
	if !unmarshalBatchRequest(mem.BufferSlice{mem.SliceBuffer(raw)}, new(topicdv1.ClassifyBatchRequest)) {
		t.Fatal("the slab decoder left the request to protobuf-go")
	}
	resp := &topicdv1.ClassifyBatchResponse{}
	if err := env.conn.Invoke(testCtx(t), topicdv1.ClassifierService_ClassifyBatch_FullMethodName, raw, resp, sendRaw()); err != nil {
		t.Fatalf("ClassifyBatch = %v", err)
	}
	if len(resp.Results) != len(docs) {
		t.Fatalf("ClassifyBatch returned %d results, want %d", len(resp.Results), len(docs))
	}
	wantField := []string{"", "document.id", "document.title", "document.text", ""}
	for i, r := range resp.Results {
		switch e := r.GetError(); {
		case wantField[i] == "" && r.GetClassification() == nil:
			t.Errorf("results[%d] = %v, want a classification", i, r)
		case wantField[i] != "" && (e == nil || codes.Code(e.Code) != codes.InvalidArgument || !strings.Contains(e.Message, wantField[i]+" is not valid UTF-8")):
			t.Errorf("results[%d] = %v, want INVALID_ARGUMENT naming %s", i, r, wantField[i])
		}
	}
}
