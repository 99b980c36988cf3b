package main

// End-to-end tests of X-Accel-Redirect and X-Sendfile: a real Django app
// under gunicorn whose views answer as django-sendfile2 does (written
// here by hand: no PyPI), behind corral's edge with --internal.

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// downloadsPy are the app's download views. sendfile() is what
// django-sendfile2 0.7's sendfile() does with SENDFILE_ROOT and
// SENDFILE_URL, and its nginx backend (X-Accel-Redirect, URL-quoted) or
// xsendfile backend (X-Sendfile, the path); raw_* put a value the client
// gives in the header as it is, the way a buggy app would.
const downloadsPy = `import os
import unicodedata
from mimetypes import guess_type
from pathlib import Path, PurePath
from urllib.parse import quote

from django.conf import settings
from django.http import Http404, HttpResponse
from django.urls import path

SENDFILE_ROOT = Path(settings.BASE_DIR) / "private_media"
SENDFILE_URL = "/protected"


def sendfile(request, filename, backend):
    filepath = Path(os.path.normpath(str(SENDFILE_ROOT / filename)))
    try:
        filepath.relative_to(SENDFILE_ROOT)
    except ValueError:
        raise Http404("outside SENDFILE_ROOT")
    if not filepath.exists():
        raise Http404("%s does not exist" % filepath)
    mimetype, encoding = guess_type(str(filepath))
    response = HttpResponse()
    if backend == "nginx":
        relpath = filepath.relative_to(SENDFILE_ROOT)
        response["X-Accel-Redirect"] = quote(os.path.normpath(str(PurePath(SENDFILE_URL) / relpath)))
    else:
        response["X-Sendfile"] = str(filepath)
    name = filepath.name.replace("\\", "\\\\").replace('"', r"\"")
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    parts = ["attachment", 'filename="%s"' % ascii_name]
    if ascii_name != name:
        parts.append("filename*=UTF-8''%s" % quote(name))
    response["Content-Disposition"] = "; ".join(parts)
    response["Content-length"] = filepath.stat().st_size
    response["Content-Type"] = mimetype or "application/octet-stream"
    if encoding:
        response["Content-Encoding"] = encoding
    return response


def accel(request, name):
    return sendfile(request, name, "nginx")


def xsendfile(request, name):
    return sendfile(request, name, "xsendfile")


def raw_accel(request):
    response = HttpResponse()
    response["X-Accel-Redirect"] = request.GET["v"]
    response["Content-Disposition"] = "attachment"
    return response


def raw_sendfile(request):
    response = HttpResponse()
    response["X-Sendfile"] = request.GET["v"]
    response["Content-Disposition"] = "attachment"
    return response


urlpatterns = [
    path("dl/<path:name>", accel),
    path("xs/<path:name>", xsendfile),
    path("raw-accel", raw_accel),
    path("raw-sendfile", raw_sendfile),
]
`

// pdf is the file the tests download.
var pdf = "%PDF-1.4 " + strings.Repeat("report ", 300)

