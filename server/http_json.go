package server

import (
	"math"
	"math/bits"
	"strconv"
	"unicode/utf8"

	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// protojson takes about half of the server's CPU for an HTTP Classify call (it walks each
// message by reflection and sorts its fields every time; BenchmarkHTTPClassify), so the two
// answers that carry classifications, ClassifyResponse and ClassifyBatchResponse, are written
// by hand into the same JSON protojson writes with EmitUnpopulated: the same names, field
// order, number and string formats, null for an absent message and [] for an empty list.
// TestHTTPJSONMatchesProtojson holds the two equal on real answers, and
// TestHTTPJSONCoversSchema fails when a message written here gains a field, so that the writer
// is extended with the schema. Anything it does not handle (invalid UTF-8, a status with
// details) goes to protojson.

// appendClassifyResponse appends r as JSON; ok is false when protojson must write it instead.
func appendClassifyResponse(b []byte, r *topicdv1.ClassifyResponse) ([]byte, bool) {
	b = append(b, `{"classification":`...)
	b, ok := appendClassificationJSON(b, r.GetClassification())
	return append(b, '}'), ok
}

// appendBatchResponse appends r as JSON; ok is false when protojson must write it instead.
func appendBatchResponse(b []byte, r *topicdv1.ClassifyBatchResponse) ([]byte, bool) {
	b = append(b, `{"results":[`...)
	ok := true
	for i, res := range r.GetResults() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"documentId":`...)
		b = appendJSONString(b, res.GetDocumentId(), &ok)
		switch x := res.GetResult().(type) {
		case *topicdv1.ClassifyBatchResult_Classification:
			b = append(b, `,"classification":`...)
			var cok bool
			b, cok = appendClassificationJSON(b, x.Classification)
			ok = ok && cok
		case *topicdv1.ClassifyBatchResult_Error:
			if len(x.Error.GetDetails()) > 0 {
				return b, false
			}
			b = append(b, `,"error":{"code":`...)
			b = strconv.AppendInt(b, int64(x.Error.GetCode()), 10)
			b = append(b, `,"message":`...)
			b = appendJSONString(b, x.Error.GetMessage(), &ok)
			b = append(b, `,"details":[]}`...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), ok
}

func appendClassificationJSON(b []byte, c *topicdv1.Classification) ([]byte, bool) {
	if c == nil {
		return append(b, "null"...), true
	}
	ok := true
	b = append(b, `{"documentId":`...)
	b = appendJSONString(b, c.DocumentId, &ok)
	b = append(b, `,"label":`...)
	b = appendJSONString(b, c.Label, &ok)
	b = append(b, `,"confidence":`...)
	b = appendFloat32(b, c.Confidence)
	b = append(b, `,"scores":[`...)
	for i, s := range c.Scores {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"label":`...)
		b = appendJSONString(b, s.GetLabel(), &ok)
		b = append(b, `,"confidence":`...)
		b = appendFloat32(b, s.GetConfidence())
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = appendJSONString(b, c.Model, &ok)
	b = append(b, `,"modelVersion":`...)
	b = appendJSONString(b, c.ModelVersion, &ok)
	b = append(b, `,"stats":`...)
	if st := c.Stats; st == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"bytes":"`...)
		b = strconv.AppendUint(b, st.Bytes, 10)
		b = append(b, `","tokens":"`...)
		b = strconv.AppendUint(b, st.Tokens, 10)
		b = append(b, `","knownTokens":"`...)
		b = strconv.AppendUint(b, st.KnownTokens, 10)
		b = append(b, `"}`...)
	}
	b = append(b, `,"abstained":`...)
	b = strconv.AppendBool(b, c.Abstained)
	b = append(b, `,"explanations":[`...)
	for i, x := range c.Explanations {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"label":`...)
		b = appendJSONString(b, x.GetLabel(), &ok)
		b = append(b, `,"terms":[`...)
		for j, t := range x.GetTerms() {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"term":`...)
			b = appendJSONString(b, t.GetTerm(), &ok)
			b = append(b, `,"weight":`...)
			b = appendFloat32(b, t.GetWeight())
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	b = append(b, `],"topics":[`...)
	for i, t := range c.Topics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"topic":`...)
		b = appendJSONString(b, t.GetTopic(), &ok)
		b = append(b, `,"probability":`...)
		b = appendFloat32(b, t.GetProbability())
		b = append(b, `,"present":`...)
		b = strconv.AppendBool(b, t.GetPresent())
		b = append(b, `,"threshold":`...)
		b = appendFloat32(b, t.GetThreshold())
		b = append(b, `,"evidence":`...)
		if e := t.GetEvidence(); e == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, `{"start":`...)
			b = strconv.AppendUint(b, uint64(e.Start), 10)
			b = append(b, `,"end":`...)
			b = strconv.AppendUint(b, uint64(e.End), 10)
			b = append(b, `,"text":`...)
			b = appendJSONString(b, e.Text, &ok)
			b = append(b, `,"score":`...)
			b = appendFloat32(b, e.Score)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, `],"extracted":`...)
	if x := c.Extracted; x == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, `{"title":`...)
		b = appendJSONString(b, x.Title, &ok)
		b = append(b, `,"text":`...)
		b = appendJSONString(b, x.Text, &ok)
		b = append(b, '}')
	}
	return append(b, '}'), ok
}

// appendFloat32 writes f as protojson does: encoding/json's format, NaN and infinities quoted.
func appendFloat32(b []byte, f float32) []byte {
	n := float64(f)
	switch {
	case math.IsNaN(n):
		return append(b, `"NaN"`...)
	case math.IsInf(n, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(b, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := float32(math.Abs(n)); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, n, format, -1, 32)
	if format == 'e' {
		// "1e-07" becomes "1e-7", as in encoding/json.
		if l := len(b); l >= 4 && b[l-4] == 'e' && b[l-3] == '-' && b[l-2] == '0' {
			b[l-2] = b[l-1]
			b = b[:l-1]
		}
	}
	return b
}

// appendJSONString writes s quoted as protojson does; invalid UTF-8 clears ok.
func appendJSONString(b []byte, s string, ok *bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				*ok = false
			}
			i += n
			continue
		}
		b = append(b, s[start:i]...)
		b = append(b, '\\')
		switch c {
		case '"', '\\':
			b = append(b, c)
		case '\b':
			b = append(b, 'b')
		case '\f':
			b = append(b, 'f')
		case '\n':
			b = append(b, 'n')
		case '\r':
			b = append(b, 'r')
		case '\t':
			b = append(b, 't')
		default:
			b = append(b, 'u')
			b = append(b, "0000"[1+(bits.Len32(uint32(c))-1)/4:]...)
			b = strconv.AppendUint(b, uint64(c), 16)
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
