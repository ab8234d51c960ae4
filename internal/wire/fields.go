package wire

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers of the messages the ClassifyBatch codecs write and read by hand, from
// proto/topicd/v1/topicd.proto. Every number is below 16, so every tag is one byte: the codecs
// size tags as one byte, and the descriptor test fails on a field that breaks this.
const (
	BatchRequestDocuments protowire.Number = 1 // ClassifyBatchRequest.documents
	BatchRequestModel     protowire.Number = 2 // ClassifyBatchRequest.model
	BatchRequestOptions   protowire.Number = 3 // ClassifyBatchRequest.options

	DocumentID          protowire.Number = 1 // Document.id
	DocumentText        protowire.Number = 2 // Document.text
	DocumentTitle       protowire.Number = 3 // Document.title
	DocumentContentType protowire.Number = 4 // Document.content_type

	BatchResponseResults protowire.Number = 1 // ClassifyBatchResponse.results

	BatchResultDocumentID     protowire.Number = 1 // ClassifyBatchResult.document_id
	BatchResultClassification protowire.Number = 2 // ClassifyBatchResult.classification
	BatchResultError          protowire.Number = 3 // ClassifyBatchResult.error

	ClassificationDocumentID   protowire.Number = 1  // Classification.document_id
	ClassificationLabel        protowire.Number = 2  // Classification.label
	ClassificationConfidence   protowire.Number = 3  // Classification.confidence
	ClassificationScores       protowire.Number = 4  // Classification.scores
	ClassificationModel        protowire.Number = 5  // Classification.model
	ClassificationModelVersion protowire.Number = 6  // Classification.model_version
	ClassificationStats        protowire.Number = 7  // Classification.stats
	ClassificationAbstained    protowire.Number = 8  // Classification.abstained
	ClassificationExplanations protowire.Number = 9  // Classification.explanations
	ClassificationTopics       protowire.Number = 10 // Classification.topics
	ClassificationExtracted    protowire.Number = 11 // Classification.extracted

	LabelScoreLabel      protowire.Number = 1 // LabelScore.label
	LabelScoreConfidence protowire.Number = 2 // LabelScore.confidence

	InputStatsBytes       protowire.Number = 1 // InputStats.bytes
	InputStatsTokens      protowire.Number = 2 // InputStats.tokens
	InputStatsKnownTokens protowire.Number = 3 // InputStats.known_tokens

	ExplanationLabel protowire.Number = 1 // Explanation.label
	ExplanationTerms protowire.Number = 2 // Explanation.terms

	TermWeightTerm   protowire.Number = 1 // TermWeight.term
	TermWeightWeight protowire.Number = 2 // TermWeight.weight

	TopicScoreTopic       protowire.Number = 1 // TopicScore.topic
	TopicScoreProbability protowire.Number = 2 // TopicScore.probability
	TopicScorePresent     protowire.Number = 3 // TopicScore.present
	TopicScoreThreshold   protowire.Number = 4 // TopicScore.threshold
	TopicScoreEvidence    protowire.Number = 5 // TopicScore.evidence

	PassageStart protowire.Number = 1 // Passage.start
	PassageEnd   protowire.Number = 2 // Passage.end
	PassageText  protowire.Number = 3 // Passage.text
	PassageScore protowire.Number = 4 // Passage.score

	ExtractedTextTitle protowire.Number = 1 // ExtractedText.title
	ExtractedTextText  protowire.Number = 2 // ExtractedText.text
)

// Field is one field of the table below.
type Field struct {
	Message string           // the message's full name, e.g. "topicd.v1.Document"
	Name    string           // the field's name in the .proto
	Number  protowire.Number // its number
	Type    protowire.Type   // the wire type the codecs write and read
	// Delegated fields hold a message the codecs hand whole to protobuf-go (the options of a
	// request, the status of a failed document): its fields are protobuf-go's business.
	Delegated bool
}

