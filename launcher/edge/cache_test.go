package edge

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/httpcache"
)

// testClock is a cache's clock that a test moves forward.
type testClock struct{ skew atomic.Int64 }

func (c *testClock) Now() time.Time      { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *testClock) add(d time.Duration) { c.skew.Add(int64(d)) }

// newCacheEdge is newEdge with a response cache of 1 MiB (objects up to
// 64 KiB) on clk, and one backend serving h.
func newCacheEdge(t *testing.T, opts Options, clk *testClock, h http.HandlerFunc) (*testEdge, *testBackend) {
	t.Helper()
	opts.Cache = httpcache.New(httpcache.Options{MaxBytes: 1 << 20, MaxObject: 64 << 10, Now: clk.Now})
	e := newEdge(t, opts)
	t.Cleanup(e.proxy.Close) // after the server's Shutdown: cleanups run last first
	be := newBackend(t, h)
	e.add(t, "web.1", be.addr)
	return e, be
}

// slack is how many seconds a loaded machine may add to an Age between a
// test's store and its lookup.
const slack = 2

// ageOf is a response's Age, in seconds.
func ageOf(t *testing.T, resp *http.Response) int {
	t.Helper()
	age, err := strconv.Atoi(resp.Header.Get("Age"))
	if err != nil {
		t.Fatalf("Age %q: %v", resp.Header.Get("Age"), err)
	}
	return age
}

// checkStale checks a stale answer: an Age of at least minAge (within
// slack), and a Cache-Status whose ttl is the lifetime less that Age.
func checkStale(t *testing.T, resp *http.Response, lifetime, minAge int, detail string) {
	t.Helper()
	age := ageOf(t, resp)
	want := fmt.Sprintf("corral; hit; ttl=%d; detail=%s", lifetime-age, detail)
	if age < minAge || age > minAge+slack || cacheStatus(resp) != want {
		t.Errorf("stale: Age %d (want %d), Cache-Status %q, want %q", age, minAge, cacheStatus(resp), want)
	}
}

// cacheStatus is a response's Cache-Status.
func cacheStatus(resp *http.Response) string { return resp.Header.Get("Cache-Status") }

// page answers with body and the header lines kv ("Name", "value", …),
// and a fresh count of the requests that reached it in the body's
// second line.
func page(body string, kv ...string) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s\n%d\n", body, n.Add(1))
	}
}

func TestCacheHit(t *testing.T) {
	clk := &testClock{}
	e, be := newCacheEdge(t, Options{}, clk, page("cached", "Cache-Control", "public, max-age=60", "Etag", `"v1"`))
	resp, first := e.get(t, "/page?x=1")
	if got := cacheStatus(resp); got != "corral; fwd=uri-miss; fwd-status=200; stored" {
		t.Errorf("first: Cache-Status %q", got)
	}
	if a := e.nextAccess(t); a.Cache != "miss" || a.Instance != "web.1" || a.Status != 200 {
		t.Errorf("first: access %+v", a)
	}
	clk.add(5 * time.Second)
	resp, second := e.get(t, "/page?x=1")
	if got := cacheStatus(resp); got != "corral; hit" {
		t.Errorf("second: Cache-Status %q", got)
	}
	if !bytes.Equal(first, second) || ageOf(t, resp) < 5 || ageOf(t, resp) > 5+slack || resp.Header.Get("Etag") != `"v1"` || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("second: body %q (first %q), header %v", second, first, resp.Header)
	}
	if a := e.nextAccess(t); a.Cache != "hit" || a.Status != 200 || a.Bytes != int64(len(second)) {
		t.Errorf("second: access %+v", a)
	}
	// A client's own Cache-Control does not empty the cache (nginx's and
	// Varnish's default): one client must not make the app answer for all.
	if resp, _ := e.get(t, "/page?x=1", "Cache-Control", "no-cache", "Pragma", "no-cache"); cacheStatus(resp) != "corral; hit" {
		t.Errorf("client no-cache: Cache-Status %q", cacheStatus(resp))
	}
	e.nextAccess(t)
	req, _ := http.NewRequest(http.MethodHead, e.url+"/page?x=1", nil)
	resp, body := e.do(t, req)
	if cacheStatus(resp) != "corral; hit" || len(body) != 0 || resp.ContentLength != int64(len(first)) {
		t.Errorf("HEAD: Cache-Status %q, body %q, length %d", cacheStatus(resp), body, resp.ContentLength)
	}
	if resp, _ := e.get(t, "/page?x=2"); cacheStatus(resp) == "corral; hit" {
		t.Error("another query string was a hit")
	}
	if n := be.hits.Load(); n != 2 {
		t.Errorf("the app served %d requests, want 2", n)
	}
	st := e.proxy.cache.Stats()
	if st.Hits != 3 || st.Misses != 2 || st.Entries != 2 || st.Bytes == 0 {
		t.Errorf("stats %+v", st)
	}
	clk.add(time.Minute)
	if resp, _ := e.get(t, "/page?x=1"); !strings.HasPrefix(cacheStatus(resp), "corral; fwd=stale") {
		t.Errorf("expired: Cache-Status %q", cacheStatus(resp))
	}
}

