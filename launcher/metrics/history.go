package metrics

import (
	"slices"
	"sync"
	"time"

	"github.com/corral-run/corral/launcher/control"
)

// SampleEvery is how often the owner of the admin listener calls Sample,
// and HistorySpan how far back the status page's charts go: a point
// every 5 s is finer than anyone reads a chart of 15 minutes, and costs
// one answer of the run loop (a read of /proc, as corral ps) per 5 s.
const (
	SampleEvery = 5 * time.Second
	HistorySpan = 15 * time.Minute
)

// keepSamples is the samples kept: one more than the intervals in
// HistorySpan, as an interval needs a sample at each end. About 60 kB
// for a formation of ten processes.
const keepSamples = int(HistorySpan/SampleEvery) + 1

// rateWindow is the span the status page's request rate covers: the rate
// is the increase since the newest sample at least rateWindow old, so
// with a sample every SampleEvery it covers 10 to 15 s.
const rateWindow = 10 * time.Second

// sample is the state of the run at a moment, and what changed over the
// interval since the sample before it.
type sample struct {
	t        time.Time
	requests float64 // the edge's requests, all kinds, up to t

	// Over the interval since the sample before; interval is false for
	// the first sample, which has none.
	interval bool
	rate     float64 // requests per second
	p99      float64 // seconds; only if answered
	answered bool    // a request was answered: p99 means something

	procs []procMemory // nil when the run loop did not answer
}

// procMemory is a process's resident memory at a sample.
type procMemory struct {
	name string
	rss  int64
}

// history is the last keepSamples samples. Sample writes it from the
// admin listener's sampling goroutine; the status page reads it.
type history struct {
	mu      sync.Mutex
	samples []sample // the oldest first
	// buckets are the duration histogram's cumulative counts (all kinds
	// summed) at the newest sample: the next interval's p99 is read from
	// the difference.
	buckets []uint64
}

// Sample records the request counters, the latency histogram and the
// memory of procs (the rows of corral ps; nil when they are not known
// just now, empty when nothing runs) as they are now. The launcher calls it every SampleEvery
// while the admin listener is open, from a goroutine of its own: it
// reads every counter and histogram once, which the request path never
// waits for.
func (m *Metrics) Sample(procs []control.Process) {
	s := sample{t: m.opts.Now(), requests: m.totals().all}
	if procs != nil {
		s.procs = make([]procMemory, 0, len(procs))
		for _, p := range procs {
			if p.Pid > 0 {
				s.procs = append(s.procs, procMemory{p.Name, p.RSS})
			}
		}
	}
	m.history.add(s, m.durationCounts())
}

// durationCounts reads the duration histograms of every kind, summed:
// the cumulative count of each bucket, the last +Inf (every request).
func (m *Metrics) durationCounts() []uint64 {
	cum := make([]uint64, len(durationBuckets)+1)
	for k := range m.durations {
		counts, _ := m.durations[k].snapshot()
		var below uint64
		for i, n := range counts {
			below += n
			cum[i] += below
		}
	}
	return cum
}

// add keeps s, with the interval since the newest sample worked out from
// it and buckets (cumulative, as durationCounts reads them), dropping the
// oldest sample when full.
func (h *history) add(s sample, buckets []uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) > 0 && len(h.buckets) == len(buckets) {
		prev := h.samples[len(h.samples)-1]
		if dt := s.t.Sub(prev.t).Seconds(); dt > 0 {
			s.interval = true
			s.rate = max(s.requests-prev.requests, 0) / dt
			counts := make([]uint64, len(buckets))
			var below uint64
			for i := range buckets {
				d := buckets[i] - min(h.buckets[i], buckets[i])
				counts[i] = d - min(below, d) // per bucket, not cumulative
				below = d
			}
			s.p99, s.answered = quantile(0.99, durationBuckets[:], counts)
		}
	}
	h.buckets = buckets
	h.samples = append(h.samples, s)
	if n := len(h.samples) - keepSamples; n > 0 {
		h.samples = slices.Delete(h.samples, 0, n)
	}
}

// list returns the samples kept, the oldest first.
func (h *history) list() []sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.samples)
}

// rate returns the requests per second from the newest sample at least
// rateWindow before now (or the oldest one) to now, when the edge's
// total is total, and how long that was; over is 0 while there is no
// sample a second old to measure from.
func (h *history) rate(now time.Time, total float64) (perSecond float64, over time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) == 0 {
		return 0, 0
	}
	base := h.samples[0]
	for _, s := range h.samples[1:] {
		if now.Sub(s.t) < rateWindow {
			break
		}
		base = s
	}
	over = now.Sub(base.t)
	if over < time.Second {
		return 0, 0
	}
	return max(total-base.requests, 0) / over.Seconds(), over
}

// quantile is Prometheus's histogram_quantile over one interval: counts
// are the requests that ended in each bucket (not cumulative), the last
// beyond the highest bound, and the value is interpolated linearly in
// the bucket that holds the q-th request. So it is as precise as the
// buckets: the true value lies in the same bucket (a p99 shown as 180 ms
// is between 100 and 250 ms). Past the highest bound it is that bound:
// at least 30 s. ok is false when there was no request.
func quantile(q float64, bounds []float64, counts []uint64) (v float64, ok bool) {
	var total uint64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var below uint64
	for i, c := range counts {
		if c > 0 && float64(below+c) >= rank {
			if i >= len(bounds) {
				break
			}
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			return lo + (bounds[i]-lo)*(rank-float64(below))/float64(c), true
		}
		below += c
	}
	return bounds[len(bounds)-1], true
}
