// Package metrics is corral's own instrumentation: Prometheus metrics of
// the edge (requests by kind and status class, their durations, the
// instances' failures, retries, waits at the boot gate), of the run
// (restarts, and each process's state, memory and requests, read when
// scraped) and of the edge's certificates, and a status page that shows
// the same for people. It serves both on the admin listener (Handler),
// never on the public port.
//
// The edge knows nothing of Prometheus: a Metrics is the edge.Observer
// the launcher hands it, and every series the edge touches is resolved
// when the Metrics is made, so that a request costs a few atomic adds.
package metrics

import (
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
)

// Options says where the metrics read what they report when scraped.
type Options struct {
	// Processes returns the rows of corral ps. It is called at each
	// scrape and each view of the status page, so it must not wait long.
	Processes func() ([]control.Process, error)
	// Certificates, if not nil, returns the expiry of the certificate of
	// each name the edge serves HTTPS for (the zero time: none yet). nil
	// means the edge serves plain HTTP.
	Certificates func() map[string]time.Time
	// Edge says web instances run behind the edge, so that their
	// requests served and in flight mean something.
	Edge bool
	// Types are the Procfile's process types, whose restart counters
	// start at 0 (a counter that appears only at its first increment
	// hides that first increase from rate()).
	Types []string
	// App names the app on the status page: its directory.
	App string
	// Memory is what the status page draws the processes' memory against.
	Memory MemoryLimits
	// Cache, if not nil, returns the edge's response cache's counters
	// and size; nil means the cache is off.
	Cache func() httpcache.Stats
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
	// GOGC is the GC percentage corral runs with, go_gc_gogc_percent:
	// GOGC's value as the Go runtime reads it (-1 for off), 100 without.
	GOGC int
}

// Restart reasons, the values of corral_instance_restarts_total's reason.
const (
	ReasonCrash       = "crash"        // exited with a non-zero status, or was killed
	ReasonExit        = "exit"         // a web instance behind the edge exited with 0: it is restarted all the same
	ReasonMemoryGuard = "memory_guard" // recycled by the memory guard (--memory-guard, --max-memory-per-instance)
	ReasonMaxRequests = "max_requests" // recycled after --max-requests
	// ReasonOOMKill: the kernel's OOM killer killed one of its processes
	// (a gunicorn worker, which its master replaces); the main process
	// killed counts as a crash.
	ReasonOOMKill = "oom_kill"
)

// statusClasses are the values of the code label: 1xx is a protocol
// upgrade (a WebSocket), 4xx includes 499, a client that left first.
var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// durationBuckets cover what an edge sees: a static file or a health
// check in a millisecond, an app's page in tens of milliseconds, a slow
// report in seconds, up to a long poll.
var durationBuckets = [...]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics holds the series corral updates. It is safe for concurrent use.
type Metrics struct {
	opts    Options
	started time.Time

	// requests and durations are indexed by edge.Kind (and status
	// class), so the request path does no label lookup.
	requests  [edge.NumKinds][len(statusClasses)]counter
	durations [edge.NumKinds]histogram

	upstreamErrors counter
	retries        counter
	gateWaits      counter
	gateWait       histogram
	restarts       counterVec // type, reason
	oomKills       counterVec // name, type

	recent  recentRestarts
	history history
	// pageTemplate is parsed at the first view of the status page, not
	// in New, which runs before the edge binds the port.
	pageTemplate func() *template.Template
}

// New makes corral's metrics: its own Go runtime and process metrics,
// the edge's, the run's, and the processes and certificates read at each
// scrape.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Processes == nil {
		opts.Processes = func() ([]control.Process, error) { return nil, nil }
	}
	m := &Metrics{opts: opts, started: opts.Now(), pageTemplate: sync.OnceValue(parsePage)}
	for _, t := range opts.Types {
		m.restarts.with(t, ReasonCrash) // at 0 from the start
	}
	return m
}

// counter is a count that only goes up.
type counter struct{ n atomic.Uint64 }

// Inc adds one.
func (c *counter) Inc() { c.n.Add(1) }

// value is the count.
func (c *counter) value() float64 { return float64(c.n.Load()) }

// histogram counts observations in durationBuckets and sums them.
type histogram struct {
	counts [len(durationBuckets) + 1]atomic.Uint64 // per bucket, not cumulative; the last one is +Inf
	sum    atomic.Uint64                           // math.Float64bits of the sum
}

// Observe counts v (seconds) in the first bucket whose bound is at least v.
func (h *histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(durationBuckets[:], v)
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// snapshot reads the bucket counts (not cumulative) and the sum.
func (h *histogram) snapshot() (counts []uint64, sum float64) {
	counts = make([]uint64, len(h.counts))
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
	}
	return counts, math.Float64frombits(h.sum.Load())
}

// exposition is the histogram's metric in the exposition.
func (h *histogram) exposition(labels ...label) metric {
	counts, sum := h.snapshot()
	return histogramSeries(durationBuckets[:], counts, sum, labels...)
}

// counterVec is a counter per combination of label values, made at its
// first use.
type counterVec struct {
	mu       sync.Mutex
	counters map[string]*labelledCounter // by the values joined with "\xff"
}

// labelledCounter is one of a counterVec's counters and its label values.
type labelledCounter struct {
	values []string
	counter
}

