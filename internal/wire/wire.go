// Package wire holds what the hand-written ClassifyBatch codecs of the client and the server
// share: the table of the fields they carry (fields.go), a buffer pool that skips clearing, and
// proto3 field sizes and appenders. It imports only the protobuf wire package, so the client can
// use it without pulling in the classifier.
package wire

import (
	"math"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
)

// UnclearedPool is a mem.BufferPool (google.golang.org/grpc/mem) that does not clear the buffers
// it hands out, for encoders that overwrite every byte they return. gRPC's default pool clears the
// whole capacity of a buffer on every Get, work thrown away when the encoder writes every byte
// (docs/performance.md measures both). The zero value is ready to use and safe for concurrent
// use.
type UnclearedPool struct{ p sync.Pool }

// Get returns a buffer of length size; its bytes are not zeroed.
func (p *UnclearedPool) Get(size int) *[]byte {
	if b, ok := p.p.Get().(*[]byte); ok && cap(*b) >= size {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size)
	return &b
}

// Put returns a buffer to the pool.
func (p *UnclearedPool) Put(b *[]byte) { p.p.Put(b) }

// The sizes and appenders below follow proto3: a zero value is left out, a float is zero only
// when its bits are (-0 is sent), and a tag is one byte (every field number in Fields is below
// 16). Sizes include the tag.

// SizeString is the encoded size of a string field.
func SizeString(s string) int {
	if s == "" {
		return 0
	}
	return 1 + sizeVarint(uint64(len(s))) + len(s)
}

// SizeFloat is the encoded size of a float field.
func SizeFloat(f float32) int {
	if math.Float32bits(f) == 0 {
		return 0
	}
	return 1 + 4
}

// SizeUint is the encoded size of a uint32 or uint64 field.
func SizeUint(v uint64) int {
	if v == 0 {
		return 0
	}
	return 1 + sizeVarint(v)
}

// SizeBool is the encoded size of a bool field.
func SizeBool(v bool) int {
	if !v {
		return 0
	}
	return 2
}

// SizeEnum is the encoded size of an enum field; a negative value takes ten bytes, as an int32
// does.
func SizeEnum(v int32) int {
	if v == 0 {
		return 0
	}
	return 1 + sizeVarint(uint64(int64(v)))
}

// SizeMessage is the encoded size of a message field whose message encodes to n bytes. A set
// message is sent even when empty.
func SizeMessage(n int) int { return 1 + sizeVarint(uint64(n)) + n }

// sizeVarint is protowire.SizeVarint with the one-byte case, most lengths here, inline.
func sizeVarint(v uint64) int {
	if v < 0x80 {
		return 1
	}
	return protowire.SizeVarint(v)
}

// AppendString appends a string field.
func AppendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = appendVarint(append(b, tag(num, protowire.BytesType)), uint64(len(s)))
	return append(b, s...)
}

// AppendFloat appends a float field.
func AppendFloat(b []byte, num protowire.Number, f float32) []byte {
	if math.Float32bits(f) == 0 {
		return b
	}
	v := math.Float32bits(f)
	return append(b, tag(num, protowire.Fixed32Type), byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

// AppendUint appends a uint32 or uint64 field.
func AppendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return appendVarint(append(b, tag(num, protowire.VarintType)), v)
}

// AppendBool appends a bool field.
func AppendBool(b []byte, num protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	return append(b, tag(num, protowire.VarintType), 1)
}

// AppendEnum appends an enum field.
func AppendEnum(b []byte, num protowire.Number, v int32) []byte {
	if v == 0 {
		return b
	}
	return appendVarint(append(b, tag(num, protowire.VarintType)), uint64(int64(v)))
}

// AppendMessageHeader appends the tag and length of a message field whose message encodes to n
// bytes; the message's fields follow.
func AppendMessageHeader(b []byte, num protowire.Number, n int) []byte {
	return appendVarint(append(b, tag(num, protowire.BytesType)), uint64(n))
}

// tag is the one-byte tag of field num (below 16) of wire type typ. Writing it as a byte rather
// than with protowire.AppendTag (a call and a varint loop) is most of what makes these appenders
// cheap.
func tag(num protowire.Number, typ protowire.Type) byte {
	return byte(num)<<3 | byte(typ)
}

// appendVarint appends v, with the one-byte case (tags' lengths are mostly short) inline.
func appendVarint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}
