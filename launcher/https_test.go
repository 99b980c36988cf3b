package launcher

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/corral-run/corral/launcher/platform"
)

func TestRedirectToHTTPS(t *testing.T) {
	for _, tt := range []struct {
		port         int
		host, target string
		code         int
		location     string
	}{
		{443, "example.com", "/a/b?q=1&r=%20", 308, "https://example.com/a/b?q=1&r=%20"},
		{443, "example.com:80", "/", 308, "https://example.com/"},
		{8443, "example.com", "/x", 308, "https://example.com:8443/x"},
		{443, "[::1]:80", "/x", 308, "https://[::1]/x"},
		{443, "", "/x", 400, ""},
		{443, "evil.com/x@", "/x", 400, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, tt.target, nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		redirectToHTTPS(tt.port).ServeHTTP(w, r)
		if w.Code != tt.code || w.Header().Get("Location") != tt.location {
			t.Errorf("port %d, Host %q, %s: %d %q; want %d %q", tt.port, tt.host, tt.target, w.Code, w.Header().Get("Location"), tt.code, tt.location)
		}
	}
}

func TestTrustedProxiesDefault(t *testing.T) {
	some := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tt := range []struct {
		name    string
		environ []string
		set     []netip.Prefix
		https   bool
		want    string
	}{
		{"bare host", nil, nil, false, "[]"},
		{"PaaS", []string{"RENDER=true"}, nil, false, "[0.0.0.0/0 ::/0]"},
		{"PaaS, set", []string{"DYNO=web.1"}, some, false, "[10.0.0.0/8]"},
		{"PaaS, set to none", []string{"DYNO=web.1"}, []netip.Prefix{}, false, "[]"},
		{"PaaS, corral serving HTTPS", []string{"FLY_APP_NAME=x"}, nil, true, "[]"},
	} {
		cfg := Config{Environ: tt.environ}
		cfg.Edge.TrustedProxies = tt.set
		if tt.https {
			cfg.Edge.HTTPS.Domains = []string{"example.com"}
		}
		if got := fmt.Sprint(trustedProxies(cfg.Edge, platform.Detect(tt.environ), slog.New(slog.DiscardHandler))); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
