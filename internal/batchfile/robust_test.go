package batchfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readString writes content to a file named name and returns every record read from it.
func readString(t *testing.T, name, content string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return readAll(t, mustOpen(t, path))
}

func checkRecords(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestCSVStrayQuote: one stray quote used to swallow the rest of the file into one field. The
// broken record is reported at its line and every later line is read.
func TestCSVStrayQuote(t *testing.T) {
	var b strings.Builder
	b.WriteString("id,text\n")
	for i := range 1000 {
		if i == 2 {
			b.WriteString("c2,\"a stray quote opens a field that never closes\n")
			continue
		}
		fmt.Fprintf(&b, "c%d,text %d\n", i, i)
	}
	got := readString(t, "in.csv", b.String())
	if len(got) != 1000 {
		t.Fatalf("read %d records from 1000 rows, want 1000", len(got))
	}
	want := "4|ERR|invalid CSV: a quoted field is not closed by the end of the input (reading again from line 5)"
	if got[2] != want {
		t.Errorf("record of the broken row = %q, want %q", got[2], want)
	}
	if got[3] != "5|c3||text 3" || got[999] != "1001|c999||text 999" {
		t.Errorf("records after the broken row: %q ... %q", got[3], got[999])
	}
}

// TestCSVRecordLimit: a quote that is never closed in a large file is cut at the record limit,
// not read to the end into memory, and reading starts again at the next line.
func TestCSVRecordLimit(t *testing.T) {
	defer func(n int) { recordLimit = n }(recordLimit)
	recordLimit = 4096
	var b strings.Builder
	b.WriteString("id,text\n\"x,open\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "r%d,line %d\n", i, i)
	}
	got := readString(t, "big.csv", b.String())
	want := "2|ERR|invalid CSV: the record is over 4096 bytes, probably a quote that is never closed (reading again from line 3)"
	if len(got) != 2001 || got[0] != want {
		t.Fatalf("got %d records, first %q; want 2001, first %q", len(got), got[0], want)
	}
	if got[1] != "3|r0||line 0" || got[2000] != "2002|r1999||line 1999" {
		t.Errorf("records after the broken one: %q ... %q", got[1], got[2000])
	}
}

func TestCSVBrokenRecords(t *testing.T) {
	got := readString(t, "in.csv", "id,text\n"+
		"a,bare \" quote\n"+
		"b,\"closed\" then text\n"+
		"c,\"two\nlines\"\r\n"+
		"d,\"spans\n\"x,too\n"+
		"e,after\n")
	checkRecords(t, "broken CSV records", got, []string{
		`2|ERR|invalid CSV: bare " in non-quoted-field (reading again from line 3)`,
		`3|ERR|invalid CSV: extraneous or missing " in quoted-field`,
		"4|c||two\nlines",
		`6|ERR|invalid CSV: extraneous or missing " in quoted-field (reading again from line 7)`,
		`7|ERR|invalid CSV: a quoted field is not closed by the end of the input (reading again from line 8)`,
		"8|e||after",
	})
}

// TestNotUTF8: a CSV field or a .txt file that is not UTF-8 is a bad input record at once,
// naming its line or file, instead of a document no server can be sent.
func TestNotUTF8(t *testing.T) {
	got := readString(t, "in.csv", "id,text,title\nok,caf\u00e9,T\nlatin,caf\xe9,T\n\xff,id,T\nt,x,\xfe\n")
	checkRecords(t, "CSV", got, []string{
		"2|ok|T|café",
		"3|ERR|the text is not valid UTF-8 (byte 0xe9 at offset 3): save the input as UTF-8",
		"4|ERR|the id is not valid UTF-8 (byte 0xff at offset 0): save the input as UTF-8",
		"5|ERR|the title is not valid UTF-8 (byte 0xfe at offset 0): save the input as UTF-8",
	})

	dir := t.TempDir()
	for i := range 50 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("good%02d.txt", i)), []byte("Talks on the border resumed."), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "latin1.txt"), []byte("Les n\xe9gociations ont repris."), 0o644)
	in := mustOpen(t, dir)
	var bad []string
	n := 0
	for {
		d, err := in.Next()
		if err != nil {
			break
		}
		n++
		if d.Err != nil {
			bad = append(bad, in.Message(d))
		}
	}
	want := "latin1.txt: the file is not valid UTF-8 (byte 0xe9 at offset 5): save the input as UTF-8"
	if n != 51 || len(bad) != 1 || bad[0] != want {
		t.Errorf("folder of 50 good files and a Latin-1 one: %d records, bad %q; want 51, [%q]", n, bad, want)
	}

	got = readString(t, "in.jsonl", "{\"id\":\"a\xff\",\"text\":\"x\"}\n{\"id\":\"b\",\"text\":\"caf\xe9\"}\n")
	checkRecords(t, "JSONL", got, []string{
		"1|ERR|line is not valid UTF-8 (byte 0xff at offset 8): save the input as UTF-8",
		"2|ERR|line is not valid UTF-8 (byte 0xe9 at offset 21): save the input as UTF-8",
	})
}

