package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corral-run/corral/launcher/metrics"
	"github.com/corral-run/corral/launcher/process"
)

type eventKind int

const (
	exited  eventKind = iota // the command's own process exited
	done                     // its group is gone and its output read
	drained                  // the edge has answered the requests in flight
)

type event struct {
	kind eventKind
	inst *instance
}

// phase is one supervised stage of a run: the release phase, then the app.
type phase struct {
	insts   []Instance
	restart bool // restart crashed instances instead of stopping all
	final   bool // stopping it stops the app: orphans it adopted go too
}

// supervise runs the instances of ph until they have all ended and returns the exit
// status, and whether the run was interrupted by a signal or ctx.
//
// Without restart it has foreman's semantics: the first instance to exit
// stops all the others, and its status is the result. With restart a crashed
// instance is started again after a backoff, an instance that exits with
// code 0 is left finished, and the result is 0 once all have finished.
func (r *runner) supervise(ctx context.Context, ph phase) (code int, interrupted bool) {
	lp := &loop{
		r:          r,
		ph:         ph,
		events:     make(chan event),
		live:       make(map[*instance]bool),
		rollTicker: time.NewTicker(rollTick),
	}
	lp.rollTicker.Stop()
	defer lp.watchers.Wait() // last: the watchers' final events are read by then
	defer lp.rollTicker.Stop()
	defer func() {
		if lp.restartTimer != nil {
			lp.restartTimer.Stop()
		}
	}()
	lp.run(ctx)
	return lp.code, lp.interrupted
}

// loop is the state of one phase's run loop. Only the loop's goroutine
// touches it: the instances' watchers, the edge's drain and the control
// socket reach it through events and r.calls, and every change to the
// running instances (a start, a stop, a reload, a verb) happens here.
type loop struct {
	r        *runner
	ph       phase
	events   chan event
	watchers sync.WaitGroup // every goroutine that sends on events

	live map[*instance]bool // started and not yet done, or waiting to restart

	// A reload (SIGHUP) replaces the web instances one at a time: start
	// the new one, wait until it is ready, drain the old one, stop it.
	roll       *rolling
	rollTicker *time.Ticker
	// reshareDue: corral scale changed the web instances' share of the
	// workers' budget while a replacement was under way (reshare).
	reshareDue bool

	stopping   bool
	draining   bool   // the edge is finishing the requests in flight before the SIGTERMs
	stopReason string // why, for the SIGTERMs after the drain
	stopSig    os.Signal
	stopSigAt  time.Time // the signal that began the stop, and when
	killTimer  <-chan time.Time
	termAt     time.Time // when the stop's SIGTERMs were sent (after the edge's drain)

	restartTimer *time.Timer // the next crashed instance due to start again

	// checkBinds: look where ready web instances listen, until one is
	// found beyond loopback (off a platform, which routes only $PORT).
	checkBinds bool

	idle  *idleWatch   // with --idle-stop
	guard *memoryGuard // the memory guard, when on

	code        int
	interrupted bool
}

// start starts in (again) and has its exit watched.
func (lp *loop) start(in *instance) error {
	r := lp.r
	in.restartAt, in.backoff, in.again, in.asleep, in.strayChecked = time.Time{}, 0, "", false, false
	if r.pooled(in) {
		port, err := freeLoopbackPort()
		if err != nil {
			return fmt.Errorf("finding a port for %s: %w", in.Name, err)
		}
		in.Port = port
	}
	env := r.plan.InstanceEnv(in.Instance)
	p, err := process.Start(process.Spec{
		Command: in.Command,
		Shell:   r.plan.Shell,
		Dir:     r.plan.Dir,
		Env:     env,
		Grace:   r.cfg.Timeout,
		Out:     r.prefixes[in.Name],
		Reaper:  r.reaper,
	})
	if err != nil {
		return fmt.Errorf("starting %s: %w", in.Name, err)
	}
	in.proc, in.started = p, time.Now()
	in.webConcurrency = webConcurrency(env)
	if n := r.cfg.Edge.MaxRequests; n > 0 && r.pooled(in) {
		// Jitter, so that instances started together are not all
		// replaced at the same moment.
		in.maxServed = int64(n + rand.IntN(r.cfg.Edge.MaxRequestsJitter+1))
	}
	lp.live[in] = true
	if r.pooled(in) {
		addr := "127.0.0.1:" + strconv.Itoa(in.Port)
		r.edge.owners.expect(in.Name, addr, p.Pid(), in.Port)
		in.backend = r.edge.bal.Add(in.Name, addr)
	}
	r.log.Info(fmt.Sprintf("%s started (pid %d, PORT=%d): %s", in.Name, p.Pid(), in.Port, in.Command))
	lp.watchers.Go(func() {
		<-p.Exited()
		lp.events <- event{exited, in}
		<-p.Done()
		lp.events <- event{done, in}
	})
	return nil
}