// TestCacheNotStored: what the app did not mark for shared caches, or
// marked as one client's, reaches the app every time.
func TestCacheNotStored(t *testing.T) {
	for _, c := range []struct {
		name   string
		header []string
		req    []string
		detail string
	}{
		{"no caching headers (a Django page by default)", []string{"Vary", "Cookie", "X-Frame-Options", "DENY"}, nil, "no-explicit-ttl"},
		{"Set-Cookie", []string{"Cache-Control", "public, max-age=60", "Set-Cookie", "sessionid=x"}, nil, "set-cookie"},
		{"private", []string{"Cache-Control", "private, max-age=60"}, nil, "private"},
		{"no-store", []string{"Cache-Control", "no-store, max-age=60"}, nil, "no-store"},
		{"Authorization", []string{"Cache-Control", "max-age=60"}, []string{"Authorization", "Basic dTpw"}, "authorization"},
		{"Vary: *", []string{"Cache-Control", "max-age=60", "Vary", "*"}, nil, "vary-star"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, be := newCacheEdge(t, Options{}, &testClock{}, page("x", c.header...))
			for i := range 2 {
				resp, _ := e.get(t, "/", c.req...)
				want := "corral; fwd=uri-miss; fwd-status=200; detail=" + c.detail
				if got := cacheStatus(resp); got != want {
					t.Errorf("request %d: Cache-Status %q, want %q", i+1, got, want)
				}
			}
			if n := be.hits.Load(); n != 2 {
				t.Errorf("the app served %d requests, want 2", n)
			}
		})
	}
	t.Run("Authorization with public", func(t *testing.T) {
		e, be := newCacheEdge(t, Options{}, &testClock{}, page("x", "Cache-Control", "public, max-age=60"))
		e.get(t, "/", "Authorization", "Basic dTpw")
		if resp, _ := e.get(t, "/", "Authorization", "Basic dTpw"); cacheStatus(resp) != "corral; hit" || be.hits.Load() != 1 {
			t.Errorf("Cache-Status %q, app served %d", cacheStatus(resp), be.hits.Load())
		}
	})
}

func TestCacheVary(t *testing.T) {
	big := strings.Repeat("a page worth compressing\n", 200)
	e, be := newCacheEdge(t, Options{}, &testClock{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, r.Header.Get("Accept-Language")+"\n"+big)
	})
	get := func(lang, ae string) (*http.Response, string) {
		t.Helper()
		resp, body := e.get(t, "/", "Accept-Language", lang, "Accept-Encoding", ae)
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(zr)
		}
		return resp, string(body)
	}
	for round := range 2 {
		for _, lang := range []string{"en", "fr"} {
			for _, ae := range []string{"gzip, deflate, br", ""} {
				resp, body := get(lang, ae)
				if !strings.HasPrefix(body, lang+"\n") {
					t.Errorf("%s, %q: body starts %.10q", lang, ae, body)
				}
				if gz := resp.Header.Get("Content-Encoding") == "gzip"; gz != (ae != "") {
					t.Errorf("%s, %q: Content-Encoding %q", lang, ae, resp.Header.Get("Content-Encoding"))
				}
				want := "corral; hit"
				switch {
				case round == 0 && lang == "en" && ae != "":
					want = "corral; fwd=uri-miss; fwd-status=200; stored" // the first
				case round == 0:
					want = "corral; fwd=vary-miss; fwd-status=200; stored"
				}
				if cacheStatus(resp) != want {
					t.Errorf("round %d, %s, %q: Cache-Status %q, want %q", round, lang, ae, cacheStatus(resp), want)
				}
			}
		}
	}
	// The same preferences in other words are the same variant.
	if resp, _ := get("en", "br, deflate,gzip"); cacheStatus(resp) != "corral; hit" {
		t.Errorf("Accept-Encoding reordered: Cache-Status %q", cacheStatus(resp))
	}
	if n := be.hits.Load(); n != 4 {
		t.Errorf("the app served %d requests, want 4 (2 languages × 2 codings)", n)
	}
}

