package edge

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// With the instances asleep, the health check says the app is fine, and
// a request asks for them (Wanted) and waits at the boot gate until one
// is ready.
func TestAsleepWakeOnRequest(t *testing.T) {
	e := newEdge(t, Options{BootWait: testTimeout})
	e.bal.SetAsleep(true)
	resp, body := e.get(t, "/_corral/health")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health while asleep: %d %q, want 200", resp.StatusCode, body)
	}
	select {
	case <-e.bal.Wanted():
		t.Fatal("the health check asked for an instance")
	default:
	}

	type result struct {
		code int
		body string
	}
	got := make(chan result, 1)
	go func() {
		resp, err := e.client.Get(e.url + "/page")
		if err != nil {
			got <- result{body: err.Error()}
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		got <- result{resp.StatusCode, string(b[:n])}
	}()
	select {
	case <-e.bal.Wanted():
	case <-time.After(testTimeout):
		t.Fatal("a request with no instance did not signal Wanted")
	}
	b := newBackend(t, named("web.1"))
	e.bal.SetAsleep(false)
	e.add(t, "web.1", b.addr)
	r := <-got
	if r.code != 200 || r.body != "web.1" {
		t.Fatalf("the waking request got %d %q, want 200 web.1", r.code, r.body)
	}
}

// HoldStatic holds requests, but not the health check, until the static
// files are set; then a static path is answered by them, not the app.
func TestHoldStatic(t *testing.T) {
	e := newEdge(t, Options{BootWait: testTimeout})
	b := newBackend(t, named("web.1"))
	e.add(t, "web.1", b.addr)
	release := e.srv.HoldStatic()
	if resp, body := e.get(t, "/_corral/health"); resp.StatusCode != 200 {
		t.Fatalf("health while static files are pending: %d %q", resp.StatusCode, body)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := e.client.Get(e.url + "/static/app.css")
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b := make([]byte, 64)
		n, _ := resp.Body.Read(b)
		got <- string(b[:n])
	}()
	select {
	case g := <-got:
		t.Fatalf("a request was answered (%q) before the static files were known", g)
	case <-time.After(100 * time.Millisecond):
	}
	release(staticString{prefix: "/static/", body: "static"})
	if g := <-got; g != "static" {
		t.Fatalf("the held request got %q, want the static answer", g)
	}
	if b.hits.Load() != 0 {
		t.Error("the app got the static request")
	}
	release(nil) // a second call changes nothing
	if resp, body := e.get(t, "/static/x"); string(body) != "static" {
		t.Errorf("after a second release: %d %q", resp.StatusCode, body)
	}
}

// staticString answers every path under prefix with body.
type staticString struct{ prefix, body string }

func (s staticString) Match(path string) bool { return strings.HasPrefix(path, s.prefix) }
func (s staticString) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, s.body)
}