// with returns the counter of values, made at 0 if it is new.
func (v *counterVec) with(values ...string) *counter {
	key := strings.Join(values, "\xff")
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.counters == nil {
		v.counters = map[string]*labelledCounter{}
	}
	c := v.counters[key]
	if c == nil {
		c = &labelledCounter{values: slices.Clone(values)}
		v.counters[key] = c
	}
	return &c.counter
}

// family is the vector's exposition family, its labels named names.
func (v *counterVec) family(name, help string, names ...string) family {
	f := family{name: name, help: help, typ: typeCounter}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, c := range v.counters {
		labels := make([]label, len(names))
		for i, n := range names {
			labels[i] = label{n, c.values[i]}
		}
		f.metrics = append(f.metrics, single(c.value(), labels...))
	}
	return f
}

// families are the edge's and the run's metric, as they are now.
func (m *Metrics) families() []family {
	requests := family{name: "corral_http_requests_total", typ: typeCounter,
		help: "Requests the edge answered, by kind (app: proxied to a web instance; static: a file the edge served; health: the edge's health path) and status class."}
	durations := family{name: "corral_http_request_duration_seconds", typ: typeHistogram,
		help: "Time from a request's head to its answer at the edge, by kind."}
	for k := range edge.NumKinds {
		for c, class := range statusClasses {
			requests.metrics = append(requests.metrics, single(m.requests[k][c].value(), label{"kind", k.String()}, label{"code", class}))
		}
		durations.metrics = append(durations.metrics, m.durations[k].exposition(label{"kind", k.String()}))
	}
	one := func(name, help string, c *counter) family {
		return singleFamily(name, help, typeCounter, c.value())
	}
	return []family{
		requests, durations,
		one("corral_upstream_errors_total", "Times a web instance could not answer a request: connection refused or reset, or no answer in time.", &m.upstreamErrors),
		one("corral_upstream_retries_total", "Times a request was sent again, to another web instance, after one failed it.", &m.retries),
		one("corral_boot_gate_waits_total", "Requests that waited at the boot gate for a ready web instance.", &m.gateWaits),
		{name: "corral_boot_gate_wait_seconds", help: "How long requests waited at the boot gate for a ready web instance.", typ: typeHistogram, metrics: []metric{m.gateWait.exposition()}},
		m.restarts.family("corral_instance_restarts_total", "Instances started again after they ended unasked (reason crash or exit) or were recycled (memory_guard, max_requests), and processes of theirs the kernel's OOM killer killed (oom_kill), by process type.", "type", "reason"),
		m.oomKills.family("corral_oom_kills_total", "Processes the kernel's OOM killer killed in corral's memory cgroup, by the instance whose process group held them (name and type empty: none did).", "name", "type"),
	}
}

// Request implements edge.Observer.
func (m *Metrics) Request(kind edge.Kind, status int, d time.Duration) {
	if kind >= edge.NumKinds {
		return
	}
	m.requests[kind][statusClass(status)].Inc()
	m.durations[kind].Observe(d.Seconds())
}

// UpstreamError implements edge.Observer.
func (m *Metrics) UpstreamError() { m.upstreamErrors.Inc() }

// Retry implements edge.Observer.
func (m *Metrics) Retry() { m.retries.Inc() }

// GateWait implements edge.Observer.
func (m *Metrics) GateWait(d time.Duration) {
	m.gateWaits.Inc()
	m.gateWait.Observe(d.Seconds())
}

// statusClass is the index in statusClasses of status's class. A status
// out of range (none should be) counts with the nearest class.
func statusClass(status int) int {
	return min(max(status/100-1, 0), len(statusClasses)-1)
}

// Restart is an instance started again, as the run loop reports it.
type Restart struct {
	Time   time.Time // when it ended, or was chosen to be recycled
	Name   string    // web.1
	Type   string    // web
	Reason string    // one of the Reason constants
	// Status is how it ended ("exited with code 1", "was killed by
	// SIGKILL"), or why it was recycled.
	Status string
}

// Restarted counts a restart and keeps it among the recent ones the
// status page lists.
func (m *Metrics) Restarted(r Restart) {
	if r.Time.IsZero() {
		r.Time = m.opts.Now()
	}
	m.restarts.with(r.Type, r.Reason).Inc()
	m.recent.add(r)
}

// OOMKilled counts a process of the instance name (of type typ) that the
// kernel's OOM killer killed; "" for a process of no instance.
func (m *Metrics) OOMKilled(name, typ string) {
	m.oomKills.with(name, typ).Inc()
}

// Handler serves GET /metrics (Prometheus's text format, or OpenMetrics
// when asked) and GET / (the status page); nothing else.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		serveExposition(w, r, slices.Concat(m.families(), m.cacheFamilies(), m.stateFamilies(), runtimeFamilies(m.opts.GOGC), processFamilies()))
	})
	mux.HandleFunc("GET /{$}", m.statusPage)
	return mux
}

// totals are the edge's counters, summed, for the status page.
type totals struct {
	byKind         [edge.NumKinds]float64
	all            float64
	errors5xx      float64
	upstreamErrors float64
	retries        float64
	gateWaits      float64
}

// totals reads the counters.
func (m *Metrics) totals() totals {
	var t totals
	for k := range edge.NumKinds {
		for c := range statusClasses {
			v := m.requests[k][c].value()
			t.byKind[k] += v
			t.all += v
			if statusClasses[c] == "5xx" {
				t.errors5xx += v
			}
		}
	}
	t.upstreamErrors = m.upstreamErrors.value()
	t.retries = m.retries.value()
	t.gateWaits = m.gateWaits.value()
	return t
}
