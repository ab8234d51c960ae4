package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/topicd/topicd/classifier"
)

// ModelExt is the file name extension of the model files a [Registry] serves from its folder.
// The model's name is the file name without it.
const ModelExt = ".model"

// errFileRemoved is the load error of a default model whose file went away.
const errFileRemoved = "model file was removed; the last version loaded keeps serving"

// DefaultMaxModelBytes is the default of RegistryOptions.MaxModelBytes: far above real models
// (the embedded one is about 160 KB), far below what a stray multi-gigabyte file would cost.
const DefaultMaxModelBytes = 256 << 20

// modelMagic is how every model file starts (classifier's file format): a file that does not is
// refused after reading these few bytes, however large it is.
const modelMagic = "TOPICDNB"

// LoadFunc parses the bytes of a model file. An error means the file is not a usable model;
// the registry keeps serving the previous version.
type LoadFunc func(data []byte) (Model, error)

// NamedModel is a model with the name requests use to pick it.
type NamedModel struct {
	Name  string
	Model Model
}

// RegistryOptions configure a [Registry].
type RegistryOptions struct {
	// Builtin models are always there (the embedded default). A file of the same name in Dir
	// overrides one while it loads.
	Builtin []NamedModel
	// Dir, when set, is a folder whose *.model files are served by name.
	Dir string
	// Default names the model used when a request names none. Empty means the first builtin
	// model or, with no builtin, the only model of Dir.
	Default string
	// Load parses a model file. Nil means classifier.Load, and a file that does not start like a
	// model file is refused before it is read whole.
	Load LoadFunc
	// MaxModelBytes bounds the size of a model file; a larger file is not read and gets a load
	// error. 0 means DefaultMaxModelBytes.
	MaxModelBytes int64
	// Logger receives load errors and swaps. Nil discards.
	Logger *slog.Logger
	// Metrics records loads. Nil records none.
	Metrics *Metrics
}

// Registry holds the models a server serves and swaps in new versions without stopping calls.
// Lookups read an immutable snapshot through an atomic pointer and never wait; reloads are
// serialised. Its methods are safe for concurrent use.
type Registry struct {
	snap atomic.Pointer[snapshot]

	mu      sync.Mutex // serialises reloads
	opts    RegistryOptions
	log     *slog.Logger
	builtin map[string]*modelEntry
	sniff   bool // check a file's first bytes against modelMagic before reading it whole
}

// snapshot is one immutable state of the registry.
type snapshot struct {
	byName    map[string]*modelEntry
	order     []*modelEntry // default first, then by name
	def       *modelEntry
	available []string // names of the models that serve, default first
}

// fileState identifies one version of a file on disk.
type fileState struct {
	size    int64
	modTime time.Time
	mode    fs.FileMode
}

func fileStateOf(fi fs.FileInfo) fileState {
	return fileState{size: fi.Size(), modTime: fi.ModTime(), mode: fi.Mode()}
}

// modelEntry is one named model in a snapshot. It is never modified once published: a reload
// that changes anything publishes a new entry.
type modelEntry struct {
	name    string
	model   Model // nil when the file never loaded
	version string
	info    classifier.Info

	loadedAt time.Time
	path     string    // file the model came from or was last tried from; empty for builtin
	file     fileState // of the version serving
	sum      [sha256.Size]byte

	tried     fileState // of the last file that failed to load, so it is not re-read every poll
	loadErr   string
	loadErrAt time.Time

	metrics *modelMetrics
}

