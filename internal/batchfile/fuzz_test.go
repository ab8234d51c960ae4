package batchfile

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzAppendJSONString: whatever the bytes, the output is JSON that decodes to the input with
// each invalid byte replaced by U+FFFD, as encoding/json does, so --resume reads back the ids
// it wrote.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x1f\x7f", "été", "\xff\xfe", "\u2028", "a\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("appendJSONString(%q) = %s, not JSON: %v", s, b, err)
		}
		var want []rune
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			want = append(want, r)
			i += n
		}
		if got != string(want) {
			t.Fatalf("appendJSONString(%q) decodes to %q, want %q", s, got, string(want))
		}
	})
}

// FuzzParseJSONLine: any line gives a document or an error, never a panic, and a document
// always has an id.
func FuzzParseJSONLine(f *testing.F) {
	for _, s := range []string{`{"id":"a","text":"t"}`, `{"id":1e3,"text":""}`, `{"id":null}`, `[1]`, `{"id":"a","text":"t","title":5}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		d := parseJSONLine(3, line)
		if d.Line != 3 {
			t.Fatalf("parseJSONLine(%q).Line = %d, want 3", line, d.Line)
		}
		if d.Err == nil && d.ID == "" {
			t.Fatalf("parseJSONLine(%q) = a document without an id", line)
		}
	})
}
