package static

import (
	"fmt"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// expire makes every entry of s's cache due for a check of the disk, as
// if valid had passed since each was checked.
func expire(s *Server) {
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	for _, e := range s.cache.entries {
		e.checked.Store(-int64(time.Hour))
	}
}

// noHold makes s send every file from disk, as it did before the cache
// held any: the reference the held answers are compared with.
func noHold(s *Server) *Server {
	s.cache.maxFile = -1
	return s
}

// TestCacheInvalidation: a held file is answered from memory until its
// entry is due, and then as the disk has it: rewritten, removed, swapped
// for a symlink (out of the root: never followed), grown past what is
// held, a sibling come or gone.
func TestCacheInvalidation(t *testing.T) {
	type want struct {
		code int
		body string
	}
	tests := []struct {
		name    string
		target  string
		ae      string
		change  func(t *testing.T, dir string)
		after   want
		symlink bool
		// sameETag: the ETag (size and time, as nginx's) cannot tell the
		// new file from the old.
		sameETag bool
	}{
		{name: "rewritten, same size", target: "/s/a.css", change: func(t *testing.T, dir string) {
			writeAt(t, dir, "a.css", "AAAA", time.Now().Add(time.Minute))
		}, after: want{200, "AAAA"}},
		{name: "rewritten, same size and time, another file", target: "/s/a.css", change: func(t *testing.T, dir string) {
			fi, _ := os.Stat(filepath.Join(dir, "a.css"))
			writeAt(t, dir, "a.css.new", "BBBB", fi.ModTime())
			rename(t, dir, "a.css.new", "a.css") // a deploy's atomic replace: another inode
		}, after: want{200, "BBBB"}, sameETag: true},
		{name: "rewritten, longer", target: "/s/a.css", change: func(t *testing.T, dir string) {
			write(t, dir, "a.css", "a longer one")
		}, after: want{200, "a longer one"}},
		{name: "removed", target: "/s/a.css", change: func(t *testing.T, dir string) {
			remove(t, dir, "a.css")
		}, after: want{404, ""}},
		{name: "a directory now", target: "/s/a.css", change: func(t *testing.T, dir string) {
			remove(t, dir, "a.css")
			mkdir(t, dir, "a.css")
		}, after: want{404, ""}},
		{name: "symlink out of the root", target: "/s/a.css", symlink: true, change: func(t *testing.T, dir string) {
			remove(t, dir, "a.css")
			symlink(t, "../secret.txt", dir, "a.css")
		}, after: want{404, ""}},
		{name: "parent a symlink out of the root", target: "/s/sub/b.css", symlink: true, change: func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "sub")); err != nil {
				t.Fatal(err)
			}
			symlink(t, "../outside", dir, "sub")
		}, after: want{404, ""}},
		{name: "symlink inside the root", target: "/s/a.css", symlink: true, change: func(t *testing.T, dir string) {
			remove(t, dir, "a.css")
			symlink(t, "sub/b.css", dir, "a.css")
		}, after: want{200, "b"}},
		{name: "grown past what is held", target: "/s/a.css", change: func(t *testing.T, dir string) {
			write(t, dir, "a.css", strings.Repeat("x", 100))
		}, after: want{200, strings.Repeat("x", 100)}},
		{name: "sibling added", target: "/s/a.css", ae: "gzip", change: func(t *testing.T, dir string) {
			write(t, dir, "a.css.gz", "GZ")
		}, after: want{200, "GZ"}},
		{name: "sibling removed", target: "/s/b.js", ae: "gzip", change: func(t *testing.T, dir string) {
			remove(t, dir, "b.js.gz")
		}, after: want{200, "b.js"}},
		{name: "sibling a symlink out of the root", target: "/s/b.js", ae: "gzip", symlink: true, change: func(t *testing.T, dir string) {
			remove(t, dir, "b.js.gz")
			symlink(t, "../secret.txt", dir, "b.js.gz")
		}, after: want{200, "b.js"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.symlink && runtime.GOOS == "windows" {
				t.Skip("symlinks")
			}
			base := t.TempDir()
			dir := filepath.Join(base, "root")
			for name, body := range map[string]string{
				"root/a.css": "aaaa", "root/sub/b.css": "b", "root/b.js": "b.js", "root/b.js.gz": "B.JS.GZ",
				"secret.txt": secret, "outside/b.css": secret,
			} {
				write(t, base, name, body)
			}
			s := newServer(t, Mount{Prefix: "/s/", Dir: dir})
			s.cache.valid = time.Hour
			s.cache.maxFile = 64
			before := do(s, "GET", tt.target, "Accept-Encoding", tt.ae)
			if before.Code != 200 {
				t.Fatalf("before: status %d", before.Code)
			}
			tt.change(t, dir)
			if held := do(s, "GET", tt.target, "Accept-Encoding", tt.ae); held.Code != 200 || held.Body.String() != before.Body.String() {
				t.Errorf("within valid: %d %q, want the held %q", held.Code, held.Body, before.Body)
			}
			expire(s)
			w := do(s, "GET", tt.target, "Accept-Encoding", tt.ae)
			if w.Code != tt.after.code || (tt.after.body != "" && w.Body.String() != tt.after.body) {
				t.Fatalf("after the check: %d %q, want %d %q", w.Code, w.Body, tt.after.code, tt.after.body)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Fatal("served the secret")
			}
			if w.Code == 200 && !tt.sameETag && w.Header().Get("Etag") == before.Header().Get("Etag") {
				t.Errorf("ETag %s unchanged", w.Header().Get("Etag"))
			}
			if again := do(s, "GET", tt.target, "Accept-Encoding", tt.ae); again.Code != w.Code || again.Body.String() != w.Body.String() {
				t.Errorf("next request: %d %q, want %d %q", again.Code, again.Body, w.Code, w.Body)
			}
		})
	}
}

