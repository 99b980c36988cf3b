package launcher

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/corral-run/corral/internal/procstat"
	"github.com/corral-run/corral/launcher/limits"
	"github.com/corral-run/corral/launcher/memwatch"
	"github.com/corral-run/corral/launcher/metrics"
	"github.com/corral-run/corral/launcher/process"
)

// memoryGuard watches the resident memory of the app's processes (each
// instance's process group: a gunicorn master and its workers) and picks
// a web instance to recycle before the kernel's OOM killer picks a
// victim of its own, which would be the app's biggest worker, mid-request.
// Where the kernel tells (memwatch), it hears at once of usage near the
// limit and of OOM kills, and reports every OOM kill in the app's cgroup
// with the instance that lost a process.
//
// It samples faster as the total nears the threshold (pace), and keeps
// sampling while it recycles. A victim still draining when the total
// reaches the hard line is stopped without waiting for its requests.
// Its replacement is given time to start and settle (guardSettle), when
// it is never picked and only the hard line is acted on; after that, a
// total still over the threshold means the app needs that much (raised).
type memoryGuard struct {
	limit       int64 // the memory limit
	threshold   int64 // the total at which it recycles; 0: only perInstance
	hard        int64 // past it, a victim's requests are not waited for: halfway from threshold to limit
	perInstance int64 // 0: no cap per instance
	procRoot    string
	self        int // corral's pid: its own memory counts against the limit too
	bootWait    time.Duration

	watch    *memwatch.Watch // nil: no kernel signals (no cgroup, or not readable)
	oomKills uint64          // the kernel's count of OOM kills when last read
	// oomBefore is the sample before OOM kills were counted that are
	// not yet attributed (oomPending of them): its processes are the
	// candidates. oomWoken is when the kernel last said it is out of
	// memory, whose kill may be counted a moment later.
	oomBefore  *memSample
	oomPending uint64
	oomSince   time.Time
	oomWoken   time.Time

	last      *memSample // the last sample
	growth    float64    // bytes per second the total grew by between the last two samples
	recycling map[*instance]*recycle
	// raised: a recycle ended (its replacement settled) with the total
	// still over the threshold, so the app needs that much; the guard
	// then acts at the hard line only, until the total is back under the
	// threshold, rather than recycle one instance after another for
	// nothing.
	raised bool
	warned time.Time // when it last said it could do nothing
}

// recycle is a web instance the guard is replacing.
type recycle struct {
	proc    *process.Proc // the process being stopped; the instance's next is its replacement
	hurry   chan struct{} // closed: SIGTERM now, without waiting for its requests
	stopped time.Time     // when it was seen to have exited
	ready   time.Time     // when its replacement was seen ready
	used    int64         // what the victim used when recycled
}

// memSample is the app's memory at one moment.
type memSample struct {
	at     time.Time
	total  int64               // the instances' process groups and corral
	procs  map[int]procMem     // every process, by pid
	groups map[int]*instance   // the instances' process groups, by id
	used   map[*instance]int64 // each instance's group's RSS
}

// procMem is one process of a sample.
type procMem struct {
	pgrp  int
	rss   int64
	state byte
}

// The guard's pace: far from the threshold a sample a second, as close
// as guardFast when the total would reach it within four samples at its
// present growth, and never slower than guardNear within a tenth of it,
// or while it recycles. A sample reads /proc/PID/stat of every process:
// 0.2–0.3 ms with a dozen processes, so guardFast costs under 1% of a
// core, and only near the threshold. An app growing 250 MB/s is sampled
// every 50 ms from 50 MB below the threshold, 12.5 MB apart: the guard
// acts within 3% of a 512 MB limit past its threshold, where a sample a
// second let the app run from 90% to the kernel's limit unseen.
const (
	guardEvery = time.Second
	guardNear  = 100 * time.Millisecond
	guardFast  = 50 * time.Millisecond
	// oomWait is how long after the kernel said it is out of memory the
	// guard looks, at guardFast, for the kill to be counted and the
	// victim gone.
	oomWait = 2 * time.Second
	// guardSettle is how long a replacement has, once ready, before its
	// memory counts as the app's own: an instance is ready when one of
	// its workers answers, and its other workers may still be importing
	// the app.
	guardSettle = 5 * time.Second
)

