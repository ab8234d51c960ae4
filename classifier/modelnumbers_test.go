package classifier

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

// withHeader rewrites the JSON header of a model file with edit and fixes the checksum, so tests
// can write numbers that Encode never would.
func withHeader(t testing.TB, file []byte, edit func(h map[string]any)) []byte {
	t.Helper()
	b := file[len(fileMagic) : len(file)-32]
	version, n := binary.Uvarint(b)
	b = b[n:]
	hlen, n := binary.Uvarint(b)
	b = b[n:]
	dec := json.NewDecoder(bytes.NewReader(b[:hlen]))
	dec.UseNumber()
	var h map[string]any
	if err := dec.Decode(&h); err != nil {
		t.Fatal(err)
	}
	edit(h)
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(fileMagic), binary.AppendUvarint(nil, version)...)
	out = binary.AppendUvarint(out, uint64(len(js)))
	out = append(out, js...)
	out = append(out, b[hlen:]...)
	return withChecksum(out)
}

// section returns h[key] as an object, creating it.
func section(h map[string]any, key string) map[string]any {
	s, ok := h[key].(map[string]any)
	if !ok {
		s = map[string]any{}
		h[key] = s
	}
	return s
}

// checkServes classifies a few documents with m and fails unless every number it answers is
// finite and the confidences sum to 1.
func checkServes(t *testing.T, m *Model) {
	t.Helper()
	long := strings.Repeat("cat dog fish eu alpha beta ", 2000)
	for _, text := range []string{"cat dog fish eu", "zzz unknown words", long} {
		r, err := m.Classify("Über EU", text, Options{ExplainTerms: 2})
		if err != nil {
			t.Fatalf("Classify = %v", err)
		}
		var sum float64
		for _, s := range r.Scores {
			if math.IsNaN(s.Confidence) || math.IsInf(s.Confidence, 0) {
				t.Fatalf("an accepted model answers confidence %v for %q", s.Confidence, s.Label)
			}
			sum += s.Confidence
		}
		if math.Abs(sum-1) > 1e-9 {
			t.Fatalf("confidences of an accepted model sum to %v", sum)
		}
		for _, tp := range r.Topics {
			if !(tp.Probability >= 0 && tp.Probability <= 1) {
				t.Fatalf("an accepted model answers topic probability %v for %q", tp.Probability, tp.Topic)
			}
		}
	}
}

// A model file whose numbers load but cannot serve is refused at load: a calibration temperature
// of 5e-324 made every confidence NaN.
func TestLoadRefusesBadNumbers(t *testing.T) {
	base := encode(t, fullModel(t))
	tests := []struct {
		name string
		edit func(h map[string]any)
	}{
		{"temperature 5e-324", func(h map[string]any) { section(h, "calibration")["temperature"] = 5e-324 }},
		{"temperature 1e-300", func(h map[string]any) { section(h, "calibration")["temperature"] = 1e-300 }},
		{"temperature -1", func(h map[string]any) { section(h, "calibration")["temperature"] = -1 }},
		{"temperature 1e300", func(h map[string]any) { section(h, "calibration")["temperature"] = 1e300 }},
		{"length slope 1e300", func(h map[string]any) { section(h, "calibration")["length_slope"] = 1e300 }},
		{"mix share 5e-324", func(h map[string]any) {
			section(h, "calibration")["mix"] = []any{5e-324, 0.5, 0.5}
		}},
		{"bias 1e300", func(h map[string]any) { section(h, "calibration")["bias"] = []any{1e300, 0, 0} }},
		{"alpha 5e-324", func(h map[string]any) { section(h, "scoring")["alpha"] = 5e-324 }},
		{"label weight 5e-324", func(h map[string]any) { section(h, "scoring")["label_weights"] = map[string]any{"c": 5e-324} }},
		{"accuracy 2", func(h map[string]any) { section(h, "evaluation")["Accuracy"] = 2 }},
		{"ECE -1", func(h map[string]any) { section(h, "evaluation")["ExpectedCalibrationError"] = -1 }},
		{"label F1 1e300", func(h map[string]any) {
			section(h, "evaluation")["Labels"] = []any{map[string]any{"Label": "a", "F1": 1e300, "Support": 2}}
		}},
		{"negative support", func(h map[string]any) {
			section(h, "evaluation")["Labels"] = []any{map[string]any{"Label": "a", "F1": 1, "Support": -2}}
		}},
		{"negative documents", func(h map[string]any) { section(h, "evaluation")["Documents"] = -4 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(withHeader(t, base, tt.edit))
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Load(model file with %s) = %v, want ErrInvalidModel", tt.name, err)
			}
			t.Logf("%s: %v", tt.name, err)
		})
	}
	// The rewriting itself keeps a good file good.
	m, err := Load(withHeader(t, base, func(map[string]any) {}))
	if err != nil {
		t.Fatalf("Load(rewritten unchanged header) = %v", err)
	}
	checkServes(t, m)
}

