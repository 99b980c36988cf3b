package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/limits"
	"github.com/corral-run/corral/launcher/metrics"
	"github.com/corral-run/corral/launcher/output"
	"github.com/corral-run/corral/launcher/platform"
	"github.com/corral-run/corral/launcher/process"
	"golang.org/x/sys/unix"
)

// sameStop is how soon a second identical stop signal counts as the same
// request to stop, not as the impatient second one that kills at once:
// GNU timeout, for one, signals its child and then its own process group,
// which holds corral, microseconds apart. Nobody presses Ctrl-C twice in
// 50 ms.
const sameStop = 50 * time.Millisecond

// Restart backoff: the first restart of a crashed instance waits
// restartBase, each further one twice as long, up to restartCap. An instance
// that ran for restartReset before crashing starts again from restartBase.
const (
	restartBase  = 500 * time.Millisecond
	restartCap   = 30 * time.Second
	restartReset = time.Minute
)

// Run runs the app: it loads the plan, runs the release phase, then the
// formation, until a process exits (or, with Restart, until every process
// has finished), a signal arrives or ctx is done. It returns the exit status
// corral should exit with. An error means nothing was started.
func Run(ctx context.Context, cfg Config) (int, error) {
	plan, err := load(cfg, false)
	if err != nil {
		return 1, err
	}
	if err := checkPorts(plan.Instances); err != nil {
		return 1, err
	}
	// The shell checks the commands while the edge binds the port; the
	// reaper starts after it, as it would reap those shells.
	var syntaxErrs []error
	var checking sync.WaitGroup
	checking.Go(func() { syntaxErrs = checkSyntax(plan.Shell, plan.Procfile) })
	defer checking.Wait()
	insts := slices.Clone(plan.Build)
	if plan.Release != nil {
		insts = append(insts, *plan.Release)
	}
	r := newRunner(cfg, plan, append(insts, plan.Instances...))
	cfg, mux, pf := r.cfg, r.mux, plan.Machine.Platform
	ctl, err := r.listenControl()
	if err != nil {
		return 1, err
	}
	if ctl != nil {
		ctlCtx, stopCtl := context.WithCancel(context.Background())
		var serving sync.WaitGroup
		serving.Go(func() {
			control.Serve(ctlCtx, ctl, func(req control.Request) control.Response { return r.ask(ctlCtx, req) })
		})
		defer func() { stopCtl(); serving.Wait() }()
	}

	r.metrics = r.newMetrics() // nil without --admin
	if plan.Edge {
		fd, err := openFrontDoor(ctx, cfg, plan, pf, mux, r.log, r.observer())
		if err != nil {
			return 1, err
		}
		r.edge = fd
		defer fd.close()
	}
	checking.Wait()
	if len(syntaxErrs) > 0 {
		return 1, errors.Join(syntaxErrs...)
	}
	adm, err := r.openAdmin()
	if err != nil {
		return 1, err
	}
	defer adm.close()
	if r.edge != nil {
		r.edge.logListening(r.log)
	}
	adm.logListening(r.log)
	r.logMachine() // once the port is ours: a busy port prints only the error

	defer r.reap()()

	for _, step := range plan.Build {
		r.log.Info(fmt.Sprintf("build: %s runs %q, as the app has no Procfile and what it makes is missing (corral build runs every step)", step.Name, step.Command))
		code, interrupted := r.supervise(ctx, phase{insts: []Instance{step}})
		if interrupted {
			return code, nil
		}
		if code != 0 {
			r.log.Error("build step failed; not starting the app", "step", step.Name, "code", code)
			return code, nil
		}
	}
	if plan.Release != nil {
		r.log.Info("release phase: running " + plan.Release.Name + " before anything else")
		code, interrupted := r.supervise(ctx, phase{insts: []Instance{*plan.Release}})
		if interrupted {
			return code, nil
		}
		if code != 0 {
			r.log.Error("release phase failed; not starting the app", "code", code)
			return code, nil
		}
	}
	if len(plan.Instances) == 0 && !plan.staticSite() {
		return 0, nil
	}
	if r.edge != nil {
		// After the release phase: that is where collectstatic fills the
		// directory.
		plan.detectBeside(cfg)
		wait, err := r.edge.serveStatic(ctx, plan, r.reaper.RunCmd, r.log)
		defer wait()
		if err != nil {
			r.log.Error(err.Error())
			return 1, nil
		}
	}
	if plan.staticSite() {
		return r.serveAlone(ctx), nil
	}
	code, _ := r.supervise(ctx, phase{insts: plan.Instances, restart: cfg.Restart, final: true})
	return code, nil
}

