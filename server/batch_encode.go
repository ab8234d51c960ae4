package server

import (
	"math"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// A ClassifyBatchResponse of 1000 documents is the largest message the server sends, and
// protobuf-go's reflective marshal of it (a size pass, then an append pass, both walking
// descriptors per field) was about 12% of the server's CPU under topicctl batch.
// marshalBatchResponse writes the same bytes straight from the Go structs. It relies on what
// the server builds: no unknown fields, and strings already valid UTF-8 (document ids go through
// validUTF8, labels and model names come from loaded models). A result of another shape (an
// error, explanations) is marshaled by the protobuf runtime, so rare cases cost what they did.

// Field numbers of the messages encoded here, from proto/topicd/v1/topicd.proto.
const (
	fieldBatchResults = 1 // ClassifyBatchResponse.results

	fieldResultDocumentID     = 1 // ClassifyBatchResult.document_id
	fieldResultClassification = 2 // ClassifyBatchResult.classification

	fieldClassDocumentID   = 1 // Classification.document_id
	fieldClassLabel        = 2 // Classification.label
	fieldClassConfidence   = 3 // Classification.confidence
	fieldClassScores       = 4 // Classification.scores
	fieldClassModel        = 5 // Classification.model
	fieldClassModelVersion = 6 // Classification.model_version
	fieldClassStats        = 7 // Classification.stats
	fieldClassAbstained    = 8 // Classification.abstained

	fieldScoreLabel      = 1 // LabelScore.label
	fieldScoreConfidence = 2 // LabelScore.confidence

	fieldStatsBytes       = 1 // InputStats.bytes
	fieldStatsTokens      = 2 // InputStats.tokens
	fieldStatsKnownTokens = 3 // InputStats.known_tokens
)

// marshalBatchResponse encodes resp as proto.Marshal would.
func marshalBatchResponse(resp *topicdv1.ClassifyBatchResponse) (mem.BufferSlice, error) {
	// sizes[i] is the encoded size of results[i]; the classifications' sizes follow at
	// len(results)+i. Both are needed twice: for the total and for the length prefixes.
	sizes := make([]int, 2*len(resp.Results))
	total := 0
	for i, r := range resp.Results {
		n, cn := resultSize(r)
		sizes[i], sizes[len(resp.Results)+i] = n, cn
		total += 1 + protowire.SizeVarint(uint64(n)) + n
	}
	var buf []byte
	var pooled *[]byte
	if mem.IsBelowBufferPoolingThreshold(total) {
		buf = make([]byte, 0, total)
	} else {
		pooled = responseBuffers.Get(total)
		buf = (*pooled)[:0]
	}
	var err error
	for i, r := range resp.Results {
		buf = protowire.AppendTag(buf, fieldBatchResults, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(sizes[i]))
		if buf, err = appendResult(buf, r, sizes[len(resp.Results)+i]); err != nil {
			if pooled != nil {
				responseBuffers.Put(pooled)
			}
			return nil, err
		}
	}
	if pooled != nil {
		*pooled = buf
		return mem.BufferSlice{mem.NewBuffer(pooled, responseBuffers)}, nil
	}
	return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
}

// responseBuffers holds the buffers of batch responses between calls.
var responseBuffers = new(wire.UnclearedPool)

// plainClassification returns r's classification if this file encodes it, else nil.
func plainClassification(r *topicdv1.ClassifyBatchResult) *topicdv1.Classification {
	if r == nil {
		return nil
	}
	one, ok := r.Result.(*topicdv1.ClassifyBatchResult_Classification)
	if !ok || one.Classification == nil || len(one.Classification.Explanations) > 0 {
		return nil
	}
	return one.Classification
}

// resultSize returns the encoded size of r and of its classification (0 if r is not plain).
func resultSize(r *topicdv1.ClassifyBatchResult) (n, cn int) {
	c := plainClassification(r)
	if c == nil {
		return proto.Size(r), 0
	}
	cn = classificationSize(c)
	return stringSize(r.DocumentId) + 1 + protowire.SizeVarint(uint64(cn)) + cn, cn
}

func appendResult(b []byte, r *topicdv1.ClassifyBatchResult, cn int) ([]byte, error) {
	c := plainClassification(r)
	if c == nil {
		return proto.MarshalOptions{}.MarshalAppend(b, r)
	}
	b = wire.AppendString(b, fieldResultDocumentID, r.DocumentId)
	b = protowire.AppendTag(b, fieldResultClassification, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(cn))
	return appendClassification(b, c), nil
}

func classificationSize(c *topicdv1.Classification) int {
	n := stringSize(c.DocumentId) + stringSize(c.Label) + floatSize(c.Confidence)
	for _, s := range c.Scores {
		sn := scoreSize(s)
		n += 1 + protowire.SizeVarint(uint64(sn)) + sn
	}
	n += stringSize(c.Model) + stringSize(c.ModelVersion)
	if c.Stats != nil {
		sn := statsSize(c.Stats)
		n += 1 + protowire.SizeVarint(uint64(sn)) + sn
	}
	if c.Abstained {
		n += 2
	}
	return n
}

func appendClassification(b []byte, c *topicdv1.Classification) []byte {
	b = wire.AppendString(b, fieldClassDocumentID, c.DocumentId)
	b = wire.AppendString(b, fieldClassLabel, c.Label)
	b = appendFloat(b, fieldClassConfidence, c.Confidence)
	for _, s := range c.Scores {
		b = protowire.AppendTag(b, fieldClassScores, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(scoreSize(s)))
		b = wire.AppendString(b, fieldScoreLabel, s.GetLabel())
		b = appendFloat(b, fieldScoreConfidence, s.GetConfidence())
	}
	b = wire.AppendString(b, fieldClassModel, c.Model)
	b = wire.AppendString(b, fieldClassModelVersion, c.ModelVersion)
	if st := c.Stats; st != nil {
		b = protowire.AppendTag(b, fieldClassStats, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(statsSize(st)))
		b = appendUint(b, fieldStatsBytes, st.Bytes)
		b = appendUint(b, fieldStatsTokens, st.Tokens)
		b = appendUint(b, fieldStatsKnownTokens, st.KnownTokens)
	}
	if c.Abstained {
		b = protowire.AppendTag(b, fieldClassAbstained, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b
}

func scoreSize(s *topicdv1.LabelScore) int {
	return stringSize(s.GetLabel()) + floatSize(s.GetConfidence())
}

func statsSize(s *topicdv1.InputStats) int {
	return uintSize(s.Bytes) + uintSize(s.Tokens) + uintSize(s.KnownTokens)
}

// The sizes below count a one-byte tag: every field number here is below 16. Zero values are
// left out, as proto3 does; a float is zero only when its bits are (-0 is sent).

func stringSize(s string) int {
	if s == "" {
		return 0
	}
	return 1 + protowire.SizeVarint(uint64(len(s))) + len(s)
}

func floatSize(f float32) int {
	if math.Float32bits(f) == 0 {
		return 0
	}
	return 1 + 4
}

func uintSize(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + protowire.SizeVarint(v)
}

func appendFloat(b []byte, num protowire.Number, f float32) []byte {
	if math.Float32bits(f) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed32Type)
	return protowire.AppendFixed32(b, math.Float32bits(f))
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}
