package classifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// The model file is one self-checking binary file:
//
//	magic     8 bytes "TOPICDNB"
//	version   uvarint, FormatVersion
//	header    uvarint length + JSON object: labels, fallback label, documents per label (goml's
//	          Count), tokenizer settings, scoring settings, calibration, topic calibration (from
//	          version 3), provenance, evaluation, licence
//	terms     uvarint count V, then V terms in strictly ascending byte order, each front-coded as
//	          uvarint shared-prefix length, uvarint suffix length, suffix bytes, followed by one
//	          uvarint per label: goml's Word.Count for the term
//	checksum  32 bytes, SHA-256 of every byte before it
//
// Everything is written in a fixed order with sorted keys, so the same model always encodes to
// the same bytes.
//
// Version 2 adds calibration.length_power and calibration.mix. A reader that ignored the power
// would serve confidences calibrated for a different temperature, so a file that uses either
// says version 2, which older readers refuse; a model without them is still written as
// version 1.
//
// Version 3 adds topics, the topic calibration (per-topic regression weights, thresholds and the
// passage length). A reader that ignored it would serve topic probabilities from an uncalibrated
// reading, so a file that has one says version 3; one without is written as before.
const fileMagic = "TOPICDNB"

// Limits a model file must respect; they bound what a corrupt file can make Load allocate.
const (
	maxLabels    = 255 // goml numbers classes with a uint8
	maxLabelLen  = 200
	maxTermBytes = 128 // longer words are dropped in training: they never recur
	maxHeader    = 16 << 20
)

// fileHeader is the JSON part of a model file.
type fileHeader struct {
	Labels      []string          `json:"labels"`
	Fallback    string            `json:"fallback_label"`
	Documents   []uint64          `json:"documents"`
	Tokenizer   TokenizerConfig   `json:"tokenizer"`
	Scoring     ScoringConfig     `json:"scoring"`
	Calibration Calibration       `json:"calibration"`
	Topics      *TopicCalibration `json:"topics,omitempty"`
	Provenance  fileProvenance    `json:"provenance"`
	Evaluation  *Evaluation       `json:"evaluation,omitempty"`
	License     string            `json:"license,omitempty"`
}

type fileProvenance struct {
	Corpus       string            `json:"corpus,omitempty"`
	CorpusSHA256 string            `json:"corpus_sha256,omitempty"`
	TrainedAt    time.Time         `json:"trained_at,omitzero"`
	Settings     map[string]string `json:"settings,omitempty"`
}

// Encode writes the model file. The bytes depend only on the model, never on the time or the
// machine, so encoding a model twice, or loading and encoding again, gives identical bytes.
func (m *Model) Encode(w io.Writer) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// MarshalBinary returns the model file's bytes; see Encode.
func (m *Model) MarshalBinary() ([]byte, error) {
	hdr := fileHeader{
		Labels:      m.labels,
		Fallback:    m.labels[m.fallback],
		Documents:   m.docs,
		Tokenizer:   m.tokenizer,
		Scoring:     m.scoring,
		Calibration: m.cal,
		Provenance: fileProvenance{
			Corpus:       m.prov.Corpus,
			CorpusSHA256: m.prov.CorpusSHA256,
			TrainedAt:    m.prov.TrainedAt.UTC(),
			Settings:     m.prov.Settings,
		},
		Evaluation: m.eval,
		License:    m.license,
	}
	if len(m.topics.Topics) > 0 {
		hdr.Topics = &m.topics
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("encode model header: %w", err)
	}
	k := len(m.labels)
	v := len(m.offsets) - 1
	b := make([]byte, 0, len(fileMagic)+len(js)+len(m.arena)+v*(2+2*k)+64)
	b = append(b, fileMagic...)
	b = binary.AppendUvarint(b, uint64(m.formatVersion()))
	b = binary.AppendUvarint(b, uint64(len(js)))
	b = append(b, js...)
	b = binary.AppendUvarint(b, uint64(v))
	var prev []byte
	for i := 0; i < v; i++ {
		t := m.arena[m.offsets[i]:m.offsets[i+1]]
		p := 0
		for p < len(prev) && p < len(t) && prev[p] == t[p] {
			p++
		}
		b = binary.AppendUvarint(b, uint64(p))
		b = binary.AppendUvarint(b, uint64(len(t)-p))
		b = append(b, t[p:]...)
		for _, n := range m.counts[i*k : (i+1)*k] {
			b = binary.AppendUvarint(b, uint64(n))
		}
		prev = t
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...), nil
}

// Load parses and validates a model file and compiles its scorer. Any defect (bad magic, unknown
// format version, truncation, a checksum mismatch, inconsistent counts, out-of-range settings)
// gives an error wrapping ErrInvalidModel; what Load allocates is bounded by a small multiple of
// len(data).
func Load(data []byte) (*Model, error) {
	m, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	return m.finish()
}

var errTruncated = errors.New("file is truncated")

