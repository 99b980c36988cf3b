package static

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// secret is the content of files that must never be served: one next to
// the static directory, and dotfiles inside it.
const secret = "TOPSECRET-do-not-serve"

// fixture lays out a temp dir with a static directory and a secret beside it
// and returns the static directory.
func fixture(t testing.TB) (dir string, files map[string]string) {
	t.Helper()
	base := t.TempDir()
	dir = filepath.Join(base, "static")
	files = map[string]string{
		"app.css":                       "body{color:red}\n",
		"app.css.br":                    "BROTLI-app.css",
		"app.css.gz":                    "GZIP-app.css-longer",
		"only.js":                       "console.log(1)\n",
		"only.js.gz":                    "GZIP-only.js",
		"brotli.svg":                    "<svg/>",
		"brotli.svg.br":                 "BROTLI-svg",
		"main.0123abcd89ef.css":         "h1{}\n",
		"digits.txt":                    "0123456789abcdefghijklmnopqrstuvwxyz",
		"sub/page.txt":                  "sub page\n",
		"sub/deeper/x.webmanifest":      "{}",
		"font.woff2":                    "wOF2",
		"mod.wasm":                      "\x00asm",
		"noext":                         "plain",
		"UPPER.CSS":                     "p{}",
		"data.json":                     "{}",
		"sub/.git/config":               secret,
		".env":                          secret,
		".hidden/inside.txt":            secret,
		"dirsibling.css.gz/placeholder": "x", // a directory named like a sibling
	}
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "dirsibling.css"), []byte("dirsibling"), 0o644); err != nil {
		t.Fatal(err)
	}
	files["dirsibling.css"] = "dirsibling"
	if err := os.MkdirAll(filepath.Join(dir, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "secret.txt"), []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for link, target := range map[string]string{
			"escape.txt":   "../secret.txt",
			"escapedir":    "..",
			"abs.txt":      filepath.Join(base, "secret.txt"),
			"inner.css":    "app.css",
			"sub/up.css":   "../app.css",
			"dangling.css": "nope.css",
		} {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
		files["inner.css"] = files["app.css"]
		files["sub/up.css"] = files["app.css"]
	}
	return dir, files
}

