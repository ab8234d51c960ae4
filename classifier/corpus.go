package classifier

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// maxCorpusLine bounds one JSONL line of a corpus.
const maxCorpusLine = 64 << 20

// corpusLine is one line of a corpus file; other fields are ignored.
type corpusLine struct {
	ID          string `json:"id"`
	Date        string `json:"date"`
	Label       string `json:"label"`
	LabelSource string `json:"label_source"`
	Title       string `json:"title"`
	Text        string `json:"text"`
}

// ReadCorpus reads a JSONL corpus: one JSON object a line with the fields id, date, label,
// label_source, title (optional) and text; other fields are ignored, blank lines skipped. An
// error names the line it is on.
func ReadCorpus(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxCorpusLine)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var l corpusLine
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, fmt.Errorf("corpus line %d: %v", line, err)
		}
		if l.Label == "" {
			return nil, fmt.Errorf("corpus line %d: no label", line)
		}
		if l.ID == "" {
			l.ID = fmt.Sprintf("line-%d", line)
		}
		out = append(out, Example(l))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("corpus line %d: %w", line+1, err)
	}
	return out, nil
}

// ReadCorpusFile reads the JSONL corpus at path (see ReadCorpus) and returns its examples and the
// SHA-256 of the file, in hex, for TrainConfig.CorpusSHA256.
func ReadCorpusFile(path string) ([]Example, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	ex, err := ReadCorpus(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return ex, hex.EncodeToString(sum[:]), nil
}
