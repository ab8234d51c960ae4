package server

import (
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// jsonMarshaler is the API's JSON: protojson with the proto's camelCase names, every field
// present in answers (so scripts find "abstained": false), unknown fields in requests refused.
var jsonMarshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

const ndjsonType = "application/x-ndjson"

// apiMarshaler is the API's JSON with a content type of its own, whose decoders record what
// they read of an NDJSON stream's body.
type apiMarshaler struct {
	*runtime.JSONPb
	contentType string
}

func (m apiMarshaler) ContentType(v any) string {
	if m.contentType != "" {
		return m.contentType
	}
	return m.JSONPb.ContentType(v)
}

// Marshal writes the answers that carry classifications by hand (http_json.go), the rest with
// protojson.
func (m apiMarshaler) Marshal(v any) ([]byte, error) {
	var b []byte
	ok := false
	switch r := v.(type) {
	case *topicdv1.ClassifyResponse:
		b, ok = appendClassifyResponse(make([]byte, 0, 1024), r)
	case *topicdv1.ClassifyBatchResponse:
		b, ok = appendBatchResponse(make([]byte, 0, 512*len(r.GetResults())+16), r)
	}
	if ok {
		return b, nil
	}
	return m.JSONPb.Marshal(v)
}

func (m apiMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	if l, ok := r.(*lineLimit); ok {
		return &recordingDecoder{dec: d, newDec: m.JSONPb.NewDecoder, lines: l, st: l.st}
	}
	return d
}
