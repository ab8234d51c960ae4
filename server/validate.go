package server

import (
	"math"

	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// defaultExplainTerms is what explain_terms 0 means when explain is set, as the API documents.
const defaultExplainTerms = 5

// maxIDBytes bounds a document id: it is echoed in every response.
const maxIDBytes = 1024

// validateDocument refuses what this server's settings refuse (the size of a document and of
// its id) and what the classifier does not take as a document (classifier.ValidateDocument, the
// one definition of a valid document, which every path shares). The size is checked first so an
// oversized document is rejected before anything scans it. Decoders keep invalid UTF-8 as it
// came (see lenientCodec), so this is where each document with it is refused, alone.
func (s *Server) validateDocument(d *topicdv1.Document) error {
	if d == nil {
		return errNoDocument()
	}
	if n := len(d.Text) + len(d.Title); n > s.opts.MaxDocumentBytes {
		return errTooLarge(n, s.opts.MaxDocumentBytes)
	}
	if len(d.Id) > maxIDBytes {
		return errIDTooLong(len(d.Id))
	}
	if err := classifier.ValidateDocument(d.Id, d.Title, d.Text); err != nil {
		return errDocument(err)
	}
	return nil
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
		return classifier.Options{}, errOptions(err)
	}
	return opts, nil
}
