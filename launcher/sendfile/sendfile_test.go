package sendfile

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/corral-run/corral/launcher/static"
)

// tree makes an app directory with an internal directory private (a.txt,
// "sub/b b.pdf", .secret, a symlink to a file inside, one to a file
// outside, one to the directory outside), a directory outside it with a
// secret, and a symlink to private; it returns the app directory.
func tree(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"private/a.txt":       "hello, private",
		"private/sub/b b.pdf": "%PDF-1.4 fake",
		"private/.secret":     "dotfile",
		"private/%2e%2e/x":    "a literal name",
		"private/été.txt":     "unicode",
		"outside/secret.txt":  "NEVER SERVE THIS",
		"private-other/x.txt": "a sibling directory",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"private/link-in.txt":  "a.txt",
		"private/link-out.txt": "../outside/secret.txt",
		"private/abs-out.txt":  filepath.Join(dir, "outside/secret.txt"),
		"private/dir-out":      "../outside",
		"privlink":             "private",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newFiles opens dir/private (or the given directory) as /protected/.
func newFiles(t testing.TB, dir string) *Files {
	t.Helper()
	f, err := New([]static.Mount{{Prefix: "/protected/", Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestResolve(t *testing.T) {
	dir := tree(t)
	// Given through the symlink: X-Sendfile may name either path.
	f := newFiles(t, filepath.Join(dir, "privlink"))
	real := filepath.Join(dir, "private")
	link := filepath.Join(dir, "privlink")
	tests := []struct {
		name, header, value string
		want                string // "" for a refusal
		why                 string // in the refusal
	}{
		{"plain", AccelRedirect, "/protected/a.txt", "/protected/a.txt", ""},
		{"quoted space", AccelRedirect, "/protected/sub/b%20b.pdf", "/protected/sub/b b.pdf", ""},
		{"quoted utf-8", AccelRedirect, "/protected/%C3%A9t%C3%A9.txt", "/protected/été.txt", ""},
		{"double slash (SENDFILE_URL ending in /)", AccelRedirect, "/protected//a.txt", "/protected/a.txt", ""},
		{"query dropped", AccelRedirect, "/protected/a.txt?download=1", "/protected/a.txt", ""},
		{"escaped ? is a name", AccelRedirect, "/protected/a%3Fb", "/protected/a?b", ""},
		{"double encoding decoded once", AccelRedirect, "/protected/%252e%252e/x", "/protected/%2e%2e/x", ""},
		{"dot dot", AccelRedirect, "/protected/../outside/secret.txt", "", "'..'"},
		{"dot dot at the end", AccelRedirect, "/protected/sub/..", "", "'..'"},
		{"dot", AccelRedirect, "/protected/./a.txt", "", "'.'"},
		{"encoded dot dot", AccelRedirect, "/protected/%2e%2e/outside/secret.txt", "", "'..'"},
		{"encoded dot dot upper", AccelRedirect, "/protected/%2E%2E/outside/secret.txt", "", "'..'"},
		{"half encoded dot dot", AccelRedirect, "/protected/.%2e/outside/secret.txt", "", "'..'"},
		{"encoded slash", AccelRedirect, "/protected/..%2Foutside%2fsecret.txt", "", "encoded"},
		{"encoded backslash", AccelRedirect, "/protected/..%5coutside", "", "encoded"},
		{"encoded NUL", AccelRedirect, "/protected/a.txt%00.pdf", "", "encoded"},
		{"backslash", AccelRedirect, `/protected/..\outside\secret.txt`, "", "backslash"},
		{"NUL", AccelRedirect, "/protected/a.txt\x00", "", "NUL"},
		{"bad escape", AccelRedirect, "/protected/%zz", "", "percent-encoded"},
		{"no prefix", AccelRedirect, "/static/a.txt", "", "no --internal prefix"},
		{"prefix without slash", AccelRedirect, "/protected", "", "no --internal prefix"},
		{"prefix look-alike", AccelRedirect, "/protectedx/a.txt", "", "no --internal prefix"},
		{"relative", AccelRedirect, "protected/a.txt", "", "absolute"},
		{"absolute URL", AccelRedirect, "http://example.com/protected/a.txt", "", "absolute"},
		{"scheme-relative", AccelRedirect, "//evil/protected/a.txt", "", "no --internal prefix"},
		{"named location", AccelRedirect, "@files", "", "named location"},
		{"the prefix itself", AccelRedirect, "/protected/", "", "directory"},
		{"dotfile", AccelRedirect, "/protected/.secret", "", "dotfile"},
		{"encoded dotfile", AccelRedirect, "/protected/%2esecret", "", "dotfile"},
		{"empty", AccelRedirect, "", "", "empty"},

		{"sendfile", Sendfile, real + "/a.txt", "/protected/a.txt", ""},
		{"sendfile by the given path", Sendfile, link + "/sub/b b.pdf", "/protected/sub/b b.pdf", ""},
		{"sendfile latin-1 from WSGI", Sendfile, real + "/\xe9t\xe9.txt", "/protected/été.txt", ""},
		{"sendfile RFC 2047 from Django", Sendfile, "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(real+"/été.txt")) + "?=", "/protected/été.txt", ""},
		{"sendfile RFC 2047 outside", Sendfile, "=?utf-8?q?/etc/passwd?=", "", "no --internal directory"},
		{"sendfile RFC 2047 broken", Sendfile, "=?utf-8?x?abc?=", "", "absolute"},
		{"sendfile utf-8 as is", Sendfile, real + "/été.txt", "/protected/été.txt", ""},
		{"sendfile not decoded", Sendfile, real + "/a%20b", "/protected/a%20b", ""},
		{"sendfile double slash", Sendfile, real + "//a.txt", "/protected/a.txt", ""},
		{"sendfile dot dot", Sendfile, real + "/../outside/secret.txt", "", "'..'"},
		{"sendfile outside", Sendfile, filepath.Join(dir, "outside/secret.txt"), "", "no --internal directory"},
		{"sendfile sibling directory", Sendfile, filepath.Join(dir, "private-other/x.txt"), "", "no --internal directory"},
		{"sendfile /etc/passwd", Sendfile, "/etc/passwd", "", "no --internal directory"},
		{"sendfile relative", Sendfile, "private/a.txt", "", "absolute"},
		{"sendfile the directory", Sendfile, real, "", "no --internal directory"},
		{"sendfile the directory with slash", Sendfile, real + "/", "", "directory"},
		{"sendfile backslash", Sendfile, real + `\..\outside`, "", "backslash"},
		{"sendfile NUL", Sendfile, real + "/a.txt\x00", "", "NUL"},
		{"sendfile dotfile", Sendfile, real + "/.secret", "", "dotfile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{tt.header: {tt.value}}
			got, err := f.Resolve(h)
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Fatalf("Resolve(%s: %q) = %q, %v; want %q", tt.header, tt.value, got, err, tt.want)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || got != "" {
				t.Fatalf("Resolve(%s: %q) = %q, %v; want a refusal", tt.header, tt.value, got, err)
			}
			if e.Status != http.StatusInternalServerError || !strings.Contains(e.Error(), tt.why) || !strings.Contains(e.Error(), tt.header) {
				t.Errorf("Resolve(%s: %q): %d %v; want 500 saying %q", tt.header, tt.value, e.Status, err, tt.why)
			}
		})
	}
}

func TestResolveHeaders(t *testing.T) {
	f := newFiles(t, filepath.Join(tree(t), "private"))
	for _, tt := range []struct {
		name string
		h    http.Header
		why  string
	}{
		{"both", http.Header{AccelRedirect: {"/protected/a.txt"}, Sendfile: {"/x"}}, "one header"},
		{"twice", http.Header{AccelRedirect: {"/protected/a.txt", "/protected/a.txt"}}, "more than once"},
	} {
		if _, err := f.Resolve(tt.h); err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s: %v; want an error saying %q", tt.name, err, tt.why)
		}
	}
	none, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{AccelRedirect: {"/protected/a.txt"}}
	if !none.Named(h) {
		t.Error("Named is false for an X-Accel-Redirect with no internal directory: the empty answer would reach the client")
	}
	if _, err := none.Resolve(h); err == nil || !strings.Contains(err.Error(), "--internal /protected/=") {
		t.Errorf("no internal directory: %v; want an error naming --internal", err)
	}
	if none.Named(http.Header{"Content-Type": {"text/html"}}) {
		t.Error("Named is true for a response naming no file")
	}
}

func TestNewErrors(t *testing.T) {
	dir := tree(t)
	for _, tt := range []struct {
		mounts []static.Mount
		why    string
	}{
		{[]static.Mount{{Prefix: "/p/", Dir: filepath.Join(dir, "missing")}}, "does not exist"},
		{[]static.Mount{{Prefix: "/p/", Dir: filepath.Join(dir, "private/a.txt")}}, "not a directory"},
		{[]static.Mount{{Prefix: "/p/", Dir: filepath.Join(dir, "private")}, {Prefix: "/p", Dir: filepath.Join(dir, "outside")}}, "already mounted"},
	} {
		if _, err := New(tt.mounts); err == nil || !strings.Contains(err.Error(), tt.why) || !strings.Contains(err.Error(), "internal") {
			t.Errorf("New(%v): %v; want an error about the internal mount saying %q", tt.mounts, err, tt.why)
		}
	}
}

func TestParseMount(t *testing.T) {
	m, err := ParseMount("/protected=private_media")
	if err != nil || m.Prefix != "/protected/" || m.Dir != "private_media" {
		t.Errorf("ParseMount = %+v, %v", m, err)
	}
	for _, bad := range []string{"private_media", "=private_media", "/protected/=", "/=private_media", "protected/=x", "/a/../b/=x"} {
		_, err := ParseMount(bad)
		if err == nil || !strings.Contains(err.Error(), "internal mount") || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseMount(%q): %v; want an error naming the internal mount and the value", bad, err)
		}
	}
}

// serve answers a request (method, header pairs) with the file app names.
func serve(t *testing.T, f *Files, method string, app http.Header, kv ...string) (*httptest.ResponseRecorder, int, error) {
	t.Helper()
	r := httptest.NewRequest(method, "/download/1", nil)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	w := httptest.NewRecorder()
	status, err := f.Serve(w, r, app)
	return w, status, err
}

func TestServe(t *testing.T) {
	dir := tree(t)
	f := newFiles(t, filepath.Join(dir, "private"))
	app := func(kv ...string) http.Header {
		h := http.Header{"X-Frame-Options": {"DENY"}, "Content-Length": {"14"}, "X-Accel-Buffering": {"yes"},
			"X-Accel-Limit-Rate": {"1024"}, "Etag": {`"app"`}, "Content-Encoding": {"gzip"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}

	t.Run("django-sendfile2's nginx backend", func(t *testing.T) {
		w, _, err := serve(t, f, "GET", app(AccelRedirect, "/protected/sub/b%20b.pdf", "Content-Type", "application/x-from-the-app",
			"Content-Disposition", `attachment; filename="b b.pdf"`))
		if err != nil {
			t.Fatal(err)
		}
		h := w.Result().Header
		if w.Code != 200 || w.Body.String() != "%PDF-1.4 fake" {
			t.Fatalf("got %d %q", w.Code, w.Body)
		}
		for k, want := range map[string]string{
			"Content-Type": "application/x-from-the-app", "Content-Disposition": `attachment; filename="b b.pdf"`,
			"X-Frame-Options": "DENY", "Cache-Control": "private, no-cache", "Content-Length": "13",
			"X-Accel-Redirect": "", "X-Accel-Buffering": "", "X-Accel-Limit-Rate": "", "Content-Encoding": "",
		} {
			if got := strings.Join(h[k], ", "); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
		if h.Get("Etag") == `"app"` || h.Get("Etag") == "" || h.Get("Last-Modified") == "" {
			t.Errorf("validators %q %q: want the file's", h.Get("Etag"), h.Get("Last-Modified"))
		}
	})
	t.Run("the app's Cache-Control", func(t *testing.T) {
		w, _, err := serve(t, f, "GET", app(Sendfile, filepath.Join(dir, "private/a.txt"), "Cache-Control", "private", "Cache-Control", "max-age=60"))
		if err != nil || w.Header().Get("Cache-Control") != "private, max-age=60" || w.Body.String() != "hello, private" {
			t.Errorf("%v: %d %q Cache-Control %q", err, w.Code, w.Body, w.Header().Get("Cache-Control"))
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("Content-Type %q without one from the app: want the name's", ct)
		}
	})
	etag := func() string {
		w, _, _ := serve(t, f, "GET", app(AccelRedirect, "/protected/a.txt"))
		return w.Header().Get("Etag")
	}()
	for _, tt := range []struct {
		name, method string
		kv           []string
		code         int
		body         string
	}{
		{"range", "GET", []string{"Range", "bytes=0-4"}, 206, "hello"},
		{"if-none-match", "GET", []string{"If-None-Match", etag}, 304, ""},
		{"if-range stale", "GET", []string{"Range", "bytes=0-4", "If-Range", `"other"`}, 200, "hello, private"},
		{"head", "HEAD", nil, 200, ""},
		{"post becomes get", "POST", nil, 200, "hello, private"},
		{"post with if-none-match", "POST", []string{"If-None-Match", etag}, 304, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, _, err := serve(t, f, tt.method, app(AccelRedirect, "/protected/a.txt"), tt.kv...)
			if err != nil || w.Code != tt.code || w.Body.String() != tt.body {
				t.Errorf("%v: %d %q, want %d %q", err, w.Code, w.Body, tt.code, tt.body)
			}
		})
	}

	for _, tt := range []struct {
		name, header, value string
		status              int
	}{
		{"symlink inside", AccelRedirect, "/protected/link-in.txt", 0},
		{"symlink out", AccelRedirect, "/protected/link-out.txt", 500},
		{"absolute symlink out", Sendfile, filepath.Join(dir, "private/abs-out.txt"), 500},
		{"through a directory symlink out", AccelRedirect, "/protected/dir-out/secret.txt", 500},
		{"missing", AccelRedirect, "/protected/nope.pdf", 404},
		{"a directory", AccelRedirect, "/protected/sub", 404},
		{"traversal", AccelRedirect, "/protected/%2e%2e/outside/secret.txt", 500},
		{"outside", Sendfile, filepath.Join(dir, "outside/secret.txt"), 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, status, err := serve(t, f, "GET", app(tt.header, tt.value, "Content-Disposition", "attachment"))
			if status != tt.status || (tt.status == 0) != (err == nil) {
				t.Fatalf("Serve: %d, %v; want %d", status, err, tt.status)
			}
			if tt.status == 0 {
				return
			}
			b, _ := io.ReadAll(w.Body)
			if w.Code != 200 || len(b) > 0 || len(w.Header()) > 0 {
				t.Errorf("a refusal wrote %d %v %q: the caller answers", w.Code, w.Header(), b)
			}
			if !strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q does not name the header's value", err)
			}
		})
	}
}

// TestMatch: clients never reach an internal directory by their own
// request.
func TestMatch(t *testing.T) {
	f := newFiles(t, filepath.Join(tree(t), "private"))
	for path, want := range map[string]bool{"/protected/a.txt": true, "/protected/": true, "/protected": false, "/protectedx": false, "/": false} {
		if f.Match(path) != want {
			t.Errorf("Match(%q) = %v", path, !want)
		}
	}
}

// BenchmarkResolve measures the check of a header on the path of every
// download: a plain X-Accel-Redirect, a quoted one, an X-Sendfile.
func BenchmarkResolve(b *testing.B) {
	dir := tree(b)
	f := newFiles(b, filepath.Join(dir, "private"))
	for _, h := range []http.Header{
		{AccelRedirect: {"/protected/a.txt"}},
		{AccelRedirect: {"/protected/sub/b%20b.pdf"}},
		{Sendfile: {filepath.Join(dir, "private/a.txt")}},
	} {
		b.Run(strings.Join(h[AccelRedirect], "")+strings.Join(h[Sendfile], ""), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Resolve(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
