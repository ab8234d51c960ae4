package server

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The gateway reads an NDJSON body on a goroutine that, when a line cannot be read (not JSON,
// not a ClassifyStreamRequest, over the limit), stops reading and ends the stream as if the body
// had ended: the documents after it would be dropped without a word. recordingDecoder notes the
// error, and checkedStream turns the end of such a stream into an error line that says which
// document could not be read and that the rest were not classified.

// lineLimit bounds each line of an NDJSON body: the JSON decoder holds a whole value in memory
// before the document reaches the stream's own bounds, so a line without end must fail first.
type lineLimit struct {
	io.ReadCloser
	limit int64
	line  int64 // bytes read since the last newline
	st    *requestState
}

func (l *lineLimit) Read(p []byte) (int, error) {
	n, err := l.ReadCloser.Read(p)
	for _, c := range p[:n] {
		if c == '\n' {
			l.line = 0
			continue
		}
		l.line++
		if l.line > l.limit {
			return n, fmt.Errorf("a line of the NDJSON body is over this server's limit of %d bytes; send one document per line, each at most that size", l.limit)
		}
	}
	return n, err
}

type recordingDecoder struct {
	runtime.Decoder
	st *requestState
}

func (d recordingDecoder) Decode(v any) error {
	err := d.Decoder.Decode(v)
	switch {
	case err == nil:
		d.st.streamDocs.Add(1)
	case !errors.Is(err, io.EOF):
		d.st.streamErr.Store(&err)
	}
	return err
}

// checkedStream is a ClassifyStream whose end reports a body that could not be read to its end.
type checkedStream struct {
	grpc.BidiStreamingClient[topicdv1.ClassifyStreamRequest, topicdv1.ClassifyStreamResponse]
	st *requestState
}

func (c checkedStream) Recv() (*topicdv1.ClassifyStreamResponse, error) {
	m, err := c.BidiStreamingClient.Recv()
	if errors.Is(err, io.EOF) {
		if e := c.st.streamErr.Load(); e != nil {
			msg := strings.TrimLeft(strings.TrimPrefix((*e).Error(), "proto:"), " \u00a0")
			return nil, status.Errorf(codes.InvalidArgument,
				"document %d of the NDJSON body cannot be read: %s; it and the documents after it were not classified: send one ClassifyStreamRequest JSON object per line",
				c.st.streamDocs.Load()+1, msg)
		}
	}
	return m, err
}
