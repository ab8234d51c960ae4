package client

import (
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

// batchCodec is the protobuf codec with a faster decoder for ClassifyBatchResponse, used by
// RunBatch. protobuf-go's generic decoder allocates about 18 objects per document of a
// response (result, oneof, classification, four scores, their labels, stats, strings); this one
// allocates the messages of a whole response in a few slabs and shares the label, model and
// version strings, which repeat in every result. It measured as the largest gRPC cost of a batch
// job's client.
//
// It decodes only the fields it knows; a response with any other field (a newer server) is
// decoded by protobuf-go instead, so nothing is ever dropped. Everything else goes to the
// standard codec.
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

// Field numbers of the request encoded by encodeBatchRequest, from proto/topicd/v1/topicd.proto.
const (
	fieldRequestDocuments = 1 // ClassifyBatchRequest.documents
	fieldRequestModel     = 2 // ClassifyBatchRequest.model
	fieldRequestOptions   = 3 // ClassifyBatchRequest.options

	fieldDocumentID    = 1 // Document.id
	fieldDocumentText  = 2 // Document.text
	fieldDocumentTitle = 3 // Document.title
)

// encodeBatchRequest writes the bytes proto.Marshal writes for req, without protobuf-go's
// reflective size and append passes per Document, which measured as the largest part of a batch
// job's request cost. It returns false for anything it does not write exactly as proto.Marshal
// would, or where proto.Marshal fails: a nil document, unknown fields, a string that is not
// valid UTF-8. The caller then marshals with protobuf-go, which gives the same bytes or its error.
func encodeBatchRequest(req *topicdv1.ClassifyBatchRequest) (mem.BufferSlice, bool) {
	if len(req.ProtoReflect().GetUnknown()) > 0 || !utf8.ValidString(req.Model) {
		return nil, false
	}
	var opts []byte
	if req.Options != nil {
		var err error
		if opts, err = proto.Marshal(req.Options); err != nil {
			return nil, false
		}
	}
	total := 0
	for _, d := range req.Documents {
		if d == nil || len(d.ProtoReflect().GetUnknown()) > 0 ||
			!utf8.ValidString(d.Id) || !utf8.ValidString(d.Text) || !utf8.ValidString(d.Title) {
			return nil, false
		}
		n := documentSize(d)
		total += 1 + protowire.SizeVarint(uint64(n)) + n
	}
	if req.Model != "" {
		total += 1 + protowire.SizeBytes(len(req.Model))
	}
	if req.Options != nil {
		total += 1 + protowire.SizeBytes(len(opts))
	}
	pb := requestBuffers.Get(total)
	buf := (*pb)[:0]
	for _, d := range req.Documents {
		buf = protowire.AppendTag(buf, fieldRequestDocuments, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(documentSize(d)))
		buf = wire.AppendString(buf, fieldDocumentID, d.Id)
		buf = wire.AppendString(buf, fieldDocumentText, d.Text)
		buf = wire.AppendString(buf, fieldDocumentTitle, d.Title)
	}
	buf = wire.AppendString(buf, fieldRequestModel, req.Model)
	if req.Options != nil {
		buf = protowire.AppendTag(buf, fieldRequestOptions, protowire.BytesType)
		buf = protowire.AppendBytes(buf, opts)
	}
	*pb = buf
	return mem.BufferSlice{mem.NewBuffer(pb, requestBuffers)}, true
}

// requestBuffers holds the buffers of batch requests between calls.
var requestBuffers = new(wire.UnclearedPool)

// documentSize is the encoded size of d without its tag and length.
func documentSize(d *topicdv1.Document) int {
	n := 0
	for _, s := range [...]string{d.Id, d.Text, d.Title} {
		if s != "" {
			n += 1 + protowire.SizeBytes(len(s))
		}
	}
	return n
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

// errUnknownField makes the caller fall back to protobuf-go.
var errUnknownField = errors.New("field the fast decoder does not know")

// batchDecoder holds the slabs and interned strings of one response.
type batchDecoder struct {
	results []topicdv1.ClassifyBatchResult
	oneofs  []topicdv1.ClassifyBatchResult_Classification
	cls     []topicdv1.Classification
	stats   []topicdv1.InputStats
	scores  []topicdv1.LabelScore
	ptrs    []*topicdv1.LabelScore
	strs    map[string]string
}

// decodeBatchResponse decodes b into resp, which must be empty.
func decodeBatchResponse(b []byte, resp *topicdv1.ClassifyBatchResponse) error {
	n := 0
	for rest := b; len(rest) > 0; {
		num, typ, l := protowire.ConsumeTag(rest)
		if l < 0 || num != 1 || typ != protowire.BytesType {
			return errUnknownField
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

func (d *batchDecoder) result(b []byte, i int) error {
	r := &d.results[i]
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if typ != protowire.BytesType {
			return errUnknownField
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		switch num {
		case 1:
			r.DocumentId = string(v)
		case 2:
			c := &d.cls[i]
			if err := d.classification(v, c, i); err != nil {
				return err
			}
			d.oneofs[i].Classification = c
			r.Result = &d.oneofs[i]
		case 3:
			st := new(spb.Status)
			if err := proto.Unmarshal(v, st); err != nil {
				return err
			}
			r.Result = &topicdv1.ClassifyBatchResult_Error{Error: st}
		default:
			return errUnknownField
		}
	}
	return nil
}

func (d *batchDecoder) classification(b []byte, c *topicdv1.Classification, i int) error {
	start := len(d.ptrs) // this classification's scores are d.ptrs[start:]
	defer func() {
		if len(d.ptrs) > start {
			c.Scores = d.ptrs[start:len(d.ptrs):len(d.ptrs)]
		}
	}()
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		switch {
		case typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
			switch num {
			case 1:
				if id := d.results[i].DocumentId; id == string(v) {
					c.DocumentId = id // the result's id, already a string
				} else {
					c.DocumentId = string(v)
				}
			case 2:
				c.Label = d.intern(v)
			case 4:
				s, err := d.score(v)
				if err != nil {
					return err
				}
				if len(d.ptrs) == cap(d.ptrs) {
					ptrs := make([]*topicdv1.LabelScore, 0, max(4*len(d.cls), 2*(len(d.ptrs)-start)+8))
					d.ptrs = append(ptrs, d.ptrs[start:]...)
					start = 0
				}
				d.ptrs = append(d.ptrs, s)
			case 5:
				c.Model = d.intern(v)
			case 6:
				c.ModelVersion = d.intern(v)
			case 7:
				st := &d.stats[i]
				if err := inputStats(v, st); err != nil {
					return err
				}
				c.Stats = st
			case 9:
				e := new(topicdv1.Explanation)
				if err := proto.Unmarshal(v, e); err != nil {
					return err
				}
				c.Explanations = append(c.Explanations, e)
			default:
				return errUnknownField
			}
		case num == 3 && typ == protowire.Fixed32Type:
			v, l := protowire.ConsumeFixed32(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
			c.Confidence = math.Float32frombits(v)
		case num == 8 && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return protowire.ParseError(l)
			}
			b = b[l:]
			c.Abstained = v != 0
		default:
			return errUnknownField
		}
	}
	return nil
}

// score decodes one LabelScore into the scores slab, taking a new slab when it is full so
// that pointers already handed out stay valid.
func (d *batchDecoder) score(b []byte) (*topicdv1.LabelScore, error) {
	if len(d.scores) == cap(d.scores) {
		d.scores = make([]topicdv1.LabelScore, 0, max(4*len(d.cls), 16))
	}
	d.scores = d.scores[:len(d.scores)+1]
	s := &d.scores[len(d.scores)-1]
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return nil, protowire.ParseError(l)
		}
		b = b[l:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			b = b[l:]
			s.Label = d.intern(v)
		case num == 2 && typ == protowire.Fixed32Type:
			v, l := protowire.ConsumeFixed32(b)
			if l < 0 {
				return nil, protowire.ParseError(l)
			}
			b = b[l:]
			s.Confidence = math.Float32frombits(v)
		default:
			return nil, errUnknownField
		}
	}
	return s, nil
}

func inputStats(b []byte, st *topicdv1.InputStats) error {
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		if typ != protowire.VarintType || num < 1 || num > 3 {
			return errUnknownField
		}
		v, l := protowire.ConsumeVarint(b)
		if l < 0 {
			return protowire.ParseError(l)
		}
		b = b[l:]
		switch num {
		case 1:
			st.Bytes = v
		case 2:
			st.Tokens = v
		case 3:
			st.KnownTokens = v
		}
	}
	return nil
}

// intern returns b as a string, shared with every equal string of the response.
func (d *batchDecoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < 64 {
		d.strs[s] = s
	}
	return s
}