// guardLabel is what the guard's recycles say in the log (instance.again).
const guardLabel = "memory guard"

// newGuard returns the memory guard of the app's phase, or nil when it is
// off and there is no cgroup whose OOM kills to report.
func (r *runner) newGuard(ph phase) *memoryGuard {
	m := r.plan.Machine
	if !ph.final || m == nil {
		return nil
	}
	g := &memoryGuard{
		limit:     m.Limits.Memory,
		procRoot:  filepath.Join(r.plan.sysRoot, "proc"),
		self:      os.Getpid(),
		bootWait:  r.bootWait(),
		recycling: make(map[*instance]*recycle),
	}
	if r.edge != nil { // recycling is the edge's: requests wait there
		g.threshold, g.perInstance = m.Guard, m.PerInstance
		if g.threshold > 0 {
			g.hard = m.guardHard()
		}
	}
	if m.Limits.Constrained() && m.Limits.MemoryCgroup != "" {
		opts := memwatch.Options{Root: r.plan.sysRoot, Dir: m.Limits.MemoryCgroup, Version: m.Limits.MemoryCgroupVersion, Pressure: true}
		if g.threshold > 0 {
			opts.Thresholds = []int64{g.threshold, g.hard}
		}
		w, err := memwatch.Open(opts)
		if err != nil {
			r.log.Warn("memory: the kernel's OOM kills cannot be heard, so they are not reported: " + err.Error())
		} else {
			g.watch = w
			where := fmt.Sprintf("cgroup v%d %s", opts.Version, opts.Dir)
			for _, n := range w.Notes() {
				r.log.Info(fmt.Sprintf("memory: %s: %s", where, n))
			}
			n, err := w.OOMKills()
			if err != nil {
				r.log.Warn(fmt.Sprintf("memory: %s: the kernel's OOM kills cannot be counted, so they are not reported: %v", where, err))
			}
			g.oomKills = n
			r.log.Info(fmt.Sprintf("memory: listening to the kernel for OOM kills and memory use in %s", where))
		}
	}
	if g.threshold == 0 && g.perInstance == 0 && g.watch == nil {
		return nil
	}
	return g
}

// close stops watching the kernel's signals.
func (g *memoryGuard) close() {
	if g != nil && g.watch != nil {
		g.watch.Close()
	}
}

// wake returns the channel on which the kernel's signals wake the loop;
// nil (never ready) without them.
func (g *memoryGuard) wake() <-chan struct{} {
	if g == nil || g.watch == nil {
		return nil
	}
	return g.watch.C()
}

// sample reads the memory of every process, and sums it by instance.
func (g *memoryGuard) sample(live map[*instance]bool) (*memSample, error) {
	s := &memSample{at: time.Now(), procs: make(map[int]procMem), groups: make(map[int]*instance), used: make(map[*instance]int64)}
	err := procstat.Each(g.procRoot, func(pid int, st procstat.Stat) {
		s.procs[pid] = procMem{pgrp: st.Pgrp, rss: st.RSS, state: st.State}
	})
	if err != nil {
		return nil, err
	}
	s.total = s.procs[g.self].rss
	byGroup := make(map[int]int64)
	for _, p := range s.procs {
		byGroup[p.pgrp] += p.rss
	}
	for in := range live {
		if in.proc == nil || procDone(in) {
			continue
		}
		pid := in.proc.Pid()
		s.groups[pid] = in
		s.used[in] = byGroup[pid]
		s.total += byGroup[pid]
	}
	return s, nil
}

// member is a running instance as the guard's rule sees it.
type member struct {
	in   *instance
	name string
	pid  int
	used int64 // its process group's resident memory
	// candidate: a ready web instance behind the edge, in no replacement,
	// that the guard may recycle.
	candidate bool
	recycling bool // the guard is replacing it, and it has not yet exited
	hurried   bool // … and it has been told to stop now
	// settling: it is the guard's replacement of a victim, still
	// settling (guardSettle): recycled again past the hard line, or once
	// it has outgrown what its predecessor used when recycled (outgrew):
	// a start that big is a leak, not a warm-up.
	settling, outgrew bool
}

// progress is where the guard's recycles stand.
type progress struct {
	running  bool // a victim has not yet exited
	settling bool // a replacement is starting, or settling (guardSettle)
}

