package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/topicd/topicd/classifier"
	"github.com/topicd/topicd/classifier/training"
)

// writeCorpus writes a small JSONL corpus whose labels are told apart by their vocabulary, with
// a few shared words so the model is not trivially certain, and returns its path.
func writeCorpus(t *testing.T) string {
	t.Helper()
	vocab := map[string][]string{
		"cybersecurity": {"hackers", "ransomware", "breach", "malware", "servers", "passwords"},
		"migration":     {"migrants", "asylum", "refugees", "border", "deportation", "boats"},
		"diplomacy":     {"ambassador", "summit", "treaty", "ministers", "embassy", "talks"},
		"other":         {"football", "election", "inflation", "storm", "museum", "vaccine"},
	}
	shared := []string{"government", "said", "country", "week", "officials"}
	var b strings.Builder
	n := 0
	for _, label := range training.DefaultLabels {
		count := 40
		if label == "other" {
			count = 120
		}
		for i := range count {
			words := vocab[label]
			text := fmt.Sprintf("The %s %s %s as %s %s %s.", shared[i%5], words[i%6], shared[(i+2)%5], words[(i+1)%6], words[(i*5+3)%6], shared[(i+3)%5])
			line, _ := json.Marshal(map[string]string{
				"id": fmt.Sprintf("t-%d", n), "date": fmt.Sprintf("20%02d-%02d-01", 10+i%14, 1+i%12),
				"label": label, "label_source": []string{"section", "text"}[i%2], "text": text,
			})
			b.Write(line)
			b.WriteByte('\n')
			n++
		}
	}
	path := filepath.Join(t.TempDir(), "corpus.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runTool(t *testing.T, fn func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := fn(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// train runs `topicctl train` without the default --topic-articles, which name files relative to
// the repository's root (tests run in cmd/topicctl); a test may still give its own.
func train(ctx context.Context, args []string, out, errOut *bytes.Buffer) error {
	return runTrain(ctx, append([]string{"--topic-articles="}, args...), out, errOut)
}

func TestTrainReproducible(t *testing.T) {
	corpus := writeCorpus(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.model"), filepath.Join(dir, "b.model")
	out := runTool(t, train, "--data", corpus, "--out", a, "--long", "5")
	runTool(t, train, "--data", corpus, "--out", b, "--long", "5")
	ab, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if len(ab) == 0 || !bytes.Equal(ab, bb) {
		t.Fatalf("two trainings on the same corpus wrote different model files (%d and %d bytes)", len(ab), len(bb))
	}
	for _, want := range []string{"validation: corpus.jsonl: newest 20% of each label", "cybersecurity", "vocabulary:", "wrote "} {
		if !strings.Contains(out, want) {
			t.Errorf("train output lacks %q:\n%s", want, out)
		}
	}
	m, err := classifier.Load(ab)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Evaluation == nil || info.Evaluation.Documents == 0 || !strings.Contains(info.Evaluation.Dataset, "newest 20%") {
		t.Errorf("model evaluation = %+v, want the newest-20%% validation", info.Evaluation)
	}
	if info.TrainingDocuments["other"] != 120 || info.TrainingDocuments["cybersecurity"] != 40 {
		t.Errorf("TrainingDocuments = %v, want every row (the final model trains on all)", info.TrainingDocuments)
	}
	if want := time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC); !info.Provenance.TrainedAt.Equal(want) {
		t.Errorf("TrainedAt = %v, want the newest row date %v", info.Provenance.TrainedAt, want)
	}
	if info.Provenance.CorpusSHA256 == "" || info.Provenance.Settings["scoring.variant"] != "complement" || info.Provenance.Settings["validation"] != "newest=0.2" {
		t.Errorf("Provenance = %+v, want the corpus hash and the settings", info.Provenance)
	}
	if info.License != "" {
		t.Errorf("License = %q, want none for a corpus that is not news-topics", info.License)
	}
	if c := m.Calibration(); c.Temperature <= 0 {
		t.Errorf("Calibration = %+v, want a fitted temperature", c)
	}

	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	c := filepath.Join(dir, "c.model")
	runTool(t, train, "--data", corpus, "--out", c, "--validate", "none", "--calibrate", "none")
	cb, _ := os.ReadFile(c)
	mc, err := classifier.Load(cb)
	if err != nil {
		t.Fatal(err)
	}
	if got := mc.Info().Provenance.TrainedAt; !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("TrainedAt with SOURCE_DATE_EPOCH = %v, want %v", got, time.Unix(1700000000, 0).UTC())
	}
	if mc.Info().Evaluation != nil {
		t.Errorf("--validate none stored evaluation %+v, want none", mc.Info().Evaluation)
	}
}

func TestTrainValidateJSON(t *testing.T) {
	corpus := writeCorpus(t)
	tests := []struct {
		validate string
		wantDocs int
		wantDesc string
	}{
		{"newest=0.25", 10 + 10 + 10 + 30, "newest 25%"},
		{"kfold=4", 240, "4-fold"},
		{"date=2020-01-01", 0, "dated 2020-01-01 or later"},
	}
	for _, tt := range tests {
		t.Run(tt.validate, func(t *testing.T) {
			out := runTool(t, train, "--data", corpus, "--validate-only", "--json", "--validate", tt.validate, "--long", "3")
			var sm trainSummary
			if err := json.Unmarshal([]byte(out), &sm); err != nil {
				t.Fatalf("train --json printed %q: %v", out, err)
			}
			v := sm.Validation
			if v == nil || !strings.Contains(v.Dataset, tt.wantDesc) {
				t.Fatalf("Validation = %+v, want dataset %q", v, tt.wantDesc)
			}
			if tt.wantDocs > 0 && v.Report.Documents != tt.wantDocs {
				t.Errorf("validated %d documents, want %d", v.Report.Documents, tt.wantDocs)
			}
			// The vocabularies barely overlap: any working pipeline gets nearly all right.
			if v.Report.MacroF1 < 0.9 {
				t.Errorf("macro-F1 = %.3f, want >= 0.9 on a separable corpus", v.Report.MacroF1)
			}
			if v.Long == nil || v.Long.Documents == 0 {
				t.Errorf("Long = %+v, want long documents scored", v.Long)
			}
			if sm.Model != "" {
				t.Errorf("--validate-only wrote model %q", sm.Model)
			}
		})
	}
}

func TestTrainBadFlags(t *testing.T) {
	corpus := writeCorpus(t)
	out := filepath.Join(t.TempDir(), "m.model")
	tests := [][]string{
		{"--out", out},
		{"--data", corpus},
		{"--data", corpus, "--out", out, "--variant", "bernoulli"},
		{"--data", corpus, "--out", out, "--priors", "flat"},
		{"--data", corpus, "--out", out, "--alpha", "0"},
		{"--data", corpus, "--out", out, "--label-weights", "other"},
		{"--data", corpus, "--out", out, "--validate", "random"},
		{"--data", corpus, "--out", out, "--validate", "kfold=1"},
		{"--data", corpus, "--out", out, "--validate", "date=1990-01-01"},
		{"--data", corpus, "--out", out, "--calibrate", "platt"},
		{"--data", filepath.Join(t.TempDir(), "missing.jsonl"), "--out", out},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var o, e bytes.Buffer
			if err := train(context.Background(), args, &o, &e); err == nil {
				t.Errorf("train %v = nil error, want one", args)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("train %v wrote %s despite failing", args, out)
			}
		})
	}
}

