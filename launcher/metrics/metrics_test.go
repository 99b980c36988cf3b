package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// clock is a fake time.Now that tests move by hand.
type clock struct{ t time.Time }

// newClock starts a clock at a fixed moment.
func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// now is the clock's time.Now.
func (c *clock) now() time.Time { return c.t }

// advance moves the clock on by d.
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// since is the Unix time, in seconds, d before now: a start time as the
// metrics give it.
func (c *clock) since(d time.Duration) float64 { return float64(c.t.Add(-d).UnixMilli()) / 1e3 }

// fakeProcesses is a process source: the rows it holds, or its error.
type fakeProcesses struct {
	rows []control.Process
	err  error
}

// list is the source's Processes function.
func (f *fakeProcesses) list() ([]control.Process, error) { return f.rows, f.err }

// formation is a web and a worker, as corral ps would list them.
func formation() []control.Process {
	return []control.Process{
		{Name: "web.1", Type: "web", Pid: 101, State: "up", Uptime: 90, RSS: 21_600_000, Port: 33179, Served: 12, InFlight: 2},
		{Name: "web.2", Type: "web", State: "restarting", Restarts: 3},
		{Name: "worker.1", Type: "worker", Pid: 202, State: "up", Uptime: 30, RSS: 4_700_000, Port: 5100},
	}
}

// scrape gets /metrics from m's handler and parses it.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value finds the series of family name with exactly the labels given
// ("k=v" pairs) and returns its value; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		var got []string
		for _, l := range m.Label {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(got)
		want := append([]string(nil), labels...)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestRequestsByKindAndClass(t *testing.T) {
	m := New(Options{})
	calls := []struct {
		kind   edge.Kind
		status int
		n      int
	}{
		{edge.KindApp, 200, 7},
		{edge.KindApp, 404, 2},
		{edge.KindApp, 499, 1},
		{edge.KindApp, 502, 1},
		{edge.KindApp, 101, 1},
		{edge.KindStatic, 200, 2},
		{edge.KindStatic, 304, 1},
		{edge.KindHealth, 200, 2},
		{edge.KindHealth, 503, 1},
	}
	for _, c := range calls {
		for range c.n {
			m.Request(c.kind, c.status, 3*time.Millisecond)
		}
	}
	fams := scrape(t, m)
	tests := []struct {
		kind, code string
		want       float64
	}{
		{"app", "1xx", 1}, {"app", "2xx", 7}, {"app", "3xx", 0}, {"app", "4xx", 3}, {"app", "5xx", 1},
		{"static", "2xx", 2}, {"static", "3xx", 1}, {"static", "4xx", 0},
		{"health", "2xx", 2}, {"health", "5xx", 1},
	}
	for _, tt := range tests {
		got, ok := value(fams, "corral_http_requests_total", "kind="+tt.kind, "code="+tt.code)
		if !ok || got != tt.want {
			t.Errorf("requests kind=%s code=%s: %v (present %v), want %v", tt.kind, tt.code, got, ok, tt.want)
		}
	}
	for kind, want := range map[string]float64{"app": 12, "static": 3, "health": 3} {
		if got, _ := value(fams, "corral_http_request_duration_seconds", "kind="+kind); got != want {
			t.Errorf("duration observations of %s: %v, want %v", kind, got, want)
		}
	}
	// 3 ms lands in the 5 ms bucket, not in the 2.5 ms one.
	for _, m := range fams["corral_http_request_duration_seconds"].Metric {
		for _, b := range m.Histogram.Bucket {
			if b.GetUpperBound() == 0.0025 && b.GetCumulativeCount() != 0 || b.GetUpperBound() == 0.005 && b.GetCumulativeCount() == 0 {
				t.Errorf("bucket %v has %d", b.GetUpperBound(), b.GetCumulativeCount())
			}
		}
	}
}

func TestUpstreamRetryGate(t *testing.T) {
	m := New(Options{})
	m.UpstreamError()
	m.UpstreamError()
	m.Retry()
	m.GateWait(200 * time.Millisecond)
	fams := scrape(t, m)
	for name, want := range map[string]float64{
		"corral_upstream_errors_total":  2,
		"corral_upstream_retries_total": 1,
		"corral_boot_gate_waits_total":  1,
		"corral_boot_gate_wait_seconds": 1,
	} {
		if got, ok := value(fams, name); !ok || got != want {
			t.Errorf("%s: %v (present %v), want %v", name, got, ok, want)
		}
	}
	if sum := fams["corral_boot_gate_wait_seconds"].Metric[0].Histogram.GetSampleSum(); sum != 0.2 {
		t.Errorf("gate wait sum %v, want 0.2", sum)
	}
}

func TestProcessSeries(t *testing.T) {
	c := newClock()
	src := &fakeProcesses{rows: formation()}
	m := New(Options{Processes: src.list, Edge: true, Now: c.now})
	fams := scrape(t, m)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"corral_process_up", []string{"name=web.1", "type=web", "state=up"}, 1},
		{"corral_process_up", []string{"name=web.2", "type=web", "state=restarting"}, 0},
		{"corral_process_up", []string{"name=worker.1", "type=worker", "state=up"}, 1},
		{"corral_process_resident_memory_bytes", []string{"name=web.1", "type=web"}, 21_600_000},
		{"corral_process_resident_memory_bytes", []string{"name=worker.1", "type=worker"}, 4_700_000},
		{"corral_process_start_time_seconds", []string{"name=web.1", "type=web"}, c.since(90 * time.Second)},
		{"corral_process_requests_in_flight", []string{"name=web.1"}, 2},
		{"corral_process_requests_in_flight", []string{"name=web.2"}, 0},
		{"corral_process_requests_served_total", []string{"name=web.1"}, 12},
	}
	for _, tt := range tests {
		if got, ok := value(fams, tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s%v: %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// Not running: no memory; not a web instance: no requests.
	for _, absent := range []struct {
		name   string
		labels []string
	}{
		{"corral_process_resident_memory_bytes", []string{"name=web.2", "type=web"}},
		{"corral_process_requests_in_flight", []string{"name=worker.1"}},
	} {
		if _, ok := value(fams, absent.name, absent.labels...); ok {
			t.Errorf("%s%v is there", absent.name, absent.labels)
		}
	}
	// Corral's own process and runtime are there too.
	for _, name := range []string{"process_resident_memory_bytes", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s", name)
		}
	}

	// Without an edge, web instances have no request series; a source
	// that fails costs only its series.
	m = New(Options{Processes: src.list, Now: c.now})
	if _, ok := value(scrape(t, m), "corral_process_requests_in_flight", "name=web.1"); ok {
		t.Error("in flight without an edge")
	}
	src.err = errors.New("corral is busy")
	src.rows = nil
	fams = scrape(t, m)
	if fams["corral_process_up"] != nil || fams["corral_http_requests_total"] == nil {
		t.Errorf("with a failing source: process series %v, edge series %v", fams["corral_process_up"] != nil, fams["corral_http_requests_total"] != nil)
	}
}

