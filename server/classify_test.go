package server

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

func TestClassify(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("a1", sampleArticle)})
	if err != nil {
		t.Fatalf("Classify(sample) = %v", err)
	}
	c := resp.Classification
	if c.DocumentId != "a1" || c.Model != models.DefaultName || c.ModelVersion == "" {
		t.Errorf("Classify(sample) = id %q model %q version %q, want a1, %s and a version", c.DocumentId, c.Model, c.ModelVersion, models.DefaultName)
	}
	if len(c.Scores) != 4 {
		t.Fatalf("Classify(sample) has %d scores, want 4", len(c.Scores))
	}
	sum := 0.0
	for i, s := range c.Scores {
		sum += float64(s.Confidence)
		if i > 0 && s.Confidence > c.Scores[i-1].Confidence {
			t.Errorf("scores not sorted high to low: %v", c.Scores)
		}
	}
	if math.Abs(sum-1) > 1e-4 {
		t.Errorf("confidences sum to %v, want 1", sum)
	}
	if c.Label != c.Scores[0].Label || c.Confidence != c.Scores[0].Confidence {
		t.Errorf("label %q %v is not the top score %v", c.Label, c.Confidence, c.Scores[0])
	}
	if c.Stats.GetTokens() == 0 || c.Stats.GetBytes() != uint64(len(sampleArticle)) {
		t.Errorf("stats = %v, want tokens > 0 and bytes %d", c.Stats, len(sampleArticle))
	}

	t.Run("options", func(t *testing.T) {
		resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{
			Document: doc("a2", sampleArticle),
			Options:  &topicdv1.ClassifyOptions{TopK: 2, Explain: true, MinConfidence: 0.99},
		})
		if err != nil {
			t.Fatalf("Classify(top_k 2, explain) = %v", err)
		}
		c := resp.Classification
		if len(c.Scores) != 2 || len(c.Explanations) != 2 {
			t.Errorf("Classify(top_k 2, explain) = %d scores, %d explanations, want 2 and 2", len(c.Scores), len(c.Explanations))
		}
		if c.Abstained && c.Label != "other" {
			t.Errorf("abstained result has label %q, want the fallback other", c.Label)
		}
	})
}

