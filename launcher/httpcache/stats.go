package httpcache

// Outcome is how a request that could be answered from the cache was
// answered, for counters and logs.
type Outcome uint8

// The outcomes.
const (
	Hit         Outcome = iota + 1 // a fresh stored response
	Miss                           // from the origin (stored or not)
	Stale                          // a stale stored response (stale-while-revalidate, stale-if-error)
	Revalidated                    // a stored response the origin confirmed (304)
)

// String is the outcome's word in the access log and the metrics' label.
func (o Outcome) String() string {
	switch o {
	case Hit:
		return "hit"
	case Miss:
		return "miss"
	case Stale:
		return "stale"
	case Revalidated:
		return "revalidated"
	}
	return ""
}

// Count counts a request answered with outcome o.
func (c *Cache) Count(o Outcome) {
	switch o {
	case Hit:
		c.hits.Add(1)
	case Miss:
		c.misses.Add(1)
	case Stale:
		c.stale.Add(1)
	case Revalidated:
		c.revalidated.Add(1)
	}
}

// Stats are the cache's counters and its size.
type Stats struct {
	Hits, Misses, Stale, Revalidated int64 // requests, by Outcome
	Stores, Evictions                int64 // responses stored; evicted to make room
	Bytes, Entries                   int64 // held now
	MaxBytes                         int64
}

// Stats returns the counters and the size now.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	bytes, entries := c.bytes, int64(c.entries)
	c.mu.RUnlock()
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Stale: c.stale.Load(), Revalidated: c.revalidated.Load(),
		Stores: c.stores.Load(), Evictions: c.evictions.Load(),
		Bytes: bytes, Entries: entries, MaxBytes: c.opts.MaxBytes,
	}
}
