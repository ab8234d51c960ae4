// Package wiretest fills protobuf messages with random values in every field their descriptors
// list, for the tests that hold the hand-written ClassifyBatch codecs to protobuf-go. A field
// added to the API is filled without any change here, so a codec that does not carry it fails
// those tests.
package wiretest

import (
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxDepth bounds the nesting of filled messages (google.rpc.Status holds Any, which could be
// filled with anything; the API's own messages are three levels deep).
const maxDepth = 6

// Fill sets every field of m to a random value: each scalar zero or not, each message absent,
// empty or filled, each list 0 to 4 elements long, each oneof one of its members or none.
// Strings are valid UTF-8, some longer than 127 bytes; floats include -0 but never NaN.
func Fill(rng *rand.Rand, m protoreflect.Message) { fill(rng, m, 0) }

func fill(rng *rand.Rand, m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	oneofs := m.Descriptor().Oneofs()
	chosen := make(map[protoreflect.FullName]protoreflect.Name, oneofs.Len())
	for i := range oneofs.Len() {
		o := oneofs.Get(i)
		if n := rng.IntN(o.Fields().Len() + 1); n < o.Fields().Len() {
			chosen[o.FullName()] = o.Fields().Get(n).Name()
		}
	}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && chosen[o.FullName()] != fd.Name() {
			continue
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range rng.IntN(4) {
				mp.Set(scalar(rng, fd.MapKey()).MapKey(), value(rng, fd.MapValue(), mp.NewValue, depth))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range rng.IntN(5) {
				l.Append(value(rng, fd, l.NewElement, depth))
			}
		case fd.Message() != nil:
			if depth >= maxDepth || rng.IntN(4) == 0 {
				continue // absent
			}
			sub := m.Mutable(fd).Message()
			if rng.IntN(5) > 0 {
				fill(rng, sub, depth+1)
			}
		default:
			if rng.IntN(4) > 0 {
				m.Set(fd, scalar(rng, fd))
			}
		}
	}
}

// value is one element of a list or map: a filled message, or a scalar.
func value(rng *rand.Rand, fd protoreflect.FieldDescriptor, newValue func() protoreflect.Value, depth int) protoreflect.Value {
	if fd.Message() == nil {
		return scalar(rng, fd)
	}
	v := newValue()
	if depth < maxDepth {
		fill(rng, v.Message(), depth+1)
	}
	return v
}

var words = []string{"", "a", "cybersecurity", "Grenzübergang — 国境", "news-topics", "\u00e9t\u00e9", strings.Repeat("long text ", 20)}

// scalar is a random value of fd's kind, zero in about one case of eight.
func scalar(rng *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	zero := rng.IntN(8) == 0
	switch fd.Kind() {
	case protoreflect.StringKind:
		if zero {
			return protoreflect.ValueOfString("")
		}
		return protoreflect.ValueOfString(words[rng.IntN(len(words))] + words[rng.IntN(len(words))])
	case protoreflect.BytesKind:
		b := make([]byte, rng.IntN(200))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(!zero && rng.IntN(2) == 0)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		switch {
		case zero:
			return protoreflect.ValueOfEnum(0)
		case rng.IntN(6) == 0:
			// A value this build does not know, or a negative one: open enums keep both.
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber([]int32{-1, 99, math.MaxInt32}[rng.IntN(3)]))
		}
		return protoreflect.ValueOfEnum(vals.Get(rng.IntN(vals.Len())).Number())
	case protoreflect.FloatKind:
		switch {
		case zero:
			return protoreflect.ValueOfFloat32(0)
		case rng.IntN(8) == 0:
			return protoreflect.ValueOfFloat32(float32(math.Copysign(0, -1)))
		}
		return protoreflect.ValueOfFloat32(rng.Float32()*2 - 0.5)
	case protoreflect.DoubleKind:
		if zero {
			return protoreflect.ValueOfFloat64(0)
		}
		return protoreflect.ValueOfFloat64(rng.Float64())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if zero {
			return protoreflect.ValueOfInt32(0)
		}
		return protoreflect.ValueOfInt32(rng.Int32() - math.MaxInt32/2)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if zero {
			return protoreflect.ValueOfInt64(0)
		}
		return protoreflect.ValueOfInt64(rng.Int64() - math.MaxInt64/2)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if zero {
			return protoreflect.ValueOfUint32(0)
		}
		return protoreflect.ValueOfUint32(rng.Uint32() >> rng.IntN(32))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if zero {
			return protoreflect.ValueOfUint64(0)
		}
		return protoreflect.ValueOfUint64(rng.Uint64() >> rng.IntN(64))
	}
	panic("wiretest: no random value for kind " + fd.Kind().String())
}