// TestCacheConditional: a client's If-None-Match and If-Modified-Since are
// answered 304 from the cache; a revalidation sends the stored
// response's validators, and a 304 from the app freshens it.
func TestCacheConditional(t *testing.T) {
	lm := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	var sawINM atomic.Value
	sawINM.Store("")
	e, be := newCacheEdge(t, Options{}, &testClock{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache, max-age=60") // stored, revalidated at each use
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Last-Modified", lm)
		sawINM.Store(r.Header.Get("If-None-Match"))
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, "the body")
	})
	e.get(t, "/")
	resp, body := e.get(t, "/")
	if resp.StatusCode != 200 || string(body) != "the body" || cacheStatus(resp) != "corral; fwd=stale; fwd-status=304; stored" {
		t.Errorf("revalidated: %d %q, Cache-Status %q", resp.StatusCode, body, cacheStatus(resp))
	}
	if got := sawINM.Load(); got != `"v1"` {
		t.Errorf("the revalidation sent If-None-Match %q", got)
	}
	if a := e.nextAccess(t); a.Cache != "miss" {
		t.Errorf("first: %+v", a)
	}
	if a := e.nextAccess(t); a.Cache != "revalidated" || a.Instance != "web.1" {
		t.Errorf("second: %+v", a)
	}
	for _, c := range []struct{ k, v string }{{"If-None-Match", `W/"v1"`}, {"If-Modified-Since", lm}} {
		resp, body = e.get(t, "/", c.k, c.v)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("Etag") != `"v1"` {
			t.Errorf("%s: %d %q %v", c.k, resp.StatusCode, body, resp.Header)
		}
	}
	if n := be.hits.Load(); n != 4 {
		t.Errorf("the app served %d, want 4: no-cache revalidates each use", n)
	}

	// A fresh response answers a precondition without the app.
	e2, be2 := newCacheEdge(t, Options{}, &testClock{}, page("x", "Cache-Control", "max-age=60", "Etag", `"v2"`))
	e2.get(t, "/")
	if resp, _ := e2.get(t, "/", "If-None-Match", `"v2"`); resp.StatusCode != http.StatusNotModified || cacheStatus(resp) != "corral; hit" {
		t.Errorf("fresh: %d, Cache-Status %q", resp.StatusCode, cacheStatus(resp))
	}
	if resp, _ := e2.get(t, "/", "If-None-Match", `"other"`); resp.StatusCode != 200 {
		t.Errorf("another ETag: %d", resp.StatusCode)
	}
	if be2.hits.Load() != 1 {
		t.Errorf("the app served %d, want 1", be2.hits.Load())
	}
}

// TestCacheStaleWhileRevalidate: once stale, every request gets the stale
// copy at once, and one request only revalidates it in the background.
func TestCacheStaleWhileRevalidate(t *testing.T) {
	clk := &testClock{}
	release := make(chan struct{})
	var n atomic.Int64
	e, _ := newCacheEdge(t, Options{}, clk, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) > 1 {
			<-release // the revalidation waits until the test has looked
		}
		w.Header().Set("Cache-Control", "max-age=10, stale-while-revalidate=60")
		w.Header().Set("Date", clk.Now().UTC().Format(http.TimeFormat)) // the app's clock is the cache's
		fmt.Fprintf(w, "version %d", n.Load())
	})
	e.get(t, "/")
	clk.add(20 * time.Second)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, body := e.get(t, "/")
			if string(body) != "version 1" {
				t.Errorf("stale: %q", body)
			}
			checkStale(t, resp, 10, 20, "stale-while-revalidate")
		})
	}
	wg.Wait()
	waitFor(t, "the revalidation", func() bool { return n.Load() == 2 })
	close(release)
	waitFor(t, "the revalidated copy", func() bool {
		_, body := e.get(t, "/")
		return string(body) == "version 2"
	})
	if got := n.Load(); got != 2 {
		t.Errorf("the app served %d requests, want 2: one revalidation for 8 stale answers", got)
	}
	if st := e.proxy.cache.Stats(); st.Stale < 8 {
		t.Errorf("stats %+v", st)
	}
}

