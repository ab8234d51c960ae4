package batchfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
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
	pending *heldLines // lines to read again after a broken record
	fields  [][]byte
	scratch []byte // fields with doubled quotes, unescaped
	join    []byte // the fields a Doc keeps, before they become one string
	id      int
	text    int
	title   int
}

// physLine is one line of the file; b lives in the reader's buffer or in pending until the
// next read.
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
		var title []byte
		if c.title >= 0 && c.title < len(fields) {
			title = fields[c.title]
		}
		// One string for the three fields: one allocation per record instead of three.
		id, text := fields[c.id], fields[c.text]
		c.join = append(append(append(c.join[:0], id...), text...), title...)
		all := string(c.join)
		d.ID, d.Text, d.Title = all[:len(id)], all[len(id):len(id)+len(text)], all[len(id)+len(text):]
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

// physical returns the next line of the file, a held one first.
func (c *csvReader) physical() (physLine, error) {
	if h := c.pending; h != nil {
		k := h.i
		h.i++
		if h.i == len(h.ends) {
			c.pending = nil
		}
		return physLine{n: h.n0 + k, b: h.line(k), tooLong: h.isTooLong(k)}, nil
	}
	b, tooLong, err := c.lr.readLine()
	if err != nil {
		return physLine{}, err
	}
	c.line++
	return physLine{n: c.line, b: b, tooLong: tooLong}, nil
}

// heldLines are consecutive lines of the file in one buffer (a record being gathered, or lines
// to read again), so that holding a million short lines costs their bytes, not a million
// allocations.
type heldLines struct {
	buf     []byte
	ends    []int // line n0+k is buf[ends[k-1]:ends[k]]
	n0      int   // the first line's number
	i       int   // lines handed out by physical
	tooLong []int // indexes of lines over the limit, whose bytes are not held
}

func (h *heldLines) isTooLong(k int) bool { return slices.Contains(h.tooLong, k) }

func (h *heldLines) line(k int) []byte {
	start := 0
	if k > 0 {
		start = h.ends[k-1]
	}
	return h.buf[start:h.ends[k]]
}

func (h *heldLines) add(l physLine) {
	if l.tooLong {
		h.tooLong = append(h.tooLong, len(h.ends))
	} else {
		h.buf = append(h.buf, l.b...)
	}
	h.ends = append(h.ends, len(h.buf))
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
	if first.n == 1 {
		first.b = bytes.TrimPrefix(first.b, bom) // before a quote it would make the field unquoted
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
	// them to read again if the record turns out broken.
	rec := &heldLines{n0: first.n}
	rec.add(first)
	broken := func(err error) (recordStart, [][]byte, error) {
		// Read again the lines after the first, then what was held before.
		if h := c.pending; h != nil && h != rec {
			for k := h.i; k < len(h.ends); k++ {
				rec.add(physLine{b: h.line(k), tooLong: h.isTooLong(k)})
			}
		}
		rec.i, c.pending = 1, nil
		if len(rec.ends) > 1 {
			c.pending = rec
		}
		return recordStart{n: first.n, err: err}, nil, nil
	}
	tooBig := func() (recordStart, [][]byte, error) {
		return broken(fmt.Errorf("invalid CSV: the record is over %s, probably a quote that is never closed (reading again from line %d)", limitText(), first.n+1))
	}
	for open := true; open; {
		l, err := c.physical()
		if err == io.EOF {
			return broken(fmt.Errorf("invalid CSV: a quoted field is not closed by the end of the input (reading again from line %d)", first.n+1))
		}
		if err != nil {
			return recordStart{}, nil, err
		}
		rec.add(l) // a copy: lines from the file live in its buffer until the next read
		if l.tooLong || len(rec.buf)+len(rec.ends) > recordLimit {
			return tooBig()
		}
		open = bytes.Count(l.b, []byte{'"'})%2 == 0
	}
	joined := make([]byte, 0, len(rec.buf)+len(rec.ends))
	for k := range rec.ends {
		if k > 0 {
			joined = append(joined, '\n')
		}
		// \r\n inside a quoted field reads as \n, as in encoding/csv.
		joined = append(joined, bytes.TrimSuffix(rec.line(k), []byte{'\r'})...)
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
	c.scratch = c.scratch[:0]
	for i := 0; ; {
		if i < len(b) && b[i] == '"' {
			i++
			// Without doubled quotes the field is a part of b; with them it is copied, into
			// scratch (a field already cut from scratch keeps its old array when it grows).
			start, copied := len(c.scratch), false
			var f []byte
			for {
				j := bytes.IndexByte(b[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("invalid CSV: %v", csv.ErrQuote)
				}
				if i+j+1 < len(b) && b[i+j+1] == '"' {
					if !copied {
						start, copied = len(c.scratch), true
					}
					c.scratch = append(c.scratch, b[i:i+j+1]...)
					i += j + 2
					continue
				}
				if copied {
					c.scratch = append(c.scratch, b[i:i+j]...)
					f = c.scratch[start:len(c.scratch):len(c.scratch)]
				} else {
					f = b[i : i+j : i+j]
				}
				i += j + 1
				break
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