func TestClassifyErrors(t *testing.T) {
	env := newTestEnv(t, nil, Options{MaxDocumentBytes: 1000})
	ctx := testCtx(t)
	tests := []struct {
		name string
		req  *topicdv1.ClassifyRequest
		code codes.Code
		msg  []string
	}{
		{"no document", &topicdv1.ClassifyRequest{}, codes.InvalidArgument, []string{"document is missing"}},
		{"empty text", &topicdv1.ClassifyRequest{Document: doc("", "")}, codes.InvalidArgument, []string{"empty or only white space"}},
		{"whitespace", &topicdv1.ClassifyRequest{Document: doc("", " \t\n\u00a0\u2003 ")}, codes.InvalidArgument, []string{"empty or only white space"}},
		{"blank title and text", &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Title: " ", Text: "\t"}}, codes.InvalidArgument, []string{"document.text is empty", "document.title"}},
		{"too large", &topicdv1.ClassifyRequest{Document: doc("", strings.Repeat("x", 1001))}, codes.InvalidArgument, []string{"1001 bytes", "limit of 1000 bytes"}},
		{"title counts", &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Title: strings.Repeat("t", 600), Text: strings.Repeat("x", 600)}}, codes.InvalidArgument, []string{"1200 bytes"}},
		{"unknown model", &topicdv1.ClassifyRequest{Document: doc("", "text"), Model: "nope"}, codes.NotFound, []string{`"nope"`, models.DefaultName}},
		{"long model name", &topicdv1.ClassifyRequest{Document: doc("", "text"), Model: strings.Repeat("m", 1<<20)}, codes.NotFound, []string{`mmm..."`, models.DefaultName}},
		{"long id", &topicdv1.ClassifyRequest{Document: doc(strings.Repeat("i", 1025), "text")}, codes.InvalidArgument, []string{"document.id is 1025 bytes", "limit of 1024"}},
		{"min confidence high", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{MinConfidence: 1.5}}, codes.InvalidArgument, []string{"min_confidence", "1.5"}},
		{"min confidence negative", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{MinConfidence: -0.1}}, codes.InvalidArgument, []string{"min_confidence"}},
		{"min confidence NaN", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{MinConfidence: float32(math.NaN())}}, codes.InvalidArgument, []string{"min_confidence"}},
		{"explain terms", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{Explain: true, ExplainTerms: 51}}, codes.InvalidArgument, []string{"explain_terms", "at most 50", "51"}},
		{"label mix unknown label", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"sports": 0.5}}}, codes.InvalidArgument, []string{`options.label_mix names "sports"`, "cybersecurity, migration, diplomacy, other"}},
		{"label mix share of 1", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"other": 1}}}, codes.InvalidArgument, []string{"options.label_mix share 1", "outside (0, 1)"}},
		{"label mix not summing to 1", &topicdv1.ClassifyRequest{Document: doc("", "text"), Options: &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"cybersecurity": 0.5, "migration": 0.5, "diplomacy": 0.5, "other": 0.5}}}, codes.InvalidArgument, []string{"sum to 2", "make them sum to 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.cls.Classify(ctx, tt.req)
			wantStatus(t, "Classify("+tt.name+")", err, tt.code, tt.msg...)
		})
	}
	t.Run("invalid utf-8", func(t *testing.T) {
		tests := []struct {
			name  string
			req   *topicdv1.ClassifyRequest
			field string
		}{
			{"text", &topicdv1.ClassifyRequest{Document: doc("id", "cafe hackers")}, "document.text"},
			{"title", &topicdv1.ClassifyRequest{Document: &topicdv1.Document{Title: "cafe", Text: "hackers"}}, "document.title"},
			{"id", &topicdv1.ClassifyRequest{Document: doc("cafe", "hackers")}, "document.id"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var resp topicdv1.ClassifyResponse
				err := env.conn.Invoke(ctx, topicdv1.ClassifierService_Classify_FullMethodName,
					corrupt(t, tt.req, "cafe", "caf\xe9"), &resp, sendRaw())
				wantStatus(t, "Classify(invalid UTF-8 in "+tt.name+")", err, codes.InvalidArgument, tt.field, "not valid UTF-8")
			})
		}
	})
	// A title alone is a document, as it is for the classifier (and topicctl --local).
	for _, d := range []*topicdv1.Document{{Title: "Hackers broke into the ministry network"}, {Title: "Hackers broke into the ministry network", Text: " \n"}} {
		if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: d}); err != nil {
			t.Errorf("Classify(title %q, text %q) = %v, want success", d.Title, d.Text, err)
		}
	}
	// The server keeps serving after every rejection, and a document at the limit is fine.
	if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", strings.Repeat("word ", 200))}); err != nil {
		t.Errorf("Classify(1000 bytes, at the limit) = %v, want success", err)
	}
	if strings.Contains(env.logs.String(), "caf") {
		t.Errorf("log holds document text:\n%s", env.logs.String())
	}
}

