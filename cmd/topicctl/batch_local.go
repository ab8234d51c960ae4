package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/client"
	"github.com/topicd/topicd/internal/article"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// runLocal classifies docs in this process with the embedded default model, on concurrency
// goroutines (one with --ordered), writing the same records through the same writer as the
// server path. It exists to measure what gRPC costs a batch job: the rate here is the
// library's, with the same input parsing and output encoding around it. HTML documents are read
// with the server's article extraction.
func runLocal(ctx context.Context, j *batchJob, docs <-chan *topicdv1.Document) error {
	if j.flags.model != "" && j.flags.model != models.DefaultName {
		return fmt.Errorf("--local serves only the embedded model %q, not %q", models.DefaultName, j.flags.model)
	}
	m, err := models.Default()
	if err != nil {
		return err
	}
	opts := classifier.Options{TopK: j.flags.topK, MinConfidence: j.flags.minConfidence, LabelMix: j.flags.labelMix}
	if opts, err = m.PrepareOptions(opts); err != nil {
		return fmt.Errorf("--label-mix: %w", err)
	}
	version := m.Version()
	workers := j.flags.concurrency
	if j.flags.ordered {
		workers = 1 // one goroutine writes in input order
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for {
				var doc *topicdv1.Document
				var ok bool
				select {
				case doc, ok = <-docs:
				case <-ctx.Done():
					return
				}
				if !ok {
					return
				}
				res := client.Result{ID: doc.GetId()}
				title, text, err := localText(doc, j.flags.htmlBytes)
				if err == nil {
					var r classifier.Result
					if r, err = m.Classify(title, text, opts); err == nil {
						res.Classification = localClassification(&r, version)
					} else {
						err = localStatus(err)
					}
				}
				res.Err = err
				if err := j.emit(res); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// localText is what the model reads of doc: its title and text, or for HTML the article's
// text and title (doc's title, else the page's), as a server extracts them.
func localText(doc *topicdv1.Document, maxHTML int) (title, text string, err error) {
	if doc.GetContentType() != topicdv1.ContentType_CONTENT_TYPE_HTML {
		return doc.GetTitle(), doc.GetText(), nil
	}
	if n := len(doc.GetTitle()) + len(doc.GetText()); n > maxHTML {
		return "", "", status.Errorf(codes.InvalidArgument, "document is %d bytes of HTML (title and text), over the limit of %d (--max-html-bytes)", n, maxHTML)
	}
	a, err := article.Extract(doc.GetText())
	switch {
	case errors.Is(err, article.ErrNoText):
		return "", "", status.Error(codes.InvalidArgument, "document.text is HTML with no article text (only markup, scripts, navigation or nothing)")
	case err != nil:
		return "", "", status.Errorf(codes.InvalidArgument, "document.text cannot be read as HTML: %v", err)
	}
	title = doc.GetTitle()
	if title == "" {
		title = a.Title
	}
	return title, a.Text, nil
}

// localStatus gives a library error the code the server would give it.
func localStatus(err error) error {
	switch {
	case errors.Is(err, classifier.ErrEmptyDocument), errors.Is(err, classifier.ErrInvalidUTF8), errors.Is(err, classifier.ErrInvalidOptions):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// localClassification is the API's Classification of a result of the embedded model, as a
// server would answer it, so that both paths write their records with one encoder.
func localClassification(r *classifier.Result, version string) *topicdv1.Classification {
	c := &topicdv1.Classification{
		Label:        r.Label,
		Confidence:   float32(r.Confidence),
		Abstained:    r.Abstained,
		Model:        models.DefaultName,
		ModelVersion: version,
		Scores:       make([]*topicdv1.LabelScore, len(r.Scores)),
		Stats: &topicdv1.InputStats{
			Bytes: uint64(r.Stats.Bytes), Tokens: uint64(r.Stats.Tokens), KnownTokens: uint64(r.Stats.KnownTokens),
		},
	}
	scores := make([]topicdv1.LabelScore, len(r.Scores))
	for i, s := range r.Scores {
		scores[i].Label, scores[i].Confidence = s.Label, float32(s.Confidence)
		c.Scores[i] = &scores[i]
	}
	topics := make([]topicdv1.TopicScore, len(r.Topics))
	c.Topics = make([]*topicdv1.TopicScore, len(r.Topics))
	for i, t := range r.Topics {
		topics[i] = topicdv1.TopicScore{Topic: t.Topic, Probability: float32(t.Probability), Present: t.Present, Threshold: float32(t.Threshold)}
		c.Topics[i] = &topics[i]
	}
	return c
}
