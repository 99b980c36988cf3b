package metrics

import (
	"sort"
)

// stateFamilies are the per-process and certificate series, made at each
// scrape from what the run loop and the certificate manager say then: the
// run loop owns that state, and asking it once per scrape costs nothing
// between scrapes.
func (m *Metrics) stateFamilies() []family {
	opts := m.opts
	up := family{name: "corral_process_up", typ: typeGauge,
		help: "1 while the process runs and is up (for a web instance: has answered), else 0; state is corral ps's: starting, up, stopping, restarting, asleep."}
	rss := family{name: "corral_process_resident_memory_bytes", typ: typeGauge,
		help: "Resident memory of the process's whole process group (gunicorn's master and workers together)."}
	start := family{name: "corral_process_start_time_seconds", typ: typeGauge,
		help: "When the running process started, in seconds since the Unix epoch."}
	inFlight := family{name: "corral_process_requests_in_flight", typ: typeGauge,
		help: "Requests the edge has sent to the web instance and not yet had answered."}
	served := family{name: "corral_process_requests_served_total", typ: typeCounter,
		help: "Requests the web instance has answered since it started."}
	expiry := family{name: "corral_tls_certificate_expiry_timestamp_seconds", typ: typeGauge,
		help: "When the certificate the edge serves for the name expires, in seconds since the Unix epoch."}

	// A run loop that does not answer (between the release phase and the
	// app) leaves the process series out of this scrape, rather than
	// failing it: the edge's counters are still worth having.
	procs, _ := opts.Processes()
	for _, p := range procs {
		name, typ := label{"name", p.Name}, label{"type", p.Type}
		v := 0.0
		if p.State == "up" {
			v = 1
		}
		up.metrics = append(up.metrics, single(v, name, typ, label{"state", p.State}))
		if p.Pid > 0 {
			rss.metrics = append(rss.metrics, single(float64(p.RSS), name, typ))
			t := opts.Now().Add(-secondsDuration(p.Uptime))
			start.metrics = append(start.metrics, single(float64(t.UnixMilli())/1e3, name, typ))
		}
		if opts.Edge && p.Type == "web" {
			inFlight.metrics = append(inFlight.metrics, single(float64(p.InFlight), name))
			served.metrics = append(served.metrics, single(float64(p.Served), name))
		}
	}
	fams := []family{up, rss, start, inFlight, served}
	if opts.Certificates == nil {
		return fams
	}
	certs := opts.Certificates()
	names := make([]string, 0, len(certs))
	for n := range certs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if t := certs[n]; !t.IsZero() {
			expiry.metrics = append(expiry.metrics, single(float64(t.Unix()), label{"name", n}))
		}
	}
	return append(fams, expiry)
}
