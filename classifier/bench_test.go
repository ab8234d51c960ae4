package classifier

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/topicd/topicd/classifier/internal/benchdocs"
)

// The benchmarks read the shared corpus and the default model; they skip when either is absent.
// classifier/training compares goml's own Predict on the same texts.
const (
	benchCorpus = "../../shared/corpus/news-topics-train.jsonl"
	benchModel  = "../models/news-topics.model"
)

// benchSet is a set of documents of about one size, used round robin so a benchmark does not
// measure one document sitting in the cache.
type benchSet struct {
	name  string
	docs  []string
	bytes int64 // mean bytes per document
}

// benchText is the field of a corpus line the benchmarks read.
type benchText struct {
	Text string `json:"text"`
}

// corpusTexts reads the text of every line of a JSONL corpus.
func corpusTexts(f *os.File) ([]benchText, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out []benchText
	for sc.Scan() {
		var t benchText
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

func loadBench(b *testing.B) (*Model, []benchSet) {
	b.Helper()
	data, err := os.ReadFile(benchModel)
	if err != nil {
		b.Skipf("no default model: %v", err)
	}
	m, err := Load(data)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(benchCorpus)
	if err != nil {
		b.Skipf("no corpus: %v", err)
	}
	defer f.Close()
	ex, err := corpusTexts(f)
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

func BenchmarkTokenize(b *testing.B) {
	m, sets := loadBench(b)
	for _, s := range sets {
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				m.tokenizer.Tokenize(s.docs[i%len(s.docs)], func([]byte) { n++ })
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	m, sets := loadBench(b)
	if len(m.topics.Topics) == 0 {
		// A model from before topic calibrations: score passages as a fitted one would.
		var err error
		if m, err = m.WithTopicCalibration(testTopicCalibration(m, 20)); err != nil {
			b.Fatal(err)
		}
	}
	// Without passages: the cost of the label alone, for comparison.
	plain, err := m.WithTopicCalibration(TopicCalibration{})
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range sets {
		b.Run(s.name+"/no-passages", func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			cpu := cpuSeconds()
			for i := 0; b.Loop(); i++ {
				if _, err := plain.Classify("", s.docs[i%len(s.docs)], Options{}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, s.bytes, cpu)
		})
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			cpu := cpuSeconds()
			for i := 0; b.Loop(); i++ {
				if _, err := m.Classify("", s.docs[i%len(s.docs)], Options{}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, s.bytes, cpu)
		})
		b.Run(s.name+"/parallel", func(b *testing.B) {
			b.SetBytes(s.bytes)
			b.ReportAllocs()
			var next atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1))
				for pb.Next() {
					i++
					if _, err := m.Classify("", s.docs[i%len(s.docs)], Options{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile(benchModel)
	if err != nil {
		b.Skipf("no default model: %v", err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(data); err != nil {
			b.Fatal(err)
		}
	}
}

// temperatureSink keeps BenchmarkTemperature's results alive.
var temperatureSink float64

// BenchmarkTemperature is what the 1/T caches save on short documents: "cached" is the lookup
// Classify makes for 1 to 255 known terms, "log1p" and "computed" compute 1/T from the default
// model's calibration without the caches (math.Log1p, then math.Exp for the length power).
func BenchmarkTemperature(b *testing.B) {
	data, err := os.ReadFile(benchModel)
	if err != nil {
		b.Skipf("no default model: %v", err)
	}
	m, err := Load(data)
	if err != nil {
		b.Fatal(err)
	}
	c := m.Calibration()
	b.Run("cached", func(b *testing.B) {
		var s float64
		for i := 0; b.Loop(); i++ {
			s += m.invTemperature(1 + i%255)
		}
		temperatureSink = s
	})
	b.Run("log1p", func(b *testing.B) {
		var s float64
		for i := 0; b.Loop(); i++ {
			s += math.Log1p(float64(1 + i%255))
		}
		temperatureSink = s
	})
	b.Run("computed", func(b *testing.B) {
		var s float64
		for i := 0; b.Loop(); i++ {
			l := math.Log1p(float64(1 + i%255))
			t := c.Temperature * math.Exp(c.LengthPower*l) * (1 + c.LengthSlope*l)
			s += 1 / t
		}
		temperatureSink = s
	})
}

// reportCPU reports MB of text per CPU second used since start (cpuSeconds): on a machine busy
// with other work, the MB/s that go test reports counts the time the benchmark waited for a core
// as well, and this does not. Reported only with one core (-cpu 1), where the process's CPU time
// is the benchmark's.
func reportCPU(b *testing.B, bytes int64, start float64) {
	used := cpuSeconds() - start
	if start == 0 || used <= 0 || runtime.GOMAXPROCS(0) != 1 {
		return
	}
	b.ReportMetric(float64(bytes)*float64(b.N)/used/1e6, "MB/cpu-s")
}
