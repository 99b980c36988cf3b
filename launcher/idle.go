package launcher

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// idleWatch decides when the web instances have been idle long enough to
// stop (--idle-stop), from the counters the edge keeps per instance: it
// costs the request path nothing.
type idleWatch struct {
	after  time.Duration
	served int64     // requests answered, at the last look
	since  time.Time // when activity was last seen
}

// every is how often the watch looks: often enough to stop within a
// quarter of the idle time, and at least once a second.
func (w *idleWatch) every() time.Duration {
	return min(max(w.after/4, 10*time.Millisecond), time.Second)
}

// quiet reports whether nothing was served and nothing is in flight since
// w.after ago. Any change of served counts as activity.
func (w *idleWatch) quiet(now time.Time, served, inflight int64) bool {
	if served != w.served || inflight > 0 {
		w.served, w.since = served, now
		return false
	}
	return now.Sub(w.since) >= w.after
}

// reset makes now the last activity.
func (w *idleWatch) reset(now time.Time) { w.since = now }

// sleepIfIdle stops the web instances when they have all been ready and
// idle for --idle-stop: the edge keeps the port and the next request
// starts them again (wake). It reports whether it stopped them.
func (lp *loop) sleepIfIdle() bool {
	r, w, live := lp.r, lp.idle, lp.live
	now := time.Now()
	var served, inflight int64
	var awake []*instance
	for in := range live {
		if !r.pooled(in) || in.asleep {
			continue
		}
		if in.backend == nil || !in.backend.EverReady() || !in.restartAt.IsZero() || in.retiring || exitedAlready(in) {
			w.reset(now) // starting or restarting: not idle, whatever the counters say
			return false
		}
		served += in.backend.Served()
		inflight += in.backend.Inflight()
		awake = append(awake, in)
	}
	if len(awake) == 0 || !w.quiet(now, served, inflight) {
		return false
	}
	r.edge.bal.SetAsleep(true)
	var names []string
	for _, in := range awake {
		in.asleep = true
		r.edge.bal.Remove(in.backend)
		in.proc.Signal(syscall.SIGTERM)
		names = append(names, in.Name)
	}
	slices.Sort(names)
	r.log.Info(fmt.Sprintf("idle stop: no request for %v; stopping %s until the next one", w.after, strings.Join(names, ", ")))
	return true
}

// wake starts the instances that sleepIfIdle stopped, as a request came
// in; one still exiting starts as soon as it has.
func (lp *loop) wake() {
	var names []string
	var err error
	for in := range lp.live {
		if !in.asleep {
			continue
		}
		names = append(names, in.Name)
		if procDone(in) {
			if e := lp.start(in); e != nil && err == nil {
				err = e
			}
			continue
		}
		in.asleep = false
		in.again = "idle stop"
		in.backoff = time.Nanosecond
	}
	if len(names) > 0 {
		slices.Sort(names)
		lp.r.edge.bal.SetAsleep(false)
		lp.idle.reset(time.Now())
		lp.r.log.Info("idle stop: a request came in; starting " + strings.Join(names, ", "))
	}
	if err != nil {
		lp.r.log.Error(err.Error())
		lp.code = 1
		lp.stopAll("could not start the web instances again")
	}
}
