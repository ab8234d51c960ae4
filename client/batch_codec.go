package client

import (
	"encoding/binary"
	"errors"
	"math"
	"unicode/utf8"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// batchCodec is the protobuf codec with a faster encoder for ClassifyBatchRequest and a faster
// decoder for ClassifyBatchResponse, used by RunBatch. protobuf-go's generic decoder allocates
// every message and string of a response on its own (result, oneof, classification, each score,
// its label, stats, strings); this one allocates the messages of a whole response in a few
// slabs and shares the label, model and version strings, which repeat in every result. Decoding
// was the largest gRPC cost in a batch job client's profile; docs/performance.md has the
// benchmarks.
//
// Both carry every field internal/wire's field table lists: a test fails on a field of the API
// missing there, and another fills every field at random and compares with protobuf-go. A
// response with a field the table does not list (from a newer server) is decoded by protobuf-go
// instead, so nothing is ever dropped. Everything else goes to the standard codec.
type batchCodec struct{}

var protoCodec = encoding.GetCodecV2("proto")

// Name is "proto": the wire format is protobuf, so the content type stays application/grpc+proto.
func (batchCodec) Name() string { return "proto" }

func (batchCodec) Marshal(v any) (mem.BufferSlice, error) {
	if req, ok := v.(*topicdv1.ClassifyBatchRequest); ok {
		if b, ok := encodeBatchRequest(req); ok {
			return b, nil
		}
	}
	return protoCodec.Marshal(v)
}

// encodeBatchRequest writes the bytes proto.Marshal writes for req, without protobuf-go's
// reflective size and append passes per Document, the largest part of a batch job's request
// cost (docs/performance.md). It returns false for anything it does not write exactly as proto.Marshal
// would, or where proto.Marshal fails: a nil document, unknown fields, a string that is not
// valid UTF-8. The caller then marshals with protobuf-go, which gives the same bytes or its error.
func encodeBatchRequest(req *topicdv1.ClassifyBatchRequest) (mem.BufferSlice, bool) {
	if len(req.ProtoReflect().GetUnknown()) > 0 || !utf8.ValidString(req.Model) {
		return nil, false
	}
	var opts []byte
	if req.Options != nil {
		// The options are a few numbers and a map, for protobuf-go; deterministic so that the
		// same request always gives the same bytes.
		var err error
		if opts, err = (proto.MarshalOptions{Deterministic: true}).Marshal(req.Options); err != nil {
			return nil, false
		}
	}
	total := 0
	for _, d := range req.Documents {
		if d == nil || len(d.ProtoReflect().GetUnknown()) > 0 ||
			!utf8.ValidString(d.Id) || !utf8.ValidString(d.Text) || !utf8.ValidString(d.Title) {
			return nil, false
		}
		total += wire.SizeMessage(documentSize(d))
	}
	total += wire.SizeString(req.Model)
	if req.Options != nil {
		total += wire.SizeMessage(len(opts))
	}
	pb := requestBuffers.Get(total)
	buf := (*pb)[:0]
	for _, d := range req.Documents {
		buf = wire.AppendMessageHeader(buf, wire.BatchRequestDocuments, documentSize(d))
		buf = wire.AppendString(buf, wire.DocumentID, d.Id)
		buf = wire.AppendString(buf, wire.DocumentText, d.Text)
		buf = wire.AppendString(buf, wire.DocumentTitle, d.Title)
		buf = wire.AppendEnum(buf, wire.DocumentContentType, int32(d.ContentType))
	}
	buf = wire.AppendString(buf, wire.BatchRequestModel, req.Model)
	if req.Options != nil {
		buf = wire.AppendMessageHeader(buf, wire.BatchRequestOptions, len(opts))
		buf = append(buf, opts...)
	}
	*pb = buf
	return mem.BufferSlice{mem.NewBuffer(pb, requestBuffers)}, true
}

// requestBuffers holds the buffers of batch requests between calls.
var requestBuffers = new(wire.UnclearedPool)

// documentSize is the encoded size of d without its tag and length.
func documentSize(d *topicdv1.Document) int {
	return wire.SizeString(d.Id) + wire.SizeString(d.Text) + wire.SizeString(d.Title) +
		wire.SizeEnum(int32(d.ContentType))
}

func (batchCodec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, ok := v.(*topicdv1.ClassifyBatchResponse)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	var b []byte
	if len(data) == 1 {
		b = data[0].ReadOnlyData()
	} else {
		b = data.Materialize()
	}
	if err := decodeBatchResponse(b, resp); err != nil {
		proto.Reset(resp)
		return proto.Unmarshal(b, resp)
	}
	return nil
}

// errFallback makes the caller decode with protobuf-go: a field the fast decoder does not know,
// a field repeated where protobuf merges, or a string that is not UTF-8 (protobuf-go refuses it,
// with its own error).
var errFallback = errors.New("response the fast decoder leaves to protobuf-go")

// batchDecoder holds the slabs and interned strings of one response.
type batchDecoder struct {
	results []topicdv1.ClassifyBatchResult
	oneofs  []topicdv1.ClassifyBatchResult_Classification
	cls     []topicdv1.Classification
	stats   []topicdv1.InputStats
	scores  slab[topicdv1.LabelScore]
	topics  slab[topicdv1.TopicScore]
	strs    map[string]string
}

// slab hands out messages of one type from shared arrays, and holds the pointer lists of the
// repeated fields that refer to them, each list contiguous.
type slab[T any] struct {
	elems []T
	ptrs  []*T
}

// next returns a new zero element; hint sizes a new array when the current one is full, which
// leaves the pointers already handed out valid.
func (s *slab[T]) next(hint int) *T {
	if len(s.elems) == cap(s.elems) {
		s.elems = make([]T, 0, max(hint, 16))
	}
	s.elems = s.elems[:len(s.elems)+1]
	return &s.elems[len(s.elems)-1]
}

// add appends p to the list that starts at s.ptrs[*start], moving that list to a new array when
// the current one is full.
func (s *slab[T]) add(start *int, p *T, hint int) {
	if len(s.ptrs) == cap(s.ptrs) {
		ptrs := make([]*T, 0, max(hint, 2*(len(s.ptrs)-*start)+8))
		s.ptrs = append(ptrs, s.ptrs[*start:]...)
		*start = 0
	}
	s.ptrs = append(s.ptrs, p)
}

// list returns the list that starts at s.ptrs[start], nil if empty.
func (s *slab[T]) list(start int) []*T {
	if len(s.ptrs) == start {
		return nil
	}
	return s.ptrs[start:len(s.ptrs):len(s.ptrs)]
}

// decodeBatchResponse decodes b into resp, which must be empty.
func decodeBatchResponse(b []byte, resp *topicdv1.ClassifyBatchResponse) error {
	n := 0
	for rest := b; len(rest) > 0; {
		num, typ, l := protowire.ConsumeTag(rest)
		if l < 0 || num != wire.BatchResponseResults || typ != protowire.BytesType {
			return errFallback
		}
		rest = rest[l:]
		_, l = protowire.ConsumeBytes(rest)
		if l < 0 {
			return protowire.ParseError(l)
		}
		rest = rest[l:]
		n++
	}
	d := &batchDecoder{
		results: make([]topicdv1.ClassifyBatchResult, n),
		oneofs:  make([]topicdv1.ClassifyBatchResult_Classification, n),
		cls:     make([]topicdv1.Classification, n),
		stats:   make([]topicdv1.InputStats, n),
		strs:    make(map[string]string, 8),
	}
	out := make([]*topicdv1.ClassifyBatchResult, n)
	for i := range n {
		_, _, l := protowire.ConsumeTag(b)
		b = b[l:]
		v, l := protowire.ConsumeBytes(b)
		b = b[l:]
		if err := d.result(v, i); err != nil {
			return err
		}
		out[i] = &d.results[i]
	}
	resp.Results = out
	return nil
}

// field is one field of an encoded message: its number and wire type, and its value as a
// varint, a fixed32 or the bytes of a length-delimited field.
type field struct {
	num   protowire.Number
	typ   protowire.Type
	u     uint64
	bytes []byte
}

// next reads the field at the start of b and returns the rest of b. Most fields of a response
// are a one-byte tag and a value of under 128 bytes or a fixed32: those take the inlined path.
func next(b []byte, f *field) ([]byte, error) {
	if len(b) >= 2 && b[0] < 0x80 {
		f.num = protowire.Number(b[0] >> 3)
		switch protowire.Type(b[0] & 7) {
		case protowire.BytesType:
			if n := 2 + int(b[1]); b[1] < 0x80 && n <= len(b) {
				f.typ, f.bytes = protowire.BytesType, b[2:n]
				return b[n:], nil
			}
		case protowire.VarintType:
			if b[1] < 0x80 {
				f.typ, f.u = protowire.VarintType, uint64(b[1])
				return b[2:], nil
			}
		case protowire.Fixed32Type:
			if len(b) >= 5 {
				f.typ, f.u = protowire.Fixed32Type, uint64(binary.LittleEndian.Uint32(b[1:]))
				return b[5:], nil
			}
		}
	}
	return nextSlow(b, f)
}

// nextSlow is next for any field.
func nextSlow(b []byte, f *field) ([]byte, error) {
	num, typ, l := protowire.ConsumeTag(b)
	if l < 0 {
		return nil, protowire.ParseError(l)
	}
	b = b[l:]
	f.num, f.typ = num, typ
	switch typ {
	case protowire.BytesType:
		f.bytes, l = protowire.ConsumeBytes(b)
	case protowire.VarintType:
		f.u, l = protowire.ConsumeVarint(b)
	case protowire.Fixed32Type:
		var v uint32
		v, l = protowire.ConsumeFixed32(b)
		f.u = uint64(v)
	default:
		return nil, errFallback
	}
	if l < 0 {
		return nil, protowire.ParseError(l)
	}
	return b[l:], nil
}

// is reports whether f is field num of wire type typ.
func (f *field) is(num protowire.Number, typ protowire.Type) bool {
	return f.num == num && f.typ == typ
}

func (f *field) float() float32 { return math.Float32frombits(uint32(f.u)) }

// str returns f's bytes as a string, or errFallback if they are not UTF-8.
func (f *field) str() (string, error) {
	if !utf8.Valid(f.bytes) {
		return "", errFallback
	}
	return string(f.bytes), nil
}

func (d *batchDecoder) result(b []byte, i int) error {
	r := &d.results[i]
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.BatchResultDocumentID, protowire.BytesType):
			if r.DocumentId, err = f.str(); err != nil {
				return err
			}
		case f.is(wire.BatchResultClassification, protowire.BytesType) && r.Result == nil:
			c := &d.cls[i]
			if err := d.classification(f.bytes, c, i); err != nil {
				return err
			}
			d.oneofs[i].Classification = c
			r.Result = &d.oneofs[i]
		case f.is(wire.BatchResultError, protowire.BytesType) && r.Result == nil:
			st := new(spb.Status)
			if err := proto.Unmarshal(f.bytes, st); err != nil {
				return err
			}
			r.Result = &topicdv1.ClassifyBatchResult_Error{Error: st}
		default:
			// Also a second classification or error, which protobuf merges into the first.
			return errFallback
		}
	}
	return nil
}

