package edge

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A dead instance (its listener closed) is never seen by a client: requests
// go to the other one, the dead one leaves the rotation, and comes back
// once something listens on its address again.
func TestRetryOnDialFailure(t *testing.T) {
	tests := []struct{ method, body string }{
		{http.MethodGet, ""}, // sent in one write, which finds the refused connect
		{http.MethodGet, "payload"},
		{http.MethodPost, ""}, // not idempotent: sent elsewhere only because nothing was sent
		{http.MethodPost, "payload"},
	}
	for _, tt := range tests {
		method := tt.method
		t.Run(method+"/body="+tt.body, func(t *testing.T) {
			e := newEdge(t, Options{BootWait: time.Second})
			b1 := newBackend(t, named("web.1"))
			b2 := newBackend(t, named("web.2"))
			e.add(t, "web.1", b1.addr)
			be2 := e.add(t, "web.2", b2.addr)
			waitFor(t, "both ready", func() bool { return e.bal.ReadyCount() == 2 })

			// web.2 dies before the edge ever used it: every attempt to
			// reach it is a failed dial. (TestInstanceDiesWithIdleConnections
			// covers an instance the edge holds keep-alive connections to.)
			b2.Close()

			for i := range 20 {
				req, _ := http.NewRequest(method, e.url+"/", strings.NewReader(tt.body))
				resp, body := e.do(t, req)
				if resp.StatusCode != http.StatusOK || string(body) != "web.1" {
					t.Fatalf("request %d: %d %q, want 200 from web.1", i, resp.StatusCode, body)
				}
			}
			if n := e.bal.ReadyCount(); n != 1 {
				t.Fatalf("ReadyCount %d after web.2 died, want 1", n)
			}
			if got := e.bal.Pick(nil); got == be2 {
				t.Fatal("Pick still returns the dead instance")
			}

			// web.2 comes back on the same address: the probe finds it.
			back := newBackendAt(t, b2.addr, named("web.2"))
			waitFor(t, "web.2 back in rotation", func() bool { return e.bal.ReadyCount() == 2 })
			waitFor(t, "web.2 serves again", func() bool {
				e.get(t, "/")
				return back.hits.Load() > 0
			})
		})
	}
}

// A GET the instance dropped can be asked again elsewhere; a POST cannot:
// the app may have acted on it.
func TestInstanceDiesMidRequest(t *testing.T) {
	tests := []struct {
		name   string
		method string
		die    http.HandlerFunc
		want   int
	}{
		{"GET before headers", http.MethodGet, dieBeforeHeaders, http.StatusOK},
		{"HEAD before headers", http.MethodHead, dieBeforeHeaders, http.StatusOK},
		{"POST before headers", http.MethodPost, dieBeforeHeaders, http.StatusBadGateway},
		// Headers and part of the body were sent, then the instance died.
		// The edge buffers responses, so the client has seen nothing yet and
		// a GET can still go to the other instance.
		{"GET after headers", http.MethodGet, dieAfterHeaders, http.StatusOK},
		{"POST after headers", http.MethodPost, dieAfterHeaders, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{BootWait: time.Second})
			bad := newBackend(t, tt.die)
			good := newBackend(t, named("good"))
			e.add(t, "web.1", bad.addr)
			e.add(t, "web.2", good.addr)
			waitFor(t, "both ready", func() bool { return e.bal.ReadyCount() == 2 })

			var codes = map[int]int{}
			for i := 0; i < 40 && bad.hits.Load() < 3; i++ {
				req, _ := http.NewRequest(tt.method, e.url+"/x", strings.NewReader("form=1"))
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				codes[resp.StatusCode]++
				if resp.StatusCode != tt.want && resp.StatusCode != http.StatusOK {
					checkErrorPage(t, resp, body, resp.StatusCode, false)
				}
				if resp.StatusCode == http.StatusOK && tt.method != http.MethodHead && string(body) != "good" {
					t.Fatalf("200 with body %q", body)
				}
			}
			if bad.hits.Load() == 0 {
				t.Fatal("the dying instance never got a request")
			}
			total := 0
			for _, n := range codes {
				total += n
			}
			switch tt.want {
			case http.StatusOK:
				if codes[http.StatusOK] != total {
					t.Errorf("statuses %v: every %s should have been answered by the other instance", codes, tt.method)
				}
			case http.StatusBadGateway:
				// Each POST that reached the dying instance is answered 502
				// and is not sent again; the others are answered by good.
				if int64(codes[http.StatusBadGateway]) != bad.hits.Load() {
					t.Errorf("statuses %v with %d requests to the dying instance: want one 502 per request it dropped", codes, bad.hits.Load())
				}
				if int64(codes[http.StatusOK]) != good.hits.Load() {
					t.Errorf("statuses %v, good got %d: a dropped POST was resent", codes, good.hits.Load())
				}
			}
		})
	}
}

