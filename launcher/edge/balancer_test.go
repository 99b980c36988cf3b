package edge

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Least-outstanding balancing: with slow requests piling up, both
// instances get their share.
func TestBalancingSharesLoad(t *testing.T) {
	e := newEdge(t, Options{})
	const n = 20
	var arrived atomic.Int64
	release := make(chan struct{})
	slow := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			arrived.Add(1)
			select {
			case <-release:
			case <-time.After(testTimeout):
			}
			io.WriteString(w, name)
		}
	}
	b1 := newBackend(t, slow("web.1"))
	b2 := newBackend(t, slow("web.2"))
	e.add(t, "web.1", b1.addr)
	e.add(t, "web.2", b2.addr)
	waitFor(t, "both ready", func() bool { return e.bal.ReadyCount() == 2 })

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := e.client.Get(e.url + "/slow")
			if err != nil {
				errs <- err
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- &statusError{resp.StatusCode}
			}
		})
	}
	waitFor(t, "all requests at the instances", func() bool { return arrived.Load() == n })
	h1, h2 := b1.hits.Load(), b2.hits.Load()
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if h1 < 5 || h2 < 5 {
		t.Errorf("web.1 got %d, web.2 got %d of %d concurrent requests; want each at least 5", h1, h2, n)
	}
	if h1+h2 != n {
		t.Errorf("%d requests reached the instances, want %d", h1+h2, n)
	}
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

// alwaysReady is a prober for balancer tests that need no network.
func alwaysReady(context.Context, string) bool { return true }

func readyBalancer(t *testing.T, names ...string) (*Balancer, []*Backend) {
	t.Helper()
	bal := NewBalancer(alwaysReady, probeInterval, nil)
	t.Cleanup(bal.Close)
	var bes []*Backend
	for _, n := range names {
		be := bal.Add(n, "127.0.0.1:1")
		waitFor(t, n+" ready", be.EverReady)
		bes = append(bes, be)
	}
	return bal, bes
}

func TestPick(t *testing.T) {
	bal, bes := readyBalancer(t, "web.1", "web.2", "web.3")
	a, b, c := bes[0], bes[1], bes[2]
	tests := []struct {
		name     string
		inflight [3]int64
		tried    []*Backend
		want     []*Backend // any of these
	}{
		{"idle: any", [3]int64{}, nil, bes},
		{"least loaded", [3]int64{3, 1, 2}, nil, []*Backend{b}},
		{"skips tried", [3]int64{3, 1, 2}, []*Backend{b}, []*Backend{c}},
		{"skips all but one", [3]int64{0, 0, 9}, []*Backend{a, b}, []*Backend{c}},
		{"all tried", [3]int64{}, bes, nil},
		{"ties among the untried", [3]int64{1, 1, 0}, []*Backend{c}, []*Backend{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, be := range bes {
				be.inflight.Store(tt.inflight[i])
			}
			for range 10 {
				got := bal.Pick(tt.tried)
				ok := got == nil && tt.want == nil
				for _, w := range tt.want {
					ok = ok || got == w
				}
				if !ok {
					t.Fatalf("Pick = %v, want one of %v", got, tt.want)
				}
			}
		})
	}
	for _, be := range bes {
		be.inflight.Store(0)
	}

	t.Run("ties rotate", func(t *testing.T) {
		count := map[*Backend]int{}
		for range 30 {
			count[bal.Pick(nil)]++
		}
		for _, be := range bes {
			if count[be] != 10 {
				t.Errorf("%s picked %d of 30 times, want 10", be.Name, count[be])
			}
		}
	})
}

func TestBalancerLifecycle(t *testing.T) {
	var mu sync.Mutex
	var events []string
	var up atomic.Bool
	probe := func(ctx context.Context, addr string) bool { return up.Load() }
	bal := NewBalancer(probe, probeInterval, func(name string, ready bool) {
		mu.Lock()
		defer mu.Unlock()
		if ready {
			events = append(events, name+" up")
		} else {
			events = append(events, name+" down")
		}
	})
	defer bal.Close()

	readyCh := bal.Ready()
	be := bal.Add("web.1", "x")
	time.Sleep(3 * probeInterval)
	if bal.ReadyCount() != 0 || be.EverReady() || bal.Pick(nil) != nil {
		t.Fatal("an instance that does not answer its probe is in rotation")
	}
	select {
	case <-readyCh:
		t.Fatal("Ready fired with no ready instance")
	default:
	}
	up.Store(true)
	select {
	case <-readyCh:
	case <-time.After(testTimeout):
		t.Fatal("Ready did not fire")
	}
	if bal.ReadyCount() != 1 || bal.Pick(nil) != be {
		t.Fatal("ready instance not picked")
	}

	up.Store(false)
	bal.MarkDown(be)
	if bal.ReadyCount() != 0 || bal.Pick(nil) != nil {
		t.Fatal("MarkDown left the instance in rotation")
	}
	readyCh = bal.Ready()
	select {
	case <-readyCh:
		t.Fatal("Ready still closed with none ready")
	default:
	}
	up.Store(true)
	select {
	case <-readyCh:
	case <-time.After(testTimeout):
		t.Fatal("instance marked down never came back")
	}

	bal.Remove(be)
	if bal.ReadyCount() != 0 {
		t.Fatal("removed instance still in rotation")
	}
	bal.Remove(be)   // twice: no-op
	bal.MarkDown(be) // after removal: no-op
	mu.Lock()
	defer mu.Unlock()
	want := []string{"web.1 up", "web.1 down", "web.1 up", "web.1 down"}
	if len(events) != len(want) {
		t.Fatalf("events %q, want %q", events, want)
	}
	for i := range want {
		if events[i] != want[i] {
			t.Fatalf("events %q, want %q", events, want)
		}
	}
}

