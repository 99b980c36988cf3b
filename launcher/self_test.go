package launcher

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadSelf(t *testing.T) {
	goApp := map[string]string{"go.mod": "module example.com/shop\n\ngo 1.22\n", "main.go": "package main\n\nfunc main() {}\n", "bin/shop": "built"}
	rails := map[string]string{
		"config.ru": "run Rails.application\n", "config/application.rb": "module Shop\nend\n",
		"config/puma.rb": "", "Gemfile": "gem \"rails\"\ngem \"puma\"\ngem \"sidekiq\"\n", "db/migrate/001_init.rb": "",
	}
	heroku, render, railway := []string{"DYNO=web.1"}, []string{"RENDER=true"}, []string{"RAILWAY_ENVIRONMENT=production"}
	for _, tt := range []struct {
		name      string
		files     map[string]string
		cfg       Config
		instances []string // "name: command"
		release   string
		web       string // Self.Web holds it
		services  []string
		err       string
	}{
		{name: "web: corral start, laptop: web from detection, worker here", files: with(goApp, "Procfile", "web: corral start\nworker: ./work\n"),
			instances: []string{"web.1: bin/shop", "worker.1: ./work"}, web: "detection (Go)",
			services: []string{"worker (PROCFILE:2) runs here, inside this web service, next to web: no platform detected", "--formation worker=0 leaves it out"}},
		{name: "exec, a path, flags: still corral's own", files: with(goApp, "Procfile", "web: A=1 exec bin/corral start --idle-stop 10m\n"),
			instances: []string{"web.1: bin/shop"}, web: "detection (Go)"},
		{name: "heroku: worker and release left to it", files: with(goApp, "Procfile", "release: ./migrate\nweb: corral start\nworker: ./work\nclock: ./tick\n"), cfg: Config{Environ: heroku},
			instances: []string{"web.1: bin/shop"},
			services: []string{
				"release (PROCFILE:1) is left to Heroku: Heroku runs the Procfile's release line in a dyno of its own before each release goes live; --formation release=1 runs it here too",
				"worker and clock (PROCFILE:3,4) are left to Heroku, not run here, where they would do every job a second time: Heroku eco dynos can run a worker dyno of its own",
				"--formation worker=1,clock=1 runs them here instead"}},
		{name: "heroku: --formation runs a type here", files: with(goApp, "Procfile", "release: ./migrate\nweb: corral start\nworker: ./work\nclock: ./tick\n"), cfg: Config{Environ: heroku, Formation: "worker=1,release=1"},
			release: "./migrate", instances: []string{"web.1: bin/shop", "worker.1: ./work"},
			services: []string{"clock (PROCFILE:4) is left to Heroku"}},
		{name: "render: worker here", files: with(goApp, "Procfile", "web: corral start\nworker: ./work\n"), cfg: Config{Environ: render},
			instances: []string{"web.1: bin/shop", "worker.1: ./work"},
			services:  []string{"worker (PROCFILE:2) runs here, inside this web service, next to web: Render's free tier has no background workers", "--formation worker=0 leaves it to a service of its own"}},
		{name: "railway: a worker service's corral start worker", files: with(goApp, "Procfile", "web: corral start\nworker: ./work\n"), cfg: Config{Environ: railway, Types: []string{"worker"}},
			instances: []string{"worker.1: ./work"}},
		{name: "detection's release and worker run where the Procfile has none", files: with(rails, "Procfile", "web: corral start\n"), cfg: Config{Environ: heroku},
			release: "bundle exec rails db:migrate", instances: []string{"web.1: bundle exec puma -C config/puma.rb", "worker.1: bundle exec sidekiq"},
			services: []string{"worker (detected: the Procfile has no line for it, so only corral can run it) runs here"}},
		{name: "the Procfile's lines win over detection's", files: with(rails, "Procfile", "release: ./migrate\nweb: corral start\nworker: ./jobs\n"),
			release: "./migrate", instances: []string{"web.1: bundle exec puma -C config/puma.rb", "worker.1: ./jobs"},
			services: []string{"worker (PROCFILE:3) runs here"}},
		{name: "corral start -- CMD on the line", files: with(goApp, "Procfile", "web: corral start -- gunicorn app.wsgi --bind '0.0.0.0:$PORT'\nworker: ./work\n"),
			instances: []string{"web.1: gunicorn app.wsgi --bind 0.0.0.0:$PORT", "worker.1: ./work"}, web: `the command after "--" on PROCFILE:1`,
			services: []string{"worker (PROCFILE:2) runs here"}},
		{name: "corral start -- CMD run by the platform's shell", files: with(goApp, "Procfile", "web: corral start -- gunicorn app.wsgi --bind 0.0.0.0:$PORT\n"),
			cfg:       Config{Command: []string{"gunicorn", "app.wsgi", "--bind", "0.0.0.0:5000"}, Environ: heroku},
			instances: []string{"web.1: gunicorn app.wsgi --bind 0.0.0.0:$PORT"}, web: `the command after this corral's "--"`},
		{name: "corral start -- CMD replaces a Procfile's web line", files: with(goApp, "Procfile", "web: ./old\nworker: ./work\n"),
			cfg:       Config{Command: []string{"./new", "--port", "5000"}},
			instances: []string{"web.1: ./new --port $PORT", "worker.1: ./work"}, web: `the command after this corral's "--", in place of PROCFILE:1's web line (./old)`},
		{name: "corral start -- CMD with no Procfile", files: goApp, cfg: Config{Command: []string{"./serve", "a b"}},
			instances: []string{"web.1: ./serve 'a b'"}, web: `the command after this corral's "--"`},
		{name: "a corral start -- CMD that starts corral", files: goApp, cfg: Config{Command: []string{"corral", "start"}},
			err: `the command after "corral start --" (corral start) is corral start, which would run corral inside itself`},
		{name: "worker: corral start", files: with(goApp, "Procfile", "web: corral start\nworker: corral start\n"),
			err: `PROCFILE:2: worker: "corral start" would run corral inside itself`},
		{name: "release: corral run is a one-off", files: with(goApp, "Procfile", "release: corral run -- ./migrate\nweb: corral start\n"),
			release: "corral run -- ./migrate", instances: []string{"web.1: bin/shop"}},
		{name: "web: corral start after another command", files: with(goApp, "Procfile", "web: ./setup && corral start\n"),
			err: `PROCFILE:1: web: "corral start" after ./setup && would run corral inside itself`},
		{name: "web: sh -c corral start", files: with(goApp, "Procfile", "web: sh -c 'corral start'\n"),
			err: `PROCFILE:1: web: "corral start" in sh -c's script would run corral inside itself`},
		{name: "every line at once", files: with(goApp, "Procfile", "web: corral start\nworker: exec corral start worker\nclock: npx corral start\n"),
			err: "PROCFILE:2: worker:"},
		{name: "nothing after --", files: with(goApp, "Procfile", "web: corral start --\n"),
			err: `PROCFILE:1: web: nothing after "corral start --"`},
		{name: "nothing to detect", files: map[string]string{"Procfile": "web: corral start\n"},
			err: `PROCFILE:1: web: corral start is corral's own start command, so the web process comes from detection`},
		{name: "a static site: the edge alone", files: map[string]string{"Procfile": "web: corral start\n", "public/index.html": "hi"},
			web: "the edge, which serves the app alone: Static site"},
		{name: "a static site and a worker", files: map[string]string{"Procfile": "web: corral start\nworker: ./w\n", "public/index.html": "hi"},
			err: "which corral's edge serves alone: the Procfile's other types cannot run next to it"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := appDirWith(t, tt.files)
			procfile := filepath.Join(dir, "Procfile")
			cfg := tt.cfg
			cfg.Dir, cfg.Port = dir, 5000
			plan, err := Load(cfg)
			if tt.err != "" {
				if want := strings.ReplaceAll(tt.err, "PROCFILE", procfile); err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want one containing %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var insts []string
			for _, in := range plan.Instances {
				insts = append(insts, in.Name+": "+in.Command)
			}
			release := ""
			if plan.Release != nil {
				release = plan.Release.Command
			}
			if !slices.Equal(insts, tt.instances) || release != tt.release {
				t.Errorf("instances %q, release %q; want %q, %q", insts, release, tt.instances, tt.release)
			}
			if plan.Self == nil {
				t.Fatal("no Self")
			}
			if want := strings.ReplaceAll(tt.web, "PROCFILE", procfile); !strings.HasPrefix(plan.Self.Web, want) {
				t.Errorf("web comes from %q, want %q", plan.Self.Web, want)
			}
			services := strings.Join(plan.Self.Services, "\n")
			for _, want := range tt.services {
				if want = strings.ReplaceAll(want, "PROCFILE", procfile); !strings.Contains(services, want) {
					t.Errorf("services lack %q:\n%s", want, services)
				}
			}
			if len(tt.services) == 0 && services != "" {
				t.Errorf("services: %s", services)
			}
		})
	}
}