// NewRegistry loads the builtin models and the files of opts.Dir. It fails when the default
// model is missing or does not load; other broken files are logged and reported by
// ModelService, not fatal.
func NewRegistry(opts RegistryOptions) (*Registry, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	sniff := opts.Load == nil
	if opts.Load == nil {
		opts.Load = loadClassifierModel
	}
	if opts.MaxModelBytes <= 0 {
		opts.MaxModelBytes = DefaultMaxModelBytes
	}
	r := &Registry{opts: opts, log: opts.Logger, builtin: map[string]*modelEntry{}, sniff: sniff}
	now := time.Now()
	for _, b := range opts.Builtin {
		if b.Name == "" || b.Model == nil {
			return nil, errors.New("builtin model needs a name and a model")
		}
		e := &modelEntry{name: b.Name, model: b.Model, loadedAt: now}
		e.describe(opts.Metrics)
		r.builtin[b.Name] = e
	}
	if opts.Dir != "" {
		if fi, err := os.Stat(opts.Dir); err != nil {
			return nil, fmt.Errorf("model folder: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("model folder %s is not a folder", opts.Dir)
		}
	}
	if err := r.reload(true); err != nil {
		return nil, err
	}
	s := r.snap.Load()
	if s.def == nil {
		if opts.Default != "" {
			return nil, fmt.Errorf("default model %q: no such model (have: %s)", opts.Default, strings.Join(s.names(), ", "))
		}
		return nil, errors.New("no default model: name one, or serve exactly one model")
	}
	if s.def.model == nil {
		return nil, fmt.Errorf("default model %q: %s", s.def.name, s.def.loadErr)
	}
	return r, nil
}

// Reload re-reads every model file, even those whose size and modification time did not change,
// and swaps in the ones that changed and load. It returns an error only when the folder cannot be
// read; a file that fails to load is logged and shown in its model's load error.
func (r *Registry) Reload() error { return r.reload(true) }

// Watch polls the model folder every interval until ctx ends and reloads the files whose size or
// modification time changed. It returns at once when the registry has no folder or interval <= 0.
func (r *Registry) Watch(ctx context.Context, interval time.Duration) {
	if r.opts.Dir == "" || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := r.reload(false); err != nil {
				r.log.Error("model folder scan failed", "dir", r.opts.Dir, "error", err)
			}
		}
	}
}

// Models returns the names of the models that serve, the default first.
func (r *Registry) Models() []string { return slices.Clone(r.snap.Load().available) }

// lookup returns the entry that serves name ("" is the default), or a status error.
func (r *Registry) lookup(name string) (*modelEntry, error) {
	s := r.snap.Load()
	if name == "" {
		return s.def, nil
	}
	e := s.byName[name]
	if e == nil {
		return nil, errUnknownModel(name, s.available)
	}
	if e.model == nil {
		return nil, errModelNotLoaded(name, s.available)
	}
	return e, nil
}

func (r *Registry) reload(force bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()

	old := r.snap.Load()
	if old == nil {
		old = &snapshot{byName: map[string]*modelEntry{}}
	}
	next := make(map[string]*modelEntry, len(old.byName))
	for name, e := range r.builtin {
		next[name] = e
	}

	files := map[string]dirFile{}
	if r.opts.Dir != "" {
		des, err := os.ReadDir(r.opts.Dir)
		if err != nil {
			return fmt.Errorf("read model folder: %w", err)
		}
		for _, de := range des {
			n := de.Name()
			if !strings.HasSuffix(n, ModelExt) || strings.HasPrefix(n, ".") {
				continue
			}
			name := strings.TrimSuffix(n, ModelExt)
			if name == "" {
				continue
			}
			// Every *.model entry is a model, whatever it is: one that is not a readable regular
			// file (a dangling or looping symbolic link, a folder, a named pipe) gets a load
			// error, and a version already loaded from it keeps serving, rather than the model
			// vanishing. Symbolic links to files are followed: Kubernetes mounts ConfigMap and
			// Secret files as links, and updates them by swapping the links.
			f := dirFile{path: filepath.Join(r.opts.Dir, n)}
			if !utf8.ValidString(name) {
				// Model names travel in protobuf strings and Prometheus labels, which must be
				// UTF-8: such a file is listed under an escaped name and never loaded.
				name, f.badName = safeName(name), true
				if _, taken := files[name]; taken {
					continue
				}
			}
			files[name] = f
		}
	}

	for name, f := range files {
		prev := old.byName[name]
		if prev == nil {
			prev = r.builtin[name]
		}
		if e := r.loadFile(name, f, prev, force); e != nil {
			next[name] = e
		}
	}

	// Models whose file went away.
	for name, e := range old.byName {
		if _, ok := files[name]; ok || e.path == "" {
			continue
		}
		switch {
		case r.builtin[name] != nil:
			r.log.Warn("model file removed; serving the builtin model again", "model", name, "path", e.path)
		case name == old.def.name && e.model != nil:
			if e.loadErr == errFileRemoved {
				next[name] = e // already reported
				continue
			}
			kept := *e
			kept.loadErr, kept.loadErrAt = errFileRemoved, time.Now()
			next[name] = &kept
			r.log.Error("default model file removed; keeping the loaded version", "model", name, "path", e.path)
		default:
			r.log.Warn("model file removed; model no longer served", "model", name, "path", e.path)
		}
	}

	r.publish(old, next)
	return nil
}

