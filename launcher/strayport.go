package launcher

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/corral-run/corral/launcher/sockets"
)

// strayAfter is how long a web instance may take to answer on its $PORT
// before corral looks for a port it listens on instead.
const strayAfter = 2 * time.Second

// followStrayPort handles a web command that ignores $PORT and binds a
// fixed port (gunicorn --bind=0.0.0.0:8000 is common in real Procfiles):
// if in is not ready after strayAfter and its processes listen on another
// port, the edge routes there, with a warning that names the port. So it
// does when they listen on $PORT but at an address the edge's 127.0.0.1
// does not reach (a HOST the app's environment sets: ::1, a machine's own
// address). It reports whether it did.
func (r *runner) followStrayPort(in *instance) bool {
	if in.backend == nil || in.backend.EverReady() || in.strayChecked || time.Since(in.started) < strayAfter {
		return false
	}
	ls, err := sockets.GroupListeners(in.proc.Pid())
	if err != nil || len(ls) == 0 {
		return false // not listening yet (or not Linux): keep waiting
	}
	in.strayChecked = true
	slices.SortFunc(ls, func(a, b sockets.Listener) int { return int(a.Addr.Port()) - int(b.Addr.Port()) })
	var elsewhere []sockets.Listener // on $PORT, beyond the edge's reach
	for _, l := range ls {
		if int(l.Addr.Port()) != in.Port {
			continue
		}
		if a := l.Addr.Addr().Unmap(); a.IsUnspecified() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
			return false // it listens where it should; just slow
		}
		elsewhere = append(elsewhere, l)
	}
	if len(elsewhere) > 0 {
		target := elsewhere[0].Addr.String()
		r.log.Warn(fmt.Sprintf("%s listens on %s, not on 127.0.0.1 where the edge looks for it (HOST=%s in the app's environment?): the edge routes there",
			in.Name, target, elsewhere[0].Addr.Addr()))
		r.reroute(in, target)
		return true
	}
	addr := ls[0].Addr
	host := addr.Addr()
	if host.IsUnspecified() {
		if host.Is4() {
			host = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		} else {
			host = netip.IPv6Loopback()
		}
	}
	target := netip.AddrPortFrom(host, addr.Port()).String()
	r.log.Warn(fmt.Sprintf("%s ignores $PORT (%d) and listens on port %d: the edge routes to %s. "+
		"Use $PORT in the Procfile (e.g. gunicorn --bind ${HOST:-0.0.0.0}:$PORT), or a second instance and reloads cannot work",
		in.Name, in.Port, addr.Port(), target))
	r.reroute(in, target)
	in.Port = int(addr.Port())
	return true
}

// reroute sends the edge's requests for in to target, where its process
// group was seen listening: no owner check there.
func (r *runner) reroute(in *instance, target string) {
	r.edge.bal.Remove(in.backend)
	r.edge.owners.forget(in.backend.Addr)
	in.backend = r.edge.bal.Add(in.Name, target)
}

// warnIfExposed looks once at where a ready web instance listens, and
// warns (once per run) when its port is open beyond loopback: other
// machines could then reach the app past the edge. A command that binds
// every address explicitly (gunicorn without --bind binds 0.0.0.0 when
// PORT is set; puma's port does) ignores the HOST corral sets. It reports
// whether it warned. The loop does not ask on a platform, which routes
// nothing but $PORT to the app.
func (r *runner) warnIfExposed(in *instance) bool {
	if in.backend == nil || !in.backend.EverReady() || in.bindChecked {
		return false
	}
	in.bindChecked = true
	ls, err := sockets.GroupListeners(in.proc.Pid())
	if err != nil {
		return false
	}
	for _, l := range ls {
		if int(l.Addr.Port()) != in.Port || l.Addr.Addr().IsLoopback() {
			continue
		}
		r.log.Warn(fmt.Sprintf("%s listens on %s, beyond loopback: other machines can reach the app there, past the edge "+
			"(no HTTPS redirect, no slow-client buffering). Bind $HOST, which corral sets to 127.0.0.1 for web instances: "+
			"gunicorn --bind ${HOST:-0.0.0.0}:$PORT, uvicorn --host ${HOST:-0.0.0.0}, puma -b tcp://${HOST:-0.0.0.0}:$PORT; or close the port with a firewall",
			in.Name, l.Addr))
		return true
	}
	return false
}