// A removed instance that was still booting stops being probed.
func TestRemoveStopsProbing(t *testing.T) {
	var probes atomic.Int64
	bal := NewBalancer(func(context.Context, string) bool { probes.Add(1); return false }, probeInterval, nil)
	be := bal.Add("web.1", "x")
	waitFor(t, "a probe", func() bool { return probes.Load() > 0 })
	bal.Remove(be)
	done := make(chan struct{})
	go func() { bal.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatal("Close hangs: the probe of a removed instance goes on")
	}
	n := probes.Load()
	time.Sleep(3 * probeInterval)
	if probes.Load() != n {
		t.Error("removed instance still probed")
	}
}

// Drain: the draining instance finishes what it has; new requests go to
// the other; the channel closes when the slow request ends.
func TestDrain(t *testing.T) {
	e := newEdge(t, Options{})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	old := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			select {
			case <-release:
			case <-time.After(testTimeout):
			}
		}
		io.WriteString(w, "old")
	})
	fresh := newBackend(t, named("new"))
	oldBe := e.add(t, "web.1", old.addr)

	slowDone := make(chan string, 1)
	go func() {
		resp, err := e.client.Get(e.url + "/slow")
		if err != nil {
			slowDone <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slowDone <- string(b)
	}()
	<-started
	e.add(t, "web.1", fresh.addr) // the replacement, beside the old one
	idle := e.bal.Drain(oldBe)
	if e.bal.ReadyCount() != 1 {
		t.Errorf("ReadyCount %d while draining, want 1", e.bal.ReadyCount())
	}
	for i := range 10 {
		resp, body := e.get(t, "/")
		if resp.StatusCode != 200 || string(body) != "new" {
			t.Fatalf("request %d during drain: %d %q, want 200 from the new instance", i, resp.StatusCode, body)
		}
	}
	select {
	case <-idle:
		t.Fatal("drain finished with a request in flight")
	case <-time.After(30 * time.Millisecond):
	}
	close(release)
	select {
	case <-idle:
	case <-time.After(testTimeout):
		t.Fatal("drain never finished")
	}
	if got := <-slowDone; got != "old" {
		t.Errorf("the in-flight request got %q, want old", got)
	}
	if old.hits.Load() != 1 {
		t.Errorf("draining instance got %d requests, want only the slow one", old.hits.Load())
	}
}

func TestDrainIdleAndRemoved(t *testing.T) {
	bal, bes := readyBalancer(t, "web.1", "web.2")
	select {
	case <-bal.Drain(bes[0]):
	case <-time.After(testTimeout):
		t.Fatal("drain of an idle instance never finished")
	}
	bes[1].inflight.Add(1) // a request that will never end
	idle := bal.Drain(bes[1])
	bal.Remove(bes[1])
	select {
	case <-idle:
	case <-time.After(testTimeout):
		t.Fatal("drain of a removed instance never finished")
	}
}

// A draining instance stays out of rotation, even if it was still booting
// or marked down when the drain began: the probe must not put it back.
func TestDrainNotUndoneByProbe(t *testing.T) {
	for _, tc := range []string{"starting", "down"} {
		t.Run(tc, func(t *testing.T) {
			var up atomic.Bool
			up.Store(tc == "down")
			bal := NewBalancer(func(context.Context, string) bool { return up.Load() }, probeInterval, nil)
			defer bal.Close()
			be := bal.Add("web.1", "x")
			if tc == "down" {
				waitFor(t, "ready", be.EverReady)
				up.Store(false)
				bal.MarkDown(be)
			}
			idle := bal.Drain(be)
			up.Store(true) // the probe now succeeds
			time.Sleep(5 * probeInterval)
			if bal.ReadyCount() != 0 || bal.Pick(nil) != nil {
				t.Fatal("a draining instance was put back in rotation by its probe")
			}
			select {
			case <-idle:
			case <-time.After(testTimeout):
				t.Fatal("drain never finished")
			}
		})
	}
}
