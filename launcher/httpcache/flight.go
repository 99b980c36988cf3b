package httpcache

// Flight is one request on its way to the origin for a key, which other
// requests for the key may wait for instead of asking too (request
// collapsing, nginx's proxy_cache_lock): once it lands they look the
// cache up again, and find its response if it was stored and they select
// it. A background revalidation is a flight too: while one is in the
// air, no other starts.
type Flight struct {
	k    keyText
	done chan struct{}
}

// Join returns the flight in the air for k, or starts one: then leader is
// true, and the caller must Land it once its response is stored or known
// not to be.
func (c *Cache) Join(k Key) (f *Flight, leader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.flights[k.hash] {
		if f.k == k.keyText {
			return f, false
		}
	}
	f = &Flight{k: keyText{k.scheme, k.host, k.target}, done: make(chan struct{})}
	c.flights[k.hash] = append(c.flights[k.hash], f)
	return f, true
}

// Land ends the flight f for k, which its leader started: those waiting
// for it go on.
func (c *Cache) Land(k Key, f *Flight) {
	c.mu.Lock()
	list := c.flights[k.hash]
	for i, x := range list {
		if x == f {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(c.flights, k.hash)
	} else {
		c.flights[k.hash] = list
	}
	c.mu.Unlock()
	close(f.done)
}

// Landed is closed when the flight lands.
func (f *Flight) Landed() <-chan struct{} { return f.done }