// TestCacheStaleIfError: a stale copy within stale-if-error answers when
// the app answers 5xx, and at once when no instance is ready, instead of
// a wait at the boot gate.
func TestCacheStaleIfError(t *testing.T) {
	clk := &testClock{}
	var failing atomic.Bool
	h := func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "database down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Cache-Control", "max-age=1, stale-if-error=300")
		io.WriteString(w, "good page")
	}
	// A boot gate longer than the client waits: a stale answer must not
	// come from behind it.
	e, be := newCacheEdge(t, Options{BootWait: 2 * testTimeout}, clk, h)
	e.get(t, "/")
	clk.add(10 * time.Second)

	failing.Store(true)
	resp, body := e.get(t, "/")
	if resp.StatusCode != 200 || string(body) != "good page" {
		t.Errorf("app answering 503: %d %q", resp.StatusCode, body)
	}
	checkStale(t, resp, 1, 10, "stale-if-error")
	if a := e.nextAccess(t); a.Cache != "miss" {
		t.Errorf("first access %+v", a)
	} else if a := e.nextAccess(t); a.Cache != "stale" || a.Status != 200 || a.Instance != "" {
		t.Errorf("stale access %+v", a)
	}
	if resp, _ := e.get(t, "/other"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a page never stored: %d, want the app's 503", resp.StatusCode)
	}

	// The instance dies: the request that finds it gone, and those that
	// come while none is ready, get the stale copy.
	be.Close()
	for i := range 3 {
		resp, body = e.get(t, "/")
		if resp.StatusCode != 200 || string(body) != "good page" || !strings.Contains(cacheStatus(resp), "detail=stale-if-error") {
			t.Errorf("no instance, request %d: %d %q, Cache-Status %q", i+1, resp.StatusCode, body, cacheStatus(resp))
		}
	}
	if e.bal.ReadyCount() != 0 {
		t.Error("the dead instance is still in rotation")
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if resp, body := e.get(t, "/"); resp.StatusCode != 200 || string(body) != "good page" {
				t.Errorf("concurrent, no instance: %d %q", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	// Past stale-if-error, the request waits at the gate as any other.
	clk.add(time.Hour)
	e.client.Timeout = 300 * time.Millisecond
	if _, err := e.client.Get(e.url + "/"); err == nil {
		t.Error("past stale-if-error: answered with no instance ready")
	}
}

// TestCacheCollapsing: concurrent misses for one URL send one request to
// the app; when its answer cannot be stored, each asks the app itself.
func TestCacheCollapsing(t *testing.T) {
	for _, c := range []struct {
		cc   string
		want int64
	}{{"public, max-age=60", 1}, {"no-store", 10}} {
		t.Run(c.cc, func(t *testing.T) {
			release := make(chan struct{})
			var n atomic.Int64
			e, _ := newCacheEdge(t, Options{}, &testClock{}, func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					<-release
				}
				w.Header().Set("Cache-Control", c.cc)
				io.WriteString(w, "page")
			})
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() {
					if resp, body := e.get(t, "/"); resp.StatusCode != 200 || string(body) != "page" {
						t.Errorf("%d %q", resp.StatusCode, body)
					}
				})
			}
			waitFor(t, "the first request at the app", func() bool { return n.Load() == 1 })
			close(release)
			wg.Wait()
			if got := n.Load(); got != c.want {
				t.Errorf("the app served %d requests, want %d", got, c.want)
			}
		})
	}
}