func TestTrainOwnLabels(t *testing.T) {
	var b strings.Builder
	for i := range 60 {
		label, words := "sport", "match goal team league"
		if i%2 == 1 {
			label, words = "arts", "film novel museum painter"
		}
		w := strings.Fields(words)
		fmt.Fprintf(&b, `{"id":"r%d","date":"2020-01-%02d","label":%q,"text":"The %s and the %s."}`+"\n", i, 1+i%28, label, w[i%4], w[(i+1)%4])
	}
	corpus := filepath.Join(t.TempDir(), "own.jsonl")
	if err := os.WriteFile(corpus, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(t.TempDir(), "own.model")
	runTool(t, train, "--data", corpus, "--out", model, "--labels", "sport,arts", "--fallback", "arts", "--label-weights=", "--calibration-mix=", "--long", "2")
	data, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Labels(); strings.Join(got, ",") != "sport,arts" || m.FallbackLabel() != "arts" {
		t.Errorf("Labels, FallbackLabel = %v, %q; want [sport arts], arts", got, m.FallbackLabel())
	}
	// The default label weights name labels this corpus lacks: that must fail, not be ignored.
	var o, e bytes.Buffer
	if err := train(context.Background(), []string{"--data", corpus, "--out", model + "2", "--labels", "sport,arts", "--fallback", "arts"}, &o, &e); err == nil {
		t.Error("train with label weights for unknown labels = nil error, want one")
	}
}

// TestTrainDefaultsAreShipped checks that `topicctl train` without settings flags trains with the
// shipped recipe, which the reproduction test in classifier/training rebuilds the model with.
func TestTrainDefaultsAreShipped(t *testing.T) {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var s recipeFlags
	s.register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.recipe()
	if err != nil {
		t.Fatal(err)
	}
	if want := training.Shipped(); !reflect.DeepEqual(got, want) {
		t.Errorf("recipe from the default flags = %+v, want training.Shipped() = %+v", got, want)
	}
}

// TestTrainDefaultTopicArticlesMissing checks that `topicctl train` run outside the repository's
// root, where the default --topic-articles are not, fails and says what to do rather than
// writing a model that differs from the shipped one; that --topic-articles= trains without them;
// and that from the root the defaults are read and named in the model's provenance.
func TestTrainDefaultTopicArticlesMissing(t *testing.T) {
	corpus := writeCorpus(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m.model")
	// The working directory of this test is cmd/topicctl, which holds no scripts/.
	var o, e bytes.Buffer
	err := runTrain(context.Background(), []string{"--data", corpus, "--out", model, "--long", "3"}, &o, &e)
	if err == nil {
		t.Fatal("train with the default --topic-articles missing = nil error, want one")
	}
	for _, want := range []string{training.DefaultTopicArticles[0], "repository's root", "--topic-articles="} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(model); err == nil {
		t.Errorf("train wrote %s despite failing", model)
	}
	// Validation reads no articles, so it runs anywhere.
	o.Reset()
	if err := runTrain(context.Background(), []string{"--data", corpus, "--validate-only", "--long", "3"}, &o, &e); err != nil {
		t.Errorf("train --validate-only without the default --topic-articles: %v", err)
	}
	// Explicitly none: a model without the rescaling, and no articles in its provenance.
	runTool(t, runTrainBuffers, "--data", corpus, "--out", model, "--long", "3", "--topic-articles=")
	if got := provenance(t, model)["topics.articles"]; got != "" {
		t.Errorf("with --topic-articles= the provenance names articles %q, want none", got)
	}
	// From the repository's root the defaults are there and are read.
	rooted := filepath.Join(dir, "rooted.model")
	t.Chdir(filepath.Join("..", ".."))
	runTool(t, runTrainBuffers, "--data", corpus, "--out", rooted, "--long", "3")
	if got := provenance(t, rooted)["topics.articles"]; !strings.Contains(got, filepath.Base(training.DefaultTopicArticles[0])) {
		t.Errorf("from the repository's root the provenance names articles %q, want the defaults", got)
	}
}

func runTrainBuffers(ctx context.Context, args []string, out, errOut *bytes.Buffer) error {
	return runTrain(ctx, args, out, errOut)
}

// provenance returns the settings recorded in the model file at path.
func provenance(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := classifier.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return m.Info().Provenance.Settings
}
