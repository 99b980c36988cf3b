package metrics

import (
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
)

// viewPage renders m's status page.
func viewPage(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != 200 {
		t.Fatalf("status page: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestRateWithoutViews: the request rate is sampled whether anyone looks
// or not. After a minute at 10 requests/s and 20 s at 67/s, with a
// sample every 5 s and no view of the page, the page says 67/s over the
// last 12 s (when only views left samples, it said 25.3/s over 1m22s:
// the average since the start).
func TestRateWithoutViews(t *testing.T) {
	c := newClock()
	m := New(Options{Now: c.now})
	m.Sample(nil)
	for sec := range 80 {
		n := 10
		if sec >= 60 {
			n = 67
		}
		for range n {
			m.Request(edge.KindApp, 200, time.Millisecond)
		}
		c.advance(time.Second)
		if (sec+1)%5 == 0 {
			m.Sample(nil)
		}
	}
	c.advance(2 * time.Second) // between two samples: the window is 12 s
	for range 134 {
		m.Request(edge.KindApp, 200, time.Millisecond)
	}
	body := viewPage(t, m)
	want := `<span class="v">67.0</span><span class="l">requests/s over the last 12s</span>`
	if !strings.Contains(body, want) {
		i := strings.Index(body, `<div class="cards">`)
		t.Errorf("the page lacks %s:\n%s", want, body[i:i+200])
	}
}

// chartOf returns the <figure> of the chart id in a status page.
func chartOf(t *testing.T, body, id string) string {
	t.Helper()
	start := strings.Index(body, `<figure class="chart" id="`+id+`">`)
	if start < 0 {
		t.Fatalf("no chart %q in the page", id)
	}
	end := strings.Index(body[start:], "</figure>")
	return body[start : start+end]
}

// polylines lists a chart's polylines: "class series: points".
func polylines(fig string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<polyline class="line ([^"]+)" data-series="([^"]*)" points="([^"]*)"/>`).FindAllStringSubmatch(fig, -1) {
		out = append(out, m[1]+" "+m[2]+": "+m[3])
	}
	return out
}

