package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/topicd/topicd/models"
)

func evalCmd(ctx context.Context, args []string, out, errOut *bytes.Buffer) error {
	return runEval(ctx, args, out, errOut)
}

func TestEval(t *testing.T) {
	corpus := writeCorpus(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	runTool(t, train, "--data", corpus, "--out", model, "--validate", "none", "--long", "3")

	t.Run("text", func(t *testing.T) {
		plot := filepath.Join(dir, "eval.png")
		out := runTool(t, evalCmd, "--model", model, "--data", corpus, "--plot", plot, "--long", "2", "--errors", "3")
		for _, want := range []string{"documents 240", "macro-F1", "precision", "confusion matrix", "reliability", "0.9-1.0", "long documents (2 per label", "long documents by rows joined", "most confident errors", "wrote " + plot} {
			if !strings.Contains(out, want) {
				t.Errorf("eval output lacks %q:\n%s", want, out)
			}
		}
		f, err := os.Open(plot)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := png.Decode(f); err != nil {
			t.Errorf("--plot wrote no PNG: %v", err)
		}
	})
	t.Run("json", func(t *testing.T) {
		out := runTool(t, evalCmd, "--model", model, "--data", corpus, "--json", "--long", "2")
		var e evalOutput
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatalf("eval --json printed %q: %v", out, err)
		}
		if e.Report.Documents != 240 || len(e.Report.Labels) != 4 || len(e.Report.Confusion) != 4 || len(e.Report.Reliability) != 10 {
			t.Errorf("eval --json report = %+v, want 240 documents, 4 labels, 10 bins", e.Report)
		}
		// Trained and scored on the same separable rows: nearly perfect.
		if e.Report.Accuracy < 0.95 {
			t.Errorf("accuracy on the training rows = %.3f, want >= 0.95", e.Report.Accuracy)
		}
		if e.Long == nil || e.Long.Documents != 8 {
			t.Errorf("Long = %+v, want 2 long documents per label", e.Long)
		}
		// Per label, long document 0 joins 3 rows and document 1 joins 14; no group is 21-30.
		if g := e.LongBySize; len(g) != 2 || g[0].MinParts != 3 || g[0].Documents != 4 || g[1].MinParts != 11 || g[1].Documents != 4 {
			t.Errorf("LongBySize = %+v, want 4 documents of 3-10 rows and 4 of 11-20", g)
		}
		for _, g := range e.LongBySize {
			if g.MeanConfidence <= 0 || g.MeanConfidence > 1 {
				t.Errorf("LongBySize group %+v: mean confidence outside (0, 1]", g)
			}
		}
	})
	t.Run("label mix", func(t *testing.T) {
		// The shipped model on a few short texts, where the mix decides close calls: telling eval
		// that nearly every document is other must move predictions toward it.
		real := filepath.Join(dir, "default.model")
		if err := os.WriteFile(real, models.DefaultModelFile(), 0o644); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "short.jsonl")
		lines := `{"text": "Officials met on Tuesday to discuss the plan", "label": "diplomacy"}
{"text": "Passwords of some users were exposed", "label": "cybersecurity"}
{"text": "Workers arrived from abroad this spring", "label": "migration"}
{"text": "Talks on the border resumed", "label": "diplomacy"}
{"text": "The company said systems were down for hours", "label": "cybersecurity"}
`
		if err := os.WriteFile(data, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		var plain, shifted evalOutput
		for _, run := range []struct {
			out  *evalOutput
			args []string
		}{
			{&plain, nil},
			{&shifted, []string{"--label-mix", "other=0.99"}},
		} {
			out := runTool(t, evalCmd, append([]string{"--model", real, "--data", data, "--json"}, run.args...)...)
			if err := json.Unmarshal([]byte(out), run.out); err != nil {
				t.Fatalf("eval --json %v printed %q: %v", run.args, out, err)
			}
		}
		predicted := func(e evalOutput) (n int) {
			for i, m := range e.Report.Labels {
				if m.Label == "other" {
					for _, row := range e.Report.Confusion {
						n += row[i]
					}
				}
			}
			return n
		}
		if p, s := predicted(plain), predicted(shifted); s <= p {
			t.Errorf("documents predicted other: %d with --label-mix other=0.99, want more than the %d without", s, p)
		}
	})
	t.Run("topics", func(t *testing.T) {
		// Rows with a topics list are scored on topics too; the row without one is not.
		real := filepath.Join(dir, "default-topics.model")
		if err := os.WriteFile(real, models.DefaultModelFile(), 0o644); err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(dir, "multi.jsonl")
		lines := `{"id": "a", "label": "cybersecurity", "topics": ["cybersecurity", "migration"], "text": "Hackers broke into the asylum agency's servers and stole the fingerprints of refugees. The ransomware gang leaked the files of migrants awaiting deportation. Refugee groups said asylum seekers feared for their families."}
{"id": "b", "label": "diplomacy", "topics": ["diplomacy"], "text": "The foreign ministers signed a treaty at the summit and the ambassador returned to the embassy after talks."}
{"id": "c", "label": "other", "topics": [], "text": "The football club won the cup final after extra time."}
{"id": "d", "label": "other", "text": "Inflation rose for a third month."}
`
		if err := os.WriteFile(data, []byte(lines), 0o644); err != nil {
			t.Fatal(err)
		}
		plot := filepath.Join(dir, "multi.png")
		out := runTool(t, evalCmd, "--model", real, "--data", data, "--plot", plot)
		for _, want := range []string{"topics (3 rows that list their topics)", "exact topic set", "Hamming loss", "reliability of diplomacy", "wrote " + filepath.Join(dir, "multi-topics.png")} {
			if !strings.Contains(out, want) {
				t.Errorf("eval output lacks %q:\n%s", want, out)
			}
		}
		f, err := os.Open(filepath.Join(dir, "multi-topics.png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := png.Decode(f); err != nil {
			t.Errorf("--plot wrote no topics PNG: %v", err)
		}
		var e evalOutput
		if err := json.Unmarshal([]byte(runTool(t, evalCmd, "--model", real, "--data", data, "--json", "--topic-threshold", "1")), &e); err != nil {
			t.Fatal(err)
		}
		// At threshold 1 no topic is present: no topic is found, and only the row about no topic
		// has its exact set.
		if e.Topics == nil || e.Topics.Documents != 3 || len(e.Topics.Topics) != 3 || math.Abs(e.Topics.ExactMatch-1.0/3) > 1e-9 || e.Topics.ExtraTopic != 0 {
			t.Fatalf("topics report %+v, want 3 documents, 3 topics, one exact set, no extra topic", e.Topics)
		}
		for _, tm := range e.Topics.Topics {
			if tm.Recall != 0 || tm.Support != 1 {
				t.Errorf("topic %+v at threshold 1: want recall 0, support from the rows", tm)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"--model", model, "--data", corpus, "--topic-threshold", "2"},
			{"--data", corpus},
			{"--model", model},
			{"--model", corpus, "--data", corpus},
			{"--model", model, "--data", filepath.Join(dir, "missing.jsonl")},
			{"--model", model, "--data", corpus, "--long", "-1"},
			{"--model", model, "--data", corpus, "--label-mix", "sports=0.5"},
			{"--model", model, "--data", corpus, "--label-mix", "cybersecurity"},
		} {
			var o, e bytes.Buffer
			if err := runEval(context.Background(), args, &o, &e); err == nil {
				t.Errorf("eval %v = nil error, want one", args)
			}
		}
	})
}
