package httpcache

// Flight is one request on its way to the origin for a key, which other
// requests for the key may wait for instead of asking too (request
// collapsing, nginx's proxy_cache_lock): once it lands they look the
// cache up again, and find its response if it was stored and they select
// it. A background revalidation is a flight too: while one is in the
// air, no other starts.
type Flight struct {
	k    keyText
	next *Flight       // another key's, of the same hash
	done chan struct{} // made for the first follower: most flights have none
}

// Join returns the flight in the air for k, or starts one: then leader is
// true, and the caller must Land it once its response is stored or known
// not to be.
func (c *Cache) Join(k Key) (f *Flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := c.flights[k.hash]; f != nil; f = f.next {
		if f.k == k.keyText {
			if f.done == nil {
				f.done = make(chan struct{})
			}
			return f, false
		}
	}
	f = &Flight{k: k.keyText, next: c.flights[k.hash]}
	c.flights[k.hash] = f
	return f, true
}

// Land ends the flight f for k, which its leader started: those waiting
// for it go on.
func (c *Cache) Land(k Key, f *Flight) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var prev *Flight
	for x := c.flights[k.hash]; x != nil; prev, x = x, x.next {
		if x != f {
			continue
		}
		switch {
		case prev != nil:
			prev.next = f.next
		case f.next != nil:
			c.flights[k.hash] = f.next
		default:
			delete(c.flights, k.hash)
		}
		break
	}
	if f.done != nil {
		close(f.done)
	}
}

// Landed is closed when the flight lands. Only a follower (Join's
// leader false) may wait for it.
func (f *Flight) Landed() <-chan struct{} { return f.done }