// newRunner sets up the run of plan's insts: the machine's limits, and
// corral's output with a prefix per instance.
func newRunner(cfg Config, plan *Plan, insts []Instance) *runner {
	width := len("corral")
	for _, inst := range insts {
		width = max(width, len(inst.Name))
	}
	m := plan.Machine
	cfg.Timeout = m.Timeout
	if m.GoMemLimit > 0 {
		debug.SetMemoryLimit(m.GoMemLimit)
	}
	mux := output.New(cfg.Stdout, width, outputOptions(cfg, m.Platform))
	r := &runner{
		cfg:      cfg,
		plan:     plan,
		mux:      mux,
		log:      mux.Logger("corral", false),
		prefixes: make(map[string]*output.Prefix),
		calls:    make(chan call),
	}
	for _, inst := range insts {
		r.prefixes[inst.Name] = mux.Prefix(inst.Name)
	}
	return r
}

// reap adopts what the app leaves outside its process groups and reaps it
// while the app runs; the function it returns stops what is left and waits.
func (r *runner) reap() (stop func()) {
	r.reaper = process.NewReaper()
	reapCtx, stopReaping := context.WithCancel(context.Background())
	var reaping sync.WaitGroup
	reaping.Go(func() { r.reaper.Run(reapCtx) })
	return func() {
		// Orphans got SIGTERM with the rest of the app; they share its
		// deadline, so that a stop fits in the platform's grace period.
		for _, o := range r.reaper.StopOrphans(max(time.Until(r.stopBy), 0)) {
			r.log.Info(fmt.Sprintf("stopped pid %d, left running outside its process group by the app: %s", o.Pid, o.Command))
		}
		stopReaping()
		reaping.Wait()
	}
}

// serveAlone runs the edge with no process behind it (a static site) until
// a stop signal, then lets the requests in flight finish.
func (r *runner) serveAlone(ctx context.Context) int {
	code := 0
	for stopping := false; !stopping; {
		select {
		case sig := <-r.cfg.Signals:
			if sig == syscall.SIGHUP {
				r.log.Info("received SIGHUP: nothing to reload, the site's files are served as they are on disk")
				continue
			}
			r.log.Info("received " + signalName(sig) + ": the edge stops taking requests and finishes those in flight")
		case <-ctx.Done():
			r.log.Info("shutting down: the edge stops taking requests and finishes those in flight")
		case <-r.mux.Broken():
			code = 1
			r.log.Error("cannot write output: " + r.mux.Err().Error())
		}
		stopping = true
	}
	dctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout)
	defer cancel()
	r.edge.drain(dctx)
	return code
}

// outputOptions decides how lines look. Platforms stamp each line with the
// time themselves, and so do journald and docker when stdout is not a
// terminal, so corral adds its own only on a terminal off a platform.
func outputOptions(cfg Config, pf platform.Platform) output.Options {
	_, noColor := environ.Lookup(cfg.Environ, "NO_COLOR")
	opts := output.Options{
		Format:     cfg.LogFormat,
		Timestamps: cfg.Terminal && !pf.IsPaaS(),
		Color:      cfg.Terminal && !noColor,
		// A web app's access log under load: a line per request, each
		// otherwise a read and a write of corral's, on the CPU the app
		// needs. 2 ms is below what anyone watching the log can see.
		Gather: 2 * time.Millisecond,
	}
	switch cfg.Timestamps {
	case On:
		opts.Timestamps = true
	case Off:
		opts.Timestamps = false
	}
	return opts
}

// checkPorts makes sure every web instance can bind its port before anything
// starts, so that a port held by another program is a clear error and not a
// crash loop of the app.
func checkPorts(insts []Instance) error {
	var errs []error
	for _, inst := range insts {
		if inst.Type != "web" {
			continue
		}
		if inst.Port == 0 {
			continue // chosen free at start
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(inst.Port))
		if err != nil {
			errs = append(errs, fmt.Errorf("port %d for %s is not free (%v): stop what holds it or choose another base port with --port or $PORT", inst.Port, inst.Name, unwrapAddrInUse(err)))
			continue
		}
		ln.Close()
	}
	return errors.Join(errs...)
}

// unwrapAddrInUse shortens the error of a busy port to what matters.
func unwrapAddrInUse(err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return errors.New("address already in use")
	}
	return err
}

