package static

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
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
// and headers at a mount with a secret next to it and dotfiles inside it,
// served three ways: plain asset mounts, a whole site (Index and Fallback)
// and a Rails-style public/ (Fallthrough). No response may carry the
// secret, every 200 must be a servable file whole, a redirect must stay on
// this site, and a Fallthrough Match must be a promise ServeHTTP keeps.
func FuzzServe(f *testing.F) {
	dir, files := fixture(f)
	// The site mounts need pages; the plain mounts must not care.
	for name, content := range map[string]string{
		"index.html":      "<h1>home</h1>",
		"index.html.gz":   "GZIP-home",
		"sub/index.html":  "<h1>sub</h1>",
		"sub/.git/x.html": secret,
	} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
		files[name] = content
	}
	plain := newServer(f, Mount{Prefix: "/static/", Dir: dir}, Mount{Prefix: "/static/sub/", Dir: dir + "/sub"})
	// plain with nothing held: what it answers from memory must be what it
	// answers from disk.
	plainDisk := noHold(newServer(f, Mount{Prefix: "/static/", Dir: dir}, Mount{Prefix: "/static/sub/", Dir: dir + "/sub"}))
	site := newServer(f,
		Mount{Prefix: "/static/", Dir: dir, Index: true, Fallback: "index.html"},
		Mount{Prefix: "/", Dir: dir + "/sub", Index: true})
	rails := newServer(f,
		Mount{Prefix: "/static/", Dir: dir, Fallthrough: true, Index: true},
		Mount{Prefix: "/", Dir: dir + "/sub", Fallthrough: true})
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
		{"/static/", "gzip", ""},
		{"/static/sub", "", ""},
		{"/static/sub?x=1", "", ""},
		{"/static/escapedir", "", ""},
		{"/static/escapedir/", "", ""},
		{"/static/users/42", "gzip", "bytes=0-2"},
		{"/static/missing.js", "", ""},
		{"/static/emptydir/", "", ""},
		{"/static/emptydir", "", ""},
		{"/static/sub/.git/", "", ""},
		{"/page.txt", "", ""},
		{"/", "", ""},
		{"/deeper", "", ""},
		{"//evil.example/", "", ""},
		{"/.git", "", ""},
	} {
		f.Add(seed.path, seed.ae, seed.rng)
	}
	f.Fuzz(func(t *testing.T, path, ae, rng string) {
		newRequest := func() *http.Request {
			r := &http.Request{Method: "GET", Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
			if u, err := url.ParseRequestURI(path); err == nil {
				r.URL = u // as the server parses a raw request line
			} else {
				r.URL = &url.URL{Path: path} // any decoded path a proxy might hand over
			}
			return r
		}
		fuzzed := func() *http.Request {
			r := newRequest()
			if ae != "" {
				r.Header.Set("Accept-Encoding", ae)
			}
			if rng != "" {
				r.Header.Set("Range", rng)
			}
			return r
		}
		for _, s := range []*Server{plain, site, rails} {
			r := fuzzed()
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if s == plain {
				dw := httptest.NewRecorder()
				plainDisk.ServeHTTP(dw, fuzzed())
				hh, dh := w.Header().Clone(), dw.Header().Clone()
				hb, db := unbound(hh, w.Body.String()), unbound(dh, dw.Body.String())
				if w.Code != dw.Code || hb != db || !maps.EqualFunc(hh, dh, slices.Equal) {
					t.Fatalf("path %q: held %d %v %q, from disk %d %v %q", path, w.Code, hh, hb, dw.Code, dh, db)
				}
			}
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
			if w.Code >= 300 && w.Code < 400 && w.Code != http.StatusNotModified {
				// The path decides where a browser goes; the query only
				// must not split the header.
				loc := w.Header().Get("Location")
				locPath, _, _ := strings.Cut(loc, "?")
				if s == plain || !strings.HasPrefix(locPath, "/") || strings.HasPrefix(locPath, "//") ||
					strings.ContainsRune(locPath, '\\') || strings.ContainsAny(loc, "\r\n") {
					t.Fatalf("path %q: %d to %q, off this site or from a mount without Index", path, w.Code, loc)
				}
			}
			if s == rails && s.Match(r.URL.Path) {
				// Match took the request from the app: a plain GET must be
				// served, and the fuzzed one too, but for its Range.
				ok := w.Code == http.StatusOK || w.Code == http.StatusPartialContent || w.Code == http.StatusNotModified ||
					(rng != "" && w.Code == http.StatusRequestedRangeNotSatisfiable)
				pw := httptest.NewRecorder()
				s.ServeHTTP(pw, newRequest())
				if !ok || pw.Code != http.StatusOK {
					t.Fatalf("path %q: Match is true on a Fallthrough mount but GET answers %d (%d with its headers)", path, pw.Code, w.Code)
				}
			}
		}
	})
}