// TestCacheBypass: unsafe requests invalidate, streams and objects over
// the cap pass through unstored, ranges go to the app.
func TestCacheBypass(t *testing.T) {
	e, be := newCacheEdge(t, Options{}, &testClock{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		switch r.URL.Path {
		case "/big":
			w.Write(make([]byte, 100<<10))
		case "/events":
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: 1\n\n")
		default:
			io.WriteString(w, "page")
		}
	})
	e.get(t, "/")
	req, _ := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader("x=1"))
	e.do(t, req)
	if resp, _ := e.get(t, "/"); cacheStatus(resp) == "corral; hit" {
		t.Error("a hit after a POST to the same URL")
	}
	if resp, _ := e.get(t, "/", "Range", "bytes=0-1"); resp.Header.Get("Cache-Status") != "" {
		t.Errorf("a range request went through the cache: %q", cacheStatus(resp))
	}
	for path, status := range map[string]string{
		"/big":    "corral; fwd=uri-miss; fwd-status=200; detail=too-large",
		"/events": "corral; fwd=uri-miss; fwd-status=200; detail=stream",
	} {
		before := be.hits.Load()
		resp, body := e.get(t, path)
		resp2, body2 := e.get(t, path)
		if be.hits.Load()-before != 2 || !bytes.Equal(body, body2) || len(body) == 0 {
			t.Errorf("%s: the app served %d of 2; bodies %d and %d bytes", path, be.hits.Load()-before, len(body), len(body2))
		}
		if cacheStatus(resp) != status || cacheStatus(resp2) != status {
			t.Errorf("%s: Cache-Status %q, %q; want %q", path, cacheStatus(resp), cacheStatus(resp2), status)
		}
	}
}

// readFromWriter records whether a copy reached its ReadFrom.
type readFromWriter struct {
	benchWriter
	readFrom bool
}

func (w *readFromWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return io.Copy(io.Discard, r)
}

// TestRecorderReadFrom: a file copied through the recorder reaches the
// client writer's ReadFrom (sendfile) once it passes through, and is held
// whole while it may be stored.
func TestRecorderReadFrom(t *testing.T) {
	pc := newProxyCache(httpcache.New(httpcache.Options{MaxBytes: 1 << 20}))
	for _, c := range []struct {
		cc       string
		readFrom bool
	}{{"no-store", true}, {"max-age=60", false}} {
		w := &readFromWriter{benchWriter: benchWriter{h: http.Header{"Cache-Control": {c.cc}, "Content-Length": {"5"}}}}
		rec := &cacheRecorder{pc: pc, w: w, r: httptest.NewRequest(http.MethodGet, "/", nil), max: 1 << 10}
		if n, err := io.CopyN(rec, strings.NewReader("hello"), 5); n != 5 || err != nil { // as http.ServeContent copies
			t.Fatalf("%s: copied %d, %v", c.cc, n, err)
		}
		if w.readFrom != c.readFrom || rec.through != c.readFrom || (!c.readFrom && string(rec.body) != "hello") {
			t.Errorf("%s: ReadFrom used %v, through %v, held %q", c.cc, w.readFrom, rec.through, rec.body)
		}
	}
}

// TestCacheH2C: HTTP/2 clients get hits too, with the stored fields intact
// for the HTTP/1 clients after them.
func TestCacheH2C(t *testing.T) {
	e, be := newCacheEdge(t, Options{}, &testClock{}, page("shared", "Cache-Control", "max-age=60", "Etag", `"h2"`))
	h2 := h2cClient()
	defer h2.Transport.(*http.Transport).CloseIdleConnections()
	var bodies []string
	for i := range 4 {
		c := e.client
		if i%2 == 1 {
			c = h2
		}
		resp, err := c.Get(e.url + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, string(b))
		if i > 0 && (cacheStatus(resp) != "corral; hit" || resp.Header.Get("Etag") != `"h2"` || resp.ContentLength != int64(len(b))) {
			t.Errorf("request %d (%s): Cache-Status %q, Etag %q, length %d of %d", i+1, resp.Proto, cacheStatus(resp), resp.Header.Get("Etag"), resp.ContentLength, len(b))
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("bodies differ: %q", bodies)
		}
	}
	if be.hits.Load() != 1 {
		t.Errorf("the app served %d, want 1", be.hits.Load())
	}
}

// TestCacheSlowLeader: requests collapsed behind one whose response cannot
// be stored do not wait for its client to read it.
func TestCacheSlowLeader(t *testing.T) {
	big := strings.Repeat("x", 16<<20) // more than the sockets between edge and client hold
	var n atomic.Int64
	e, _ := newCacheEdge(t, Options{}, &testClock{}, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, big)
	})
	leader := rawConn(t, e.addr)                                         // sends, never reads
	io.WriteString(leader, "GET / HTTP/1.1\r\nHost: "+e.addr+"\r\n\r\n") // the same key as the follower's
	waitFor(t, "the leader at the app", func() bool { return n.Load() == 1 })
	resp, body := e.get(t, "/")
	if resp.StatusCode != 200 || len(body) != len(big) {
		t.Errorf("follower: %d, %d bytes", resp.StatusCode, len(body))
	}
}
