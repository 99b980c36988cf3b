package metrics

import (
	"github.com/corral-run/corral/launcher/httpcache"
	"github.com/prometheus/client_golang/prometheus"
)

// cacheCollector reads the response cache's counters when scraped: the
// cache counts for itself, so the request path pays nothing for metrics.
type cacheCollector struct {
	stats                       func() httpcache.Stats
	requests, stores, evictions *prometheus.Desc
	bytes, entries, maxBytes    *prometheus.Desc
}

func newCacheCollector(stats func() httpcache.Stats) *cacheCollector {
	return &cacheCollector{
		stats: stats,
		requests: prometheus.NewDesc("corral_cache_requests_total",
			"GET and HEAD requests the response cache took part in, by result: hit (a fresh stored response), miss (the app answered), stale (a stale stored response, while the app revalidates it, fails or is away), revalidated (a stored response the app confirmed with 304).",
			[]string{"result"}, nil),
		stores: prometheus.NewDesc("corral_cache_stores_total",
			"Responses the response cache stored.", nil, nil),
		evictions: prometheus.NewDesc("corral_cache_evictions_total",
			"Stored responses dropped, least recently used first, to make room.", nil, nil),
		bytes: prometheus.NewDesc("corral_cache_bytes",
			"Memory the stored responses take (bodies, fields and bookkeeping).", nil, nil),
		entries: prometheus.NewDesc("corral_cache_entries",
			"Responses stored.", nil, nil),
		maxBytes: prometheus.NewDesc("corral_cache_max_bytes",
			"The response cache's size (--cache-size).", nil, nil),
	}
}

// Describe sends the descriptions of the series Collect makes.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.stores, c.evictions, c.bytes, c.entries, c.maxBytes} {
		ch <- d
	}
}

// Collect reads the cache's counters once and sends them.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, r := range []struct {
		result string
		n      int64
	}{{"hit", st.Hits}, {"miss", st.Misses}, {"stale", st.Stale}, {"revalidated", st.Revalidated}} {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(r.n), r.result)
	}
	ch <- prometheus.MustNewConstMetric(c.stores, prometheus.CounterValue, float64(st.Stores))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.maxBytes, prometheus.GaugeValue, float64(st.MaxBytes))
}
