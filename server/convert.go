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
	c      topicdv1.Classification
	stats  topicdv1.InputStats
	scores []topicdv1.LabelScore
	ptrs   []*topicdv1.LabelScore
}

// scoreRoom is room for the scores of one unary or stream response. A batch takes the room of
// all its documents in one slab sized by the model's labels instead, which is a third smaller
// per document than this.
type scoreRoom struct {
	scores [inlineScores]topicdv1.LabelScore
	ptrs   [inlineScores]*topicdv1.LabelScore
}

// use points b's scores at r.
func (b *classificationBlock) use(r *scoreRoom) {
	b.scores, b.ptrs = r.scores[:], r.ptrs[:]
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