func TestSelfRewrites(t *testing.T) {
	dir := appDirWith(t, map[string]string{"Procfile": "web: corral start -- gunicorn app.wsgi --bind 0.0.0.0:$PORT\n"})
	plan, err := Load(Config{Dir: dir, Port: 5000, Command: []string{"gunicorn", "app.wsgi", "--bind", "0.0.0.0:5000", "--timeout", "5000", "5000"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	plan.Self.describe(&b)
	for _, want := range []string{
		"self:     " + filepath.Join(dir, "Procfile") + ":1: web: corral start -- gunicorn app.wsgi --bind 0.0.0.0:$PORT is corral's own start command (named corral)",
		`web comes from the command after this corral's "--"`,
		"warning: the web command's --bind 0.0.0.0:5000 is now --bind 0.0.0.0:$PORT: 5000 is the public port, which corral's edge holds",
		`Write '$PORT' (or \$PORT) in the start command`,
		`warning: the web command holds 5000, the public port, in "5000", which corral left as it is`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("describe lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), `"--timeout"`) {
		t.Errorf("--timeout 5000 taken for a port:\n%s", b.String())
	}
}

func TestSelfFlags(t *testing.T) {
	dir := appDirWith(t, map[string]string{"Procfile": "web: corral start --idle-stop 10m -p $PORT -- ./serve\n"})
	var got []string
	cfg := Config{Dir: dir, Port: 5000, Environ: []string{"PORT=5000"}, CompareFlags: func(args []string) ([]string, error) {
		got = args
		if slices.Contains(args, "--bad") {
			return nil, errors.New("flag provided but not defined: -bad")
		}
		return []string{"--idle-stop 10m (here: not set)"}, nil
	}}
	plan, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--idle-stop", "10m", "-p", "5000"}; !slices.Equal(got, want) {
		t.Errorf("CompareFlags got %q, want %q (the line's flags, $PORT expanded as the platform's shell would)", got, want)
	}
	if w := strings.Join(plan.Self.Warnings, "\n"); !strings.Contains(w, ":1: web: corral start --idle-stop 10m -p $PORT -- ./serve gives corral start other flags than this corral's: --idle-stop 10m (here: not set)") {
		t.Errorf("warnings: %s", w)
	}

	dir = appDirWith(t, map[string]string{"Procfile": "web: corral start --bad\n", "go.mod": "module x\n", "main.go": "package main\n"})
	cfg.Dir = dir
	if plan, err = Load(cfg); err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(plan.Self.Warnings, "\n"); !strings.Contains(w, "the platform's corral would refuse its flags: flag provided but not defined: -bad") {
		t.Errorf("warnings: %s", w)
	}

	// A flag the shell makes when it runs ($(…)) cannot be compared.
	got = nil
	dir = appDirWith(t, map[string]string{"Procfile": "web: corral start -t $(cat t) -- ./serve\n"})
	cfg.Dir = dir
	if plan, err = Load(cfg); err != nil {
		t.Fatal(err)
	}
	if got != nil || len(plan.Self.Warnings) > 0 {
		t.Errorf("compared %q: %q", got, plan.Self.Warnings)
	}
}

func TestNested(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	err := nested(dir, []string{AppDirVar + "=" + dir, "PS=web.1"})
	var exit *ExitError
	if !errors.As(err, &exit) || exit.Code != 126 || !strings.Contains(err.Error(), "corral start runs as web.1 of the corral already running the app in "+dir) {
		t.Errorf("nested in the same app: %v", err)
	}
	if err := nested(other, []string{AppDirVar + "=" + dir}); err != nil {
		t.Errorf("nested in another app: %v", err)
	}
	if err := nested(dir, nil); err != nil {
		t.Errorf("not nested: %v", err)
	}
	plan := &Plan{Dir: dir}
	if env := plan.InstanceEnv(Instance{Name: "web.1", Port: 1}); !slices.Contains(env, AppDirVar+"="+dir) {
		t.Errorf("InstanceEnv lacks %s: %q", AppDirVar, env)
	}
}