func TestCertificateSeries(t *testing.T) {
	exp := time.Date(2026, 5, 30, 8, 0, 0, 0, time.UTC)
	m := New(Options{Certificates: func() map[string]time.Time {
		return map[string]time.Time{"example.com": exp, "pending.example.com": {}}
	}})
	fams := scrape(t, m)
	if got, _ := value(fams, "corral_tls_certificate_expiry_timestamp_seconds", "name=example.com"); got != float64(exp.Unix()) {
		t.Errorf("expiry %v, want %v", got, exp.Unix())
	}
	if _, ok := value(fams, "corral_tls_certificate_expiry_timestamp_seconds", "name=pending.example.com"); ok {
		t.Error("a name with no certificate yet has an expiry")
	}
}

func TestRestarts(t *testing.T) {
	c := newClock()
	m := New(Options{Types: []string{"web", "worker"}, Now: c.now})
	fams := scrape(t, m)
	if got, ok := value(fams, "corral_instance_restarts_total", "type=worker", "reason=crash"); !ok || got != 0 {
		t.Errorf("worker crashes before any: %v (present %v), want a 0", got, ok)
	}
	for i := range 25 {
		c.advance(time.Second)
		m.Restarted(Restart{Name: "worker.1", Type: "worker", Reason: ReasonCrash, Status: fmt.Sprintf("exited with code %d", i)})
	}
	m.Restarted(Restart{Name: "web.1", Type: "web", Reason: ReasonMaxRequests, Status: "served 1000 requests"})
	fams = scrape(t, m)
	for _, tt := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"type=worker", "reason=crash"}, 25},
		{[]string{"type=web", "reason=max_requests"}, 1},
		{[]string{"type=web", "reason=crash"}, 0},
	} {
		if got, _ := value(fams, "corral_instance_restarts_total", tt.labels...); got != tt.want {
			t.Errorf("restarts %v: %v, want %v", tt.labels, got, tt.want)
		}
	}
	list := m.recent.list()
	if len(list) != keepRestarts || list[0].Name != "web.1" || list[1].Status != "exited with code 24" || list[keepRestarts-1].Status != "exited with code 6" {
		t.Errorf("recent restarts: %d, first %+v, second %+v, last %+v", len(list), list[0], list[1], list[len(list)-1])
	}
}

