package batchfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// csvReader reads a CSV file (RFC 4180) whose header names an id and a text column (title
// optional, other columns ignored). Quoted fields may span lines; a record's line is the one it
// starts on. It frames records itself instead of using encoding/csv, which reads a quote that is
// never closed to the end of the input as one field: here a record is bounded by MaxRecordBytes,
// and a broken record is reported with its line, after which reading starts again at the next
// line, so one stray quote costs one record.
type csvReader struct {
	lr      *lineReader
	c       io.Closer
	line    int        // lines read from lr
	pending []physLine // lines to read again after a broken record, first first
	fields  [][]byte
	id      int
	text    int
	title   int
	ncols   int
}

// physLine is one line of the file; b is a copy for lines held in pending, else it lives in the
// reader's buffer until the next read.
type physLine struct {
	n       int
	b       []byte
	tooLong bool
}

func newCSVReader(rc io.ReadCloser) (*csvReader, error) {
	c := &csvReader{lr: newLineReader(rc), c: rc, id: -1, text: -1, title: -1}
	line, fields, err := c.record()
	for err == nil && line.err == nil && line.n == 0 {
		line, fields, err = c.record() // skip nothing but blank lines before the header
	}
	if err == nil && line.err != nil {
		err = line.err
	}
	if err != nil {
		rc.Close()
		if err == io.EOF {
			err = errors.New("the file is empty")
		}
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	header := make([]string, len(fields))
	for i, h := range fields {
		if i == 0 {
			h = bytes.TrimPrefix(h, bom)
		}
		header[i] = string(h)
		switch strings.ToLower(strings.TrimSpace(header[i])) {
		case "id":
			c.id = i
		case "text":
			c.text = i
		case "title":
			c.title = i
		}
	}
	if c.id < 0 || c.text < 0 {
		rc.Close()
		return nil, fmt.Errorf("CSV header %q: needs an id and a text column", header)
	}
	c.ncols = max(c.id, c.text, c.title) + 1
	return c, nil
}

func (c *csvReader) Close() error { return c.c.Close() }

// recordStart is where a record began and what was wrong with it.
type recordStart struct {
	n   int // line; 0 for a blank line, which is no record
	err error
}

func (c *csvReader) next() (Doc, error) {
	for {
		start, fields, err := c.record()
		if err != nil {
			return Doc{}, err
		}
		if start.n == 0 {
			continue
		}
		d := Doc{Line: start.n}
		if start.err != nil {
			d.Err = start.err
			return d, nil
		}
		if c.id >= len(fields) || c.text >= len(fields) {
			d.Err = fmt.Errorf("record has %d fields; the header has id in column %d and text in column %d", len(fields), c.id+1, c.text+1)
			return d, nil
		}
		d.ID, d.Text = string(fields[c.id]), string(fields[c.text])
		if c.title >= 0 && c.title < len(fields) {
			d.Title = string(fields[c.title])
		}
		switch {
		case d.ID == "":
			d.Err = errors.New("empty id")
		case !utf8.ValidString(d.ID):
			d.Err = notUTF8("the id", fields[c.id])
		case !utf8.ValidString(d.Text):
			d.Err = notUTF8("the text", fields[c.text])
		case !utf8.ValidString(d.Title):
			d.Err = notUTF8("the title", fields[c.title])
		}
		return d, nil
	}
}

// physical returns the next line of the file, a pushed-back one first.
func (c *csvReader) physical() (physLine, error) {
	if len(c.pending) > 0 {
		l := c.pending[0]
		c.pending = c.pending[1:]
		return l, nil
	}
	b, tooLong, err := c.lr.readLine()
	if err != nil {
		return physLine{}, err
	}
	c.line++
	return physLine{n: c.line, b: b, tooLong: tooLong}, nil
}

// record reads the next record and splits it into fields, valid until the next call. A blank
// line gives a zero start; a broken record gives its start line and error, and the lines after
// its first are read again.
func (c *csvReader) record() (recordStart, [][]byte, error) {
	first, err := c.physical()
	if err != nil {
		return recordStart{}, nil, err
	}
	if first.tooLong {
		return recordStart{n: first.n, err: fmt.Errorf("line is over %s", limitText())}, nil, nil
	}
	b := bytes.TrimSuffix(first.b, []byte{'\r'})
	if len(b) == 0 {
		return recordStart{}, nil, nil
	}
	if bytes.Count(b, []byte{'"'})%2 == 0 {
		fields, err := c.split(b)
		if err != nil {
			return recordStart{n: first.n, err: err}, nil, nil
		}
		return recordStart{n: first.n}, fields, nil
	}
	// A quoted field goes on to the next line: gather lines until the quotes balance, keeping
	// copies to read again if the record turns out broken.
	lines := []physLine{{n: first.n, b: bytes.Clone(first.b)}}
	size := len(first.b)
	broken := func(err error) (recordStart, [][]byte, error) {
		c.pending = append(lines[1:], c.pending...)
		return recordStart{n: first.n, err: err}, nil, nil
	}
	for open := true; open; {
		l, err := c.physical()
		if err == io.EOF {
			return broken(fmt.Errorf("invalid CSV: a quoted field is not closed by the end of the input (reading again from line %d)", first.n+1))
		}
		if err != nil {
			return recordStart{}, nil, err
		}
		if l.tooLong {
			lines = append(lines, l)
			return broken(fmt.Errorf("invalid CSV: the record is over %s, probably a quote that is never closed (reading again from line %d)", limitText(), first.n+1))
		}
		l.b = bytes.Clone(l.b) // lines from the file live in its buffer until the next read
		lines = append(lines, l)
		size += 1 + len(l.b)
		if size > recordLimit {
			return broken(fmt.Errorf("invalid CSV: the record is over %s, probably a quote that is never closed (reading again from line %d)", limitText(), first.n+1))
		}
		open = bytes.Count(l.b, []byte{'"'})%2 == 0
	}
	joined := make([]byte, 0, size)
	for i, l := range lines {
		if i > 0 {
			joined = append(joined, '\n')
		}
		// \r\n inside a quoted field reads as \n, as in encoding/csv.
		joined = append(joined, bytes.TrimSuffix(l.b, []byte{'\r'})...)
	}
	fields, err := c.split(joined)
	if err != nil {
		return broken(fmt.Errorf("%w (reading again from line %d)", err, first.n+1))
	}
	return recordStart{n: first.n}, fields, nil
}

// split cuts one record into fields. Quoted fields may hold commas, newlines and doubled
// quotes; a quote anywhere else is an error, as in encoding/csv without LazyQuotes.
func (c *csvReader) split(b []byte) ([][]byte, error) {
	fields := c.fields[:0]
	for i := 0; ; {
		if i < len(b) && b[i] == '"' {
			i++
			var f []byte
			for {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("invalid CSV: %v", csv.ErrQuote)
				}
				f = append(f, b[i:i+j]...)
				i += j + 1
				if i < len(b) && b[i] == '"' {
					f = append(f, '"')
					i++
					continue
				}
				break
			}
			if f == nil {
				f = []byte{}
			}
			fields = append(fields, f)
			if i == len(b) {
				break
			}
			if b[i] != ',' {
				return nil, fmt.Errorf("invalid CSV: %v", csv.ErrQuote)
			}
			i++
			if i == len(b) {
				fields = append(fields, []byte{})
				break
			}
			continue
		}
		end := len(b)
		if j := bytes.IndexByte(b[i:], ','); j >= 0 {
			end = i + j
		}
		f := b[i:end]
		if bytes.IndexByte(f, '"') >= 0 {
			return nil, fmt.Errorf("invalid CSV: %v", csv.ErrBareQuote)
		}
		fields = append(fields, f)
		if end == len(b) {
			break
		}
		i = end + 1
		if i == len(b) {
			fields = append(fields, []byte{})
			break
		}
	}
	c.fields = fields
	return fields, nil
}
