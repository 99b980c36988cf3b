package metrics

import "sync"

// keepRestarts is how many restarts the status page lists.
const keepRestarts = 20

// recentRestarts is a ring of the last keepRestarts restarts.
type recentRestarts struct {
	mu   sync.Mutex
	ring [keepRestarts]Restart
	next int // where the next one goes
	n    int // how many are kept, up to keepRestarts
}

// add keeps r, dropping the oldest when full.
func (rr *recentRestarts) add(r Restart) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.ring[rr.next] = r
	rr.next = (rr.next + 1) % keepRestarts
	rr.n = min(rr.n+1, keepRestarts)
}

// list returns the restarts kept, the newest first.
func (rr *recentRestarts) list() []Restart {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := make([]Restart, 0, rr.n)
	for i := 1; i <= rr.n; i++ {
		out = append(out, rr.ring[(rr.next-i+keepRestarts)%keepRestarts])
	}
	return out
}
