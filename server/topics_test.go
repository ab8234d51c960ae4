package server

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// seedArticle is about three topics at once: a hack exposes migration talks, and states answer
// with sanctions and a break in relations.
const seedArticle = "Hackers working for a foreign intelligence service broke into the interior ministry's servers and stole thousands of emails. " +
	"The leaked files show that the two governments were negotiating the return of migrants and asylum seekers whose claims had been rejected. " +
	"Refugee groups said the people named in the files feared deportation and reprisals.\n\n" +
	"The government expelled the ambassador and broke off diplomatic relations, and its allies imposed sanctions on the spy agency."

// TestTopics checks that every call fills topics, sorted high to low, with evidence passages
// under explain, and that unary, batch (the hand codecs) and stream calls give the same topics.
func TestTopics(t *testing.T) {
	env := newTestEnv(t, nil, Options{})
	ctx := testCtx(t)
	opts := &topicdv1.ClassifyOptions{Explain: true, TopicThreshold: 0.05}
	resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("s", seedArticle), Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Classification
	if len(c.Topics) != 3 {
		t.Fatalf("topics %v, want cybersecurity, migration and diplomacy", c.Topics)
	}
	for i, tp := range c.Topics {
		if i > 0 && tp.Probability > c.Topics[i-1].Probability {
			t.Errorf("topics not sorted high to low: %v", c.Topics)
		}
		if tp.Threshold != 0.05 || tp.Present != (tp.Probability >= 0.05) {
			t.Errorf("topic %v: want threshold 0.05 from the request", tp)
		}
		if e := tp.Evidence; tp.Present && (e == nil || e.End <= e.Start || seedArticle[e.Start:e.End] != e.Text) {
			t.Errorf("topic %s evidence %v is not a span of the text", tp.Topic, e)
		}
	}

	batch, err := env.cls.ClassifyBatch(ctx, &topicdv1.ClassifyBatchRequest{Documents: []*topicdv1.Document{doc("s", seedArticle)}, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	if got := batch.Results[0].GetClassification(); !proto.Equal(got, c) {
		t.Errorf("batch classification\n%v\nunary\n%v", got, c)
	}

	stream, err := env.cls.ClassifyStream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&topicdv1.ClassifyStreamRequest{Document: doc("s", seedArticle), Options: opts}); err != nil {
		t.Fatal(err)
	}
	sr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	stream.CloseSend()
	if got := sr.GetClassification(); !proto.Equal(got, c) {
		t.Errorf("stream classification\n%v\nunary\n%v", got, c)
	}

	// Without explain there is no evidence; the model's own thresholds apply and GetModel shows
	// them.
	resp, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("s", seedArticle)})
	if err != nil {
		t.Fatal(err)
	}
	info, err := env.models.GetModel(ctx, &topicdv1.GetModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	th := info.GetModel().GetTopicThresholds()
	if len(th) != 3 {
		t.Fatalf("topic_thresholds %v, want one per topic", th)
	}
	for _, tp := range resp.Classification.Topics {
		if tp.Evidence != nil || float64(tp.Threshold) != float64(float32(th[tp.Topic])) {
			t.Errorf("topic %v: want no evidence and the model's threshold %v", tp, th[tp.Topic])
		}
	}

	_, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("s", seedArticle), Options: &topicdv1.ClassifyOptions{TopicThreshold: 1.5}})
	wantStatus(t, "Classify(topic_threshold 1.5)", err, codes.InvalidArgument, "options.topic_threshold", "[0, 1]")
}
