package metrics

import (
	"sync"
	"time"
)

// keepRestarts is how many restarts the status page lists.
const keepRestarts = 20

// recentRestarts is a ring of the last keepRestarts restarts.
type recentRestarts struct {
	mu   sync.Mutex
	ring [keepRestarts]Restart
	next int // where the next one goes
	n    int // how many are kept, up to keepRestarts
}

// add keeps r, dropping the oldest when full.
func (rr *recentRestarts) add(r Restart) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.ring[rr.next] = r
	rr.next = (rr.next + 1) % keepRestarts
	rr.n = min(rr.n+1, keepRestarts)
}

// list returns the restarts kept, the newest first.
func (rr *recentRestarts) list() []Restart {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make([]Restart, 0, rr.n)
	for i := 1; i <= rr.n; i++ {
		out = append(out, rr.ring[(rr.next-i+keepRestarts)%keepRestarts])
	}
	return out
}

// rateWindow is the span the status page's request rate covers, once the
// page has been watched that long (it refreshes every 2 s).
const rateWindow = 10 * time.Second

// rateSampler turns a counter into a rate without any work per request:
// each view of the status page leaves a sample of the total, and the
// rate is the increase since the latest sample at least rateWindow old
// (or the oldest one kept).
type rateSampler struct {
	mu      sync.Mutex
	samples []rateSample // oldest first
}

// rateSample is the total of the request counters at a moment.
type rateSample struct {
	t time.Time
	n float64
}

// maxSamples bounds the samples kept, however often the page is viewed.
const maxSamples = 64

// add records the total n at t.
func (s *rateSampler) add(t time.Time, n float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.push(t, n)
}

// push appends a sample, dropping the oldest beyond maxSamples; s.mu is
// held.
func (s *rateSampler) push(t time.Time, n float64) {
	s.samples = append(s.samples, rateSample{t, n})
	if len(s.samples) > maxSamples {
		s.samples = append(s.samples[:0], s.samples[len(s.samples)-maxSamples:]...)
	}
}

// rate records the total n at now and returns the increase per second
// since the base sample, and how long ago that was (0: no rate yet).
func (s *rateSampler) rate(now time.Time, n float64) (perSecond float64, over time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Drop what is older than the newest sample at least rateWindow old:
	// that one is the base.
	for len(s.samples) > 1 && now.Sub(s.samples[1].t) >= rateWindow {
		s.samples = s.samples[1:]
	}
	var base rateSample
	if len(s.samples) > 0 {
		base = s.samples[0]
	}
	// Views closer together than a second add no sample: a reload storm
	// must not shrink the window to nothing.
	if len(s.samples) == 0 || now.Sub(s.samples[len(s.samples)-1].t) >= time.Second {
		s.push(now, n)
	}
	over = now.Sub(base.t)
	if base.t.IsZero() || over <= 0 {
		return 0, 0
	}
	return max(n-base.n, 0) / over.Seconds(), over
}
