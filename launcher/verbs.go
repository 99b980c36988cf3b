package launcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/internal/procstat"
	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/procfile"
)

// listenControl makes the control socket corral ps, scale… talk to: in
// the app directory, else in the runtime directory. Another corral
// answering there is an error (two would fight over the same app); no
// place for a socket only costs the verbs, with a warning.
func (r *runner) listenControl() (net.Listener, error) {
	rt, _ := environ.Lookup(r.cfg.Environ, "XDG_RUNTIME_DIR")
	var errs []error
	// Where the verbs look: the directory they are run in, or given
	// with --dir, which is Root for an app detected below it.
	for _, p := range control.Paths(cmp.Or(r.plan.Root, r.plan.Dir), rt) {
		ln, err := control.Listen(p)
		if err == nil {
			return ln, nil
		}
		if errors.Is(err, control.ErrRunning) {
			return nil, err
		}
		errs = append(errs, err)
	}
	r.log.Warn("no control socket, so corral ps, restart, scale, reload and stop cannot reach this run: " + errors.Join(errs...).Error())
	return nil, nil
}

// othersRunning returns control.ErrRunning when another corral runs this
// app: its control socket answers.
func (r *runner) othersRunning() error {
	rt, _ := environ.Lookup(r.cfg.Environ, "XDG_RUNTIME_DIR")
	for _, p := range control.Paths(cmp.Or(r.plan.Root, r.plan.Dir), rt) {
		if err := control.Running(p); err != nil {
			return err
		}
	}
	return nil
}

// ControlPath is where the CLI verbs find the control socket of the corral
// running the app in dir.
func ControlPath(dir string, env []string) (string, error) {
	dir, err := appDir(dir)
	if err != nil {
		return "", err
	}
	rt, _ := environ.Lookup(env, "XDG_RUNTIME_DIR")
	return control.Find(control.Paths(dir, rt)), nil
}

// call is a control request on its way to the loop that owns the
// processes, and where the answer goes.
type call struct {
	req   control.Request
	reply chan control.Response // buffered: the loop never waits on it
}

// callWait bounds how long a control request waits for the run loop: it
// answers between two events, which never takes long, but between two
// phases (the release phase ending) nobody listens for a moment.
const callWait = 10 * time.Second

// ask passes req to the run loop and returns its answer; the control
// socket's server calls it.
func (r *runner) ask(ctx context.Context, req control.Request) control.Response {
	c := call{req: req, reply: make(chan control.Response, 1)}
	t := time.NewTimer(callWait)
	defer t.Stop()
	select {
	case r.calls <- c:
	case <-t.C:
		return control.Response{Error: "corral is busy (between its release phase and the app's start): try again"}
	case <-ctx.Done():
		return control.Response{Error: "corral is stopping"}
	}
	return <-c.reply
}

// answer carries out a control request in the run loop.
func (lp *loop) answer(req control.Request) control.Response {
	r := lp.r
	if req.Verb == "ps" {
		return control.Response{Processes: r.ps(lp.live)}
	}
	if lp.stopping {
		return control.Response{Error: "corral is stopping"}
	}
	if !lp.ph.final && req.Verb != "stop" {
		return control.Response{Error: "the release phase is running: try again once the app has started"}
	}
	var msg string
	var err error
	switch req.Verb {
	case "stop":
		lp.stopAll("corral stop")
		msg = "stopping"
	case "reload":
		if r.edge == nil {
			return control.Response{Error: "reload replaces the web instances behind the edge, and this run has none"}
		}
		err = lp.replace(lp.beginReload("corral reload"))
		msg = "reloading: web instances are replaced one at a time"
	case "restart":
		msg, err = lp.restart(req.Args)
	case "scale":
		msg, err = lp.scale(req.Args)
	default:
		err = fmt.Errorf("unknown verb %q", req.Verb)
	}
	if err != nil {
		return control.Response{Error: err.Error()}
	}
	return control.Response{Message: msg}
}

// ps describes every process of the run.
func (r *runner) ps(live map[*instance]bool) []control.Process {
	rss, _ := procstat.GroupRSS(filepath.Join(r.plan.sysRoot, "proc"))
	rows := make([]control.Process, 0, len(live))
	for in := range live {
		p := control.Process{Name: in.Name, Type: in.Type, Port: in.Port, Restarts: in.timesRestarted, State: "up"}
		if in.proc != nil && !procDone(in) {
			p.Pid = in.proc.Pid()
			p.RSS = rss[p.Pid]
			p.Uptime = time.Since(in.started).Seconds()
		}
		switch {
		case in.asleep:
			p.State = "asleep"
		case !in.restartAt.IsZero() || (in.backoff > 0 && exitedAlready(in)):
			p.State = "restarting"
		case in.retiring || in.again != "" || exitedAlready(in):
			p.State = "stopping"
		case in.backend != nil && !in.backend.EverReady():
			p.State = "starting"
		}
		if in.backend != nil {
			p.Served, p.InFlight = in.backend.Served(), in.backend.Inflight()
		}
		if in.Type == "web" {
			p.WebConcurrency = in.webConcurrency
		}
		rows = append(rows, p)
	}
	slices.SortFunc(rows, func(a, b control.Process) int { return compareNames(a.Name, b.Name) })
	return rows
}

