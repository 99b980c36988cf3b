package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
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
	if err := nested(cfg.Dir, cfg.Environ); err != nil {
		return 126, err
	}
	// The machine's limits are read once the port is bound.
	plan, err := load(cfg, false, false)
	if err != nil {
		return 1, err
	}
	if plan.Detected { // a Procfile's commands are the app's own
		if err := plan.missing(); err != nil {
			return 1, err
		}
	}
	if err := checkPorts(plan.Instances); err != nil {
		return 1, err
	}
	insts := slices.Clone(plan.Build)
	if plan.Release != nil {
		insts = append(insts, *plan.Release)
	}
	r := newRunner(cfg, plan, append(insts, plan.Instances...))
	cfg, mux, pf := r.cfg, r.mux, plan.Machine.Platform
	var bound *boundPort // the edge's port, until the edge serves it
	if plan.Edge {
		if bound, err = bindFrontDoor(cfg, plan); err != nil {
			// The port is most often busy because this app's corral
			// runs already: say that rather than "address in use".
			if other := r.othersRunning(); other != nil {
				return 1, other
			}
			return 1, err
		}
		defer func() {
			if r.edge == nil {
				bound.close()
			}
		}()
	}
	// What follows waits for the bind, which a platform's port scan
	// waits for, and ends the run before anything starts all the same:
	// taking the stop signals; the control socket, whose refusal says
	// that another corral runs the app (a dial and a listen); the
	// machine's limits (the cgroup's files and /proc/meminfo), which the
	// edge's response cache and the metrics are sized from.
	if cfg.Bound != nil {
		if err := cfg.Bound(); err != nil {
			return 1, err
		}
	}
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
	plan.sizeMachine(cfg)
	setMemoryLimit(plan.Machine)
	r.metrics = r.newMetrics() // nil without --admin
	if bound != nil {
		fd, err := openFrontDoor(ctx, cfg, plan, bound, pf, mux, r.log, r.observer())
		if err != nil {
			return 1, err
		}
		r.edge = fd
		defer fd.close()
	}
	// The shell checks the commands once the port is bound, while the
	// admin listener opens: a shell per Procfile line, forked before the
	// bind, would take CPU from it on a small machine. The reaper starts
	// after the check, as it would reap those shells.
	var syntaxErrs []error
	var checking sync.WaitGroup
	checking.Go(func() { syntaxErrs = checkSyntax(plan.Shell, plan.Procfile) })
	adm, err := r.openAdmin()
	checking.Wait()
	if len(syntaxErrs) > 0 { // the Procfile's errors first, as before the admin port's
		if err == nil {
			adm.close()
		}
		return 1, errors.Join(syntaxErrs...)
	}
	if err != nil {
		return 1, err
	}
	defer adm.close()
	if r.edge != nil {
		r.edge.logListening(r.log)
	}
	adm.logListening(r.log)
	r.logSelf()
	r.logMachine() // once the port is ours: a busy port prints only the error
	// Detection beside a Procfile waited for the port too; the production
	// defaults depend on it, and the release phase gets them.
	plan.detectBeside(cfg)
	for _, line := range plan.envLog() {
		r.log.Info(line)
	}
	for _, line := range plan.unbuilt() {
		r.log.Warn(line)
	}

	defer r.reap()()

	for _, step := range plan.Build {
		r.log.Info(fmt.Sprintf("build: %s runs %q, as corral detects the app's processes and what it makes is missing (corral build runs every step)", step.Name, step.Command))
		code, interrupted := r.supervise(ctx, phase{insts: []Instance{step}})
		if interrupted {
			return code, nil
		}
		if code != 0 {
			// Last, under the step's own output (a traceback, often: the
			// app's dependencies are not installed), the way out.
			r.log.Error(fmt.Sprintf("build: %s (%s) failed with status %d, so the app is not started. "+
				"corral start runs a build step only when what it makes is missing, and installs no dependencies: "+
				"run corral build first (on a platform, as its build command), which runs every step in order",
				step.Name, step.Command, code))
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
	setMemoryLimit(m)
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

// setMemoryLimit sets corral's own soft memory limit, when m is sized
// and decided one.
func setMemoryLimit(m *Machine) {
	if m.GoMemLimit > 0 {
		debug.SetMemoryLimit(m.GoMemLimit)
	}
}

// reap adopts what the app leaves outside its process groups and reaps it
// while the app runs; the function it returns stops what is left and waits.
func (r *runner) reap() (stop func()) {
	var err error
	if r.reaper, err = process.NewReaper(); err != nil {
		r.log.Warn(err.Error())
	}
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
	retiring  bool          // replaced, scaled away, or given up: its exit is expected and final
	replaced  string        // the replacement that retired it: its label ("reload", "restart"…)
	leaving   string        // why else it is retiring ("scale"; a replacement that gave it up)
	// again, when not empty, says it was stopped on purpose, to start
	// again at once, and why ("reload", "memory guard").
	again string
	// asleep: stopped by --idle-stop; it starts again on the next request.
	asleep    bool
	maxServed int64 // with --max-requests: replace it after this many requests
	// strayChecked: its processes' listening ports have been looked at
	// once, for a command that ignores $PORT.
	strayChecked bool
	// bindChecked: where it listens has been looked at once it was
	// ready, for a port open beyond loopback.
	bindChecked bool
	// timesRestarted counts its crashes, exits, recycles and the
	// processes the kernel's OOM killer took from it so far, carried to
	// its replacement: corral ps's RESTARTS.
	timesRestarted int
	// webConcurrency is the WEB_CONCURRENCY it was started with; 0 for
	// none (or not a number).
	webConcurrency int
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
		line += fmt.Sprintf("; %s (a budget of %s)", m.webShare(), workers(m.WebBudget))
	}
	if m.Guard > 0 {
		line += "; memory guard at " + limits.MiB(m.Guard)
	}
	line += fmt.Sprintf("; shutdown budget %v", m.Timeout)
	r.log.Info(line)
	if m.overBudget() {
		r.log.Warn("WEB_CONCURRENCY: " + m.shared())
	}
	if m.OneService != "" {
		r.log.Info(m.OneService)
	}
}
