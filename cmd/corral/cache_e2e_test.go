package main

// End-to-end tests of the edge's response cache in front of real apps
// under real gunicorn.

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cacheApp is a WSGI app that marks its pages for shared caches and
// counts the requests that reach it.
const cacheApp = `import os, threading, time

lock = threading.Lock()
counts = {}

def app(environ, start_response):
    path = environ["PATH_INFO"]
    with lock:
        counts[path] = counts.get(path, 0) + 1
        n = counts[path]
    headers = [("Content-Type", "text/plain")]
    if path == "/count":
        # How many requests reached the app for a path: never cached.
        what = environ.get("QUERY_STRING", "")
        with lock:
            body = str(counts.get(what, 0))
        headers.append(("Cache-Control", "no-store"))
    elif path == "/collapse":
        time.sleep(0.5)  # long enough for every request to arrive meanwhile
        body = "collapsed page"
        headers.append(("Cache-Control", "public, max-age=60"))
    elif path == "/page":
        # Stale at once, so every request asks the app while it is there;
        # but a stale copy may stand in for it for five minutes.
        body = "page %d from pid %d" % (n, os.getpid())
        headers.append(("Cache-Control", "public, max-age=0, stale-if-error=300"))
    else:
        start_response("404 Not Found", headers)
        return [b"no such page"]
    start_response("200 OK", headers)
    return [body.encode()]
`

// startCacheApp runs corral on cacheApp under gunicorn, one worker with
// threads (so that requests reach it at once, each counted), with args
// added to corral start's, and waits until web.1 is ready.
func startCacheApp(t *testing.T, args ...string) (*session, string) {
	t.Helper()
	needTool(t, "gunicorn")
	dir := app(t, map[string]string{
		"app.py":   cacheApp,
		"Procfile": "web: gunicorn app:app --workers 1 --threads 16 --bind 127.0.0.1:$PORT\n",
	})
	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, append([]string{"start", "-t", "5"}, args...)...)
	r.waitFor(`web\.1 is ready`)
	return r, "http://127.0.0.1:" + strconv.Itoa(port)
}

// TestCacheCollapsing: concurrent misses for one page reach the app once;
// the others get its response from the cache.
func TestCacheCollapsing(t *testing.T) {
	r, base := startCacheApp(t)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			resp, body, err := fetch(http.DefaultClient, base+"/collapse", nil)
			if err != nil || resp.StatusCode != 200 || string(body) != "collapsed page" {
				t.Errorf("%v %v %q", err, resp, body)
			}
		})
	}
	wg.Wait()
	if _, body := get(t, base+"/count?/collapse", nil); string(body) != "1" {
		t.Errorf("the app served /collapse %s times for 12 concurrent requests, want 1", body)
	}
	resp, _ := get(t, base+"/collapse", nil)
	if cs := resp.Header.Get("Cache-Status"); cs != "corral; hit" || resp.Header.Get("Age") == "" {
		t.Errorf("afterwards: Cache-Status %q, Age %q", cs, resp.Header.Get("Age"))
	}
	r.waitFor(`GET /collapse 200 \d+B .* cache=hit`)
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}

// TestCacheStaleWhileKilled: SIGKILL to web.1's process group; until it
// is back, the page the app marked stale-if-error keeps answering from
// the cache, and says so.
func TestCacheStaleWhileKilled(t *testing.T) {
	r, base := startCacheApp(t)
	line := r.waitFor(`web\.1 started \(pid \d+`)
	pid, _ := strconv.Atoi(regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(line)[1])

	get(t, base+"/page", nil)
	resp, page := get(t, base+"/page", nil) // the app answers each time: max-age=0
	if !strings.HasPrefix(string(page), "page 2 ") || !strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
		t.Fatalf("%q, Cache-Status %q", page, resp.Header.Get("Cache-Status"))
	}

	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil { // gunicorn's master and worker
		t.Fatal(err)
	}
	stale := 0
	for i := range 5 {
		resp, body := get(t, base+"/page", nil)
		cs := resp.Header.Get("Cache-Status")
		switch {
		case resp.StatusCode != 200:
			t.Errorf("request %d after the kill: status %d, body %q", i+1, resp.StatusCode, body)
		case strings.Contains(cs, "detail=stale-if-error"):
			stale++
			if string(body) != string(page) || resp.Header.Get("Age") == "" || !strings.Contains(cs, "hit; ttl=-") {
				t.Errorf("stale answer %q, Age %q, Cache-Status %q; want %q with its age", body, resp.Header.Get("Age"), cs, page)
			}
		}
	}
	if stale == 0 {
		t.Errorf("no stale answer while web.1 was down:\n%s", r.output())
	}
	r.waitFor(`web\.1 killed by SIGKILL`)
	r.waitFor(`GET /page 200 \d+B .* - id=\S+ cache=stale`)
	r.waitForNth(`web\.1 is ready`, 2)
	// The restarted app answers again.
	if resp, body := get(t, base+"/page", nil); resp.Header.Get("Cache-Status") != "corral; fwd=stale; fwd-status=200; stored" || string(body) == string(page) {
		t.Errorf("after the restart: %q, Cache-Status %q; want the new instance's answer", body, resp.Header.Get("Cache-Status"))
	}
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}

// TestCacheDjangoDefault: a Django app with default settings marks no
// response for shared caches: every request still reaches it.
func TestCacheDjangoDefault(t *testing.T) {
	r, base := startDjango(t)
	for i := range 2 {
		resp, body := get(t, base+"/?cachetest=1", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "<html") {
			t.Fatalf("request %d: %d %.200q", i+1, resp.StatusCode, body)
		}
		if cs := resp.Header.Get("Cache-Status"); cs != "corral; fwd=uri-miss; fwd-status=200; detail=no-explicit-ttl" {
			t.Errorf("request %d: Cache-Status %q", i+1, cs)
		}
		if resp.Header.Get("Age") != "" {
			t.Errorf("request %d: Age %q on a response the app just made", i+1, resp.Header.Get("Age"))
		}
	}
	// gunicorn's own access log: both reached the app.
	r.waitForNth(`^web\.\d .*"GET /\?cachetest=1 HTTP/1\.1" 200`, 2)
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}

// TestCacheIdleWake: while the app sleeps (--idle-stop), a page within
// stale-if-error answers at once from the cache, and wakes the app, which
// answers the next request.
func TestCacheIdleWake(t *testing.T) {
	r, base := startCacheApp(t, "--idle-stop", "1s")
	_, page := get(t, base+"/page", nil)
	r.waitFor(`idle stop: no request for 1s; stopping web\.1 until the next one`)
	r.waitFor(`web\.1 (exited|killed)`)

	resp, body := get(t, base+"/page", nil)
	if resp.StatusCode != 200 || string(body) != string(page) || !strings.Contains(resp.Header.Get("Cache-Status"), "detail=stale-if-error") {
		t.Errorf("asleep: %d %q, Cache-Status %q; want the stored %q", resp.StatusCode, body, resp.Header.Get("Cache-Status"), page)
	}
	r.waitFor(`idle stop: a request came in; starting web\.1`)
	r.waitForNth(`web\.1 is ready`, 2)
	waitUntil := time.Now().Add(10 * time.Second)
	for {
		resp, body = get(t, base+"/page", nil)
		if strings.Contains(resp.Header.Get("Cache-Status"), "stored") {
			break // the woken app's own answer
		}
		if time.Now().After(waitUntil) {
			t.Fatalf("the woken app never answered: %q, Cache-Status %q", body, resp.Header.Get("Cache-Status"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if string(body) == string(page) {
		t.Errorf("after the wake: the old page %q", body)
	}
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}