// move is what the guard's rule decides for one sample.
type move struct {
	recycle *member   // begin replacing it
	hurry   []*member // being replaced: stop them now, without waiting for their requests
	why     string
	stuck   bool // over the threshold with nothing to recycle
}

// rule is the guard's decision for one sample: the total, the members,
// and where its recycles stand. Past the hard line, a victim still
// running is stopped at once, or with none running the biggest instance
// is recycled at once. Over the threshold (once raised, only past the
// hard line), the biggest is recycled when no victim is running and no
// replacement settles, whose start may be what the total shows; a
// replacement that has outgrown its predecessor is no longer starting,
// and is recycled all the same.
func (g *memoryGuard) rule(total int64, ms []member, p progress) move {
	var mv move
	atHard := g.hard > 0 && total >= g.hard
	if atHard {
		for i := range ms {
			if ms[i].recycling && !ms[i].hurried {
				mv.hurry = append(mv.hurry, &ms[i])
			}
		}
	}
	over := g.threshold > 0 && total >= g.threshold && !g.raised
	eligible := func(m *member) bool {
		switch {
		case !m.candidate:
			return false
		case atHard:
			return true
		case m.settling:
			return over && m.outgrew
		}
		return over && !p.settling
	}
	if g.perInstance > 0 {
		for i := range ms {
			m := &ms[i]
			if m.candidate && (!m.settling || atHard) && m.used > g.perInstance {
				mv.recycle = m
				mv.why = fmt.Sprintf("%s (pid %d) uses %s, over --max-memory-per-instance %s: recycling it", m.name, m.pid, limits.MiB(m.used), limits.MiB(g.perInstance))
				return mv
			}
		}
	}
	if !over && !atHard || p.running {
		return mv
	}
	var biggest *member
	for i := range ms {
		if eligible(&ms[i]) && (biggest == nil || ms[i].used > biggest.used) {
			biggest = &ms[i]
		}
	}
	pct := 100 * float64(total) / float64(g.limit)
	if biggest == nil {
		mv.stuck = !p.settling && !slices.ContainsFunc(ms, func(m member) bool { return m.candidate })
		if mv.stuck {
			mv.why = fmt.Sprintf("the app's processes use %s, %.0f%% of the %s limit, and no ready web instance can be recycled", limits.MiB(total), pct, limits.MiB(g.limit))
		}
		return mv
	}
	at := g.threshold
	if atHard {
		at = g.hard
	}
	mv.recycle = biggest
	mv.why = fmt.Sprintf("the app's processes use %s, %.0f%% of the %s limit (guard at %s): recycling %s (pid %d, %s), the web instance using the most",
		limits.MiB(total), pct, limits.MiB(g.limit), limits.MiB(at), biggest.name, biggest.pid, limits.MiB(biggest.used))
	if atHard {
		mv.why += ", without waiting for its requests: the total is past " + limits.MiB(g.hard)
	}
	return mv
}

// pace returns how long to wait before the next sample: the total is
// left short of target (the threshold it acts at, else the limit), and
// grows by growth bytes a second.
func pace(total, target int64, growth float64) time.Duration {
	if target <= 0 {
		return guardEvery
	}
	left := target - total
	if left <= 0 {
		return guardNear
	}
	d := guardEvery
	if growth > 0 {
		d = min(d, time.Duration(float64(left)/growth/4*float64(time.Second)))
	}
	if left < target/10 {
		d = min(d, guardNear)
	}
	return max(d, guardFast)
}