// TestCharts: the charts' lines follow the samples. Every coordinate
// below is worked out by hand from the geometry: the plot spans x 44 to
// 404 for the last 15 minutes (2 units per 5 s), y 138 (0) to 18 (the
// top of the axis).
func TestCharts(t *testing.T) {
	const mib = 1 << 20
	c := newClock() // 12:00:00
	var procs []control.Process
	m := New(Options{Now: c.now, Memory: MemoryLimits{Limit: 256 * mib, Source: "--memory-limit", Guard: 256 * mib * 9 / 10}})
	ps := func(web, worker int64) []control.Process {
		procs = []control.Process{{Name: "web.1", Pid: 10, RSS: web * mib}, {Name: "worker.1", Pid: 11, RSS: worker * mib}}
		if web == 0 {
			procs[0].Pid = 0 // restarting: nothing runs
		}
		return procs
	}
	m.Sample(ps(64, 16))
	// Each interval of 5 s: its requests and their durations.
	for _, iv := range []struct {
		reqs       []time.Duration
		web        int64
		loopAnswer bool
	}{
		{repeat(10, 3*time.Millisecond), 96, true},                                // 2/s, p99 in (2.5, 5] ms: 4.975 ms
		{repeat(20, 20*time.Millisecond), 0, true},                                // 4/s, p99 in (10, 25] ms: 24.85 ms
		{append(repeat(49, 3*time.Millisecond), 200*time.Millisecond), 128, true}, // 10/s, p99 in (100, 250] ms: 175 ms
		{repeat(30, 60*time.Millisecond), 192, true},                              // 6/s, p99 in (50, 100] ms: 99.5 ms
		{nil, 0, false}, // nothing answered; the run loop busy
		{repeat(5, 60*time.Millisecond), 192, true}, // 1/s
	} {
		for _, d := range iv.reqs {
			m.Request(edge.KindApp, 200, d)
		}
		c.advance(SampleEvery)
		if iv.loopAnswer {
			m.Sample(ps(iv.web, 16))
		} else {
			m.Sample(nil)
		}
	}
	// Now 12:00:30; the samples at 12:00:00 (x 392), :05 (394) … :30 (404).
	body := viewPage(t, m)

	for _, tt := range []struct {
		id    string
		lines []string
		texts []string
	}{
		{"rate", []string{
			// y = 138 − 120 × rate / 10
			"c0 requests/s: 394,114 396,90 398,18 400,66 402,138 404,126",
		}, []string{
			`<text class="yl" x="39" y="138" dy="4">0</text>`, `<text class="yl" x="39" y="78" dy="4">5</text>`, `<text class="yl" x="39" y="18" dy="4">10</text>`,
			// 11:50, 11:55 and 12:00 are 630, 330 and 30 s before now (x 152, 272, 392)
			`<text class="xl" x="152" y="153">11:50</text>`, `<text class="xl" x="272" y="153">11:55</text>`, `<text class="xl" x="392" y="153">12:00</text>`,
			`<span class="latest">1.0/s</span>`,
			`Requests per second, a point every 5 s over the last 15 minutes: 1.0/s at 12:00:30, the latest; peak 10.0/s at 12:00:15.`,
		}},
		{"latency", []string{
			// y = 138 − 120 × p99 / 200 ms; no request in the fifth interval: a gap
			"c1 p99: 394,135 396,123.1 398,33 400,78.3",
			"c1 p99: 404,78.3 404,78.3",
		}, []string{
			`<text x="0" y="10">p99, ms</text>`, `<text class="yl" x="39" y="78" dy="4">100</text>`, `<text class="yl" x="39" y="18" dy="4">200</text>`,
			`<span class="latest">99.5 ms</span>`,
		}},
		{"memory", []string{
			// y = 138 − 120 × MiB / 256; web.1 was not running at :10 and
			// the loop did not answer at :25
			"c0 web.1: 392,108 394,93",
			"c0 web.1: 398,78 400,48",
			"c0 web.1: 404,48 404,48",
			"c1 worker.1: 392,130.5 394,130.5 396,130.5 398,130.5 400,130.5",
			"c1 worker.1: 404,130.5 404,130.5",
			"total all: 392,100.5 394,85.5 396,130.5 398,70.5 400,40.5",
			"total all: 404,40.5 404,40.5",
		}, []string{
			`<line class="ref ref-limit" x1="44" y1="18" x2="404" y2="18"/><text class="rl ref-limit" x="404" y="15">limit 256 MiB</text>`,
			`<line class="ref ref-guard" x1="44" y1="30" x2="404" y2="30"/><text class="rl ref-guard" x="404" y="40">guard 230 MiB</text>`,
			`<text class="yl" x="39" y="78" dy="4">128</text>`, `<text class="yl" x="39" y="18" dy="4">256</text>`,
			`<li><span class="sw c0"></span>web.1 192 MiB</li>`, `<li><span class="sw total"></span>all 208 MiB</li>`,
			`against the 256 MiB limit (--memory-limit), a point every 5 s over the last 15 minutes; the latest: web.1 192 MiB, worker.1 16 MiB, all together 208 MiB, 81% of the limit.`,
		}},
	} {
		fig := chartOf(t, body, tt.id)
		if got := polylines(fig); strings.Join(got, "\n") != strings.Join(tt.lines, "\n") {
			t.Errorf("%s chart's lines:\n%s\nwant:\n%s", tt.id, strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
		}
		for _, want := range tt.texts {
			if !strings.Contains(fig, want) {
				t.Errorf("%s chart lacks %s:\n%s", tt.id, want, fig)
			}
		}
		if !strings.Contains(fig, `<svg viewBox="0 0 424 160" role="img" aria-labelledby="`+tt.id+`-title">`) {
			t.Errorf("%s chart has no labelled SVG:\n%s", tt.id, fig)
		}
	}
}

// repeat is n times d.
func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.01, 0.1, 1}
	for _, tt := range []struct {
		name   string
		counts []uint64
		want   float64
		ok     bool
	}{
		{"no request", []uint64{0, 0, 0, 0}, 0, false},
		{"all in the first bucket", []uint64{100, 0, 0, 0}, 0.0099, true},
		{"the 99th of 100 in the second", []uint64{98, 2, 0, 0}, 0.01 + 0.09*0.5, true},
		{"one slow one in 200", []uint64{199, 0, 1, 0}, 0.01 * 198 / 199, true}, // rank 198: in the first bucket
		{"one slow one in 100", []uint64{99, 0, 1, 0}, 0.01, true},              // rank 99: the end of the first
		{"two slow ones in 100", []uint64{98, 0, 2, 0}, 0.1 + 0.9*0.5, true},
		{"beyond the highest bound", []uint64{1, 0, 0, 99}, 1, true},
	} {
		got, ok := quantile(0.99, bounds, tt.counts)
		if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: %v (%v), want %v (%v)", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{
		0: 1, 0.3: 0.3, 0.31: 0.4, 0.0025: 0.0025, 0.175: 0.2, 1: 1, 1.1: 1.2, 1.3: 1.5, 2.2: 2.5, 3: 3, 7: 8, 10: 10, 538: 600, 670: 800, 8.1: 10,
	} {
		if got := niceCeil(v); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}

