package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/topicd/topicd/classifier"
)

// This file is the one place where errors become gRPC status codes. Every message is sent to
// clients: it says what to change and never shows internals (paths, stack traces, Go errors).

func errNoDocument() error {
	return status.Error(codes.InvalidArgument, "document is missing; set document.text to the text to classify")
}

// errDocument maps a document the classifier refused (classifier.ValidateDocument or
// Model.Classify) to INVALID_ARGUMENT, naming the field.
func errDocument(err error) error {
	var de *classifier.DocumentError
	field := "text"
	if errors.As(err, &de) {
		field = de.Field
	}
	if errors.Is(err, classifier.ErrEmptyDocument) {
		return status.Error(codes.InvalidArgument,
			"document.text is empty or only white space, and so is document.title; send the text of the article (or at least its title) to classify")
	}
	return errInvalidUTF8("document." + field)
}

func errInvalidUTF8(field string) error {
	return status.Errorf(codes.InvalidArgument,
		"%s is not valid UTF-8; convert it to UTF-8 before sending it", field)
}

// errOptions maps options the classifier refused; its message names the option and what to
// change, after the sentinel's text.
func errOptions(err error) error {
	return status.Error(codes.InvalidArgument,
		"options."+strings.TrimPrefix(err.Error(), classifier.ErrInvalidOptions.Error()+": "))
}

func errTooLarge(size, limit int) error {
	return status.Errorf(codes.InvalidArgument,
		"document is %d bytes (title and text), over this server's limit of %d bytes; shorten or split it",
		size, limit)
}

func errBatchTooLarge(n, limit int) error {
	return status.Errorf(codes.InvalidArgument,
		"batch has %d documents, over this server's limit of %d; send at most %d per ClassifyBatch call, or use ClassifyStream",
		n, limit, limit)
}

func errMinConfidence(v float32) error {
	return status.Errorf(codes.InvalidArgument,
		"options.min_confidence must be between 0 and 1, got %g", v)
}

func errExplainTerms(n uint32) error {
	return status.Errorf(codes.InvalidArgument,
		"options.explain_terms must be at most %d, got %d", classifier.MaxExplainTerms, n)
}

func errUnknownModel(name string, available []string) error {
	return status.Errorf(codes.NotFound,
		"no model named %q on this server; available models: %s (an empty model name uses the default)",
		clip(name), strings.Join(available, ", "))
}

func errIDTooLong(n int) error {
	return status.Errorf(codes.InvalidArgument,
		"document.id is %d bytes, over the limit of %d; use a shorter id", n, maxIDBytes)
}

// clip shortens what a caller sent before it is quoted in a message, so a hostile name cannot
// make the error as large as the request.
func clip(s string) string {
	const max = 100
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}

func errModelNotLoaded(name string, available []string) error {
	return status.Errorf(codes.FailedPrecondition,
		"model %q failed to load on this server (ModelService.GetModel shows why); available models: %s",
		name, strings.Join(available, ", "))
}

func errDraining() error {
	return status.Error(codes.Unavailable,
		"server is shutting down; send the documents that got no response to another replica")
}

func errInternal() error {
	return status.Error(codes.Internal,
		"internal error: the server failed on this request and logged why; it keeps serving other requests")
}

// classifyError maps an error of Model.Classify. The server validates documents and prepares
// options with the classifier before classifying, so a sentinel error here is unexpected but
// still the caller's; an unknown error is logged and hidden.
func (s *Server) classifyError(ctx context.Context, model string, err error) error {
	switch {
	case errors.Is(err, classifier.ErrEmptyDocument), errors.Is(err, classifier.ErrInvalidUTF8):
		return errDocument(err)
	case errors.Is(err, classifier.ErrInvalidOptions):
		return errOptions(err)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "call canceled by the client")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded; set a longer deadline or send smaller documents")
	}
	s.log.LogAttrs(ctx, slog.LevelError, "classify failed", slog.String("model", model), slog.Any("error", err))
	return errInternal()
}

// contextError maps the end of a call's context.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded; set a longer deadline or send fewer documents per call")
	}
	return status.Error(codes.Canceled, "call canceled by the client")
}

// panicError is what a recovered panic becomes: logged with its stack, INTERNAL to the caller.
func (s *Server) panicError(ctx context.Context, what string, p any, stack []byte) error {
	s.log.LogAttrs(ctx, slog.LevelError, "panic recovered",
		slog.String("in", what), slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(stack)))
	return errInternal()
}
