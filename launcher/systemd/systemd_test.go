package systemd

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// app is a unit for an app in /srv/myapp run by deploy, on port 5000.
func app() Unit {
	return Unit{Name: "corral-myapp", Dir: "/srv/myapp", Executable: "/usr/bin/corral", User: "deploy", UserWhy: "the owner of /srv/myapp", Ports: []int{5000}}
}

// directives returns the unit's directive lines, "Key=value", in order.
func directives(unit []byte) []string {
	var ds []string
	for line := range strings.SplitSeq(string(unit), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "[") {
			ds = append(ds, line)
		}
	}
	return ds
}

// TestRender: each option is there when its reason holds, and only then.
func TestRender(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(*Unit)
		want, not []string // directive lines
		comment   string   // in a comment
	}{
		{name: "plain", edit: func(*Unit) {},
			want: []string{"User=deploy", "WorkingDirectory=/srv/myapp", "ExecStart=/usr/bin/corral start --dir /srv/myapp", "Type=exec", "KillMode=mixed", "Restart=on-failure",
				"TimeoutStopSec=15", "LimitNOFILE=65536", "CapabilityBoundingSet=", "NoNewPrivileges=yes", "ProtectSystem=full", "PrivateTmp=yes", "ProtectControlGroups=yes",
				"ExecReload=/usr/bin/corral reload --dir /srv/myapp", "SyslogIdentifier=corral-myapp", "WantedBy=multi-user.target"},
			not:     []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE", "StateDirectory=corral-myapp", "ProtectHome=yes", "MemoryDenyWriteExecute=yes"},
			comment: "Port 5000 needs no capability"},
		{name: "HTTPS on 443 and 80", edit: func(u *Unit) { u.HTTPS, u.Ports, u.Flags = true, []int{443, 80}, []string{"--domain", "example.com"} },
			want: []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "StateDirectory=corral-myapp",
				"ExecStart=/usr/bin/corral start --dir /srv/myapp --domain example.com --cert-dir /var/lib/corral-myapp/certs"},
			comment: "Ports 443 and 80 are below 1024"},
		{name: "HTTPS, certificates in /etc", edit: func(u *Unit) { u.HTTPS, u.Ports, u.CertDir = true, []int{8443, 8080}, "/etc/corral/certs" },
			want:    []string{"ReadWritePaths=/etc/corral/certs", "ExecStart=/usr/bin/corral start --dir /srv/myapp", "CapabilityBoundingSet="},
			not:     []string{"StateDirectory=corral-myapp", "AmbientCapabilities=CAP_NET_BIND_SERVICE"},
			comment: "Ports 8443 and 8080 need no capability"},
		{name: "port 80 without HTTPS", edit: func(u *Unit) { u.Ports = []int{80} },
			want: []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE"}, not: []string{"StateDirectory=corral-myapp"}, comment: "Port 80 is below 1024"},
		{name: "an admin port below 1024", edit: func(u *Unit) { u.Ports = []int{5000, 900} },
			want: []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE"}, comment: "Port 900 is below 1024"},
		{name: "root needs no capability", edit: func(u *Unit) { u.User, u.UserWhy, u.Root, u.Ports = "root", "--user root", true, []int{443, 80} },
			want: []string{"User=root"}, not: []string{"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet="},
			comment: "root, as asked (--user root)"},
		{name: "a longer budget", edit: func(u *Unit) { u.Timeout = 30 * time.Second },
			want: []string{"TimeoutStopSec=35"}, comment: "shutdown budget, 30s (--timeout)"},
		{name: "a budget in milliseconds rounds up", edit: func(u *Unit) { u.Timeout = 500 * time.Millisecond },
			want: []string{"TimeoutStopSec=6"}},
		{name: "an app under /usr", edit: func(u *Unit) { u.Dir = "/usr/local/myapp" },
			want: []string{"ReadWritePaths=/usr/local/myapp", "WorkingDirectory=/usr/local/myapp"}},
		{name: "an app under /etcetera is not under /etc", edit: func(u *Unit) { u.Dir = "/etcetera/app" },
			not: []string{"ReadWritePaths=/etcetera/app"}},
		{name: "env files are corral's to read", edit: func(u *Unit) { u.EnvFiles = []string{"/srv/myapp/.env"} },
			not: []string{"EnvironmentFile=/srv/myapp/.env", "EnvironmentFile=-/srv/myapp/.env"}, comment: "No EnvironmentFile=: the app's environment, /srv/myapp/.env, is read by corral itself"},
		{name: "no env file yet", edit: func(*Unit) {}, comment: "the app has no env file now; a .env in /srv/myapp, if one comes, is read by corral itself"},
		{name: "quoting", edit: func(u *Unit) {
			u.Dir, u.Executable, u.Flags = "/srv/my app/100%$x", "/opt/my bin/corral", []string{"--static", `/s/=a "b" \c`, "--formation", "web=2", "--env", ";"}
		},
			want: []string{`WorkingDirectory=/srv/my app/100%%$x`, `ExecStart="/opt/my bin/corral" start --dir "/srv/my app/100%%$$x" --static "/s/=a \"b\" \\c" --formation web=2 --env ";"`,
				"Description=corral: 100%%$x (/srv/my app/100%%$x)", `ExecReload="/opt/my bin/corral" reload --dir "/srv/my app/100%%$$x"`},
			comment: "sudo -u deploy '/opt/my bin/corral' ps --dir '/srv/my app/100%$x'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := app()
			tt.edit(&u)
			unit, err := u.Render()
			if err != nil {
				t.Fatal(err)
			}
			ds := directives(unit)
			for _, d := range tt.want {
				if !slices.Contains(ds, d) {
					t.Errorf("no %s in\n%s", d, unit)
				}
			}
			for _, d := range tt.not {
				if slices.Contains(ds, d) {
					t.Errorf("%s in\n%s", d, unit)
				}
			}
			// Comments are wrapped: compare them as one text.
			var comments []string
			for line := range strings.SplitSeq(string(unit), "\n") {
				if c, ok := strings.CutPrefix(line, "# "); ok {
					comments = append(comments, c)
				}
			}
			if !strings.Contains(strings.Join(comments, " "), tt.comment) {
				t.Errorf("no comment %q in\n%s", tt.comment, unit)
			}
			if slices.ContainsFunc(ds, func(d string) bool { return strings.HasPrefix(d, "EnvironmentFile=") }) {
				t.Errorf("EnvironmentFile= in\n%s", unit)
			}
		})
	}
}