func newServer(t testing.TB, mounts ...Mount) *Server {
	t.Helper()
	s, err := New(mounts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func do(s http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestParseMount(t *testing.T) {
	tests := []struct {
		in      string
		want    Mount
		wantErr string // substring; "" means success
	}{
		{in: "/static/=staticfiles", want: Mount{Prefix: "/static/", Dir: "staticfiles"}},
		{in: "/static=staticfiles", want: Mount{Prefix: "/static/", Dir: "staticfiles"}},
		{in: "/static/=staticfiles/", want: Mount{Prefix: "/static/", Dir: "staticfiles"}},
		{in: "/a/b/=/srv/www", want: Mount{Prefix: "/a/b/", Dir: "/srv/www"}},
		{in: "/media/=dir=with=equals", want: Mount{Prefix: "/media/", Dir: "dir=with=equals"}},
		{in: "/.well-known/=wk", want: Mount{Prefix: "/.well-known/", Dir: "wk"}},
		{in: "/static/staticfiles", wantErr: "missing '='"},
		{in: "", wantErr: "missing '='"},
		{in: "=staticfiles", wantErr: "empty URL prefix"},
		{in: "/static/=", wantErr: "empty directory"},
		{in: "static/=staticfiles", wantErr: "does not start with '/'"},
		{in: "/=public", wantErr: "hide the whole app"},
		{in: "//=public", wantErr: "not a clean path"},
		{in: "/a//b/=d", wantErr: "not a clean path"},
		{in: "/a/../b/=d", wantErr: "not a clean path"},
		{in: "/./=d", wantErr: "not a clean path"},
		{in: "/sta tic/=d", wantErr: "space or control"},
		{in: "/static?x/=d", wantErr: "path only"},
		{in: "/st%61tic/=d", wantErr: "decoded"},
		{in: `/st\atic/=d`, wantErr: "backslash"},
		{in: "/static/=d\x00", wantErr: "NUL"},
	}
	for _, tt := range tests {
		got, err := ParseMount(tt.in)
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("ParseMount(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
				continue
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("ParseMount(%q) error %q, want it to name the value and contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseMount(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir, _ := fixture(t)
	file := filepath.Join(dir, "app.css")
	missing := filepath.Join(dir, "nope")
	tests := []struct {
		name    string
		mounts  []Mount
		wantErr []string
	}{
		{"missing", []Mount{{Prefix: "/static/", Dir: missing}}, []string{"/static/=" + missing, "does not exist"}},
		{"not a dir", []Mount{{Prefix: "/static/", Dir: file}}, []string{"/static/=" + file, "not a directory"}},
		{"bad prefix", []Mount{{Prefix: "static", Dir: dir}}, []string{"does not start with '/'"}},
		{"empty dir", []Mount{{Prefix: "/static/", Dir: ""}}, []string{"empty directory"}},
		{"duplicate", []Mount{{Prefix: "/static/", Dir: dir}, {Prefix: "/static", Dir: dir}}, []string{"already mounted"}},
		{"second bad", []Mount{{Prefix: "/static/", Dir: dir}, {Prefix: "/media/", Dir: missing}}, []string{"/media/", "does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.mounts)
			if err == nil {
				s.Close()
				t.Fatalf("New(%v) succeeded, want error", tt.mounts)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMatchAndOverlap(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir}, Mount{Prefix: "/static/sub/", Dir: filepath.Join(dir, "sub", "deeper")}, Mount{Prefix: "/media", Dir: filepath.Join(dir, "sub")})
	for path, want := range map[string]bool{
		"/static/app.css":   true,
		"/static/":          true,
		"/static":           false,
		"/staticky/app.css": false,
		"/":                 false,
		"/app.css":          false,
		"/media/page.txt":   true,
		"/media":            false,
		"/static/../admin/": true, // routed here, refused here: never the app
	} {
		if got := s.Match(path); got != want {
			t.Errorf("Match(%q) = %v, want %v", path, got, want)
		}
	}
	// The longer prefix wins: /static/sub/ is the deeper directory.
	if w := do(s, "GET", "/static/sub/x.webmanifest"); w.Code != 200 || w.Body.String() != "{}" {
		t.Errorf("overlap: got %d %q, want the file from the longer mount", w.Code, w.Body)
	}
	if w := do(s, "GET", "/static/sub/page.txt"); w.Code != 404 {
		t.Errorf("overlap: got %d, want 404 (page.txt is not in the longer mount's dir)", w.Code)
	}
	if w := do(s, "GET", "/media/page.txt"); w.Code != 200 || w.Body.String() != "sub page\n" {
		t.Errorf("/media: got %d %q", w.Code, w.Body)
	}
	if w := do(s, "GET", "/other/app.css"); w.Code != 404 {
		t.Errorf("unmatched path: got %d, want 404", w.Code)
	}
}

func TestServe(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	const immutable = "public, max-age=31536000, immutable"
	const short = "public, max-age=60"
	type H = map[string]string
	tests := []struct {
		name    string
		method  string
		target  string
		hdr     []string
		code    int
		body    string // checked when not ""
		want    H      // header values ("" = must be absent)
		symlink bool   // needs symlinks
	}{
		{name: "plain", target: "/static/app.css", code: 200, body: "body{color:red}\n",
			want: H{"Content-Type": "text/css; charset=utf-8", "Cache-Control": short, "X-Content-Type-Options": "nosniff",
				"Vary": "Accept-Encoding", "Content-Encoding": "", "Accept-Ranges": "bytes", "Content-Length": "16"}},
		{name: "query ignored", target: "/static/app.css?v=3", code: 200, body: "body{color:red}\n"},
		{name: "hashed django", target: "/static/main.0123abcd89ef.css", code: 200, want: H{"Cache-Control": immutable, "Vary": ""}},
		{name: "sub dir", target: "/static/sub/page.txt", code: 200, body: "sub page\n", want: H{"Content-Type": "text/plain; charset=utf-8"}},
		{name: "js", target: "/static/only.js", code: 200, want: H{"Content-Type": "text/javascript; charset=utf-8"}},
		{name: "woff2", target: "/static/font.woff2", code: 200, want: H{"Content-Type": "font/woff2"}},
		{name: "wasm", target: "/static/mod.wasm", code: 200, want: H{"Content-Type": "application/wasm"}},
		{name: "webmanifest", target: "/static/sub/deeper/x.webmanifest", code: 200, want: H{"Content-Type": "application/manifest+json"}},
		{name: "no ext", target: "/static/noext", code: 200, want: H{"Content-Type": "application/octet-stream"}},
		{name: "upper ext", target: "/static/UPPER.CSS", code: 200, want: H{"Content-Type": "text/css; charset=utf-8"}},
		{name: "escaped name", target: "/static/%61pp.css", code: 200, body: "body{color:red}\n"},
		{name: "direct gz", target: "/static/app.css.gz", code: 200, body: "GZIP-app.css-longer", want: H{"Content-Type": "application/gzip", "Content-Encoding": ""}},
		{name: "sibling is a dir", target: "/static/dirsibling.css", hdr: []string{"Accept-Encoding", "gzip"}, code: 200, body: "dirsibling", want: H{"Vary": "", "Content-Encoding": ""}},

		// precompressed
		{name: "br preferred", target: "/static/app.css", hdr: []string{"Accept-Encoding", "gzip, deflate, br"}, code: 200, body: "BROTLI-app.css",
			want: H{"Content-Encoding": "br", "Content-Type": "text/css; charset=utf-8", "Vary": "Accept-Encoding", "Content-Length": "14"}},
		{name: "gzip only", target: "/static/app.css", hdr: []string{"Accept-Encoding", "gzip"}, code: 200, body: "GZIP-app.css-longer", want: H{"Content-Encoding": "gzip"}},
		{name: "x-gzip", target: "/static/app.css", hdr: []string{"Accept-Encoding", "x-gzip"}, code: 200, want: H{"Content-Encoding": "gzip"}},
		{name: "br q=0", target: "/static/app.css", hdr: []string{"Accept-Encoding", "br;q=0, gzip"}, code: 200, want: H{"Content-Encoding": "gzip"}},
		{name: "q higher gzip", target: "/static/app.css", hdr: []string{"Accept-Encoding", "br;q=0.5, gzip;q=0.8"}, code: 200, want: H{"Content-Encoding": "gzip"}},
		{name: "q tie br", target: "/static/app.css", hdr: []string{"Accept-Encoding", "gzip;q=0.5, br;q=0.5"}, code: 200, want: H{"Content-Encoding": "br"}},
		{name: "all refused", target: "/static/app.css", hdr: []string{"Accept-Encoding", "br;q=0, gzip;q=0.000"}, code: 200, body: "body{color:red}\n", want: H{"Content-Encoding": "", "Vary": "Accept-Encoding"}},
		{name: "star", target: "/static/app.css", hdr: []string{"Accept-Encoding", "*"}, code: 200, want: H{"Content-Encoding": "br"}},
		{name: "star minus br", target: "/static/app.css", hdr: []string{"Accept-Encoding", "*, br;q=0"}, code: 200, want: H{"Content-Encoding": "gzip"}},
		{name: "star q=0", target: "/static/app.css", hdr: []string{"Accept-Encoding", "*;q=0"}, code: 200, want: H{"Content-Encoding": ""}},
		{name: "case and spaces", target: "/static/app.css", hdr: []string{"Accept-Encoding", " GZIP ; Q=1 , BR ; q=0"}, code: 200, want: H{"Content-Encoding": "gzip"}},
		{name: "bad q refuses", target: "/static/app.css", hdr: []string{"Accept-Encoding", "br;q=x, gzip;q=2"}, code: 200, want: H{"Content-Encoding": ""}},
		{name: "two headers", target: "/static/app.css", hdr: []string{"Accept-Encoding", "identity", "Accept-Encoding", "br"}, code: 200, want: H{"Content-Encoding": "br"}},
		{name: "identity", target: "/static/app.css", hdr: []string{"Accept-Encoding", "identity"}, code: 200, want: H{"Content-Encoding": "", "Vary": "Accept-Encoding"}},
		{name: "only gz sibling, br asked", target: "/static/only.js", hdr: []string{"Accept-Encoding", "br"}, code: 200, body: "console.log(1)\n", want: H{"Content-Encoding": "", "Vary": "Accept-Encoding"}},
		{name: "only gz sibling", target: "/static/only.js", hdr: []string{"Accept-Encoding", "br, gzip"}, code: 200, body: "GZIP-only.js", want: H{"Content-Encoding": "gzip", "Content-Type": "text/javascript; charset=utf-8"}},
		{name: "only br sibling", target: "/static/brotli.svg", hdr: []string{"Accept-Encoding", "gzip, br"}, code: 200, body: "BROTLI-svg", want: H{"Content-Encoding": "br", "Content-Type": "image/svg+xml"}},
		{name: "range on variant", target: "/static/app.css", hdr: []string{"Accept-Encoding", "gzip", "Range", "bytes=0-3"}, code: 206, body: "GZIP",
			want: H{"Content-Encoding": "gzip", "Content-Range": "bytes 0-3/19"}},

		// ranges
		{name: "range", target: "/static/digits.txt", hdr: []string{"Range", "bytes=2-5"}, code: 206, body: "2345", want: H{"Content-Range": "bytes 2-5/36", "Content-Length": "4"}},
		{name: "suffix range", target: "/static/digits.txt", hdr: []string{"Range", "bytes=-3"}, code: 206, body: "xyz"},
		{name: "open range", target: "/static/digits.txt", hdr: []string{"Range", "bytes=34-"}, code: 206, body: "yz"},
		{name: "unsatisfiable", target: "/static/digits.txt", hdr: []string{"Range", "bytes=100-200"}, code: 416, want: H{"Content-Range": "bytes */36", "Cache-Control": ""}},

		// methods
		{name: "HEAD", method: "HEAD", target: "/static/app.css", code: 200, want: H{"Content-Length": "16", "Content-Type": "text/css; charset=utf-8"}},
		{name: "HEAD br", method: "HEAD", target: "/static/app.css", hdr: []string{"Accept-Encoding", "br"}, code: 200, want: H{"Content-Length": "14", "Content-Encoding": "br"}},
		{name: "POST", method: "POST", target: "/static/app.css", code: 405, want: H{"Allow": "GET, HEAD"}},
		{name: "PUT", method: "PUT", target: "/static/app.css", code: 405, want: H{"Allow": "GET, HEAD"}},
		{name: "DELETE", method: "DELETE", target: "/static/nope", code: 405, want: H{"Allow": "GET, HEAD"}},
		{name: "OPTIONS", method: "OPTIONS", target: "/static/app.css", code: 405, want: H{"Allow": "GET, HEAD"}},

		// refusals
		{name: "missing", target: "/static/nope.css", code: 404, body: "404 Not Found\n", want: H{"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "", "Etag": ""}},
		{name: "prefix itself", target: "/static/", code: 404},
		{name: "directory", target: "/static/sub", code: 404},
		{name: "directory slash", target: "/static/sub/", code: 404},
		{name: "empty dir", target: "/static/emptydir/", code: 404},
		{name: "file slash", target: "/static/app.css/", code: 404},
		{name: "double slash", target: "/static//app.css", code: 404},
		{name: "dotdot", target: "/static/../secret.txt", code: 404},
		{name: "dotdot encoded", target: "/static/%2e%2e/secret.txt", code: 404},
		{name: "dotdot mixed", target: "/static/sub/..%2f..%2fsecret.txt", code: 404},
		{name: "dotdot inside", target: "/static/sub/../app.css", code: 404},
		{name: "dot segment", target: "/static/./app.css", code: 404},
		{name: "dotenv", target: "/static/.env", code: 404},
		{name: "git config", target: "/static/sub/.git/config", code: 404},
		{name: "hidden dir", target: "/static/.hidden/inside.txt", code: 404},
		{name: "backslash", target: "/static/sub%5c..%5c..%5csecret.txt", code: 400},
		{name: "nul", target: "/static/app.css%00.txt", code: 400},
		{name: "long name", target: "/static/" + strings.Repeat("a", 5000) + ".css", code: 404},
		{name: "symlink escape", target: "/static/escape.txt", code: 404, symlink: true},
		{name: "symlink abs escape", target: "/static/abs.txt", code: 404, symlink: true},
		{name: "symlink dir escape", target: "/static/escapedir/secret.txt", code: 404, symlink: true},
		{name: "symlink dangling", target: "/static/dangling.css", code: 404, symlink: true},
		{name: "symlink inside", target: "/static/inner.css", code: 200, body: "body{color:red}\n", symlink: true},
		{name: "symlink up inside", target: "/static/sub/up.css", code: 200, body: "body{color:red}\n", symlink: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.symlink && runtime.GOOS == "windows" {
				t.Skip("symlinks")
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			w := do(s, method, tt.target, tt.hdr...)
			if w.Code != tt.code {
				t.Fatalf("%s %s: status %d, want %d (body %q)", method, tt.target, w.Code, tt.code, w.Body)
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body, tt.body)
			}
			if method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("HEAD has a body: %q", w.Body)
			}
			if strings.Contains(w.Body.String(), secret) {
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

func TestETagsDistinctPerVariant(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	s.cache.valid = 0 // every request checks the disk: the rewrites below show at once
	// The same size and time for every file: ETags must still differ.
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range []string{"app.css", "app.css.br", "app.css.gz"} {
		os.WriteFile(filepath.Join(dir, n), []byte("same"), 0o644)
		os.Chtimes(filepath.Join(dir, n), when, when)
	}
	seen := map[string]string{}
	for _, ae := range []string{"", "br", "gzip"} {
		w := do(s, "GET", "/static/app.css", "Accept-Encoding", ae)
		et := w.Header().Get("Etag")
		if !strings.HasPrefix(et, `"`) || !strings.HasSuffix(et, `"`) || strings.HasPrefix(et, "W/") {
			t.Errorf("ETag %q is not a strong validator", et)
		}
		if prev, ok := seen[et]; ok {
			t.Errorf("Accept-Encoding %q and %q share ETag %s", ae, prev, et)
		}
		seen[et] = ae
		if lm := w.Header().Get("Last-Modified"); lm != when.Format(http.TimeFormat) {
			t.Errorf("Last-Modified %q, want %q", lm, when.Format(http.TimeFormat))
		}
	}
	// A change of size changes the ETag.
	w1 := do(s, "GET", "/static/app.css")
	os.WriteFile(filepath.Join(dir, "app.css"), []byte("longer"), 0o644)
	os.Chtimes(filepath.Join(dir, "app.css"), when, when)
	w2 := do(s, "GET", "/static/app.css")
	if w1.Header().Get("Etag") == w2.Header().Get("Etag") {
		t.Errorf("ETag did not change with the size")
	}
}

func TestConditional(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	first := do(s, "GET", "/static/digits.txt")
	et, lm := first.Header().Get("Etag"), first.Header().Get("Last-Modified")
	firstBr := do(s, "GET", "/static/app.css", "Accept-Encoding", "br")
	etBr := firstBr.Header().Get("Etag")
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	earlier := time.Unix(0, 0).UTC().Format(http.TimeFormat)
	tests := []struct {
		name   string
		target string
		hdr    []string
		code   int
		body   string
		want   map[string]string
	}{
		{"inm match", "/static/digits.txt", []string{"If-None-Match", et}, 304, "", map[string]string{"Etag": et, "Cache-Control": "public, max-age=60", "Content-Type": ""}},
		{"inm weak match", "/static/digits.txt", []string{"If-None-Match", "W/" + et}, 304, "", nil},
		{"inm list", "/static/digits.txt", []string{"If-None-Match", `"x", ` + et}, 304, "", nil},
		{"inm star", "/static/digits.txt", []string{"If-None-Match", "*"}, 304, "", nil},
		{"inm miss", "/static/digits.txt", []string{"If-None-Match", `"other"`}, 200, "0123456789abcdefghijklmnopqrstuvwxyz", nil},
		{"inm wins over ims", "/static/digits.txt", []string{"If-None-Match", `"other"`, "If-Modified-Since", later}, 200, "", nil},
		{"ims not modified", "/static/digits.txt", []string{"If-Modified-Since", lm}, 304, "", nil},
		{"ims later", "/static/digits.txt", []string{"If-Modified-Since", later}, 304, "", nil},
		{"ims modified", "/static/digits.txt", []string{"If-Modified-Since", earlier}, 200, "", nil},
		{"br variant inm", "/static/app.css", []string{"Accept-Encoding", "br", "If-None-Match", etBr}, 304, "", map[string]string{"Vary": "Accept-Encoding", "Content-Encoding": ""}},
		{"identity etag vs br", "/static/app.css", []string{"Accept-Encoding", "br", "If-None-Match", do(s, "GET", "/static/app.css").Header().Get("Etag")}, 200, "BROTLI-app.css", nil},
		{"if-range match", "/static/digits.txt", []string{"Range", "bytes=0-1", "If-Range", et}, 206, "01", nil},
		{"if-range stale", "/static/digits.txt", []string{"Range", "bytes=0-1", "If-Range", `"stale"`}, 200, "0123456789abcdefghijklmnopqrstuvwxyz", nil},
		{"if-range weak", "/static/digits.txt", []string{"Range", "bytes=0-1", "If-Range", "W/" + et}, 200, "", nil},
		{"if-range date", "/static/digits.txt", []string{"Range", "bytes=0-1", "If-Range", lm}, 206, "01", nil},
		{"if-range old date", "/static/digits.txt", []string{"Range", "bytes=0-1", "If-Range", earlier}, 200, "", nil},
		{"if-match fail", "/static/digits.txt", []string{"If-Match", `"other"`}, 412, "", nil},
		{"if-match ok", "/static/digits.txt", []string{"If-Match", et}, 200, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s, "GET", tt.target, tt.hdr...)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d", w.Code, tt.code)
			}
			if tt.code == 304 && w.Body.Len() != 0 {
				t.Errorf("304 with a body %q", w.Body)
			}
			if tt.body != "" && w.Body.String() != tt.body {
				t.Errorf("body %q, want %q", w.Body, tt.body)
			}
			for k, v := range tt.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestMultiRange(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	for _, ae := range []string{"", "gzip"} {
		w := do(s, "GET", "/static/app.css", "Range", "bytes=0-1,4-5", "Accept-Encoding", ae)
		if w.Code != 206 {
			t.Fatalf("status %d, want 206", w.Code)
		}
		mt, params, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q, want multipart/byteranges", w.Header().Get("Content-Type"))
		}
		full := "body{color:red}\n"
		wantType := "text/css; charset=utf-8"
		if ae == "gzip" {
			full = "GZIP-app.css-longer"
			if w.Header().Get("Content-Encoding") != "gzip" {
				t.Errorf("multi-range on the gzip variant lacks Content-Encoding")
			}
		}
		mr := multipart.NewReader(w.Body, params["boundary"])
		var parts []string
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if ct := p.Header.Get("Content-Type"); ct != wantType {
				t.Errorf("part Content-Type %q, want %q", ct, wantType)
			}
			b, _ := io.ReadAll(p)
			parts = append(parts, string(b))
		}
		if want := []string{full[0:2], full[4:6]}; fmt.Sprint(parts) != fmt.Sprint(want) {
			t.Errorf("parts %q, want %q", parts, want)
		}
	}
}

func TestFIFO(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	dir, _ := fixture(t)
	if err := mkfifo(filepath.Join(dir, "pipe.css")); err != nil {
		t.Skip("mkfifo:", err)
	}
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	done := make(chan int, 1)
	go func() { done <- do(s, "GET", "/static/pipe.css").Code }()
	select {
	case code := <-done:
		if code != 404 {
			t.Errorf("FIFO: status %d, want 404", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a FIFO blocked the request")
	}
}

// TestRawRequests sends request lines as a client could, unnormalised,
// through a real server.
func TestRawRequests(t *testing.T) {
	dir, _ := fixture(t)
	s := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	ts := httptest.NewServer(s)
	defer ts.Close()
	tests := []struct {
		target string
		code   int
	}{
		{"/static/app.css", 200},
		{"/static/../secret.txt", 404},
		{"/static/%2e%2e/secret.txt", 404},
		{"/static/%2E%2E/secret.txt", 404},
		{"/static/%2e%2e%2fsecret.txt", 404},
		{"/static/..%2f..%2fsecret.txt", 404},
		{"/static/escape.txt", 404},
		{"/static/escapedir/secret.txt", 404},
		{"/static/.env", 404},
		{"/static/sub/.git/config", 404},
		{"/static/%2eenv", 404},
		{"/static/%2eenv%00", 400},
		{"/static/..\\secret.txt", 400},
	}
	for _, tt := range tests {
		conn, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", tt.target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s: status %d, want %d", tt.target, resp.StatusCode, tt.code)
		}
		if bytes.Contains(body, []byte(secret)) {
			t.Errorf("GET %s served the secret", tt.target)
		}
	}
	// A precompressed variant goes out with a Content-Length, not chunked.
	req, _ := http.NewRequest("GET", ts.URL+"/static/app.css", nil)
	req.Header.Set("Accept-Encoding", "br")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "BROTLI-app.css" || resp.ContentLength != 14 || len(resp.TransferEncoding) != 0 {
		t.Errorf("br over the wire: %q, Content-Length %d, Transfer-Encoding %v", body, resp.ContentLength, resp.TransferEncoding)
	}
	// HEAD over the wire: headers, no body.
	resp, err = http.Head(ts.URL + "/static/app.css")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != 16 {
		t.Errorf("HEAD: status %d, %d body bytes, Content-Length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
}

func TestClosed(t *testing.T) {
	dir, _ := fixture(t)
	s, err := New([]Mount{{Prefix: "/static/", Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(s, "GET", "/static/app.css"); w.Code != 200 { // held from now on
		t.Fatalf("before Close: status %d", w.Code)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if w := do(s, "GET", "/static/app.css"); w.Code != 404 {
		t.Errorf("after Close: status %d, want 404", w.Code)
	}
}

func TestHashedName(t *testing.T) {
	for name, want := range map[string]bool{
		"main.0123abcd89ef.css":           true, // Django
		"admin/css/base.5af66c1b1797.css": true,
		"app.css.0123abcd89ef.map":        true, // Django hashes x.css.map as x.css.HASH.map
		"main.0123abcd89ef.css.gz":        true, // its sibling, requested directly
		"chunk.1a2b3c4d.js":               true, // webpack
		"index-9f8e7d6c.js":               true, // vite (hex)
		"vendor.0123456789abcdef0123.js":  true,
		"app.css":                         false,
		"app.min.js":                      false,
		"jquery-3.7.1.js":                 false,
		"main.0123abc.css":                false, // 7: too short
		"main.0123ABCD89EF.css":           false, // hashes are lower case
		"0123abcd89ef.css":                false, // no name before the hash
		"main.0123abcd89ef":               false, // no extension
		"main.0123abcd89eg.css":           false,
		"name_0123abcd.js":                false,
		".0123abcd.js":                    false,
	} {
		if got := hashedName(filepath.Base(name)); got != want {
			t.Errorf("hashedName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.js":          "text/javascript; charset=utf-8",
		"a.mjs":         "text/javascript; charset=utf-8",
		"a.css":         "text/css; charset=utf-8",
		"a.svg":         "image/svg+xml",
		"a.woff2":       "font/woff2",
		"a.woff":        "font/woff",
		"a.wasm":        "application/wasm",
		"a.js.map":      "application/json",
		"a.webmanifest": "application/manifest+json",
		"a.json":        "application/json",
		"a.png":         "image/png",
		"a.ico":         "image/x-icon",
		"a.avif":        "image/avif",
		"a.html":        "text/html; charset=utf-8",
		"a":             "application/octet-stream",
		"a.":            "application/octet-stream",
		"a.zzzunknown":  "application/octet-stream",
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestAcceptedEncodings(t *testing.T) {
	tests := []struct {
		in     string
		br, gz float64
	}{
		{"", 0, 0},
		{"gzip", 0, 1},
		{"gzip, deflate, br, zstd", 1, 1},
		{"br;q=0.5, gzip;q=0.8", 0.5, 0.8},
		{"br;q=0", 0, 0},
		{"br;q=0.", 0, 0},
		{"br;q=1.000", 1, 0},
		{"br;q=1.001", 0, 0},
		{"br;q=0.1234", 0, 0},
		{"br;q=-1", 0, 0},
		{"*;q=0.3", 0.3, 0.3},
		{"*;q=0.3, gzip;q=0", 0.3, 0},
		{"gzip;q=0, x-gzip", 0, 1},
		{"br; level=5; q=0.7", 0.7, 0},
		{",,;;,=", 0, 0},
	}
	for _, tt := range tests {
		br, gz := acceptedEncodings([]string{tt.in})
		if br != tt.br || gz != tt.gz {
			t.Errorf("acceptedEncodings(%q) = br %v gzip %v, want %v %v", tt.in, br, gz, tt.br, tt.gz)
		}
	}
}
