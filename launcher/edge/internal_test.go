package edge

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/corral-run/corral/launcher/sendfile"
	"github.com/corral-run/corral/launcher/static"
)

// internalEdge serves an edge whose app answers every request with the
// headers the request's X-Test-App query asks for (name=value pairs,
// split on '|'), an empty body under a Content-Length of cl (as
// django-sendfile2 sends: the file's size), in front of an internal
// directory /protected/ holding a.txt, with a secret beside it and a
// symlink to it inside. No --internal at all when dirs is false.
func internalEdge(t *testing.T, dirs bool) (e *testEdge, b *testBackend, root string, logged *logBuffer) {
	t.Helper()
	root = t.TempDir()
	for name, body := range map[string]string{"private/a.txt": "the private file", "outside/secret.txt": "NEVER SERVE THIS"} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../outside/secret.txt", filepath.Join(root, "private/out.txt")); err != nil {
		t.Fatal(err)
	}
	var mounts []static.Mount
	if dirs {
		mounts = []static.Mount{{Prefix: "/protected/", Dir: filepath.Join(root, "private")}}
	}
	files, err := sendfile.New(mounts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	logged = &logBuffer{}
	e = newEdge(t, Options{Internal: files, Log: slog.New(slog.NewTextHandler(logged, nil))})
	b = newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		for kv := range strings.SplitSeq(r.URL.Query().Get("h"), "|") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				w.Header().Add(k, v)
			}
		}
		if cl := r.URL.Query().Get("cl"); cl != "" {
			w.Header().Set("Content-Length", cl)
		}
		w.WriteHeader(http.StatusOK)
	})
	e.add(t, "web.1", b.addr)
	return e, b, root, logged
}

// appSays is the query that makes internalEdge's app answer with the
// headers kv (name, value pairs).
func appSays(kv ...string) string {
	var pairs []string
	for i := 0; i+1 < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+"="+kv[i+1])
	}
	return "?h=" + strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "#", "%23", "?", "%3F", ";", "%3B", "=", "%3D").Replace(strings.Join(pairs, "|"))
}

func TestInternalRedirect(t *testing.T) {
	e, _, root, logged := internalEdge(t, true)
	q := appSays("X-Accel-Redirect", "/protected/a.txt", "Content-Type", "application/x-app",
		"Content-Disposition", "attachment; filename=a.txt", "X-Frame-Options", "DENY")
	resp, body := e.get(t, "/download/1"+q+"&cl=16")
	if resp.StatusCode != 200 || string(body) != "the private file" {
		t.Fatalf("got %d %q, want the file; log:\n%s", resp.StatusCode, body, logged.b.String())
	}
	for k, want := range map[string]string{
		"Content-Type": "application/x-app", "Content-Disposition": "attachment; filename=a.txt", "X-Frame-Options": "DENY",
		"Content-Length": "16", "X-Accel-Redirect": "", "Cache-Control": "private, no-cache",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("Etag") == "" {
		t.Errorf("X-Request-Id %q, ETag %q: want both", resp.Header.Get("X-Request-Id"), resp.Header.Get("Etag"))
	}
	if a := e.nextAccess(t); a.Status != 200 || a.Bytes != 16 || a.Kind != KindApp || a.Instance != "web.1" {
		t.Errorf("access %+v: want 200, 16 bytes from web.1", a)
	}
	etag := resp.Header.Get("Etag")

	sendfileQ := appSays("X-Sendfile", filepath.Join(root, "private/a.txt"))
	for _, tt := range []struct {
		name, method, query string
		kv                  []string
		code                int
		body                string
		bytes               int64
	}{
		{"range", "GET", q, []string{"Range", "bytes=4-10"}, 206, "private", 7},
		{"if-none-match", "GET", q, []string{"If-None-Match", etag}, 304, "", 0},
		{"head", "HEAD", q, nil, 200, "", 0},
		{"post", "POST", q, nil, 200, "the private file", 16},
		{"x-sendfile", "GET", sendfileQ, nil, 200, "the private file", 16},
		{"x-sendfile range", "GET", sendfileQ, []string{"Range", "bytes=-4"}, 206, "file", 4},
		{"streamed answer", "GET", appSays("X-Accel-Redirect", "/protected/a.txt", "Content-Type", "text/event-stream"), nil, 200, "the private file", 16},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.url+"/download/1"+tt.query, nil)
			for i := 0; i+1 < len(tt.kv); i += 2 {
				req.Header.Set(tt.kv[i], tt.kv[i+1])
			}
			resp, body := e.do(t, req)
			if resp.StatusCode != tt.code || string(body) != tt.body {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.code, tt.body)
			}
			if a := e.nextAccess(t); a.Status != tt.code || a.Bytes != tt.bytes {
				t.Errorf("access %+v: want %d, %d bytes", a, tt.code, tt.bytes)
			}
		})
	}
}

