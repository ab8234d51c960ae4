package models

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/topicd/topicd/classifier"
)

func TestDefault(t *testing.T) {
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	again, err := Default()
	if err != nil || again != m {
		t.Fatalf("second Default() = %p, %v, want the same model %p", again, err, m)
	}
	want := []string{"cybersecurity", "migration", "diplomacy", "other"}
	if got := m.Labels(); !slices.Equal(got, want) {
		t.Errorf("Labels() = %v, want %v", got, want)
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), DefaultModelFile()) {
		t.Error("Encode(Default()) differs from the embedded file: the file is not canonical")
	}
	tests := []struct {
		text, want string
	}{
		{"Hackers linked to a foreign intelligence service breached the ministry's email servers with ransomware.", "cybersecurity"},
		{"Thousands of asylum seekers crossed the border as the government tightened its refugee policy.", "migration"},
		{"The foreign ministers met in Geneva to sign a treaty restoring diplomatic relations between the two countries.", "diplomacy"},
		{"The striker scored twice as the home team won the championship final.", "other"},
	}
	for _, tt := range tests {
		r, err := m.Classify("", tt.text, classifier.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Label != tt.want {
			t.Errorf("Classify(%q) = %s (%.2f), want %s", tt.text, r.Label, r.Confidence, tt.want)
		}
		var sum float64
		for _, s := range r.Scores {
			sum += s.Confidence
		}
		if len(r.Scores) != 4 || math.Abs(sum-1) > 1e-9 {
			t.Errorf("Classify(%q): %d scores summing to %v, want 4 summing to 1", tt.text, len(r.Scores), sum)
		}
	}
	if lic := m.Info().License; !bytes.Contains([]byte(lic), []byte("CC BY-SA 4.0")) {
		t.Errorf("License = %q, want it to name CC BY-SA 4.0", lic)
	}
}