// sendfileApp copies examples/django and adds the download views, an
// internal directory private_media with a symlink out of it, and a secret
// beside it.
func sendfileApp(t *testing.T) string {
	t.Helper()
	dir := djangoApp(t)
	files := map[string]string{
		"mysite/downloads.py":          downloadsPy,
		"private_media/report.pdf":     pdf,
		"private_media/sub/été 1.txt":  "accented",
		"private_media/sub/日本.txt":     "beyond latin-1",
		"private_media/archive.tar.gz": "not really gzip",
		"outside/secret.txt":           "NEVER SERVE THIS",
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
	if err := os.Symlink("../outside/secret.txt", filepath.Join(dir, "private_media/link.txt")); err != nil {
		t.Fatal(err)
	}
	urls, err := os.OpenFile(filepath.Join(dir, "mysite/urls.py"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	urls.WriteString("\nfrom . import downloads\n\nurlpatterns += downloads.urlpatterns\n")
	urls.Close()
	return dir
}

func TestDjangoSendfile(t *testing.T) {
	dir := sendfileApp(t)

	_, out, _ := corral(t, dir, nil, "check", "--internal", "/protected/=private_media")
	if want := "internal: /protected/ from " + filepath.Join(dir, "private_media"); !strings.Contains(out, want) {
		t.Errorf("corral check does not say %q:\n%s", want, out)
	}

	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, "start", "-m", "web=2", "-t", "10", "--internal", "/protected/=private_media")
	r.waitFor(`web\.1 is ready`)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	noRedirects := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(t *testing.T, method, path string, kv ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			req.Header.Set(kv[i], kv[i+1])
		}
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.Bytes()
	}

	for _, prefix := range []string{"/dl/", "/xs/"} {
		t.Run(prefix, func(t *testing.T) {
			resp, body := do(t, "GET", prefix+"report.pdf")
			if resp.StatusCode != 200 || string(body) != pdf {
				t.Fatalf("%d, %d bytes: want the file", resp.StatusCode, len(body))
			}
			for k, want := range map[string]string{
				"Content-Type": "application/pdf", "Content-Disposition": `attachment; filename="report.pdf"`,
				"Content-Length": strconv.Itoa(len(pdf)), "Referrer-Policy": "same-origin", // from Django's SecurityMiddleware
				"X-Accel-Redirect": "", "X-Sendfile": "", "Cache-Control": "private, no-cache",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			etag := resp.Header.Get("Etag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if resp, _ := do(t, "GET", prefix+"report.pdf", "If-None-Match", etag); resp.StatusCode != 304 {
				t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
			}
			if resp, part := do(t, "GET", prefix+"report.pdf", "Range", "bytes=0-8"); resp.StatusCode != 206 || string(part) != "%PDF-1.4 " ||
				resp.Header.Get("Content-Disposition") == "" {
				t.Errorf("Range: %d %q %v", resp.StatusCode, part, resp.Header)
			}
			if resp, b := do(t, "HEAD", prefix+"report.pdf"); resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(pdf)) {
				t.Errorf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(b), resp.ContentLength)
			}
			for name, body := range map[string]string{"sub/été 1.txt": "accented", "sub/日本.txt": "beyond latin-1"} {
				resp, b := do(t, "GET", prefix+(&url.URL{Path: name}).EscapedPath())
				if resp.StatusCode != 200 || string(b) != body || !strings.Contains(resp.Header.Get("Content-Disposition"), "filename*=UTF-8''") {
					t.Errorf("%s: %d %q %q", name, resp.StatusCode, b, resp.Header.Get("Content-Disposition"))
				}
			}
			// guess_type says gzip for .tar.gz and the app sends
			// Content-Encoding: gzip; the edge drops it, as nginx does,
			// since it sends the file as it is.
			if resp, b := do(t, "GET", prefix+"archive.tar.gz", "Accept-Encoding", "identity"); resp.StatusCode != 200 || string(b) != "not really gzip" {
				t.Errorf("archive.tar.gz: %d %q", resp.StatusCode, b)
			}
			// A symlink out of SENDFILE_ROOT passes django-sendfile2's
			// check (it does not resolve links); the edge's does not.
			if resp, b := do(t, "GET", prefix+"link.txt"); resp.StatusCode != 500 || bytes.Contains(b, []byte("NEVER")) {
				t.Errorf("symlink out: %d %q, want 500 without the file", resp.StatusCode, b)
			}
		})
	}

	secret := filepath.Join(dir, "outside/secret.txt")
	media := filepath.Join(dir, "private_media")
	for _, tt := range []struct {
		view, value string
		code        int
		log         string
	}{
		{"raw-accel", "/protected/../outside/secret.txt", 500, "'..'"},
		{"raw-accel", "/protected/%2e%2e/outside/secret.txt", 500, "'..'"},
		{"raw-accel", "/protected/%2E%2E%2Foutside%2Fsecret.txt", 500, "encoded"},
		{"raw-accel", "/protected/..%5Coutside%5Csecret.txt", 500, "encoded"},
		{"raw-accel", `/protected/..\outside\secret.txt`, 500, "backslash"},
		{"raw-accel", "/protected/link.txt", 500, "escapes"},
		{"raw-accel", "/outside/secret.txt", 500, "no --internal prefix"},
		{"raw-accel", "/protected/missing.pdf", 404, "no such file"},
		{"raw-sendfile", secret, 500, "no --internal directory"},
		{"raw-sendfile", media + "/../outside/secret.txt", 500, "'..'"},
		{"raw-sendfile", media + "/link.txt", 500, "escapes"},
		{"raw-sendfile", "/etc/passwd", 500, "no --internal directory"},
		{"raw-sendfile", "private_media/report.pdf", 500, "not an absolute path"},
	} {
		// Not subtests: waitFor fails the test that started corral.
		target := "/" + tt.view + "?v=" + url.QueryEscape(tt.value)
		resp, b := do(t, "GET", target)
		if resp.StatusCode != tt.code || bytes.Contains(b, []byte("NEVER")) || resp.Header.Get("Content-Disposition") != "" {
			t.Errorf("%s %q: %d %v %q, want %d without the file or the app's headers", tt.view, tt.value, resp.StatusCode, resp.Header, b, tt.code)
		}
		r.waitFor(`answered GET ` + regexp.QuoteMeta(target) + ` with .*` + regexp.QuoteMeta(tt.log))
	}

	// The client's own request under the internal prefix: the edge's 404,
	// and gunicorn (which logs every request it gets) never sees it.
	resp, b := do(t, "GET", "/protected/report.pdf")
	if resp.StatusCode != 404 || bytes.Contains(b, []byte("PDF")) {
		t.Errorf("client GET /protected/report.pdf: %d %q, want 404", resp.StatusCode, b)
	}
	r.waitFor(`edge .*GET /protected/report.pdf 404 `)
	r.waitFor(`edge .*GET /dl/report.pdf 200 ` + strconv.Itoa(len(pdf)) + `B .*web\.`)
	for _, l := range r.lines() {
		if strings.HasPrefix(l, "web.") && strings.Contains(l, "/protected/") {
			t.Errorf("the app saw a client's request for an internal path: %s", l)
		}
	}
}

// TestDjangoSendfileUndeclared: without --internal, the app's
// X-Accel-Redirect is a 500 whose log says which flag to set, not the
// app's empty 200 passed on; a missing internal directory stops the start.
func TestDjangoSendfileUndeclared(t *testing.T) {
	dir := sendfileApp(t)
	port := strconv.Itoa(freePort(t))
	code, out, errOut := corral(t, dir, []string{"PORT=" + port}, "start", "--internal", "/protected/=no_such_dir")
	if code == 0 || !strings.Contains(out+errOut, "--internal") || !strings.Contains(out+errOut, "no_such_dir does not exist") {
		t.Errorf("start with a missing internal directory: exit %d, output:\n%s\n%s", code, out, errOut)
	}

	r := start(t, dir, []string{"PORT=" + port}, "start", "-t", "10")
	r.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+port+"/dl/report.pdf", nil)
	if resp.StatusCode != 500 || resp.Header.Get("X-Accel-Redirect") != "" || resp.Header.Get("Content-Disposition") != "" {
		t.Errorf("%d %v %q, want a 500 of the edge's", resp.StatusCode, resp.Header, body)
	}
	r.waitFor(`answered GET /dl/report.pdf with X-Accel-Redirect "/protected/report.pdf": no --internal directory is declared: start corral with --internal`)
}
