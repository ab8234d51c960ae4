package batchfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// bom is the UTF-8 byte-order mark some editors put at the start of a file.
var bom = []byte("\uFEFF")

// lineReader reads lines of at most MaxRecordBytes without copying the common ones.
type lineReader struct {
	r    *bufio.Reader
	long []byte
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20)}
}

// readLine returns the next line without its newline; it is valid until the next call. A line
// over MaxRecordBytes is skipped and reported with tooLong. The last line may lack a newline.
func (l *lineReader) readLine() (line []byte, tooLong bool, err error) {
	l.long = l.long[:0]
	for {
		b, err := l.r.ReadSlice('\n')
		if err == nil && len(l.long) == 0 && !tooLong {
			return b[:len(b)-1], false, nil // the common case: no copy
		}
		if errors.Is(err, io.EOF) && len(b) == 0 && len(l.long) == 0 && !tooLong {
			return nil, false, io.EOF
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		if !tooLong {
			l.long = append(l.long, bytes.TrimSuffix(b, []byte{'\n'})...)
			if len(l.long) > recordLimit {
				tooLong, l.long = true, l.long[:0]
			}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return l.long, tooLong, nil
		}
	}
}

// jsonlReader reads one JSON object a line: id and text required, title and content_type
// optional, other fields ignored. Blank lines are skipped; a byte-order mark at the start of
// the input is too.
type jsonlReader struct {
	lr   *lineReader
	c    io.Closer
	line int
}

func newJSONLReader(rc io.ReadCloser) *jsonlReader {
	return &jsonlReader{lr: newLineReader(rc), c: rc}
}

func (j *jsonlReader) Close() error { return j.c.Close() }

func (j *jsonlReader) next() (Doc, error) {
	for {
		b, tooLong, err := j.lr.readLine()
		if err != nil {
			return Doc{}, err
		}
		j.line++
		if tooLong {
			return Doc{Line: j.line, Err: fmt.Errorf("line is over %s", limitText())}, nil
		}
		if j.line == 1 {
			b = bytes.TrimPrefix(b, bom)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		return parseJSONLine(j.line, b), nil
	}
}

// jsonDoc is the shape of a JSONL input line. The id may be a string or a number.
type jsonDoc struct {
	ID          json.RawMessage `json:"id"`
	Text        *string         `json:"text"`
	Title       *string         `json:"title"`
	ContentType json.RawMessage `json:"content_type"`
	// contentType is the name the API's JSON form uses.
	ContentTypeJSON json.RawMessage `json:"contentType"`
}

func parseJSONLine(line int, b []byte) Doc {
	d := Doc{Line: line}
	var v jsonDoc
	if err := json.Unmarshal(b, &v); err != nil {
		d.Err = fmt.Errorf("invalid JSON: %v", jsonErrorText(err))
		return d
	}
	id, err := jsonID(v.ID)
	d.ID = id
	switch {
	case err != nil:
		d.Err = err
	case !utf8.Valid(b):
		// encoding/json turns each invalid byte into U+FFFD, which would make ids that differ
		// only there one id, and change the text silently: JSON is UTF-8.
		d.Err = notUTF8("line", b)
	case v.Text == nil:
		d.Err = errors.New(`missing "text" field`)
	default:
		d.Text = *v.Text
		if v.Title != nil {
			d.Title = *v.Title
		}
		ct := v.ContentType
		if ct == nil {
			ct = v.ContentTypeJSON
		}
		d.ContentType, d.Err = contentType(ct)
	}
	return d
}

// contentType parses a JSONL content_type: the short names or the API's enum names.
func contentType(raw json.RawMessage) (topicdv1.ContentType, error) {
	var s string
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New(`"content_type" must be a string: "text" or "html"`)
		}
	}
	switch s {
	case "", "CONTENT_TYPE_UNSPECIFIED":
		return topicdv1.ContentType_CONTENT_TYPE_UNSPECIFIED, nil
	case "text", "CONTENT_TYPE_TEXT":
		return topicdv1.ContentType_CONTENT_TYPE_TEXT, nil
	case "html", "CONTENT_TYPE_HTML":
		return topicdv1.ContentType_CONTENT_TYPE_HTML, nil
	}
	return 0, fmt.Errorf(`"content_type" %q: use "text" or "html" (or CONTENT_TYPE_TEXT, CONTENT_TYPE_HTML)`, clip(s))
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
		if strings.ContainsRune(s, utf8.RuneError) && loneSurrogate(raw) {
			// encoding/json decodes every unpaired surrogate to U+FFFD, so such ids would
			// collapse into one.
			return s, errors.New(`"id" holds an unpaired UTF-16 surrogate escape (\ud800 to \udfff): give ids as valid Unicode`)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", errors.New(`"id" must be a string or a number`)
}

// loneSurrogate reports whether a JSON string holds a \u escape of a UTF-16 surrogate that is
// not a high one followed by a low one.
func loneSurrogate(raw []byte) bool {
	surrogate := func(i int) (hi, lo bool) {
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return false, false
		}
		h := strings.ToLower(string(raw[i+2 : i+4]))
		switch {
		case h >= "d8" && h <= "db":
			return true, false
		case h >= "dc" && h <= "df":
			return false, true
		}
		return false, false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character, perhaps a backslash
			continue
		}
		hi, lo := surrogate(i)
		switch {
		case lo:
			return true
		case hi:
			if _, lo2 := surrogate(i + 6); !lo2 {
				return true
			}
			i += 11
		default:
			i += 5
		}
	}
	return false
}

// jsonErrorText drops encoding/json's type names, which mean nothing to a user.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q must not be a JSON %s", te.Field, te.Value)
	}
	return err.Error()
}

// notUTF8 says where b first holds a byte that is not UTF-8.
func notUTF8(what string, b []byte) error {
	i := 0
	for i < len(b) {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	return fmt.Errorf("%s is not valid UTF-8 (byte 0x%02x at offset %d): save the input as UTF-8", what, b[i], i)
}

// clip shortens a value echoed in a message.
func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