// termAll sends SIGTERM to every running process (and the orphans the
// app left, when stopping the app itself).
func (lp *loop) termAll(reason string) {
	lp.termAt = time.Now()
	var names []string
	for in := range lp.live {
		if !in.restartAt.IsZero() || in.asleep && procDone(in) {
			delete(lp.live, in) // was waiting to restart, or asleep; nothing runs
			continue
		}
		select {
		case <-in.proc.Exited():
			continue
		default:
		}
		names = append(names, in.Name)
		in.proc.Signal(syscall.SIGTERM)
	}
	if len(names) > 0 {
		slices.Sort(names)
		lp.r.log.Info(fmt.Sprintf("%s: sending SIGTERM to %s", reason, strings.Join(names, ", ")))
	}
	if lp.ph.final {
		for _, o := range lp.r.reaper.Signal(syscall.SIGTERM) {
			lp.r.log.Info(fmt.Sprintf("sending SIGTERM to pid %d, left running outside its process group by the app: %s", o.Pid, o.Command))
		}
	}
}

// stopAll stops the phase. With an edge in front, it first stops taking
// requests and lets those in flight be answered (for at most half the
// timeout) while the instances still run; then every process gets
// SIGTERM, and SIGKILL once the whole timeout has passed.
func (lp *loop) stopAll(reason string) {
	r := lp.r
	if lp.stopping {
		return
	}
	lp.stopping = true
	lp.roll = nil
	lp.rollTicker.Stop()
	r.stopBy = time.Now().Add(r.cfg.Timeout)
	lp.killTimer = time.After(r.cfg.Timeout)
	if lp.ph.final && r.edge != nil {
		r.log.Info(reason + ": the edge stops taking requests and finishes those in flight")
		lp.draining, lp.stopReason = true, reason
		lp.watchers.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout/2)
			defer cancel()
			r.edge.drain(ctx)
			lp.events <- event{kind: drained}
		})
		return
	}
	lp.termAll(reason)
}

// killAll sends SIGKILL to every process still running.
func (lp *loop) killAll(reason string) {
	for in := range lp.live {
		if !in.restartAt.IsZero() {
			continue
		}
		select {
		case <-in.proc.Done():
			continue
		default:
		}
		lp.r.log.Warn(fmt.Sprintf("sending SIGKILL to %s (%s)", in.Name, reason))
		in.proc.Kill()
	}
}

// armRestartTimer sets the restart timer for the crashed instance due
// to start again first, or clears it when none is.
func (lp *loop) armRestartTimer() {
	var next time.Time
	for in := range lp.live {
		if !in.restartAt.IsZero() && (next.IsZero() || in.restartAt.Before(next)) {
			next = in.restartAt
		}
	}
	if lp.restartTimer != nil {
		lp.restartTimer.Stop()
		lp.restartTimer = nil
	}
	if !next.IsZero() {
		lp.restartTimer = time.NewTimer(time.Until(next))
	}
}