// checkMemory samples memory, acts on it, reports the OOM kills the
// kernel counted, and returns when to sample next.
func (lp *loop) checkMemory() time.Duration {
	g, r := lp.guard, lp.r
	s, err := g.sample(lp.live)
	if err != nil {
		return guardEvery
	}
	prev := g.last
	g.last = s
	if prev != nil {
		if dt := s.at.Sub(prev.at).Seconds(); dt > 0 {
			g.growth = max(float64(s.total-prev.total)/dt, 0)
		}
	}
	lp.countOOMKills(prev, s)
	if lp.stopping {
		return g.next(s.total, progress{}) // everything gets SIGTERM anyway
	}

	p, note := g.settle(lp.live, s)
	if note != "" {
		r.log.Warn("memory guard: " + note)
	}
	if g.raised && s.total < g.threshold {
		g.raised = false
	}
	var ms []member
	for in := range lp.live {
		used, ok := s.used[in]
		if !ok {
			continue
		}
		rec := g.recycling[in]
		m := member{in: in, name: in.Name, pid: in.proc.Pid(), used: used}
		m.recycling = rec != nil && rec.proc == in.proc && !exitedAlready(in)
		m.hurried = m.recycling && isClosed(rec.hurry)
		m.settling = rec != nil && rec.proc != in.proc
		// By a quarter of the room between the threshold and the limit
		// (13 MiB of 512 MiB at 90%): a replacement that settles where
		// its predecessor was is the app's size, not a leak.
		m.outgrew = m.settling && used > rec.used+(g.hard-g.threshold)/2
		m.candidate = !lp.stopping && r.pooled(in) && !m.recycling && in.again == "" && !in.retiring &&
			!exitedAlready(in) && in.backend != nil && in.backend.EverReady() &&
			(lp.roll == nil || in != lp.roll.old && in != lp.roll.new)
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b member) int { return compareNames(a.name, b.name) })
	mv := g.rule(s.total, ms, p)
	for _, m := range mv.hurry {
		rec := g.recycling[m.in]
		close(rec.hurry)
		r.log.Warn(fmt.Sprintf("memory guard: the app's processes use %s, past %s: stopping %s (pid %d) now, without waiting for its requests", limits.MiB(s.total), limits.MiB(g.hard), m.name, m.pid))
	}
	switch {
	case mv.recycle != nil:
		lp.recycleMemory(mv.recycle, mv.why, g.hard > 0 && s.total >= g.hard)
	case mv.stuck && time.Since(g.warned) >= time.Minute:
		g.warned = time.Now()
		r.log.Warn("memory guard: " + mv.why)
	}
	return g.next(s.total, p)
}

// next is the pace after a sample of total, the recycles standing at p.
func (g *memoryGuard) next(total int64, p progress) time.Duration {
	target := g.limit // reporting OOM kills only
	switch {
	case g.raised || p.settling:
		target = g.hard
	case g.threshold > 0:
		target = g.threshold
	}
	d := pace(total, target, g.growth)
	if p.running {
		d = min(d, guardNear)
	}
	if g.oomPending > 0 || time.Since(g.oomWoken) < oomWait {
		d = guardFast
	}
	return d
}

// settle says where the recycles stand, and forgets those that have
// ended: a recycle ends once its replacement has been ready for
// guardSettle (or its instance is gone, or no replacement was ready
// within a boot wait). One that ends with the total still over the
// threshold raises the line the guard acts at (raised), which note says.
func (g *memoryGuard) settle(live map[*instance]bool, s *memSample) (p progress, note string) {
	for in, rec := range g.recycling {
		switch {
		case !live[in]:
			delete(g.recycling, in)
			continue
		case rec.proc == in.proc && !exitedAlready(in):
			p.running = true
			continue
		case rec.stopped.IsZero():
			rec.stopped = s.at
		}
		if rec.ready.IsZero() && in.proc != rec.proc && in.backend != nil && in.backend.EverReady() {
			rec.ready = s.at
		}
		settled := !rec.ready.IsZero() && s.at.Sub(rec.ready) >= guardSettle
		if !settled && (!rec.ready.IsZero() || s.at.Sub(rec.stopped) < g.bootWait) {
			p.settling = true
			continue
		}
		delete(g.recycling, in)
		if settled && g.threshold > 0 && s.total >= g.threshold && !g.raised {
			g.raised = true
			note = fmt.Sprintf("the app's processes still use %s with %s replaced: the app needs that much, and recycling again would not help; the guard now acts at %s, until the total is back under %s (give the app more memory, fewer workers with WEB_CONCURRENCY, or a higher --memory-guard)",
				limits.MiB(s.total), in.Name, limits.MiB(g.hard), limits.MiB(g.threshold))
		}
	}
	return p, note
}

