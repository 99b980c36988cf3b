package launcher

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/platform"
)

// appDirWith writes files (slash paths to contents, directories made as
// needed) into a new temporary directory.
func appDirWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
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

// freeTier writes a fake root in which corral runs in a cgroup v2 with
// 512 MiB and a tenth of a CPU, on a host with 8 GiB.
func freeTier(t *testing.T) string {
	root := t.TempDir()
	for name, content := range map[string]string{
		"proc/self/cgroup":          "0::/\n",
		"proc/meminfo":              "MemTotal:        8388608 kB\n",
		"sys/fs/cgroup/memory.max":  "536870912\n",
		"sys/fs/cgroup/cpu.max":     "10000 100000\n",
		"sys/fs/cgroup/memory.high": "max\n",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoadEnv(t *testing.T) {
	dir := appDirWith(t, map[string]string{"Procfile": "web: s\n", ".env": "A=file\nB=file\n"})
	plan, err := Load(Config{Dir: dir, Procfile: "Procfile", Port: 5000, Environ: []string{"B=own", "PATH=/bin"}, Edge: EdgeConfig{Disabled: true}, SysRoot: freeTier(t)})
	if err != nil {
		t.Fatal(err)
	}
	env := plan.InstanceEnv(plan.Instances[0])
	want := []string{"A=file", "B=own", "PATH=/bin", "PORT=5000", "PS=web.1", AppDirVar + "=" + dir, "WEB_CONCURRENCY=2"}
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

// TestInstanceEnvHost: a web instance behind the edge is told to listen
// on loopback, unless the app says where; nothing else is.
func TestInstanceEnvHost(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		noEdge  bool
		typ     string
		want    string // HOST's value; "" for none
	}{
		{"web behind the edge", nil, false, "web", "127.0.0.1"},
		{"the app's own HOST", []string{"HOST=0.0.0.0"}, false, "web", "0.0.0.0"},
		{"an empty HOST is the app's too", []string{"HOST="}, false, "web", ""},
		{"no edge: web binds the public port", nil, true, "web", ""},
		{"a worker", nil, false, "worker", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := appDirWith(t, map[string]string{"Procfile": "web: s\nworker: w\n"})
			plan, err := Load(Config{Dir: dir, Procfile: "Procfile", Port: 5000, Environ: append([]string{"PATH=/bin"}, tt.environ...), Edge: EdgeConfig{Disabled: tt.noEdge}, SysRoot: freeTier(t)})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(plan.Instances, func(in Instance) bool { return in.Type == tt.typ })
			var hosts []string
			for _, kv := range plan.InstanceEnv(plan.Instances[i]) {
				if v, ok := strings.CutPrefix(kv, "HOST="); ok {
					hosts = append(hosts, v)
				}
			}
			want := []string{tt.want}
			if tt.want == "" && !slices.Contains(tt.environ, "HOST=") {
				want = nil
			}
			if !slices.Equal(hosts, want) {
				t.Errorf("HOST values %q, want %q", hosts, want)
			}
		})
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

// TestMachine: the sizing decisions Load makes from the platform, the
// limits and the formation.
func TestMachine(t *testing.T) {
	tests := []struct {
		name     string
		procfile string
		env      string // .env
		cfg      Config
		conc     string // WEB_CONCURRENCY in web's environment; "" for none
		timeout  time.Duration
		guard    int64
		one      string // part of OneService; "" for none
	}{
		{name: "free tier", procfile: "web: s\n", conc: "2", timeout: 10 * time.Second, guard: 512 << 20 * 90 / 100},
		{name: "free tier on Render with a worker", procfile: "web: s\nworker: w\nrelease: r\n",
			cfg:  Config{Environ: []string{"RENDER=true"}},
			conc: "1", timeout: 27 * time.Second, guard: 512 << 20 * 90 / 100, one: "worker run inside this web service"},
		{name: "Fly", procfile: "web: s\nworker: w\n", cfg: Config{Environ: []string{"FLY_APP_NAME=a"}},
			conc: "1", timeout: 4 * time.Second, guard: 512 << 20 * 90 / 100},
		{name: "the app sets it", procfile: "web: s\n", env: "WEB_CONCURRENCY=9\n", conc: "9", timeout: 10 * time.Second, guard: 512 << 20 * 90 / 100},
		{name: "flags win", procfile: "web: s\n", cfg: Config{MemoryLimit: 2 << 30, CPUs: 4, Timeout: time.Second, MemoryGuard: 50},
			conc: "8", timeout: time.Second, guard: 1 << 30},
		{name: "guard off", procfile: "web: s\n", cfg: Config{MemoryGuard: -1}, conc: "2", timeout: 10 * time.Second},
		{name: "two web instances", procfile: "web: s\n", cfg: Config{Formation: "web=2", MemoryLimit: 1 << 30, CPUs: 2},
			conc: "2", timeout: 10 * time.Second, guard: 1 << 30 * 90 / 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"Procfile": tt.procfile}
			if tt.env != "" {
				files[".env"] = tt.env
			}
			cfg := tt.cfg
			cfg.Dir, cfg.Procfile, cfg.Port, cfg.SysRoot = appDirWith(t, files), "Procfile", 5000, freeTier(t)
			if cfg.MemoryGuard == 0 {
				cfg.MemoryGuard = 90
			} else if cfg.MemoryGuard < 0 {
				cfg.MemoryGuard = 0
			}
			plan, err := Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			m := plan.Machine
			web := plan.InstanceEnv(plan.Instances[0])
			got := ""
			for _, kv := range web {
				if v, ok := strings.CutPrefix(kv, "WEB_CONCURRENCY="); ok {
					got = v // the last one counts
				}
			}
			if got != tt.conc {
				t.Errorf("WEB_CONCURRENCY %q (%s), want %q", got, m.WebConcurrencyWhy, tt.conc)
			}
			for _, inst := range plan.Instances[1:] {
				if inst.Type != "web" && slices.ContainsFunc(plan.InstanceEnv(inst), func(kv string) bool {
					return strings.HasPrefix(kv, "WEB_CONCURRENCY=") && tt.env == ""
				}) {
					t.Errorf("%s got WEB_CONCURRENCY", inst.Name)
				}
			}
			if m.Timeout != tt.timeout || m.TimeoutWhy == "" {
				t.Errorf("timeout %v (%s), want %v", m.Timeout, m.TimeoutWhy, tt.timeout)
			}
			if m.Guard != tt.guard || m.GuardWhy == "" {
				t.Errorf("guard %d (%s), want %d", m.Guard, m.GuardWhy, tt.guard)
			}
			if tt.one == "" && m.OneService != "" || !strings.Contains(m.OneService, tt.one) {
				t.Errorf("one service %q, want %q", m.OneService, tt.one)
			}
			var b strings.Builder
			plan.Describe(&b)
			if !strings.Contains(b.String(), "limits:   512 MiB (cgroup v2 memory.max), 0.1 CPU (cgroup v2 cpu.max)") && tt.cfg.MemoryLimit == 0 {
				t.Errorf("check output:\n%s", b.String())
			}
		})
	}
}

// TestCacheSizing: the response cache is sized from the memory limit
// unless the flags say, off with --cache-size 0 or without an app behind
// the edge, and corral check says so.
func TestCacheSizing(t *testing.T) {
	for _, tt := range []struct {
		name         string
		procfile     string
		edge         EdgeConfig
		size, object int64
		check        string
	}{
		{"free tier", "web: s\n", EdgeConfig{}, 16 << 20, 1 << 20,
			"cache:    16 MiB for the responses the app marks cacheable, each up to 1 MiB: a 32nd of 512 MiB, between 4 MiB and 256 MiB"},
		{"--cache-size", "web: s\n", EdgeConfig{CacheSize: 64 << 20}, 64 << 20, 4 << 20, "cache:    64 MiB for the responses the app marks cacheable, each up to 4 MiB: --cache-size"},
		{"--cache-max-object", "web: s\n", EdgeConfig{CacheMaxObject: 300 << 10}, 16 << 20, 300 << 10, "each up to 300 KiB: a 32nd of 512 MiB, between 4 MiB and 256 MiB; objects up to --cache-max-object"},
		{"--cache-size 0", "web: s\n", EdgeConfig{CacheSize: -1}, 0, 0, "cache:    off (--cache-size 0)"},
		{"no web", "worker: s\n", EdgeConfig{}, 0, 0, "cache:    off: no web instance behind the edge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Edge: tt.edge, MemoryGuard: 90}
			cfg.Dir, cfg.Procfile, cfg.Port, cfg.SysRoot = appDirWith(t, map[string]string{"Procfile": tt.procfile}), "Procfile", 5000, freeTier(t)
			plan, err := Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if m := plan.Machine; m.CacheSize != tt.size || m.CacheObject != tt.object {
				t.Errorf("cache %d, objects up to %d (%s); want %d, %d", m.CacheSize, m.CacheObject, m.CacheWhy, tt.size, tt.object)
			}
			var b strings.Builder
			plan.Describe(&b)
			if !strings.Contains(b.String(), tt.check) {
				t.Errorf("check output lacks %q:\n%s", tt.check, b.String())
			}
		})
	}
}
