package launcher

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/limits"
	"github.com/corral-run/corral/launcher/platform"
	"github.com/corral-run/corral/launcher/sizing"
)

// Machine is what corral found about where it runs, and what it decided
// from that, each decision with its reason (`corral check` prints them).
type Machine struct {
	Platform platform.Platform
	Limits   limits.Limits

	Timeout    time.Duration // the shutdown budget
	TimeoutWhy string
	// WebBudget is the number of workers the web instances may run in
	// all (sizing.WebBudget), and WebConcurrency each of the WebInstances
	// web instances' share of it, set in the web command's environment;
	// corral scale shares it anew. Both are 0 when the app's environment
	// sets WEB_CONCURRENCY (then Why says so).
	WebBudget         int
	WebConcurrency    int
	WebInstances      int
	WebConcurrencyWhy string
	GoMemLimit        int64 // corral's own soft memory limit; 0: none set
	GoMemLimitWhy     string
	// Guard is the memory all the app's processes may use before the
	// guard recycles a web instance; 0: off.
	Guard       int64
	GuardWhy    string
	PerInstance int64 // --max-memory-per-instance
	// CacheSize is the edge's response cache's size, 0 when it is off;
	// CacheObject the largest response it holds.
	CacheSize   int64
	CacheObject int64
	CacheWhy    string
	// OneService, when not empty, says that the other process types run
	// inside this one service, and why that matters on this platform.
	OneService string
}

// newMachine is what corral decides about the machine without reading a
// file: the platform, from the environment, and the shutdown budget.
func newMachine(cfg Config) *Machine {
	m := &Machine{Platform: platform.Detect(cfg.Environ)}
	m.Timeout, m.TimeoutWhy = cfg.Timeout, "--timeout"
	if cfg.Timeout == 0 {
		m.Timeout, m.TimeoutWhy = sizing.Timeout(m.Platform.Grace, m.Platform.Name)
	}
	return m
}

// sizeMachine reads the machine's limits and sizes the app and corral
// for them.
func (p *Plan) sizeMachine(cfg Config) {
	p.Machine.size(cfg, p, limits.Read(p.sysRoot))
}

// size sizes the app and corral for the limits l. It reads cfg's
// overrides and the app's environment (plan.Env, so .env files count),
// and the formation.
func (m *Machine) size(cfg Config, plan *Plan, l limits.Limits) {
	m.Limits = l
	if cfg.MemoryLimit > 0 {
		m.Limits.Memory, m.Limits.MemorySource = cfg.MemoryLimit, "--memory-limit"
	}
	if cfg.CPUs > 0 {
		m.Limits.CPU, m.Limits.CPUSource = cfg.CPUs, "--cpus"
	}

	webs, others := 0, 0
	for _, inst := range plan.Instances {
		if inst.Type == "web" {
			webs++
		} else {
			others++
		}
	}
	if v, ok := environ.Lookup(plan.Env, "WEB_CONCURRENCY"); ok {
		m.WebConcurrencyWhy = "WEB_CONCURRENCY=" + v + " is set by the app's environment: left as it is"
	} else if webs > 0 {
		m.sizeWeb(webs, others)
	}

	if _, ok := environ.Lookup(cfg.Environ, "GOMEMLIMIT"); ok {
		m.GoMemLimitWhy = "GOMEMLIMIT is set in corral's environment: the Go runtime uses it"
	} else {
		m.GoMemLimit, m.GoMemLimitWhy = sizing.GoMemLimit(m.Limits.Memory)
	}

	m.PerInstance = cfg.MaxMemoryPerInstance
	switch {
	case !plan.Edge || webs == 0:
		m.GuardWhy = "off: no web instance behind the edge to recycle"
	case cfg.MemoryGuard <= 0:
		m.GuardWhy = "off (--memory-guard 0)"
	case !m.Limits.Constrained():
		m.GuardWhy = "off: no memory limit on this machine but the host's (--memory-limit sets one)"
	default:
		m.Guard = m.Limits.Memory * int64(cfg.MemoryGuard) / 100
		m.GuardWhy = fmt.Sprintf("recycles the web instance using the most memory when the app's processes use %d%% of %s, past %s without waiting for its requests",
			cfg.MemoryGuard, limits.MiB(m.Limits.Memory), limits.MiB(m.guardHard()))
	}

	m.sizeCache(cfg.Edge, plan.Edge && webs > 0)

	// With corral's own line, leaveToPlatform decided, and Self says so.
	decided := plan.Self != nil && len(plan.Self.Services) > 0
	if others > 0 && !decided && m.Platform.IsPaaS() && !m.Platform.OwnWorkerService {
		var types []string
		for name, n := range plan.Formation {
			if n > 0 && name != "web" && name != ReleaseType {
				types = append(types, name)
			}
		}
		slices.Sort(types)
		m.OneService = fmt.Sprintf("%s run inside this web service, next to web: %s", strings.Join(types, " and "), m.Platform.WorkerNote)
	}
}

// sizeCache sizes the edge's response cache: what --cache-size and
// --cache-max-object say, else from the memory limit; off without an app
// behind the edge.
func (m *Machine) sizeCache(e EdgeConfig, app bool) {
	switch {
	case !app:
		m.CacheWhy = "off: no web instance behind the edge"
		return
	case e.CacheSize < 0:
		m.CacheWhy = "off (--cache-size 0)"
		return
	case e.CacheSize > 0:
		m.CacheSize, m.CacheWhy = e.CacheSize, "--cache-size"
	default:
		m.CacheSize, m.CacheWhy = sizing.CacheSize(m.Limits.Memory)
	}
	m.CacheObject = sizing.CacheObject(m.CacheSize)
	if e.CacheMaxObject > 0 {
		m.CacheObject = min(e.CacheMaxObject, m.CacheSize)
		m.CacheWhy += "; objects up to --cache-max-object"
	}
}