// advance moves the rolling replacement under way as far as it can go
// now; a reload asked for meanwhile (SIGHUP during a reload) follows it.
func (lp *loop) advance() {
	r := lp.r
	for lp.roll != nil {
		roll := lp.roll
		msg, err := roll.advance(lp)
		if msg != "" {
			r.log.Info(roll.label() + ": " + msg)
		}
		if err != nil {
			r.log.Error(roll.label() + ": " + err.Error())
			lp.roll = nil
			break
		}
		if !roll.done() {
			break
		}
		if roll.again {
			lp.roll = lp.beginReload("received SIGHUP")
			continue
		}
		switch {
		case roll.why == "":
			r.log.Info("reload: every web instance replaced")
		default:
			r.log.Info(roll.why + ": done")
		}
		lp.roll = nil
	}
	if lp.roll == nil {
		lp.rollTicker.Stop()
		if lp.reshareDue {
			lp.reshare()
		}
	}
}

// replace begins a rolling replacement of web instances, unless one is
// under way.
func (lp *loop) replace(rl *rolling) error {
	if lp.roll != nil {
		return errors.New("a reload or restart is under way: try again when it is done")
	}
	lp.begin(rl)
	return nil
}

// begin makes rl the rolling replacement under way and starts it.
func (lp *loop) begin(rl *rolling) {
	lp.roll = rl
	lp.rollTicker.Reset(rollTick)
	lp.advance()
}

// retire stops an instance for good: a web instance leaves the edge's
// rotation and finishes its requests first.
func (lp *loop) retire(in *instance, why string) {
	if !in.restartAt.IsZero() {
		delete(lp.live, in) // crashed, waiting to restart: it just does not
		lp.armRestartTimer()
		return
	}
	in.retiring, in.leaving = true, why
	lp.termWhenIdle(in, nil)
}

// termWhenIdle takes in out of the edge's rotation and sends it SIGTERM
// once its requests are answered, the timeout has passed, it has exited,
// or hurry is closed (nil: never).
func (lp *loop) termWhenIdle(in *instance, hurry <-chan struct{}) {
	if in.backend == nil || exitedAlready(in) {
		in.proc.Signal(syscall.SIGTERM)
		return
	}
	idle := lp.r.edge.bal.Drain(in.backend)
	p, grace := in.proc, lp.r.cfg.Timeout
	lp.watchers.Go(func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-idle:
		case <-t.C:
		case <-p.Exited():
		case <-hurry:
		}
		p.Signal(syscall.SIGTERM)
	})
}

// ticker is a stopped ticker, started when on: a nil channel in a select
// would do, but a ticker is simpler to stop on the way out.
func ticker(on bool, every time.Duration) *time.Ticker {
	t := time.NewTicker(time.Hour)
	t.Stop()
	if on {
		t.Reset(every)
	}
	return t
}

