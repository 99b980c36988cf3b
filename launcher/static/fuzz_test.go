package static

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseMount(f *testing.F) {
	for _, s := range []string{
		"/static/=staticfiles", "/static=staticfiles", "=", "/=x", "//=x", "/a/../b=c",
		"/x/=a=b", "static=x", "/s%20/=d", "/\x00/=d", "/é/=d", "/a/./=d", "/a b=c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMount(s)
		if err != nil {
			if !strings.Contains(err.Error(), "static mount") {
				t.Errorf("error %q does not say it is about a static mount", err)
			}
			return
		}
		if !strings.HasPrefix(m.Prefix, "/") || !strings.HasSuffix(m.Prefix, "/") || m.Prefix == "/" {
			t.Errorf("ParseMount(%q) prefix %q", s, m.Prefix)
		}
		if strings.Contains(m.Prefix, "//") || strings.Contains(m.Prefix, "/../") || strings.Contains(m.Prefix, "/./") {
			t.Errorf("ParseMount(%q) prefix %q is not clean", s, m.Prefix)
		}
		if m.Dir == "" {
			t.Errorf("ParseMount(%q) empty dir", s)
		}
		again, err := ParseMount(m.String())
		if err != nil || again != m {
			t.Errorf("ParseMount(%q) = %+v does not round-trip: %+v, %v", s, m, again, err)
		}
	})
}

// FuzzServe throws request paths (raw request targets and decoded paths)
// and headers at a mount with a secret next to it and dotfiles inside it.
// No response may carry the secret, and every 200 must be a servable file
// whole.
func FuzzServe(f *testing.F) {
	dir, files := fixture(f)
	s := newServer(f, Mount{"/static/", dir}, Mount{"/static/sub/", dir + "/sub"})
	servable := map[string]bool{}
	for _, c := range files {
		if c != secret {
			servable[c] = true
		}
	}
	for _, seed := range []struct{ path, ae, rng string }{
		{"/static/app.css", "", ""},
		{"/static/app.css", "br", "bytes=0-3"},
		{"/static/app.css", "gzip;q=0.5, br;q=0.4", "bytes=0-1,3-4"},
		{"/static/../secret.txt", "", ""},
		{"/static/%2e%2e/secret.txt", "", ""},
		{"/static/..%2fsecret.txt", "", ""},
		{"/static/escape.txt", "", ""},
		{"/static/escapedir/secret.txt", "", ""},
		{"/static/escapedir/static/app.css", "", ""},
		{"/static/abs.txt", "", ""},
		{"/static/.env", "", ""},
		{"/static/sub/.git/config", "", ""},
		{"/static/sub/%2egit/config", "", ""},
		{"static/../../secret.txt", "", ""},
		{"/static/sub\\..\\..\\secret.txt", "*", "bytes=-5"},
		{"/static/app.css%00", "", ""},
		{"/static//etc/passwd", "", ""},
		{"/static/sub/", "", ""},
		{"/static/sub/page.txt", "", ""},
	} {
		f.Add(seed.path, seed.ae, seed.rng)
	}
	f.Fuzz(func(t *testing.T, path, ae, rng string) {
		r := &http.Request{Method: "GET", Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		if u, err := url.ParseRequestURI(path); err == nil {
			r.URL = u // as the server parses a raw request line
		} else {
			r.URL = &url.URL{Path: path} // any decoded path a proxy might hand over
		}
		if ae != "" {
			r.Header.Set("Accept-Encoding", ae)
		}
		if rng != "" {
			r.Header.Set("Range", rng)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		body := w.Body.String()
		if w.Code < 400 && strings.Contains(body, secret[:6]) {
			t.Fatalf("path %q: status %d served the secret: %q", path, w.Code, body)
		}
		if w.Code == http.StatusOK && !servable[body] {
			t.Fatalf("path %q: 200 with a body that is no servable file: %q", path, body)
		}
		if w.Code == http.StatusPartialContent && !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/") {
			found := false
			for c := range servable {
				found = found || strings.Contains(c, body)
			}
			if !found {
				t.Fatalf("path %q range %q: 206 with bytes of no servable file: %q", path, rng, body)
			}
		}
		if w.Code == http.StatusOK && !s.Match(r.URL.Path) {
			t.Fatalf("path %q: 200 for a path Match refuses", path)
		}
	})
}
