package server

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/topicd/topicd/models"
	topicdv1 "github.com/topicd/topicd/proto/topicd/v1"
)

// replaceWith puts something else than a model file at path: what an unlucky operator's
// deployment leaves behind.
type replacement struct {
	name string
	make func(t *testing.T, path string)
}

func brokenReplacements() []replacement {
	return []replacement{
		{"dangling symlink", func(t *testing.T, path string) {
			mustSymlink(t, filepath.Join(filepath.Dir(path), "nowhere", "x.model"), path)
		}},
		{"symlink loop", func(t *testing.T, path string) {
			mustSymlink(t, path, path)
		}},
		{"folder", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"fifo", func(t *testing.T, path string) { mkfifo(t, path) }},
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// reloadWithin runs reg.Reload and fails the test if it does not return: opening a named pipe
// without a writer would block the loader for ever.
func reloadWithin(t *testing.T, reg *Registry) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- reg.Reload() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Reload() = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Reload() blocked on the model folder")
	}
}

// A served model file replaced by something that is not a model file keeps its loaded version
// serving with a load error, for a model of the folder and for the one that overrides the
// embedded model alike; the load error does not show the server's paths.
func TestRegistryBrokenReplacement(t *testing.T) {
	for _, rp := range brokenReplacements() {
		t.Run(rp.name, func(t *testing.T) {
			dir := t.TempDir()
			a, override := trainModel(t, "alpha"), trainModel(t, "override")
			aPath, ovPath := filepath.Join(dir, "a.model"), filepath.Join(dir, models.DefaultName+ModelExt)
			writeFile(t, aPath, encodeModel(t, a))
			writeFile(t, ovPath, encodeModel(t, override))
			reg, err := NewRegistry(RegistryOptions{
				Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
				Dir:     dir,
			})
			if err != nil {
				t.Fatal(err)
			}
			env := newTestEnv(t, reg, Options{})
			ctx := testCtx(t)

			for _, p := range []string{aPath, ovPath} {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
				rp.make(t, p)
			}
			reloadWithin(t, reg)
			// A second scan, as the poller makes, must not change the verdict.
			if err := reg.reload(false); err != nil {
				t.Fatal(err)
			}

			for _, want := range []struct{ name, version string }{{"a", a.Version()}, {models.DefaultName, override.Version()}} {
				got, err := env.models.GetModel(ctx, &topicdv1.GetModelRequest{Name: want.name})
				if err != nil {
					t.Fatalf("GetModel(%s) = %v", want.name, err)
				}
				mi := got.Model
				if mi.Version != want.version || mi.LoadError == "" || mi.LoadErrorAt == nil {
					t.Errorf("GetModel(%s) after a %s = version %s, load_error %q; want version %s still serving, with a load error",
						want.name, rp.name, mi.Version, mi.LoadError, want.version)
				}
				if strings.Contains(mi.LoadError, dir) || strings.Contains(mi.LoadError, "/") {
					t.Errorf("GetModel(%s).load_error = %q, shows a server path", want.name, mi.LoadError)
				}
				resp, err := env.cls.Classify(ctx, &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: want.name})
				if err != nil || resp.Classification.ModelVersion != want.version {
					t.Errorf("Classify(model %s) = %v, %v; want version %s", want.name, resp, err, want.version)
				}
			}
		})
	}
}

// A *.model entry that never loaded and is not a file is listed with a load error too, and calls
// naming it get FAILED_PRECONDITION, not NOT_FOUND.
func TestRegistryNewBrokenEntry(t *testing.T) {
	for _, rp := range brokenReplacements() {
		t.Run(rp.name, func(t *testing.T) {
			dir := t.TempDir()
			rp.make(t, filepath.Join(dir, "b.model"))
			reg, err := NewRegistry(RegistryOptions{
				Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
				Dir:     dir,
			})
			if err != nil {
				t.Fatal(err)
			}
			env := newTestEnv(t, reg, Options{})
			got, err := env.models.GetModel(testCtx(t), &topicdv1.GetModelRequest{Name: "b"})
			if err != nil || got.Model.LoadError == "" || strings.Contains(got.Model.LoadError, dir) {
				t.Fatalf("GetModel(b) = %v, %v; want a load error without the path", got, err)
			}
			t.Logf("load_error: %s", got.Model.LoadError)
			_, err = env.cls.Classify(testCtx(t), &topicdv1.ClassifyRequest{Document: doc("", "hackers"), Model: "b"})
			wantStatus(t, "Classify(model b)", err, codes.FailedPrecondition, `"b"`)
		})
	}
}