// run starts the phase's instances and supervises them until every one
// has ended.
func (lp *loop) run(ctx context.Context) {
	r, ph := lp.r, lp.ph
	for _, inst := range ph.insts {
		if err := lp.start(&instance{Instance: inst}); err != nil {
			r.log.Error(err.Error())
			lp.code = 1
			lp.stopAll("could not start every process")
			break
		}
	}

	app := ph.final && r.edge != nil // the app's phase, behind the edge
	lp.checkBinds = app && (r.plan.Machine == nil || !r.plan.Machine.Platform.IsPaaS())
	strayTicker := ticker(app, time.Second)
	defer strayTicker.Stop()
	recycleTicker := ticker(app && r.cfg.Edge.MaxRequests > 0, 100*time.Millisecond)
	defer recycleTicker.Stop()
	// --idle-stop: the web instances stop when idle, and the next request
	// starts them (the edge's Wanted).
	var wanted <-chan struct{}
	idleTicker := ticker(false, 0)
	defer idleTicker.Stop()
	if r.cfg.IdleStop > 0 && app {
		lp.idle = &idleWatch{after: r.cfg.IdleStop, since: time.Now()}
		idleTicker.Reset(lp.idle.every())
		wanted = r.edge.bal.Wanted()
	}
	// The memory guard recycles the web instance using the most memory
	// before the kernel's OOM killer picks a victim, and reports the
	// kernel's OOM kills; it samples at its own pace (checkMemory's), and
	// at once when the kernel says memory is short (memWake).
	lp.guard = r.newGuard(ph)
	defer lp.guard.close()
	guardTimer := time.NewTimer(guardEvery)
	defer guardTimer.Stop()
	if lp.guard == nil {
		guardTimer.Stop()
	}
	memWake := lp.guard.wake()

	signals := r.cfg.Signals
	ctxDone := ctx.Done()
	broken := r.mux.Broken()
	for len(lp.live) > 0 || lp.draining {
		var restartC <-chan time.Time
		if lp.restartTimer != nil {
			restartC = lp.restartTimer.C
		}
		select {
		case sig := <-signals:
			lp.signalled(sig)
		case <-ctxDone:
			ctxDone = nil
			lp.interrupted = true
			lp.stopAll("shutting down")
		case <-broken:
			// Nobody can see the app's output any more (the reader of a
			// pipe went away): stop cleanly rather than run blind.
			broken = nil
			if lp.code == 0 {
				lp.code = 1
			}
			lp.stopAll("cannot write output: " + r.mux.Err().Error())
		case c := <-r.calls:
			c.reply <- lp.answer(c.req)
		case <-lp.rollTicker.C:
			lp.advance()
		case <-strayTicker.C:
			for in := range lp.live {
				if !r.pooled(in) || exitedAlready(in) {
					continue
				}
				r.followStrayPort(in)
				if lp.checkBinds && r.warnIfExposed(in) {
					lp.checkBinds = false // once is enough
				}
			}
		case <-recycleTicker.C:
			if lp.roll == nil && !lp.stopping {
				lp.recycleServed()
			}
		case <-idleTicker.C:
			if !lp.stopping && lp.roll == nil {
				lp.sleepIfIdle()
			}
		case <-wanted:
			if !lp.stopping {
				lp.wake()
			}
		case <-guardTimer.C:
			guardTimer.Reset(lp.checkMemory())
		case <-memWake:
			guardTimer.Reset(lp.memorySignal())
		case <-lp.killTimer:
			lp.killTimer = nil
			why := fmt.Sprintf("the shutdown budget of %v is spent", r.cfg.Timeout)
			if !lp.termAt.IsZero() { // the drain may have taken up to half the budget
				why = fmt.Sprintf("still running %v after SIGTERM (shutdown budget %v)", time.Since(lp.termAt).Truncate(100*time.Millisecond), r.cfg.Timeout)
			}
			lp.killAll(why)
		case <-restartC:
			lp.restartDue()
		case ev := <-lp.events:
			lp.handle(ev)
		}
	}
}

// signalled acts on a signal: SIGHUP reloads the web instances behind
// the edge; any other signal stops the phase, and a second one kills it.
func (lp *loop) signalled(sig os.Signal) {
	r := lp.r
	if sig == syscall.SIGHUP && lp.ph.final && r.edge != nil && !lp.stopping {
		if lp.roll != nil {
			lp.roll.again = true
			r.log.Info("received SIGHUP: a reload is under way; another follows it")
			return
		}
		lp.begin(lp.beginReload("received SIGHUP"))
		return
	}
	lp.interrupted = true
	if lp.stopping && sig == lp.stopSig && time.Since(lp.stopSigAt) < sameStop {
		r.log.Info(fmt.Sprintf("received %s again at once (its sender signalled corral's process group too, as GNU timeout does): still stopping gracefully", signalName(sig)))
		return
	}
	if lp.stopping {
		r.log.Warn(fmt.Sprintf("received %s while stopping: killing everything now", signalName(sig)))
		lp.killAll("second signal")
		return
	}
	lp.stopSig, lp.stopSigAt = sig, time.Now()
	lp.stopAll("received " + signalName(sig))
}

