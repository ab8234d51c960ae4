package batchfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// OutputOptions say what Create does with an output file that exists. The zero value refuses
// to touch a non-empty file and refuses at once when another job holds the file.
type OutputOptions struct {
	// Resume continues the job an earlier run wrote: Create reads its records (see Done) and
	// appends.
	Resume bool
	// Force empties a non-empty output instead of refusing. Resume takes precedence.
	Force bool
	// LockWait is how long Create waits for another job writing the same file to finish. Zero
	// refuses at once.
	LockWait time.Duration
	// Waiting, if set, is called once when Create starts to wait for another job's lock.
	Waiting func()
	// Ready, if set, is called once the output is open, locked and checked (and with Resume,
	// read), before Create changes anything in it. An error from it is returned and leaves the
	// file as it was, for a job that finds it cannot run (no server answers) after the cheap
	// refusals above were made at once.
	Ready func() error
}

// Output is an open output: standard output or a locked file. Its methods may be called from
// several goroutines.
type Output struct {
	w    *writer
	done *Done
}

// Create opens the output path ("-" or "" for stdout) as opts say. A file is locked (flock)
// until Close, so a second job on the same file waits or is refused with a message that says
// so; a job that reads the output meanwhile sees only whole lines.
func Create(ctx context.Context, path string, opts OutputOptions, stdout io.Writer) (*Output, error) {
	done := newDone()
	if path == "-" || path == "" {
		if opts.Resume {
			return nil, errors.New("--resume needs --out FILE: it reads the records already written there")
		}
		if err := opts.ready(); err != nil {
			return nil, err
		}
		return &Output{w: newWriter(stdout, nil), done: done}, nil
	}
	_, err := os.Lstat(path)
	created := errors.Is(err, fs.ErrNotExist)
	f, err := openLocked(ctx, path, opts.LockWait, opts.Waiting)
	if err != nil {
		return nil, err
	}
	// notReady closes the file when opts.Ready fails, and removes it if this call created it,
	// so that the output is left as the job found it.
	notReady := func(err error) (*Output, error) {
		if st, e := f.Stat(); created && e == nil && st.Mode().IsRegular() && st.Size() == 0 {
			os.Remove(path)
		}
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !opts.Resume {
		if st.Size() > 0 && !opts.Force {
			f.Close()
			return nil, fmt.Errorf("output %s exists: use --resume to continue that job, or --force to overwrite it", path)
		}
		if err := opts.ready(); err != nil {
			return notReady(err)
		}
		if st.Mode().IsRegular() {
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, err
			}
		}
		return &Output{w: newWriter(f, f), done: done}, nil
	}
	if !st.Mode().IsRegular() {
		if err := opts.ready(); err != nil {
			return notReady(err)
		}
		return &Output{w: newWriter(f, f), done: done}, nil // /dev/null: nothing was written
	}
	good, err := readDone(f, done)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("resume from %s: %w", path, err)
	}
	if err := opts.ready(); err != nil {
		return notReady(err)
	}
	// A copy left by a run killed while it dropped retry records: only a job holding the lock
	// writes one, so it is stale.
	if entries, err := os.ReadDir(filepath.Dir(path)); err == nil {
		for _, e := range entries {
			if rest, ok := strings.CutPrefix(e.Name(), filepath.Base(path)+".resume-"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
				os.Remove(filepath.Join(filepath.Dir(path), e.Name()))
			}
		}
	}
	if done.Retries > 0 {
		if f, err = dropRetries(f, path, good); err != nil {
			return nil, fmt.Errorf("resume from %s: %w", path, err)
		}
		return &Output{w: newWriter(f, f), done: done}, nil
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("resume: cut the partial last line of %s: %w", path, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return &Output{w: newWriter(f, f), done: done}, nil
}

func (o OutputOptions) ready() error {
	if o.Ready == nil {
		return nil
	}
	return o.Ready()
}

// Done is what an earlier run wrote to the output, for resume; empty without it.
func (o *Output) Done() *Done { return o.done }

// WriteClassification writes the record of a classified document.
func (o *Output) WriteClassification(id string, c *topicdv1.Classification) error {
	return o.w.write(func(b []byte) []byte { return AppendClassification(b, id, c) })
}

// WriteError writes the record of a document with an error; line > 0 marks a bad input record
// (see AppendError).
func (o *Output) WriteError(id string, line int, err error) error {
	return o.w.write(func(b []byte) []byte { return AppendError(b, id, line, err) })
}

// WriteRetry writes the record of a document that failed for a transient reason (see
// AppendRetry).
func (o *Output) WriteRetry(id string, err error) error {
	return o.w.write(func(b []byte) []byte { return AppendRetry(b, id, err) })
}

// Close flushes, syncs and closes the output, releasing its lock.
func (o *Output) Close() error { return o.w.close() }

// retryMarker is how a retry record reads, to find them without decoding every line twice.
var retryMarker = []byte(`,"retry":true,`)

// readDone reads the records of an output file into done and returns the length of its
// complete, valid part: everything up to the last newline, less a tail of NUL bytes that a
// machine crash can leave. A malformed line before the end is an error, since cutting there
// would drop records.
func readDone(r io.Reader, done *Done) (int64, error) {
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
			ID    *string `json:"id"`
			Line  int     `json:"line"`
			Retry bool    `json:"retry"`
		}
		if err := json.Unmarshal(body, &rec); err != nil || rec.ID == nil {
			bad = fmt.Errorf("line %d is not a record of a batch job", lineNo)
			continue
		}
		switch {
		case rec.Retry:
			done.Retries++
		case rec.Line > 0:
			done.lines[rec.Line] = struct{}{}
			done.Records++
		default:
			done.ids.m[done.ids.key(*rec.ID)] = 0
			done.Records++
		}
		off += int64(len(b))
	}
}

