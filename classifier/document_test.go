package classifier

import (
	"errors"
	"testing"
)

// TestValidateDocument checks the definition of a valid document, and that Classify refuses
// exactly the documents ValidateDocument refuses (the id aside, which Classify does not see),
// with the same field and sentinel.
func TestValidateDocument(t *testing.T) {
	m := trainTiny(t, ScoringConfig{})
	tests := []struct {
		name            string
		id, title, text string
		field           string // "" for a valid document
		err             error
	}{
		{"text", "a", "", "cat", "", nil},
		{"title alone", "a", "Ministry hacked", "", "", nil},
		{"title alone, white-space text", "", "cat", " \n\t", "", nil},
		{"title and text", "", "cat", "dog", "", nil},
		{"no known word", "", "", "!!!", "", nil},
		{"empty", "a", "", "", "text", ErrEmptyDocument},
		{"white space", "a", " \u00a0", "\t\u2003\n", "text", ErrEmptyDocument},
		{"invalid id", "a\xff", "", "cat", "id", ErrInvalidUTF8},
		{"invalid title", "", "\xfe", "cat", "title", ErrInvalidUTF8},
		{"invalid title, empty text", "", "caf\xe9", "", "title", ErrInvalidUTF8},
		{"invalid text", "", "cat", "cat\xff", "text", ErrInvalidUTF8},
		{"invalid text, no title", "", "", "\xc3", "text", ErrInvalidUTF8},
		{"invalid title and text", "", "\xfe", "\xff", "title", ErrInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error, field string) {
				t.Helper()
				if !errors.Is(err, tt.err) {
					t.Fatalf("%s error = %v, want %v", what, err, tt.err)
				}
				var de *DocumentError
				if tt.err == nil {
					return
				}
				if !errors.As(err, &de) || de.Field != field {
					t.Fatalf("%s error = %#v, want a *DocumentError for field %q", what, err, field)
				}
			}
			check("ValidateDocument", ValidateDocument(tt.id, tt.title, tt.text), tt.field)
			if tt.field == "id" {
				if err := ValidateDocument("", tt.title, tt.text); err != nil {
					t.Fatalf("ValidateDocument without the id = %v", err)
				}
				return
			}
			_, err := m.Classify(tt.title, tt.text, Options{})
			check("Classify", err, tt.field)
		})
	}
}