func (d *batchDecoder) classification(b []byte, c *topicdv1.Classification, i int) error {
	scores, topics := len(d.scores.ptrs), len(d.topics.ptrs) // where this classification's lists start
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.ClassificationDocumentID, protowire.BytesType):
			if id := d.results[i].DocumentId; id == string(f.bytes) {
				c.DocumentId = id // the result's id, already a string
			} else if c.DocumentId, err = f.str(); err != nil {
				return err
			}
		case f.is(wire.ClassificationLabel, protowire.BytesType):
			if c.Label, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.ClassificationConfidence, protowire.Fixed32Type):
			c.Confidence = f.float()
		case f.is(wire.ClassificationScores, protowire.BytesType):
			s := d.scores.next(4 * len(d.cls))
			if err := d.score(f.bytes, s); err != nil {
				return err
			}
			d.scores.add(&scores, s, 4*len(d.cls))
		case f.is(wire.ClassificationModel, protowire.BytesType):
			if c.Model, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.ClassificationModelVersion, protowire.BytesType):
			if c.ModelVersion, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.ClassificationStats, protowire.BytesType):
			// A repeated message field merges into the first, as here.
			st := &d.stats[i]
			if err := inputStats(f.bytes, st); err != nil {
				return err
			}
			c.Stats = st
		case f.is(wire.ClassificationAbstained, protowire.VarintType):
			c.Abstained = f.u != 0
		case f.is(wire.ClassificationExplanations, protowire.BytesType):
			e := new(topicdv1.Explanation)
			if err := d.explanation(f.bytes, e); err != nil {
				return err
			}
			c.Explanations = append(c.Explanations, e)
		case f.is(wire.ClassificationTopics, protowire.BytesType):
			t := d.topics.next(4 * len(d.cls))
			if err := d.topic(f.bytes, t); err != nil {
				return err
			}
			d.topics.add(&topics, t, 4*len(d.cls))
		case f.is(wire.ClassificationExtracted, protowire.BytesType):
			if c.Extracted == nil {
				c.Extracted = new(topicdv1.ExtractedText)
			}
			if err := extracted(f.bytes, c.Extracted); err != nil {
				return err
			}
		default:
			return errFallback
		}
	}
	c.Scores, c.Topics = d.scores.list(scores), d.topics.list(topics)
	return nil
}

