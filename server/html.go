package server

import (
	"errors"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/internal/article"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// DefaultMaxHTMLBytes is what Options.MaxHTMLBytes 0 means: a news page with its markup,
// scripts and styles is many times its text.
const DefaultMaxHTMLBytes = 4 << 20

// readDocument returns the document the model reads: d itself for plain text, and for HTML a
// document holding the article's text and title (the request's title, else the page's),
// with what was extracted. An HTML document over Options.MaxHTMLBytes, not UTF-8, or with no
// article text is INVALID_ARGUMENT.
func (s *Server) readDocument(d *topicdv1.Document) (*topicdv1.Document, *topicdv1.ExtractedText, error) {
	if d == nil {
		return nil, nil, nil
	}
	switch d.ContentType {
	case topicdv1.ContentType_CONTENT_TYPE_UNSPECIFIED, topicdv1.ContentType_CONTENT_TYPE_TEXT:
		return d, nil, nil
	case topicdv1.ContentType_CONTENT_TYPE_HTML:
	default:
		return nil, nil, status.Errorf(codes.InvalidArgument,
			"document.content_type %d is not known; use CONTENT_TYPE_TEXT (or leave it unset) for plain text, CONTENT_TYPE_HTML for a web page", d.ContentType)
	}
	if n := len(d.Text) + len(d.Title); n > s.opts.MaxHTMLBytes {
		return nil, nil, status.Errorf(codes.InvalidArgument,
			"document is %d bytes of HTML (title and text), over this server's limit of %d bytes for HTML; send the article's part of the page, or its text",
			n, s.opts.MaxHTMLBytes)
	}
	if !utf8.ValidString(d.Text) {
		return nil, nil, errInvalidUTF8("document.text")
	}
	a, err := article.Extract(d.Text)
	switch {
	case errors.Is(err, article.ErrNoText):
		return nil, nil, status.Error(codes.InvalidArgument,
			"document.text is HTML with no article text (only markup, scripts, navigation or nothing); send the page of an article, or plain text with content_type CONTENT_TYPE_TEXT")
	case errors.Is(err, article.ErrUnreadable):
		return nil, nil, status.Error(codes.InvalidArgument,
			"document.text cannot be read as HTML: its elements are nested deeper than 512; send the article's part of the page, or its text")
	case err != nil:
		return nil, nil, errInternal()
	}
	title := d.Title
	if title == "" {
		title = a.Title
	}
	read := &topicdv1.Document{Id: d.Id, Title: title, Text: a.Text}
	return read, &topicdv1.ExtractedText{Title: title, Text: a.Text}, nil
}
