package wire

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// wireType is the wire type protobuf uses for a field of kind k (not packed).
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind, protoreflect.GroupKind:
		return protowire.BytesType
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return protowire.Fixed32Type
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return protowire.Fixed64Type
	}
	return protowire.VarintType
}

// uncovered walks the messages of a ClassifyBatch call from the request and response
// descriptors, into every message field that is not delegated, and lists every field that
// Fields does not describe exactly, and every entry of Fields the walk did not meet.
func uncovered(roots ...protoreflect.MessageDescriptor) []string {
	type key struct {
		msg string
		num protowire.Number
	}
	table := make(map[key]Field, len(Fields))
	for _, f := range Fields {
		table[key{f.Message, f.Number}] = f
	}
	var problems []string
	met := make(map[key]bool)
	seen := make(map[protoreflect.FullName]bool)
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		fields := md.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			k := key{string(md.FullName()), fd.Number()}
			f, ok := table[k]
			met[k] = true
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s (number %d) is not in internal/wire's Fields: the hand-written ClassifyBatch codecs would drop it; "+
					"add it to Fields and to the encoders and decoders in server/ and client/", fd.FullName(), fd.Number()))
				continue
			case f.Name != string(fd.Name()):
				problems = append(problems, fmt.Sprintf("%s: Fields calls number %d %q", fd.FullName(), fd.Number(), f.Name))
			case f.Type != wireType(fd.Kind()):
				problems = append(problems, fmt.Sprintf("%s: Fields says wire type %d, the descriptor's kind %v is %d", fd.FullName(), f.Type, fd.Kind(), wireType(fd.Kind())))
			case fd.Number() >= 16:
				problems = append(problems, fmt.Sprintf("%s: number %d needs a two-byte tag, which the codecs' sizes do not count", fd.FullName(), fd.Number()))
			case fd.IsMap() && !f.Delegated:
				problems = append(problems, fmt.Sprintf("%s: a map, which the hand-written codecs do not read or write", fd.FullName()))
			case fd.IsList() && wireType(fd.Kind()) != protowire.BytesType && !f.Delegated:
				problems = append(problems, fmt.Sprintf("%s: a packed repeated field, which the hand-written codecs do not read or write", fd.FullName()))
			case fd.Kind() == protoreflect.MessageKind && !f.Delegated:
				walk(fd.Message())
			}
		}
	}
	for _, md := range roots {
		walk(md)
	}
	for _, f := range Fields {
		if !met[key{f.Message, f.Number}] {
			problems = append(problems, fmt.Sprintf("Fields lists %s.%s (number %d), which is not a field of the messages a batch call carries", f.Message, f.Name, f.Number))
		}
	}
	return problems
}

var batchRoots = []protoreflect.MessageDescriptor{
	(*topicdv1.ClassifyBatchRequest)(nil).ProtoReflect().Descriptor(),
	(*topicdv1.ClassifyBatchResponse)(nil).ProtoReflect().Descriptor(),
}

// TestFieldsCoverDescriptors walks Document, Classification and every message inside them (and
// the batch messages around them) and fails on any field Fields does not list.
func TestFieldsCoverDescriptors(t *testing.T) {
	for _, p := range uncovered(batchRoots...) {
		t.Error(p)
	}
}

// TestFieldsWalkFailsOnNewField adds a field to Classification, one to Passage (three levels
// down) and a two-byte-tag field to Document in a copy of the API's descriptors, and checks the
// walk reports each of them.
func TestFieldsWalkFailsOnNewField(t *testing.T) {
	fdp := protodesc.ToFileDescriptorProto(topicdv1.File_topicd_v1_topicd_proto)
	add := func(msg, name string, num int32, typ descriptorpb.FieldDescriptorProto_Type) {
		for _, m := range fdp.MessageType {
			if m.GetName() == msg {
				m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{
					Name: proto.String(name), JsonName: proto.String(name), Number: proto.Int32(num),
					Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: typ.Enum(),
				})
				return
			}
		}
		t.Fatalf("no message %s", msg)
	}
	add("Classification", "sentiment", 12, descriptorpb.FieldDescriptorProto_TYPE_FLOAT)
	add("Passage", "sentence", 5, descriptorpb.FieldDescriptorProto_TYPE_UINT32)
	add("Document", "language", 16, descriptorpb.FieldDescriptorProto_TYPE_STRING)
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	problems := strings.Join(uncovered(
		fd.Messages().ByName("ClassifyBatchRequest"), fd.Messages().ByName("ClassifyBatchResponse")), "\n")
	for _, want := range []string{"topicd.v1.Classification.sentiment", "topicd.v1.Passage.sentence", "topicd.v1.Document.language"} {
		if !strings.Contains(problems, want) {
			t.Errorf("the walk does not report the added field %s; it reports:\n%s", want, problems)
		}
	}
}
