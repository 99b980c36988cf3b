package main

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// unitLines returns the directive lines of the unit file at path.
func unitLines(t *testing.T, path string) (unit string, directives map[string]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	directives = map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			directives[k] = v
		}
	}
	return string(data), directives
}

// TestExportSystemdVerify: the units corral export systemd writes, for
// plain HTTP, for HTTPS on 443 and 80, for an app and a binary in
// directories with spaces, % and $ in their names, and for root, pass
// systemd-analyze verify without a word: no error, no warning of a
// setting ignored, and the program ExecStart names is there.
func TestExportSystemdVerify(t *testing.T) {
	needTool(t, "systemd-analyze")
	odd := filepath.Join(t.TempDir(), "bin dir 100%$x")
	if err := os.Mkdir(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, corralBin, filepath.Join(odd, "corral"), 0o755)
	tests := []struct {
		name, appName, bin string
		args               []string
		want               map[string]string
	}{
		{name: "plain", appName: "shop", args: []string{"--user", "daemon"},
			want: map[string]string{"User": "daemon", "CapabilityBoundingSet": "", "TimeoutStopSec": "15"}},
		{name: "https", appName: "shop", args: []string{"--domain", "shop.example.com", "--acme-email", "ops@example.com", "--user", "daemon", "-t", "20"},
			want: map[string]string{"AmbientCapabilities": "CAP_NET_BIND_SERVICE", "StateDirectory": "corral-shop", "TimeoutStopSec": "25"}},
		{name: "odd paths", appName: "my shop 100%$x", bin: filepath.Join(odd, "corral"), args: []string{"--port", "80", "-m", "web=1", "--user", "daemon"},
			want: map[string]string{"WorkingDirectory": "", "AmbientCapabilities": "CAP_NET_BIND_SERVICE"}},
		{name: "root", appName: "shop", args: []string{"--user", "root", "--port", "8000"},
			want: map[string]string{"User": "root"}},
		// A password stays out of the unit, which every user may read.
		{name: "storage password", appName: "shop", args: []string{"--user", "daemon", "--domain", "shop.example.com", "--storage", "redis://:s3cret@127.0.0.1:6379/0"},
			want: map[string]string{"EnvironmentFile": "/etc/corral/corral-shop.env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tt.appName)
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, content := range map[string]string{"Procfile": "web: python3 -m http.server $PORT\n", ".env": "export SECRET=\"a\\nb\" # not systemd's\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			units := t.TempDir()
			bin := corralBin
			if tt.bin != "" {
				bin = tt.bin
			}
			r := startCmd(t, exec.Command(bin, append([]string{"export", "systemd", "-o", units}, tt.args...)...), dir, nil)
			if code := r.wait(30 * time.Second); code != 0 {
				t.Fatalf("exit %d: %s%s", code, r.output(), r.stderr())
			}
			name := "corral-" + strings.Trim(strings.Map(func(r rune) rune {
				if strings.ContainsRune(" %$", r) {
					return '-'
				}
				return r
			}, tt.appName), "-")
			path := filepath.Join(units, name+".service")
			if !strings.Contains(r.output(), "wrote "+path) || !strings.Contains(r.output(), "systemctl enable --now "+name) {
				t.Errorf("output:\n%s", r.output())
			}
			unit, ds := unitLines(t, path)
			tt.want["WorkingDirectory"] = strings.ReplaceAll(dir, "%", "%%")
			for k, v := range tt.want {
				if ds[k] != v {
					t.Errorf("%s=%s, want %s", k, ds[k], v)
				}
			}
			if _, ok := ds["EnvironmentFile"]; ok && tt.want["EnvironmentFile"] == "" {
				t.Errorf("EnvironmentFile= in\n%s", unit)
			}
			if strings.Contains(unit+r.output()+r.stderr(), "s3cret") {
				t.Errorf("the password is in the unit or the output:\n%s\n%s%s", unit, r.output(), r.stderr())
			}
			if tt.want["EnvironmentFile"] != "" && !strings.Contains(r.output(), "write CORRAL_STORAGE (NAME=value lines) to /etc/corral/corral-shop.env") {
				t.Errorf("the install hint does not say where the password goes:\n%s", r.output())
			}
			out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s\nthe unit:\n%s", err, out, unit)
			}
		})
	}
}

