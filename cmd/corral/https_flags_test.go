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
			if strings.Contains(out, "started") {
				t.Errorf("something started:\n%s", out)
			}
		})
	}
}
