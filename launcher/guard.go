package launcher

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/corral-run/corral/internal/procstat"
	"github.com/corral-run/corral/launcher/limits"
)

// memoryGuard watches the resident memory of the app's processes (each
// instance's process group: a gunicorn master and its workers) and picks
// a web instance to recycle before the kernel's OOM killer picks a
// victim of its own, which would be the app's biggest worker, mid-request.
type memoryGuard struct {
	limit       int64 // the memory limit
	threshold   int64 // the total at which it acts; 0: only perInstance
	perInstance int64 // 0: no cap per instance
	procRoot    string
	self        int       // corral's pid: its own memory counts against the limit too
	quietUntil  time.Time // after acting, give the replacement time to start
	warned      time.Time // when it last said it could do nothing
}

// guardEvery is how often the guard samples: /proc/PID/stat of every
// process, a few hundred microseconds in a container.
const guardEvery = time.Second

// newGuard returns the memory guard of the app's phase, or nil when it is
// off or has nothing to guard.
func (r *runner) newGuard(ph phase) *memoryGuard {
	m := r.plan.Machine
	if !ph.final || r.edge == nil || m == nil || m.Guard == 0 && m.PerInstance == 0 {
		return nil
	}
	return &memoryGuard{
		limit:       m.Limits.Memory,
		threshold:   m.Guard,
		perInstance: m.PerInstance,
		procRoot:    filepath.Join(r.plan.sysRoot, "proc"),
		self:        os.Getpid(),
	}
}

// check samples memory and returns the web instance to recycle, and why;
// or no instance and, now and then, a warning that it cannot help.
func (g *memoryGuard) check(live map[*instance]bool, pooled func(*instance) bool) (*instance, string) {
	now := time.Now()
	if now.Before(g.quietUntil) {
		return nil, ""
	}
	rss, err := procstat.GroupRSS(g.procRoot)
	if err != nil {
		return nil, ""
	}
	var total int64
	if st, ok := procstat.Read(g.self); ok {
		total = st.RSS
	}
	var biggest *instance
	var biggestRSS int64
	for in := range live {
		if in.proc == nil || procDone(in) {
			continue
		}
		used := rss[in.proc.Pid()]
		total += used
		if !pooled(in) || exitedAlready(in) || in.backend == nil || !in.backend.EverReady() {
			continue
		}
		if g.perInstance > 0 && used > g.perInstance {
			g.quietUntil = now.Add(10 * guardEvery)
			return in, fmt.Sprintf("%s (pid %d) uses %s, over --max-memory-per-instance %s: recycling it", in.Name, in.proc.Pid(), limits.MiB(used), limits.MiB(g.perInstance))
		}
		if used > biggestRSS {
			biggest, biggestRSS = in, used
		}
	}
	if g.threshold == 0 || total < g.threshold {
		return nil, ""
	}
	pct := 100 * float64(total) / float64(g.limit)
	if biggest == nil {
		if now.Sub(g.warned) < time.Minute {
			return nil, ""
		}
		g.warned = now
		return nil, fmt.Sprintf("the app's processes use %s, %.0f%% of the %s limit, and no ready web instance can be recycled", limits.MiB(total), pct, limits.MiB(g.limit))
	}
	g.quietUntil = now.Add(10 * guardEvery)
	return biggest, fmt.Sprintf("the app's processes use %s, %.0f%% of the %s limit (guard at %s): recycling %s (pid %d, %s), the web instance using the most",
		limits.MiB(total), pct, limits.MiB(g.limit), limits.MiB(g.threshold), biggest.Name, biggest.proc.Pid(), limits.MiB(biggestRSS))
}
