package edge

import (
	"net/http"
	"testing"
	"time"
)

func TestBootGateWaitsForFirstInstance(t *testing.T) {
	e := newEdge(t, Options{BootWait: testTimeout})
	b := newBackend(t, named("web.1"))

	type result struct {
		status int
		body   string
		err    error
	}
	mark := testMark(t)
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/hello", nil)
		req.Header.Set(markHeader, mark)
		resp, err := e.client.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var buf [64]byte
		n, _ := resp.Body.Read(buf[:])
		done <- result{status: resp.StatusCode, body: string(buf[:n])}
	}()

	// The request is waiting at the gate: nothing has answered it.
	select {
	case r := <-done:
		t.Fatalf("request answered before any instance existed: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	if b.reached(mark) != 0 {
		t.Fatal("backend hit before it was added")
	}
	e.bal.Add("web.1", b.addr)

	select {
	case r := <-done:
		if r.err != nil || r.status != http.StatusOK || r.body != "web.1" {
			t.Fatalf("got %+v, want 200 web.1", r)
		}
	case <-time.After(testTimeout):
		t.Fatal("request still waiting after the instance became ready")
	}
}

func TestBootGateTimesOut(t *testing.T) {
	tests := []struct {
		name     string
		accept   string
		wantJSON bool
	}{
		{"browser", "text/html,application/xhtml+xml,*/*;q=0.8", false},
		{"no accept", "", false},
		{"json", "application/json", true},
		{"json and html prefers html", "application/json, text/html", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{BootWait: 200 * time.Millisecond})
			// An instance that is still booting (nothing listens yet)
			// does not open the gate.
			e.bal.Add("web.1", freeAddr(t))
			start := time.Now()
			resp, body := e.get(t, "/", "Accept", tt.accept)
			if d := time.Since(start); d < 190*time.Millisecond || d > 2*time.Second {
				t.Errorf("503 after %v, want about BootWait (200ms)", d)
			}
			checkErrorPage(t, resp, body, http.StatusServiceUnavailable, tt.wantJSON)
			if ra := resp.Header.Get("Retry-After"); ra == "" {
				t.Error("503 without Retry-After")
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			if a := e.nextAccess(t); a.Status != http.StatusServiceUnavailable || a.Instance != "" {
				t.Errorf("access record %+v, want status 503 and no instance", a)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	e := newEdge(t, Options{BootWait: 100 * time.Millisecond})
	addr := freeAddr(t)
	be := e.bal.Add("web.1", addr)

	resp, body := e.get(t, "/_corral/health")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health with no ready instance: %d %q, want 503", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Error("health answer is cacheable")
	}

	b := newBackendAt(t, addr, named("web.1"))
	waitFor(t, "ready", be.EverReady)
	mark := testMark(t)
	resp, body = e.get(t, "/_corral/health", markHeader, mark)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("health with a ready instance: %d %q, want 200", resp.StatusCode, body)
	}
	b.checkNotReached(t, mark, "the health check reached the app")

	e.bal.Remove(be)
	resp, _ = e.get(t, "/_corral/health")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("health after the only instance left: %d, want 503", resp.StatusCode)
	}
}