func TestRate(t *testing.T) {
	c := newClock()
	var h history
	if rate, over := h.rate(c.now(), 0); rate != 0 || over != 0 {
		t.Errorf("no sample: %v/s over %v, want nothing", rate, over)
	}
	h.add(sample{t: c.now(), requests: 0}, nil)
	tests := []struct {
		step   time.Duration
		total  float64
		sample bool // a sample after the view
		rate   float64
		over   time.Duration
	}{
		{500 * time.Millisecond, 5, false, 0, 0},                  // under a second: not yet
		{3500 * time.Millisecond, 40, false, 10, 4 * time.Second}, // since the first sample
		{time.Second, 40, true, 8, 5 * time.Second},               // none since: the rate falls
		{5 * time.Second, 60, true, 6, 10 * time.Second},
		// The base is the newest sample at least 10 s old: 40 requests ago.
		{5 * time.Second, 80, true, 4, 10 * time.Second},
		{2 * time.Second, 100, false, 60.0 / 12, 12 * time.Second},
	}
	for i, tt := range tests {
		c.advance(tt.step)
		rate, over := h.rate(c.now(), tt.total)
		if over != tt.over || fmt.Sprintf("%.3f", rate) != fmt.Sprintf("%.3f", tt.rate) {
			t.Errorf("view %d: %.3f/s over %v, want %.3f over %v", i, rate, over, tt.rate, tt.over)
		}
		if tt.sample {
			h.add(sample{t: c.now(), requests: tt.total}, nil)
		}
	}
	// Views leave no sample.
	before := len(h.list())
	for range 9 {
		c.advance(100 * time.Millisecond)
		h.rate(c.now(), 80)
	}
	if n := len(h.list()); n != before {
		t.Errorf("%d samples after 9 views, want %d", n, before)
	}
}

