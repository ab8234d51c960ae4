package imports

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const (
	module = "github.com/topicd/topicd"
	goml   = "github.com/cdipaolo/goml"
)

// layers gives each package of the module, by its path below the module, a layer; the longest
// matching entry wins (an entry matches itself and the packages under it). A package may import
// packages of its own layer or lower ones.
var layers = []struct {
	path  string
	layer int
}{
	{"proto", 0},
	{"internal/wire", 1},
	{"classifier", 1},
	{"classifier/training", 2},
	{"models", 2},
	{"server", 3},
	{"client", 3},
	{"report", 3},
	{"internal", 3},
	{"cmd", 4},
	{"scripts", 4},
}

// defaultLayer is the layer of a package no entry of layers matches.
const defaultLayer = 3

// serving are the packages that serve: neither they nor anything they import may be training
// code or goml.
var serving = []string{"classifier", "models", "server", "cmd/topicd"}

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Deps       []string
}

// rel returns path below the module, and false for a path outside it.
func rel(path string) (string, bool) {
	if path == module {
		return "", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

// under reports whether the module-relative path r is dir or a package below it.
func under(r, dir string) bool { return r == dir || strings.HasPrefix(r, dir+"/") }

func layerOf(r string) int {
	best, layer := -1, defaultLayer
	for _, l := range layers {
		if under(r, l.path) && len(l.path) > best {
			best, layer = len(l.path), l.layer
		}
	}
	return layer
}

func isGoml(path string) bool { return path == goml || strings.HasPrefix(path, goml+"/") }

// violations lists every import that breaks a rule, one line each.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		r, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			ir, inModule := rel(imp)
			switch {
			case isGoml(imp) && r != "classifier/training":
				out = append(out, fmt.Sprintf("%s imports %s: only classifier/training may import goml", r, imp))
			case r == "classifier" && !inModule && strings.Contains(strings.Split(imp, "/")[0], "."):
				out = append(out, fmt.Sprintf("classifier imports %s: classifier serves and uses the standard library only", imp))
			case !inModule:
			case under(ir, "cmd") || under(ir, "scripts"):
				out = append(out, fmt.Sprintf("%s imports %s: nothing imports a program", r, ir))
			case layerOf(ir) > layerOf(r):
				out = append(out, fmt.Sprintf("%s (layer %d) imports %s (layer %d): a package never imports a higher layer", r, layerOf(r), ir, layerOf(ir)))
			}
		}
		switch {
		case under(r, "client"):
			for _, d := range p.Deps {
				if dr, in := rel(d); (in && !under(dr, "proto") && !under(dr, "internal/wire")) || isGoml(d) {
					out = append(out, fmt.Sprintf("%s depends on %s: client uses only the generated API and internal/wire", r, d))
				}
			}
		case slices.ContainsFunc(serving, func(s string) bool { return under(r, s) }) && !under(r, "classifier/training"):
			for _, d := range p.Deps {
				if dr, in := rel(d); (in && under(dr, "classifier/training")) || isGoml(d) {
					out = append(out, fmt.Sprintf("%s depends on %s: what serves never links training code or goml", r, d))
				}
			}
		}
	}
	return out
}

