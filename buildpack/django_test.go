package buildpack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/environ"
)

// needDjango skips the test when python3 in env's PATH cannot import Django
// in dir, and fails it under CI, where .ci/run installs Debian's
// python3-django.
func needDjango(t *testing.T, dir string, env []string) {
	t.Helper()
	python, err := environ.LookPath("python3", env)
	if err == nil {
		cmd := exec.Command(python, "-B", "-c", "import django")
		cmd.Dir, cmd.Env = dir, env
		var out []byte
		if out, err = cmd.CombinedOutput(); err != nil {
			err = &exec.Error{Name: python + ": " + lastLine(string(out), ""), Err: err}
		}
	}
	if err != nil {
		if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("python3 with Django (Debian: python3-django) is needed: %v", err)
		}
		t.Skipf("no python3 with Django: %v", err)
	}
}

// djangoEnv is corral's environment, in which python3 can import Django for
// an app in a fresh directory. On a machine where pyenv puts its own python3
// first in PATH, that is Debian's, through PYENV_VERSION=system (the Django
// example says the same with a .python-version file).
func djangoEnv(t *testing.T) []string {
	t.Helper()
	env := os.Environ()
	probe := t.TempDir()
	if python, err := environ.LookPath("python3", env); err == nil {
		cmd := exec.Command(python, "-B", "-c", "import django")
		cmd.Dir, cmd.Env = probe, env
		if cmd.Run() != nil && !hasVar(env, "PYENV_VERSION") {
			env = append(env, "PYENV_VERSION=system")
		}
	}
	needDjango(t, probe, env)
	return env
}

// testTimeout is the time Python gets in tests: far more than the 10 s
// FindDjangoStatic allows, since the tests share a machine with other
// packages' tests and pyenv's shims make every start slower.
const testTimeout = time.Minute

func find(ctx context.Context, dir string, env []string) (*DjangoStatic, error) {
	return findDjangoStatic(ctx, dir, env, testTimeout, nil)
}