// TestExportSystemd: what corral export systemd passes on to corral
// start, where it writes, and what it refuses.
func TestExportSystemd(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: python3 -m http.server $PORT\n"})
	export := func(env []string, args ...string) (int, string, string) {
		t.Helper()
		return corral(t, dir, env, append([]string{"export"}, args...)...)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("flags pass on", func(t *testing.T) {
		code, out, errs := export([]string{"CORRAL_FORMATION=web=2"}, "systemd", "--timeout", "20", "--domain", "example.com", "--cert-dir", "certs", "--user", me.Username, "--no-access-log")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		want := "ExecStart=" + corralBin + " start --dir " + dir + " --formation web=2 --timeout 20 --no-access-log --domain example.com --cert-dir " + filepath.Join(dir, "certs")
		if !strings.Contains(out, want+"\n") {
			t.Errorf("no %s in\n%s", want, out)
		}
		for _, line := range []string{"TimeoutStopSec=25", "User=" + me.Username} {
			if !strings.Contains(out, "\n"+line+"\n") {
				t.Errorf("no %s in\n%s", line, out)
			}
		}
		if strings.Contains(out, "StateDirectory=") {
			t.Errorf("StateDirectory= with --cert-dir:\n%s", out)
		}
	})

	t.Run("the owner by default, never root unasked", func(t *testing.T) {
		code, out, errs := export(nil, "systemd")
		if os.Geteuid() == 0 {
			if code != 2 || !strings.Contains(errs, "belongs to root, and a web app should not run as root") {
				t.Errorf("as root: exit %d, %s", code, errs)
			}
			return
		}
		if code != 0 || !strings.Contains(out, "\nUser="+me.Username+"\n") {
			t.Errorf("exit %d, %s\n%s", code, errs, out)
		}
	})

	t.Run("nobody", func(t *testing.T) {
		code, out, errs := export(nil, "systemd", "--user", "nobody")
		if code != 0 || !strings.Contains(out, "\nUser=nobody\n") || !strings.Contains(errs, "--user nobody: nobody is shared by unrelated daemons") {
			t.Errorf("exit %d, %s\n%s", code, errs, out)
		}
	})

	t.Run("-o", func(t *testing.T) {
		units := t.TempDir()
		path := filepath.Join(units, "web.service")
		if code, out, errs := export(nil, "systemd", "--user", "daemon", "-o", path); code != 0 || !strings.Contains(out, "wrote "+path) || !strings.Contains(out, "sudo cp "+path+" /etc/systemd/system/web.service") {
			t.Fatalf("exit %d, %s\n%s", code, errs, out)
		}
		if unit, ds := unitLines(t, path); ds["SyslogIdentifier"] != "web" {
			t.Errorf("a unit named after its file, web.service, wants SyslogIdentifier=web:\n%s", unit)
		}
		// Its own unit, it replaces; another file, it leaves.
		if code, _, errs := export(nil, "systemd", "--user", "daemon", "-o", path, "-t", "30"); code != 0 {
			t.Fatalf("exit %d, %s", code, errs)
		}
		if _, ds := unitLines(t, path); ds["TimeoutStopSec"] != "35" {
			t.Errorf("not replaced: TimeoutStopSec=%s", ds["TimeoutStopSec"])
		}
		other := filepath.Join(units, "Procfile")
		os.WriteFile(other, []byte("web: x\n"), 0o644)
		if code, _, errs := export(nil, "systemd", "--user", "daemon", "-o", other); code != 1 || !strings.Contains(errs, "a file corral export did not write is there") {
			t.Errorf("exit %d, %s", code, errs)
		}
		if data, _ := os.ReadFile(other); string(data) != "web: x\n" {
			t.Errorf("overwritten: %q", data)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"bad flag value", []string{"systemd", "--user", "daemon", "--timeout", "soon"}, 2, `timeout "soon": want seconds or a duration`},
		{"arguments", []string{"systemd", "web", "--user", "daemon"}, 2, `export systemd takes no arguments, not "web"`},
		{"another format", []string{"upstart"}, 2, `export "upstart": the one format is systemd`},
		{"a flag without its value", []string{"systemd", "--user"}, 2, "flag needs an argument: -user (see corral export systemd --help)"},
		{"an unknown flag", []string{"systemd", "--bogus"}, 2, "flag provided but not defined: -bogus (see corral export systemd --help)"},
		{"a broken app", []string{"systemd", "--user", "daemon", "-f", "Broken"}, 1, "Broken:1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, "Broken"), []byte("web: echo 'unbalanced\n"), 0o644)
			code, out, errs := export(nil, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) || strings.Contains(out, "[Service]") {
				t.Errorf("exit %d (want %d), stderr %s (want %q), stdout %s", code, tt.code, errs, tt.want, out)
			}
		})
	}
}
