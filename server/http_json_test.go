package server

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// sameJSON fails t unless got and want are the same JSON value.
func sameJSON(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: hand-written JSON does not parse: %v\n%s", what, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\nhand-written %s\nprotojson    %s", what, got, want)
	}
}

func TestHTTPJSONMatchesProtojson(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	var answers []*topicdv1.ClassifyResponse
	for _, req := range []*topicdv1.ClassifyRequest{
		{Document: &topicdv1.Document{Id: "a", Text: sampleArticle}},
		{Document: &topicdv1.Document{Id: "b\n\"é\t\x01", Title: "Title", Text: sampleArticle}, Options: &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 50}},
		{Document: &topicdv1.Document{Text: "Storks began their migration"}, Options: &topicdv1.ClassifyOptions{MinConfidence: 0.99, TopK: 2}},
		{Document: &topicdv1.Document{Text: "<title>Hack</title><p>" + sampleArticle + "</p>", ContentType: topicdv1.ContentType_CONTENT_TYPE_HTML}, Options: &topicdv1.ClassifyOptions{Explain: true}},
	} {
		resp, err := env.cls.Classify(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, resp)
	}
	// Numbers at the edges of the float format, and absent messages.
	answers = append(answers, &topicdv1.ClassifyResponse{Classification: &topicdv1.Classification{
		Confidence: 1e-7, Scores: []*topicdv1.LabelScore{{Label: "x", Confidence: 3e21}, {Confidence: float32(math.NaN())}, {Confidence: float32(math.Inf(-1))}},
		Topics: []*topicdv1.TopicScore{{Topic: "t", Probability: 0.5, Evidence: &topicdv1.Passage{Start: 1, End: 7, Text: "<a&b>", Score: 1}}},
	}}, &topicdv1.ClassifyResponse{})

	var batch topicdv1.ClassifyBatchResponse
	for i, a := range answers {
		b, ok := appendClassifyResponse(nil, a)
		want, err := jsonMarshaler.Marshal(a)
		if !ok || err != nil {
			t.Fatalf("answer %d: hand-written ok %v, protojson %v", i, ok, err)
		}
		sameJSON(t, "ClassifyResponse", b, want)
		if a.GetClassification() != nil {
			batch.Results = append(batch.Results, &topicdv1.ClassifyBatchResult{DocumentId: a.GetClassification().GetDocumentId(),
				Result: &topicdv1.ClassifyBatchResult_Classification{Classification: a.GetClassification()}})
		}
	}
	batch.Results = append(batch.Results, &topicdv1.ClassifyBatchResult{DocumentId: "bad",
		Result: &topicdv1.ClassifyBatchResult_Error{Error: &status.Status{Code: 3, Message: "document.text is empty"}}})
	b, ok := appendBatchResponse(nil, &batch)
	want, err := jsonMarshaler.Marshal(&batch)
	if !ok || err != nil {
		t.Fatalf("batch: hand-written ok %v, protojson %v", ok, err)
	}
	sameJSON(t, "ClassifyBatchResponse", b, want)

	// What it does not handle goes to protojson.
	if _, ok := appendClassifyResponse(nil, &topicdv1.ClassifyResponse{Classification: &topicdv1.Classification{Label: "\xff"}}); ok {
		t.Error("appendClassifyResponse(invalid UTF-8) = ok, want it left to protojson")
	}
}

// TestHTTPJSONCoversSchema fails when a message that http_json.go writes by hand gains a field:
// extend the writer (and this list) with it.
func TestHTTPJSONCoversSchema(t *testing.T) {
	written := map[proto.Message][]string{
		&topicdv1.ClassifyResponse{}:      {"classification"},
		&topicdv1.ClassifyBatchResponse{}: {"results"},
		&topicdv1.ClassifyBatchResult{}:   {"documentId", "classification", "error"},
		&topicdv1.Classification{}: {"documentId", "label", "confidence", "scores", "model", "modelVersion", "stats",
			"abstained", "explanations", "topics", "extracted"},
		&topicdv1.LabelScore{}:    {"label", "confidence"},
		&topicdv1.InputStats{}:    {"bytes", "tokens", "knownTokens"},
		&topicdv1.Explanation{}:   {"label", "terms"},
		&topicdv1.TermWeight{}:    {"term", "weight"},
		&topicdv1.TopicScore{}:    {"topic", "probability", "present", "threshold", "evidence"},
		&topicdv1.Passage{}:       {"start", "end", "text", "score"},
		&topicdv1.ExtractedText{}: {"title", "text"},
		&status.Status{}:          {"code", "message", "details"},
	}
	for m, names := range written {
		var got []string
		fields := m.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			got = append(got, fields.Get(i).JSONName())
		}
		if !slices.Equal(got, names) {
			t.Errorf("%s has fields %v; http_json.go writes %v: extend it", m.ProtoReflect().Descriptor().FullName(), got, names)
		}
	}
}
