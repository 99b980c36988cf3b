package buildpack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// goTestRun opens dir (a fixture under testdata, or a temporary tree) and
// runs detectGo on it.
func goTestRun(t *testing.T, dir string) (*Plan, error) {
	t.Helper()
	a, err := openAppFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	return detectGo(a)
}

// goTestEvidence renders evidence as the strings a user reads.
func goTestEvidence(evs []Evidence) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.String()
	}
	return out
}

// TestDetectGo runs detectGo on the Go fixtures that make a plan.
func TestDetectGo(t *testing.T) {
	tests := []struct {
		dir      string
		web      string
		webWhy   string
		build    Step
		evidence []string
		notes    []string // substrings, one per note, in order
	}{
		{
			// main.go is package main; main_test.go, _old.go, gen.go
			// (//go:build ignore, package other) and tools.go (a tag
			// other than ignore, package tools) do not change that.
			dir:    "go-root",
			web:    "bin/hello",
			webWhy: "main.go:2: package main",
			build:  Step{Command: "go build -o bin/hello .", Creates: "bin/hello"},
			evidence: []string{
				"go.mod:1: declares module example.com/hello/v2",
				"main.go:2: package main",
			},
			notes: []string{"corral start builds bin/hello when it is missing and the app has no Procfile; corral build always rebuilds it"},
		},
		{
			dir:    "go-cmd-single",
			web:    "bin/api",
			webWhy: "cmd/api/main.go:1: package main",
			build:  Step{Command: "go build -o bin/api ./cmd/api", Creates: "bin/api"},
			evidence: []string{
				"go.mod:2: declares module github.com/acme/orders",
				"cmd/api/main.go:1: package main",
			},
			notes: []string{"corral start builds bin/api"},
		},
		{
			dir:    "go-cmd-web",
			web:    "bin/web",
			webWhy: "cmd/web/main.go:2: package main",
			build:  Step{Command: "go build -o bin/web ./cmd/web", Creates: "bin/web"},
			evidence: []string{
				"go.mod:1: declares module example.com/shop",
				"cmd/web/main.go:2: package main",
			},
			notes: []string{"corral start builds bin/web", "cmd/migrate also holds a main package; corral runs cmd/web as web"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p, err := goTestRun(t, filepath.Join("testdata", tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			if p.Kind != Go || p.Title != "Go" {
				t.Errorf("kind %q, title %q; want go, Go", p.Kind, p.Title)
			}
			if len(p.Processes) != 1 || p.Processes[0].Type != "web" || p.Processes[0].Command != tt.web {
				t.Errorf("processes %+v; want only web: %s", p.Processes, tt.web)
			} else if got := p.Processes[0].Why.String(); got != tt.webWhy {
				t.Errorf("web's evidence %q; want %q", got, tt.webWhy)
			}
			if p.Release != nil || p.Static != nil {
				t.Errorf("release %+v, static %+v; want none", p.Release, p.Static)
			}
			if len(p.Build) != 1 || p.Build[0].Command != tt.build.Command || p.Build[0].Creates != tt.build.Creates {
				t.Errorf("build %+v; want %+v", p.Build, tt.build)
			}
			if got := goTestEvidence(p.Evidence); !slices.Equal(got, tt.evidence) {
				t.Errorf("evidence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.evidence, "\n"))
			}
			if len(p.Notes) != len(tt.notes) {
				t.Fatalf("notes %q; want %d", p.Notes, len(tt.notes))
			}
			for i, want := range tt.notes {
				if !strings.Contains(p.Notes[i], want) {
					t.Errorf("note %d is %q; want it to contain %q", i, p.Notes[i], want)
				}
			}
		})
	}
}

// TestDetectGoErrors runs detectGo on the Go fixtures it refuses.
func TestDetectGoErrors(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // substrings of the error
	}{
		{"go-cmd-many", []string{
			"buildpack: go.mod: module example.com/tools has main packages in cmd/a, cmd/b, and none is named web or server",
			"Procfile", `"web: bin/a"`, `go build -o bin/ ./cmd/...`,
		}},
		{"go-no-main", []string{"buildpack: go.mod: module example.com/lib has no main package at the root or in cmd/*"}},
		{"go-bad-gomod", []string{"buildpack: go.mod: no module directive"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			p, err := goTestRun(t, filepath.Join("testdata", tt.dir))
			if err == nil {
				t.Fatalf("plan %+v; want an error", p)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q; want it to contain %q", err, want)
				}
			}
		})
	}
}

// TestDetectGoCases covers what the fixtures do not, on small trees
// written by the test.
func TestDetectGoCases(t *testing.T) {
	const mod = "module example.com/app\n"
	const main = "package main\n\nfunc main() {}\n"
	tests := []struct {
		name    string
		files   map[string]string
		web     string // "" when no plan
		build   string
		wantErr string
		note    string // a substring of some note
	}{
		{name: "no go.mod", files: map[string]string{"main.go": main}},
		{
			name:  "module v1 keeps its name",
			files: map[string]string{"go.mod": "module example.com/v1\n", "main.go": main},
			web:   "bin/v1", build: "go build -o bin/v1 .",
		},
		{
			name:  "a bare major version",
			files: map[string]string{"go.mod": "module v2\n", "main.go": main},
			web:   "bin/v2", build: "go build -o bin/v2 .",
		},
		{
			name:  "gopkg.in keeps its suffix",
			files: map[string]string{"go.mod": "module gopkg.in/app.v3\n", "main.go": main},
			web:   "bin/app.v3",
		},
		{
			name: "root main wins over cmd",
			files: map[string]string{
				"go.mod": mod, "main.go": main, "cmd/tool/main.go": main,
			},
			web: "bin/app", build: "go build -o bin/app .", note: "cmd/tool also holds a main package",
		},
		{
			name: "server is picked like web",
			files: map[string]string{
				"go.mod": mod, "cmd/server/main.go": main, "cmd/seed/main.go": main,
			},
			web: "bin/server", build: "go build -o bin/server ./cmd/server", note: "cmd/seed also",
		},
		{
			name: "web and server both",
			files: map[string]string{
				"go.mod": mod, "cmd/server/main.go": main, "cmd/web/main.go": main,
			},
			wantErr: "main packages in cmd/server, cmd/web, and both cmd/web and cmd/server exist",
		},
		{
			name: "cmd dirs go build skips",
			files: map[string]string{
				"go.mod": mod, "cmd/api/main.go": main, "cmd/_old/main.go": main,
				"cmd/.hidden/main.go": main, "cmd/testdata/main.go": main, "cmd/my app/main.go": main,
				"cmd/lib/lib.go": "package lib\n", "cmd/README.md": "# tools\n",
			},
			web: "bin/api", build: "go build -o bin/api ./cmd/api",
		},
		{
			name:    "cmd is a file",
			files:   map[string]string{"go.mod": mod, "cmd": "not a dir\n", "lib.go": "package lib\n"},
			wantErr: "no main package at the root or in cmd/*",
		},
		{
			name: "only a generator is package main",
			files: map[string]string{
				"go.mod": mod, "lib.go": "package lib\n",
				"gen.go": "// Generate tables.\n\n//go:build ignore\n\npackage main\n",
			},
			wantErr: "no main package",
		},
		{
			name: "a +build ignore line counts",
			files: map[string]string{
				"go.mod": mod, "lib.go": "package lib\n",
				"gen.go": "// +build ignore\n\npackage main\n",
			},
			wantErr: "no main package",
		},
		{
			name: "!ignore builds",
			files: map[string]string{
				"go.mod": mod, "main.go": "//go:build !ignore\n\npackage main\n",
			},
			web: "bin/app",
		},
		{
			name: "main only for some OS",
			files: map[string]string{
				"go.mod": mod, "main_linux.go": "//go:build linux\n\npackage main\n",
				"main_other.go": "//go:build !linux\n\npackage main\n",
			},
			web: "bin/app",
		},
		{
			name: "two packages in one directory",
			files: map[string]string{
				"go.mod": mod, "main.go": main, "util.go": "\n\npackage util\n",
			},
			wantErr: "buildpack: util.go:3: package util, but main.go:1 is package main",
		},
		{
			name:    "a syntax error in a package clause",
			files:   map[string]string{"go.mod": mod, "main.go": "// x\npackage 42\n"},
			wantErr: "buildpack: main.go:2:9: expected 'IDENT', found 42",
		},
		{
			name:    "a broken go:build line",
			files:   map[string]string{"go.mod": mod, "main.go": "//go:build linux &&\n\npackage main\n"},
			wantErr: "buildpack: main.go:1:1: invalid //go:build line",
		},
		{
			name:  "a directory named x.go",
			files: map[string]string{"go.mod": mod, "x.go/README": "odd\n", "main.go": main},
			web:   "bin/app",
		},
		{
			name:    "go.mod's module path is malformed",
			files:   map[string]string{"go.mod": "module ex$mple\n", "main.go": main},
			wantErr: `buildpack: go.mod:1:8: malformed module path "ex$mple": invalid char '$'`,
		},
		{
			name:    "a module block",
			files:   map[string]string{"go.mod": "module (\n\texample.com/blk\n)\n", "main.go": main},
			web:     "bin/blk",
			build:   "go build -o bin/blk .",
			wantErr: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := goTestRun(t, testTree(t, tt.files))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.web == "" {
				if p != nil {
					t.Fatalf("plan %+v; want none", p)
				}
				return
			}
			if p == nil {
				t.Fatal("no plan")
			}
			if web, _ := p.Web(); web.Command != tt.web {
				t.Errorf("web %q; want %q", web.Command, tt.web)
			}
			if tt.build != "" && (len(p.Build) != 1 || p.Build[0].Command != tt.build) {
				t.Errorf("build %+v; want %q", p.Build, tt.build)
			}
			if tt.note != "" && !slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes %q; want one containing %q", p.Notes, tt.note)
			}
		})
	}
}

