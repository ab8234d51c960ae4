package training

import (
	"io"
	"os"
	"sync/atomic"
	"testing"

	"github.com/cdipaolo/goml/base"
	"github.com/cdipaolo/goml/text"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/internal/benchdocs"
)

// The benchmark reads the shared corpus and the default model; it skips when either is absent.
// classifier's BenchmarkClassify scores the same texts with the compiled scorer.
const (
	benchCorpus = "../../../shared/corpus/news-topics-train.jsonl"
	benchModel  = "../../models/news-topics.model"
)

// benchSet is a set of documents of about one size, used round robin so a benchmark does not
// measure one document sitting in the cache.
type benchSet struct {
	name  string
	docs  []string
	bytes int64 // mean bytes per document
}

// loadBench builds the same document sets as classifier's benchmarks.
func loadBench(b *testing.B) (*classifier.Model, []benchSet) {
	b.Helper()
	data, err := os.ReadFile(benchModel)
	if err != nil {
		b.Skipf("no default model: %v", err)
	}
	m, err := classifier.Load(data)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(benchCorpus)
	if err != nil {
		b.Skipf("no corpus: %v", err)
	}
	defer f.Close()
	ex, err := ReadCorpus(f)
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, len(ex))
	for i, e := range ex {
		texts[i] = e.Text
	}
	var sets []benchSet
	for _, s := range benchdocs.Build(texts) {
		sets = append(sets, benchSet{name: s.Name, docs: s.Docs, bytes: s.Bytes})
	}
	return m, sets
}

// gomlModel builds goml's NaiveBayes from the model's counts, with the project's tokenizer, so
// goml's Predict reads the same counts and the same terms as the compiled scorer.
func gomlModel(m *classifier.Model) *text.NaiveBayes {
	c := m.Counts()
	k := len(m.Labels())
	nb := text.NewNaiveBayes(nil, uint8(k), keepNothingOut)
	nb.Output = io.Discard
	nb.UpdateTokenizer(&gomlTokenizer{cfg: m.TokenizerConfig()})
	for i, term := range c.Terms {
		w := text.Word{Count: make([]uint64, k)}
		for l := range w.Count {
			w.Count[l] = uint64(c.PerLabel[i*k+l])
			w.Seen += w.Count[l]
		}
		nb.Words.Set(gomlKey(term), w)
	}
	copy(nb.Count, c.Documents)
	for _, d := range c.Documents {
		nb.DocumentCount += d
	}
	for l, d := range c.Documents {
		nb.Probabilities[l] = float64(d) / float64(nb.DocumentCount)
	}
	nb.DictCount = uint64(len(c.Terms))
	return nb
}

// BenchmarkGomlPredict is goml's own Predict on the same counts and texts, for the ratio: first
// reading the project's terms (tokenizer adapter as in training), then as-is, with goml's
// default sanitizer and space-splitting tokenizer, which is what a plain goml user runs.
func BenchmarkGomlPredict(b *testing.B) {
	m, sets := loadBench(b)
	nb := gomlModel(m)
	asIs := gomlModel(m)
	asIs.UpdateSanitize(base.OnlyWordsAndNumbers)
	asIs.UpdateTokenizer(&text.SimpleTokenizer{SplitOn: " "})
	for _, s := range sets {
		b.Run(s.name+"/as-is", func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				asIs.Predict(s.docs[i%len(s.docs)])
			}
		})
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				nb.Predict(s.docs[i%len(s.docs)])
			}
		})
		b.Run(s.name+"/parallel", func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					i++
					nb.Predict(s.docs[i%len(s.docs)])
				}
			})
		})
	}
}