// runner holds what every phase of a run shares.
type runner struct {
	cfg      Config
	plan     *Plan
	mux      *output.Mux
	reaper   *process.Reaper // nil where unsupported
	edge     *frontDoor      // nil without an edge
	stopBy   time.Time       // when what was last told to stop gets SIGKILL
	log      *slog.Logger
	prefixes map[string]*output.Prefix // by instance name; one colour each
	calls    chan call                 // control requests (corral ps, scale…), for the run loop
	metrics  *metrics.Metrics          // with --admin; nil without
}

// instance is the supervision state of one instance.
type instance struct {
	Instance
	proc      *process.Proc
	started   time.Time
	backend   *edge.Backend // its place in the edge's rotation, for a pooled web instance
	restarts  int           // consecutive crashes, for the backoff
	backoff   time.Duration // set when it crashed and is to be restarted once done
	restartAt time.Time     // when a crashed, done instance is due to start again; zero if not
	retiring  bool          // replaced by a reload, or scaled away: its exit is expected and final
	leaving   string        // why it is retiring, when not replaced by a reload ("scale")
	// again, when not empty, says it was stopped on purpose, to start
	// again at once, and why ("reload", "memory guard").
	again string
	// asleep: stopped by --idle-stop; it starts again on the next request.
	asleep    bool
	maxServed int64 // with --max-requests: replace it after this many requests
	// strayChecked: its processes' listening ports have been looked at
	// once, for a command that ignores $PORT.
	strayChecked bool
}

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
	events := make(chan event)
	var watchers sync.WaitGroup
	defer watchers.Wait()

	live := make(map[*instance]bool) // started and not yet done, or waiting to restart
	// A reload (SIGHUP) replaces the web instances one at a time: start the
	// new one, wait until it is ready, drain the old one, stop it.
	var roll *rolling
	rollTicker := time.NewTicker(rollTick)
	rollTicker.Stop()
	defer rollTicker.Stop()

	stopping := false
	var killTimer <-chan time.Time
	var restartTimer *time.Timer
	defer func() {
		if restartTimer != nil {
			restartTimer.Stop()
		}
	}()

	start := func(in *instance) error {
		in.restartAt, in.backoff, in.again, in.asleep, in.strayChecked = time.Time{}, 0, "", false, false
		if r.pooled(in) {
			port, err := freeLoopbackPort()
			if err != nil {
				return fmt.Errorf("finding a port for %s: %w", in.Name, err)
			}
			in.Port = port
		}
		p, err := process.Start(process.Spec{
			Command: in.Command,
			Shell:   r.plan.Shell,
			Dir:     r.plan.Dir,
			Env:     r.plan.InstanceEnv(in.Instance),
			Grace:   r.cfg.Timeout,
			Out:     r.prefixes[in.Name],
			Reaper:  r.reaper,
		})
		if err != nil {
			return fmt.Errorf("starting %s: %w", in.Name, err)
		}
		in.proc, in.started = p, time.Now()
		if n := r.cfg.Edge.MaxRequests; n > 0 && r.pooled(in) {
			// Jitter, so that instances started together are not all
			// replaced at the same moment.
			in.maxServed = int64(n + rand.IntN(r.cfg.Edge.MaxRequestsJitter+1))
		}
		live[in] = true
		if r.pooled(in) {
			addr := "127.0.0.1:" + strconv.Itoa(in.Port)
			r.edge.owners.expect(in.Name, addr, p.Pid(), in.Port)
			in.backend = r.edge.bal.Add(in.Name, addr)
		}
		r.log.Info(fmt.Sprintf("%s started (pid %d, PORT=%d): %s", in.Name, p.Pid(), in.Port, in.Command))
		watchers.Go(func() {
			<-p.Exited()
			events <- event{exited, in}
			<-p.Done()
			events <- event{done, in}
		})
		return nil
	}

	// termAll sends SIGTERM to every running process (and the orphans the
	// app left, when stopping the app itself).
	termAll := func(reason string) {
		var names []string
		for in := range live {
			if !in.restartAt.IsZero() || in.asleep && procDone(in) {
				delete(live, in) // was waiting to restart, or asleep; nothing runs
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
			r.log.Info(fmt.Sprintf("%s: sending SIGTERM to %s", reason, strings.Join(names, ", ")))
		}
		if ph.final {
			for _, o := range r.reaper.Signal(syscall.SIGTERM) {
				r.log.Info(fmt.Sprintf("sending SIGTERM to pid %d, left running outside its process group by the app: %s", o.Pid, o.Command))
			}
		}
	}

	// stopAll stops the phase. With an edge in front, it first stops
	// taking requests and lets those in flight be answered (for at most
	// half the timeout) while the instances still run; then every process
	// gets SIGTERM, and SIGKILL once the whole timeout has passed.
	draining := false
	stopReason := ""
	stopAll := func(reason string) {
		if stopping {
			return
		}
		stopping = true
		roll = nil
		rollTicker.Stop()
		r.stopBy = time.Now().Add(r.cfg.Timeout)
		killTimer = time.After(r.cfg.Timeout)
		if ph.final && r.edge != nil {
			r.log.Info(reason + ": the edge stops taking requests and finishes those in flight")
			draining, stopReason = true, reason
			watchers.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), r.cfg.Timeout/2)
				defer cancel()
				r.edge.drain(ctx)
				events <- event{kind: drained}
			})
			return
		}
		termAll(reason)
	}

	killAll := func(reason string) {
		for in := range live {
			if !in.restartAt.IsZero() {
				continue
			}
			select {
			case <-in.proc.Done():
				continue
			default:
			}
			r.log.Warn(fmt.Sprintf("sending SIGKILL to %s (%s)", in.Name, reason))
			in.proc.Kill()
		}
	}

	armRestartTimer := func() {
		var next time.Time
		for in := range live {
			if !in.restartAt.IsZero() && (next.IsZero() || in.restartAt.Before(next)) {
				next = in.restartAt
			}
		}
		if restartTimer != nil {
			restartTimer.Stop()
			restartTimer = nil
		}
		if !next.IsZero() {
			restartTimer = time.NewTimer(time.Until(next))
		}
	}

	for _, inst := range ph.insts {
		if err := start(&instance{Instance: inst}); err != nil {
			r.log.Error(err.Error())
			code = 1
			stopAll("could not start every process")
			break
		}
	}

	advance := func() {
		for roll != nil {
			msg, err := roll.advance(r, live, start)
			if msg != "" {
				r.log.Info(roll.label() + ": " + msg)
			}
			if err != nil {
				r.log.Error(roll.label() + ": " + err.Error())
				roll = nil
			}
			if roll != nil && roll.done() {
				if !roll.again {
					switch {
					case roll.why == "":
						r.log.Info("reload: every web instance replaced")
					case !roll.stopFirst:
						r.log.Info(roll.why + ": done")
					}
					roll = nil
					break
				}
				roll = r.beginReload(live, "received SIGHUP")
				continue
			}
			break
		}
		if roll == nil {
			rollTicker.Stop()
		}
	}

	strayTicker := time.NewTicker(time.Hour)
	strayTicker.Stop()
	if ph.final && r.edge != nil {
		strayTicker.Reset(time.Second)
	}
	defer strayTicker.Stop()

	recycleTicker := time.NewTicker(time.Hour)
	recycleTicker.Stop()
	if r.cfg.Edge.MaxRequests > 0 && ph.final && r.edge != nil {
		recycleTicker.Reset(100 * time.Millisecond)
	}
	defer recycleTicker.Stop()

	// --idle-stop: the web instances stop when idle, and the next request
	// starts them (the edge's Wanted).
	idleTicker := time.NewTicker(time.Hour)
	idleTicker.Stop()
	defer idleTicker.Stop()
	var idle *idleWatch
	var wanted <-chan struct{}
	if r.cfg.IdleStop > 0 && ph.final && r.edge != nil {
		idle = &idleWatch{after: r.cfg.IdleStop, since: time.Now()}
		idleTicker.Reset(idle.every())
		wanted = r.edge.bal.Wanted()
	}

	// The memory guard recycles the web instance using the most memory
	// before the kernel's OOM killer picks a victim.
	guardTicker := time.NewTicker(time.Hour)
	guardTicker.Stop()
	defer guardTicker.Stop()
	guard := r.newGuard(ph)
	if guard != nil {
		guardTicker.Reset(guardEvery)
	}

	ops := &loopOps{
		live: live, final: ph.final, start: start, stopAll: stopAll,
		stopping: func() bool { return stopping },
		replace: func(rl *rolling) error {
			if roll != nil {
				return errors.New("a reload or restart is under way: try again when it is done")
			}
			roll = rl
			rollTicker.Reset(rollTick)
			advance()
			return nil
		},
		retire: func(in *instance, why string) {
			if !in.restartAt.IsZero() {
				delete(live, in) // crashed, waiting to restart: it just does not
				armRestartTimer()
				return
			}
			in.retiring, in.leaving = true, why
			if in.backend == nil || exitedAlready(in) {
				in.proc.Signal(syscall.SIGTERM)
				return
			}
			idle := r.edge.bal.Drain(in.backend)
			p, grace := in.proc, r.cfg.Timeout
			watchers.Go(func() {
				t := time.NewTimer(grace)
				defer t.Stop()
				select {
				case <-idle:
				case <-t.C:
				case <-p.Exited():
				}
				p.Signal(syscall.SIGTERM)
			})
		},
	}

	signals := r.cfg.Signals
	var stopSig os.Signal // the signal that began the stop, and when
	var stopSigAt time.Time
	ctxDone := ctx.Done()
	broken := r.mux.Broken()
	for len(live) > 0 || draining {
		var restartC <-chan time.Time
		if restartTimer != nil {
			restartC = restartTimer.C
		}
		select {
		case sig := <-signals:
			if sig == syscall.SIGHUP && ph.final && r.edge != nil && !stopping {
				if roll != nil {
					roll.again = true
					r.log.Info("received SIGHUP: a reload is under way; another follows it")
					continue
				}
				roll = r.beginReload(live, "received SIGHUP")
				rollTicker.Reset(rollTick)
				advance()
				continue
			}
			interrupted = true
			if stopping && sig == stopSig && time.Since(stopSigAt) < sameStop {
				r.log.Info(fmt.Sprintf("received %s again at once (its sender signalled corral's process group too, as GNU timeout does): still stopping gracefully", signalName(sig)))
				continue
			}
			if stopping {
				r.log.Warn(fmt.Sprintf("received %s while stopping: killing everything now", signalName(sig)))
				killAll("second signal")
				continue
			}
			stopSig, stopSigAt = sig, time.Now()
			stopAll("received " + signalName(sig))
		case <-ctxDone:
			ctxDone = nil
			interrupted = true
			stopAll("shutting down")
		case <-broken:
			// Nobody can see the app's output any more (the reader of a
			// pipe went away): stop cleanly rather than run blind.
			broken = nil
			if code == 0 {
				code = 1
			}
			stopAll("cannot write output: " + r.mux.Err().Error())
		case c := <-r.calls:
			c.reply <- r.answer(c.req, ops)
		case <-rollTicker.C:
			advance()
		case <-strayTicker.C:
			for in := range live {
				if r.pooled(in) && !exitedAlready(in) {
					r.followStrayPort(in)
				}
			}
		case <-recycleTicker.C:
			// --max-requests: replace an instance that has served its share,
			// the way a reload does, one at a time.
			if roll != nil || stopping {
				continue
			}
			for in := range live {
				if in.maxServed > 0 && !in.retiring && in.backend != nil && in.backend.Served() >= in.maxServed && !exitedAlready(in) {
					r.log.Info(fmt.Sprintf("recycle: %s has served %d requests (--max-requests %d): replacing it", in.Name, in.backend.Served(), r.cfg.Edge.MaxRequests))
					r.noteRecycle(in, metrics.ReasonMaxRequests, fmt.Sprintf("served %d requests (--max-requests %d)", in.backend.Served(), r.cfg.Edge.MaxRequests))
					roll = &rolling{queue: []*instance{in}, why: "recycle"}
					rollTicker.Reset(rollTick)
					advance()
					break
				}
			}
		case <-idleTicker.C:
			if !stopping && roll == nil {
				r.sleepIfIdle(idle, live)
			}
		case <-wanted:
			if stopping {
				continue
			}
			names, err := r.wake(live, start)
			if len(names) > 0 {
				idle.reset(time.Now())
				r.log.Info("idle stop: a request came in; starting " + strings.Join(names, ", "))
			}
			if err != nil {
				r.log.Error(err.Error())
				code = 1
				stopAll("could not start the web instances again")
			}
		case <-guardTicker.C:
			if stopping || roll != nil {
				continue
			}
			if victim, why := guard.check(live, r.pooled); victim != nil {
				r.log.Warn("memory guard: " + why)
				r.noteRecycle(victim, metrics.ReasonMemoryGuard, why)
				roll = &rolling{queue: []*instance{victim}, why: "memory guard", stopFirst: true}
				rollTicker.Reset(rollTick)
				advance()
			} else if why != "" {
				r.log.Warn("memory guard: " + why)
			}
		case <-killTimer:
			killTimer = nil
			killAll(fmt.Sprintf("still running %v after SIGTERM", r.cfg.Timeout))
		case <-restartC:
			restartTimer = nil
			now := time.Now()
			for in := range live {
				if !in.restartAt.IsZero() && !in.restartAt.After(now) {
					if err := start(in); err != nil {
						r.log.Error(err.Error())
						delete(live, in)
						code = 1
						stopAll("could not restart " + in.Name)
					}
				}
			}
			armRestartTimer()
		case ev := <-events:
			if ev.kind == drained {
				draining = false
				termAll(stopReason)
				continue
			}
			in := ev.inst
			st := in.proc.Status()
			if ev.kind == exited && in.backend != nil {
				r.edge.bal.Remove(in.backend) // route nothing more to it, at once
				r.edge.owners.forget(in.backend.Addr)
			}
			switch {
			case ev.kind == done:
				if in.asleep && !stopping {
					continue // stays in live: it starts on the next request
				}
				if in.backoff == 0 || stopping || in.retiring {
					delete(live, in)
					continue
				}
				// Restart only now that its group is gone, so the new
				// instance finds its port free.
				in.restartAt = time.Now().Add(in.backoff)
				armRestartTimer()
			case stopping:
				r.log.Info(in.Name + " " + st.String())
			case in.retiring && in.leaving != "":
				r.log.Info(fmt.Sprintf("%s: %s (pid %d) %s", in.leaving, in.Name, in.proc.Pid(), st))
			case in.retiring:
				r.log.Info(fmt.Sprintf("reload: the replaced %s (pid %d) %s", in.Name, in.proc.Pid(), st))
			case in.asleep:
				r.log.Info(fmt.Sprintf("idle stop: %s %s; it starts again on the next request", in.Name, st))
			case in.again != "":
				r.log.Info(fmt.Sprintf("%s: %s %s; starting it again", in.again, in.Name, st))
				in.backoff = time.Nanosecond // start again once done
				in.restarts = 0
			case r.pooled(in) && (st.Code == 126 || st.Code == 127) && !in.backend.EverReady():
				// It will not get better by itself: say so and stop.
				code = st.ExitCode()
				r.log.Error(in.Name + " " + st.String() + " before it ever answered; check the web command")
				stopAll(in.Name + " cannot start")
			case r.pooled(in) || ph.restart && !st.Success():
				// The web pool keeps its instances running, whatever their
				// status: the edge needs them.
				if time.Since(in.started) >= restartReset {
					in.restarts = 0
				}
				in.backoff = min(restartBase<<min(in.restarts, 10), restartCap)
				in.restarts++
				r.log.Error(fmt.Sprintf("%s %s; restarting in %v (restart #%d)", in.Name, st, in.backoff, in.restarts))
				r.noteRestart(in, st)
			case ph.restart:
				r.log.Info(in.Name + " " + st.String() + "; finished, not restarting")
			default:
				code = st.ExitCode()
				level := slog.LevelInfo
				if !st.Success() {
					level = slog.LevelError
				}
				r.log.Log(context.Background(), level, in.Name+" "+st.String())
				stopAll(in.Name + " has ended")
			}
		}
	}
	return code, interrupted
}

// pooled reports whether in is a web instance behind the edge: it gets an
// internal port, joins the balancer, and is always restarted.
func (r *runner) pooled(in *instance) bool {
	return r.edge != nil && in.Type == "web"
}

// signalName names sig the way people write it: SIGTERM, not "terminated".
func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return name
		}
	}
	return sig.String()
}

// logMachine says at start what corral found and decided about the
// machine, in a few lines (`corral check` gives the reasons).
func (r *runner) logMachine() {
	m := r.plan.Machine
	if m.Platform.IsPaaS() {
		r.log.Info("platform detected: " + m.Platform.Describe())
	}
	for _, w := range m.Limits.Warnings {
		r.log.Warn("limits: " + w)
	}
	line := "limits: " + m.Limits.String()
	if m.WebConcurrency > 0 {
		line += fmt.Sprintf("; WEB_CONCURRENCY=%d for web", m.WebConcurrency)
	}
	if m.Guard > 0 {
		line += "; memory guard at " + limits.MiB(m.Guard)
	}
	line += fmt.Sprintf("; shutdown budget %v", m.Timeout)
	r.log.Info(line)
	if m.OneService != "" {
		r.log.Info(m.OneService)
	}
}
