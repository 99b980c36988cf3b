package buildpack

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/procfile"
)

// detectTestRun runs Detect with a deadline, so a loop that hangs fails
// the test rather than the whole run.
func detectTestRun(t *testing.T, dir string) (*Plan, error) {
	t.Helper()
	type result struct {
		p   *Plan
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := Detect(dir)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("Detect(%s) did not return in 10 s", dir)
		return nil, nil
	}
}

// TestDetectNotFound checks the error for a directory with nothing corral
// knows: it lists what was looked for and how to write a Procfile.
func TestDetectNotFound(t *testing.T) {
	for name, dir := range map[string]string{
		"empty":       t.TempDir(),
		"none-readme": filepath.Join("testdata", "none-readme"),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := detectTestRun(t, dir)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("plan %+v, error %v; want a *NotFoundError", p, err)
			}
			if nf.Dir != dir || nf.Assets != nil {
				t.Errorf("NotFoundError %+v; want Dir %s and no assets", nf, dir)
			}
			msg := err.Error()
			for _, want := range []string{
				dir + ": no Procfile, and no app corral knows how to run. Looked for:",
				"manage.py", "package.json with a start script", "config.ru",
				"go.mod with a main package", "index.html at the root",
				"Write a Procfile in the app directory", "web: ", "$PORT",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error lacks %q:\n%s", want, msg)
				}
			}
		})
	}
}

