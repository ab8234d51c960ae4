package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// writeFile replaces path the way an operator's copy does: in place, not by rename, so readers
// can meet a half-written file.
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryFolder(t *testing.T) {
	dir := t.TempDir()
	a, override := trainModel(t, "alpha"), trainModel(t, "override")
	writeFile(t, filepath.Join(dir, "a.model"), encodeModel(t, a))
	writeFile(t, filepath.Join(dir, "news-topics.model"), encodeModel(t, override))
	writeFile(t, filepath.Join(dir, "broken.model"), []byte("not a model"))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("ignored"))
	// Served through a symbolic link, as Kubernetes mounts ConfigMaps.
	other := t.TempDir()
	writeFile(t, filepath.Join(other, "linked"), encodeModel(t, trainModel(t, "linked")))
	if err := os.Symlink(filepath.Join(other, "linked"), filepath.Join(dir, "linked.model")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "folder.model"), 0o755)

	reg, err := NewRegistry(RegistryOptions{
		Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{})
	ctx := testCtx(t)

	list, err := env.models.ListModels(ctx, &topicdv1.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
	}
	// folder.model is listed with a load error: a *.model entry that is not a file is a model
	// that does not load, not nothing.
	if got := strings.Join(names, ","); got != "news-topics,a,broken,folder,linked" || list.DefaultModel != models.DefaultName {
		t.Fatalf("ListModels = %s (default %s), want news-topics,a,broken,folder,linked (default news-topics)", got, list.DefaultModel)
	}
	def, a2, broken := list.Models[0], list.Models[1], list.Models[2]
	if !def.Default || def.Version != override.Version() {
		t.Errorf("news-topics = default %v version %s, want the file's version %s overriding the embedded one", def.Default, def.Version, override.Version())
	}
	if a2.Version != a.Version() || len(a2.Labels) != 4 || a2.LoadedAt == nil || a2.License != "test data" || len(a2.TrainingDocuments) != 4 {
		t.Errorf("a = %v, want version %s, 4 labels, load time, licence, training counts", a2, a.Version())
	}
	if broken.Version != "" || broken.LoadError == "" || broken.LoadErrorAt == nil {
		t.Errorf("broken = %v, want no version and a load error", broken)
	}

	resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: "a"})
	if err != nil || resp.Classification.Model != "a" || resp.Classification.ModelVersion != a.Version() {
		t.Errorf("Classify(model a) = %v, %v; want model a version %s", resp, err, a.Version())
	}
	_, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: "broken"})
	wantStatus(t, "Classify(model broken)", err, codes.FailedPrecondition, `"broken"`, "news-topics, a, linked")
	_, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: "zzz"})
	wantStatus(t, "Classify(model zzz)", err, codes.NotFound, `"zzz"`, "news-topics, a")
	_, err = env.models.GetModel(ctx, &topicdv1.GetModelRequest{Name: "zzz"})
	wantStatus(t, "GetModel(zzz)", err, codes.NotFound, `"zzz"`)
	got, err := env.models.GetModel(ctx, &topicdv1.GetModelRequest{})
	if err != nil || got.Model.Name != models.DefaultName {
		t.Errorf("GetModel(\"\") = %v, %v; want the default model", got, err)
	}

	// Files that go away: the override falls back to the embedded model, others disappear.
	os.Remove(filepath.Join(dir, "news-topics.model"))
	os.Remove(filepath.Join(dir, "a.model"))
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	got, err = env.models.GetModel(ctx, &topicdv1.GetModelRequest{})
	if err != nil || got.Model.Version != defaultModel(t).Version() {
		t.Errorf("after removing news-topics.model: GetModel = %v, %v; want the embedded version %s", got, err, defaultModel(t).Version())
	}
	_, err = env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: "a"})
	wantStatus(t, "Classify(model a) after removing a.model", err, codes.NotFound, `"a"`)
}

func TestNewRegistryErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.model"), []byte("junk"))
	writeFile(t, filepath.Join(dir, "good.model"), encodeModel(t, trainModel(t, "x")))
	tests := []struct {
		name string
		opts RegistryOptions
		want string
	}{
		{"missing default", RegistryOptions{Dir: dir, Default: "nope"}, `"nope"`},
		{"broken default", RegistryOptions{Dir: dir, Default: "bad"}, `"bad"`},
		{"no default", RegistryOptions{Dir: dir}, "no default model"},
		{"missing folder", RegistryOptions{Dir: filepath.Join(dir, "none"), Default: "x"}, "model folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRegistry(%s) = %v, want an error containing %s", tt.name, err, tt.want)
			}
		})
	}
	if _, err := NewRegistry(RegistryOptions{Dir: dir, Default: "good"}); err != nil {
		t.Errorf("NewRegistry(default good, bad beside it) = %v, want success", err)
	}
}