// TestCacheHits: a held file is loaded once, then answered from memory;
// a check that finds it unchanged keeps it, one that finds its mode
// changed opens it again; what is too large is not held but its entry
// still is.
func TestCacheHits(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.css", "aaaa")
	write(t, dir, "big.js", strings.Repeat("x", 100))
	s := newServer(t, Mount{Prefix: "/s/", Dir: dir})
	s.cache.valid = time.Hour
	s.cache.maxFile = 64
	for range 3 {
		do(s, "GET", "/s/a.css")
	}
	if st := s.CacheStats(); st.Loads != 1 || st.Hits != 2 || st.Entries != 1 || st.Bytes != entryOverhead+int64(len("a.css")+len("aaaa")) {
		t.Errorf("after 3 GETs: %+v, want 1 load, 2 hits, 1 entry of %d bytes", st, entryOverhead+len("a.css")+len("aaaa"))
	}
	expire(s)
	do(s, "GET", "/s/a.css")
	if st := s.CacheStats(); st.Loads != 1 {
		t.Errorf("a check finding the file unchanged loaded it again: %+v", st)
	}
	if err := os.Chmod(filepath.Join(dir, "a.css"), 0o600); err != nil {
		t.Fatal(err)
	}
	expire(s)
	do(s, "GET", "/s/a.css")
	if st := s.CacheStats(); st.Loads != 2 {
		t.Errorf("a file whose mode changed was not opened again (as a file made unreadable must be): %+v", st)
	}
	for range 2 {
		if w := do(s, "GET", "/s/big.js"); w.Code != 200 || w.Body.Len() != 100 {
			t.Fatalf("big.js: %d, %d bytes", w.Code, w.Body.Len())
		}
	}
	if st := s.CacheStats(); st.Loads != 3 || st.Entries != 2 || st.Bytes != 2*entryOverhead+int64(len("a.css")+len("aaaa")+len("big.js")) {
		t.Errorf("after big.js: %+v, want 3 loads, 2 entries, its bytes not held", st)
	}
}