// TestDetectGoLinks checks that the Go files are read through appFiles: a
// link inside the app is followed, one out of it is an error naming it.
func TestDetectGoLinks(t *testing.T) {
	dir := testTree(t, map[string]string{"go.mod": "module example.com/app\n", "src/real.go": "package main\n"})
	if err := os.Symlink("src/real.go", filepath.Join(dir, "main.go")); err != nil {
		t.Fatal(err)
	}
	p, err := goTestRun(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	if web, _ := p.Web(); web.Command != "bin/app" || p.Evidence[1].String() != "main.go:1: package main" {
		t.Errorf("web %q, evidence %q", web.Command, goTestEvidence(p.Evidence))
	}

	outside := testTree(t, map[string]string{"main.go": "package main\n"})
	if err := os.Symlink(filepath.Join(outside, "main.go"), filepath.Join(dir, "z.go")); err != nil {
		t.Fatal(err)
	}
	_, err = goTestRun(t, dir)
	if err == nil || !strings.Contains(err.Error(), "buildpack: z.go: a symbolic link out of the app directory") {
		t.Errorf("error %v; want one naming z.go as a link out of the app", err)
	}
}

// TestParseGoModModule checks the module line read through modfile, which
// the go command reads a main module's go.mod with: it accepts and refuses
// what go build does, in its words.
func TestParseGoModModule(t *testing.T) {
	tests := []struct {
		src     string
		path    string
		line    int
		wantErr string
	}{
		{src: "module example.com/m\n", path: "example.com/m", line: 1},
		{src: "module example.com/m", path: "example.com/m", line: 1},
		{src: "// comment\n\nmodule   example.com/m  // trailing\r\n\ngo 1.22\n", path: "example.com/m", line: 3},
		{src: "module example.com/m// no space\n", path: "example.com/m", line: 1},
		{src: "module a//b\n", path: "a", line: 1}, // as go reads it: a, then a comment
		{src: "module \"example.com/q\"\n", path: "example.com/q", line: 1},
		{src: `module "a\u0041"` + "\n", path: "aA", line: 1},
		{src: "\tmodule\texample.com/tab\n", path: "example.com/tab", line: 1},
		{src: "module (\n\t// the path\n\texample.com/blk\n)\n", path: "example.com/blk", line: 3},
		{src: "module ( // c\n\n\texample.com/blk // c\n) // c\n", path: "example.com/blk", line: 3},
		{src: "require (\n\tmodule v1.0.0\n)\nmodule example.com/m\n", path: "example.com/m", line: 4},
		{src: "require ( )\nmodule example.com/m\n", path: "example.com/m", line: 2},
		{src: "require (\n)\nmodule example.com/m\n", path: "example.com/m", line: 3},
		{src: "go 1.22\nmodule a.b/c+d~e_f-g.h\n", path: "a.b/c+d~e_f-g.h", line: 2},
		{src: "module example.com/x\nfoo ( bar\n", wantErr: "buildpack: go.mod:2:1: unknown directive: foo"},
		{src: "replace example.com/a => ../a // module x\nmodule m\n", path: "m", line: 2},

		{src: "", wantErr: "buildpack: go.mod: no module directive"},
		{src: "go 1.22\n// module example.com/m\n", wantErr: "buildpack: go.mod: no module directive"},
		{src: "\"module\" example.com/m\n", wantErr: `buildpack: go.mod:1:1: unknown directive: "module"`},
		{src: "module ( )\n", wantErr: "buildpack: go.mod: no module directive"},
		{src: "module\n", wantErr: "buildpack: go.mod:1:1: usage: module module/path"},
		{src: "module my app\n", wantErr: "buildpack: go.mod:1:1: usage: module module/path"},
		{src: "module foo(bar)\n", wantErr: "go.mod:1:1: usage: module module/path"},
		{src: "module a\nmodule b\n", wantErr: "buildpack: go.mod:2:1: repeated module statement"},
		{src: "module (\n\ta\n\tb\n)\n", wantErr: "buildpack: go.mod:3:2: repeated module statement"},
		{src: "module x (\n\ta\n)\n", wantErr: "buildpack: go.mod:1:1: unknown block type: module x"},
		{src: "module (\n\ta\n", wantErr: "buildpack: go.mod:3:1: syntax error (unterminated block started at go.mod:1:1)"},
		{src: "require (\n\ta v1\n", wantErr: "buildpack: go.mod:3:1: syntax error (unterminated block started at go.mod:1:1)"},
		{src: "module (\n\ta\n) x\n", wantErr: "buildpack: go.mod:3:4: syntax error (expected newline after closing paren)"},
		{src: "module `example.com/raw`\n", wantErr: "buildpack: go.mod:1:1: invalid quoted string: unquoted string cannot contain quote"},
		{src: "module foo\"bar\n", wantErr: "go.mod:1:1: invalid quoted string: unquoted string cannot contain quote"},
		{src: "module \"a\\q\"\n", wantErr: "buildpack: go.mod:1:1: invalid quoted string: invalid syntax"},
		{src: "module \"abc\n", wantErr: "buildpack: go.mod:1:12: unexpected newline in string"},
		{src: "module \"abc", wantErr: "buildpack: go.mod:1:8: unexpected EOF in string"},
		{src: "module \"a\\\nb\"\n", wantErr: "buildpack: go.mod:1:1: invalid quoted string"},
		{src: "module x /* c */\n", wantErr: "buildpack: go.mod:1:10: mod files must use // comments (not /* */ comments)"},
		{src: "module x/* c */\n", wantErr: "buildpack: go.mod:1:9: mod files must use // comments"},
		{src: "\ufeffmodule x\n", wantErr: "buildpack: go.mod:1:1: unexpected input character '\\ufeff'"},
		{src: "module x\x00\n", wantErr: "buildpack: go.mod:1:9: unexpected input character '\\x00'"},
		{src: "go 1.22\n\nmodule x\u00a0y\n", wantErr: "buildpack: go.mod:3:9: unexpected input character '\\u00a0'"},
		{src: "module ex$mple\n", wantErr: `buildpack: go.mod:1:8: malformed module path "ex$mple": invalid char '$'`},
		{src: "module \"\"\n", wantErr: `buildpack: go.mod:1:8: malformed module path "": empty string`},
		{src: "module example.com/x/\n", wantErr: "trailing slash"},
		{src: "module -x\n", wantErr: "leading dash"},
		{src: "module \"a//b\"\n", wantErr: "double slash"},
		{src: "module foo/../bar\n", wantErr: `invalid path element ".."`},
		{src: "module foo./bar\n", wantErr: "trailing dot in path element"},
		{src: "module caf\xc3\n", wantErr: "invalid UTF-8"},
		{src: "module \"my app\"\n", wantErr: `invalid char ' '`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.src), func(t *testing.T) {
			mod, err := parseGoModModule([]byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", mod, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if mod.path != tt.path || mod.line != tt.line {
				t.Errorf("got %q at line %d; want %q at line %d", mod.path, mod.line, tt.path, tt.line)
			}
		})
	}
}