// webConcurrency is the WEB_CONCURRENCY in env, or 0.
func webConcurrency(env []string) int {
	v, _ := environ.Lookup(env, "WEB_CONCURRENCY")
	n, _ := strconv.Atoi(v)
	return n
}

// compareNames orders "web.2" before "web.10".
func compareNames(a, b string) int {
	ta, na, _ := strings.Cut(a, ".")
	tb, nb, _ := strings.Cut(b, ".")
	if c := strings.Compare(ta, tb); c != 0 {
		return c
	}
	ia, _ := strconv.Atoi(na)
	ib, _ := strconv.Atoi(nb)
	return ia - ib
}

// restart restarts the processes named (web.1) or of the types named
// (worker): web instances through the rolling replacement, so requests
// keep being served; the others with SIGTERM, then a start at once.
func (lp *loop) restart(names []string) (string, error) {
	r := lp.r
	if len(names) == 0 {
		return "", errors.New("name a process (web.1) or a process type (worker)")
	}
	var pooled []*instance
	var others, all []string
	for _, name := range names {
		found := false
		for in := range lp.live {
			if (in.Name != name && in.Type != name) || in.retiring || in.asleep {
				continue
			}
			found = true
			if slices.Contains(all, in.Name) {
				continue
			}
			all = append(all, in.Name)
			switch {
			case r.pooled(in):
				pooled = append(pooled, in)
			case !exitedAlready(in):
				in.again = "restart"
				in.proc.Signal(syscall.SIGTERM)
				others = append(others, in.Name)
			}
		}
		if !found {
			return "", fmt.Errorf("no process or type %q is running (running: %s)", name, strings.Join(r.names(lp.live), ", "))
		}
	}
	if len(pooled) > 0 {
		slices.SortFunc(pooled, func(a, b *instance) int { return compareNames(a.Name, b.Name) })
		if err := lp.replace(&rolling{queue: pooled, why: "restart"}); err != nil {
			return "", err
		}
	}
	slices.SortFunc(all, compareNames)
	return "restarting " + strings.Join(all, ", "), nil
}

// names lists the running processes' names, in order, each once: during
// a rolling replacement the new web.1 runs beside the old until it is
// ready.
func (r *runner) names(live map[*instance]bool) []string {
	var out []string
	for in := range live {
		if !in.retiring {
			out = append(out, in.Name)
		}
	}
	slices.SortFunc(out, compareNames)
	return slices.Compact(out) // a replacement under way has its old one's name
}

// scale changes the formation while it runs (corral scale web=3,worker=0):
// new instances start at once, and the highest-numbered ones leave, web
// instances after their requests are answered.
func (lp *loop) scale(args []string) (string, error) {
	r := lp.r
	if len(args) == 0 {
		return "", errors.New("say what to scale: TYPE=N, e.g. web=3,worker=0")
	}
	pf := r.plan.Procfile
	// release runs once, before the app: it is no type to scale.
	names := slices.DeleteFunc(pf.Names(), func(n string) bool { return n == ReleaseType })
	want, err := procfile.ParseChange(strings.Join(args, ","), names)
	if err != nil {
		return "", err
	}
	var order []string // Procfile order
	for _, name := range names {
		if _, ok := want[name]; ok {
			order = append(order, name)
		}
	}
	if len(order) == 0 {
		return "", errors.New("say what to scale: TYPE=N, e.g. web=3,worker=0")
	}
	running := map[string][]*instance{}
	left := 0
	for in := range lp.live {
		// A replacement under way counts as the instance it replaces,
		// whose name it has.
		if in.retiring || lp.roll != nil && in == lp.roll.new {
			continue
		}
		running[in.Type] = append(running[in.Type], in)
		if _, changed := want[in.Type]; !changed {
			left++
		}
	}
	for _, n := range want {
		left += n
	}
	if left == 0 {
		return "", errors.New("that would leave nothing running: corral stop stops corral")
	}
	// The web instances started here get their share of the workers'
	// budget for the new formation; the running ones are replaced after
	// (reshare).
	share := lp.shareBudget(names, want)
	var msgs []string
	for _, typ := range order {
		ins := running[typ]
		slices.SortFunc(ins, func(a, b *instance) int { return compareNames(a.Name, b.Name) })
		n := want[typ]
		for len(ins) > n {
			in := ins[len(ins)-1]
			ins = ins[:len(ins)-1]
			lp.retire(in, "scale")
			if roll := lp.roll; roll != nil && in == roll.old && roll.new != nil {
				// Its replacement leaves with it; the replacement goes
				// on with the others.
				lp.retire(roll.new, "scale")
				roll.old, roll.new, roll.idle = nil, nil, nil
			}
			msgs = append(msgs, "stopping "+in.Name)
		}
		next := 1
		if len(ins) > 0 {
			_, k, _ := strings.Cut(ins[len(ins)-1].Name, ".")
			next, _ = strconv.Atoi(k)
			next++
		}
		for i := len(ins); i < n; i++ {
			inst, err := r.newInstance(typ, next)
			if err != nil {
				return strings.Join(msgs, "; "), err
			}
			next++
			if err := lp.start(&instance{Instance: inst}); err != nil {
				return strings.Join(msgs, "; "), err
			}
			msgs = append(msgs, "started "+inst.Name)
		}
		r.plan.Formation[typ] = n
	}
	if share != "" {
		msgs = append(msgs, share)
		if s := lp.reshare(); s != "" {
			msgs = append(msgs, s)
		}
	}
	if len(msgs) == 0 {
		return "nothing to change", nil
	}
	return strings.Join(msgs, "; "), nil
}