// TestHotReload replaces a model file by a partial one, a corrupt one and a new good one while
// calls run: no call may fail, the old version serves until the new one loads.
func TestHotReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.model")
	v1, v2 := trainModel(t, "one"), trainModel(t, "two")
	writeFile(t, path, encodeModel(t, v1))
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	reg, err := NewRegistry(RegistryOptions{Dir: dir, Default: "m", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	env := newTestEnv(t, reg, Options{Logger: logger})
	ctx := testCtx(t)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go reg.Watch(wctx, 5*time.Millisecond)

	var calls, failures atomic.Int64
	versions := sync.Map{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", sampleArticle), Model: "m"})
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Errorf("Classify during reload = %v", err)
					continue
				}
				versions.Store(resp.Classification.ModelVersion, true)
			}
		}()
	}

	// waitModel polls GetModel until ok holds, for at most 20s.
	waitModel := func(what string, ok func(*topicdv1.ModelInfo) bool) *topicdv1.ModelInfo {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; {
			resp, err := env.models.GetModel(ctx, &topicdv1.GetModelRequest{Name: "m"})
			if err != nil {
				t.Fatalf("GetModel(m) = %v", err)
			}
			if ok(resp.Model) {
				return resp.Model
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: GetModel(m) = %v", what, resp.Model)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	good := encodeModel(t, v2)
	writeFile(t, path, good[:len(good)/2])
	mi := waitModel("partial file rejected", func(m *topicdv1.ModelInfo) bool { return m.LoadError != "" })
	if mi.Version != v1.Version() {
		t.Errorf("after a partial file: version %s, want %s still serving", mi.Version, v1.Version())
	}
	writeFile(t, path, []byte("corrupt model file, written by mistake"))
	waitModel("corrupt file rejected", func(m *topicdv1.ModelInfo) bool {
		return m.LoadError != "" && m.Version == v1.Version() && m.LoadErrorAt.AsTime().After(mi.LoadErrorAt.AsTime())
	})
	writeFile(t, path, good)
	mi = waitModel("new version", func(m *topicdv1.ModelInfo) bool { return m.Version == v2.Version() })
	if mi.LoadError != "" {
		t.Errorf("after a good file: load_error = %q, want none", mi.LoadError)
	}
	// Let calls run on the new version too.
	for n := calls.Load(); calls.Load() < n+20; {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || calls.Load() == 0 {
		t.Errorf("%d of %d calls failed during reloads, want 0 of > 0", failures.Load(), calls.Load())
	}
	for _, v := range []string{v1.Version(), v2.Version()} {
		if _, ok := versions.Load(v); !ok {
			t.Errorf("no call was answered by version %s", v)
		}
	}
	if !strings.Contains(logs.String(), "model file failed to load") {
		t.Errorf("load failures not logged:\n%s", logs.String())
	}
}

// The default model keeps serving when its file is removed, and says so.
func TestRegistryDefaultFileRemoved(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "only.model")
	m := trainModel(t, "only")
	writeFile(t, path, encodeModel(t, m))
	reg, err := NewRegistry(RegistryOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	for range 2 {
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	e, err := reg.lookup("")
	if err != nil || e.name != "only" || e.version != m.Version() || e.loadErr != errFileRemoved {
		t.Fatalf("after removing the default's file: %+v, %v; want it serving with a load error", e, err)
	}
	at := e.loadErrAt
	reg.Reload()
	if e, _ := reg.lookup(""); !e.loadErrAt.Equal(at) {
		t.Errorf("load_error_at moved from %v to %v on a reload that changed nothing", at, e.loadErrAt)
	}
}

// A broken file that would override a builtin model leaves the builtin serving, with the error.
func TestRegistryBrokenOverride(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, models.DefaultName+ModelExt), []byte("half a model"))
	reg, err := NewRegistry(RegistryOptions{
		Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatalf("NewRegistry with a broken override = %v, want the builtin serving", err)
	}
	env := newTestEnv(t, reg, Options{})
	got, err := env.models.GetModel(testCtx(t), &topicdv1.GetModelRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Model.Version != defaultModel(t).Version() || got.Model.LoadError == "" {
		t.Errorf("GetModel = version %s, load_error %q; want the embedded version %s and a load error",
			got.Model.Version, got.Model.LoadError, defaultModel(t).Version())
	}
}
