package classifier

import (
	"unicode"
	"unicode/utf8"
)

// A valid document has a title or a text that holds something other than white space (a title
// alone is a document: a headline feed sends nothing else), and its id, title and text are valid
// UTF-8. ValidateDocument checks exactly that, and Classify refuses the same documents with the
// same errors, so every way of classifying (a server, topicctl --local, the library) accepts the
// same documents. Limits on size are a server's setting, not part of this definition.

// DocumentError says why a document is not valid: which field, and which rule it breaks.
// errors.Is(err, ErrEmptyDocument) and errors.Is(err, ErrInvalidUTF8) see through it.
type DocumentError struct {
	// Field is "id", "title" or "text": the field that is not valid UTF-8, or "text" for a
	// document with nothing to classify (ErrEmptyDocument).
	Field string
	// Err is ErrEmptyDocument or ErrInvalidUTF8.
	Err error
}

func (e *DocumentError) Error() string {
	if e.Err == ErrEmptyDocument {
		return "document title and text are empty or only white space"
	}
	return "document " + e.Field + " is not valid UTF-8"
}

func (e *DocumentError) Unwrap() error { return e.Err }

// ValidateDocument returns nil for a valid document, else a *DocumentError naming the first
// field that fails: the id, the title, the text (UTF-8), then the document as a whole (empty).
func ValidateDocument(id, title, text string) error {
	switch {
	case !utf8.ValidString(id):
		return &DocumentError{Field: "id", Err: ErrInvalidUTF8}
	case !utf8.ValidString(title):
		return &DocumentError{Field: "title", Err: ErrInvalidUTF8}
	case !utf8.ValidString(text):
		return &DocumentError{Field: "text", Err: ErrInvalidUTF8}
	case blank(title) && blank(text):
		return emptyDocument()
	}
	return nil
}

func emptyDocument() error { return &DocumentError{Field: "text", Err: ErrEmptyDocument} }

// invalidUTF8 is Classify's error for a title or text that scoring found not to be UTF-8.
func invalidUTF8(title string) error {
	if !utf8.ValidString(title) {
		return &DocumentError{Field: "title", Err: ErrInvalidUTF8}
	}
	return &DocumentError{Field: "text", Err: ErrInvalidUTF8}
}

// blank reports whether s is empty or only white space. It stops at the first other character,
// so it costs next to nothing on real text; it never accepts invalid UTF-8.
func blank(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsSpace(r) {
			return false
		}
		i += size
	}
	return true
}
