package launcher

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/corral-run/corral/launcher/sockets"
)

// portOwners checks that what answers on a web instance's port is that
// instance. corral picks a free port and hands it to the app in $PORT;
// until the app binds it, another program may take it, and the edge
// would send the app's users there. (It happened in CI: a test server
// given such a port by the kernel was sent requests meant for an app.)
type portOwners struct {
	// leader and group list the listeners of a process and of a process
	// group (sockets.ProcessListeners, GroupListeners): the leader is
	// looked at first, as it is often the server itself, and costs a
	// tenth of the group's scan of /proc.
	leader, group func(id int) ([]sockets.Listener, error)
	log           *slog.Logger
	// grace is how long a port may answer without the instance's
	// processes listening on it before the edge routes to it anyway,
	// with a warning: a proxy in front of the app (docker run -p
	// $PORT:80) listens from outside the instance's process group.
	grace time.Duration

	mu     sync.Mutex
	byAddr map[string]*portOwner
}

// portOwner is the instance expected to listen on an address.
type portOwner struct {
	name, addr string
	pgid, port int
	stranger   time.Time // when the port was first seen answered by another program
	checked    time.Time // the last look at the instance's sockets
	warned     bool
}

// ownerRecheck spaces the looks at /proc while a port is answered by a
// stranger: the probe asks every few milliseconds.
const ownerRecheck = 50 * time.Millisecond

func newPortOwners(log *slog.Logger) *portOwners {
	return &portOwners{leader: sockets.ProcessListeners, group: sockets.GroupListeners, log: log, grace: 2 * time.Second, byAddr: make(map[string]*portOwner)}
}

// expect says that name, whose processes are in process group pgid, is to
// listen on addr (127.0.0.1:port).
func (o *portOwners) expect(name, addr string, pgid, port int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byAddr[addr] = &portOwner{name: name, addr: addr, pgid: pgid, port: port}
}

// forget drops what expect said of addr.
func (o *portOwners) forget(addr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.byAddr, addr)
}

// owned reports whether addr, which just accepted a connection, may be
// routed to: an address it was not told of, one the instance's processes
// listen on, or one answered by something else for longer than grace.
// Where sockets cannot be read (not Linux), the connection is believed.
func (o *portOwners) owned(addr string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	w := o.byAddr[addr]
	if w == nil {
		return true
	}
	now := time.Now()
	if !w.stranger.IsZero() && now.Sub(w.checked) < ownerRecheck {
		return o.strangerDue(w, now)
	}
	w.checked = now
	for _, list := range []func(int) ([]sockets.Listener, error){o.leader, o.group} {
		ls, err := list(w.pgid) // the group's leader's pid is its id
		if err != nil {
			return true
		}
		for _, l := range ls {
			if int(l.Addr.Port()) == w.port {
				return true
			}
		}
	}
	if w.stranger.IsZero() {
		w.stranger = now
	}
	return o.strangerDue(w, now)
}

// strangerDue reports whether w's port has been answered by a stranger
// for grace, and says so once.
func (o *portOwners) strangerDue(w *portOwner, now time.Time) bool {
	if now.Sub(w.stranger) < o.grace {
		return false
	}
	if !w.warned {
		w.warned = true
		o.log.Warn(fmt.Sprintf("edge: something answers on %s, the port of %s, but none of %s's processes listens there (a proxy in front of it? or another program took the port): routing to it",
			w.addr, w.name, w.name))
	}
	return true
}
