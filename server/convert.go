package server

import (
	"github.com/topicd/topicd/classifier"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// inlineScores is how many label scores a unary or stream response holds without a second
// allocation; the default model has four labels.
const inlineScores = 8

// classificationBlock holds the messages of one classification result, so the hot path
// allocates one object per document instead of one per message. The label scores go into
// scores and ptrs, which the caller points at room of its own (see scoreRoom); fill allocates
// only when they are too short.
type classificationBlock struct {
	c         topicdv1.Classification
	stats     topicdv1.InputStats
	scores    []topicdv1.LabelScore
	ptrs      []*topicdv1.LabelScore
	topics    []topicdv1.TopicScore
	topicPtrs []*topicdv1.TopicScore
}

// scoreRoom is room for the scores of one unary or stream response. A batch takes the room of
// all its documents in one slab sized by the model's labels instead, which is a third smaller
// per document than this.
type scoreRoom struct {
	scores    [inlineScores]topicdv1.LabelScore
	ptrs      [inlineScores]*topicdv1.LabelScore
	topics    [inlineScores]topicdv1.TopicScore
	topicPtrs [inlineScores]*topicdv1.TopicScore
}

// use points b's scores and topics at r.
func (b *classificationBlock) use(r *scoreRoom) {
	b.scores, b.ptrs = r.scores[:], r.ptrs[:]
	b.topics, b.topicPtrs = r.topics[:], r.topicPtrs[:]
}

// fill turns a classifier result into the API's Classification, inside b.
func (b *classificationBlock) fill(id string, e *modelEntry, r *classifier.Result) *topicdv1.Classification {
	c := &b.c
	c.DocumentId = validUTF8(id)
	c.Label = r.Label
	c.Confidence = float32(r.Confidence)
	c.Model = e.name
	c.ModelVersion = e.version
	c.Abstained = r.Abstained
	b.stats.Bytes = uint64(r.Stats.Bytes)
	b.stats.Tokens = uint64(r.Stats.Tokens)
	b.stats.KnownTokens = uint64(r.Stats.KnownTokens)
	c.Stats = &b.stats

	if n := len(r.Scores); n <= len(b.scores) && n <= len(b.ptrs) {
		c.Scores = b.ptrs[:n:n]
		for i, s := range r.Scores {
			b.scores[i].Label = s.Label
			b.scores[i].Confidence = float32(s.Confidence)
			b.ptrs[i] = &b.scores[i]
		}
	} else {
		c.Scores = make([]*topicdv1.LabelScore, n)
		for i, s := range r.Scores {
			c.Scores[i] = &topicdv1.LabelScore{Label: s.Label, Confidence: float32(s.Confidence)}
		}
	}

	if n := len(r.Topics); n <= len(b.topics) && n <= len(b.topicPtrs) {
		c.Topics = b.topicPtrs[:n:n]
		for i := range r.Topics {
			setTopic(&b.topics[i], &r.Topics[i])
			b.topicPtrs[i] = &b.topics[i]
		}
	} else {
		c.Topics = make([]*topicdv1.TopicScore, n)
		for i := range r.Topics {
			c.Topics[i] = new(topicdv1.TopicScore)
			setTopic(c.Topics[i], &r.Topics[i])
		}
	}

	if len(r.Explanations) > 0 {
		c.Explanations = make([]*topicdv1.Explanation, len(r.Explanations))
		for i, x := range r.Explanations {
			terms := make([]*topicdv1.TermWeight, len(x.Terms))
			for j, t := range x.Terms {
				terms[j] = &topicdv1.TermWeight{Term: t.Term, Weight: float32(t.Weight)}
			}
			c.Explanations[i] = &topicdv1.Explanation{Label: x.Label, Terms: terms}
		}
	}
	return c
}

// setTopic fills dst from a classifier topic score; the evidence passage, present only with
// explain, is the one message it allocates.
func setTopic(dst *topicdv1.TopicScore, t *classifier.TopicScore) {
	dst.Topic = t.Topic
	dst.Probability = float32(t.Probability)
	dst.Present = t.Present
	dst.Threshold = float32(t.Threshold)
	dst.Evidence = nil
	if e := t.Evidence; e != nil {
		dst.Evidence = &topicdv1.Passage{Start: uint32(e.Start), End: uint32(e.End), Text: e.Text, Score: float32(e.Score)}
	}
}