func TestClassifyBatch(t *testing.T) {
	env := newTestEnv(t, nil, Options{MaxDocumentBytes: 1000, MaxBatchDocuments: 5})
	ctx := testCtx(t)
	docs := []*topicdv1.Document{
		doc("ok1", sampleArticle),
		doc("empty", "   "),
		doc("big", strings.Repeat("y", 1001)),
		doc("utf8", "cafe"),
		doc("ok2", "Migrants crossed the border seeking asylum."),
	}
	// A Go client cannot build a string that is not UTF-8: corrupt the encoded request instead.
	resp := &topicdv1.ClassifyBatchResponse{}
	err := env.conn.Invoke(ctx, topicdv1.ClassifierService_ClassifyBatch_FullMethodName,
		corrupt(t, &topicdv1.ClassifyBatchRequest{Documents: docs}, "cafe", "caf\xe9"), resp, sendRaw())
	if err != nil {
		t.Fatalf("ClassifyBatch = %v", err)
	}
	if len(resp.Results) != len(docs) {
		t.Fatalf("ClassifyBatch returned %d results, want %d", len(resp.Results), len(docs))
	}
	wantErr := map[string]codes.Code{"empty": codes.InvalidArgument, "big": codes.InvalidArgument, "utf8": codes.InvalidArgument}
	for i, r := range resp.Results {
		if r.DocumentId != docs[i].Id {
			t.Errorf("results[%d].document_id = %q, want %q (request order)", i, r.DocumentId, docs[i].Id)
		}
		code, bad := wantErr[docs[i].Id]
		switch {
		case bad && r.GetError() == nil:
			t.Errorf("results[%d] (%s) = %v, want error %v", i, docs[i].Id, r.Result, code)
		case bad && codes.Code(r.GetError().Code) != code:
			t.Errorf("results[%d] (%s) code = %v, want %v", i, docs[i].Id, codes.Code(r.GetError().Code), code)
		case bad && r.GetError().Message == "":
			t.Errorf("results[%d] (%s) error has no message", i, docs[i].Id)
		case !bad && r.GetClassification() == nil:
			t.Errorf("results[%d] (%s) = %v, want a classification", i, docs[i].Id, r.Result)
		case !bad && r.GetClassification().DocumentId != docs[i].Id:
			t.Errorf("results[%d].classification.document_id = %q, want %q", i, r.GetClassification().DocumentId, docs[i].Id)
		}
	}

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			req  *topicdv1.ClassifyBatchRequest
			code codes.Code
			msg  []string
		}{
			{"too many", &topicdv1.ClassifyBatchRequest{Documents: make([]*topicdv1.Document, 6)}, codes.InvalidArgument, []string{"6 documents", "limit of 5"}},
			{"unknown model", &topicdv1.ClassifyBatchRequest{Documents: docs[:1], Model: "x"}, codes.NotFound, []string{`"x"`, models.DefaultName}},
			{"bad options", &topicdv1.ClassifyBatchRequest{Documents: docs[:1], Options: &topicdv1.ClassifyOptions{MinConfidence: 2}}, codes.InvalidArgument, []string{"min_confidence"}},
			{"bad label mix", &topicdv1.ClassifyBatchRequest{Documents: docs, Options: &topicdv1.ClassifyOptions{LabelMix: map[string]float64{"cybersecurity": 0.7, "other": 0.6}}}, codes.InvalidArgument, []string{"options.label_mix shares sum to 1.3", "less than 1"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := env.cls.ClassifyBatch(ctx, tt.req)
				wantStatus(t, "ClassifyBatch("+tt.name+")", err, tt.code, tt.msg...)
			})
		}
	})

	t.Run("large", func(t *testing.T) {
		env := newTestEnv(t, nil, Options{MaxBatchDocuments: 1000, StreamWorkers: 3})
		var docs []*topicdv1.Document
		for i := range 1000 {
			text := fmt.Sprintf("document %d about migrants and hackers", i)
			if i%13 == 0 {
				text = ""
			}
			docs = append(docs, doc(fmt.Sprint(i), text))
		}
		check := func(t *testing.T) {
			resp, err := env.cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: docs})
			if err != nil {
				t.Errorf("ClassifyBatch(1000) = %v", err)
				return
			}
			if len(resp.Results) != len(docs) {
				t.Errorf("ClassifyBatch(1000) returned %d results", len(resp.Results))
				return
			}
			for i, r := range resp.Results {
				want := fmt.Sprint(i)
				switch {
				case r.DocumentId != want:
					t.Errorf("results[%d].document_id = %q, want %q", i, r.DocumentId, want)
					return
				case i%13 == 0 && r.GetError().GetCode() != int32(codes.InvalidArgument):
					t.Errorf("results[%d] = %v, want INVALID_ARGUMENT", i, r)
				case i%13 != 0 && r.GetClassification().GetDocumentId() != want:
					t.Errorf("results[%d] = %v, want the classification of %s", i, r, want)
				}
			}
		}
		// One call alone is split over the workers; overlapping calls are not.
		for _, calls := range []int{1, 4} {
			t.Run(fmt.Sprint(calls, " calls"), func(t *testing.T) {
				var wg sync.WaitGroup
				for range calls {
					wg.Go(func() { check(t) })
				}
				wg.Wait()
			})
		}
	})

	t.Run("missing document", func(t *testing.T) {
		resp, err := env.cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: []*topicdv1.Document{nil, doc("x", "hackers")}})
		if err != nil {
			t.Fatalf("ClassifyBatch(nil doc) = %v", err)
		}
		if resp.Results[0].GetError().GetCode() != int32(codes.InvalidArgument) || resp.Results[1].GetClassification() == nil {
			t.Errorf("ClassifyBatch(nil doc, good doc) = %v, want INVALID_ARGUMENT then a classification", resp.Results)
		}
	})
}

