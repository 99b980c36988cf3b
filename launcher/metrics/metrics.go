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
	"net/http"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
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
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics holds corral's registry and the series it updates. It is safe
// for concurrent use.
type Metrics struct {
	opts    Options
	reg     *prometheus.Registry
	started time.Time

	// requests and durations are indexed by edge.Kind (and status
	// class): resolved once, so the request path does no label lookup.
	requests  [edge.NumKinds][len(statusClasses)]prometheus.Counter
	durations [edge.NumKinds]prometheus.Observer

	upstreamErrors prometheus.Counter
	retries        prometheus.Counter
	gateWaits      prometheus.Counter
	gateWait       prometheus.Observer
	restarts       *prometheus.CounterVec
	oomKills       *prometheus.CounterVec

	recent       recentRestarts
	history      history
	pageTemplate *template.Template
}

// New makes the registry: corral's own Go runtime and process metrics,
// the edge's, the run's, and the collector that reads the processes and
// certificates at each scrape.
func New(opts Options) *Metrics {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Processes == nil {
		opts.Processes = func() ([]control.Process, error) { return nil, nil }
	}
	m := &Metrics{opts: opts, reg: prometheus.NewRegistry(), started: opts.Now(), pageTemplate: parsePage()}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corral_http_requests_total",
		Help: "Requests the edge answered, by kind (app: proxied to a web instance; static: a file the edge served; health: the edge's health path) and status class.",
	}, []string{"kind", "code"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "corral_http_request_duration_seconds",
		Help:    "Time from a request's head to its answer at the edge, by kind.",
		Buckets: durationBuckets,
	}, []string{"kind"})
	for k := range edge.NumKinds {
		for c, class := range statusClasses {
			m.requests[k][c] = requests.WithLabelValues(k.String(), class)
		}
		m.durations[k] = durations.WithLabelValues(k.String())
	}
	m.upstreamErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "corral_upstream_errors_total",
		Help: "Times a web instance could not answer a request: connection refused or reset, or no answer in time.",
	})
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "corral_upstream_retries_total",
		Help: "Times a request was sent again, to another web instance, after one failed it.",
	})
	m.gateWaits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "corral_boot_gate_waits_total",
		Help: "Requests that waited at the boot gate for a ready web instance.",
	})
	gateWait := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "corral_boot_gate_wait_seconds",
		Help:    "How long requests waited at the boot gate for a ready web instance.",
		Buckets: durationBuckets,
	})
	m.gateWait = gateWait
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corral_instance_restarts_total",
		Help: "Instances started again after they ended unasked (reason crash or exit) or were recycled (memory_guard, max_requests), and processes of theirs the kernel's OOM killer killed (oom_kill), by process type.",
	}, []string{"type", "reason"})
	for _, t := range opts.Types {
		m.restarts.WithLabelValues(t, ReasonCrash)
	}
	m.oomKills = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "corral_oom_kills_total",
		Help: "Processes the kernel's OOM killer killed in corral's memory cgroup, by the instance whose process group held them (name and type empty: none did).",
	}, []string{"name", "type"})
	m.reg.MustRegister(requests, durations, m.upstreamErrors, m.retries, m.gateWaits, gateWait, m.restarts, m.oomKills, &stateCollector{m: m})
	if opts.Cache != nil {
		m.reg.MustRegister(newCacheCollector(opts.Cache))
	}
	return m
}

// Registry is the registry the admin listener serves, for tests and for
// collectors of other parts.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

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
	m.restarts.WithLabelValues(r.Type, r.Reason).Inc()
	m.recent.add(r)
}

// OOMKilled counts a process of the instance name (of type typ) that the
// kernel's OOM killer killed; "" for a process of no instance.
func (m *Metrics) OOMKilled(name, typ string) {
	m.oomKills.WithLabelValues(name, typ).Inc()
}

// Handler serves GET /metrics (Prometheus's text format, or OpenMetrics
// when asked) and GET / (the status page); nothing else.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promHandler(m.reg))
	mux.HandleFunc("GET /{$}", m.statusPage)
	return mux
}

// counterValue reads a counter's value, for the status page.
func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if c.Write(&d) != nil || d.Counter == nil {
		return 0
	}
	return d.Counter.GetValue()
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
			v := counterValue(m.requests[k][c])
			t.byKind[k] += v
			t.all += v
			if statusClasses[c] == "5xx" {
				t.errors5xx += v
			}
		}
	}
	t.upstreamErrors = counterValue(m.upstreamErrors)
	t.retries = counterValue(m.retries)
	t.gateWaits = counterValue(m.gateWaits)
	return t
}
