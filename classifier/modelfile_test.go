package classifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func encode(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fullModel exercises every part of the file: pairs, calibration with biases, label weights,
// provenance with a time and an evaluation.
func fullModel(t testing.TB) *Model {
	t.Helper()
	ex := append(slices.Clone(tinyExamples), testDoc{ID: "4", Label: "a", Title: "Über EU", Text: "cat naps. EU cat"})
	m, err := newTestModel(ex, Parts{
		Labels:      []string{"a", "b", "c"},
		Fallback:    "b",
		Tokenizer:   TokenizerConfig{Bigrams: true, MinLength: 1},
		Scoring:     ScoringConfig{Variant: Complement, Alpha: 0.25, Priors: PriorsBalanced, LabelWeights: map[string]float64{"c": 3}},
		Calibration: Calibration{Temperature: 1.5, LengthSlope: 0.1, LengthPower: 0.3, Bias: []float64{0.1, 0, -0.1}, Mix: []float64{0.5, 0.25, 0.25}},
		Provenance: Provenance{
			Corpus:       "tiny",
			CorpusSHA256: "00ff",
			TrainedAt:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
			Settings:     map[string]string{"note": "test"},
		},
		License: "CC0",
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err = m.WithEvaluation(&Evaluation{Dataset: "tiny", Documents: 4, Accuracy: 1, MacroF1: 1, Labels: []LabelMetrics{{Label: "a", F1: 1, Support: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestModelRoundTrip(t *testing.T) {
	for name, m := range map[string]*Model{"plain": trainTiny(t, ScoringConfig{}), "full": fullModel(t)} {
		t.Run(name, func(t *testing.T) {
			data := encode(t, m)
			// The oldest version that holds the model: 2 only for a length power.
			if want := map[string]byte{"plain": 1, "full": 2}[name]; data[len(fileMagic)] != want || m.Info().FormatVersion != int(want) {
				t.Errorf("format version byte %d, Info().FormatVersion %d; want %d", data[len(fileMagic)], m.Info().FormatVersion, want)
			}
			if again := encode(t, m); !bytes.Equal(again, data) {
				t.Fatal("two encodings of one model differ")
			}
			l, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(encode(t, l), data) {
				t.Error("Encode(Load(data)) != data")
			}
			if l.Version() != m.Version() || len(m.Version()) != 12 {
				t.Errorf("Version() = %q after load, %q before, want the same 12 digits", l.Version(), m.Version())
			}
			for _, text := range []string{"cat", "EU cat naps", "dog fish fish"} {
				a, _ := m.Classify("Über", text, Options{ExplainTerms: 3})
				b, _ := l.Classify("Über", text, Options{ExplainTerms: 3})
				if !slices.Equal(a.Scores, b.Scores) || a.Stats != b.Stats {
					t.Errorf("Classify(%q) = %v before, %v after the round trip", text, a, b)
				}
			}
			mi, li := m.Info(), l.Info()
			if mi.Provenance.TrainedAt.Equal(li.Provenance.TrainedAt) != true || mi.License != li.License ||
				mi.VocabularySize != li.VocabularySize || (mi.Evaluation == nil) != (li.Evaluation == nil) {
				t.Errorf("Info() = %+v after load, %+v before", li, mi)
			}
		})
	}
}

func TestVersionChangesWithContent(t *testing.T) {
	m := trainTiny(t, ScoringConfig{})
	c, err := m.WithCalibration(Calibration{Temperature: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c.Version() == m.Version() {
		t.Errorf("Version() %s unchanged by a new calibration", m.Version())
	}
}

// rawFile builds a model file from a JSON header and the bytes of the terms section.
func rawFile(header, terms string) []byte { return rawFileVersion(1, header, terms) }

// rawFileVersion is rawFile with the given format version.
func rawFileVersion(version byte, header, terms string) []byte {
	b := append([]byte(fileMagic), version)
	b = binary.AppendUvarint(b, uint64(len(header)))
	b = append(b, header...)
	return withChecksum(append(b, terms...))
}

// withChecksum returns body with a valid trailing checksum, so a test reaches the parser.
func withChecksum(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(slices.Clone(body), sum[:]...)
}

func TestLoadRejects(t *testing.T) {
	good := encode(t, fullModel(t))
	body := good[:len(good)-sha256.Size]
	flip := slices.Clone(good)
	flip[len(flip)/2] ^= 1
	plain := encode(t, trainTiny(t, ScoringConfig{}))
	plainBody := plain[:len(plain)-sha256.Size]
	tests := []struct {
		name string
		data []byte
		want string // in the error message
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte("NOTAMODL"), good[8:]...), "magic"},
		{"truncated", good[:len(good)-1], "checksum"},
		{"flipped bit", flip, "checksum"},
		{"future version", withChecksum(append([]byte(fileMagic+"\x03"), body[9:]...)), "version 3"},
		{"version 2 without its features", withChecksum(append([]byte(fileMagic+"\x02"), plainBody[9:]...)), "holding a version 1 model"},
		{"version 1 with a length power", withChecksum(append([]byte(fileMagic+"\x01"), body[9:]...)), "holding a version 2 model"},
		{"length power in version 1", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"length_power":0.5}}`, "\x01\x00\x01b\x01\x01"), "holding a version 2 model"},
		{"length power out of range", rawFileVersion(2, `{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"length_power":1.5}}`, "\x01\x00\x01b\x01\x01"), "length power"},
		{"data after the header", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1]} }`, "\x01\x00\x01b\x01\x01"), "after the JSON object"},
		{"mix of the wrong length", rawFileVersion(2, `{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"mix":[1]}}`, "\x01\x00\x01b\x01\x01"), "mix of 1 labels"},
		{"mix not summing to 1", rawFileVersion(2, `{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"mix":[0.5,0.6]}}`, "\x01\x00\x01b\x01\x01"), "sums to"},
		{"mix share of 0", rawFileVersion(2, `{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"mix":[0,1]}}`, "\x01\x00\x01b\x01\x01"), "out of range"},
		{"mix in version 1", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"mix":[0.5,0.5]}}`, "\x01\x00\x01b\x01\x01"), "holding a version 2 model"},
		{"unknown header field", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"temperature_v9":2}}`, "\x01\x00\x01b\x01\x01"), "unknown field"},
		{"cut terms", withChecksum(body[:len(body)-3]), "truncated"},
		{"trailing bytes", withChecksum(append(slices.Clone(body), 0)), "unexpected bytes"},
		{"header not json", rawFile(`abc`, "\x00"), "header"},
		{"one label", rawFile(`{"labels":["a"],"fallback_label":"a","documents":[1]}`, "\x00"), "1 labels"},
		{"unknown fallback", rawFile(`{"labels":["a","b"],"fallback_label":"c","documents":[1,1]}`, "\x00"), "fallback"},
		{"huge term count", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1]}`, "\xff\xff\xff\xff\x0f"), "cannot fit"},
		{"unsorted terms", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1]}`, "\x02\x00\x01b\x01\x01\x00\x01a\x01\x01"), "ascending"},
		{"no documents", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,0]}`, "\x01\x00\x01b\x01\x01"), "no training documents"},
		{"bad temperature", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"calibration":{"temperature":-1}}`, "\x01\x00\x01b\x01\x01"), "temperature"},
		{"unknown variant", rawFile(`{"labels":["a","b"],"fallback_label":"a","documents":[1,1],"scoring":{"variant":"x"}}`, "\x01\x00\x01b\x01\x01"), "variant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(tt.data)
			if !errors.Is(err, ErrInvalidModel) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load(%s) = %v, %v, want ErrInvalidModel about %q", tt.name, m, err, tt.want)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	for _, m := range []*Model{trainTiny(f, ScoringConfig{}), fullModel(f)} {
		data := encode(f, m)
		f.Add(data, false)
		f.Add(data[:len(data)-sha256.Size], true)
		f.Add(data[:len(data)/2], true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fixChecksum bool) {
		if fixChecksum {
			// Most mutations only break the checksum; repairing it lets the fuzzer reach the parser.
			data = withChecksum(data)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := Load(data)
		runtime.ReadMemStats(&after)
		if limit := 200*uint64(len(data)) + 4<<20; after.TotalAlloc-before.TotalAlloc > limit {
			t.Fatalf("Load of %d bytes allocated %d bytes, want at most %d", len(data), after.TotalAlloc-before.TotalAlloc, limit)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Load error %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		again, err := Load(encode(t, m))
		if err != nil || again.Version() != m.Version() {
			t.Fatalf("reloading an accepted model: version %v, %v; want %s", again, err, m.Version())
		}
		r, err := m.Classify("", "cat dog fish eu", Options{ExplainTerms: 2})
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, s := range r.Scores {
			sum += s.Confidence
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("confidences of an accepted model sum to %v", sum)
		}
	})
}