// dropRetries replaces the output with a copy of its first good bytes without the retry
// records, so that the documents they stand for get one record, from this run. The copy is
// written beside the file, locked, synced and renamed over it: a crash leaves the old file
// whole. It returns the new file, open at its end; f is closed.
func dropRetries(f *os.File, path string, good int64) (*os.File, error) {
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".resume-*")
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := lockFile(tmp); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(st.Mode().Perm()); err != nil {
		return fail(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(err)
	}
	br := bufio.NewReaderSize(io.LimitReader(f, good), 1<<20)
	bw := bufio.NewWriterSize(tmp, 1<<20)
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: never a retry record, whose fields are short and fixed.
			if _, err := bw.Write(b); err != nil {
				return fail(err)
			}
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if bytes.Contains(b, retryMarker) {
			var rec struct{ Retry bool }
			if json.Unmarshal(b, &rec) == nil && rec.Retry {
				continue
			}
		}
		if _, err := bw.Write(b); err != nil {
			return fail(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fail(err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // the rename itself, on file systems that need it
		d.Close()
	}
	return tmp, nil
}

// openLocked opens path for reading and writing, creating it, and locks it when it is a
// regular file, waiting up to wait for another job's lock.
func openLocked(ctx context.Context, path string, wait time.Duration, waiting func()) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return f, nil // /dev/null, a pipe: nothing to protect
		}
		err = lockFile(f)
		if errors.Is(err, errLocked) {
			f.Close()
			if !time.Now().Before(deadline) {
				msg := "output %s is being written by another batch job (it holds the file's lock): let it finish or stop it, then continue with --resume"
				if wait > 0 {
					msg += fmt.Sprintf(" (waited %v)", wait)
				}
				return nil, fmt.Errorf(msg, path)
			}
			if waiting != nil {
				waiting()
				waiting = nil
			}
			select {
			case <-time.After(min(100*time.Millisecond, time.Until(deadline))):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock output %s: %w", path, err)
		}
		// The job that held the lock may have replaced the file (dropRetries): lock the one
		// the path names now.
		if now, err := os.Stat(path); err != nil || !os.SameFile(st, now) {
			f.Close()
			continue
		}
		return f, nil
	}
}