// testTree writes files (slash paths to contents) into a new temporary
// directory and returns it.
func testTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// writeFiles creates files under dir, making their directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const manageNaming = `import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
`

func TestFindDjangoStaticExample(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "examples", "django")
	env := os.Environ()
	needDjango(t, dir, env)
	got, err := find(context.Background(), dir, env)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := DjangoStatic{URL: "/static/", Root: filepath.Join(abs, "staticfiles"), SettingsModule: "mysite.settings"}
	if got == nil || *got != want {
		t.Fatalf("FindDjangoStatic(%s) = %+v, want %+v", dir, got, want)
	}
}

func TestFindDjangoStaticNotDjango(t *testing.T) {
	// PATH leads nowhere: a directory that is not a Django app must be
	// told apart from its files alone, without starting Python.
	env := []string{"PATH=" + t.TempDir()}
	for name, files := range map[string]map[string]string{
		"empty":                 {},
		"flask":                 {"app.py": "from flask import Flask\napp = Flask(__name__)\n", "Procfile": "web: gunicorn app:app\n"},
		"manage.py of another":  {"manage.py": "from flask.cli import main\nmain()\n"},
		"wsgi.py naming none":   {"app/wsgi.py": "from app import create_app\napplication = create_app()\n"},
		"setdefault in comment": {"app/wsgi.py": "# os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')\n"},
		"too deep":              {"src/app/wsgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')\n"},
		"wsgi.py a directory":   {"app/wsgi.py/x": ""},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, files)
			got, err := FindDjangoStatic(context.Background(), dir, env, nil)
			if got != nil || err != nil {
				t.Fatalf("FindDjangoStatic = %+v, %v; want nil, nil", got, err)
			}
		})
	}
	got, err := FindDjangoStatic(context.Background(), filepath.Join(t.TempDir(), "missing"), env, nil)
	if got != nil || err != nil {
		t.Fatalf("missing dir: FindDjangoStatic = %+v, %v; want nil, nil", got, err)
	}
}

func TestDetectDjango(t *testing.T) {
	for name, tc := range map[string]struct {
		files        map[string]string
		file, module string
	}{
		"manage.py": {map[string]string{"manage.py": manageNaming, "other/wsgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'other.settings')"}, "manage.py", "proj.settings"},
		"wsgi.py when manage.py names none": {map[string]string{
			"manage.py":    "from django.core.management import execute_from_command_line\n",
			"proj/asgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.asgi_settings')",
			"proj/wsgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')",
		}, "proj/wsgi.py", "proj.settings"},
		"wsgi.py before asgi.py": {map[string]string{
			"a/asgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings')",
			"b/wsgi.py": "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'b.settings')",
		}, "b/wsgi.py", "b.settings"},
		"asgi.py alone":         {map[string]string{"proj/asgi.py": "os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\",\"proj.settings\")"}, "proj/asgi.py", "proj.settings"},
		"manage.py naming none": {map[string]string{"manage.py": "# Django\nimport django\n"}, "manage.py", ""},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tc.files)
			app, err := detectDjango(dir)
			if err != nil {
				t.Fatal(err)
			}
			if app == nil || app.file != filepath.Join(dir, tc.file) || app.module != tc.module {
				t.Fatalf("detectDjango = %+v, want {%s %s}", app, tc.file, tc.module)
			}
		})
	}
}

func TestFindDjangoStaticNoModule(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"manage.py": "import django\n"})
	_, err := FindDjangoStatic(context.Background(), dir, []string{"PATH=" + t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "manage.py") || !strings.Contains(err.Error(), "DJANGO_SETTINGS_MODULE") {
		t.Fatalf("err = %v, want one naming manage.py and DJANGO_SETTINGS_MODULE", err)
	}
}

func TestFindDjangoStaticNoPython(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"manage.py": manageNaming})
	empty := t.TempDir()
	_, err := FindDjangoStatic(context.Background(), dir, []string{"PATH=relative/bin:" + empty}, nil)
	if err == nil || !strings.Contains(err.Error(), "python3 not found") || !strings.Contains(err.Error(), empty) {
		t.Fatalf("err = %v, want python3 not found in the app's PATH", err)
	}
}

func TestFindDjangoStaticSettings(t *testing.T) {
	t.Parallel()
	env := djangoEnv(t)
	const base = "SECRET_KEY = 'test'\n"
	for name, tc := range map[string]struct {
		settings string
		env      []string
		want     *DjangoStatic // Root relative to the app dir
		errs     []string      // what the error must say, if one is wanted
	}{
		"absolute": {
			settings: base + "STATIC_URL = '/assets/'\nSTATIC_ROOT = '/srv/static'\n",
			want:     &DjangoStatic{URL: "/assets/", Root: "/srv/static", SettingsModule: "proj.settings"},
		},
		"relative URL and root": {
			settings: base + "STATIC_URL = 'static'\nSTATIC_ROOT = 'collected'\n",
			want:     &DjangoStatic{URL: "/static/", Root: "collected", SettingsModule: "proj.settings"},
		},
		"pathlib root and noise": {
			settings: base + "import sys\nfrom pathlib import Path\nprint('loading settings'); print('{\"url\": \"/wrong/\"}')\nprint('to stderr', file=sys.stderr)\nSTATIC_URL = '/static/'\nSTATIC_ROOT = Path('/srv') / 'static'\nimport atexit\natexit.register(print, 'bye')\n",
			want:     &DjangoStatic{URL: "/static/", Root: "/srv/static", SettingsModule: "proj.settings"},
		},
		"DJANGO_SETTINGS_MODULE wins": {
			settings: "raise RuntimeError('the default must not be read')\n",
			env:      []string{"DJANGO_SETTINGS_MODULE=proj.other"},
			want:     &DjangoStatic{URL: "/other/", Root: "/srv/other", SettingsModule: "proj.other"},
		},
		"CDN": {
			settings: base + "STATIC_URL = 'https://cdn.example.com/static/'\nSTATIC_ROOT = '/srv/static'\n",
		},
		"protocol-relative CDN": {
			settings: base + "STATIC_URL = '//cdn.example.com/static/'\nSTATIC_ROOT = '/srv/static'\n",
		},
		"no STATIC_URL": {
			settings: base,
		},
		"no STATIC_ROOT": {
			settings: base + "STATIC_URL = '/static/'\n",
			errs:     []string{"manage.py", `"proj.settings"`, "STATIC_ROOT is not set"},
		},
		"STATIC_URL of the whole site": {
			settings: base + "STATIC_URL = '/'\nSTATIC_ROOT = '/srv/static'\n",
			errs:     []string{"manage.py", `"proj.settings"`, "every page"},
		},
		"broken settings": {
			settings: base + "import nonexistent_module_for_corral\n",
			errs:     []string{"manage.py", `"proj.settings"`, "ModuleNotFoundError: No module named 'nonexistent_module_for_corral'"},
		},
		"raising settings": {
			settings: base + "raise RuntimeError('settings are broken: DATABASE_URL is unset')\n",
			errs:     []string{"manage.py", `"proj.settings"`, "RuntimeError: settings are broken: DATABASE_URL is unset"},
		},
		"missing module from the environment": {
			settings: base,
			env:      []string{"DJANGO_SETTINGS_MODULE=proj.nope"},
			errs:     []string{"manage.py", `"proj.nope"`, "DJANGO_SETTINGS_MODULE in the environment", "ModuleNotFoundError"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"manage.py":        manageNaming,
				"proj/__init__.py": "",
				"proj/settings.py": tc.settings,
				"proj/other.py":    base + "STATIC_URL = '/other/'\nSTATIC_ROOT = '/srv/other'\n",
			})
			got, err := find(context.Background(), dir, append(append([]string(nil), env...), tc.env...))
			if tc.errs != nil {
				if err == nil {
					t.Fatalf("FindDjangoStatic = %+v, want an error", got)
				}
				for _, s := range tc.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want != nil && !filepath.IsAbs(want.Root) {
				w := *want
				w.Root = filepath.Join(dir, w.Root)
				want = &w
			}
			if (got == nil) != (want == nil) || (got != nil && *got != *want) {
				t.Fatalf("FindDjangoStatic = %+v, want %+v", got, want)
			}
			if _, err := os.Stat(filepath.Join(dir, "proj", "__pycache__")); err == nil {
				t.Error("detection wrote a __pycache__ into the app")
			}
		})
	}
}

func TestFindDjangoStaticWSGIOnly(t *testing.T) {
	t.Parallel()
	env := djangoEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"proj/__init__.py": "",
		"proj/wsgi.py":     "import os\nfrom django.core.wsgi import get_wsgi_application\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\napplication = get_wsgi_application()\n",
		"proj/settings.py": "STATIC_URL = '/s/'\nSTATIC_ROOT = '/srv/s'\n",
	})
	got, err := find(context.Background(), dir, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DjangoStatic{URL: "/s/", Root: "/srv/s", SettingsModule: "proj.settings"}); got == nil || *got != want {
		t.Fatalf("FindDjangoStatic = %+v, want %+v", got, want)
	}
}

func TestFindDjangoStaticHangingSettings(t *testing.T) {
	t.Parallel()
	env := djangoEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"manage.py":        manageNaming,
		"proj/__init__.py": "",
		// A child that keeps stdout open must not hold the call either.
		"proj/settings.py": "import subprocess, time\np = subprocess.Popen(['sleep', '30'])\nopen('child.pid', 'w').write(str(p.pid))\ntime.sleep(30)\n",
	})
	defer killPidFile(filepath.Join(dir, "child.pid"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := FindDjangoStatic(ctx, dir, env, nil)
	if err == nil || !strings.Contains(err.Error(), "no answer in time") || !strings.Contains(err.Error(), "proj.settings") {
		t.Fatalf("err = %v, want a timeout naming the settings", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v after a 1s deadline", d)
	}
}

func TestStaticPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"/static/": "/static/", "static/": "/static/", "static": "/static/", "/a/b": "/a/b/",
		"http://cdn/x/": "", "https://cdn.example.com/static/": "", "//cdn.example.com/s/": "",
		"/": "error", "": "error",
	} {
		got, local, err := staticPrefix(in)
		switch {
		case want == "error":
			if err == nil {
				t.Errorf("staticPrefix(%q) = %q, %v; want an error", in, got, local)
			}
		case err != nil || got != want || local != (want != ""):
			t.Errorf("staticPrefix(%q) = %q, %v, %v; want %q", in, got, local, err, want)
		}
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 8}
	for _, s := range []string{"abc", "defgh", "ij", "0123456789ABC"} {
		if n, err := tl.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := tl.String(); got != "56789ABC" {
		t.Fatalf("tail = %q", got)
	}
	if got := lastLine("a\n b \n\n", ""); got != "b" {
		t.Fatalf("lastLine = %q", got)
	}
	if got := lastLine("x: 1\ny\nx: 2\nz\n", "x:"); got != "x: 2" {
		t.Fatalf("lastLine with prefix = %q", got)
	}
}

func TestFindDjangoStaticChildHoldsOutput(t *testing.T) {
	t.Parallel()
	env := djangoEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"manage.py":        manageNaming,
		"proj/__init__.py": "",
		"proj/settings.py": "import subprocess\np = subprocess.Popen(['sleep', '30'])\nopen('child.pid', 'w').write(str(p.pid))\nSTATIC_URL = '/static/'\nSTATIC_ROOT = '/srv/static'\n",
	})
	defer killPidFile(filepath.Join(dir, "child.pid"))
	got, err := find(context.Background(), dir, env)
	if err != nil {
		t.Fatal(err)
	}
	if got == nil || got.URL != "/static/" || got.Root != "/srv/static" {
		t.Fatalf("FindDjangoStatic = %+v", got)
	}
}

// killPidFile kills the process whose pid a test's settings module wrote,
// so that no test leaves a process behind.
func killPidFile(name string) {
	if b, err := os.ReadFile(name); err == nil {
		if pid, err := strconv.Atoi(string(b)); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func hasVar(env []string, key string) bool {
	v, _ := environ.Lookup(env, key)
	return v != ""
}
