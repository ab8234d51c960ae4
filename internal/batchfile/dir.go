package batchfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// dirReader reads every .txt file (plain text) and .html or .htm file (HTML) of a folder, in
// name order; the id is the file name. Subfolders and other files are ignored. Text must be
// UTF-8; a page in another encoding is decoded by its declared charset, as browsers do.
type dirReader struct {
	dir   string
	names []string
	i     int
}

// fileContentType returns the content type of a file name read from a folder, or false for a
// name the reader skips.
func fileContentType(name string) (topicdv1.ContentType, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".txt":
		return topicdv1.ContentType_CONTENT_TYPE_UNSPECIFIED, true
	case ".html", ".htm":
		return topicdv1.ContentType_CONTENT_TYPE_HTML, true
	}
	return 0, false
}

func newDirReader(dir string) (*dirReader, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &dirReader{dir: dir}
	for _, e := range entries {
		if _, ok := fileContentType(e.Name()); ok && e.Type().IsRegular() {
			d.names = append(d.names, e.Name())
		}
	}
	return d, nil
}

func (d *dirReader) Close() error { return nil }

func (d *dirReader) next() (Doc, error) {
	if d.i >= len(d.names) {
		return Doc{}, io.EOF
	}
	name := d.names[d.i]
	d.i++
	doc := Doc{Line: d.i, ID: name}
	doc.ContentType, _ = fileContentType(name)
	if !utf8.ValidString(name) {
		// The id must be UTF-8 to travel; a name that is not would lose its bytes and could
		// collide with another file's.
		doc.Err = notUTF8("the file name", []byte(name))
		return doc, nil
	}
	b, err := readFile(filepath.Join(d.dir, name))
	if err == nil && !utf8.Valid(b) && doc.ContentType == topicdv1.ContentType_CONTENT_TYPE_HTML {
		b = htmlToUTF8(b)
	}
	switch {
	case err != nil:
		doc.Err = err
	case !utf8.Valid(b):
		doc.Err = notUTF8("the file", b)
	default:
		doc.Text = string(b)
	}
	return doc, nil
}

// htmlToUTF8 decodes a page that is not UTF-8 as a browser would: by its byte-order mark or
// <meta charset>, else as windows-1252. It returns b unchanged when that fails.
func htmlToUTF8(b []byte) []byte {
	enc, name, _ := charset.DetermineEncoding(b, "text/html")
	if name == "utf-8" {
		return b
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return b
	}
	return out
}

// readFile reads at most MaxRecordBytes of a file, without a leading byte-order mark.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", filepath.Base(path), pathErr(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(recordLimit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %v", filepath.Base(path), pathErr(err))
	}
	if len(b) > recordLimit {
		return nil, fmt.Errorf("file is over %s", limitText())
	}
	return bytes.TrimPrefix(b, bom), nil
}

// pathErr drops the path from an error that names it, since messages name the file already.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