// TestGoExecName checks binary names against cmd/go's DefaultExecName.
func TestGoExecName(t *testing.T) {
	for path, want := range map[string]string{
		"example.com/hello":     "hello",
		"example.com/hello/v2":  "hello",
		"example.com/hello/v10": "hello",
		"example.com/hello/v1":  "v1",
		"example.com/hello/v0":  "v0",
		"example.com/hello/v02": "v02",
		"example.com/hello/v2x": "v2x",
		"v2":                    "v2",
		"hello":                 "hello",
		"gopkg.in/yaml.v3":      "yaml.v3",
	} {
		if got := goExecName(path); got != want {
			t.Errorf("goExecName(%q) = %q; want %q", path, got, want)
		}
	}
}

// FuzzGoModModule checks parseGoModModule on any input: every error names
// go.mod and a line and column inside the input (or says there is no
// module directive), a path it returns is one cmd/go accepts and appears on
// the line it names, and a comment line added on top moves the answer down
// one line and changes nothing else.
func FuzzGoModModule(f *testing.F) {
	pos := regexp.MustCompile(`^buildpack: go\.mod:(\d+):(\d+): `)
	for _, seed := range []string{
		"module example.com/m\n\ngo 1.22\n",
		"// c\nmodule \"example.com/q\" // c\r\n",
		"module (\n\texample.com/blk\n)\n",
		"require (\n\tmodule v1.0.0\n)\nmodule m\n",
		"module a\nmodule b\n",
		"module `raw`\n",
		"module \"a\\\nb\"\n",
		"module x /* c */\n",
		"module ex$mple\n",
		"module (\n\ta\n",
		"require ( )\nmodule x\n",
		"module x ( ) y\n",
		"\ufeffmodule x\n",
		"module caf\xc3\n",
		"go 1.22\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := strings.Count(string(src), "\n") + 1
		mod, err := parseGoModModule(src)
		shifted, err2 := parseGoModModule(append([]byte("// added\n"), src...))
		if (err == nil) != (err2 == nil) {
			t.Fatalf("a comment line on top changed the outcome: %v, then %v", err, err2)
		}
		if err != nil {
			msg := err.Error()
			if msg == "buildpack: go.mod: no module directive" {
				if err2.Error() != msg {
					t.Fatalf("with a comment line on top: %v", err2)
				}
				return
			}
			m := pos.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("error %q names no go.mod:line:column", msg)
			}
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			if line < 1 || line > lines || col < 1 {
				t.Fatalf("error %q: line %d of %d, column %d", msg, line, lines, col)
			}
			want := fmt.Sprintf("buildpack: go.mod:%d:", line+1)
			if !strings.HasPrefix(err2.Error(), want) {
				t.Fatalf("error %q; with a comment line on top %q, want %q…", msg, err2, want)
			}
			return
		}
		if err := module.CheckImportPath(mod.path); err != nil {
			t.Fatalf("path %q accepted: %v", mod.path, err)
		}
		if mod.line < 1 || mod.line > lines {
			t.Fatalf("line %d of %d", mod.line, lines)
		}
		text := strings.Split(string(src), "\n")[mod.line-1]
		if !strings.Contains(text, mod.path) && !strings.Contains(text, `"`) {
			t.Fatalf("line %d, %q, does not hold the path %q", mod.line, text, mod.path)
		}
		if shifted.path != mod.path || shifted.line != mod.line+1 {
			t.Fatalf("%+v; with a comment line on top %+v", mod, shifted)
		}
		if again, err := parseGoModModule(fmt.Appendf(nil, "module %s\n", mod.path)); err != nil || again.path != mod.path {
			t.Fatalf("module %s: %+v, %v", mod.path, again, err)
		}
		if name := goExecName(mod.path); name == "" || goCheckElem(name) != nil {
			t.Fatalf("module %s makes binary %q", mod.path, name)
		}
	})
}
