package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// inputDoc is one document read from a batch input, or a bad input record (err set).
type inputDoc struct {
	line  int // 1-based line of a JSONL or CSV file; 1-based position of a file in a folder
	id    string
	title string
	text  string
	err   error // what is wrong with this input record; the job goes on
}

// docReader reads a batch input one document at a time. next returns io.EOF at the end; any
// other error means the input cannot be read further.
type docReader interface {
	next() (inputDoc, error)
	io.Closer
}

// maxLineBytes bounds one input line, so a file without newlines cannot take all memory. It is
// far above any server's document limit; longer lines become error records.
const maxLineBytes = 64 << 20

// inputFormats are the values of --format.
var inputFormats = []string{"auto", "jsonl", "csv", "dir"}

// openInput opens --in: "-" for standard input, a folder of .txt files, or a JSONL or CSV file
// (by extension, unless format says).
func openInput(path, format string, stdin io.Reader) (docReader, error) {
	if format == "auto" {
		switch {
		case path == "-":
			format = "jsonl"
		case strings.EqualFold(filepath.Ext(path), ".csv"):
			format = "csv"
		default:
			if st, err := os.Stat(path); err == nil && st.IsDir() {
				format = "dir"
			} else {
				format = "jsonl"
			}
		}
	}
	var r io.ReadCloser = io.NopCloser(stdin)
	if path != "-" && format != "dir" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		r = f
	}
	switch format {
	case "jsonl":
		return &jsonlReader{r: bufio.NewReaderSize(r, 1<<20), c: r}, nil
	case "csv":
		return newCSVReader(r)
	case "dir":
		if path == "-" {
			return nil, errors.New("--format dir needs a folder, not -")
		}
		return newDirReader(path)
	}
	r.Close()
	return nil, fmt.Errorf("unknown --format %q: use one of %s", format, strings.Join(inputFormats, ", "))
}

// jsonlReader reads one JSON object a line: id and text required, title optional, other
// fields ignored. Blank lines are skipped.
type jsonlReader struct {
	r    *bufio.Reader
	c    io.Closer
	line int
	long []byte
}

func (j *jsonlReader) Close() error { return j.c.Close() }

func (j *jsonlReader) next() (inputDoc, error) {
	for {
		b, tooLong, err := j.readLine()
		if err != nil {
			return inputDoc{}, err
		}
		j.line++
		if tooLong {
			return inputDoc{line: j.line, err: fmt.Errorf("line is over %d MiB", maxLineBytes>>20)}, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		return parseJSONLine(j.line, b), nil
	}
}

// readLine returns the next line without its newline. A line over maxLineBytes is skipped and
// reported with tooLong. The last line may lack a newline.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	j.long = j.long[:0]
	for {
		b, err := j.r.ReadSlice('\n')
		if err == nil && len(j.long) == 0 && !tooLong {
			return b[:len(b)-1], false, nil // the common case: no copy
		}
		if errors.Is(err, io.EOF) && len(b) == 0 && len(j.long) == 0 && !tooLong {
			return nil, false, io.EOF
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		if !tooLong {
			j.long = append(j.long, bytes.TrimSuffix(b, []byte{'\n'})...)
			if len(j.long) > maxLineBytes {
				tooLong, j.long = true, j.long[:0]
			}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return j.long, tooLong, nil
		}
	}
}

// jsonDoc is the shape of a JSONL input line. The id may be a string or a number.
type jsonDoc struct {
	ID    json.RawMessage `json:"id"`
	Text  *string         `json:"text"`
	Title *string         `json:"title"`
}

func parseJSONLine(line int, b []byte) inputDoc {
	d := inputDoc{line: line}
	var v jsonDoc
	if err := json.Unmarshal(b, &v); err != nil {
		d.err = fmt.Errorf("invalid JSON: %v", jsonErrorText(err))
		return d
	}
	id, err := jsonID(v.ID)
	d.id = id
	switch {
	case err != nil:
		d.err = err
	case v.Text == nil:
		d.err = errors.New(`missing "text" field`)
	default:
		d.text = *v.Text
		if v.Title != nil {
			d.title = *v.Title
		}
	}
	return d
}

// jsonID returns an id given as a JSON string or number.
func jsonID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New(`missing "id" field`)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf(`invalid "id": %v`, err)
		}
		if s == "" {
			return "", errors.New(`empty "id"`)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", errors.New(`"id" must be a string or a number`)
}

