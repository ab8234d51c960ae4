package server

import (
	"unsafe"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// protobuf-go decodes a ClassifyBatchRequest of 1000 documents into 1000 separately allocated
// Documents and up to 3000 strings, each checked for UTF-8 that document validation checks again.
// unmarshalBatchRequest copies the message once into a string that every id, title and text
// points into, and puts the Documents in one slab: a few allocations per call instead of
// thousands. It reads every field of Document that internal/wire's field table lists (a test
// fails on a field of the API missing there, and another fills every field at random and
// compares the result with protobuf-go's). It does not check UTF-8: validateDocument does, per
// document, as the lenient codec would after a request with invalid UTF-8. Anything it does not
// expect (unknown fields, wire types other than the proto's) makes it return false, and the
// caller decodes the request the standard way.
//
// The documents keep the whole request's bytes alive until they are all unreachable, which for
// a batch is the end of the call.

// unmarshalBatchRequest decodes data into req, which must be empty. It reports false, with req
// possibly half filled, when data is not a request it decodes.
func unmarshalBatchRequest(data mem.BufferSlice, req *topicdv1.ClassifyBatchRequest) bool {
	n := data.Len()
	if n == 0 {
		return true
	}
	b := make([]byte, n)
	data.CopyTo(b)
	// b is never written again, so a string over it is as immutable as any other.
	s := unsafe.String(&b[0], n)

	docs := 0
	for rest := s; len(rest) > 0; {
		num, typ, fn := consumeField(rest)
		if fn < 0 {
			return false
		}
		if num == wire.BatchRequestDocuments && typ == protowire.BytesType {
			docs++
		}
		rest = rest[fn:]
	}
	slab := make([]topicdv1.Document, docs)
	req.Documents = make([]*topicdv1.Document, 0, docs)

	for rest := s; len(rest) > 0; {
		num, typ, fn := consumeField(rest)
		// The first pass checked the framing of every top-level field.
		field := rest[:fn]
		rest = rest[fn:]
		switch {
		case num == wire.BatchRequestDocuments && typ == protowire.BytesType:
			d := &slab[len(req.Documents)]
			if !decodeDocument(bytesValue(field), d) {
				return false
			}
			req.Documents = append(req.Documents, d)
		case num == wire.BatchRequestModel && typ == protowire.BytesType:
			req.Model = bytesValue(field)
		case num == wire.BatchRequestOptions && typ == protowire.BytesType:
			if req.Options == nil {
				req.Options = new(topicdv1.ClassifyOptions)
			}
			// Options are a few numbers and a small map: the standard decoder, merging as the
			// standard decoder does when the field repeats.
			v := bytesValue(field)
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(unsafe.Slice(unsafe.StringData(v), len(v)), req.Options); err != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// decodeDocument fills d from the encoded Document s, the last value winning for a repeated
// field as in protobuf.
func decodeDocument(s string, d *topicdv1.Document) bool {
	for len(s) > 0 {
		num, typ, fn := consumeField(s)
		if fn < 0 {
			return false
		}
		field := s[:fn]
		s = s[fn:]
		if typ != protowire.BytesType {
			if num != wire.DocumentContentType || typ != protowire.VarintType {
				return false
			}
			// An enum is an int32 on the wire: protobuf-go keeps the low 32 bits.
			d.ContentType = topicdv1.ContentType(int32(varintValue(field)))
			continue
		}
		v := bytesValue(field)
		switch num {
		case wire.DocumentID:
			d.Id = v
		case wire.DocumentText:
			d.Text = v
		case wire.DocumentTitle:
			d.Title = v
		default:
			return false
		}
	}
	return true
}

// consumeField parses the field at the start of s: its number, wire type and total length, or a
// negative length if it is malformed.
func consumeField(s string) (protowire.Number, protowire.Type, int) {
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return 0, 0, n
	}
	vn := protowire.ConsumeFieldValue(num, typ, b[n:])
	if vn < 0 {
		return 0, 0, vn
	}
	return num, typ, n + vn
}

// varintValue returns the value of field, a well-formed varint field.
func varintValue(field string) uint64 {
	b := unsafe.Slice(unsafe.StringData(field), len(field))
	_, _, n := protowire.ConsumeTag(b)
	v, _ := protowire.ConsumeVarint(b[n:])
	return v
}

// bytesValue returns the payload of field, a well-formed length-delimited field.
func bytesValue(field string) string {
	b := unsafe.Slice(unsafe.StringData(field), len(field))
	_, _, n := protowire.ConsumeTag(b)
	_, ln := protowire.ConsumeVarint(b[n:])
	return field[n+ln:]
}
