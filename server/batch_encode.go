package server

import (
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"

	"github.com/topicd/topicd/internal/wire"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// A ClassifyBatchResponse of 1000 documents is the largest message the server sends, and
// protobuf-go's reflective marshal of it (a size pass, then an append pass, both walking
// descriptors per field) showed in the server's profile under topicctl batch
// (docs/performance.md). marshalBatchResponse writes the same bytes straight from the Go structs: every field of
// Classification and of the messages inside it, as internal/wire's field table lists them (a
// test fails on a field of the API missing there, and another fills every field at random and
// compares the bytes with proto.Marshal's). It relies on what the server builds: no unknown
// fields, and strings already valid UTF-8 (document ids go through validUTF8, labels and model
// names come from loaded models). The error of a rejected document is marshaled by protobuf-go.

// marshalBatchResponse encodes resp as proto.Marshal would.
func marshalBatchResponse(resp *topicdv1.ClassifyBatchResponse) (mem.BufferSlice, error) {
	// sizes[i] is the encoded size of results[i]; the classifications' sizes follow at
	// len(results)+i. Both are needed twice: for the total and for the length prefixes.
	sizes := make([]int, 2*len(resp.Results))
	total := 0
	for i, r := range resp.Results {
		n, cn := resultSize(r)
		sizes[i], sizes[len(resp.Results)+i] = n, cn
		total += wire.SizeMessage(n)
	}
	var buf []byte
	var pooled *[]byte
	if mem.IsBelowBufferPoolingThreshold(total) {
		buf = make([]byte, 0, total)
	} else {
		pooled = responseBuffers.Get(total)
		buf = (*pooled)[:0]
	}
	var err error
	for i, r := range resp.Results {
		buf = wire.AppendMessageHeader(buf, wire.BatchResponseResults, sizes[i])
		if buf, err = appendResult(buf, r, sizes[len(resp.Results)+i]); err != nil {
			if pooled != nil {
				responseBuffers.Put(pooled)
			}
			return nil, err
		}
	}
	if pooled != nil {
		*pooled = buf
		return mem.BufferSlice{mem.NewBuffer(pooled, responseBuffers)}, nil
	}
	return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
}

// responseBuffers holds the buffers of batch responses between calls.
var responseBuffers = new(wire.UnclearedPool)

// handClassification returns r's classification if this file encodes r by hand, else nil: r is
// then an error result (or has no result), which protobuf-go marshals.
func handClassification(r *topicdv1.ClassifyBatchResult) *topicdv1.Classification {
	if r == nil {
		return nil
	}
	one, ok := r.Result.(*topicdv1.ClassifyBatchResult_Classification)
	if !ok || one.Classification == nil {
		return nil
	}
	return one.Classification
}

// resultSize returns the encoded size of r and of its classification (0 if not encoded by hand).
func resultSize(r *topicdv1.ClassifyBatchResult) (n, cn int) {
	c := handClassification(r)
	if c == nil {
		return proto.Size(r), 0
	}
	cn = classificationSize(c)
	return wire.SizeString(r.DocumentId) + wire.SizeMessage(cn), cn
}

func appendResult(b []byte, r *topicdv1.ClassifyBatchResult, cn int) ([]byte, error) {
	c := handClassification(r)
	if c == nil {
		return proto.MarshalOptions{}.MarshalAppend(b, r)
	}
	b = wire.AppendString(b, wire.BatchResultDocumentID, r.DocumentId)
	b = wire.AppendMessageHeader(b, wire.BatchResultClassification, cn)
	return appendClassification(b, c), nil
}

// The functions below take the Get methods' view of nil: a nil message in a list is encoded as
// an empty one, as protobuf-go does.

func classificationSize(c *topicdv1.Classification) int {
	n := wire.SizeString(c.DocumentId) + wire.SizeString(c.Label) + wire.SizeFloat(c.Confidence)
	for _, s := range c.Scores {
		n += wire.SizeMessage(scoreSize(s))
	}
	n += wire.SizeString(c.Model) + wire.SizeString(c.ModelVersion)
	if c.Stats != nil {
		n += wire.SizeMessage(statsSize(c.Stats))
	}
	n += wire.SizeBool(c.Abstained)
	for _, e := range c.Explanations {
		n += wire.SizeMessage(explanationSize(e))
	}
	for _, t := range c.Topics {
		n += wire.SizeMessage(topicSize(t))
	}
	if c.Extracted != nil {
		n += wire.SizeMessage(extractedSize(c.Extracted))
	}
	return n
}

func appendClassification(b []byte, c *topicdv1.Classification) []byte {
	b = wire.AppendString(b, wire.ClassificationDocumentID, c.DocumentId)
	b = wire.AppendString(b, wire.ClassificationLabel, c.Label)
	b = wire.AppendFloat(b, wire.ClassificationConfidence, c.Confidence)
	for _, s := range c.Scores {
		b = wire.AppendMessageHeader(b, wire.ClassificationScores, scoreSize(s))
		b = wire.AppendString(b, wire.LabelScoreLabel, s.GetLabel())
		b = wire.AppendFloat(b, wire.LabelScoreConfidence, s.GetConfidence())
	}
	b = wire.AppendString(b, wire.ClassificationModel, c.Model)
	b = wire.AppendString(b, wire.ClassificationModelVersion, c.ModelVersion)
	if st := c.Stats; st != nil {
		b = wire.AppendMessageHeader(b, wire.ClassificationStats, statsSize(st))
		b = wire.AppendUint(b, wire.InputStatsBytes, st.Bytes)
		b = wire.AppendUint(b, wire.InputStatsTokens, st.Tokens)
		b = wire.AppendUint(b, wire.InputStatsKnownTokens, st.KnownTokens)
	}
	b = wire.AppendBool(b, wire.ClassificationAbstained, c.Abstained)
	for _, e := range c.Explanations {
		b = wire.AppendMessageHeader(b, wire.ClassificationExplanations, explanationSize(e))
		b = wire.AppendString(b, wire.ExplanationLabel, e.GetLabel())
		for _, t := range e.GetTerms() {
			b = wire.AppendMessageHeader(b, wire.ExplanationTerms, termSize(t))
			b = wire.AppendString(b, wire.TermWeightTerm, t.GetTerm())
			b = wire.AppendFloat(b, wire.TermWeightWeight, t.GetWeight())
		}
	}
	for _, t := range c.Topics {
		b = wire.AppendMessageHeader(b, wire.ClassificationTopics, topicSize(t))
		b = wire.AppendString(b, wire.TopicScoreTopic, t.GetTopic())
		b = wire.AppendFloat(b, wire.TopicScoreProbability, t.GetProbability())
		b = wire.AppendBool(b, wire.TopicScorePresent, t.GetPresent())
		b = wire.AppendFloat(b, wire.TopicScoreThreshold, t.GetThreshold())
		if p := t.GetEvidence(); p != nil {
			b = wire.AppendMessageHeader(b, wire.TopicScoreEvidence, passageSize(p))
			b = wire.AppendUint(b, wire.PassageStart, uint64(p.Start))
			b = wire.AppendUint(b, wire.PassageEnd, uint64(p.End))
			b = wire.AppendString(b, wire.PassageText, p.Text)
			b = wire.AppendFloat(b, wire.PassageScore, p.Score)
		}
	}
	if x := c.Extracted; x != nil {
		b = wire.AppendMessageHeader(b, wire.ClassificationExtracted, extractedSize(x))
		b = wire.AppendString(b, wire.ExtractedTextTitle, x.Title)
		b = wire.AppendString(b, wire.ExtractedTextText, x.Text)
	}
	return b
}

func scoreSize(s *topicdv1.LabelScore) int {
	return wire.SizeString(s.GetLabel()) + wire.SizeFloat(s.GetConfidence())
}

func statsSize(s *topicdv1.InputStats) int {
	return wire.SizeUint(s.Bytes) + wire.SizeUint(s.Tokens) + wire.SizeUint(s.KnownTokens)
}

func explanationSize(e *topicdv1.Explanation) int {
	n := wire.SizeString(e.GetLabel())
	for _, t := range e.GetTerms() {
		n += wire.SizeMessage(termSize(t))
	}
	return n
}

func termSize(t *topicdv1.TermWeight) int {
	return wire.SizeString(t.GetTerm()) + wire.SizeFloat(t.GetWeight())
}

func topicSize(t *topicdv1.TopicScore) int {
	n := wire.SizeString(t.GetTopic()) + wire.SizeFloat(t.GetProbability()) +
		wire.SizeBool(t.GetPresent()) + wire.SizeFloat(t.GetThreshold())
	if p := t.GetEvidence(); p != nil {
		n += wire.SizeMessage(passageSize(p))
	}
	return n
}

func passageSize(p *topicdv1.Passage) int {
	return wire.SizeUint(uint64(p.Start)) + wire.SizeUint(uint64(p.End)) +
		wire.SizeString(p.Text) + wire.SizeFloat(p.Score)
}

func extractedSize(x *topicdv1.ExtractedText) int {
	return wire.SizeString(x.Title) + wire.SizeString(x.Text)
}