func TestStatusPage(t *testing.T) {
	c := newClock()
	src := &fakeProcesses{rows: formation()}
	exp := c.t.Add(60 * 24 * time.Hour)
	m := New(Options{
		Processes:    src.list,
		Certificates: func() map[string]time.Time { return map[string]time.Time{"example.com": exp, "new.example.com": {}} },
		Edge:         true,
		App:          `/srv/<script>alert("x")</script>`,
		Now:          c.now,
	})
	m.Sample(src.rows)
	for range 5 {
		m.Request(edge.KindApp, 200, time.Millisecond)
	}
	m.Request(edge.KindApp, 502, time.Millisecond)
	m.Restarted(Restart{Name: "worker.1", Type: "worker", Reason: ReasonCrash, Status: "exited with code 1"})
	c.advance(3 * time.Second)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body := rec.Body.String()
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("status page: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`<meta http-equiv="refresh" content="2">`,
		`<tr data-name="web.1"><td class="mono">web.1</td><td>web</td><td><span class="state state-up">up</span></td><td class="n">101</td><td class="n">1m30s</td><td class="n">0</td><td class="n">21.6 MB</td><td class="n">33179</td><td class="n">12</td><td class="n">2</td></tr>`,
		`<tr data-name="web.2"><td class="mono">web.2</td><td>web</td><td><span class="state state-restarting">restarting</span></td><td class="n">-</td><td class="n">-</td><td class="n">3</td>`,
		`<tr data-name="worker.1"><td class="mono">worker.1</td><td>worker</td>`,
		`<td class="mono">12:00:00</td><td class="mono">worker.1</td><td>crash</td><td class="why">exited with code 1</td>`,
		`<span class="v">2.0</span><span class="l">requests/s over the last 3s</span>`,
		`<span class="v">6</span><span class="l">requests (6 app, 0 static, 0 health)</span>`,
		`<div class="card bad"><span class="v">1</span><span class="l">answered 5xx</span>`,
		`<div class="card"><span class="v">0</span><span class="l">upstream errors</span>`,
		`<td class="mono">example.com</td><td>2026-04-30 12:00 UTC</td><td>59d23h</td>`,
		`<td class="mono">new.example.com</td><td>none yet</td>`,
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script>") || regexp.MustCompile(`(?i)<script|src=|href=`).MatchString(body) {
		t.Errorf("the page loads or runs something:\n%s", body)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	// Plain HTTP, no process, no restart.
	m = New(Options{Processes: (&fakeProcesses{}).list, Now: c.now})
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	body = rec.Body.String()
	for _, want := range []string{"Plain HTTP", "No process is running.", "None since corral started.", `<span class="v">–</span><span class="l">requests/s (measuring)</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the empty page lacks %q", want)
		}
	}
	if strings.Contains(body, "<tr data-name") {
		t.Error("the empty page has a process row")
	}
}

func TestHandlerRoutes(t *testing.T) {
	m := New(Options{})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"GET", "/metrics", 200},
		{"GET", "/nope", 404},
		{"POST", "/metrics", 405},
		{"DELETE", "/", 405},
	} {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{0: "1xx", 101: "1xx", 200: "2xx", 204: "2xx", 308: "3xx", 404: "4xx", 499: "4xx", 503: "5xx", 999: "5xx"} {
		if got := statusClasses[statusClass(status)]; got != want {
			t.Errorf("statusClass(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestRoughDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 4 * time.Second: "4s", 192 * time.Second: "3m12s", 2*time.Hour + 5*time.Minute: "2h05m",
		12*24*time.Hour + 3*time.Hour: "12d3h", -90 * time.Second: "-1m30s",
	} {
		if got := roughDuration(d); got != want {
			t.Errorf("roughDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// The edge calls these on every request: they must not allocate.
func TestObserverDoesNotAllocate(t *testing.T) {
	m := New(Options{})
	if n := testing.AllocsPerRun(1000, func() {
		m.Request(edge.KindApp, 200, time.Millisecond)
		m.Request(edge.KindStatic, 304, time.Millisecond)
		m.UpstreamError()
		m.Retry()
		m.GateWait(time.Millisecond)
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

// BenchmarkRequest is the cost of counting one request: alone, and from
// every CPU at once (all on the same counters, as under load).
func BenchmarkRequest(b *testing.B) {
	m := New(Options{})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Request(edge.KindApp, 200, 3*time.Millisecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Request(edge.KindApp, 200, 3*time.Millisecond)
			}
		})
	})
}

// TestCacheSeries: the response cache's counters, read when scraped, and
// its cards on the status page; neither without a cache.
func TestCacheSeries(t *testing.T) {
	st := httpcache.Stats{Hits: 7, Misses: 2, Stale: 1, Revalidated: 0, Stores: 2, Evictions: 1, Bytes: 3 << 20, Entries: 2, MaxBytes: 16 << 20}
	m := New(Options{Cache: func() httpcache.Stats { return st }})
	fams := scrape(t, m)
	for _, c := range []struct {
		name  string
		label []string
		want  float64
	}{
		{"corral_cache_requests_total", []string{"result=hit"}, 7},
		{"corral_cache_requests_total", []string{"result=miss"}, 2},
		{"corral_cache_requests_total", []string{"result=stale"}, 1},
		{"corral_cache_requests_total", []string{"result=revalidated"}, 0},
		{"corral_cache_stores_total", nil, 2},
		{"corral_cache_evictions_total", nil, 1},
		{"corral_cache_bytes", nil, 3 << 20},
		{"corral_cache_entries", nil, 2},
		{"corral_cache_max_bytes", nil, 16 << 20},
	} {
		if got, ok := value(fams, c.name, c.label...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.label, got, ok, c.want)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	for _, want := range []string{"80%", "(7 hits, 1 stale, 0 revalidated, 2 misses)", "3.1 MB", "cached of 17 MB (2 responses)"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	off := New(Options{})
	if _, ok := value(scrape(t, off), "corral_cache_requests_total", "result=hit"); ok {
		t.Error("cache series without a cache")
	}
	rec = httptest.NewRecorder()
	off.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if strings.Contains(rec.Body.String(), "cache-hits") {
		t.Error("cache cards without a cache")
	}
}
