package server

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the "proto" codec this one wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// A proto3 string field must hold UTF-8, and the protobuf runtime refuses a request with a
// string that does not: gRPC would answer INTERNAL ("failed to unmarshal") for what is a bad
// document, and in a batch one such document would fail all the others. lenientCodec decodes
// such a request field by field instead, keeping the invalid bytes in the Go string so that
// validation rejects exactly that document with INVALID_ARGUMENT. Valid requests, nearly all of
// them, take the standard codec's path and pay nothing more.
type lenientCodec struct {
	encoding.CodecV2
}

func codecOption() grpc.ServerOption {
	return grpc.ForceServerCodecV2(lenientCodec{encoding.GetCodecV2("proto")})
}

// Marshal implements encoding.CodecV2. Batch responses are written by marshalBatchResponse, and
// batch requests read by unmarshalBatchRequest.
func (c lenientCodec) Marshal(v any) (mem.BufferSlice, error) {
	if resp, ok := v.(*topicdv1.ClassifyBatchResponse); ok && resp != nil {
		return marshalBatchResponse(resp)
	}
	return c.CodecV2.Marshal(v)
}

// Unmarshal implements encoding.CodecV2.
func (c lenientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if req, ok := v.(*topicdv1.ClassifyBatchRequest); ok && req != nil {
		if unmarshalBatchRequest(data, req) {
			return nil
		}
		proto.Reset(req)
	}
	return c.unmarshalStandard(data, v)
}

// unmarshalStandard decodes with the standard codec, then leniently if it refused invalid UTF-8.
func (c lenientCodec) unmarshalStandard(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil || !strings.Contains(err.Error(), "invalid UTF-8") {
		return err
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	proto.Reset(m)
	if lerr := unmarshalLenient(data.Materialize(), m.ProtoReflect()); lerr != nil {
		return fmt.Errorf("%w (lenient decode: %v)", err, lerr)
	}
	return nil
}

// unmarshalLenient decodes b into m like proto.Unmarshal, except that singular string fields
// with invalid UTF-8 are kept as they are. Other fields are decoded by the standard runtime.
func unmarshalLenient(b []byte, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[n:])
		if vn < 0 {
			return protowire.ParseError(vn)
		}
		field, value := b[:n+vn], b[n:n+vn]
		b = b[n+vn:]

		fd := fields.ByNumber(num)
		if fd != nil && typ == protowire.BytesType && fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind && fd.MapValue().Message() == nil {
			// A map entry (label_mix) whose key may not be UTF-8: decoded as a message of its
			// own, so the key keeps its bytes and validation names it.
			v, _ := protowire.ConsumeBytes(value)
			entry := dynamicpb.NewMessage(fd.Message())
			if err := unmarshalLenient(v, entry); err != nil {
				return err
			}
			m.Mutable(fd).Map().Set(entry.Get(fd.MapKey()).MapKey(), entry.Get(fd.MapValue()))
			continue
		}
		if fd != nil && typ == protowire.BytesType && !fd.IsMap() {
			switch {
			case fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated:
				v, _ := protowire.ConsumeBytes(value)
				if !utf8.Valid(v) {
					m.Set(fd, protoreflect.ValueOfString(string(v)))
					continue
				}
			case fd.Message() != nil && fd.Cardinality() != protoreflect.Repeated:
				v, _ := protowire.ConsumeBytes(value)
				if err := unmarshalLenient(v, m.Mutable(fd).Message()); err != nil {
					return err
				}
				continue
			case fd.Message() != nil:
				v, _ := protowire.ConsumeBytes(value)
				list := m.Mutable(fd).List()
				el := list.NewElement()
				if err := unmarshalLenient(v, el.Message()); err != nil {
					return err
				}
				list.Append(el)
				continue
			}
		}
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(field, m.Interface()); err != nil {
			return err
		}
	}
	return nil
}

// validUTF8 returns s, or s with invalid bytes replaced, so an id can be echoed in a response
// (which must be valid UTF-8 to be sent at all).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
