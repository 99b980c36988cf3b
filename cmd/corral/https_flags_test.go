package main

import (
	"strconv"
	"strings"
	"testing"
)

// TestHTTPSFlagErrors: each bad HTTPS setting stops corral before anything
// starts, with a message that names the flag (or variable) and the value.
func TestHTTPSFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"open on-demand", []string{"--on-demand"}, nil, 2, "on-demand: needs --on-demand-ask URL"},
		{"same ports", []string{"--domain", "a.example", "--https-port", "8443", "--http-port", "8443"}, nil, 2, "http-port: 8443 is --https-port too"},
		{"port 0", []string{"--domain", "a.example", "--https-port", "0"}, nil, 2, "https-port: 0 is not a port"},
		{"negative HSTS", []string{"--domain", "a.example", "--hsts-max-age", "-1"}, nil, 2, "hsts-max-age: -1 is negative"},
		{"no edge", []string{"--domain", "a.example", "--no-edge"}, nil, 2, "--no-edge and --domain"},
		{"wildcard", nil, []string{"CORRAL_DOMAINS=ok.example,*.example"}, 1, `--domain "*.example": wildcard`},
		{"URL as domain", []string{"--domain", "https://a.example/"}, nil, 1, "no scheme, port or path"},
		{"http CA", []string{"--domain", "a.example", "--acme-ca", "http://ca.example/dir"}, nil, 1, `--acme-ca "http://ca.example/dir": want an https://`},
		{"no web", []string{"--domain", "a.example", "-m", "web=0"}, nil, 1, "this formation runs no web process"},
		{"missing CA root", []string{"--domain", "a.example", "--acme-ca-root", "nope.pem"}, nil, 1, "--acme-ca-root: open nope.pem"},
		{"storage scheme", []string{"--domain", "a.example", "--storage", "mysql://u:hunter2@db/x"}, nil, 1, `--storage: storage mysql://u:xxxxx@db/x: scheme "mysql" is not one of redis, rediss, postgres, postgresql`},
		{"storage URL", nil, []string{"CORRAL_DOMAINS=a.example", "CORRAL_STORAGE=redis://:hunter2@h:port/0"}, 1, "--storage: cannot parse the storage URL (not shown: it may hold a password)"},
		{"storage lease", []string{"--domain", "a.example", "--storage-lease", "soon"}, nil, 2, `storage-lease: "soon": want seconds or a duration`},
		{"check interval", nil, []string{"CORRAL_DOMAINS=a.example", "CORRAL_CERT_CHECK_INTERVAL=0"}, 2, `cert-check-interval: "0": must be positive (from $CORRAL_CERT_CHECK_INTERVAL)`},
		{"address", []string{"--address", "localhost"}, nil, 2, `address "localhost": not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := app(t, map[string]string{"Procfile": "web: sleep 30\n"})
			// Free ports unless the case says otherwise (the last one given wins).
			args := append([]string{"start", "--cert-dir", t.TempDir(),
				"--https-port", strconv.Itoa(freePort(t)), "--http-port", strconv.Itoa(freePort(t))}, tt.args...)
			code, out, stderr := corral(t, dir, tt.env, args...)
			if code != tt.code || !strings.Contains(stderr+out, tt.want) {
				t.Errorf("status %d, output:\n%s%s\nwant status %d and %q", code, out, stderr, tt.code, tt.want)
			}
			if strings.Contains(stderr+out, "hunter2") {
				t.Errorf("the storage URL's password is in the output:\n%s%s", out, stderr)
			}
			if strings.Contains(out, "started") {
				t.Errorf("something started:\n%s", out)
			}
		})
	}
}
