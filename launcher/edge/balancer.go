package edge

import (
	"cmp"
	"context"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Backend is one web instance behind the edge.
type Backend struct {
	Name string // "web.1"
	Addr string // "127.0.0.1:40123"

	inflight atomic.Int64
	served   atomic.Int64
	ever     atomic.Bool     // has been ready at least once
	ctx      context.Context // done once the backend is removed
	cancel   context.CancelFunc
}

// Inflight is the number of requests the backend is serving now.
func (b *Backend) Inflight() int64 { return b.inflight.Load() }

// EverReady reports whether the backend has ever answered a probe.
func (b *Backend) EverReady() bool { return b != nil && b.ever.Load() }

// Served is the number of requests the backend has answered.
func (b *Backend) Served() int64 { return b.served.Load() }

type backendState int

const (
	starting backendState = iota // not answering yet; probed until it does
	ready                        // receives requests
	down                         // stopped answering; probed until it does again
	draining                     // receives no new requests; leaving
)

// Balancer is the set of web instances the edge routes to. It sends each
// request to the ready instance with the fewest requests in flight, and
// checks instances itself: a new one is probed until it accepts
// connections, and one the proxy could not reach is taken out and probed
// until it answers again.
type Balancer struct {
	probe    Prober
	interval time.Duration
	// ProbeTimeout bounds one probe (default: the interval, at least a
	// second). Set it before the first Add.
	ProbeTimeout time.Duration

	mu       sync.Mutex
	state    map[*Backend]backendState // every backend not removed
	readyCh  chan struct{}             // closed while at least one backend is ready
	onChange func(name string, ready bool)
	onLeave  func() // called when a backend leaves the rotation unasked
	probes   sync.WaitGroup

	readyList atomic.Pointer[[]*Backend] // snapshot for Pick, without the lock
	next      atomic.Uint64              // rotates ties

	wanted    chan struct{} // a request waits with no backend ready (see Wanted)
	asleep    atomic.Bool   // the web instances were stopped for idleness
	closed    chan struct{} // closed by CloseGate
	closeOnce sync.Once
}

// Prober reports whether a backend answers.
type Prober func(ctx context.Context, addr string) bool

// TCPProber is ready when the address accepts a TCP connection: the
// instance's server is listening.
func TCPProber(ctx context.Context, addr string) bool {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// NewBalancer returns an empty balancer that checks backends with probe
// every interval. onChange, if not nil, is told whenever a backend becomes
// ready or stops being ready; it must not call back into the Balancer.
func NewBalancer(probe Prober, interval time.Duration, onChange func(name string, ready bool)) *Balancer {
	b := &Balancer{
		probe:    probe,
		interval: interval,
		state:    make(map[*Backend]backendState),
		readyCh:  make(chan struct{}),
		onChange: onChange,
		wanted:   make(chan struct{}, 1),
		closed:   make(chan struct{}),
	}
	b.readyList.Store(&[]*Backend{})
	return b
}

// Add adds a starting backend and probes it until it answers. Several
// backends may share a name: during a rolling restart the new web.1 starts
// beside the old one.
func (b *Balancer) Add(name, addr string) *Backend {
	ctx, cancel := context.WithCancel(context.Background())
	be := &Backend{Name: name, Addr: addr, ctx: ctx, cancel: cancel}
	b.mu.Lock()
	b.state[be] = starting
	b.probes.Add(1)
	b.mu.Unlock()
	go b.probeUntilReady(be)
	return be
}

// Probing a backend that is not ready: every quickProbe for quickFor,
// then every interval. Requests may be waiting at the boot gate (a wake
// from --idle-stop, a restart), and a refused connection on loopback
// costs some 20 µs, so the first seconds are probed finely: the wait adds
// at most quickProbe to the app's own boot time.
const (
	quickProbe = 5 * time.Millisecond
	quickFor   = 10 * time.Second
)

// probeUntilReady probes be until it answers, then marks it ready.
func (b *Balancer) probeUntilReady(be *Backend) {
	defer b.probes.Done()
	ctx := be.ctx
	began := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, cmp.Or(b.ProbeTimeout, max(b.interval, time.Second)))
		ok := b.probe(pctx, be.Addr)
		cancel()
		if ok {
			b.promote(be)
			return
		}
		wait := b.interval
		if time.Since(began) < quickFor {
			wait = min(quickProbe, b.interval)
		}
		t.Reset(wait)
	}
}

// MarkDown takes be out of rotation because a request could not reach it,
// and probes it until it answers again.
func (b *Balancer) MarkDown(be *Backend) {
	b.mu.Lock()
	st, ok := b.state[be]
	if !ok || st != ready {
		b.mu.Unlock()
		return
	}
	b.probes.Add(1)
	b.mu.Unlock()
	b.setState(be, down)
	if b.onLeave != nil {
		b.onLeave()
	}
	go b.probeUntilReady(be)
}