// FuzzLoadNumbers builds model files from fuzzed numbers in every numeric field of the header,
// not only from fuzzed bytes: a file either is refused with ErrInvalidModel or serves finite
// confidences that sum to 1 and topic probabilities in [0, 1], and encodes to a file that loads
// as the same model.
func FuzzLoadNumbers(f *testing.F) {
	f.Add(1.5, 0.1, 0.3, 0.1, 0.5, 0.25, 3.0, uint64(2), -1.0, 0.5, 0.4, 1.0)
	f.Add(5e-324, 0.0, 0.0, 0.0, 0.5, 0.25, 1.0, uint64(1), 0.0, 0.0, 0.5, 0.5)
	f.Add(1e-6, 1e6, 1.0, -1e6, 1e-9, 5e-324, 1e6, uint64(math.MaxUint32), 1e6, -1e6, 0.999, 0.0)
	f.Add(1e6, 0.0, 1.0, 1e6, 0.999, 1e6, 5e-324, uint64(1), -1e6, 1e6, 1e-9, 1.0)
	f.Add(math.SmallestNonzeroFloat64, math.MaxFloat64, 0.5, 0.0, 1.0, 0.0, 0.0, uint64(0), math.MaxFloat64, 0.0, 1.0, 2.0)
	full := fullModel(f)
	tm, err := full.WithTopicCalibration(testTopicCalibration(full, 3))
	if err != nil {
		f.Fatal(err)
	}
	base := encode(f, tm)
	f.Fuzz(func(t *testing.T, temp, slope, power, bias, mix, alpha, weight float64, docs uint64, w0, w1, threshold, accuracy float64) {
		for _, x := range []float64{temp, slope, power, bias, mix, alpha, weight, w0, w1, threshold, accuracy} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return // JSON cannot hold them
			}
		}
		file := withHeader(t, base, func(h map[string]any) {
			c := section(h, "calibration")
			c["temperature"], c["length_slope"], c["length_power"] = temp, slope, power
			c["bias"] = []any{bias, 0, -bias}
			c["mix"] = []any{mix, (1 - mix) / 2, (1 - mix) / 2}
			s := section(h, "scoring")
			s["alpha"], s["label_weights"] = alpha, map[string]any{"c": weight}
			h["documents"] = []any{docs, 1, 1}
			tc := section(h, "topics")
			if fits, ok := tc["topics"].([]any); ok && len(fits) > 0 {
				fit := fits[0].(map[string]any)
				fit["weights"] = []any{w0, w1, 1, 0.7, 0.3, 0.05}
				fit["threshold"] = threshold
			}
			section(h, "evaluation")["Accuracy"] = accuracy
		})
		m, err := Load(file)
		if err != nil {
			if !errors.Is(err, ErrInvalidModel) {
				t.Fatalf("Load error %v does not wrap ErrInvalidModel", err)
			}
			return
		}
		checkServes(t, m)
		again, err := Load(encode(t, m))
		if err != nil || again.Version() != m.Version() {
			t.Fatalf("reloading an accepted model: %v, %v; want version %s", again, err, m.Version())
		}
	})
}