// TestInternalH2C: over HTTP/2 the edge's writer is net/http's, and the
// status and bytes are counted around it.
func TestInternalH2C(t *testing.T) {
	e, _, _, _ := internalEdge(t, true)
	c := h2cClient()
	defer c.Transport.(*http.Transport).CloseIdleConnections()
	for _, tt := range []struct {
		rng   string
		code  int
		body  string
		bytes int64
	}{{"", 200, "the private file", 16}, {"bytes=0-2", 206, "the", 3}} {
		req, _ := http.NewRequest("GET", e.url+"/download/4"+appSays("X-Accel-Redirect", "/protected/a.txt", "Content-Disposition", "attachment"), nil)
		if tt.rng != "" {
			req.Header.Set("Range", tt.rng)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != tt.code || string(b) != tt.body || resp.Header.Get("Content-Disposition") != "attachment" {
			t.Errorf("HTTP/%d %d %q %v, want HTTP/2 %d %q", resp.ProtoMajor, resp.StatusCode, b, resp.Header, tt.code, tt.body)
		}
		if a := e.nextAccess(t); a.Status != tt.code || a.Bytes != tt.bytes {
			t.Errorf("access %+v: want %d, %d bytes", a, tt.code, tt.bytes)
		}
	}
}

func TestInternalRefusals(t *testing.T) {
	e, b, root, logged := internalEdge(t, true)
	for _, tt := range []struct {
		name  string
		query string
		code  int
		log   string
	}{
		{"traversal", appSays("X-Accel-Redirect", "/protected/../outside/secret.txt"), 500, "'..'"},
		{"encoded traversal", appSays("X-Accel-Redirect", "/protected/%2e%2e/outside/secret.txt"), 500, "'..'"},
		{"encoded slash", appSays("X-Accel-Redirect", "/protected/..%2Foutside%2Fsecret.txt"), 500, "encoded"},
		{"symlink out", appSays("X-Accel-Redirect", "/protected/out.txt"), 500, "escapes"},
		{"x-sendfile outside", appSays("X-Sendfile", filepath.Join(root, "outside/secret.txt")), 500, "no --internal directory"},
		{"x-sendfile traversal", appSays("X-Sendfile", filepath.Join(root, "private")+"/../outside/secret.txt"), 500, "'..'"},
		{"x-sendfile symlink out", appSays("X-Sendfile", filepath.Join(root, "private/out.txt")), 500, "escapes"},
		{"missing", appSays("X-Accel-Redirect", "/protected/nope.txt"), 404, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.get(t, "/download/2"+tt.query+"&cl=16")
			if resp.StatusCode != tt.code || strings.Contains(string(body), "NEVER") {
				t.Errorf("got %d %q, want %d and no file", resp.StatusCode, body, tt.code)
			}
			if resp.Header.Get("Content-Disposition") != "" || resp.Header.Get("X-Accel-Redirect") != "" || resp.Header.Get("X-Sendfile") != "" {
				t.Errorf("the refusal carries the app's headers: %v", resp.Header)
			}
			if a := e.nextAccess(t); a.Status != tt.code {
				t.Errorf("access %+v: want %d", a, tt.code)
			}
			if logged.count(tt.log) == 0 {
				t.Errorf("the log does not say %q:\n%s", tt.log, logged.b.String())
			}
		})
	}
	// The client's own request for an internal path: 404 from the edge,
	// never the app's.
	mark := testMark(t)
	resp, body := e.get(t, "/protected/a.txt", markHeader, mark)
	if resp.StatusCode != 404 || strings.Contains(string(body), "private file") {
		t.Errorf("client GET /protected/a.txt: %d %q, want 404", resp.StatusCode, body)
	}
	b.checkNotReached(t, mark, "a client's request for an internal path reached the app")
	if a := e.nextAccess(t); a.Status != 404 || a.Kind != KindStatic {
		t.Errorf("access %+v: want a 404 of the edge's own", a)
	}
}

// TestInternalUndeclared: an app that names a file to an edge with no
// --internal directory gets a 500 whose log names the flag, not its empty
// 200 passed on.
func TestInternalUndeclared(t *testing.T) {
	e, _, _, logged := internalEdge(t, false)
	resp, body := e.get(t, "/download/3"+appSays("X-Accel-Redirect", "/protected/a.txt", "Content-Disposition", "attachment")+"&cl=0")
	if resp.StatusCode != 500 || resp.Header.Get("X-Accel-Redirect") != "" {
		t.Errorf("got %d %v %q, want 500", resp.StatusCode, resp.Header, body)
	}
	if logged.count("--internal") == 0 {
		t.Errorf("the log does not name --internal:\n%s", logged.b.String())
	}
}

// TestInternalFreesInstance: the app's answer is not read (its
// Content-Length is the file's size, with nothing after it), so the
// instance is free at once, and an empty answer keeps its connection.
func TestInternalFreesInstance(t *testing.T) {
	e, _, _, _ := internalEdge(t, true)
	for i, cl := range []string{"16", "0", "0"} {
		resp, body := e.get(t, "/download/"+strconv.Itoa(i)+appSays("X-Accel-Redirect", "/protected/a.txt")+"&cl="+cl)
		if resp.StatusCode != 200 || string(body) != "the private file" {
			t.Fatalf("Content-Length %s: %d %q", cl, resp.StatusCode, body)
		}
	}
	if n := e.bal.Pick(nil).inflight.Load(); n != 0 {
		t.Errorf("instance has %d requests in flight after the answers", n)
	}
}