func dieBeforeHeaders(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	c.Close()
}

func dieAfterHeaders(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Length", "1000")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "partial")
	http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}

func TestUpstreamTimeout(t *testing.T) {
	for _, accept := range []string{"", "application/json"} {
		t.Run("accept="+accept, func(t *testing.T) {
			e := newEdge(t, Options{UpstreamTimeout: 100 * time.Millisecond})
			slow := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(testTimeout):
				}
			})
			e.add(t, "web.1", slow.addr)
			start := time.Now()
			resp, body := e.get(t, "/slow", "Accept", accept)
			if d := time.Since(start); d < 90*time.Millisecond || d > 2*time.Second {
				t.Errorf("answered after %v, want about 100ms", d)
			}
			checkErrorPage(t, resp, body, http.StatusGatewayTimeout, accept != "")
			if slow.hits.Load() != 1 {
				t.Errorf("slow instance got %d requests, want 1 (a timeout is not retried)", slow.hits.Load())
			}
			if e.bal.ReadyCount() != 1 {
				t.Error("a slow instance was taken out of rotation")
			}
		})
	}
}

// An instance that dies while the edge holds idle keep-alive connections to
// it (a crash, a restart, or simply the app server's keep-alive timeout):
// the next request may be written on a connection the instance already
// closed. The instance never saw it, so it must be sent elsewhere, POST
// included, rather than answered 502 (DESIGN.md: nothing reaches the client
// as a 502 when another instance could answer).
func TestInstanceDiesWithIdleConnections(t *testing.T) {
	const rounds = 50
	failed := 0
	for round := range rounds {
		func() {
			e := newEdge(t, Options{BootWait: time.Second})
			b1 := newBackend(t, named("web.1"))
			b2 := newBackend(t, named("web.2"))
			e.add(t, "web.1", b1.addr)
			e.add(t, "web.2", b2.addr)
			waitFor(t, "both ready", func() bool { return e.bal.ReadyCount() == 2 })
			for range 4 { // keep-alive connections to both
				e.get(t, "/")
			}
			b2.Close() // the process is gone: its sockets are closed
			for i := range 4 {
				req, _ := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader("payload"))
				resp, body := e.do(t, req)
				if resp.StatusCode != http.StatusOK {
					failed++
					t.Logf("round %d, request %d: %d %q", round, i, resp.StatusCode, body)
					return
				}
			}
		}()
	}
	if failed > 0 {
		t.Errorf("%d of %d rounds answered a POST 502 although web.1 was up", failed, rounds)
	}
}

// A GET that kills every instance it reaches (a worker the kernel
// OOM-kills for it) is sent again once, not to every restart in turn for
// as long as the client waits: the second death is the client's 502.
func TestPoisonRequestResentOnce(t *testing.T) {
	e := newEdge(t, Options{BootWait: testTimeout})
	var hits atomic.Int64
	var restart func()
	die := func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) > 5 {
			io.WriteString(w, "survived") // end the loop of a broken edge
			return
		}
		// The instance goes, and another starts in its place, as the
		// launcher restarts a crashed one.
		restart()
		dieBeforeHeaders(w, r)
	}
	var mu sync.Mutex
	var current *Backend
	restart = func() {
		mu.Lock()
		defer mu.Unlock()
		e.bal.Remove(current)
		current = e.bal.Add("web.1", newBackend(t, die).addr)
	}
	mu.Lock()
	current = e.bal.Add("web.1", newBackend(t, die).addr)
	mu.Unlock()
	resp, body := e.get(t, "/grow")
	if resp.StatusCode != http.StatusBadGateway || hits.Load() != 2 {
		t.Errorf("%d %q after %d attempts; want a 502 after 2", resp.StatusCode, body, hits.Load())
	}
}
