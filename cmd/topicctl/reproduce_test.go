package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/topicd/topicd/models"
)

// sharedCorpus is where the training corpus sits in a checkout that has ../shared beside it, as
// CI's does; the repository never holds a copy.
const sharedCorpus = "../../../shared/corpus/news-topics-train.jsonl"

// TestShippedModelReproduces retrains the default model the way the README says to and checks that
// the bytes equal the embedded models/news-topics.model. It fails when a change to the tokenizer,
// the training, the scorer's arithmetic or the defaults of `topicctl train` would make the shipped
// model one that nobody can rebuild; the fix is to rerun the command and commit the new file.
func TestShippedModelReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a full model; skipped with -short")
	}
	if _, err := os.Stat(sharedCorpus); err != nil {
		t.Skipf("training corpus not found beside the repository: %v", err)
	}
	out := filepath.Join(t.TempDir(), "news-topics.model")
	var stdout, stderr bytes.Buffer
	args := []string{"--data", sharedCorpus, "--out", out}
	if err := runTrain(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("topicctl train %q: %v\n%s", args, err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := models.DefaultModelFile()
	if !bytes.Equal(got, want) {
		t.Errorf("topicctl train %q wrote %d bytes that differ from models/news-topics.model (%d bytes); "+
			"rerun `go run ./cmd/topicctl train --data ../shared/corpus/news-topics-train.jsonl --out models/news-topics.model` and commit the result",
			args, len(got), len(want))
	}
}
