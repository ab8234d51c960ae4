package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The gateway reads an NDJSON body on a goroutine that, when a line cannot be read (not JSON,
// not a ClassifyStreamRequest), stops reading and ends the stream as if the body had ended: the
// documents after it would be dropped without a word. recordingDecoder notes the error, and
// checkedStream turns the end of such a stream into an error line that says which document could
// not be read and that the rest were not classified.
//
// A line over the limit is different: a JSON string cannot hold a raw newline, so the line's end
// is the document's end whatever it holds, and the stream can go on after it. lineLimit stops
// the decoder at the limit and then skips the rest of the line without holding it;
// recordingDecoder hands the gateway a placeholder request for it, which checkedStream answers
// itself, with the document's own error, instead of sending it to the server.

// lineLimit bounds each line of an NDJSON body: the JSON decoder holds a whole value in memory
// before the document reaches the stream's own bounds, so a line without end must fail first.
type lineLimit struct {
	io.ReadCloser
	limit   int64
	line    int64 // bytes read since the last newline
	tripped bool  // the current line passed the limit: Read fails until skipLine
	pending []byte
	st      *requestState
}

// errLineTooLong stops the decoder at a line over the limit.
var errLineTooLong = errors.New("NDJSON line over the limit")

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.tripped {
		return 0, errLineTooLong
	}
	// Never read past the byte that would pass the limit: a line after a newline in p then
	// cannot pass it, so the bytes held back from the decoder are only those of the long line.
	if room := l.limit - l.line + 1; int64(len(p)) > room {
		p = p[:room]
	}
	var n int
	var err error
	if len(l.pending) > 0 {
		n = copy(p, l.pending)
		l.pending = l.pending[n:]
	} else {
		n, err = l.ReadCloser.Read(p)
	}
	for i, c := range p[:n] {
		if c == '\n' {
			l.line = 0
			continue
		}
		l.line++
		if l.line > l.limit {
			l.tripped = true
			return i, errLineTooLong
		}
	}
	return n, err
}

// skipLine reads and drops the rest of a line that passed the limit, and returns its length
// with the part already read. It holds one buffer, whatever the line's size; the bytes after
// the line's end are kept for the next Read.
func (l *lineLimit) skipLine() (int64, error) {
	n := l.line
	l.line, l.tripped = 0, false
	buf := make([]byte, 32<<10)
	for {
		chunk := l.pending
		var err error
		if len(chunk) == 0 {
			var m int
			m, err = l.ReadCloser.Read(buf)
			chunk = buf[:m]
		}
		l.pending = nil
		if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
			l.pending = append([]byte(nil), chunk[i+1:]...)
			return n + int64(i), nil
		}
		n += int64(len(chunk))
		if err != nil {
			return n, err
		}
	}
}

// recordingDecoder decodes the requests of an NDJSON body, counting them, noting the error
// that stops it, and turning a line over the limit into a placeholder request (see
// requestState.overLimit) before going on with the next line.
type recordingDecoder struct {
	dec    runtime.Decoder
	newDec func(io.Reader) runtime.Decoder
	lines  *lineLimit
	st     *requestState
}

func (d *recordingDecoder) Decode(v any) error {
	err := d.dec.Decode(v)
	switch {
	case err == nil:
		d.st.streamDocs.Add(1)
	case errors.Is(err, errLineTooLong):
		return d.overLimit(v)
	case !errors.Is(err, io.EOF):
		d.st.streamErr.Store(&err)
	}
	return err
}

// overLimit skips the line over the limit and makes v the placeholder of its document.
func (d *recordingDecoder) overLimit(v any) error {
	req, ok := v.(*topicdv1.ClassifyStreamRequest)
	if !ok {
		return errLineTooLong // not the stream's decoder: never happens
	}
	id := ""
	if w, ok := d.dec.(runtime.DecoderWrapper); ok {
		id = leadingID(w.Buffered())
	}
	size, err := d.lines.skipLine()
	if err != nil && !errors.Is(err, io.EOF) {
		return err // the body broke off: nobody is left to answer
	}
	// The old decoder holds the line's start and its error: the next line starts afresh.
	d.dec = d.newDec(d.lines)
	n := d.st.streamDocs.Add(1)
	req.Reset()
	req.Document = &topicdv1.Document{Id: id}
	d.st.overLimit = &overLimitLine{req: req, resp: &topicdv1.ClassifyStreamResponse{
		DocumentId: validUTF8(id),
		Result: &topicdv1.ClassifyStreamResponse_Error{Error: status.Newf(codes.InvalidArgument,
			"document %d of the NDJSON body is a line of %d bytes, over this server's limit of %d bytes per line (topicd --max-message-bytes); it was not read: send a shorter document (of an HTML page, the article's part, or its text)",
			n, size, d.lines.limit).Proto()},
	}}
	return nil
}