// shareBudget shares the web workers' budget anew for the formation that
// corral scale asks for (want, over the Procfile's types names), and says
// what each web instance gets; "" when corral sets no WEB_CONCURRENCY or
// the change does not touch it.
func (lp *loop) shareBudget(names []string, want map[string]int) string {
	r, m := lp.r, lp.r.plan.Machine
	if m == nil || m.WebBudget == 0 {
		return ""
	}
	webs, others := 0, 0
	for _, name := range names {
		n, ok := want[name]
		if !ok {
			n = r.plan.Formation[name]
		}
		if name == "web" {
			webs = n
		} else {
			others += n
		}
	}
	was := m.WebConcurrency
	m.sizeWeb(webs, others) // fewer other processes leave more memory for web, more less
	if _, ok := want["web"]; !ok && m.WebConcurrency == was {
		return ""
	}
	if m.overBudget() {
		r.log.Warn("WEB_CONCURRENCY: " + m.shared())
		return m.shared()
	}
	return fmt.Sprintf("%s (a budget of %s)", m.webShare(), workers(m.WebBudget))
}

// reshare replaces, one at a time as a reload does, the running web
// instances whose WEB_CONCURRENCY is not their share of the budget, so
// that their workers fit in it once scaled up (and use it once scaled
// down); their replacements start with the share. A replacement under
// way finishes first (advance calls it again). It says what it began.
func (lp *loop) reshare() string {
	r := lp.r
	m := r.plan.Machine
	lp.reshareDue = false
	if m == nil || m.WebBudget == 0 || lp.stopping {
		return ""
	}
	var queue []*instance
	var keep []string // without the edge, no replacement without a gap
	for in := range lp.live {
		if in.Type != "web" || in.webConcurrency == m.WebConcurrency || in.retiring || in.again != "" ||
			!in.restartAt.IsZero() || in.asleep || exitedAlready(in) {
			continue
		}
		if r.pooled(in) {
			queue = append(queue, in)
		} else {
			keep = append(keep, in.Name)
		}
	}
	if len(keep) > 0 {
		slices.SortFunc(keep, compareNames)
		return fmt.Sprintf("%s keep(s) the WEB_CONCURRENCY it started with until restarted (corral restart web)", strings.Join(keep, ", "))
	}
	if len(queue) == 0 {
		return ""
	}
	if lp.roll != nil {
		lp.reshareDue = true
		return "the running web instances get it once the replacement under way is done"
	}
	slices.SortFunc(queue, func(a, b *instance) int { return compareNames(a.Name, b.Name) })
	names := make([]string, len(queue))
	for i, in := range queue {
		names[i] = in.Name
	}
	msg := fmt.Sprintf("replacing %s one at a time for WEB_CONCURRENCY=%d", strings.Join(names, ", "), m.WebConcurrency)
	r.log.Info("scale: " + msg)
	lp.begin(&rolling{queue: queue, why: "scale"})
	return msg
}

// newInstance makes instance k of typ, with its output prefix.
func (r *runner) newInstance(typ string, k int) (Instance, error) {
	e, _ := r.plan.Procfile.Lookup(typ)
	inst, err := r.plan.newInstance(e, k)
	if err != nil {
		return Instance{}, err
	}
	if r.prefixes[inst.Name] == nil {
		r.prefixes[inst.Name] = r.mux.Prefix(inst.Name)
	}
	return inst, nil
}