// TestHistoryBounded: a day of samples keeps the last 15 minutes' only.
func TestHistoryBounded(t *testing.T) {
	c := newClock()
	m := New(Options{Now: c.now})
	procs := []control.Process{{Name: "web.1", Pid: 1, RSS: 1 << 20}}
	for range 24 * time.Hour / SampleEvery {
		m.Request(edge.KindApp, 200, time.Millisecond)
		m.Sample(procs)
		c.advance(SampleEvery)
	}
	list := m.history.list()
	if len(list) != keepSamples || keepSamples != 181 {
		t.Fatalf("%d samples kept (keepSamples %d), want 181", len(list), keepSamples)
	}
	if first, last := list[0].t, list[len(list)-1].t; last.Sub(first) != HistorySpan || !last.Equal(c.now().Add(-SampleEvery)) {
		t.Errorf("samples from %v to %v, want the last %v", first, last, HistorySpan)
	}
	if s := list[len(list)-1]; !s.interval || s.rate != 0.2 || !s.answered {
		t.Errorf("the newest sample: %+v", s)
	}
}

// TestChartsWithout: before any sample, and with no memory limit.
func TestChartsWithout(t *testing.T) {
	c := newClock()
	m := New(Options{Now: c.now})
	body := viewPage(t, m)
	for id, want := range map[string]string{
		"rate":    `<text class="nodata" x="224" y="78">measuring: a point every 5 s</text>`,
		"latency": `<text class="nodata" x="224" y="78">no request answered in the last 15 minutes</text>`,
		"memory":  `<text class="nodata" x="224" y="78">no process memory sampled yet</text>`,
	} {
		if fig := chartOf(t, body, id); !strings.Contains(fig, want) || len(polylines(fig)) != 0 {
			t.Errorf("%s chart without samples:\n%s", id, fig)
		}
	}

	// A static site's: nothing runs.
	m.Sample([]control.Process{})
	if fig := chartOf(t, viewPage(t, m), "memory"); !strings.Contains(fig, ">no process running</text>") {
		t.Errorf("memory chart with nothing running:\n%s", fig)
	}

	// No limit: the axis goes to a round number above the highest value.
	m.Sample([]control.Process{{Name: "web.1", Pid: 1, RSS: 270 << 20}})
	fig := chartOf(t, viewPage(t, m), "memory")
	for _, want := range []string{
		`<text class="yl" x="39" y="18" dy="4">300</text>`,
		`c0 web.1: 404,30 404,30`,
		`with no memory limit but the host&#39;s (--memory-limit sets one)`,
	} {
		if !strings.Contains(fig, want) && !slices.Contains(polylines(fig), want) {
			t.Errorf("memory chart without a limit lacks %s:\n%s", want, fig)
		}
	}
	if strings.Contains(fig, "ref-") {
		t.Errorf("a limit line without a limit:\n%s", fig)
	}
}
