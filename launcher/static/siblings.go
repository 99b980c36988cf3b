package static

import (
	"sync"
	"time"
)

// siblingCache remembers for a moment which precompressed siblings (.br,
// .gz) a file has. Finding out costs an open per sibling on every request,
// which fails for most files (they have none) and was a third of the
// syscalls of a small static response; the answer changes only when
// something writes the directory, and then it is seen within ttl.
type siblingCache struct {
	ttl time.Duration // 0: nothing is remembered
	max int           // entries kept before the cache starts over

	mu sync.Mutex
	m  map[siblingKey]siblingEntry
}

// siblingKey is a file of a mount.
type siblingKey struct {
	m    *mount
	name string
}

// sibling states: what is known of one encoding's sibling.
const (
	siblingUnknown uint8 = iota
	siblingAbsent
	siblingPresent
)

type siblingEntry struct {
	state [2]uint8 // by encoding.index
	at    time.Time
}

// get returns what is known of name's siblings at now.
func (c *siblingCache) get(k siblingKey, now time.Time) [2]uint8 {
	if c.ttl <= 0 {
		return [2]uint8{}
	}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) >= c.ttl {
		return [2]uint8{}
	}
	return e.state
}

// put records what was found at now; unknown states keep nothing.
func (c *siblingCache) put(k siblingKey, state [2]uint8, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[siblingKey]siblingEntry) // starting over bounds it simply
	}
	c.m[k] = siblingEntry{state: state, at: now}
}