// dirFile is a *.model entry of the model folder.
type dirFile struct {
	path    string
	badName bool // the name is not UTF-8: listed with a load error, never read
}

// safeName shows a file name that is not UTF-8 as UTF-8, with its other bytes escaped as Go does
// (\xff), so two such names stay apart.
func safeName(name string) string {
	q := strconv.Quote(name)
	return q[1 : len(q)-1]
}

// loadFile returns the entry that should serve name from f given the previous one (nil when
// there was none), or nil when the model is not to be listed yet.
func (r *Registry) loadFile(name string, f dirFile, prev *modelEntry, force bool) *modelEntry {
	path := f.path
	unchanged := func(st fileState) bool {
		return prev != nil && prev.path == path && !force && (st == prev.file || st == prev.tried)
	}
	fi, err := os.Stat(path)
	if err != nil {
		// A symbolic link to nothing, or a loop: the entry itself is still there.
		li, lerr := os.Lstat(path)
		if lerr != nil {
			return prev // gone between ReadDir and Stat: the next scan sees it
		}
		if st := fileStateOf(li); !unchanged(st) {
			return r.failed(name, path, prev, st, "cannot open the model file: "+fileError(err))
		}
		return prev
	}
	st := fileStateOf(fi)
	if unchanged(st) {
		return prev
	}
	switch {
	case f.badName:
		return r.failed(name, path, prev, st, "the file name is not valid UTF-8; rename the file to serve it")
	case !fi.Mode().IsRegular():
		return r.failed(name, path, prev, st, "the model file is "+describeMode(fi.Mode())+", not a regular file")
	case fi.Size() > r.opts.MaxModelBytes:
		return r.failed(name, path, prev, st, fmt.Sprintf("the model file is %d bytes, over this server's limit of %d bytes (topicd --max-model-bytes)",
			fi.Size(), r.opts.MaxModelBytes))
	}
	data, msg, err := r.readFile(path, st)
	if err != nil {
		return r.failed(name, path, prev, st, msg)
	}
	if data == nil {
		// A writer still at work shows as a size or time that moved while we read: leave the
		// file alone and look again on the next scan rather than load half of it.
		r.log.Info("model file is changing; will retry", "model", name, "path", path)
		return prev
	}
	sum := sha256.Sum256(data)
	if prev != nil && prev.model != nil && prev.path == path && prev.sum == sum {
		if prev.file == st && prev.loadErr == "" {
			return prev
		}
		same := *prev
		same.file, same.tried, same.loadErr, same.loadErrAt = st, fileState{}, "", time.Time{}
		return &same
	}
	m, err := r.opts.Load(data)
	if err != nil {
		return r.failed(name, path, prev, st, err.Error())
	}
	if m == nil {
		return r.failed(name, path, prev, st, "model file holds no model")
	}
	e := &modelEntry{name: name, model: m, loadedAt: time.Now(), path: path, file: st, sum: sum}
	e.describe(r.opts.Metrics)
	r.opts.Metrics.modelLoaded(name, true)
	r.log.Info("model loaded", "model", name, "version", e.version, "path", path)
	return e
}

