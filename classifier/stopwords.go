package classifier

import "unsafe"

// stopWords are English function words: frequent in every topic, so they carry almost no
// evidence and mostly add noise to long documents. Written for this project, not copied from a
// published list.
var stopWords = map[string]struct{}{}

func init() {
	for _, w := range stopWordList {
		stopWords[w] = struct{}{}
		k := makeKey([]byte(w))
		j := k.h & (stopSlots - 1)
		for stopSet[j].n != 0 {
			j = (j + 1) & (stopSlots - 1)
		}
		stopSet[j] = stopEntry{k.k0, k.k1, uint64(len(w))}
	}
}

// stopWordList is the list, in a fixed order.
var stopWordList = []string{
	"a", "about", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are",
	"as", "at", "be", "because", "been", "before", "being", "between", "both", "but", "by",
	"can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for",
	"from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself",
	"him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself",
	"just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on",
	"once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "s",
	"same", "she", "should", "so", "some", "such", "t", "than", "that", "the", "their",
	"theirs", "them", "themselves", "then", "there", "these", "they", "this", "those",
	"through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what",
	"when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you",
	"your", "yours", "yourself", "yourselves",
}

// stopSet is the stop-word list as a small open-addressing table keyed by termKey, so the check
// reuses the hash the vocabulary lookup needs anyway and fits in a few cache lines.
var stopSet [stopSlots]stopEntry

const stopSlots = 512

type stopEntry struct{ k0, k1, n uint64 }

// maxStopWordLen lets most words skip the map lookup.
const maxStopWordLen = 10

// IsStopWord reports whether the lower-case word is on the built-in stop-word list that
// TokenizerConfig.DropStopWords removes.
func IsStopWord(word string) bool {
	_, ok := stopWords[word]
	return ok
}

// isStopKey reports whether the word of length n with key k is a stop word.
func isStopKey(k termKey, n int) bool {
	if n > maxStopWordLen {
		return false
	}
	for j := k.h & (stopSlots - 1); ; j = (j + 1) & (stopSlots - 1) {
		e := &stopSet[j]
		if e.n == 0 {
			return false
		}
		if e.k0 == k.k0 && e.k1 == k.k1 && e.n == uint64(n) {
			return true
		}
	}
}

// stringBytes views s as a byte slice without copying. The slice must never be written.
func stringBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// bytesString views b as a string without copying. b must not change while the string is used.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