// TestIDsDistinct: ids that differ only in bytes that are not UTF-8 (or in unpaired surrogate
// escapes, which encoding/json decodes alike) used to collapse into one id, the second called
// a duplicate. Each is now refused with its own record, and nothing is called a duplicate.
func TestIDsDistinct(t *testing.T) {
	for _, tt := range []struct{ name, content string }{
		{"ids.csv", "id,text\na\xff,one\na\xfe,two\n"},
		{"ids.jsonl", "{\"id\":\"a\xff\",\"text\":\"one\"}\n{\"id\":\"a\xfe\",\"text\":\"two\"}\n"},
		{"surrogates.jsonl", `{"id":"a\udc00","text":"one"}` + "\n" + `{"id":"a\ud800x","text":"two"}` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.name)
			os.WriteFile(path, []byte(tt.content), 0o644)
			in := mustOpen(t, path)
			done := newDone()
			last := 0
			for line := 1; ; line++ {
				d, err := in.Next()
				if err != nil {
					break
				}
				if !done.Admit(in, &d) {
					t.Fatalf("record %d skipped", line)
				}
				if d.Err == nil || strings.Contains(d.Err.Error(), "duplicate") {
					t.Errorf("record %d: error %v, want its own refusal, not a duplicate", line, d.Err)
				}
				if d.Line <= last {
					t.Errorf("record %d has line %d, after line %d", line, d.Line, last)
				}
				last = d.Line
			}
		})
	}
	// Surrogate pairs are fine.
	got := readString(t, "pair.jsonl", `{"id":"\ud83d\ude00","text":"emoji id"}`+"\n")
	checkRecords(t, "surrogate pair", got, []string{"1|😀||emoji id"})
}

func TestByteOrderMark(t *testing.T) {
	got := readString(t, "bom.jsonl", "\uFEFF{\"id\":\"a\",\"text\":\"first\"}\n{\"id\":\"b\",\"text\":\"second\"}\n")
	checkRecords(t, "JSONL with a BOM", got, []string{"1|a||first", "2|b||second"})
	got = readString(t, "bom.csv", "\uFEFF\"id\",\"text\"\n\"a\",\"first\"\n")
	checkRecords(t, "CSV with a BOM before a quoted header", got, []string{"2|a||first"})
}

func TestContentType(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ct.jsonl")
	os.WriteFile(path, []byte(`{"id":"a","text":"<p>x</p>","content_type":"html"}
{"id":"b","text":"x","content_type":"text"}
{"id":"c","text":"<p>x</p>","content_type":"CONTENT_TYPE_HTML"}
{"id":"d","text":"x","content_type":"CONTENT_TYPE_TEXT"}
{"id":"e","text":"x"}
{"id":"f","text":"<p>x</p>","contentType":"CONTENT_TYPE_HTML"}
{"id":"g","text":"x","content_type":"pdf"}
{"id":"h","text":"x","content_type":2}
`), 0o644)
	in := mustOpen(t, path)
	var got []string
	for {
		d, err := in.Next()
		if err != nil {
			break
		}
		if d.Err != nil {
			got = append(got, d.ID+" ERR "+d.Err.Error())
			continue
		}
		got = append(got, d.ID+" "+d.ContentType.String())
	}
	checkRecords(t, "content types", got, []string{
		"a CONTENT_TYPE_HTML",
		"b CONTENT_TYPE_TEXT",
		"c CONTENT_TYPE_HTML",
		"d CONTENT_TYPE_TEXT",
		"e CONTENT_TYPE_UNSPECIFIED",
		"f CONTENT_TYPE_HTML",
		`g ERR "content_type" "pdf": use "text" or "html" (or CONTENT_TYPE_TEXT, CONTENT_TYPE_HTML)`,
		`h ERR "content_type" must be a string: "text" or "html"`,
	})

	dir := t.TempDir()
	for name, text := range map[string]string{"a.html": "<p>one</p>", "b.HTM": "<p>two</p>", "c.txt": "\uFEFFthree", "d.xml": "<x/>"} {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	in = mustOpen(t, dir)
	got = nil
	for {
		d, err := in.Next()
		if err != nil {
			break
		}
		got = append(got, fmt.Sprintf("%s %s %q", d.ID, d.ContentType, d.Text))
	}
	checkRecords(t, "folder of HTML and text", got, []string{
		`a.html CONTENT_TYPE_HTML "<p>one</p>"`,
		`b.HTM CONTENT_TYPE_HTML "<p>two</p>"`,
		`c.txt CONTENT_TYPE_UNSPECIFIED "three"`,
	})
	if in.Count() != 3 {
		t.Errorf("Count() = %d, want 3", in.Count())
	}
}

// TestHTMLCharset: a page that is not UTF-8 is decoded by its declared charset (or as
// windows-1252, as browsers do), where a .txt file in the same bytes is refused.
func TestHTMLCharset(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"declared.html":   "<html><head><meta charset=\"iso-8859-1\"></head><body><p>Les n\xe9gociations</p></body></html>",
		"undeclared.html": "<p>Caf\xe9 \x93quoted\x94</p>",
		"utf8.html":       "<p>Caf\u00e9</p>",
		"latin1.txt":      "Caf\xe9",
	}
	for name, text := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	in := mustOpen(t, dir)
	got := map[string]string{}
	for {
		d, err := in.Next()
		if err != nil {
			break
		}
		got[d.ID] = d.Text
		if d.Err != nil {
			got[d.ID] = "ERR " + d.Err.Error()
		}
	}
	want := map[string]string{
		"declared.html":   "<html><head><meta charset=\"iso-8859-1\"></head><body><p>Les négociations</p></body></html>",
		"undeclared.html": "<p>Café \u201cquoted\u201d</p>",
		"utf8.html":       "<p>Café</p>",
		"latin1.txt":      "ERR the file is not valid UTF-8 (byte 0xe9 at offset 3): save the input as UTF-8",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s read as %q, want %q", name, got[name], w)
		}
	}
}