// small formats a size that may be under a MiB.
func small(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return limits.MiB(n)
}

// guardHard is the memory guard's hard line, halfway from the guard to
// the limit: past it, the guard does not wait for the requests of the
// instance it recycles.
func (m *Machine) guardHard() int64 {
	return m.Guard + (m.Limits.Memory-m.Guard)/2
}

// sizeWeb sets the web workers' budget, for the limits less others other
// long-running processes, and each of webs web instances' share of it.
func (m *Machine) sizeWeb(webs, others int) {
	m.WebInstances = webs
	m.WebBudget, m.WebConcurrencyWhy = sizing.WebBudget(sizing.Machine{Memory: m.Limits.Memory, CPU: m.Limits.CPU, Others: others})
	m.WebConcurrency = 0
	if m.WebBudget == 0 {
		return
	}
	m.WebConcurrency, _ = sizing.Share(m.WebBudget, webs)
	m.WebConcurrencyWhy = fmt.Sprintf("a budget of %s, %s", workers(m.WebBudget), m.WebConcurrencyWhy)
	if s := m.shared(); s != "" {
		m.WebConcurrencyWhy += "; " + s
	}
}

// shared says how the budget is shared between the web instances, and
// when they run more workers than it allows; "" for one instance within
// it.
func (m *Machine) shared() string {
	per, over := sizing.Share(m.WebBudget, m.WebInstances)
	switch {
	case over:
		return fmt.Sprintf("%d web instances run %s each, over the budget of %d: scale web down, or give the app more memory or CPU",
			m.WebInstances, workers(per), m.WebBudget)
	case m.WebInstances > 1:
		return fmt.Sprintf("%d shared by %d web instances, %d each", m.WebBudget, m.WebInstances, per)
	}
	return ""
}

// overBudget reports whether the web instances run more workers in all
// than the budget allows (at least 1 each).
func (m *Machine) overBudget() bool {
	_, over := sizing.Share(m.WebBudget, m.WebInstances)
	return m.WebBudget > 0 && over
}

// webShare names WEB_CONCURRENCY and the instances it is for, e.g.
// "WEB_CONCURRENCY=1 for each of 2 web instances".
func (m *Machine) webShare() string {
	if m.WebInstances > 1 {
		return fmt.Sprintf("WEB_CONCURRENCY=%d for each of %d web instances", m.WebConcurrency, m.WebInstances)
	}
	return fmt.Sprintf("WEB_CONCURRENCY=%d", m.WebConcurrency)
}

// workers is "1 worker" or "n workers".
func workers(n int) string {
	if n == 1 {
		return "1 worker"
	}
	return fmt.Sprintf("%d workers", n)
}

// describe prints the machine section of `corral check`.
func (m *Machine) describe(w io.Writer) {
	pf := "none detected (a laptop, a VPS or an unknown host)"
	if m.Platform.IsPaaS() {
		pf = m.Platform.Describe()
	}
	fmt.Fprintf(w, "platform: %s\n", pf)
	fmt.Fprintf(w, "limits:   %s\n", m.Limits)
	for _, warn := range m.Limits.Warnings {
		fmt.Fprintf(w, "          warning: %s\n", warn)
	}
	fmt.Fprintf(w, "shutdown: %v budget: %s\n", m.Timeout, m.TimeoutWhy)
	if m.WebConcurrency > 0 {
		fmt.Fprintf(w, "web:      %s (gunicorn, uvicorn, puma and Node cluster read it): %s\n", m.webShare(), m.WebConcurrencyWhy)
	} else if m.WebConcurrencyWhy != "" {
		fmt.Fprintf(w, "web:      %s\n", m.WebConcurrencyWhy)
	}
	if m.GoMemLimit > 0 {
		fmt.Fprintf(w, "corral:   GOMEMLIMIT=%s: %s\n", limits.MiB(m.GoMemLimit), m.GoMemLimitWhy)
	} else {
		fmt.Fprintf(w, "corral:   no GOMEMLIMIT: %s\n", m.GoMemLimitWhy)
	}
	if m.Guard > 0 {
		fmt.Fprintf(w, "memory:   guard at %s: %s\n", limits.MiB(m.Guard), m.GuardWhy)
	} else {
		fmt.Fprintf(w, "memory:   guard %s\n", m.GuardWhy)
	}
	if m.PerInstance > 0 {
		fmt.Fprintf(w, "          a web instance using more than %s is recycled (--max-memory-per-instance)\n", limits.MiB(m.PerInstance))
	}
	if m.Limits.Constrained() && m.Limits.MemoryCgroup != "" {
		fmt.Fprintf(w, "          the kernel's OOM kills in cgroup v%d %s are logged with the instance that lost a process, and counted (corral ps, /metrics)\n",
			m.Limits.MemoryCgroupVersion, m.Limits.MemoryCgroup)
	}
	if m.CacheSize > 0 {
		fmt.Fprintf(w, "cache:    %s for the responses the app marks cacheable, each up to %s: %s\n", limits.MiB(m.CacheSize), small(m.CacheObject), m.CacheWhy)
	} else {
		fmt.Fprintf(w, "cache:    %s\n", m.CacheWhy)
	}
	if m.OneService != "" {
		fmt.Fprintf(w, "services: %s\n", m.OneService)
	}
}
