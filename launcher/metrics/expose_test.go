package metrics

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// The exposition is written by hand (expose.go) so that corral's binary
// does not link client_golang; the tests do, to hold the hand-written
// output to what client_golang writes for the same series.

// reference records the same events as exercise does on m, with
// client_golang's types, and returns its registry.
func reference(t *testing.T, types []string) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corral_http_requests_total",
		Help: "Requests the edge answered, by kind (app: proxied to a web instance; static: a file the edge served; health: the edge's health path) and status class."},
		[]string{"kind", "code"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "corral_http_request_duration_seconds",
		Help: "Time from a request's head to its answer at the edge, by kind.", Buckets: durationBuckets[:]}, []string{"kind"})
	for k := range edge.NumKinds {
		for _, class := range statusClasses {
			requests.WithLabelValues(k.String(), class)
		}
		durations.WithLabelValues(k.String())
	}
	for _, r := range exerciseRequests {
		requests.WithLabelValues(r.kind.String(), statusClasses[statusClass(r.status)]).Inc()
		durations.WithLabelValues(r.kind.String()).Observe(r.d.Seconds())
	}
	counter := func(name, help string, n int) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		c.Add(float64(n))
		return c
	}
	gateWait := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "corral_boot_gate_wait_seconds",
		Help: "How long requests waited at the boot gate for a ready web instance.", Buckets: durationBuckets[:]})
	for _, d := range exerciseGateWaits {
		gateWait.Observe(d.Seconds())
	}
	restarts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corral_instance_restarts_total",
		Help: "Instances started again after they ended unasked (reason crash or exit) or were recycled (memory_guard, max_requests), and processes of theirs the kernel's OOM killer killed (oom_kill), by process type."},
		[]string{"type", "reason"})
	for _, typ := range types {
		restarts.WithLabelValues(typ, ReasonCrash)
	}
	restarts.WithLabelValues("web", ReasonMemoryGuard).Inc()
	restarts.WithLabelValues("web", ReasonCrash).Add(2)
	oom := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "corral_oom_kills_total",
		Help: "Processes the kernel's OOM killer killed in corral's memory cgroup, by the instance whose process group held them (name and type empty: none did)."},
		[]string{"name", "type"})
	oom.WithLabelValues("web.1", "web").Inc()
	oom.WithLabelValues("", "").Inc()
	reg.MustRegister(requests, durations, gateWait, restarts, oom,
		counter("corral_upstream_errors_total", "Times a web instance could not answer a request: connection refused or reset, or no answer in time.", 3),
		counter("corral_upstream_retries_total", "Times a request was sent again, to another web instance, after one failed it.", 1),
		counter("corral_boot_gate_waits_total", "Requests that waited at the boot gate for a ready web instance.", len(exerciseGateWaits)))
	return reg
}

var exerciseRequests = []struct {
	kind   edge.Kind
	status int
	d      time.Duration
}{
	{edge.KindApp, 200, 3 * time.Millisecond},
	{edge.KindApp, 200, 1 * time.Millisecond}, // on a bound: in its bucket
	{edge.KindApp, 502, 40 * time.Second},     // past the last bound: +Inf
	{edge.KindApp, 101, 12 * time.Second},
	{edge.KindStatic, 304, 150 * time.Microsecond},
	{edge.KindHealth, 200, 777 * time.Microsecond},
}

var exerciseGateWaits = []time.Duration{2500 * time.Millisecond, 90 * time.Millisecond}

// exercise records on m what reference records.
func exercise(m *Metrics) {
	for _, r := range exerciseRequests {
		m.Request(r.kind, r.status, r.d)
	}
	for range 3 {
		m.UpstreamError()
	}
	m.Retry()
	for _, d := range exerciseGateWaits {
		m.GateWait(d)
	}
	m.Restarted(Restart{Name: "web.1", Type: "web", Reason: ReasonMemoryGuard})
	m.Restarted(Restart{Name: "web.1", Type: "web", Reason: ReasonCrash})
	m.Restarted(Restart{Name: "web.2", Type: "web", Reason: ReasonCrash})
	m.OOMKilled("web.1", "web")
	m.OOMKilled("", "")
}

