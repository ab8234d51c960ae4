package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// runLocal classifies docs in this process with the embedded default model, on concurrency
// goroutines (one with --ordered), writing the same records through the same writer as the server path. It exists
// to measure what gRPC costs a batch job: the rate here is the library's, with the same input
// parsing and output encoding around it.
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
				res, err := m.Classify(doc.GetTitle(), doc.GetText(), opts)
				j.done.Add(1)
				if err != nil {
					j.mu.Lock()
					j.serverErrs++
					j.mu.Unlock()
					err = localStatus(err)
					err = j.out.write(func(b []byte) []byte { return appendError(b, doc.GetId(), 0, err) })
				} else {
					j.mu.Lock()
					j.labels[res.Label]++
					j.mu.Unlock()
					err = j.out.write(func(b []byte) []byte { return appendLocal(b, doc.GetId(), &res, version) })
				}
				if err != nil {
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

// localStatus gives a library error the code the server would give it.
func localStatus(err error) error {
	switch {
	case errors.Is(err, classifier.ErrEmptyDocument), errors.Is(err, classifier.ErrInvalidUTF8), errors.Is(err, classifier.ErrInvalidOptions):
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// appendLocal appends the record of a document classified in process, in the same shape as
// appendClassification.
func appendLocal(b []byte, id string, r *classifier.Result, version string) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, r.Label)
	b = append(b, `,"confidence":`...)
	b = appendFloat(b, float32(r.Confidence))
	b = append(b, `,"scores":{`...)
	for i, s := range r.Scores {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.Label)
		b = append(b, ':')
		b = appendFloat(b, float32(s.Confidence))
	}
	b = append(b, `},"model":`...)
	b = appendJSONString(b, models.DefaultName)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, version)
	if r.Abstained {
		b = append(b, `,"abstained":true`...)
	}
	return append(b, '}')
}