// A model file whose name is not UTF-8 is refused with a load error under an escaped name; with
// metrics on, the server does not panic, and ListModels answers.
func TestRegistryNonUTF8Name(t *testing.T) {
	dir := t.TempDir()
	good := encodeModel(t, trainModel(t, "alpha"))
	if err := os.WriteFile(filepath.Join(dir, "b\xff\xfe.model"), good, 0o644); err != nil {
		t.Fatalf("cannot create a file with a non-UTF-8 name here: %v", err)
	}
	writeFile(t, filepath.Join(dir, "a.model"), good)
	promReg := prometheus.NewRegistry()
	metrics, err := NewMetrics(promReg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(RegistryOptions{
		Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
		Dir:     dir,
		Metrics: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	reloadWithin(t, reg)
	env := newTestEnv(t, reg, Options{Metrics: metrics})
	list, err := env.models.ListModels(testCtx(t), &topicdv1.ListModelsRequest{})
	if err != nil {
		t.Fatalf("ListModels = %v, want the models listed", err)
	}
	var bad *topicdv1.ModelInfo
	for _, m := range list.Models {
		if m.Name == `b\xff\xfe` {
			bad = m
		}
	}
	if bad == nil || bad.Version != "" || !strings.Contains(bad.LoadError, "not valid UTF-8") {
		t.Fatalf("ListModels = %v; want b\\xff\\xfe listed with a load error and no version", list.Models)
	}
	if _, err := promReg.Gather(); err != nil {
		t.Errorf("Gather() = %v", err)
	}
	if v := metricValue(t, promReg, MetricModelLoadError, "model", `b\xff\xfe`); v != 1 {
		t.Errorf("%s{model=b\\xff\\xfe} = %v, want 1", MetricModelLoadError, v)
	}
}

// A large stray file is never read whole: over the size limit it is refused from its size, under
// it from its first bytes. What the registry allocates is measured, not timed.
func TestRegistryLargeFile(t *testing.T) {
	dir := t.TempDir()
	sparse := func(name string, size int64, head []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		writeFile(t, p, head)
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(models.DefaultModelFile()[:len(modelMagic)]); got != modelMagic {
		t.Fatalf("model files start with %q, the registry checks for %q", got, modelMagic)
	}
	sparse("huge.model", 3<<30, nil)                  // truncate -s 3G
	sparse("zeros.model", 120<<20, nil)               // under the default limit, not a model
	sparse("fake.model", 120<<20, []byte(modelMagic)) // starts like one: read, then refused
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	reg, err := NewRegistry(RegistryOptions{
		Builtin:       []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
		Dir:           dir,
		MaxModelBytes: 100 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	tests := []struct{ name, want string }{
		{"huge", "over this server's limit of 104857600 bytes"},
		{"zeros", "over this server's limit"},
		{"fake", "over this server's limit"},
	}
	for _, tt := range tests {
		e := reg.snap.Load().byName[tt.name]
		if e == nil || e.model != nil || !strings.Contains(e.loadErr, tt.want) {
			t.Errorf("%s.model: entry %+v, want a load error containing %q", tt.name, e, tt.want)
		}
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("loading a folder of large stray files allocated %d bytes, want under 16 MiB", got)
	}

	// Under the default limit (256 MiB), a file that does not start like a model is refused from
	// its first bytes.
	runtime.GC()
	runtime.ReadMemStats(&before)
	reg, err = NewRegistry(RegistryOptions{
		Builtin: []NamedModel{{Name: models.DefaultName, Model: defaultModel(t)}},
		Dir:     dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if e := reg.snap.Load().byName["zeros"]; e == nil || !strings.Contains(e.loadErr, "bad magic number") {
		t.Errorf("zeros.model: entry %+v, want a bad magic number error", e)
	}
	if e := reg.snap.Load().byName["huge"]; e == nil || !strings.Contains(e.loadErr, "over this server's limit of 268435456 bytes") {
		t.Errorf("huge.model: entry %+v, want the size limit error", e)
	}
	// fake.model, 120 MiB that start like a model, is read (and refused by its checksum); the
	// zeros and the huge file are not.
	if got := after.TotalAlloc - before.TotalAlloc; got > 200<<20 {
		t.Errorf("loading the folder allocated %d bytes, want one 120 MiB file read at most", got)
	}
}