// Drain stops sending new requests to be and returns a channel closed once
// it has no request in flight (or is removed).
func (b *Balancer) Drain(be *Backend) <-chan struct{} {
	b.setState(be, draining)
	idle := make(chan struct{})
	b.probes.Go(func() {
		defer close(idle)
		// Requests in flight end by themselves; polling keeps the hot path
		// (acquire/release) free of any draining logic.
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for be.inflight.Load() > 0 {
			select {
			case <-be.ctx.Done(): // removed: its process is gone
				return
			case <-t.C:
			}
		}
	})
	return idle
}

// Remove forgets be at once: its process has exited.
func (b *Balancer) Remove(be *Backend) {
	b.mu.Lock()
	defer func() {
		b.mu.Unlock()
		if b.onLeave != nil {
			b.onLeave()
		}
	}()
	be.cancel()
	st, ok := b.state[be]
	if !ok {
		return
	}
	wasReady := st == ready
	delete(b.state, be)
	b.publishLocked()
	if wasReady && b.onChange != nil {
		b.onChange(be.Name, false)
	}
}

// promote puts a starting or down backend into rotation; a draining one
// stays out.
func (b *Balancer) promote(be *Backend) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.state[be]; st == starting || st == down {
		b.setStateLocked(be, ready)
	}
}

func (b *Balancer) setState(be *Backend, st backendState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setStateLocked(be, st)
}

func (b *Balancer) setStateLocked(be *Backend, st backendState) {
	old, ok := b.state[be]
	if !ok || old == st {
		return
	}
	b.state[be] = st
	if st == ready {
		be.ever.Store(true)
	}
	b.publishLocked()
	if b.onChange != nil && (old == ready) != (st == ready) {
		b.onChange(be.Name, st == ready)
	}
}

// publishLocked refreshes the snapshot Pick reads and the ready channel.
func (b *Balancer) publishLocked() {
	list := make([]*Backend, 0, len(b.state))
	for be, st := range b.state {
		if st == ready {
			list = append(list, be)
		}
	}
	slices.SortFunc(list, func(x, y *Backend) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	b.readyList.Store(&list)
	select {
	case <-b.readyCh:
		if len(list) == 0 {
			b.readyCh = make(chan struct{})
		}
	default:
		if len(list) > 0 {
			close(b.readyCh)
		}
	}
}

// Ready returns a channel that is closed while at least one backend is
// ready. Take it anew after it fires: it is replaced when none is.
func (b *Balancer) Ready() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.readyCh
}

// ReadyCount is the number of backends in rotation.
func (b *Balancer) ReadyCount() int { return len(*b.readyList.Load()) }

// Pick returns the ready backend with the fewest requests in flight,
// skipping those in tried, or nil if none is left. Ties rotate, so equal
// instances share the load evenly.
func (b *Balancer) Pick(tried []*Backend) *Backend {
	list := *b.readyList.Load()
	n := len(list)
	if n == 0 {
		return nil
	}
	start := int(b.next.Add(1) % uint64(n))
	var best *Backend
	var bestLoad int64
	for i := range n {
		be := list[(start+i)%n]
		if slices.Contains(tried, be) {
			continue
		}
		if load := be.inflight.Load(); best == nil || load < bestLoad {
			best, bestLoad = be, load
		}
	}
	return best
}

// Wanted receives when a request waits at the boot gate with no backend
// ready: for a launcher that stopped its instances for idleness, the cue
// to start them again. Only the latest of several unread cues is kept.
func (b *Balancer) Wanted() <-chan struct{} { return b.wanted }

// want signals Wanted.
func (b *Balancer) want() {
	select {
	case b.wanted <- struct{}{}:
	default:
	}
}

// CloseGate closes the boot gate for good: corral is stopping, and no
// instance that is not ready now is coming. A request that finds none
// ready, or waits for one, gets its 503 at once rather than after
// BootWait; the instances still ready keep answering. (A reload, a scale
// or a wake from idle stop brings instances: only a stop closes the gate.)
func (b *Balancer) CloseGate() { b.closeOnce.Do(func() { close(b.closed) }) }

// gateClosed reports whether CloseGate was called.
func (b *Balancer) gateClosed() bool {
	select {
	case <-b.closed:
		return true
	default:
		return false
	}
}

// SetAsleep says whether the web instances are stopped on purpose until
// the next request: the edge's health check then answers 200, as the app
// is fine and starts on demand.
func (b *Balancer) SetAsleep(asleep bool) { b.asleep.Store(asleep) }

// Asleep reports what SetAsleep said last.
func (b *Balancer) Asleep() bool { return b.asleep.Load() }

// Close stops every probe and waits for them.
func (b *Balancer) Close() {
	b.mu.Lock()
	for be := range b.state {
		be.cancel()
	}
	b.mu.Unlock()
	b.probes.Wait()
}
