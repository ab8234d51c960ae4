// Package batchfile reads the input of a batch classification job and writes its output so that
// a job stopped at any moment can be resumed with every document classified exactly once.
//
// # Input
//
// Open reads a JSONL file, a CSV file with a header, a folder of .txt and .html files, or a
// stream (standard input) one document at a time: it never holds the input whole. A record that
// cannot be a document (invalid JSON or CSV, a missing id or text, text that is not UTF-8, a line
// over MaxRecordBytes) comes back as a Doc with Err set and the line it starts on, and the
// reader goes on with the next record; only an input that cannot be read at all stops it.
//
// # Output
//
// Create opens the output: one JSONL record per input document (AppendClassification,
// AppendError). Records are written as whole lines, flushed and fsynced on a schedule, so a
// killed job leaves at most one partial line at the end. The output file is locked while a job
// writes it, so two jobs never interleave their lines in one file.
//
// # Resume
//
// With OutputOptions.Resume, Create reads the records an earlier run wrote and cuts off a
// partial last line; Done.Admit then tells which input documents still need a record. Records
// of documents that failed for a transient reason (the service was unavailable, overloaded or
// out of time) carry "retry": true: they do not count as done, and Create removes them so the
// documents get their one record from this run.
package batchfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// MaxRecordBytes bounds one JSONL line, one CSV record and one file of a folder, so that an
// input without newlines (or with a quote that is never closed) cannot take all memory. It is
// far above any server's document limit; longer records become errors.
const MaxRecordBytes = 64 << 20

// recordLimit is MaxRecordBytes, lowered by tests.
var recordLimit = MaxRecordBytes

// limitText is recordLimit for messages.
func limitText() string {
	if recordLimit%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", recordLimit>>20)
	}
	return fmt.Sprintf("%d bytes", recordLimit)
}

// Doc is one document read from a batch input, or a bad input record (Err set).
type Doc struct {
	// Line is the 1-based line a JSONL or CSV record starts on, or the 1-based position of a
	// file in a folder (in name order).
	Line        int
	ID          string
	Title       string
	Text        string
	ContentType topicdv1.ContentType
	// Err says what is wrong with this input record; the job goes on with the next.
	Err error
}

// reader is one input format.
type reader interface {
	next() (Doc, error)
	Close() error
}

// Formats are the values of Open's format argument.
var Formats = []string{"auto", "jsonl", "csv", "dir"}

// Input is an open batch input. It is not safe for concurrent use.
type Input struct {
	r      reader
	path   string
	format string
}

// Open opens a batch input: "-" for stdin, a folder of .txt and .html files, or a JSONL or CSV
// file. format is one of Formats; "auto" picks by the path: a folder, a .csv name, else JSONL.
func Open(path, format string, stdin io.Reader) (*Input, error) {
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
	if format == "dir" {
		if path == "-" {
			return nil, errors.New("--format dir needs a folder, not -")
		}
		r, err := newDirReader(path)
		if err != nil {
			return nil, err
		}
		return &Input{r: r, path: path, format: format}, nil
	}
	if format != "jsonl" && format != "csv" {
		return nil, fmt.Errorf("unknown --format %q: use one of %s", format, strings.Join(Formats, ", "))
	}
	var rc io.ReadCloser = io.NopCloser(stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	in := &Input{path: path, format: format}
	if format == "csv" {
		r, err := newCSVReader(rc)
		if err != nil {
			return nil, err
		}
		in.r = r
	} else {
		in.r = newJSONLReader(rc)
	}
	return in, nil
}

// Next returns the next document or bad input record, or io.EOF at the end. Any other error
// means the input cannot be read further.
func (in *Input) Next() (Doc, error) { return in.r.next() }

// Close closes the input file.
func (in *Input) Close() error { return in.r.Close() }

// IsDir reports whether the input is a folder, where a Doc's Line is a file's position.
func (in *Input) IsDir() bool { return in.format == "dir" }

// Where names an input position for messages: "line 7", or "file #7" in a folder.
func (in *Input) Where(line int) string {
	if in.IsDir() {
		return fmt.Sprintf("file #%d", line)
	}
	return fmt.Sprintf("line %d", line)
}

// Message is what an error record and standard error say about a bad input record: its
// position (a file's name in a folder) and what is wrong.
func (in *Input) Message(d Doc) string {
	if in.IsDir() {
		return fmt.Sprintf("%s: %v", strings.ToValidUTF8(d.ID, "\uFFFD"), d.Err)
	}
	return fmt.Sprintf("%s: %v", in.Where(d.Line), d.Err)
}

// Count returns how many documents the input holds when that is cheap to know (a folder), or
// counts the lines of a regular file (less a CSV header); -1 when it cannot tell (a stream).
// It reads the file again on its own, so it may run beside Next.
func (in *Input) Count() int64 {
	if d, ok := in.r.(*dirReader); ok {
		return int64(len(d.names))
	}
	if in.path == "-" {
		return -1
	}
	f, err := os.Open(in.path)
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
	if in.format == "csv" && n > 0 {
		n-- // the header
	}
	return n
}
