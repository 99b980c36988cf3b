package metrics

// cacheFamilies are the response cache's series, read from its counters
// at each scrape (the cache counts for itself, so the request path pays
// nothing for metrics); none when the cache is off.
func (m *Metrics) cacheFamilies() []family {
	if m.opts.Cache == nil {
		return nil
	}
	st := m.opts.Cache()
	requests := family{name: "corral_cache_requests_total", typ: typeCounter,
		help: "GET and HEAD requests the response cache took part in, by result: hit (a fresh stored response), miss (the app answered), stale (a stale stored response, while the app revalidates it, fails or is away), revalidated (a stored response the app confirmed with 304)."}
	for _, r := range []struct {
		result string
		n      int64
	}{{"hit", st.Hits}, {"miss", st.Misses}, {"stale", st.Stale}, {"revalidated", st.Revalidated}} {
		requests.metrics = append(requests.metrics, single(float64(r.n), label{"result", r.result}))
	}
	return []family{
		requests,
		singleFamily("corral_cache_stores_total", "Responses the response cache stored.", typeCounter, float64(st.Stores)),
		singleFamily("corral_cache_evictions_total", "Stored responses dropped, least recently used first, to make room.", typeCounter, float64(st.Evictions)),
		singleFamily("corral_cache_bytes", "Memory the stored responses take (bodies, fields and bookkeeping).", typeGauge, float64(st.Bytes)),
		singleFamily("corral_cache_entries", "Responses stored.", typeGauge, float64(st.Entries)),
		singleFamily("corral_cache_max_bytes", "The response cache's size (--cache-size).", typeGauge, float64(st.MaxBytes)),
	}
}