// Fields lists every field of every message the hand-written codecs touch, for the test that
// walks the generated descriptors: a field of the API missing here (added to the .proto, say)
// fails that test, so it cannot be dropped from batch calls unnoticed. Adding a field here means
// adding it to the encoders and decoders of server/ and client/ (their round-trip tests against
// protobuf-go fill every field of the descriptors and fail on one that is not carried).
var Fields = []Field{
	{"topicd.v1.ClassifyBatchRequest", "documents", BatchRequestDocuments, protowire.BytesType, false},
	{"topicd.v1.ClassifyBatchRequest", "model", BatchRequestModel, protowire.BytesType, false},
	{"topicd.v1.ClassifyBatchRequest", "options", BatchRequestOptions, protowire.BytesType, true},

	{"topicd.v1.Document", "id", DocumentID, protowire.BytesType, false},
	{"topicd.v1.Document", "text", DocumentText, protowire.BytesType, false},
	{"topicd.v1.Document", "title", DocumentTitle, protowire.BytesType, false},
	{"topicd.v1.Document", "content_type", DocumentContentType, protowire.VarintType, false},

	{"topicd.v1.ClassifyBatchResponse", "results", BatchResponseResults, protowire.BytesType, false},

	{"topicd.v1.ClassifyBatchResult", "document_id", BatchResultDocumentID, protowire.BytesType, false},
	{"topicd.v1.ClassifyBatchResult", "classification", BatchResultClassification, protowire.BytesType, false},
	{"topicd.v1.ClassifyBatchResult", "error", BatchResultError, protowire.BytesType, true},

	{"topicd.v1.Classification", "document_id", ClassificationDocumentID, protowire.BytesType, false},
	{"topicd.v1.Classification", "label", ClassificationLabel, protowire.BytesType, false},
	{"topicd.v1.Classification", "confidence", ClassificationConfidence, protowire.Fixed32Type, false},
	{"topicd.v1.Classification", "scores", ClassificationScores, protowire.BytesType, false},
	{"topicd.v1.Classification", "model", ClassificationModel, protowire.BytesType, false},
	{"topicd.v1.Classification", "model_version", ClassificationModelVersion, protowire.BytesType, false},
	{"topicd.v1.Classification", "stats", ClassificationStats, protowire.BytesType, false},
	{"topicd.v1.Classification", "abstained", ClassificationAbstained, protowire.VarintType, false},
	{"topicd.v1.Classification", "explanations", ClassificationExplanations, protowire.BytesType, false},
	{"topicd.v1.Classification", "topics", ClassificationTopics, protowire.BytesType, false},
	{"topicd.v1.Classification", "extracted", ClassificationExtracted, protowire.BytesType, false},

	{"topicd.v1.LabelScore", "label", LabelScoreLabel, protowire.BytesType, false},
	{"topicd.v1.LabelScore", "confidence", LabelScoreConfidence, protowire.Fixed32Type, false},

	{"topicd.v1.InputStats", "bytes", InputStatsBytes, protowire.VarintType, false},
	{"topicd.v1.InputStats", "tokens", InputStatsTokens, protowire.VarintType, false},
	{"topicd.v1.InputStats", "known_tokens", InputStatsKnownTokens, protowire.VarintType, false},

	{"topicd.v1.Explanation", "label", ExplanationLabel, protowire.BytesType, false},
	{"topicd.v1.Explanation", "terms", ExplanationTerms, protowire.BytesType, false},

	{"topicd.v1.TermWeight", "term", TermWeightTerm, protowire.BytesType, false},
	{"topicd.v1.TermWeight", "weight", TermWeightWeight, protowire.Fixed32Type, false},

	{"topicd.v1.TopicScore", "topic", TopicScoreTopic, protowire.BytesType, false},
	{"topicd.v1.TopicScore", "probability", TopicScoreProbability, protowire.Fixed32Type, false},
	{"topicd.v1.TopicScore", "present", TopicScorePresent, protowire.VarintType, false},
	{"topicd.v1.TopicScore", "threshold", TopicScoreThreshold, protowire.Fixed32Type, false},
	{"topicd.v1.TopicScore", "evidence", TopicScoreEvidence, protowire.BytesType, false},

	{"topicd.v1.Passage", "start", PassageStart, protowire.VarintType, false},
	{"topicd.v1.Passage", "end", PassageEnd, protowire.VarintType, false},
	{"topicd.v1.Passage", "text", PassageText, protowire.BytesType, false},
	{"topicd.v1.Passage", "score", PassageScore, protowire.Fixed32Type, false},

	{"topicd.v1.ExtractedText", "title", ExtractedTextTitle, protowire.BytesType, false},
	{"topicd.v1.ExtractedText", "text", ExtractedTextText, protowire.BytesType, false},
}
