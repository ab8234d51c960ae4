// Package models holds the trained topic models that ship inside the topicd binary.
//
// The default model, DefaultName, is trained on the news-topics corpus, which is derived from
// "Wikipedia contributors, Portal:Current events" under CC BY-SA 4.0: the model file carries that
// licence (see README.md in this directory), while the code is Apache-2.0.
package models

import (
	_ "embed"
	"fmt"
	"sync"

	"github.com/topicd/topicd/classifier"
)

// DefaultName is the name the default model is served under.
const DefaultName = "news-topics"

//go:embed news-topics.model
var defaultModel []byte

// DefaultModelFile returns the bytes of the embedded default model file. The caller must not
// modify them.
func DefaultModelFile() []byte { return defaultModel }

var loadDefault = sync.OnceValues(func() (*classifier.Model, error) {
	m, err := classifier.Load(defaultModel)
	if err != nil {
		return nil, fmt.Errorf("load embedded model %q: %w", DefaultName, err)
	}
	return m, nil
})

// Default returns the embedded default model, loading it on the first call; later calls return
// the same Model. It is safe for concurrent use.
func Default() (*classifier.Model, error) { return loadDefault() }
