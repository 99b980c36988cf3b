package metrics

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The per-process and certificate series, made at each scrape from what
// the run loop and the certificate manager say then.
var (
	procUp = prometheus.NewDesc("corral_process_up",
		"1 while the process runs and is up (for a web instance: has answered), else 0; state is corral ps's: starting, up, stopping, restarting, asleep.",
		[]string{"name", "type", "state"}, nil)
	procRSS = prometheus.NewDesc("corral_process_resident_memory_bytes",
		"Resident memory of the process's whole process group (gunicorn's master and workers together).",
		[]string{"name", "type"}, nil)
	procStart = prometheus.NewDesc("corral_process_start_time_seconds",
		"When the running process started, in seconds since the Unix epoch.",
		[]string{"name", "type"}, nil)
	procInFlight = prometheus.NewDesc("corral_process_requests_in_flight",
		"Requests the edge has sent to the web instance and not yet had answered.",
		[]string{"name"}, nil)
	procServed = prometheus.NewDesc("corral_process_requests_served_total",
		"Requests the web instance has answered since it started.",
		[]string{"name"}, nil)
	certExpiry = prometheus.NewDesc("corral_tls_certificate_expiry_timestamp_seconds",
		"When the certificate the edge serves for the name expires, in seconds since the Unix epoch.",
		[]string{"name"}, nil)
)

// stateCollector reads the processes and certificates when scraped: the
// run loop owns that state, and asking it once per scrape costs nothing
// between scrapes.
type stateCollector struct{ m *Metrics }

// Describe sends the descriptions of every series Collect may make.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{procUp, procRSS, procStart, procInFlight, procServed, certExpiry} {
		ch <- d
	}
}

// Collect makes the process and certificate series as they are now.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	opts := c.m.opts
	// A run loop that does not answer (between the release phase and the
	// app) leaves the process series out of this scrape, rather than
	// failing it: the edge's counters are still worth having.
	procs, _ := opts.Processes()
	for _, p := range procs {
		up := 0.0
		if p.State == "up" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(procUp, prometheus.GaugeValue, up, p.Name, p.Type, p.State)
		if p.Pid > 0 {
			ch <- prometheus.MustNewConstMetric(procRSS, prometheus.GaugeValue, float64(p.RSS), p.Name, p.Type)
			start := opts.Now().Add(-secondsDuration(p.Uptime))
			ch <- prometheus.MustNewConstMetric(procStart, prometheus.GaugeValue, float64(start.UnixMilli())/1e3, p.Name, p.Type)
		}
		if opts.Edge && p.Type == "web" {
			ch <- prometheus.MustNewConstMetric(procInFlight, prometheus.GaugeValue, float64(p.InFlight), p.Name)
			ch <- prometheus.MustNewConstMetric(procServed, prometheus.CounterValue, float64(p.Served), p.Name)
		}
	}
	if opts.Certificates == nil {
		return
	}
	certs := opts.Certificates()
	names := make([]string, 0, len(certs))
	for n := range certs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if t := certs[n]; !t.IsZero() {
			ch <- prometheus.MustNewConstMetric(certExpiry, prometheus.GaugeValue, float64(t.Unix()), n)
		}
	}
}

// promHandler serves reg in Prometheus's formats. A collector's error
// costs only its own series, not the scrape.
func promHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}