// encode writes reg's families as expfmt does in format f.
func encode(t *testing.T, reg *prometheus.Registry, f expfmt.Format) string {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, f)
	for _, fam := range fams {
		if err := enc.Encode(fam); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		c.Close()
	}
	return b.String()
}

// written is fams as writeFamilies writes them.
func written(fams []family, openMetrics bool) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	writeFamilies(w, fams, openMetrics)
	w.Flush()
	return b.String()
}

// TestExpositionAsClientGolang: the edge's and the run's families, after
// the same events, are written byte for byte as client_golang writes
// them, in the text format and in OpenMetrics.
func TestExpositionAsClientGolang(t *testing.T) {
	types := []string{"web", "worker"}
	m := New(Options{Types: types})
	exercise(m)
	reg := reference(t, types)
	for _, c := range []struct {
		format      expfmt.Format
		openMetrics bool
	}{
		{expfmt.NewFormat(expfmt.TypeTextPlain), false},
		{expfmt.NewFormat(expfmt.TypeOpenMetrics), true},
	} {
		want := encode(t, reg, c.format)
		got := written(m.families(), c.openMetrics)
		if got != want {
			t.Errorf("openMetrics=%v: differs from client_golang's\n%s", c.openMetrics, lineDiff(want, got))
		}
	}
}

// lineDiff lists the lines of want missing from got and the other way
// round.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

// TestRuntimeFamiliesAsClientGolang: corral's own go_* and process_*
// families have the names, help, types and (in OpenMetrics) units of
// client_golang's Go and process collectors, series for series.
func TestRuntimeFamiliesAsClientGolang(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	want := headerLines(encode(t, reg, expfmt.NewFormat(expfmt.TypeOpenMetrics)))
	got := headerLines(written(slices.Concat(runtimeFamilies(100), processFamilies()), true))
	if !slices.Equal(got, want) {
		t.Errorf("HELP/TYPE/UNIT lines differ from client_golang's collectors:\n%s", lineDiff(strings.Join(want, "\n"), strings.Join(got, "\n")))
	}
	// And the series of each, labels and all (their values differ by
	// the moment they were read).
	wantSeries := seriesNames(encode(t, reg, expfmt.NewFormat(expfmt.TypeTextPlain)))
	gotSeries := seriesNames(written(slices.Concat(runtimeFamilies(100), processFamilies()), false))
	if !slices.Equal(gotSeries, wantSeries) {
		t.Errorf("series differ from client_golang's collectors:\n%s", lineDiff(strings.Join(wantSeries, "\n"), strings.Join(gotSeries, "\n")))
	}
}

func headerLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, "# ") && l != "# EOF" {
			out = append(out, l)
		}
	}
	return out
}

func seriesNames(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l[:strings.LastIndexByte(l, ' ')])
		}
	}
	return out
}

// TestRuntimeValues: the values read from the runtime and /proc are
// corral's own.
func TestRuntimeValues(t *testing.T) {
	// /proc counts CPU time in clock ticks: a test process younger than
	// one tick of CPU reads 0 (seen in CI). Spend a few first.
	for {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 50*time.Millisecond {
			break
		}
	}
	m := New(Options{GOGC: 42, Processes: func() ([]control.Process, error) { return nil, nil }})
	fams := scrape(t, m)
	for _, c := range []struct {
		name string
		ok   func(float64) bool
	}{
		{"go_gc_gogc_percent", func(v float64) bool { return v == 42 }},
		{"go_goroutines", func(v float64) bool { return v >= 1 }},
		{"go_memstats_heap_alloc_bytes", func(v float64) bool { return v > 0 }},
		{"go_sched_gomaxprocs_threads", func(v float64) bool { return v >= 1 }},
		{"process_resident_memory_bytes", func(v float64) bool { return v > 1e6 }},
		{"process_open_fds", func(v float64) bool { return v >= 3 }},
		{"process_cpu_seconds_total", func(v float64) bool { return v > 0 }},
		{"process_start_time_seconds", func(v float64) bool {
			return v > float64(time.Now().Add(-time.Hour).Unix()) && v <= float64(time.Now().Unix())+1
		}},
	} {
		v, ok := value(fams, c.name)
		if !ok || !c.ok(v) {
			t.Errorf("%s = %v (present %v)", c.name, v, ok)
		}
	}
}