// recycleMemory replaces m's instance: it leaves the edge's rotation, gets SIGTERM
// once its requests are answered (at once with hurry), and starts again
// once it has exited (instance.again). It is stopped before its
// replacement starts, as two copies of the app would not fit; requests
// wait at the boot gate meanwhile, if no other instance is ready.
func (lp *loop) recycleMemory(m *member, why string, hurry bool) {
	r, g, in := lp.r, lp.guard, m.in
	r.noteRecycle(in, metrics.ReasonMemoryGuard, why)
	r.log.Warn("memory guard: " + why)
	rec := &recycle{proc: in.proc, hurry: make(chan struct{}), used: m.used}
	if hurry {
		close(rec.hurry)
	}
	g.recycling[in] = rec
	in.again = guardLabel
	lp.termWhenIdle(in, rec.hurry)
}

// isClosed reports whether c is closed.
func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// memorySignal acts on the kernel's word about memory (an OOM, usage near
// the limit, pressure): the guard samples at once, unless it just did,
// and this returns when to sample next.
func (lp *loop) memorySignal() time.Duration {
	g := lp.guard
	if g.watch.Take()&memwatch.OOM != 0 {
		g.oomWoken = time.Now()
	}
	if g.last != nil {
		if age := time.Since(g.last.at); age < guardFast {
			return guardFast - age
		}
	}
	return lp.checkMemory()
}

// oomVictim is a process the OOM killer may have killed: one of an
// instance's process group at the sample before the kill, gone since.
type oomVictim struct {
	pid    int
	rss    int64     // at that sample
	in     *instance // nil: in no instance's process group
	leader bool      // the instance's main process, whose exit restarts it
}

// countOOMKills reads the kernel's count of OOM kills in the cgroup and
// reports each new one, naming the instance whose process group lost a
// process. A worker the kernel kills is reaped by its own parent (a
// gunicorn master), never seen by corral: the victim is found among the
// processes of the sample before the kill that are gone (or zombies)
// since, the biggest first, as the OOM killer picks the biggest. The
// count comes a moment after the kernel's notification, and the victim
// takes a moment to exit: the guard looks for it for oomWait.
func (lp *loop) countOOMKills(prev, s *memSample) {
	g := lp.guard
	if g.watch == nil {
		return
	}
	if n, err := g.watch.OOMKills(); err == nil && n != g.oomKills {
		if n > g.oomKills {
			if g.oomPending == 0 {
				g.oomBefore, g.oomSince = cmp.Or(prev, s), s.at
			}
			g.oomPending += n - g.oomKills
		}
		g.oomKills = n
	}
	if g.oomPending == 0 {
		return
	}
	var gone []oomVictim
	for pid, p := range g.oomBefore.procs {
		in, ours := g.oomBefore.groups[p.pgrp]
		if !ours {
			continue // not the app's: /proc shows the whole machine
		}
		if q, ok := s.procs[pid]; ok && q.state != 'Z' && q.state != 'X' {
			continue
		}
		gone = append(gone, oomVictim{pid: pid, rss: p.rss, in: in, leader: pid == p.pgrp})
	}
	if uint64(len(gone)) < g.oomPending && s.at.Sub(g.oomSince) < oomWait {
		return // not yet exited: look again at the next sample
	}
	slices.SortFunc(gone, func(a, b oomVictim) int { return cmp.Compare(b.rss, a.rss) })
	for i := range g.oomPending {
		v := oomVictim{}
		if i < uint64(len(gone)) {
			v = gone[i]
		}
		lp.reportOOMKill(v)
	}
	g.oomPending, g.oomBefore = 0, nil
}

// reportOOMKill logs an OOM kill and counts it.
func (lp *loop) reportOOMKill(v oomVictim) {
	r, g := lp.r, lp.guard
	limit := limits.MiB(g.limit)
	// Counted first: whoever reads the log line finds it counted.
	r.noteOOMKill(v.in, v.pid, v.leader)
	if v.in == nil {
		r.log.Error(fmt.Sprintf("the kernel's OOM killer killed a process in corral's memory cgroup (limit %s) that was in none of the instances' process groups at the last sample", limit))
		return
	}
	what := fmt.Sprintf("pid %d, a process of its group (%s at the last sample)", v.pid, limits.MiB(v.rss))
	if v.leader {
		what = fmt.Sprintf("its main process, pid %d (%s at the last sample)", v.pid, limits.MiB(v.rss))
	}
	r.log.Error(fmt.Sprintf("%s: the kernel's OOM killer killed %s: the app's processes reached the %s limit", v.in.Name, what, limit))
}
