package batchfile

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
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

// FuzzCSV: on any input the reader ends, with record lines strictly increasing; and where
// encoding/csv reads the whole input without error, it reads the same records.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{"a,b\n", "a,\"b\nc\"\n", "\"a\n", "a,b\"c\n", "\"a\"\"b\",c\r\n", "\n\n,\n", "x,\"\"\n\"", "a,\"b\"x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		defer func(n int) { recordLimit = n }(recordLimit)
		recordLimit = 256
		in := "id,text\n" + body
		r, err := newCSVReader(io.NopCloser(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("header: %v", err)
		}
		var got [][2]string
		last := 1
		clean := true
		for n := 0; ; n++ {
			d, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if d.Line <= last {
				t.Fatalf("record on line %d after line %d", d.Line, last)
			}
			last = d.Line
			if n > strings.Count(in, "\n")+1 {
				t.Fatalf("more records than lines")
			}
			if d.Err != nil && (strings.Contains(d.Err.Error(), "invalid CSV") || strings.Contains(d.Err.Error(), "over")) {
				clean = false
			}
			got = append(got, [2]string{d.ID, d.Text})
		}
		cr := csv.NewReader(strings.NewReader(in))
		cr.FieldsPerRecord = -1
		want, err := cr.ReadAll()
		if err != nil || len(in) > recordLimit {
			return
		}
		if !clean {
			t.Fatalf("encoding/csv reads %q, the reader reports a broken record", in)
		}
		want = want[1:]
		if len(got) != len(want) {
			t.Fatalf("%d records, encoding/csv reads %d from %q", len(got), len(want), in)
		}
		for i, w := range want {
			if len(w) >= 2 && utf8.ValidString(w[0]+w[1]) && w[0] != "" && got[i] != [2]string{w[0], w[1]} {
				t.Fatalf("record %d = %q, encoding/csv reads %q from %q", i, got[i], w, in)
			}
		}
	})
}