// listModule runs `go list -deps -json ./...` at the module root.
func listModule(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps -json ./...: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func TestImportRules(t *testing.T) {
	pkgs := listModule(t)
	var mine []string
	for _, p := range pkgs {
		if r, ok := rel(p.ImportPath); ok {
			mine = append(mine, r)
		}
	}
	// The packages the rules are about must be there, or the test checks nothing.
	for _, want := range []string{"classifier", "classifier/training", "server", "client", "cmd/topicd", "cmd/topicctl", "models"} {
		if !slices.Contains(mine, want) {
			t.Fatalf("go list lists no package %s among %v", want, mine)
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestServingLinksNoGoml is the check by hand: what `go list -deps ./cmd/topicd ./server ./client`
// prints holds no goml package, and training does use goml (else the check is empty).
func TestServingLinksNoGoml(t *testing.T) {
	for _, c := range []struct {
		pkgs     []string
		wantGoml bool
	}{
		{[]string{"./cmd/topicd", "./server", "./client"}, false},
		{[]string{"./classifier/training"}, true},
	} {
		cmd := exec.Command("go", append([]string{"list", "-deps"}, c.pkgs...)...)
		cmd.Dir = "../.."
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", c.pkgs, err)
		}
		if got := strings.Contains(string(out), goml); got != c.wantGoml {
			t.Errorf("go list -deps %v lists goml: %v, want %v", c.pkgs, got, c.wantGoml)
		}
	}
}

// TestViolationsCatch feeds the rules import graphs that break them, so a rule that can no longer
// fail shows up here.
func TestViolationsCatch(t *testing.T) {
	m := func(r string) string { return module + "/" + r }
	tests := []struct {
		name string
		pkgs []pkg
		want string
	}{
		{"client imports classifier", []pkg{{ImportPath: m("client"), Imports: []string{m("classifier")}, Deps: []string{m("classifier")}}}, "client uses only"},
		{"client imports server", []pkg{{ImportPath: m("client"), Imports: []string{m("server")}, Deps: []string{m("server")}}}, "client uses only"},
		{"client links goml", []pkg{{ImportPath: m("client"), Imports: []string{m("proto/topicd/v1")}, Deps: []string{goml + "/text"}}}, "client uses only"},
		{"server imports goml", []pkg{{ImportPath: m("server"), Imports: []string{goml + "/text"}}}, "only classifier/training may import goml"},
		{"models imports goml", []pkg{{ImportPath: m("models"), Imports: []string{goml + "/base"}}}, "only classifier/training may import goml"},
		{"server links training", []pkg{{ImportPath: m("server"), Imports: []string{m("report")}, Deps: []string{m("report"), m("classifier/training")}}}, "never links training"},
		{"topicd imports training", []pkg{{ImportPath: m("cmd/topicd"), Imports: []string{m("classifier/training")}, Deps: []string{m("classifier/training")}}}, "never links training"},
		{"classifier imports server", []pkg{{ImportPath: m("classifier"), Imports: []string{m("server")}}}, "higher layer"},
		{"classifier imports training", []pkg{{ImportPath: m("classifier"), Imports: []string{m("classifier/training")}}}, "higher layer"},
		{"classifier imports a module", []pkg{{ImportPath: m("classifier"), Imports: []string{"golang.org/x/text/unicode/norm"}}}, "standard library only"},
		{"training imports server", []pkg{{ImportPath: m("classifier/training"), Imports: []string{m("server")}}}, "higher layer"},
		{"proto imports classifier", []pkg{{ImportPath: m("proto/topicd/v1"), Imports: []string{m("classifier")}}}, "higher layer"},
		{"wire imports client", []pkg{{ImportPath: m("internal/wire"), Imports: []string{m("client")}}}, "higher layer"},
		{"server imports a program", []pkg{{ImportPath: m("server"), Imports: []string{m("cmd/topicd")}}}, "nothing imports a program"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := violations(tt.pkgs)
			if !slices.ContainsFunc(got, func(v string) bool { return strings.Contains(v, tt.want) }) {
				t.Errorf("violations(%s) = %q, want one saying %q", tt.name, got, tt.want)
			}
		})
	}
	ok := []pkg{
		{ImportPath: m("classifier/training"), Imports: []string{m("classifier"), goml + "/text", "fmt"}, Deps: []string{m("classifier"), goml + "/text"}},
		{ImportPath: m("server"), Imports: []string{m("classifier"), m("internal/wire"), m("proto/topicd/v1")}, Deps: []string{m("classifier")}},
		{ImportPath: m("client"), Imports: []string{m("internal/wire"), m("proto/topicd/v1")}, Deps: []string{m("internal/wire"), m("proto/topicd/v1")}},
		{ImportPath: m("cmd/topicctl"), Imports: []string{m("classifier/training"), m("client")}},
	}
	if got := violations(ok); len(got) != 0 {
		t.Errorf("violations of a graph that keeps the rules = %q, want none", got)
	}
}
