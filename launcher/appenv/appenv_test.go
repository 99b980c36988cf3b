package appenv

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/environ"
)

// appDir writes files (slash paths; a name ending in / is a directory)
// into a new temporary directory.
func appDir(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestWithPath: the app's virtualenv, its Node packages' commands and its
// own bin/ go first in PATH, in that order, each only when it exists;
// VIRTUAL_ENV names the virtualenv put there, and one named already keeps
// .venv out.
func TestWithPath(t *testing.T) {
	all := appDir(t, ".venv/bin/python", "node_modules/.bin/next", "bin/go-getting-started")
	for _, tt := range []struct {
		name     string
		dir      string
		env      []string
		wantPath string // with D for the app directory
		wantVenv string // VIRTUAL_ENV's value, "" for none
	}{
		{"all three, in order", all, []string{"PATH=/usr/bin:/bin", "HOME=/root"}, "D/.venv/bin:D/node_modules/.bin:D/bin:/usr/bin:/bin", "D/.venv"},
		{"bin/ alone", appDir(t, "bin/"), []string{"PATH=/usr/bin"}, "D/bin:/usr/bin", ""},
		{"node_modules/.bin alone", appDir(t, "node_modules/.bin/"), []string{"PATH=/usr/bin"}, "D/node_modules/.bin:/usr/bin", ""},
		{"a .venv without python is none", appDir(t, ".venv/bin/", "bin/"), []string{"PATH=/usr/bin"}, "D/bin:/usr/bin", ""},
		{"a file named bin is no directory", appDir(t, "bin"), []string{"PATH=/usr/bin"}, "/usr/bin", ""},
		{"no PATH: the default search path after them", appDir(t, "bin/"), []string{"HOME=/root"}, "D/bin:" + environ.DefaultPath, ""},
		{"VIRTUAL_ENV set: .venv left out, the others in", all, []string{"PATH=/usr/bin", "VIRTUAL_ENV=/opt/venv"}, "D/node_modules/.bin:D/bin:/usr/bin", "/opt/venv"},
		{"nothing: env as it is", t.TempDir(), []string{"PATH=/usr/bin"}, "/usr/bin", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := WithPath(tt.dir, tt.env)
			want := strings.ReplaceAll(tt.wantPath, "D/", tt.dir+"/")
			if path, _ := environ.Lookup(env, "PATH"); path != want {
				t.Errorf("PATH %q, want %q", path, want)
			}
			if venv, _ := environ.Lookup(env, "VIRTUAL_ENV"); venv != strings.ReplaceAll(tt.wantVenv, "D/", tt.dir+"/") {
				t.Errorf("VIRTUAL_ENV %q, want %q", venv, tt.wantVenv)
			}
			for _, key := range []string{"PATH=", "VIRTUAL_ENV="} {
				if n := len(slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return !strings.HasPrefix(kv, key) })); n > 1 {
					t.Errorf("%d %s entries: %q", n, key, env)
				}
			}
			if slices.Contains(tt.env, "HOME=/root") != slices.Contains(env, "HOME=/root") {
				t.Errorf("other variables lost: %q", env)
			}
		})
	}
}

// TestFiles: with no -e, .env is read off a platform and left unread on
// one; files named are read wherever corral runs.
func TestFiles(t *testing.T) {
	withDotenv := appDir(t, ".env")
	for _, tt := range []struct {
		name        string
		dir         string
		named       []string
		onPlatform  bool
		want        []string // relative to dir
		wantIgnored string
	}{
		{"laptop: .env", withDotenv, nil, false, []string{".env"}, ""},
		{"platform: .env not read", withDotenv, nil, true, nil, ".env"},
		{"platform, -e .env: read", withDotenv, []string{".env"}, true, []string{".env"}, ""},
		{"platform, -e prod.env", withDotenv, []string{"prod.env"}, true, []string{"prod.env"}, ""},
		{"no .env", t.TempDir(), nil, true, nil, ""},
		{"laptop, -e a -e /abs", withDotenv, []string{"a.env", "/etc/app.env"}, false, []string{"a.env", "/etc/app.env"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files, ignored := Files(tt.dir, tt.named, tt.onPlatform)
			var want []string
			for _, f := range tt.want {
				if !filepath.IsAbs(f) {
					f = filepath.Join(tt.dir, f)
				}
				want = append(want, f)
			}
			if !slices.Equal(files, want) {
				t.Errorf("files %q, want %q", files, want)
			}
			if wantIgnored := tt.wantIgnored; wantIgnored != "" {
				wantIgnored = filepath.Join(tt.dir, wantIgnored)
				if ignored != wantIgnored {
					t.Errorf("ignored %q, want %q", ignored, wantIgnored)
				}
			} else if ignored != "" {
				t.Errorf("ignored %q, want none", ignored)
			}
		})
	}
}

// TestDefault: a production default is set unless the app's environment
// sets the variable, even empty.
func TestDefault(t *testing.T) {
	rails := []buildpack.Var{{Name: "RAILS_ENV", Value: "production"}, {Name: "RACK_ENV", Value: "production"}, {Name: "RAILS_LOG_TO_STDOUT", Value: "enabled"}}
	for _, tt := range []struct {
		name     string
		env      []string
		vars     []buildpack.Var
		wantSet  []string
		wantKept []string
	}{
		{"none set", []string{"PATH=/bin"}, rails, []string{"RAILS_ENV=production", "RACK_ENV=production", "RAILS_LOG_TO_STDOUT=enabled"}, nil},
		{"the app's own wins", []string{"RAILS_ENV=staging"}, rails, []string{"RACK_ENV=production", "RAILS_LOG_TO_STDOUT=enabled"}, []string{"RAILS_ENV=staging"}},
		{"empty is the app's too", []string{"RAILS_LOG_TO_STDOUT="}, rails, []string{"RAILS_ENV=production", "RACK_ENV=production"}, []string{"RAILS_LOG_TO_STDOUT="}},
		{"no defaults", []string{"PATH=/bin"}, nil, nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := Default(tt.env, tt.vars)
			var kept []string
			for _, k := range d.Kept {
				kept = append(kept, k.Name+"="+k.Own)
			}
			if got := d.Environ(); !slices.Equal(got, tt.wantSet) {
				t.Errorf("set %q, want %q", got, tt.wantSet)
			}
			if !slices.Equal(kept, tt.wantKept) {
				t.Errorf("kept %q, want %q", kept, tt.wantKept)
			}
		})
	}
}
