package client

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// Which errors end a job, which send a document again, and which documents are refused before
// any call.

// fatal reports whether err from a whole call means the job cannot succeed on any replica.
func fatal(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.Unauthenticated,
		codes.Unimplemented, codes.FailedPrecondition, codes.OutOfRange, codes.AlreadyExists:
		return true
	}
	return false
}

// check returns INVALID_ARGUMENT for a document that cannot be sent or that every server
// refuses: nil, a field that is not UTF-8 (protobuf strings are UTF-8), or a document over
// MaxDocumentBytes (MaxHTMLBytes for HTML).
func (r *runner) check(d *topicdv1.Document) error {
	if d == nil {
		return status.Error(codes.InvalidArgument, "nil document")
	}
	for _, f := range [...]struct{ name, s string }{{"id", d.GetId()}, {"title", d.GetTitle()}, {"text", d.GetText()}} {
		if !utf8.ValidString(f.s) {
			return status.Errorf(codes.InvalidArgument, "document.%s is not valid UTF-8 (first bad byte at offset %d): send UTF-8 text", f.name, badUTF8(f.s))
		}
	}
	n := len(d.GetTitle()) + len(d.GetText())
	if d.GetContentType() == topicdv1.ContentType_CONTENT_TYPE_HTML {
		if n > r.cfg.MaxHTMLBytes {
			return status.Errorf(codes.InvalidArgument, "document is %d bytes of HTML (title and text), over the limit of %d: send the article's part of the page, or its text", n, r.cfg.MaxHTMLBytes)
		}
	} else if n > r.cfg.MaxDocumentBytes {
		return status.Errorf(codes.InvalidArgument, "document is %d bytes (title and text), over the limit of %d: shorten or split it", n, r.cfg.MaxDocumentBytes)
	}
	return nil
}

// badUTF8 returns the offset of the first byte of s that is not UTF-8.
func badUTF8(s string) int {
	for i, c := range s {
		if c == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n == 1 {
				return i
			}
		}
	}
	return len(s)
}

// Transient reports whether err, a Result's error, says the service was unavailable, overloaded
// or out of time rather than that the document is wrong: sending the document again later may
// succeed. RunBatch gives such errors only after BatchConfig.MaxAttempts sends.
func Transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// tooLarge reports whether err is gRPC refusing a message over a size limit, which is
// RESOURCE_EXHAUSTED like an overloaded server but never passes by itself.
func tooLarge(err error) bool {
	return status.Code(err) == codes.ResourceExhausted && strings.Contains(status.Convert(err).Message(), "message larger than max")
}

// retryableItem reports whether a per-document error is the replica's fault, not the
// document's, so the document should go to another replica.
func retryableItem(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}
