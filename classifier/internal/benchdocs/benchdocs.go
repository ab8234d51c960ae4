// Package benchdocs builds the document sets that the benchmarks of classifier and
// classifier/training share, so that classifying and goml's own Predict are measured on the same
// texts.
package benchdocs

import "strings"

// Set is a set of documents of about one size, used round robin so a benchmark does not measure
// one document sitting in the cache.
type Set struct {
	// Name is the size, as a benchmark's sub-name: "200B", "3KB" or "30KB".
	Name string
	// Docs are the documents.
	Docs []string
	// Bytes is the mean length of Docs in bytes.
	Bytes int64
}

// Build joins corpus texts, in order, into sets of documents of about 200 bytes (single texts of
// 170 to 230 bytes, up to 1024 of them), 3 KB (up to 64) and 30 KB (up to 8). Joined texts are
// separated by a newline. A set with no documents is left out.
func Build(texts []string) []Set {
	var sets []Set
	for _, size := range []struct {
		name        string
		target, max int
	}{{"200B", 200, 1024}, {"3KB", 3000, 64}, {"30KB", 30000, 8}} {
		s := Set{Name: size.name}
		var sb strings.Builder
		var total int
		for _, t := range texts {
			if size.target == 200 && (len(t) < 170 || len(t) > 230) {
				continue
			}
			if sb.Len() > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteString(t)
			if sb.Len() >= size.target {
				s.Docs = append(s.Docs, sb.String())
				total += sb.Len()
				sb.Reset()
				if len(s.Docs) == size.max {
					break
				}
			}
		}
		if len(s.Docs) == 0 {
			continue
		}
		s.Bytes = int64(total / len(s.Docs))
		sets = append(sets, s)
	}
	return sets
}