// recycleServed replaces (--max-requests), the way a reload does, the
// first instance found to have served its share.
func (lp *loop) recycleServed() {
	r := lp.r
	for in := range lp.live {
		if in.maxServed > 0 && !in.retiring && in.backend != nil && in.backend.Served() >= in.maxServed && !exitedAlready(in) {
			r.log.Info(fmt.Sprintf("recycle: %s has served %d requests (--max-requests %d): replacing it", in.Name, in.backend.Served(), r.cfg.Edge.MaxRequests))
			r.noteRecycle(in, metrics.ReasonMaxRequests, fmt.Sprintf("served %d requests (--max-requests %d)", in.backend.Served(), r.cfg.Edge.MaxRequests))
			lp.begin(&rolling{queue: []*instance{in}, why: "recycle"})
			return
		}
	}
}

// restartDue starts the crashed instances whose backoff has passed.
func (lp *loop) restartDue() {
	lp.restartTimer = nil
	now := time.Now()
	for in := range lp.live {
		if !in.restartAt.IsZero() && !in.restartAt.After(now) {
			if err := lp.start(in); err != nil {
				lp.r.log.Error(err.Error())
				delete(lp.live, in)
				lp.code = 1
				lp.stopAll("could not restart " + in.Name)
			}
		}
	}
	lp.armRestartTimer()
}

// handle acts on an instance's exit, the end of its process group, or
// the end of the edge's drain.
func (lp *loop) handle(ev event) {
	r, ph := lp.r, lp.ph
	if ev.kind == drained {
		lp.draining = false
		lp.termAll(lp.stopReason)
		return
	}
	in := ev.inst
	st := in.proc.Status()
	if ev.kind == exited && in.backend != nil {
		r.edge.bal.Remove(in.backend) // route nothing more to it, at once
		r.edge.owners.forget(in.backend.Addr)
	}
	switch {
	case ev.kind == done:
		if in.asleep && !lp.stopping {
			return // stays in live: it starts on the next request
		}
		if in.backoff == 0 || lp.stopping || in.retiring {
			delete(lp.live, in)
			return
		}
		// Restart only now that its group is gone, so the new
		// instance finds its port free.
		in.restartAt = time.Now().Add(in.backoff)
		lp.armRestartTimer()
	case lp.stopping:
		r.log.Info(in.Name + " " + st.String())
	case in.retiring && in.replaced != "":
		r.log.Info(fmt.Sprintf("%s: the replaced %s (pid %d) %s", in.replaced, in.Name, in.proc.Pid(), st))
	case in.retiring:
		r.log.Info(fmt.Sprintf("%s: %s (pid %d) %s", in.leaving, in.Name, in.proc.Pid(), st))
	case in.asleep:
		r.log.Info(fmt.Sprintf("idle stop: %s %s; it starts again on the next request", in.Name, st))
	case in.again != "":
		r.log.Info(fmt.Sprintf("%s: %s %s; starting it again", in.again, in.Name, st))
		in.backoff = time.Nanosecond // start again once done
		in.restarts = 0
	case r.pooled(in) && (st.Code == 126 || st.Code == 127) && !in.backend.EverReady():
		// It will not get better by itself: say so and stop.
		lp.code = st.ExitCode()
		r.log.Error(in.Name + " " + st.String() + " before it ever answered; check the web command")
		lp.stopAll(in.Name + " cannot start")
	case r.pooled(in) || ph.restart && !st.Success():
		// The web pool keeps its instances running, whatever their
		// status: the edge needs them.
		if time.Since(in.started) >= restartReset {
			in.restarts = 0
		}
		in.backoff = min(restartBase<<min(in.restarts, 10), restartCap)
		in.restarts++
		r.log.Error(fmt.Sprintf("%s %s; restarting in %v (restart #%d)", in.Name, st, in.backoff, in.restarts))
		if clash := r.plan.portClash(in.Instance); clash != "" && r.pooled(in) && !in.backend.EverReady() {
			r.log.Error(clash)
		}
		r.noteRestart(in, st)
	case ph.restart:
		r.log.Info(in.Name + " " + st.String() + "; finished, not restarting")
	default:
		lp.code = st.ExitCode()
		level := slog.LevelInfo
		if !st.Success() {
			level = slog.LevelError
		}
		r.log.Log(context.Background(), level, in.Name+" "+st.String())
		lp.stopAll(in.Name + " has ended")
	}
}
