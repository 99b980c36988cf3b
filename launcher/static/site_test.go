package static

import (
	"cmp"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// site lays out a static site (or a Rails public/ directory) in a temp dir,
// with a secret beside it, and returns the directory.
func site(t testing.TB, files map[string]string) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "site")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"emptydir", "noindex"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for link, target := range map[string]string{
			"escape.txt": "../secret.txt",
			"escapedir":  "..",
			"linkdir":    "docs",
		} {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// siteFiles is a small static site: a home page with a gzip sibling, a
// nested index, a page, assets, a fallback shell and dotfiles; a function,
// so no test can change another's layout.
func siteFiles() map[string]string {
	return map[string]string{
		"index.html":          "<h1>home</h1>",
		"index.html.gz":       "GZIP-index",
		"docs/index.html":     "<h1>docs</h1>",
		"docs/guide.html":     "<h1>guide</h1>",
		"noindex/file.txt":    "file",
		"app.js":              "console.log(1)",
		"app.0123abcd.js":     "hashed",
		"robots.txt":          "User-agent: *",
		".env":                secret,
		"docs/.git/config":    secret,
		"200.html":            "<h1>shell</h1>",
		"assets/logo.svg":     "<svg/>",
		"assets/sub/deep.css": "p{}",
	}
}

// siteCase is a request to a site mount and what must come back.
type siteCase struct {
	name   string
	method string // GET when ""
	target string
	hdr    []string
	code   int
	body   string            // checked when not ""
	want   map[string]string // header values ("" = must be absent)
	link   bool              // needs symlinks
}

// runSiteCases runs each case as a subtest, and checks no response carries
// the secret.
func runSiteCases(t *testing.T, s *Server, tests []siteCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.link && runtime.GOOS == "windows" {
				t.Skip("no symlinks")
			}
			method := cmp.Or(tt.method, "GET")
			w := do(s, method, tt.target, tt.hdr...)
			if w.Code != tt.code {
				t.Fatalf("%s %s: status %d, want %d (body %q)", method, tt.target, w.Code, tt.code, w.Body)
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body, tt.body)
			}
			if strings.Contains(w.Body.String(), secret[:6]) {
				t.Errorf("served the secret")
			}
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestIndex: a directory's index.html for a path with its slash, a
// redirect for one without, never a listing.
func TestIndex(t *testing.T) {
	dir := site(t, siteFiles())
	s := newServer(t, Mount{Prefix: "/", Dir: dir, Index: true}, Mount{Prefix: "/nested/", Dir: filepath.Join(dir, "docs"), Index: true})
	const html = "text/html; charset=utf-8"
	type H = map[string]string
	home := do(s, "GET", "/")
	runSiteCases(t, s, []siteCase{
		{name: "root", target: "/", code: 200, body: "<h1>home</h1>",
			want: H{"Content-Type": html, "Cache-Control": "no-cache", "Vary": "Accept-Encoding", "Content-Encoding": "", "Location": ""}},
		{name: "root gzip", target: "/", hdr: []string{"Accept-Encoding", "gzip, br"}, code: 200, body: "GZIP-index",
			want: H{"Content-Type": html, "Cache-Control": "no-cache", "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}},
		{name: "root revalidated", target: "/", hdr: []string{"If-None-Match", home.Header().Get("Etag")}, code: 304,
			want: H{"Cache-Control": "no-cache"}},
		{name: "root query", target: "/?utm=x", code: 200, body: "<h1>home</h1>"},
		{name: "nested", target: "/docs/", code: 200, body: "<h1>docs</h1>", want: H{"Content-Type": html, "Cache-Control": "no-cache", "Vary": ""}},
		{name: "index.html itself", target: "/docs/index.html", code: 200, body: "<h1>docs</h1>"},
		{name: "page", target: "/docs/guide.html", code: 200, body: "<h1>guide</h1>", want: H{"Cache-Control": "no-cache"}},
		{name: "asset", target: "/app.js", code: 200, want: H{"Cache-Control": "public, max-age=60"}},
		{name: "hashed asset", target: "/app.0123abcd.js", code: 200, want: H{"Cache-Control": "public, max-age=31536000, immutable"}},
		{name: "no slash", target: "/docs", code: 301, want: H{"Location": "/docs/", "Cache-Control": ""}},
		{name: "no slash query", target: "/docs?a=1&b=%20x", code: 301, want: H{"Location": "/docs/?a=1&b=%20x"}},
		{name: "no slash HEAD", method: "HEAD", target: "/docs?q", code: 301, want: H{"Location": "/docs/?q"}},
		{name: "no slash escaped", target: "/d%6fcs", code: 301, want: H{"Location": "/d%6fcs/"}},
		{name: "symlinked dir", target: "/linkdir", code: 301, want: H{"Location": "/linkdir/"}, link: true},
		{name: "symlinked dir index", target: "/linkdir/", code: 200, body: "<h1>docs</h1>", link: true},
		{name: "dir without index", target: "/noindex/", code: 404},
		{name: "dir without index no slash", target: "/noindex", code: 404, want: H{"Location": ""}},
		{name: "empty dir", target: "/emptydir/", code: 404},
		{name: "file in dir without index", target: "/noindex/file.txt", code: 200, body: "file"},
		{name: "file with slash", target: "/app.js/", code: 404},
		{name: "missing", target: "/users/42", code: 404},
		{name: "double slash", target: "/docs//", code: 404},
		{name: "dotfile", target: "/.env", code: 404},
		{name: "dot dir", target: "/docs/.git/", code: 404},
		{name: "dot dir no slash", target: "/docs/.git", code: 404, want: H{"Location": ""}},
		{name: "dotdot", target: "/docs/../", code: 404},
		{name: "encoded dotdot", target: "/%2e%2e/", code: 404},
		{name: "escaping dir", target: "/escapedir", code: 404, want: H{"Location": ""}, link: true},
		{name: "escaping dir slash", target: "/escapedir/", code: 404, link: true},
		{name: "escaping file", target: "/escape.txt", code: 404, link: true},
		{name: "backslash", target: "/docs\\", code: 400},
		{name: "post", method: "POST", target: "/", code: 405, want: H{"Allow": "GET, HEAD"}},
		{name: "prefixed mount", target: "/nested/", code: 200, body: "<h1>docs</h1>"},
		{name: "prefixed page", target: "/nested/guide.html", code: 200, body: "<h1>guide</h1>"},
	})
}

// TestFallback: client routes (no extension) get the app shell, missing
// assets a 404.
func TestFallback(t *testing.T) {
	dir := site(t, siteFiles())
	s := newServer(t,
		Mount{Prefix: "/", Dir: dir, Index: true, Fallback: "index.html"},
		Mount{Prefix: "/app/", Dir: dir, Fallback: "/200.html"},
		Mount{Prefix: "/gone/", Dir: dir, Index: true, Fallback: "missing.html"},
	)
	const html = "text/html; charset=utf-8"
	type H = map[string]string
	shell := do(s, "GET", "/users/42")
	runSiteCases(t, s, []siteCase{
		{name: "client route", target: "/users/42", code: 200, body: "<h1>home</h1>",
			want: H{"Content-Type": html, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}},
		{name: "client route HEAD", method: "HEAD", target: "/users/42", code: 200,
			want: H{"Content-Type": html, "Cache-Control": "no-cache", "Content-Length": "13"}},
		{name: "client route gzip", target: "/users/42", hdr: []string{"Accept-Encoding", "gzip"}, code: 200, body: "GZIP-index",
			want: H{"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}},
		{name: "client route revalidated", target: "/settings", hdr: []string{"If-None-Match", shell.Header().Get("Etag")}, code: 304},
		{name: "client route query", target: "/users?page=2", code: 200, body: "<h1>home</h1>"},
		{name: "missing asset", target: "/missing.js", code: 404},
		{name: "missing nested asset", target: "/users/42/avatar.png", code: 404},
		{name: "dotted segment", target: "/releases/v1.2", code: 404},
		{name: "dotted dir then route", target: "/v1.2/users", code: 200, body: "<h1>home</h1>"},
		{name: "real file wins", target: "/app.js", code: 200, body: "console.log(1)", want: H{"Cache-Control": "public, max-age=60"}},
		{name: "index still served", target: "/docs/", code: 200, body: "<h1>docs</h1>"},
		{name: "redirect still", target: "/docs", code: 301, want: H{"Location": "/docs/"}},
		{name: "dir without index", target: "/noindex/", code: 200, body: "<h1>home</h1>"},
		{name: "route with slash", target: "/users/42/", code: 200, body: "<h1>home</h1>"},
		{name: "dotfile not routed", target: "/.env", code: 404},
		{name: "dot dir not routed", target: "/docs/.git/config", code: 404},
		{name: "dotdot not routed", target: "/users/../x", code: 404},
		{name: "nul not routed", target: "/users%00", code: 400},
		{name: "post", method: "POST", target: "/users/42", code: 405},
		{name: "escaping dir falls back", target: "/escapedir", code: 200, body: "<h1>home</h1>", link: true},
		{name: "escaping file", target: "/escape.txt", code: 404, link: true},
		{name: "slash fallback name", target: "/app/users/42", code: 200, body: "<h1>shell</h1>", want: H{"Cache-Control": "no-cache"}},
		{name: "no index: prefix itself", target: "/app/", code: 404},
		{name: "fallback file missing", target: "/gone/users/42", code: 404},
		{name: "fallback file missing HEAD", method: "HEAD", target: "/gone/users/42", code: 404},
	})
}

// TestFallthrough: Match only for files that are there, so the app gets
// the rest, and what Match claims ServeHTTP serves.
func TestFallthrough(t *testing.T) {
	dir := site(t, siteFiles())
	other := site(t, map[string]string{"x.css": "other x", "index.html": "other index"})
	rails := newServer(t, Mount{Prefix: "/", Dir: dir, Fallthrough: true}, Mount{Prefix: "/static/", Dir: other})
	indexed := newServer(t, Mount{Prefix: "/", Dir: dir, Fallthrough: true, Index: true})
	bare := newServer(t, Mount{Prefix: "/", Dir: site(t, map[string]string{"docs/index.html": "d"}), Fallthrough: true, Index: true})
	if runtime.GOOS != "windows" {
		if err := mkfifo(filepath.Join(dir, "pipe.txt")); err != nil {
			t.Log("mkfifo:", err)
		}
	}
	tests := []struct {
		s    *Server
		path string
		want bool
	}{
		{rails, "/robots.txt", true},
		{rails, "/assets/logo.svg", true},
		{rails, "/assets/sub/deep.css", true},
		{rails, "/200.html", true},
		{rails, "/users/42", false},
		{rails, "/missing.js", false},
		{rails, "/", false}, // no Index: the app's root route
		{rails, "/docs/", false},
		{rails, "/docs", false},
		{rails, "/assets", false},
		{rails, "/assets/", false},
		{rails, "/noindex/", false},
		{rails, "/.env", false},
		{rails, "/docs/.git/config", false},
		{rails, "/assets/../robots.txt", false},
		{rails, "/../secret.txt", false},
		{rails, "/%2e%2e/secret.txt", false}, // a literal name: none such
		{rails, "/escape.txt", false},
		{rails, "/escapedir/secret.txt", false},
		{rails, "/robots.txt\x00", false},
		{rails, "/robots.txt/", false},
		{rails, "/assets\\logo.svg", false},
		{rails, "//robots.txt", false},
		{rails, "/pipe.txt", false},
		{rails, "", false},
		{rails, "robots.txt", false},
		{rails, "/static/x.css", true},       // the longer plain mount
		{rails, "/static/missing.css", true}, // …answers its misses itself
		{rails, "/static", false},
		{indexed, "/", true},
		{indexed, "/docs/", true},
		{indexed, "/docs", false}, // the app gets it: a redirect is no file
		{indexed, "/linkdir/", runtime.GOOS != "windows"},
		{indexed, "/noindex/", false},
		{indexed, "/emptydir/", false},
		{indexed, "/docs//", false},
		{indexed, "/robots.txt", true},
		{bare, "/", false}, // Index, but no index.html
		{bare, "/docs/", true},
	}
	for _, tt := range tests {
		got := tt.s.Match(tt.path)
		if got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.path, got, tt.want)
		}
		if got {
			// What Match claims, ServeHTTP serves.
			r := httptest.NewRequest("GET", "/", nil)
			r.URL = &url.URL{Path: tt.path}
			w := httptest.NewRecorder()
			tt.s.ServeHTTP(w, r)
			if w.Code != 200 && !strings.HasPrefix(tt.path, "/static/missing") {
				t.Errorf("GET %q after Match: status %d, want 200", tt.path, w.Code)
			}
		}
	}
	if w := do(rails, "GET", "/static/x.css"); w.Code != 200 || w.Body.String() != "other x" {
		t.Errorf("/static/x.css: %d %q, want the /static/ mount's file", w.Code, w.Body)
	}
	if w := do(rails, "GET", "/robots.txt"); w.Code != 200 || w.Body.String() != "User-agent: *" {
		t.Errorf("/robots.txt: %d %q", w.Code, w.Body)
	}
	// A file appearing on disk is matched at once: misses are not cached.
	if err := os.WriteFile(filepath.Join(dir, "late.txt"), []byte("late"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !rails.Match("/late.txt") {
		t.Error("a file written after New is not matched")
	}
	rails.Close()
	if rails.Match("/robots.txt") {
		t.Error("Match after Close is true: the request would get a 404 instead of the app")
	}
}

// TestNewSiteMounts: "/" only for a whole site or try_files, and a
// fallback that stays inside the directory.
func TestNewSiteMounts(t *testing.T) {
	dir := site(t, siteFiles())
	for _, tt := range []struct {
		name    string
		m       Mount
		wantErr string // "" means success
	}{
		{"root plain", Mount{Prefix: "/", Dir: dir}, `URL prefix "/" would hide the whole app`},
		{"root fallback only", Mount{Prefix: "/", Dir: dir, Fallback: "index.html"}, "hide the whole app"},
		{"root index", Mount{Prefix: "/", Dir: dir, Index: true}, ""},
		{"root fallthrough", Mount{Prefix: "/", Dir: dir, Fallthrough: true}, ""},
		{"root everything", Mount{Prefix: "/", Dir: dir, Index: true, Fallback: "index.html"}, ""},
		{"empty prefix", Mount{Prefix: "", Dir: dir, Index: true}, "empty URL prefix"},
		{"double slash", Mount{Prefix: "//", Dir: dir, Index: true}, "not a clean path"},
		{"fallback and fallthrough", Mount{Prefix: "/", Dir: dir, Index: true, Fallthrough: true, Fallback: "index.html"}, "choose one"},
		{"fallback slash", Mount{Prefix: "/app/", Dir: dir, Fallback: "/index.html"}, ""},
		{"fallback nested", Mount{Prefix: "/app/", Dir: dir, Fallback: "docs/index.html"}, ""},
		{"fallback missing is fine", Mount{Prefix: "/app/", Dir: dir, Fallback: "later.html"}, ""},
		{"fallback dotdot", Mount{Prefix: "/app/", Dir: dir, Fallback: "../secret.txt"}, "not a file name inside"},
		{"fallback dotfile", Mount{Prefix: "/app/", Dir: dir, Fallback: ".env"}, "not a file name inside"},
		{"fallback dir", Mount{Prefix: "/app/", Dir: dir, Fallback: "docs/"}, "not a file name inside"},
		{"fallback slash only", Mount{Prefix: "/app/", Dir: dir, Fallback: "/"}, "not a file name inside"},
		{"fallback backslash", Mount{Prefix: "/app/", Dir: dir, Fallback: `..\secret.txt`}, "not a file name inside"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New([]Mount{tt.m})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New(%+v): %v", tt.m, err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New(%+v) succeeded, want error containing %q", tt.m, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New(%+v) error %q, want it to contain %q", tt.m, err, tt.wantErr)
			}
		})
	}
	// The flag keeps refusing "/": it cannot set Index or Fallthrough.
	if m, err := ParseMount("/=public"); err == nil || !strings.Contains(err.Error(), "hide the whole app") {
		t.Errorf(`ParseMount("/=public") = %+v, %v; want the "hide the whole app" error`, m, err)
	}
	// String is unchanged by the new fields.
	if got := (Mount{Prefix: "/", Dir: "public", Fallthrough: true, Index: true, Fallback: "x"}).String(); got != "/=public" {
		t.Errorf("String() = %q", got)
	}
}

// TestCacheControlHTML: HTML revalidates, unless its name is hashed.
func TestCacheControlHTML(t *testing.T) {
	for name, want := range map[string]string{
		"index.html":             "no-cache",
		"docs/page.htm":          "no-cache",
		"UPPER.HTML":             "no-cache",
		"index.html.gz":          "no-cache",
		"page.0123abcd89ef.html": "public, max-age=31536000, immutable",
		"app.css":                "public, max-age=60",
		"html":                   "public, max-age=60",
		"a.html.txt":             "public, max-age=60",
	} {
		if got := cacheControl(filepath.FromSlash(name)); got != want {
			t.Errorf("cacheControl(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestEscapeCTL: a redirect's query cannot split its Location header.
func TestEscapeCTL(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"a=1&b=%20":          "a=1&b=%20",
		"a b":                "a%20b",
		"x\r\nSet-Cookie: y": "x%0D%0ASet-Cookie:%20y",
		"é":                  "%C3%A9",
		"\x7f\x00":           "%7F%00",
	} {
		if got := escapeCTL(in); got != want {
			t.Errorf("escapeCTL(%q) = %q, want %q", in, got, want)
		}
	}
	// A raw query a proxy might hand over cannot split the Location header.
	dir := site(t, siteFiles())
	s := newServer(t, Mount{Prefix: "/", Dir: dir, Index: true})
	r := httptest.NewRequest("GET", "/docs", nil)
	r.URL.RawQuery = "a\r\nSet-Cookie: x"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if loc := w.Header().Get("Location"); w.Code != 301 || loc != "/docs/?a%0D%0ASet-Cookie:%20x" {
		t.Errorf("raw query: %d, Location %q", w.Code, loc)
	}
}
