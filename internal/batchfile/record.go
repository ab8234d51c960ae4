package batchfile

import (
	"strconv"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc/status"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// The output records, one JSON object a line:
//
//	{"id", "label", "confidence", "scores": {label: confidence}, "topics": [present topic],
//	 "topic_probabilities": {topic: probability}, "model", "model_version"[, "abstained": true]}
//	{"id", "error": {"code", "message"}}                  a document the service rejected
//	{"id", "line", "error": {"code", "message"}}          a bad input record, at its line
//	{"id", "retry": true, "error": {"code", "message"}}   a transient failure: resume sends it again
//
// They are written by hand, not with encoding/json: a record costs no reflection and no
// allocation, which matters at hundreds of thousands of records a second. A field added to the
// output goes into the function for its record kind, and into the tests that read records back.

// AppendClassification appends the record of a classified document. The id is the caller's, not
// c's document_id, which the stream transport replaces.
func AppendClassification(b []byte, id string, c *topicdv1.Classification) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, c.GetLabel())
	b = append(b, `,"confidence":`...)
	b = appendFloat(b, c.GetConfidence())
	b = append(b, `,"scores":{`...)
	for i, s := range c.GetScores() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.GetLabel())
		b = append(b, ':')
		b = appendFloat(b, s.GetConfidence())
	}
	// Topics, high to low as the service sends them: the present ones, then every topic's
	// probability.
	b = append(b, `},"topics":[`...)
	n := 0
	for _, t := range c.GetTopics() {
		if t.GetPresent() {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, t.GetTopic())
			n++
		}
	}
	b = append(b, `],"topic_probabilities":{`...)
	for i, t := range c.GetTopics() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, t.GetTopic())
		b = append(b, ':')
		b = appendFloat(b, t.GetProbability())
	}
	b = append(b, `},"model":`...)
	b = appendJSONString(b, c.GetModel())
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, c.GetModelVersion())
	if c.GetAbstained() {
		b = append(b, `,"abstained":true`...)
	}
	return append(b, '}')
}

// AppendError appends the record of a document with an error (a gRPC status error; any other
// error is UNKNOWN). line > 0 marks a bad input record: resume matches those by line, since
// their id may be missing or a duplicate.
func AppendError(b []byte, id string, line int, err error) []byte {
	return appendError(b, id, line, false, err)
}

// AppendRetry appends the record of a document that failed for a transient reason. Resume does
// not count it as done: it sends the document again and drops this record.
func AppendRetry(b []byte, id string, err error) []byte {
	return appendError(b, id, 0, true, err)
}

func appendError(b []byte, id string, line int, retry bool, err error) []byte {
	st := status.Convert(err)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, id)
	if line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(line), 10)
	}
	if retry {
		b = append(b, `,"retry":true`...)
	}
	b = append(b, `,"error":{"code":`...)
	b = appendJSONString(b, code.Code(st.Code()).String())
	b = append(b, `,"message":`...)
	b = appendJSONString(b, st.Message())
	return append(b, "}}"...)
}

func appendFloat(b []byte, f float32) []byte {
	return strconv.AppendFloat(b, float64(f), 'g', -1, 32)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does, so what resume reads back equals what was written. (Ids that are not
// UTF-8 never reach a record without a line: the readers refuse them.)
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