// readFile reads the model file at path, which Stat found a regular file in state st. It returns
// the bytes, or nil bytes when the file changed while it was read, or an error with the message
// for the model's load error (which never names the path).
func (r *Registry) readFile(path string, st fileState) (data []byte, msg string, err error) {
	// O_NONBLOCK: if the file was swapped for a named pipe since Stat, opening it must not wait
	// for a writer that never comes.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, "cannot open the model file: " + fileError(err), err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "cannot read the model file: " + fileError(err), err
	}
	if !fi.Mode().IsRegular() {
		err := errors.New("not a regular file")
		return nil, "the model file is " + describeMode(fi.Mode()) + ", not a regular file", err
	}
	if fi.Size() != st.size || !fi.ModTime().Equal(st.modTime) {
		return nil, "", nil
	}
	if r.sniff {
		head := make([]byte, len(modelMagic))
		if _, err := io.ReadFull(f, head); err != nil || string(head) != modelMagic {
			return nil, "not a topicd model file (bad magic number)", errors.New("bad magic number")
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, "cannot read the model file: " + fileError(err), err
		}
	}
	// Read one byte more than Stat said, to notice a file that grew meanwhile.
	data = make([]byte, st.size+1)
	n, err := io.ReadFull(f, data)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, "cannot read the model file: " + fileError(err), err
	}
	if int64(n) != st.size {
		return nil, "", nil
	}
	if fi2, err := os.Stat(path); err != nil || fi2.Size() != st.size || !fi2.ModTime().Equal(st.modTime) {
		return nil, "", nil
	}
	return data[:n], "", nil
}

// fileError describes a file system error without the path it carries: load errors are shown
// to clients.
func fileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "it is a symbolic link to a file that does not exist"
	case errors.Is(err, syscall.ELOOP):
		return "it is a loop of symbolic links"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}

// failed records a failed load on a copy of prev, which keeps serving.
func (r *Registry) failed(name, path string, prev *modelEntry, st fileState, msg string) *modelEntry {
	r.opts.Metrics.modelLoaded(name, false)
	var e modelEntry
	if prev != nil {
		e = *prev
	} else {
		e = modelEntry{name: name}
	}
	e.path, e.tried, e.loadErr, e.loadErrAt = path, st, msg, time.Now()
	if e.model != nil {
		r.log.Error("model file failed to load; previous version keeps serving",
			"model", name, "path", path, "serving", e.version, "error", msg)
	} else {
		r.log.Error("model file failed to load", "model", name, "path", path, "error", msg)
	}
	return &e
}

func (r *Registry) publish(old *snapshot, next map[string]*modelEntry) {
	s := &snapshot{byName: next}
	defName := r.opts.Default
	if defName == "" {
		switch {
		case len(r.opts.Builtin) > 0:
			defName = r.opts.Builtin[0].Name
		case len(next) == 1:
			for n := range next {
				defName = n
			}
		}
	}
	s.def = next[defName]
	for _, e := range next {
		s.order = append(s.order, e)
	}
	slices.SortFunc(s.order, func(a, b *modelEntry) int {
		if (a == s.def) != (b == s.def) {
			if a == s.def {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.name, b.name)
	})
	for _, e := range s.order {
		if e.model != nil {
			s.available = append(s.available, e.name)
		}
	}
	r.snap.Store(s)
	r.opts.Metrics.modelsServed(old, s)
}

// describe caches what an entry reports so calls never ask the model again.
func (e *modelEntry) describe(m *Metrics) {
	e.version = e.model.Version()
	e.info = e.model.Info()
	e.metrics = m.forModel(e.name, e.model.Labels())
}

func (s *snapshot) names() []string {
	var out []string
	for _, e := range s.order {
		out = append(out, e.name)
	}
	return out
}

// loadClassifierModel adapts classifier.Load to LoadFunc.
func loadClassifierModel(data []byte) (Model, error) {
	m, err := classifier.Load(data)
	if err != nil {
		return nil, err
	}
	return m, nil
}