// reader reads the file's fields in order.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTruncated
		if n < 0 {
			r.err = errors.New("malformed number")
		}
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errTruncated
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func decode(data []byte) (*Model, error) {
	if len(data) < len(fileMagic)+sha256.Size || string(data[:len(fileMagic)]) != fileMagic {
		return nil, errors.New("not a topicd model file (bad magic number)")
	}
	body := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], data[len(body):]) {
		return nil, errors.New("checksum mismatch: the file is corrupt or truncated")
	}
	r := &reader{b: body[len(fileMagic):]}
	version := r.uvarint()
	if r.err == nil && (version < 1 || version > FormatVersion) {
		return nil, fmt.Errorf("format version %d, this program reads versions 1 to %d", version, FormatVersion)
	}
	hlen := r.uvarint()
	if hlen > maxHeader {
		return nil, fmt.Errorf("header of %d bytes is too large", hlen)
	}
	js := r.bytes(hlen)
	if r.err != nil {
		return nil, r.err
	}
	var hdr fileHeader
	// Unknown fields are refused rather than skipped: every header field changes what the model
	// does or says, so a file from a newer writer must not half-load.
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&hdr); err != nil {
		return nil, fmt.Errorf("header: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("header: data after the JSON object")
	}
	k := len(hdr.Labels)
	if k < 2 || k > maxLabels {
		return nil, fmt.Errorf("%d labels, want 2 to %d", k, maxLabels)
	}
	m := &Model{
		labels:    hdr.Labels,
		fallback:  -1,
		tokenizer: hdr.Tokenizer,
		scoring:   hdr.Scoring,
		cal:       hdr.Calibration,
		prov: Provenance{
			Corpus:       hdr.Provenance.Corpus,
			CorpusSHA256: hdr.Provenance.CorpusSHA256,
			TrainedAt:    hdr.Provenance.TrainedAt,
			Settings:     hdr.Provenance.Settings,
		},
		eval:    hdr.Evaluation,
		license: hdr.License,
		topics: func() TopicCalibration {
			if hdr.Topics == nil {
				return TopicCalibration{}
			}
			return *hdr.Topics
		}(),
		docs: hdr.Documents,
	}
	for i, l := range hdr.Labels {
		if l == hdr.Fallback {
			m.fallback = i
		}
	}
	if m.fallback < 0 {
		return nil, fmt.Errorf("fallback label %q is not a label", hdr.Fallback)
	}
	// Files are written in the oldest version that holds them, so encoding a loaded model gives
	// back the same bytes; a file that says otherwise was not written by Encode.
	if want := m.formatVersion(); version != uint64(want) {
		return nil, fmt.Errorf("format version %d holding a version %d model", version, want)
	}

	v := r.uvarint()
	// Each term takes at least 3+k bytes, which bounds v by what is left.
	if r.err == nil && v > uint64(len(r.b))/uint64(3+k) {
		return nil, fmt.Errorf("%d terms cannot fit in %d bytes", v, len(r.b))
	}
	m.offsets = make([]uint32, 1, v+1)
	m.counts = make([]uint32, 0, v*uint64(k))
	arena := make([]byte, 0, len(r.b))
	var prev []byte
	for i := uint64(0); i < v && r.err == nil; i++ {
		shared := r.uvarint()
		suffix := r.bytes(r.uvarint())
		if r.err != nil {
			break
		}
		if shared > uint64(len(prev)) || shared+uint64(len(suffix)) > maxTermBytes || shared+uint64(len(suffix)) == 0 {
			return nil, fmt.Errorf("term %d: bad length", i)
		}
		start := len(arena)
		arena = append(arena, prev[:shared]...)
		arena = append(arena, suffix...)
		t := arena[start:]
		if i > 0 && bytes.Compare(prev, t) >= 0 {
			return nil, fmt.Errorf("term %d: terms are not in strictly ascending order", i)
		}
		if !utf8.Valid(t) {
			return nil, fmt.Errorf("term %d: not valid UTF-8", i)
		}
		if len(arena) > math.MaxUint32 {
			return nil, errors.New("vocabulary too large")
		}
		m.offsets = append(m.offsets, uint32(len(arena)))
		for c := 0; c < k; c++ {
			n := r.uvarint()
			if n > math.MaxUint32 {
				return nil, fmt.Errorf("term %d: count %d too large", i, n)
			}
			m.counts = append(m.counts, uint32(n))
		}
		prev = t
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d unexpected bytes after the terms", len(r.b))
	}
	m.arena = arena
	return m, nil
}

