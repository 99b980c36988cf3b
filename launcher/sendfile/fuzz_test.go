package sendfile

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve throws header values at an internal directory with a secret
// beside it, symlinks out of it and a dotfile in it, as X-Accel-Redirect
// and as X-Sendfile. A path Resolve accepts must be clean and under the
// prefix; no answer may carry the secret or the dotfile; a refusal writes
// nothing and is a 500 or, for a clean path naming nothing, a 404.
func FuzzResolve(f *testing.F) {
	dir := tree(f)
	real := filepath.Join(dir, "private")
	files := newFiles(f, real)
	for _, s := range []string{
		"/protected/a.txt", "/protected/sub/b%20b.pdf", "/protected//a.txt?x=1", "/protected/../outside/secret.txt",
		"/protected/%2e%2e/outside/secret.txt", "/protected/..%2foutside%2fsecret.txt", "/protected/..%5coutside",
		"/protected/link-out.txt", "/protected/dir-out/secret.txt", "/protected/.secret", "/protected/%2esecret",
		"/protected/a.txt%00", "@x", "", "/protected/%C3%A9t%C3%A9.txt", "/protected/%252e%252e/x",
	} {
		f.Add(true, s)
		f.Add(false, strings.Replace(s, "/protected", real, 1))
	}
	f.Fuzz(func(t *testing.T, accel bool, v string) {
		header := Sendfile
		if accel {
			header = AccelRedirect
		}
		app := http.Header{header: {v}}
		p, err := files.Resolve(app)
		if err == nil {
			if !strings.HasPrefix(p, "/protected/") || len(p) == len("/protected/") {
				t.Fatalf("%s %q resolved to %q, not a file under the prefix", header, v, p)
			}
			for seg := range strings.SplitSeq(p[1:], "/") {
				if seg == "" || seg[0] == '.' || strings.ContainsAny(seg, "\x00\\") {
					t.Fatalf("%s %q resolved to %q: segment %q", header, v, p, seg)
				}
			}
		}
		w := httptest.NewRecorder()
		status, serr := files.Serve(w, httptest.NewRequest("GET", "/d", nil), app)
		if body := w.Body.String(); strings.Contains(body, "NEVER SERVE") || body == "dotfile" {
			t.Fatalf("%s %q served %q", header, v, body)
		}
		switch {
		case err != nil && (serr == nil || status != http.StatusInternalServerError):
			t.Fatalf("%s %q: Resolve refused (%v) but Serve answered %d, %v", header, v, err, status, serr)
		case serr != nil && (w.Body.Len() > 0 || (status != http.StatusInternalServerError && status != http.StatusNotFound)):
			t.Fatalf("%s %q: refusal %d %v wrote %q", header, v, status, serr, w.Body)
		}
	})
}