// jsonErrorText drops encoding/json's type names, which mean nothing to a user.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must not be a JSON %s", te.Field, te.Value)
	}
	return err.Error()
}

// csvReader reads a CSV file whose header names an id and a text column (title optional,
// other columns ignored). Fields may span lines when quoted; line numbers are where a record
// starts.
type csvReader struct {
	r                  *csv.Reader
	c                  io.Closer
	id, text, title    int
	lastErrLine, lastN int
}

func newCSVReader(r io.ReadCloser) (*csvReader, error) {
	cr := csv.NewReader(bufio.NewReaderSize(r, 1<<20))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	c := &csvReader{r: cr, c: r, id: -1, text: -1, title: -1}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")))
		switch h {
		case "id":
			c.id = i
		case "text":
			c.text = i
		case "title":
			c.title = i
		}
	}
	if c.id < 0 || c.text < 0 {
		r.Close()
		return nil, fmt.Errorf("CSV header %q: needs an id and a text column", header)
	}
	return c, nil
}

func (c *csvReader) Close() error { return c.c.Close() }

func (c *csvReader) next() (inputDoc, error) {
	rec, err := c.r.Read()
	line, _ := c.r.FieldPos(0)
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// encoding/csv goes on after a bad record; stop if it does not move on.
		if pe.StartLine == c.lastErrLine {
			c.lastN++
			if c.lastN > 2 {
				return inputDoc{}, err
			}
		}
		c.lastErrLine = pe.StartLine
		return inputDoc{line: pe.StartLine, err: fmt.Errorf("invalid CSV: %v", pe.Err)}, nil
	}
	if err != nil {
		return inputDoc{}, err
	}
	d := inputDoc{line: line}
	if c.id >= len(rec) || c.text >= len(rec) {
		d.err = fmt.Errorf("record has %d fields; the header has id in column %d and text in column %d", len(rec), c.id+1, c.text+1)
		return d, nil
	}
	d.id, d.text = rec[c.id], rec[c.text]
	if c.title >= 0 && c.title < len(rec) {
		d.title = rec[c.title]
	}
	if d.id == "" {
		d.err = errors.New("empty id")
	}
	return d, nil
}

// dirReader reads every .txt file of a folder, in name order; the id is the file name.
// Subfolders and other files are ignored.
type dirReader struct {
	dir   string
	names []string
	i     int
}

func newDirReader(dir string) (*dirReader, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &dirReader{dir: dir}
	for _, e := range entries {
		if e.Type().IsRegular() && strings.EqualFold(filepath.Ext(e.Name()), ".txt") {
			d.names = append(d.names, e.Name())
		}
	}
	return d, nil
}

func (d *dirReader) Close() error { return nil }

func (d *dirReader) next() (inputDoc, error) {
	if d.i >= len(d.names) {
		return inputDoc{}, io.EOF
	}
	name := d.names[d.i]
	d.i++
	doc := inputDoc{line: d.i, id: name}
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	switch {
	case err != nil:
		doc.err = fmt.Errorf("read %s: %v", name, errors.Unwrap(err))
	case len(b) > maxLineBytes:
		doc.err = fmt.Errorf("file is over %d MiB", maxLineBytes>>20)
	default:
		doc.text = string(b)
	}
	return doc, nil
}

// count returns how many documents the input holds when that is cheap to know (a folder), or
// counts the lines of a regular file; -1 when it cannot tell (standard input).
func countInput(path string, r docReader) int64 {
	if d, ok := r.(*dirReader); ok {
		return int64(len(d.names))
	}
	if path == "-" {
		return -1
	}
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var n int64
	var last byte = '\n'
	for {
		k, err := f.Read(buf)
		n += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if k > 0 {
			last = buf[k-1]
		}
		if err != nil {
			break
		}
	}
	if last != '\n' {
		n++
	}
	if _, ok := r.(*csvReader); ok {
		n-- // the header
	}
	return n
}