func (d *batchDecoder) score(b []byte, s *topicdv1.LabelScore) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.LabelScoreLabel, protowire.BytesType):
			if s.Label, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.LabelScoreConfidence, protowire.Fixed32Type):
			s.Confidence = f.float()
		default:
			return errFallback
		}
	}
	return nil
}

func inputStats(b []byte, st *topicdv1.InputStats) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.InputStatsBytes, protowire.VarintType):
			st.Bytes = f.u
		case f.is(wire.InputStatsTokens, protowire.VarintType):
			st.Tokens = f.u
		case f.is(wire.InputStatsKnownTokens, protowire.VarintType):
			st.KnownTokens = f.u
		default:
			return errFallback
		}
	}
	return nil
}

func (d *batchDecoder) explanation(b []byte, e *topicdv1.Explanation) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.ExplanationLabel, protowire.BytesType):
			if e.Label, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.ExplanationTerms, protowire.BytesType):
			t := new(topicdv1.TermWeight)
			if err := termWeight(f.bytes, t); err != nil {
				return err
			}
			e.Terms = append(e.Terms, t)
		default:
			return errFallback
		}
	}
	return nil
}

func termWeight(b []byte, t *topicdv1.TermWeight) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.TermWeightTerm, protowire.BytesType):
			if t.Term, err = f.str(); err != nil {
				return err
			}
		case f.is(wire.TermWeightWeight, protowire.Fixed32Type):
			t.Weight = f.float()
		default:
			return errFallback
		}
	}
	return nil
}