// TestCacheBudget: the cache holds no more than its budget, dropping
// entries to make room, and every file is still served right.
func TestCacheBudget(t *testing.T) {
	dir := t.TempDir()
	const n = 40
	for i := range n {
		write(t, dir, fmt.Sprintf("f%02d.css", i), strings.Repeat(string(rune('a'+i%26)), 50+i))
	}
	s := newServer(t, Mount{Prefix: "/s/", Dir: dir})
	s.cache.maxBytes = 5 * (entryOverhead + 100)
	for round := range 3 {
		for i := range n {
			w := do(s, "GET", fmt.Sprintf("/s/f%02d.css", i))
			if want := strings.Repeat(string(rune('a'+i%26)), 50+i); w.Code != 200 || w.Body.String() != want {
				t.Fatalf("round %d, f%02d.css: %d %q", round, i, w.Code, w.Body)
			}
			if st := s.CacheStats(); st.Bytes > s.cache.maxBytes || st.Entries > 5 {
				t.Fatalf("round %d, f%02d.css: %+v, over the budget of %d bytes", round, i, st, s.cache.maxBytes)
			}
		}
	}
	var counted int64
	for _, e := range s.cache.entries {
		counted += e.size
	}
	if st := s.CacheStats(); st.Evictions == 0 || counted != st.Bytes {
		t.Errorf("%+v: want evictions, and bytes %d as the entries count them", st, counted)
	}
}

// TestCacheConcurrent: requests racing a file replaced again and again
// (as a deploy does, by rename) each get one whole version, with its own
// length and ETag; run with -race.
func TestCacheConcurrent(t *testing.T) {
	dir := t.TempDir()
	version := func(i int) string { return fmt.Sprintf("v%d:%s", i, strings.Repeat("x", i%50)) }
	write(t, dir, "a.css", version(0))
	s := newServer(t, Mount{Prefix: "/s/", Dir: dir})
	s.cache.valid = 0 // every request checks: the most loads and races
	s.cache.maxBytes = 3 * (entryOverhead + 100)
	var writer, readers sync.WaitGroup
	stop := make(chan struct{})
	writer.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			write(t, dir, "a.css.tmp", version(i))
			rename(t, dir, "a.css.tmp", "a.css")
		}
	})
	etags := sync.Map{} // body -> ETag
	for g := range 4 {
		readers.Go(func() {
			for i := range 300 {
				target := "/s/a.css"
				if i%3 == 0 {
					target = fmt.Sprintf("/s/other%d.css", g) // missing: fills and empties the map beside
				}
				w := do(s, "GET", target)
				if target != "/s/a.css" {
					if w.Code != 404 {
						t.Errorf("%s: %d", target, w.Code)
					}
					continue
				}
				body := w.Body.String()
				var n int
				if _, err := fmt.Sscanf(body, "v%d:", &n); err != nil || w.Code != 200 || body != version(n) || w.Header().Get("Content-Length") != fmt.Sprint(len(body)) {
					t.Errorf("%d %q (Content-Length %s): not one whole version", w.Code, body, w.Header().Get("Content-Length"))
					return
				}
				if et, loaded := etags.LoadOrStore(body, w.Header().Get("Etag")); loaded && et != w.Header().Get("Etag") {
					t.Errorf("%q served with ETags %s and %s", body, et, w.Header().Get("Etag"))
				}
			}
		})
	}
	readers.Wait()
	close(stop)
	writer.Wait()
}

