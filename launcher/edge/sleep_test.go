package edge

import (
	"net/http"
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