func (d *batchDecoder) topic(b []byte, t *topicdv1.TopicScore) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.TopicScoreTopic, protowire.BytesType):
			if t.Topic, err = d.intern(f.bytes); err != nil {
				return err
			}
		case f.is(wire.TopicScoreProbability, protowire.Fixed32Type):
			t.Probability = f.float()
		case f.is(wire.TopicScorePresent, protowire.VarintType):
			t.Present = f.u != 0
		case f.is(wire.TopicScoreThreshold, protowire.Fixed32Type):
			t.Threshold = f.float()
		case f.is(wire.TopicScoreEvidence, protowire.BytesType):
			if t.Evidence == nil {
				t.Evidence = new(topicdv1.Passage)
			}
			if err := passage(f.bytes, t.Evidence); err != nil {
				return err
			}
		default:
			return errFallback
		}
	}
	return nil
}

func passage(b []byte, p *topicdv1.Passage) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.PassageStart, protowire.VarintType):
			p.Start = uint32(f.u)
		case f.is(wire.PassageEnd, protowire.VarintType):
			p.End = uint32(f.u)
		case f.is(wire.PassageText, protowire.BytesType):
			if p.Text, err = f.str(); err != nil {
				return err
			}
		case f.is(wire.PassageScore, protowire.Fixed32Type):
			p.Score = f.float()
		default:
			return errFallback
		}
	}
	return nil
}

func extracted(b []byte, x *topicdv1.ExtractedText) error {
	var f field
	var err error
	for len(b) > 0 {
		if b, err = next(b, &f); err != nil {
			return err
		}
		switch {
		case f.is(wire.ExtractedTextTitle, protowire.BytesType):
			if x.Title, err = f.str(); err != nil {
				return err
			}
		case f.is(wire.ExtractedTextText, protowire.BytesType):
			if x.Text, err = f.str(); err != nil {
				return err
			}
		default:
			return errFallback
		}
	}
	return nil
}

// intern returns b as a string, shared with every equal string of the response, or
// errFallback if b is not UTF-8 (checked once per distinct string).
func (d *batchDecoder) intern(b []byte) (string, error) {
	if s, ok := d.strs[string(b)]; ok {
		return s, nil
	}
	if !utf8.Valid(b) {
		return "", errFallback
	}
	s := string(b)
	if len(d.strs) < 64 {
		d.strs[s] = s
	}
	return s, nil
}
