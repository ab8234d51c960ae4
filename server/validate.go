package server

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// defaultExplainTerms is what explain_terms 0 means when explain is set, as the API documents.
const defaultExplainTerms = 5

// maxIDBytes bounds a document id: it is echoed in every response.
const maxIDBytes = 1024

// validateDocument checks what the server promises to reject with INVALID_ARGUMENT. The size is
// checked first so an oversized document is rejected before anything scans it.
func (s *Server) validateDocument(d *topicdv1.Document) error {
	if d == nil {
		return errNoDocument()
	}
	if n := len(d.Text) + len(d.Title); n > s.opts.MaxDocumentBytes {
		return errTooLarge(n, s.opts.MaxDocumentBytes)
	}
	if !utf8.ValidString(d.Text) {
		return errInvalidUTF8("document.text")
	}
	if !utf8.ValidString(d.Title) {
		return errInvalidUTF8("document.title")
	}
	if len(d.Id) > maxIDBytes {
		return errIDTooLong(len(d.Id))
	}
	if !utf8.ValidString(d.Id) {
		return errInvalidUTF8("document.id")
	}
	if blank(d.Text) {
		return errEmptyText()
	}
	return nil
}

// blank reports whether s holds only white space. It stops at the first other character, so it
// costs next to nothing on real text.
func blank(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case ' ', '\t', '\n', '\v', '\f', '\r':
				i++
				continue
			}
			return false
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			return false
		}
		i += size
	}
	return true
}

// classifyOptions turns the API's options into the classifier's for model m, rejecting values
// out of range, so a bad option fails the call once instead of every document of a batch.
func classifyOptions(o *topicdv1.ClassifyOptions, m Model) (classifier.Options, error) {
	if o == nil {
		return classifier.Options{}, nil
	}
	mc := o.MinConfidence
	if math.IsNaN(float64(mc)) || mc < 0 || mc > 1 {
		return classifier.Options{}, errMinConfidence(mc)
	}
	if o.ExplainTerms > classifier.MaxExplainTerms {
		return classifier.Options{}, errExplainTerms(o.ExplainTerms)
	}
	opts := classifier.Options{
		TopK:           int(o.TopK),
		MinConfidence:  float64(mc),
		LabelMix:       o.LabelMix,
		TopicThreshold: float64(o.TopicThreshold),
	}
	if o.Explain {
		opts.ExplainTerms = int(o.ExplainTerms)
		if opts.ExplainTerms == 0 {
			opts.ExplainTerms = defaultExplainTerms
		}
	}
	opts, err := m.PrepareOptions(opts)
	if err != nil {
		// The classifier's message names the option and what to change.
		return classifier.Options{}, status.Error(codes.InvalidArgument, "options."+strings.TrimPrefix(err.Error(), classifier.ErrInvalidOptions.Error()+": "))
	}
	return opts, nil
}