func TestPanicBecomesInternal(t *testing.T) {
	reg, err := NewRegistry(RegistryOptions{Builtin: []NamedModel{{Name: "m", Model: panicModel{defaultModel(t)}}}})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{})
	ctx := testCtx(t)
	for i := range 2 {
		_, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "PANIC now")})
		wantStatus(t, "Classify(panicking model)", err, codes.Internal, "internal error")
		if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers")}); err != nil {
			t.Fatalf("round %d: Classify after a panic = %v, want success", i, err)
		}
	}
	// In a batch, large enough to run on several goroutines, only the panicking document fails.
	var docs []*topicdv1.Document
	for i := range 40 {
		text := "hackers stole passwords"
		if i%7 == 3 {
			text = "PANIC"
		}
		docs = append(docs, doc(fmt.Sprint(i), text))
	}
	resp, err := env.cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: docs})
	if err != nil {
		t.Fatalf("ClassifyBatch with panicking documents = %v", err)
	}
	for i, r := range resp.Results {
		if i%7 == 3 && r.GetError().GetCode() != int32(codes.Internal) {
			t.Errorf("results[%d] = %v, want INTERNAL", i, r)
		}
		if i%7 != 3 && r.GetClassification() == nil {
			t.Errorf("results[%d] = %v, want a classification", i, r)
		}
	}
	if !strings.Contains(env.logs.String(), "test panic") {
		t.Errorf("panic not logged:\n%s", env.logs.String())
	}
	// A panic on a stream worker is that document's error; the stream goes on.
	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []*topicdv1.Document{doc("p", "PANIC"), doc("ok", "hackers")} {
		if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: d}); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	got, err := recvAll(t, stream)
	if err != nil {
		t.Fatalf("stream after panic = %v", err)
	}
	if got["p"].GetError().GetCode() != int32(codes.Internal) || got["ok"].GetClassification() == nil {
		t.Errorf("stream(panic, ok) = %v, want INTERNAL then a classification", got)
	}
}

func TestLogLine(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	if _, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "secret words about hackers")}); err != nil {
		t.Fatal(err)
	}
	// The interceptor logs before gRPC sends the response, so the line is there now.
	logs := env.logs.String()
	for _, want := range []string{`"msg":"call"`, `"method":"/topicd.v1.ClassifierService/Classify"`, `"code":"OK"`, `"model":"news-topics"`, `"peer":"bufconn"`, `"duration_us"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log line lacks %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret") {
		t.Errorf("log holds document text:\n%s", logs)
	}
}

// TestBatchSplit checks when a ClassifyBatch call is split over the workers: only when no
// other ran at the same time in the last overlapMemory. The server reads a clock the test moves.
func TestBatchSplit(t *testing.T) {
	s := New(nil, Options{})
	elapsed := time.Hour // since the server started
	s.since = func(time.Time) time.Duration { return elapsed }
	call := func() bool { // a call that ends at once
		split := s.batchStarted()
		s.batchCalls.Add(-1)
		return split
	}
	if !call() {
		t.Error("the first call, alone, is not split")
	}
	if !call() {
		t.Error("a second call after the first ended is not split")
	}
	if s.batchStarted() != true || s.batchStarted() != false {
		t.Error("of two calls at once, the first should be split and the second not")
	}
	s.batchCalls.Add(-2)
	if call() {
		t.Error("a call alone right after two ran at once is split")
	}
	elapsed += overlapMemory
	if call() {
		t.Errorf("a call alone %s after the last overlap is split", overlapMemory)
	}
	elapsed += time.Millisecond
	if !call() {
		t.Errorf("a call alone %s after the last overlap is not split", overlapMemory+time.Millisecond)
	}
}

func TestClassifyLabelMix(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	const text = "Police arrested a man who sold stolen bank card numbers online"
	confOf := func(mix map[string]float64) map[string]float32 {
		t.Helper()
		resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("m", text), Options: &topicdv1.ClassifyOptions{LabelMix: mix}})
		if err != nil {
			t.Fatalf("Classify(label_mix %v) = %v", mix, err)
		}
		out := map[string]float32{}
		for _, s := range resp.Classification.Scores {
			out[s.Label] = s.Confidence
		}
		return out
	}
	info, err := env.models.GetModel(ctx, &topicdv1.GetModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	assumed := info.GetModel().GetLabelMix()
	var sum float64
	for _, p := range assumed {
		sum += p
	}
	if len(assumed) != 4 || math.Abs(sum-1) > 1e-9 {
		t.Fatalf("GetModel label_mix = %v, want four shares summing to 1", assumed)
	}
	plain := confOf(nil)
	same := confOf(assumed)
	cyber := confOf(map[string]float64{"cybersecurity": 0.9})
	for l, p := range plain {
		if math.Abs(float64(same[l]-p)) > 1e-6 {
			t.Errorf("confidence of %s = %v with the model's own label_mix, want %v as without", l, same[l], p)
		}
	}
	if !(cyber["cybersecurity"] > plain["cybersecurity"]) || !(cyber["other"] < plain["other"]) {
		t.Errorf("label_mix cybersecurity 0.9: confidences %v, want cybersecurity up and other down from %v", cyber, plain)
	}
}
