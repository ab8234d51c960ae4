package server

import (
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// batchRequestSeeds are encoded ClassifyBatchRequests, some of which the slab decoder hands to
// the standard one.
func batchRequestSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, req := range []*topicdv1.ClassifyBatchRequest{
		{},
		{Documents: []*topicdv1.Document{doc("a", sampleArticle), {Id: "b", Title: "title", Text: "migrants"}, {}, doc("", "")}},
		{Documents: []*topicdv1.Document{doc("a", "x")}, Model: "news-topics", Options: &topicdv1.ClassifyOptions{TopK: 2, MinConfidence: 0.5, Explain: true, ExplainTerms: 3}},
		{Model: "m", Options: &topicdv1.ClassifyOptions{}},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b)
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
	seeds = append(seeds,
		raw(str(1, string(raw(str(1, "bad\xff"), str(2, "caf\xe9"))))),                                                        // invalid UTF-8: kept for validation
		raw(str(2, "first"), str(2, "second")),                                                                                // last value wins
		raw(str(1, string(raw(str(2, "one"), str(2, "two"))))),                                                                // also inside a document
		raw(str(3, string(protowire.AppendVarint([]byte{0x08}, 2))), str(3, string(protowire.AppendVarint([]byte{0x18}, 1)))), // options merge
		raw(str(1, string(raw(str(9, "unknown"), str(2, "text"))))),                                                           // unknown document field
		raw(str(7, "unknown"), str(1, string(str(2, "text")))),                                                                // unknown request field
		raw(protowire.AppendVarint([]byte{0x08}, 5)),                                                                          // wrong wire type
		raw(str(1, "\x12\x05ab")),                                                                                             // truncated document
		[]byte{0x0a, 0x80},                                                                                                    // truncated request
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

func TestUnmarshalBatchRequest(t *testing.T) {
	for i, b := range batchRequestSeeds(t) {
		t.Run(string(rune('a'+i)), func(t *testing.T) { checkBatchDecode(t, b) })
	}
}

// FuzzBatchRequestBytes checks that the batch request decoder agrees with the standard one on
// arbitrary bytes.
func FuzzBatchRequestBytes(f *testing.F) {
	for _, b := range batchRequestSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(checkBatchDecode)
}
