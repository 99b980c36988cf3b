package launcher

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-run/corral/launcher/platform"
)

func appDirWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const testProcfile = "release: ./migrate\nworker: w\nweb: s\nclock: c\n"

func TestLoadPorts(t *testing.T) {
	tests := []struct {
		name      string
		formation string
		types     []string
		port      int
		want      []string // "name:port", in start order
		release   bool
		edge      bool
	}{
		{"edge: web ports chosen at start", "web=2", nil, 5000, []string{"web.1:0", "web.2:0", "worker.1:5100", "clock.1:5200"}, true, true},
		{"defaults", "", nil, 5000, []string{"web.1:5000", "worker.1:5100", "clock.1:5200"}, true, false},
		{"scaled", "web=3,worker=2", nil, 8000, []string{"web.1:8000", "web.2:8001", "web.3:8002", "worker.1:8100", "worker.2:8101", "clock.1:8200"}, true, false},
		{"all=0", "all=0,clock=1", nil, 5000, []string{"clock.1:5200"}, false, false},
		{"named types", "web=2", []string{"web", "release"}, 5000, []string{"web.1:5000", "web.2:5001"}, true, false},
		{"type set to 0 keeps others' ports", "worker=0", nil, 5000, []string{"web.1:5000", "clock.1:5200"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := appDirWith(t, map[string]string{"Procfile": testProcfile})
			plan, err := Load(Config{Dir: dir, Procfile: "Procfile", Formation: tt.formation, Types: tt.types, Port: tt.port, Edge: EdgeConfig{Disabled: !tt.edge}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, in := range plan.Instances {
				got = append(got, in.Name+":"+strconv.Itoa(in.Port))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("instances %v, want %v", got, tt.want)
			}
			if plan.Edge != tt.edge {
				t.Errorf("Edge = %v, want %v", plan.Edge, tt.edge)
			}
			if (plan.Release != nil) != tt.release {
				t.Errorf("release = %v, want %v", plan.Release, tt.release)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		cfg   Config
		want  []string
	}{
		{"port overflow", map[string]string{"Procfile": testProcfile}, Config{Port: 65500},
			[]string{"port 65600 for worker.1 is above 65535"}},
		{"port zero", map[string]string{"Procfile": testProcfile}, Config{Port: 0},
			[]string{"port 0 is not a TCP port"}},
		{"nothing to run", map[string]string{"Procfile": testProcfile}, Config{Port: 5000, Formation: "all=0"},
			[]string{"nothing to run"}},
		{"every problem at once", map[string]string{"Procfile": "web: echo 'x\nworker: ok\n", ".env": "A B\n"},
			Config{Port: 0, Formation: "wrker=1", Types: []string{"clok"}},
			[]string{".env:1:", "port 0 is not a TCP port", "Procfile:1: process type \"web\": /bin/bash cannot parse", "--formation", "unknown process type \"wrker\""}},
		{"named type unknown", map[string]string{"Procfile": testProcfile}, Config{Port: 5000, Types: []string{"clok"}},
			[]string{`process type "clok" is not in`}},
		{"missing env file", map[string]string{"Procfile": testProcfile}, Config{Port: 5000, EnvFiles: []string{"prod.env"}},
			[]string{"prod.env: cannot read env file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Dir = appDirWith(t, tt.files)
			cfg.Procfile = "Procfile"
			_, err := Load(cfg)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadEnv(t *testing.T) {
	dir := appDirWith(t, map[string]string{"Procfile": "web: s\n", ".env": "A=file\nB=file\n"})
	plan, err := Load(Config{Dir: dir, Procfile: "Procfile", Port: 5000, Environ: []string{"B=own", "PATH=/bin"}, Edge: EdgeConfig{Disabled: true}})
	if err != nil {
		t.Fatal(err)
	}
	env := plan.InstanceEnv(plan.Instances[0])
	want := []string{"A=file", "B=own", "PATH=/bin", "PORT=5000", "PS=web.1"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	// InstanceEnv must not write into the shared slice.
	plan.Instances = append(plan.Instances, Instance{Name: "web.2", Port: 5001})
	plan.InstanceEnv(plan.Instances[1])
	if env[3] != "PORT=5000" {
		t.Errorf("instance environments share storage")
	}
}

func TestOutputOptions(t *testing.T) {
	heroku := platform.Platform{Name: "heroku"}
	tests := []struct {
		name          string
		cfg           Config
		pf            platform.Platform
		stamps, color bool
	}{
		{"terminal", Config{Terminal: true}, platform.Platform{}, true, true},
		{"pipe", Config{}, platform.Platform{}, false, false},
		{"terminal on a PaaS", Config{Terminal: true}, heroku, false, true},
		{"NO_COLOR", Config{Terminal: true, Environ: []string{"NO_COLOR=1"}}, platform.Platform{}, true, false},
		{"forced on", Config{Timestamps: On}, heroku, true, false},
		{"forced off", Config{Terminal: true, Timestamps: Off}, platform.Platform{}, false, true},
	}
	for _, tt := range tests {
		got := outputOptions(tt.cfg, tt.pf)
		if got.Timestamps != tt.stamps || got.Color != tt.color {
			t.Errorf("%s: timestamps %v color %v, want %v %v", tt.name, got.Timestamps, got.Color, tt.stamps, tt.color)
		}
	}
}