// TestEveryDirectiveSaysWhy: in the unit, every run of directives comes
// after a comment line (the why of the run), and each directive appears
// once.
func TestEveryDirectiveSaysWhy(t *testing.T) {
	u := app()
	u.HTTPS, u.Ports, u.Dir = true, []int{443, 80}, "/usr/srv/app"
	unit, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(unit), "\n")
	seen := map[string]bool{}
	for i, line := range lines {
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		key, _, _ := strings.Cut(line, "=")
		if seen[key] {
			t.Errorf("%s twice", key)
		}
		seen[key] = true
		prev := lines[i-1]
		if prev == "" || prev[0] == '[' {
			t.Errorf("line %d, %s, follows %q, not a comment", i+1, line, prev)
		}
	}
}

// TestGolden: a whole unit, as a reader sees it (go test -update
// rewrites it after a change that is meant).
func TestGolden(t *testing.T) {
	u := app()
	u.HTTPS, u.Ports, u.EnvFiles = true, []int{443, 80}, []string{"/srv/myapp/.env"}
	u.Flags = []string{"--domain", "example.com", "--acme-email", "ops@example.com", "--formation", "web=2,worker=1"}
	unit, err := u.Render()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "corral-myapp.service")
	if *update {
		if err := os.WriteFile(golden, unit, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unit, want) {
		t.Errorf("the unit differs from %s (go test -update rewrites it):\n%s", golden, unit)
	}
	if !Made(unit) || Made([]byte("[Unit]\n# "+made)) {
		t.Error("Made does not know the unit by its first line")
	}
}

// TestRenderRefuses: what a unit cannot hold is an error naming it.
func TestRenderRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Unit)
		want string
	}{
		{"relative dir", func(u *Unit) { u.Dir = "srv/app" }, `app directory "srv/app": not an absolute, clean path`},
		{"unclean dir", func(u *Unit) { u.Dir = "/srv/../app" }, `app directory "/srv/../app": not an absolute, clean path`},
		{"relative binary", func(u *Unit) { u.Executable = "corral" }, `corral binary "corral": not an absolute, clean path`},
		{"quote in the binary's path", func(u *Unit) { u.Executable = `/opt/it's/corral` }, "systemd refuses a program path with a quote or a backslash"},
		{"newline in the dir", func(u *Unit) { u.Dir = "/srv/a\nb" }, `"/srv/a\nb": a unit file holds only UTF-8 text without control characters`},
		{"tab in a flag", func(u *Unit) { u.Flags = []string{"--domain", "a\tb"} }, `"a\tb": a unit file holds only`},
		{"not UTF-8", func(u *Unit) { u.Flags = []string{"\xff"} }, `"\xff": a unit file holds only UTF-8`},
		{"trailing space", func(u *Unit) { u.Dir = "/srv/app " }, "WorkingDirectory= cannot end with a space"},
		{"bad name", func(u *Unit) { u.Name = "my app" }, `unit name "my app": use letters, digits and :_.- only`},
		{"template name", func(u *Unit) { u.Name = "corral@x" }, `unit name "corral@x"`},
		{"no user", func(u *Unit) { u.User = "" }, "no user to run the app as"},
	}
	for _, tt := range tests {
		u := app()
		tt.edit(&u)
		_, err := u.Render()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

func TestUnitName(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"/srv/myapp", "corral-myapp"},
		{"/srv/my app", "corral-my-app"},
		{"/home/ann/shop.example.com", "corral-shop.example.com"},
		{"/srv/café", "corral-caf"},
		{"/srv/100%", "corral-100"},
		{"/", "corral"},
		{"/srv/...", "corral"},
		{"/srv/" + strings.Repeat("a", 300), "corral-" + strings.Repeat("a", 200)},
	} {
		got := UnitName(tt.dir)
		if got != tt.want || !validName(got) {
			t.Errorf("UnitName(%q) = %q (valid: %v), want %q", tt.dir, got, validName(got), tt.want)
		}
	}
}

func TestInstall(t *testing.T) {
	u := app()
	for _, tt := range []struct{ path, want string }{
		{"/etc/systemd/system/corral-myapp.service", "start it: sudo systemctl daemon-reload && sudo systemctl enable --now corral-myapp"},
		{"unit files/corral-myapp.service", "install and start it: sudo cp 'unit files/corral-myapp.service' /etc/systemd/system/corral-myapp.service && sudo systemctl daemon-reload && sudo systemctl enable --now corral-myapp"},
		{"/etc/systemd/system/other.service", "install and start it: sudo cp /etc/systemd/system/other.service /etc/systemd/system/corral-myapp.service"},
	} {
		if got := u.Install(tt.path); !strings.HasPrefix(got, tt.want) {
			t.Errorf("Install(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
