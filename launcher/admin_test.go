package launcher

import (
	"strings"
	"testing"
)

func TestParseAdmin(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{"", "", ""},
		{"9100", "127.0.0.1:9100", ""},
		{" 9100 ", "127.0.0.1:9100", ""},
		{":9100", "127.0.0.1:9100", ""},
		{"127.0.0.1:9100", "127.0.0.1:9100", ""},
		{"0.0.0.0:9100", "0.0.0.0:9100", ""},
		{"[::1]:9100", "[::1]:9100", ""},
		{"[::]:9100", "[::]:9100", ""},
		{"localhost:9100", "localhost:9100", ""},
		{"10.0.0.7:65535", "10.0.0.7:65535", ""},
		{"0", "", "want a port from 1 to 65535"},
		{"65536", "", "want a port from 1 to 65535"},
		{"-1", "", "want a port"},
		{"09100", "", "want a port"},
		{"abc", "", "want a port"},
		{"::1", "", "want a port (9100) or an address"},
		{"[::1]", "", "want a port (9100) or an address"},
		{"127.0.0.1", "", "want a port"},
		{"127.0.0.1:", "", `port "" is not a number`},
		{"127.0.0.1:0", "", `port "0" is not a number from 1 to 65535`},
		{"127.0.0.1:http", "", `port "http" is not a number`},
		{"example.com:9100", "", `"example.com" is not an IP address`},
		{"http://127.0.0.1:9100", "", "want a port"},
	} {
		got, err := ParseAdmin(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseAdmin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseAdmin(%q) = %q, %v; want an error saying %q", tt.in, got, err, tt.err)
		}
	}
}

// TestAdminPorts: the admin listener may not take a port the run uses.
func TestAdminPorts(t *testing.T) {
	for _, tt := range []struct {
		name  string
		admin string
		edge  EdgeConfig
		err   string
	}{
		{"free", "127.0.0.1:9100", EdgeConfig{}, ""},
		{"the public port", "127.0.0.1:5000", EdgeConfig{}, "port 5000 is the public port"},
		{"any host, the same port", "0.0.0.0:5000", EdgeConfig{}, "port 5000 is the public port"},
		{"a worker's port", "127.0.0.1:5100", EdgeConfig{}, "port 5100 is worker.1's $PORT"},
		{"no edge: the public port", "127.0.0.1:5000", EdgeConfig{Disabled: true}, "port 5000 is the public port"},
		{"no edge: web's port", "127.0.0.1:5001", EdgeConfig{Disabled: true}, "port 5001 is web.2's $PORT"},
		{"HTTPS: the TLS port", "127.0.0.1:8443", EdgeConfig{HTTPS: HTTPSConfig{Domains: []string{"example.com"}, HTTPSPort: 8443, HTTPPort: 8080}}, "port 8443 is --https-port"},
		{"HTTPS: $PORT is not opened", "127.0.0.1:5000", EdgeConfig{HTTPS: HTTPSConfig{Domains: []string{"example.com"}, HTTPSPort: 8443, HTTPPort: 8080}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := appDirWith(t, map[string]string{"Procfile": testProcfile})
			plan, err := Load(Config{Dir: dir, Formation: "web=2", Port: 5000, Admin: tt.admin, Edge: tt.edge})
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if plan.Admin != tt.admin {
					t.Fatalf("Admin %q, want %q", plan.Admin, tt.admin)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), `--admin "`+tt.admin+`"`) {
				t.Errorf("Load: %v; want an error naming --admin %q and saying %q", err, tt.admin, tt.err)
			}
		})
	}
}

func TestDescribeAdmin(t *testing.T) {
	for addr, want := range map[string]string{
		"":               "admin:    off",
		"127.0.0.1:9100": "admin:    http://127.0.0.1:9100/ (status page) and /metrics (Prometheus)\n",
		"[::1]:9100":     "admin:    http://[::1]:9100/ (status page) and /metrics (Prometheus)\n",
		"0.0.0.0:9100":   "not on loopback: whoever reaches this address sees",
	} {
		var b strings.Builder
		(&Plan{Admin: addr}).describeAdmin(&b)
		if !strings.Contains(b.String(), want) {
			t.Errorf("admin %q: %q, want %q in it", addr, b.String(), want)
		}
	}
}

// TestGCPercent: GOGC read as the Go runtime reads it, for
// go_gc_gogc_percent.
func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want int
	}{
		{nil, 100},
		{[]string{"GOGC=50"}, 50},
		{[]string{"GOGC=off"}, -1},
		{[]string{"GOGC=-1"}, -1},
		{[]string{"GOGC=0"}, 0},
		{[]string{"GOGC="}, 100},
		{[]string{"GOGC=+50"}, 100},
		{[]string{"GOGC=fast"}, 100},
		{[]string{"GOGC=99999999999"}, 100},
	} {
		if got := gcPercent(c.env); got != c.want {
			t.Errorf("gcPercent(%q) = %d, want %d", c.env, got, c.want)
		}
	}
}