// TestHeldAsFromDisk: a file answered from memory gets the very status,
// headers and body it gets sent from disk, for every kind of request.
func TestHeldAsFromDisk(t *testing.T) {
	dir, _ := fixture(t)
	held := newServer(t, Mount{Prefix: "/static/", Dir: dir})
	disk := noHold(newServer(t, Mount{Prefix: "/static/", Dir: dir}))
	spaDir := site(t, siteFiles())
	spaHeld := newServer(t, Mount{Prefix: "/", Dir: spaDir, Index: true, Fallback: "index.html"})
	spaDisk := noHold(newServer(t, Mount{Prefix: "/", Dir: spaDir, Index: true, Fallback: "index.html"}))
	first := do(disk, "GET", "/static/app.css")
	et, lm := first.Header().Get("Etag"), first.Header().Get("Last-Modified")
	etBr := do(disk, "GET", "/static/app.css", "Accept-Encoding", "br").Header().Get("Etag")
	for _, rq := range []struct {
		method, target string
		hdr            []string
	}{
		{"GET", "/static/app.css", nil},
		{"HEAD", "/static/app.css", nil},
		{"GET", "/static/app.css", []string{"Accept-Encoding", "gzip, deflate, br"}},
		{"HEAD", "/static/app.css", []string{"Accept-Encoding", "gzip"}},
		{"GET", "/static/app.css", []string{"Accept-Encoding", "br;q=0, gzip;q=0"}},
		{"GET", "/static/only.js", []string{"Accept-Encoding", "br"}},
		{"GET", "/static/main.0123abcd89ef.css", nil},
		{"GET", "/static/app.css", []string{"If-None-Match", et}},
		{"HEAD", "/static/app.css", []string{"If-None-Match", et}},
		{"GET", "/static/app.css", []string{"If-None-Match", `"x", ` + et}},
		{"GET", "/static/app.css", []string{"If-None-Match", "W/" + et}},
		{"GET", "/static/app.css", []string{"If-None-Match", `"other"`}},
		{"GET", "/static/app.css", []string{"If-None-Match", "*"}},
		{"GET", "/static/app.css", []string{"Accept-Encoding", "br", "If-None-Match", etBr}},
		{"GET", "/static/app.css", []string{"Accept-Encoding", "br", "If-None-Match", et}},
		{"GET", "/static/app.css", []string{"If-None-Match", et, "If-Modified-Since", lm}},
		{"GET", "/static/app.css", []string{"If-Modified-Since", lm}},
		{"GET", "/static/app.css", []string{"If-Modified-Since", time.Unix(0, 0).UTC().Format(http.TimeFormat)}},
		{"GET", "/static/app.css", []string{"If-Modified-Since", "garbage"}},
		{"GET", "/static/app.css", []string{"If-Unmodified-Since", time.Unix(0, 0).UTC().Format(http.TimeFormat)}},
		{"GET", "/static/app.css", []string{"If-Match", `"other"`}},
		{"GET", "/static/app.css", []string{"If-Match", et}},
		{"GET", "/static/digits.txt", []string{"Range", "bytes=2-5"}},
		{"GET", "/static/digits.txt", []string{"Range", "bytes=0-1,4-5"}},
		{"GET", "/static/digits.txt", []string{"Range", "bytes=100-"}},
		{"GET", "/static/app.css", []string{"Range", "bytes=0-3", "Accept-Encoding", "gzip"}},
		{"GET", "/static/app.css", []string{"Range", "bytes=0-3", "If-Range", et}},
		{"GET", "/static/app.css", []string{"Range", "bytes=0-3", "If-Range", `"stale"`}},
		{"GET", "/static/nope.css", nil},
		{"GET", "/static/inner.css", nil},
		{"GET", "/static/escape.txt", nil},
		{"SPA", "/", nil},
		{"SPA", "/docs/", nil},
		{"SPA", "/users/42", []string{"Accept-Encoding", "gzip"}},
		{"SPA", "/docs", nil},
		{"SPA", "/missing.js", nil},
	} {
		name := rq.method + " " + rq.target + " " + strings.Join(rq.hdr, " ")
		h, d, method := held, disk, rq.method
		if method == "SPA" {
			h, d, method = spaHeld, spaDisk, "GET"
		}
		for range 2 { // loaded, then held
			hw, dw := do(h, method, rq.target, rq.hdr...), do(d, method, rq.target, rq.hdr...)
			hh, dh := hw.Header().Clone(), dw.Header().Clone()
			hb, db := unbound(hh, hw.Body.String()), unbound(dh, dw.Body.String())
			if hw.Code != dw.Code || hb != db {
				t.Errorf("%s: held %d %q, from disk %d %q", name, hw.Code, hb, dw.Code, db)
			}
			if !maps.EqualFunc(hh, dh, slices.Equal) {
				t.Errorf("%s: held headers %v, from disk %v", name, hh, dh)
			}
		}
	}
	if st := held.CacheStats(); st.Hits == 0 {
		t.Errorf("nothing answered from memory: %+v", st)
	}
}

// unbound takes a multipart response's random boundary out of its
// Content-Type h and its body.
func unbound(h http.Header, body string) string {
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if b := params["boundary"]; err == nil && b != "" {
		h.Set("Content-Type", strings.ReplaceAll(h.Get("Content-Type"), b, "BOUNDARY"))
		return strings.ReplaceAll(body, b, "BOUNDARY")
	}
	return body
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Error(err)
	}
}

func writeAt(t *testing.T, dir, name, body string, mtime time.Time) {
	t.Helper()
	write(t, dir, name, body)
	if err := os.Chtimes(filepath.Join(dir, name), mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func rename(t *testing.T, dir, from, to string) {
	t.Helper()
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		t.Error(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, dir, name string) {
	t.Helper()
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
