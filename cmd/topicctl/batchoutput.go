package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Output durability. Records are appended as whole lines: a line is only ever written in one
// write call together with the lines before it, never split across two, so a process killed at
// any moment leaves at most one partial line at the end, and --resume cuts it off. Lines are
// flushed when 256 KiB are buffered and every flushInterval; the file is fsynced at most every
// syncInterval and at the end. A kill loses only the lines still buffered, and --resume redoes
// those documents; a machine crash can also lose up to syncInterval of written lines, which
// --resume redoes in the same way. No line is ever written twice, so no id is ever doubled.
const (
	flushBytes    = 256 << 10
	flushInterval = 250 * time.Millisecond
	syncInterval  = time.Second
)

// outputWriter appends JSONL records. Its methods may be called from several goroutines.
type outputWriter struct {
	mu       sync.Mutex
	w        io.Writer
	f        *os.File // nil when writing to standard output
	sync     bool     // f is a regular file, which fsync applies to (not /dev/null, a pipe)
	buf      []byte
	err      error
	lastSync time.Time
	stop     chan struct{}
	stopped  chan struct{}
}

func newOutputWriter(w io.Writer, f *os.File) *outputWriter {
	o := &outputWriter{w: w, f: f, buf: make([]byte, 0, flushBytes+64<<10), lastSync: time.Now(),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	if f != nil {
		st, err := f.Stat()
		o.sync = err == nil && st.Mode().IsRegular()
	}
	go func() {
		defer close(o.stopped)
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				o.mu.Lock()
				o.flushLocked()
				o.mu.Unlock()
			case <-o.stop:
				return
			}
		}
	}()
	return o
}

// write appends one record built by appendRecord, plus its newline.
func (o *outputWriter) write(appendRecord func([]byte) []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.buf = appendRecord(o.buf)
	o.buf = append(o.buf, '\n')
	if len(o.buf) >= flushBytes {
		o.flushLocked()
	}
	return o.err
}

func (o *outputWriter) flushLocked() {
	if o.err != nil || len(o.buf) == 0 {
		return
	}
	if _, err := o.w.Write(o.buf); err != nil {
		o.err = fmt.Errorf("write output: %w", err)
		return
	}
	o.buf = o.buf[:0]
	if o.sync && time.Since(o.lastSync) >= syncInterval {
		o.lastSync = time.Now()
		if err := o.f.Sync(); err != nil {
			o.err = fmt.Errorf("sync output: %w", err)
		}
	}
}

// close flushes and syncs everything and closes the file.
func (o *outputWriter) close() error {
	close(o.stop)
	<-o.stopped
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
	if o.sync {
		if err := o.f.Sync(); err != nil && o.err == nil {
			o.err = fmt.Errorf("sync output: %w", err)
		}
	}
	if o.f != nil {
		if err := o.f.Close(); err != nil && o.err == nil {
			o.err = fmt.Errorf("close output: %w", err)
		}
	}
	return o.err
}

// appendClassification appends the record of a classified document.
func appendClassification(b []byte, id string, c *topicdv1.Classification) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, c.GetLabel())
	b = append(b, `,"confidence":`...)
	b = appendFloat(b, c.GetConfidence())
	b = append(b, `,"scores":{`...)
	for i, s := range c.GetScores() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.GetLabel())
		b = append(b, ':')
		b = appendFloat(b, s.GetConfidence())
	}
	b = append(b, `},"model":`...)
	b = appendJSONString(b, c.GetModel())
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, c.GetModelVersion())
	if c.GetAbstained() {
		b = append(b, `,"abstained":true`...)
	}
	return append(b, '}')
}

// appendError appends the record of a document with an error. line > 0 marks a bad input
// record: --resume matches those by line, since their id may be missing or a duplicate.
func appendError(b []byte, id string, line int, err error) []byte {
	st := status.Convert(err)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	if line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(line), 10)
	}
	b = append(b, `,"error":{"code":`...)
	b = appendJSONString(b, code.Code(st.Code()).String())
	b = append(b, `,"message":`...)
	b = appendJSONString(b, st.Message())
	return append(b, "}}"...)
}

func appendFloat(b []byte, f float32) []byte {
	return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so what --resume reads back equals what was written.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// idSet remembers ids with the input line they were first seen on, in 16 bytes of hash plus 4
// of line per id (about 30 bytes with the map's overhead, 300 MB for 10 million ids), instead
// of the ids themselves. Two independent 64-bit hashes make a false match about 1 in 10^24
// for 10 million ids.
type idSet struct {
	s1, s2 maphash.Seed
	m      map[[2]uint64]int32
}

func newIDSet() *idSet {
	return &idSet{s1: maphash.MakeSeed(), s2: maphash.MakeSeed(), m: make(map[[2]uint64]int32)}
}

func (s *idSet) key(id string) [2]uint64 {
	return [2]uint64{maphash.String(s.s1, id), maphash.String(s.s2, id)}
}

// resumeState is what --resume learned from an existing output file.
type resumeState struct {
	ids   *idSet           // ids with a record; line 0 until seen in this run's input
	lines map[int]struct{} // input lines with a bad-input record
	n     int              // records read
}

// openOutput opens --out. With resume, it reads the records already there, cuts off a
// partial last line left by a killed run, and opens the file for appending. Without resume it
// refuses to overwrite a non-empty file unless force is set.
func openOutput(path string, resume, force bool, stdout io.Writer) (*outputWriter, *resumeState, error) {
	rs := &resumeState{ids: newIDSet(), lines: map[int]struct{}{}}
	if path == "-" || path == "" {
		if resume {
			return nil, nil, errors.New("--resume needs --out FILE: it reads the records already written there")
		}
		return newOutputWriter(stdout, nil), rs, nil
	}
	if !resume {
		if st, err := os.Stat(path); err == nil && st.Size() > 0 && !force {
			return nil, nil, fmt.Errorf("output %s exists: use --resume to continue that job, or --force to overwrite it", path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return nil, nil, err
		}
		return newOutputWriter(f, f), rs, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	good, err := readDone(f, rs)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("resume from %s: %w", path, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("resume: cut the partial last line of %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	return newOutputWriter(f, f), rs, nil
}

// readDone reads the records of an output file into rs and returns the length of its
// complete, valid part: everything up to the last newline, less a tail of NUL bytes that a
// machine crash can leave. A malformed line before the end is an error, since cutting there
// would drop records.
func readDone(r io.Reader, rs *resumeState) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	lineNo := 0
	var bad error
	for {
		b, err := br.ReadBytes('\n')
		if err == io.EOF {
			return off, nil // a partial last line, or none
		}
		if err != nil {
			return 0, err
		}
		lineNo++
		body := bytes.TrimRight(b, "\r\n")
		if len(bytes.Trim(body, "\x00")) == 0 {
			if bad == nil && len(body) > 0 {
				bad = fmt.Errorf("line %d holds NUL bytes", lineNo)
			}
			if len(body) == 0 && bad == nil {
				off += int64(len(b))
			}
			continue
		}
		if bad != nil {
			return 0, fmt.Errorf("%v, then more records: the file is damaged; repair or remove it", bad)
		}
		var rec struct {
			ID   *string `json:"id"`
			Line int     `json:"line"`
		}
		if err := json.Unmarshal(body, &rec); err != nil || rec.ID == nil {
			bad = fmt.Errorf("line %d is not a record of topicctl batch", lineNo)
			continue
		}
		if rec.Line > 0 {
			rs.lines[rec.Line] = struct{}{}
		} else {
			rs.ids.m[rs.ids.key(*rec.ID)] = 0
		}
		rs.n++
		off += int64(len(b))
	}
}