// validate checks everything a compiled model relies on.
func (m *Model) validate() error {
	k := len(m.labels)
	if k < 2 || k > maxLabels {
		return fmt.Errorf("%d labels, want 2 to %d", k, maxLabels)
	}
	for i, l := range m.labels {
		if l == "" || len(l) > maxLabelLen || !utf8.ValidString(l) {
			return fmt.Errorf("label %d: %q is empty, too long or not UTF-8", i, l)
		}
		if contains(m.labels[:i], l) {
			return fmt.Errorf("label %q appears twice", l)
		}
	}
	if m.fallback < 0 || m.fallback >= k {
		return errors.New("no fallback label")
	}
	if len(m.docs) != k {
		return fmt.Errorf("%d document counts for %d labels", len(m.docs), k)
	}
	for i, d := range m.docs {
		if d == 0 {
			return fmt.Errorf("label %q has no training documents", m.labels[i])
		}
		if d > math.MaxUint32 {
			return fmt.Errorf("label %q: document count %d too large", m.labels[i], d)
		}
	}
	if err := m.tokenizer.validate(); err != nil {
		return err
	}
	if err := m.scoring.validate(m.labels); err != nil {
		return err
	}
	if err := m.cal.validate(k); err != nil {
		return err
	}
	if err := m.topics.validate(m.labels, m.fallback); err != nil {
		return err
	}
	if err := m.checkNumbers(); err != nil {
		return err
	}
	v := len(m.offsets) - 1
	if v > maxTerms {
		return fmt.Errorf("%d terms, at most %d", v, maxTerms)
	}
	if v < 0 || m.offsets[0] != 0 || int(m.offsets[v]) != len(m.arena) || len(m.counts) != v*k {
		return errors.New("inconsistent vocabulary")
	}
	for i := 0; i < v; i++ {
		if m.offsets[i] >= m.offsets[i+1] {
			return fmt.Errorf("term %d is empty", i)
		}
	}
	return nil
}

// Lower bounds of the small positive numbers of a model file. Below them a number is not a
// setting anyone trains with but an accident or an attack: a temperature of 5e-324 makes 1/T
// infinite and every confidence NaN.
const (
	minTemperature = 1e-6 // and minimum smoothing alpha and label weight
	minMixShare    = 1e-9
)

// checkNumbers checks the numbers the other validations leave open: small positive values that
// would overflow once inverted or logged, and the evaluation report's ranges.
func (m *Model) checkNumbers() error {
	if t := m.cal.Temperature; t != 0 && !(t >= minTemperature) {
		return fmt.Errorf("calibration temperature %v out of range [%g, %g]", t, minTemperature, float64(maxCalibration))
	}
	for _, p := range m.cal.Mix {
		if !(p >= minMixShare) {
			return fmt.Errorf("calibration mix share %v below %g", p, minMixShare)
		}
	}
	if a := m.scoring.Alpha; a != 0 && !(a >= minTemperature) {
		return fmt.Errorf("smoothing alpha %v below %g", a, minTemperature)
	}
	for l, w := range m.scoring.LabelWeights {
		if !(w >= minTemperature) {
			return fmt.Errorf("label weight %v for %q below %g", w, l, minTemperature)
		}
	}
	if e := m.eval; e != nil {
		unit := func(what string, v float64) error {
			if !(v >= 0 && v <= 1) {
				return fmt.Errorf("evaluation %s %v out of range [0, 1]", what, v)
			}
			return nil
		}
		if e.Documents < 0 {
			return fmt.Errorf("evaluation of %d documents", e.Documents)
		}
		if err := errors.Join(unit("accuracy", e.Accuracy), unit("macro-F1", e.MacroF1), unit("calibration error", e.ExpectedCalibrationError)); err != nil {
			return err
		}
		for _, l := range e.Labels {
			if err := errors.Join(unit(l.Label+" precision", l.Precision), unit(l.Label+" recall", l.Recall), unit(l.Label+" F1", l.F1)); err != nil {
				return err
			}
			if l.Support < 0 {
				return fmt.Errorf("evaluation support %d for %q", l.Support, l.Label)
			}
		}
	}
	return nil
}

// maxKnownTerms is more known terms than a document within any size limit can hold: the
// calibrated scale is checked up to it.
const maxKnownTerms = 1 << 26

// checkCompiled checks what the compiled model computes from the file's numbers: every weight and
// prior finite, and the scale 1/T positive and finite, also times the largest score a document
// can reach, at every document length. A model that passes cannot make Classify answer NaN.
func (m *Model) checkCompiled() error {
	maxW := 0.0
	for r := range m.tbl.words {
		for _, w := range m.tbl.row(r) {
			f := float64(w)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("term %q: weight %v is not finite", m.tbl.term(r), f)
			}
			maxW = max(maxW, math.Abs(f))
		}
	}
	maxP := 0.0
	for c, p := range m.priors {
		if math.IsNaN(p) || math.IsInf(p, 0) {
			return fmt.Errorf("label %q: prior %v is not finite", m.labels[c], p)
		}
		maxP = max(maxP, math.Abs(p))
	}
	for _, n := range []int{0, 1, 255, 256, 1 << 16, maxKnownTerms} {
		inv := 1 / m.cal.TemperatureFor(n)
		if !(inv > 0) || math.IsInf(inv, 0) || math.IsInf((maxP+float64(n)*maxW)*inv, 0) {
			return fmt.Errorf("calibration scale 1/T = %v for a document of %d known terms is not usable", inv, n)
		}
	}
	return nil
}

// formatVersion is the oldest file format that holds m.
func (m *Model) formatVersion() int {
	if len(m.topics.Topics) > 0 {
		return 3
	}
	if m.cal.LengthPower != 0 || len(m.cal.Mix) != 0 {
		return 2
	}
	return 1
}
