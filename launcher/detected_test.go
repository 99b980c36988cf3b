package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corral-run/corral/launcher/static"
)

func TestLoadDetected(t *testing.T) {
	goFiles := map[string]string{"go.mod": "module example.com/shop\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n"}
	railsFiles := map[string]string{
		"config.ru": "run Rails.application\n", "config/application.rb": "module Shop\nend\n",
		"config/puma.rb": "", "Gemfile": "gem \"rails\"\ngem \"puma\"\n", "public/robots.txt": "",
	}
	for _, tt := range []struct {
		name     string
		files    map[string]string
		cfg      Config
		detected bool
		entries  []string // "type: command"
		build    []string // the steps start runs
		static   []static.Mount
		edge     bool
		err      string
	}{
		{name: "go, not built", files: goFiles, detected: true, edge: true,
			entries: []string{"web: bin/shop"}, build: []string{"build.1: go build -o bin/shop ."}},
		{name: "go, built", files: with(goFiles, "bin/shop", "binary"), detected: true, edge: true,
			entries: []string{"web: bin/shop"}},
		{name: "go, a Procfile wins", files: with(goFiles, "Procfile", "web: go run .\n"), edge: true,
			entries: []string{"web: go run ."}},
		{name: "go, --procfile names a missing one", files: goFiles, cfg: Config{Procfile: "Procfile.dev"},
			err: "Procfile.dev: no such file"},
		{name: "static site", files: map[string]string{"public/index.html": "<h1>hi</h1>"}, detected: true, edge: true,
			static: []static.Mount{{Prefix: "/", Index: true, Dir: "public"}}},
		{name: "static site, --spa", files: map[string]string{"dist/index.html": "hi"}, cfg: Config{Edge: EdgeConfig{SPA: true}}, detected: true, edge: true,
			static: []static.Mount{{Prefix: "/", Index: true, Fallback: "index.html", Dir: "dist"}}},
		{name: "static site, --no-edge", files: map[string]string{"index.html": "hi"}, cfg: Config{Edge: EdgeConfig{Disabled: true}},
			err: "a static site, which corral's edge serves"},
		{name: "static site with a Procfile: not served over the app", files: map[string]string{"index.html": "hi", "Procfile": "web: ./serve\n"}, edge: true,
			entries: []string{"web: ./serve"}},
		{name: "rails with a Procfile: public/ falls through to the app", files: with(railsFiles, "Procfile", "web: bundle exec puma\n"), edge: true,
			entries: []string{"web: bundle exec puma"}, static: []static.Mount{{Prefix: "/", Fallthrough: true, Dir: "public"}}},
		{name: "rails, --static wins", files: with(railsFiles, "Procfile", "web: bundle exec puma\n"), cfg: Config{Edge: EdgeConfig{Static: []string{"/assets/=public/assets"}}}, edge: true,
			entries: []string{"web: bundle exec puma"}, static: []static.Mount{{Prefix: "/assets/", Dir: "public/assets"}}},
		{name: "nothing to detect", files: map[string]string{"README.md": "hi"},
			err: "no Procfile, and no app corral knows how to run"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := appDirWith(t, tt.files)
			cfg := tt.cfg
			cfg.Dir, cfg.Port = dir, 5000
			plan, err := Load(cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.Detected != tt.detected || plan.Edge != tt.edge {
				t.Errorf("detected %v, edge %v; want %v, %v", plan.Detected, plan.Edge, tt.detected, tt.edge)
			}
			var entries, build []string
			for _, e := range plan.Procfile.Entries {
				entries = append(entries, e.Name+": "+e.Command)
			}
			for _, b := range plan.Build {
				build = append(build, b.Name+": "+b.Command)
			}
			if !slices.Equal(entries, tt.entries) || !slices.Equal(build, tt.build) {
				t.Errorf("entries %q, build %q; want %q, %q", entries, build, tt.entries, tt.build)
			}
			var mounts []static.Mount
			for _, m := range plan.Static {
				rel, _ := filepath.Rel(dir, m.Dir)
				m.Dir = filepath.ToSlash(rel)
				mounts = append(mounts, m)
			}
			if !slices.Equal(mounts, tt.static) {
				t.Errorf("static %+v, want %+v", mounts, tt.static)
			}
		})
	}
}

// with returns a copy of files with name set to content.
func with(files map[string]string, name, content string) map[string]string {
	out := map[string]string{name: content}
	for k, v := range files {
		out[k] = v
	}
	return out
}

func TestInit(t *testing.T) {
	dir := appDirWith(t, map[string]string{"package.json": `{"scripts": {"start": "node server.js", "worker": "node worker.js"}}`})
	path, err := Init(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Load(Config{Dir: dir, Port: 5000})
	if err != nil {
		t.Fatalf("the Procfile init wrote does not load: %v", err)
	}
	if plan.Detected || plan.Procfile.Path != path {
		t.Errorf("start reads %s (detected %v), want %s", plan.Procfile.Path, plan.Detected, path)
	}
	if got := strings.Join(plan.Procfile.Names(), ","); got != "web,worker" {
		t.Errorf("types %s", got)
	}
	if _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Init: %v", err)
	}
	if _, err := Init(appDirWith(t, map[string]string{"index.html": "hi"})); err == nil || !strings.Contains(err.Error(), "no process to write") {
		t.Errorf("Init of a static site: %v", err)
	}
}

// TestDetectedBelow checks an app detection finds one directory down:
// the plan runs it there and keeps the control socket's directory, init
// writes its Procfile there and start then reads that, a Procfile at the
// top leaves it alone, and web: corral start at the top says what to do.
func TestDetectedBelow(t *testing.T) {
	files := map[string]string{
		"README.md":            "# x\n",
		"server/package.json":  `{"scripts": {"start": "node server.js", "worker": "node worker.js"}}`,
		"server/public/a.html": "hi",
	}
	dir := appDirWith(t, files)
	plan, err := Load(Config{Dir: dir, Port: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Dir != filepath.Join(dir, "server") || plan.Root != dir || !plan.Detected {
		t.Errorf("plan in %s (root %s, detected %v); want %s/server, root %s", plan.Dir, plan.Root, plan.Detected, dir, dir)
	}
	path, err := Init(dir)
	if err != nil || path != filepath.Join(dir, "server", "Procfile") {
		t.Fatalf("Init = %s, %v; want server/Procfile", path, err)
	}
	plan, err = Load(Config{Dir: dir, Port: 5000})
	if err != nil || plan.Detected || plan.Procfile.Path != path {
		t.Fatalf("after init: %v, detected %v, procfile %s; want %s", err, plan != nil && plan.Detected, plan.Procfile.Path, path)
	}
	if _, err := Init(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Init: %v", err)
	}

	dir = appDirWith(t, files)
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: cd server && node server.js\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plan, err = Load(Config{Dir: dir, Port: 5000})
	if err != nil || plan.Dir != dir || plan.Root != "" || plan.App != nil {
		t.Errorf("with a Procfile at the top: %v, dir %s, root %q, app %v", err, plan.Dir, plan.Root, plan.App)
	}
	if err := os.WriteFile(filepath.Join(dir, "Procfile"), []byte("web: corral start\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Config{Dir: dir, Port: 5000, Executable: "/usr/bin/corral"})
	if err == nil || !strings.Contains(err.Error(), "corral detects the app in server/, below the Procfile: move the Procfile there, or run corral start --dir server") {
		t.Errorf("web: corral start at the top: %v", err)
	}
}
