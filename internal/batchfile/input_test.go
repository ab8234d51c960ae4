package batchfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readAll returns every document of r as "line|id|title|text" or "line|ERR|message".
func readAll(t *testing.T, r *Input) []string {
	t.Helper()
	defer r.Close()
	var got []string
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("next() error: %v", err)
		}
		line := strings.Join([]string{itoa(d.Line), d.ID, d.Title, d.Text}, "|")
		if d.Err != nil {
			line = itoa(d.Line) + "|ERR|" + d.Err.Error()
		}
		got = append(got, line)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestInputFormats(t *testing.T) {
	tests := []struct {
		name, file, format, content string
		want                        []string
	}{
		{
			name: "jsonl", file: "in.jsonl", format: "auto",
			content: `{"id":"a","text":"first text","title":"T","extra":[1,2]}
{"id": 42, "text": "numeric id"}

{"id":"c","text":"no newline at the end"}`,
			want: []string{"1|a|T|first text", "2|42||numeric id", "4|c||no newline at the end"},
		},
		{
			name: "jsonl bad lines", file: "bad.jsonl", format: "auto",
			content: `{"id":"a","text":"ok"}
{"id":"b","text":
{"text":"no id"}
{"id":"d"}
{"id":"e","text":5}
{"id":"","text":"empty id"}
{"id":true,"text":"bool id"}
{"id":"h","text":"\u00e9t\u00e9 \ud83d\ude00"}
`,
			want: []string{
				"1|a||ok",
				"2|ERR|invalid JSON: unexpected end of JSON input",
				`3|ERR|missing "id" field`,
				`4|ERR|missing "text" field`,
				`5|ERR|invalid JSON: field "text" must not be a JSON number`,
				`6|ERR|empty "id"`,
				`7|ERR|"id" must be a string or a number`,
				"8|h||été 😀",
			},
		},
		{
			name: "csv", file: "in.csv", format: "auto",
			content: "\uFEFFID,source,Text,title\n" +
				"a,x,plain text,T1\n" +
				"b,y,\"quoted, with comma\nand a newline\",\n" +
				"c,z,\"say \"\"hi\"\"\",T3\n" +
				"d,short\n" +
				",w,no id,\n",
			want: []string{
				"2|a|T1|plain text",
				"3|b||quoted, with comma\nand a newline",
				`5|c|T3|say "hi"`,
				"6|ERR|record has 2 fields; the header has id in column 1 and text in column 3",
				"7|ERR|empty id",
			},
		},
		{
			name: "csv as format on a .txt name", file: "in.txt", format: "csv",
			content: "id,text\nx,hello\n",
			want:    []string{"2|x||hello"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := Open(path, tt.format, nil)
			if err != nil {
				t.Fatalf("Open(%q) error: %v", tt.file, err)
			}
			got := readAll(t, r)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("read %s:\ngot\n  %s\nwant\n  %s", tt.name, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestInputStdin(t *testing.T) {
	r, err := Open("-", "auto", strings.NewReader("{\"id\":\"s1\",\"text\":\"from stdin\"}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if want := "1|s1||from stdin"; len(got) != 1 || got[0] != want {
		t.Errorf("stdin: got %q, want [%q]", got, want)
	}
}

func TestInputFolder(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{"b.txt": "second", "a.txt": "first", "notes.md": "ignored", "C.TXT": "upper"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir, "auto", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	want := []string{"1|C.TXT||upper", "2|a.txt||first", "3|b.txt||second"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("folder: got %q, want %q", got, want)
	}
	if n := mustOpen(t, dir).Count(); n != 3 {
		t.Errorf("Count(folder) = %d, want 3", n)
	}
}

func mustOpen(t *testing.T, path string) *Input {
	t.Helper()
	r, err := Open(path, "auto", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestInputLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "long.jsonl")
	long := `{"id":"big","text":"` + strings.Repeat("x", MaxRecordBytes+10) + "\"}\n"
	if err := os.WriteFile(path, []byte(long+`{"id":"after","text":"still read"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, mustOpen(t, path))
	want := []string{"1|ERR|line is over 64 MiB", "2|after||still read"}
	for i := range got {
		if len(got[i]) > 80 {
			got[i] = got[i][:80] + "..."
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("long line: got %q, want %q", got, want)
	}
}

func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	noText := filepath.Join(dir, "x.csv")
	os.WriteFile(noText, []byte("id,body\n1,abc\n"), 0o644)
	for _, tt := range []struct{ path, format, want string }{
		{noText, "auto", "needs an id and a text column"},
		{filepath.Join(dir, "missing.jsonl"), "auto", "no such file"},
		{dir, "xml", "unknown --format"},
		{"-", "dir", "needs a folder"},
	} {
		_, err := Open(tt.path, tt.format, strings.NewReader(""))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q, %q) error = %v, want one containing %q", tt.path, tt.format, err, tt.want)
		}
	}
}

func TestCountInput(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, content string
		want          int64
	}{
		{"a.jsonl", "{}\n{}\n{}\n", 3},
		{"b.jsonl", "{}\n{}", 2},
		{"c.jsonl", "", 0},
		{"d.csv", "id,text\n1,a\n2,b\n", 2},
	} {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, "auto", nil)
		if err != nil {
			t.Fatalf("Open(%s): %v", tt.name, err)
		}
		if got := r.Count(); got != tt.want {
			t.Errorf("Count(%s) = %d, want %d", tt.name, got, tt.want)
		}
		r.Close()
	}
	r, err := Open("-", "auto", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Count(); got != -1 {
		t.Errorf("Count(stdin) = %d, want -1", got)
	}
}
