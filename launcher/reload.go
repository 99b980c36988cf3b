package launcher

import (
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"
)

// rollTick is how often a reload checks on the step under way.
const rollTick = 20 * time.Millisecond

// rolling is a reload in progress: a rolling replacement of the web
// instances, one at a time, so that some instance is always ready.
type rolling struct {
	queue []*instance     // old web instances still to replace
	old   *instance       // the one being replaced
	new   *instance       // its replacement
	idle  <-chan struct{} // closed once old has no request in flight
	since time.Time       // when the current wait began
	again bool            // another reload was asked for meanwhile
	// why names a replacement that is not a reload: "recycle" for
	// --max-requests, "restart", "scale".
	why string
}

// label prefixes the replacement's log lines.
func (roll *rolling) label() string {
	if roll.why == "" {
		return "reload"
	}
	return roll.why
}

// beginReload starts a reload: web instances are queued for replacement,
// and the other processes are stopped, to be started again at once.
func (lp *loop) beginReload(why string) *rolling {
	r := lp.r
	roll := &rolling{}
	var others []string
	for in := range lp.live {
		if in.retiring || !in.restartAt.IsZero() || exitedAlready(in) {
			continue
		}
		if r.pooled(in) {
			roll.queue = append(roll.queue, in)
			continue
		}
		in.again = "reload"
		in.proc.Signal(syscall.SIGTERM)
		others = append(others, in.Name)
	}
	slices.SortFunc(roll.queue, func(a, b *instance) int { return compareNames(a.Name, b.Name) })
	slices.SortFunc(others, compareNames)
	msg := fmt.Sprintf("%s: replacing %d web instance(s) one at a time", why, len(roll.queue))
	if len(others) > 0 {
		msg += fmt.Sprintf("; restarting %v", others)
	}
	r.log.Info(msg)
	return roll
}

func exitedAlready(in *instance) bool {
	select {
	case <-in.proc.Exited():
		return true
	default:
		return false
	}
}

// procDone reports whether in's process group is gone and its output read.
func procDone(in *instance) bool {
	select {
	case <-in.proc.Done():
		return true
	default:
		return false
	}
}

// done reports whether every queued instance has been replaced.
func (roll *rolling) done() bool { return roll.new == nil && roll.old == nil && len(roll.queue) == 0 }

// errReloadAborted is wrapped by the errors that end a reload early; the
// old instances left keep serving.
var errReloadAborted = errors.New("the instances not yet replaced keep serving")

// advance moves the reload on as far as it can now, and says what it did.
func (roll *rolling) advance(lp *loop) (string, error) {
	r, live := lp.r, lp.live
	if roll.new == nil {
		for len(roll.queue) > 0 {
			old := roll.queue[0]
			roll.queue = roll.queue[1:]
			if !live[old] || exitedAlready(old) || old.again != "" || old.retiring {
				continue // crashed, recycled or scaled away meanwhile
			}
			nw := &instance{Instance: old.Instance, timesRestarted: old.timesRestarted}
			if err := lp.start(nw); err != nil {
				return "", fmt.Errorf("starting a new %s: %w; %w", old.Name, err, errReloadAborted)
			}
			roll.old, roll.new, roll.idle, roll.since = old, nw, nil, time.Now()
			return "", nil
		}
		return "", nil
	}
	if roll.idle == nil {
		if exitedAlready(roll.new) {
			roll.new.retiring, roll.new.leaving = true, roll.label()
			return "", fmt.Errorf("the new %s exited before it was ready; %w", roll.new.Name, errReloadAborted)
		}
		if !roll.new.backend.EverReady() {
			if wait := r.bootWait(); time.Since(roll.since) > wait {
				roll.new.retiring, roll.new.leaving = true, roll.label()
				roll.new.proc.Signal(syscall.SIGTERM)
				return "", fmt.Errorf("the new %s was not ready after %v; %w", roll.new.Name, wait, errReloadAborted)
			}
			return "", nil
		}
		roll.idle = r.edge.bal.Drain(roll.old.backend)
		roll.since = time.Now()
		return fmt.Sprintf("the new %s (pid %d) is ready; draining the old one (pid %d)", roll.new.Name, roll.new.proc.Pid(), roll.old.proc.Pid()), nil
	}
	select {
	case <-roll.idle:
	default:
		if time.Since(roll.since) < r.cfg.Timeout {
			return "", nil // requests still in flight on the old one
		}
	}
	roll.old.retiring, roll.old.replaced = true, roll.label()
	roll.old.proc.Signal(syscall.SIGTERM)
	msg := fmt.Sprintf("%s replaced: stopping the old one (pid %d)", roll.old.Name, roll.old.proc.Pid())
	roll.old, roll.new, roll.idle = nil, nil, nil
	return msg, nil
}

// bootWait is how long a new instance may take to become ready.
func (r *runner) bootWait() time.Duration {
	if r.cfg.Edge.BootWait > 0 {
		return r.cfg.Edge.BootWait
	}
	return 30 * time.Second
}
