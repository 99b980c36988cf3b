package metrics

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
)

// pageSource is the status page: one self-contained document (styles
// inline, no script, no other request), reloaded every 2 s by a meta
// refresh.
//
//go:embed page.html
var pageSource string

// parsePage parses the status page's template; html/template escapes
// every value for where it lands, so an app directory or a certificate
// name cannot inject markup. The first view of the page parses it, not
// the package's init nor New: neither a corral without --admin nor one
// with it should pay for it before binding its port.
func parsePage() *template.Template {
	return template.Must(template.New("status").Parse(pageSource))
}

// page is what the status page shows, every value formatted.
type page struct {
	App, Now, Uptime string

	Rate, RateOver                                string
	Requests                                      string
	AppRequests, StaticRequests, HealthRequests   string
	Errors5xx, UpstreamErrors, Retries, GateWaits string
	Bad5xx, BadUpstream                           bool // shown in red

	Charts         []chart // request rate, p99 latency, memory
	HistoryMinutes int
	History        string // how the charts sample

	Processes    []processRow
	ProcessError string

	Restarts     []restartRow
	KeepRestarts int

	HTTPS        bool
	Certificates []certRow

	// Cache is the response cache's line, "" when it is off.
	Cache *cacheRow
}

// cacheRow is the response cache's figures, formatted.
type cacheRow struct {
	Hits, Misses, Stale, Revalidated string
	HitRatio                         string // of the requests it took part in
	Used, Size, Entries              string
}

// processRow is one row of the processes table, formatted.
type processRow struct {
	Name, Type, State                string
	Pid, Uptime, Restarts, RSS, Port string
	Served, InFlight                 string
}

// restartRow is one row of the recent restarts, formatted.
type restartRow struct{ Time, Name, Reason, Status string }

// certRow is one certificate, formatted.
type certRow struct {
	Name, Expires, In string
	Soon              bool // under two weeks: renewal is overdue
}

// statusPage renders the page.
func (m *Metrics) statusPage(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := m.pageTemplate().Execute(&buf, m.page()); err != nil {
		http.Error(w, "status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Nothing but inline styles: should a value ever slip through the
	// escaping, it could still not load or run anything.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// page gathers what the status page shows, now.
func (m *Metrics) page() page {
	now := m.opts.Now()
	t := m.totals()
	p := page{
		App:            m.opts.App,
		Now:            now.Format("2006-01-02 15:04:05 MST"),
		Uptime:         roughDuration(now.Sub(m.started)),
		Requests:       count(t.all),
		AppRequests:    count(t.byKind[edge.KindApp]),
		StaticRequests: count(t.byKind[edge.KindStatic]),
		HealthRequests: count(t.byKind[edge.KindHealth]),
		Errors5xx:      count(t.errors5xx),
		UpstreamErrors: count(t.upstreamErrors),
		Retries:        count(t.retries),
		GateWaits:      count(t.gateWaits),
		Bad5xx:         t.errors5xx > 0,
		BadUpstream:    t.upstreamErrors > 0,
		KeepRestarts:   keepRestarts,
	}
	rate, over := m.history.rate(now, t.all)
	p.Rate, p.RateOver = "–", "(measuring)"
	if over > 0 {
		p.Rate = strconv.FormatFloat(rate, 'f', 1, 64)
		p.RateOver = "over the last " + roughDuration(over)
	}

	w, samples := window{now.Add(-HistorySpan), now}, m.history.list()
	p.HistoryMinutes, p.History = int(HistorySpan/time.Minute), fmt.Sprintf("a point every %d s", SampleEvery/time.Second)
	p.Charts = []chart{rateChart(w, samples), latencyChart(w, samples), memoryChart(w, samples, m.opts.Memory)}

	procs, err := m.opts.Processes()
	if err != nil {
		p.ProcessError = "The processes are not known just now: " + err.Error()
	}
	for _, pr := range procs {
		p.Processes = append(p.Processes, m.processRow(pr))
	}
	for _, r := range m.recent.list() {
		p.Restarts = append(p.Restarts, restartRow{
			Time:   r.Time.Format("15:04:05"),
			Name:   r.Name,
			Reason: r.Reason,
			Status: r.Status,
		})
	}
	if m.opts.Cache != nil {
		p.Cache = cacheFigures(m.opts.Cache())
	}
	if m.opts.Certificates != nil {
		p.HTTPS = true
		certs := m.opts.Certificates()
		names := make([]string, 0, len(certs))
		for n := range certs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			row := certRow{Name: n, Expires: "none yet", In: "-"}
			if exp := certs[n]; !exp.IsZero() {
				left := exp.Sub(now)
				row.Expires = exp.UTC().Format("2006-01-02 15:04 MST")
				row.In = roughDuration(left)
				row.Soon = left < 14*24*time.Hour
				if left <= 0 {
					row.In = "expired"
				}
			}
			p.Certificates = append(p.Certificates, row)
		}
	}
	return p
}

// cacheFigures formats the response cache's counters for the page.
func cacheFigures(st httpcache.Stats) *cacheRow {
	c := &cacheRow{
		Hits: strconv.FormatInt(st.Hits, 10), Misses: strconv.FormatInt(st.Misses, 10),
		Stale: strconv.FormatInt(st.Stale, 10), Revalidated: strconv.FormatInt(st.Revalidated, 10),
		Used: fmt.Sprintf("%.1f MB", float64(st.Bytes)/1e6), Size: fmt.Sprintf("%.0f MB", float64(st.MaxBytes)/1e6),
		Entries: strconv.FormatInt(st.Entries, 10), HitRatio: "–",
	}
	if all := st.Hits + st.Misses + st.Stale + st.Revalidated; all > 0 {
		c.HitRatio = fmt.Sprintf("%.0f%%", 100*float64(st.Hits+st.Stale+st.Revalidated)/float64(all))
	}
	return c
}

// processRow formats one row of corral ps as the page shows it.
func (m *Metrics) processRow(p control.Process) processRow {
	row := processRow{
		Name: p.Name, Type: p.Type, State: p.State,
		Pid: "-", Uptime: "-", RSS: "-", Port: "-", Served: "-", InFlight: "-",
		Restarts: strconv.Itoa(p.Restarts),
	}
	if p.Pid > 0 {
		row.Pid = strconv.Itoa(p.Pid)
		row.Uptime = roughDuration(secondsDuration(p.Uptime))
	}
	if p.RSS > 0 {
		row.RSS = fmt.Sprintf("%.1f MB", float64(p.RSS)/1e6)
	}
	if p.Port > 0 {
		row.Port = strconv.Itoa(p.Port)
	}
	if m.opts.Edge && p.Type == "web" {
		row.Served, row.InFlight = strconv.FormatInt(p.Served, 10), strconv.FormatInt(p.InFlight, 10)
	}
	return row
}

// count formats a counter's value: whole numbers, as they all are.
func count(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

// secondsDuration turns seconds (corral ps's uptime) into a Duration.
func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// roughDuration says how long d is to the precision people read: 4s,
// 3m12s, 2h05m, 12d3h.
func roughDuration(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	s := int64(d / time.Second)
	switch {
	case d < time.Second:
		return neg + "0s"
	case s < 60:
		return fmt.Sprintf("%s%ds", neg, s)
	case s < 3600:
		return fmt.Sprintf("%s%dm%02ds", neg, s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%s%dh%02dm", neg, s/3600, s%3600/60)
	}
	return fmt.Sprintf("%s%dd%dh", neg, s/86400, s%86400/3600)
}