// TestDetectAmbiguous checks that a Go server beside a Node one is an
// error naming both, with their evidence: corral will not pick one.
func TestDetectAmbiguous(t *testing.T) {
	dir := filepath.Join("testdata", "ambiguous-go-node")
	p, err := detectTestRun(t, dir)
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("plan %+v, error %v; want an *AmbiguousError", p, err)
	}
	var titles []string
	for _, c := range amb.Candidates {
		titles = append(titles, c.Title)
	}
	if len(titles) != 2 || !slices.Contains(titles, "Go") || !slices.ContainsFunc(titles, func(s string) bool { return strings.HasPrefix(s, "Node") }) {
		t.Errorf("candidates %q; want Go and Node", titles)
	}
	msg := err.Error()
	for _, want := range []string{
		dir + ": no Procfile, and more than one app corral could run:",
		"  - Go: web: bin/both\n",
		"      go.mod:1: declares module example.com/both\n",
		"      main.go:1: package main\n",
		"  - Node", "web: npm start", "package.json:4: scripts.start is",
		"Write a Procfile",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// TestDetectBrokenFiles checks what Detect says of a manifest it cannot
// read: the error names the file and says why, and nothing hangs or
// reads outside the app. Each case is tried on go.mod and package.json:
// the Go and Node detectors read them through appFiles alike.
func TestDetectBrokenFiles(t *testing.T) {
	other := t.TempDir()
	outside := filepath.Join(other, "manifest")
	if err := os.WriteFile(outside, []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	tests := []struct {
		name string
		make func(t *testing.T, dir, file string)
		want string // after "buildpack: <file>: "
		skip bool
	}{
		{
			name: "a symlink loop",
			make: func(t *testing.T, dir, file string) {
				detectTestLink(t, "a.json", filepath.Join(dir, file))
				detectTestLink(t, file, filepath.Join(dir, "a.json"))
			},
			want: "too many levels of symbolic links",
		},
		{
			name: "a symlink out of the app",
			make: func(t *testing.T, dir, file string) {
				detectTestLink(t, outside, filepath.Join(dir, file))
			},
			want: "a symbolic link out of the app directory",
		},
		{
			name: "a relative symlink up and out",
			make: func(t *testing.T, dir, file string) {
				rel, err := filepath.Rel(dir, outside)
				if err != nil {
					t.Fatal(err)
				}
				detectTestLink(t, rel, filepath.Join(dir, file))
			},
			want: "a symbolic link out of the app directory",
		},
		{
			name: "a directory",
			make: func(t *testing.T, dir, file string) {
				if err := os.Mkdir(filepath.Join(dir, file), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "not a regular file",
		},
		{
			name: "unreadable",
			make: func(t *testing.T, dir, file string) {
				p := filepath.Join(dir, file)
				if err := os.WriteFile(p, []byte("{}\n"), 0o000); err != nil {
					t.Fatal(err)
				}
			},
			want: "permission denied",
			skip: root, // root reads a file whatever its mode says
		},
		{
			name: "huge",
			make: func(t *testing.T, dir, file string) {
				big := bytes.Repeat([]byte(" "), maxFileSize+1)
				if err := os.WriteFile(filepath.Join(dir, file), big, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: strconv.Itoa(maxFileSize+1) + " bytes, more than the " + strconv.Itoa(maxFileSize) + " corral reads",
		},
	}
	for _, file := range []string{"go.mod", "package.json"} {
		for _, tt := range tests {
			t.Run(file+"/"+tt.name, func(t *testing.T) {
				if tt.skip {
					t.Skip("running as root, where file modes do not stop a read")
				}
				dir := t.TempDir()
				tt.make(t, dir, file)
				p, err := detectTestRun(t, dir)
				want := "buildpack: " + file + ": " + tt.want
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("plan %+v, error %v; want one containing %q", p, err, want)
				}
				var nf *NotFoundError
				if errors.As(err, &nf) {
					t.Errorf("error %v is a NotFoundError: the broken file was taken for no file", err)
				}
			})
		}
	}
}

// detectTestLink makes a symbolic link.
func detectTestLink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestDetectAppDir checks Detect on an app directory it cannot open.
func TestDetectAppDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, dir := range map[string]string{
		"missing":    filepath.Join(t.TempDir(), "nope"),
		"not a dir":  file,
		"empty name": "",
	} {
		t.Run(name, func(t *testing.T) {
			p, err := detectTestRun(t, dir)
			if err == nil || !strings.HasPrefix(err.Error(), "buildpack: app directory: ") {
				t.Fatalf("plan %+v, error %v; want a buildpack: app directory error", p, err)
			}
			if name == "missing" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v; want it to match fs.ErrNotExist", err)
			}
		})
	}
}

// TestDetectFixtures runs Detect, every detector at once, on the Go and
// static fixtures: no other detector claims them.
func TestDetectFixtures(t *testing.T) {
	for dir, want := range map[string]string{
		"go-root":       "go web: bin/hello",
		"go-cmd-single": "go web: bin/api",
		"go-cmd-web":    "go web: bin/web",
		"static-root":   "static /: .",
		"static-dist":   "static /: dist",
		"static-public": "static /: public",
	} {
		t.Run(dir, func(t *testing.T) {
			p, err := detectTestRun(t, filepath.Join("testdata", dir))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if web, ok := p.Web(); ok {
				got = string(p.Kind) + " web: " + web.Command
			} else if len(p.Static) == 1 {
				got = string(p.Kind) + " " + p.Static[0].Prefix + ": " + p.Static[0].Dir
			}
			if got != want {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
}

// TestAppFiles checks the file access every detector goes through: links
// inside the app are followed, a missing file is fs.ErrNotExist, and a
// listing is sorted.
func TestAppFiles(t *testing.T) {
	dir := testTree(t, map[string]string{
		"b.txt":        "b",
		"a.txt":        "a",
		"sub/c.txt":    "c",
		"exact.txt":    strings.Repeat("x", maxFileSize),
		"sub/dir/keep": "",
	})
	detectTestLink(t, "sub/c.txt", filepath.Join(dir, "link.txt"))
	detectTestLink(t, "sub", filepath.Join(dir, "linkdir"))
	detectTestLink(t, "nowhere", filepath.Join(dir, "dangling"))
	a, err := openAppFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	for name, want := range map[string]string{"a.txt": "a", "sub/c.txt": "c", "link.txt": "c", "linkdir/c.txt": "c"} {
		if b, err := a.read(name); err != nil || string(b) != want {
			t.Errorf("read(%s) = %q, %v; want %q", name, b, err, want)
		}
	}
	if b, err := a.read("exact.txt"); err != nil || len(b) != maxFileSize {
		t.Errorf("read(exact.txt): %d bytes, %v; want all %d", len(b), err, maxFileSize)
	}
	for _, name := range []string{"missing", "dangling", "sub/missing"} {
		if _, err := a.read(name); !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "buildpack: "+name+": ") {
			t.Errorf("read(%s): %v; want fs.ErrNotExist naming it", name, err)
		}
		if b, err := a.readOptional(name); b != nil || err != nil {
			t.Errorf("readOptional(%s) = %q, %v; want nil, nil", name, b, err)
		}
	}
	if _, err := a.readOptional("sub"); err == nil || !strings.Contains(err.Error(), "buildpack: sub: not a regular file") {
		t.Errorf("readOptional(sub): %v; want not a regular file", err)
	}
	for _, name := range []string{"../x", "/etc/hostname"} {
		if _, err := a.read(name); err == nil || !strings.Contains(err.Error(), "out of the app directory") {
			t.Errorf("read(%s): %v; want an error", name, err)
		}
	}

	for name, want := range map[string][2]bool{
		"a.txt": {true, false}, "link.txt": {true, false}, "sub": {false, true}, "linkdir": {false, true},
		"dangling": {false, false}, "missing": {false, false}, "../" + filepath.Base(dir): {false, false},
	} {
		if f, d := a.isFile(name), a.isDir(name); f != want[0] || d != want[1] {
			t.Errorf("isFile, isDir(%s) = %v, %v; want %v, %v", name, f, d, want[0], want[1])
		}
	}
	if fi, err := a.stat("link.txt"); err != nil || fi.Size() != 1 {
		t.Errorf("stat(link.txt) = %v, %v; want the linked file's", fi, err)
	}

	entries, err := a.list(".")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"a.txt", "b.txt", "dangling", "exact.txt", "link.txt", "linkdir", "sub"}; !slices.Equal(names, want) {
		t.Errorf("list(.) = %q; want %q", names, want)
	}
	if entries, err := a.list("missing"); entries != nil || err != nil {
		t.Errorf("list(missing) = %v, %v; want nil, nil", entries, err)
	}
	if entries, err := a.list("linkdir"); err != nil || len(entries) != 2 {
		t.Errorf("list(linkdir) = %v, %v; want c.txt and dir", entries, err)
	}
}

// TestPlanProcfile checks that what corral init would write for a plan is
// a Procfile corral reads back as the plan's own process types.
func TestPlanProcfile(t *testing.T) {
	plans := map[string]*Plan{}
	for _, dir := range []string{"go-root", "go-cmd-web"} {
		p, err := detectTestRun(t, filepath.Join("testdata", dir))
		if err != nil {
			t.Fatal(err)
		}
		plans[dir] = p
	}
	plans["release and workers"] = &Plan{
		Kind:  Django,
		Title: "Python (Django 5.0)",
		Evidence: []Evidence{
			{File: "manage.py", Line: 9, Says: `sets DJANGO_SETTINGS_MODULE to "mysite.settings"`},
			{File: "odd\nweb: name.py", Says: "a file name with a newline in it"},
			{Says: "no one file"},
		},
		Release: &Process{Type: "release", Command: "python manage.py migrate --noinput"},
		Processes: []Process{
			{Type: "web", Command: "gunicorn mysite.wsgi --bind 0.0.0.0:$PORT"},
			{Type: "worker", Command: "celery -A mysite worker # not a comment"},
			{Type: "clock-2", Command: "python clock.py"},
		},
		Build:  []Step{{Command: "python manage.py collectstatic --noinput\nrm -rf /"}},
		Static: []Mount{{Prefix: "/static/", Dir: "staticfiles", FromApp: true}},
	}
	for name, p := range plans {
		t.Run(name, func(t *testing.T) {
			text := p.Procfile()
			pf, err := procfile.Parse("Procfile", strings.NewReader(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			var got, want []string
			for _, e := range pf.Entries {
				got = append(got, e.Name+": "+e.Command)
			}
			for _, e := range p.Entries() {
				want = append(want, e.Type+": "+e.Command)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Procfile gives\n%s\nwant\n%s\nfrom:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), text)
			}
			if !strings.HasPrefix(text, "# "+p.Title+", detected by corral from:\n") {
				t.Errorf("Procfile does not start with the title:\n%s", text)
			}
		})
	}
}

// TestDetectUnreadManifest checks a manifest corral cannot read beside
// an app another file makes out: Detect runs that app, and a note says
// what it could not read and what it decided without it. With no other
// app, the manifest's error is Detect's, as it names what to fix.
func TestDetectUnreadManifest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		title string // "" for an error
		want  string // the note, or the error's start
	}{
		{"package.json beside a Flask app", map[string]string{
			"app.py":       "from flask import Flask\napp = Flask(__name__)\n",
			"package.json": "{\n  \"scripts\": {\"build\": \"vite build\",}\n}\n",
		}, "Python (Flask)", "package.json:2:37: invalid JSON: invalid character '}' looking for beginning of object key string: corral could not read package.json, and decided without it: no Node process, install or build step"},
		{"go.mod beside a Node app", map[string]string{
			"package.json": `{"scripts": {"start": "node server.js"}}`,
			"go.mod":       "module example.com/x\nfoo bar\n",
			"main.go":      "package main\n\nfunc main() {}\n",
		}, "Node (npm)", "go.mod:2:1: unknown directive: foo: corral could not read go.mod, and decided without it: no Go binary"},
		{"package.json alone", map[string]string{
			"package.json": "{\"scripts\": }",
		}, "", "buildpack: package.json:1:13: invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := detectTestRun(t, testTree(t, tc.files))
			if tc.title == "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
					t.Fatalf("plan %+v, error %v; want an error starting %q", p, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Title != tc.title || !slices.Contains(p.Notes, tc.want) {
				t.Errorf("plan %s with notes\n  %s\nwant %s with the note\n  %s", p.Title, strings.Join(p.Notes, "\n  "), tc.title, tc.want)
			}
		})
	}
}

// TestDetectBelow checks an app one or two directories down, with no app
// at the top: one is run from there (its Dir), several are an
// *AmbiguousError that names the --dir of each.
func TestDetectBelow(t *testing.T) {
	for _, tc := range []struct {
		dir, appDir, web string
	}{
		{"monorepo-backend", "backend", "uvicorn api.main:app --host ${HOST:-0.0.0.0} --port $PORT"},
		{"monorepo-services", "services/web", "gunicorn project:app --bind ${HOST:-0.0.0.0}:$PORT"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.dir)
			p, err := detectTestRun(t, dir)
			if err != nil {
				t.Fatal(err)
			}
			web, _ := p.Web()
			if p.Dir != tc.appDir || web.Command != tc.web {
				t.Errorf("plan in %q runs %q; want %q running %q", p.Dir, web.Command, tc.appDir, tc.web)
			}
			want := "no app at the top of " + dir + ": corral runs the one in " + tc.appDir + "/, every command there, as --dir " + tc.appDir + " would"
			if len(p.Notes) == 0 || p.Notes[0] != want {
				t.Errorf("notes %q; want the first to be %q", p.Notes, want)
			}
			for _, e := range p.Evidence {
				if strings.HasPrefix(e.File, tc.appDir) {
					t.Errorf("evidence %s is not relative to the app's directory", e)
				}
			}
		})
	}
	t.Run("monorepo-two", func(t *testing.T) {
		dir := filepath.Join("testdata", "monorepo-two")
		_, err := detectTestRun(t, dir)
		var amb *AmbiguousError
		if !errors.As(err, &amb) || len(amb.Candidates) != 2 {
			t.Fatalf("error %v; want an *AmbiguousError with two candidates", err)
		}
		for _, want := range []string{"- api/ (--dir api): Python (Flask): web: gunicorn app:app", "- web/ (--dir web): Node (npm): web: npm start", "point --dir at the app"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%s", want, err)
			}
		}
	})
	t.Run("below, unreadable", func(t *testing.T) {
		dir := testTree(t, map[string]string{
			"README.md":           "# x\n",
			"backend/manage.py":   "import django\n",
			"frontend/index.html": "<!doctype html>\n",
		})
		_, err := detectTestRun(t, dir)
		var nf *NotFoundError
		if !errors.As(err, &nf) || len(nf.Below) != 1 || !strings.Contains(err.Error(), "backend/: manage.py: Django's manage.py names no settings module") {
			t.Fatalf("error %v; want a NotFoundError naming backend/'s manage.py", err)
		}
	})
	t.Run("a link out of the app below", func(t *testing.T) {
		outside := testTree(t, map[string]string{"app.py": "from flask import Flask\napp = Flask(__name__)\n"})
		dir := t.TempDir()
		detectTestLink(t, outside, filepath.Join(dir, "backend"))
		p, err := detectTestRun(t, dir)
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("plan %+v, error %v; want a NotFoundError: the app behind the link is outside", p, err)
		}
	})
}

// TestDetectBelowDepsAbove checks the warning for a Python app below
// whose dependencies are declared at the top.
func TestDetectBelowDepsAbove(t *testing.T) {
	dir := testTree(t, map[string]string{
		"pyproject.toml":       "[tool.poetry]\nname = 'x'\n[tool.poetry.dependencies]\ndjango = '*'\ngunicorn = '*'\n",
		"backend/manage.py":    pyManage("site.settings"),
		"backend/site/wsgi.py": pyWSGI("site.settings"),
	})
	p, err := detectTestRun(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "the app in backend/ declares no dependencies, and pyproject.toml at the top does: corral installs nothing from there; install them in the platform's build, or give backend/ its own pyproject.toml"
	if p.Dir != "backend" || !slices.Contains(p.Warnings, want) {
		t.Errorf("plan in %q with warnings %q; want backend and %q", p.Dir, p.Warnings, want)
	}
}