// idScanBytes is how much of a line over the limit is searched for its document's id.
const idScanBytes = 2*maxIDBytes + 1024

// leadingID returns the document.id of a request whose JSON starts in r, if it comes within
// its first idScanBytes (as protojson and most encoders write it, before the text), else "".
func leadingID(r io.Reader) string {
	dec := json.NewDecoder(io.LimitReader(r, idScanBytes))
	type frame struct {
		object, wantKey bool
		key             string
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "" // the scan reached the long text, or the limit, first
		}
		top := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
				continue
			}
			stack = stack[:top]
			if top > 0 && stack[top-1].object {
				stack[top-1].wantKey = true
			}
		default:
			if top < 0 {
				return ""
			}
			if f := &stack[top]; f.object && f.wantKey {
				f.key, _ = t.(string)
				f.wantKey = false
				continue
			}
			if id, ok := t.(string); ok && top == 1 && stack[0].key == "document" && stack[1].object && stack[1].key == "id" {
				return id
			}
			if stack[top].object {
				stack[top].wantKey = true
			}
		}
	}
}

// overLimitLine is the placeholder request for a document on a line over the limit, and the
// answer checkedStream gives in its place.
type overLimitLine struct {
	req  *topicdv1.ClassifyStreamRequest
	resp *topicdv1.ClassifyStreamResponse
}

// checkedStream is a ClassifyStream that answers the documents on lines over the limit itself,
// and whose end reports a body that could not be read to its end.
type checkedStream struct {
	grpc.BidiStreamingClient[topicdv1.ClassifyStreamRequest, topicdv1.ClassifyStreamResponse]
	st     *requestState
	reject func(error) error
	ctx    context.Context // the HTTP request's; the stream's own ends with the server's answers
	// local carries the answers made here; remote those of the server, received on a goroutine
	// of their own (started by the first Recv) so that Recv can wait for both.
	local  chan *topicdv1.ClassifyStreamResponse
	remote chan streamRecv
	pump   sync.Once
}

type streamRecv struct {
	m   *topicdv1.ClassifyStreamResponse
	err error
}

func newCheckedStream(ctx context.Context, s grpc.BidiStreamingClient[topicdv1.ClassifyStreamRequest, topicdv1.ClassifyStreamResponse], st *requestState, reject func(error) error) *checkedStream {
	return &checkedStream{BidiStreamingClient: s, st: st, reject: reject, ctx: ctx,
		local: make(chan *topicdv1.ClassifyStreamResponse), remote: make(chan streamRecv)}
}

// Send sends m to the server, unless it is the placeholder of a line over the limit, whose answer
// it hands to Recv. Like the gateway's Decode, it runs on the gateway's sending goroutine, which
// is what makes the placeholder safe to read without a lock. It waits until Recv takes the
// answer, so a client that does not read its answers stops the reading of its body, as the
// server's own stream window does.
func (c *checkedStream) Send(m *topicdv1.ClassifyStreamRequest) error {
	if o := c.st.overLimit; o != nil && o.req == m {
		c.st.overLimit = nil
		c.reject(status.ErrorProto(o.resp.GetError()))
		select {
		case c.local <- o.resp:
			return nil
		case <-c.Context().Done():
			return c.Context().Err()
		}
	}
	return c.BidiStreamingClient.Send(m)
}

// receive passes the server's answers to Recv until the last one, its end included, or until
// the HTTP request ends. (Not the stream's context, which gRPC cancels as it receives the end.)
func (c *checkedStream) receive() {
	for {
		m, err := c.BidiStreamingClient.Recv()
		select {
		case c.remote <- streamRecv{m, err}:
		case <-c.ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// Recv returns the next answer, the server's or one made here. The server's stream ends only
// after the body has been read to its end and every Send has returned, so no answer made here
// is left behind.
func (c *checkedStream) Recv() (*topicdv1.ClassifyStreamResponse, error) {
	c.pump.Do(func() { go c.receive() })
	var r streamRecv
	select {
	case m := <-c.local:
		return m, nil
	case r = <-c.remote:
	}
	if errors.Is(r.err, io.EOF) {
		if e := c.st.streamErr.Load(); e != nil {
			msg := strings.TrimLeft(strings.TrimPrefix((*e).Error(), "proto:"), " \u00a0")
			return nil, status.Errorf(codes.InvalidArgument,
				"document %d of the NDJSON body cannot be read: %s; it and the documents after it were not classified: send one ClassifyStreamRequest JSON object per line",
				c.st.streamDocs.Load()+1, msg)
		}
	}
	return r.m, r.err
}