// TestNegotiate: the format follows the Accept header as promhttp's does
// with OpenMetrics on; gzip when accepted.
func TestNegotiate(t *testing.T) {
	const text = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"
	const om1 = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
	for _, c := range []struct{ accept, want string }{
		{"", text},
		{"*/*", text},
		{"text/plain", text},
		{"application/json", text},
		// Prometheus's own scrape header:
		{"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", om1},
		{"application/openmetrics-text;version=0.0.1", "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores"},
		{"text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", text},
		{"application/openmetrics-text;version=2.0.0", text}, // a version this does not write
		{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8", "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8"},
	} {
		if got := negotiate(http.Header{"Accept": {c.accept}}).contentType; got != c.want {
			t.Errorf("Accept %q: %q, want %q", c.accept, got, c.want)
		}
	}

	m := New(Options{})
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(body, []byte("\n# EOF\n")) || !bytes.Contains(body, []byte("# TYPE corral_http_requests counter\n")) {
		t.Errorf("not OpenMetrics:\n%s", body)
	}
}

// TestHistogramSnapshot: the status page's duration counts are the
// exposition's buckets (cumulative), summed over the kinds.
func TestHistogramSnapshot(t *testing.T) {
	m := New(Options{})
	exercise(m)
	got := m.durationCounts()
	want := make([]uint64, len(durationBuckets)+1)
	for _, fam := range scrape(t, m)["corral_http_request_duration_seconds"].Metric {
		for i, b := range fam.Histogram.Bucket[:len(durationBuckets)] { // the parser gives +Inf's too
			want[i] += b.GetCumulativeCount()
		}
		want[len(durationBuckets)] += fam.Histogram.GetSampleCount()
	}
	if !slices.Equal(got, want) {
		t.Errorf("durationCounts %v, want %v", got, want)
	}
}

func FuzzParseSelfStat(f *testing.F) {
	f.Add([]byte("1234 (corral) S 1 1234 1234 0 -1 4194560 1000 0 0 0 12 3 0 0 20 0 10 0 4242 1316454400 4273 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0"))
	f.Add([]byte("1 (a) b) (c) R 0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, ok := parseSelfStat(b)
		if !ok && st != (selfStat{}) {
			t.Errorf("not ok, yet %+v", st)
		}
	})
}

func FuzzParseNetDev(f *testing.F) {
	f.Add([]byte("Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 20 2 0 0 0 0 0 0 30 3 0 0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rx, tx, ok := parseNetDev(b)
		if !ok && (rx != 0 || tx != 0) {
			t.Errorf("not ok, yet %d %d", rx, tx)
		}
	})
}

// TestParseProc: /proc/self/stat's and /proc/net/dev's fields.
func TestParseProc(t *testing.T) {
	st, ok := parseSelfStat([]byte("1234 (cor ral) (x) S 1 1234 1234 0 -1 4194560 1000 0 0 0 12 3 0 0 20 0 10 0 4242 1316454400 4273 18446744073709551615"))
	if want := (selfStat{utime: 12, stime: 3, starttime: 4242, vsize: 1316454400, rss: 4273}); !ok || st != want {
		t.Errorf("parseSelfStat: %+v %v, want %+v", st, ok, want)
	}
	if _, ok := parseSelfStat([]byte("1234 (corral) S 1 2")); ok {
		t.Error("parseSelfStat took a line cut short")
	}
	rx, tx, ok := parseNetDev([]byte("h1\nh2\n    lo: 1000 10 0 0 0 0 0 0 1000 10 0 0 0 0 0 0\n  eth0: 20 2 0 0 0 0 0 0 30 3 0 0 0 0 0 0\n"))
	if !ok || rx != 1020 || tx != 1030 {
		t.Errorf("parseNetDev: %d %d %v, want 1020 1030 true", rx, tx, ok)
	}
	if _, _, ok := parseNetDev([]byte("h1\nh2\n  eth0: 20 x\n")); ok {
		t.Error("parseNetDev took a short line")
	}
}
