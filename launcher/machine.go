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
	// WebConcurrency is set in the web command's environment, unless the
	// app's environment sets it (then it is 0 and Why says so).
	WebConcurrency    int
	WebConcurrencyWhy string
	GoMemLimit        int64 // corral's own soft memory limit; 0: none set
	GoMemLimitWhy     string
	// Guard is the memory all the app's processes may use before the
	// guard recycles a web instance; 0: off.
	Guard       int64
	GuardWhy    string
	PerInstance int64 // --max-memory-per-instance
	// OneService, when not empty, says that the other process types run
	// inside this one service, and why that matters on this platform.
	OneService string
}

// adapt reads the platform and the limits and sizes the app and corral
// for them. It reads cfg's overrides and the app's environment (plan.Env,
// so .env files count), and the formation.
func adapt(cfg Config, plan *Plan) *Machine {
	m := &Machine{Platform: platform.Detect(cfg.Environ)}
	m.Limits = limits.Read(plan.sysRoot)
	if cfg.MemoryLimit > 0 {
		m.Limits.Memory, m.Limits.MemorySource = cfg.MemoryLimit, "--memory-limit"
	}
	if cfg.CPUs > 0 {
		m.Limits.CPU, m.Limits.CPUSource = cfg.CPUs, "--cpus"
	}

	m.Timeout, m.TimeoutWhy = cfg.Timeout, "--timeout"
	if cfg.Timeout == 0 {
		m.Timeout, m.TimeoutWhy = sizing.Timeout(m.Platform.Grace, m.Platform.Name)
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
		m.WebConcurrency, m.WebConcurrencyWhy = sizing.WebConcurrency(sizing.Machine{
			Memory: m.Limits.Memory, CPU: m.Limits.CPU, WebInstances: webs, Others: others,
		})
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
		m.GuardWhy = fmt.Sprintf("recycles the web instance using the most memory when the app's processes use %d%% of %s", cfg.MemoryGuard, limits.MiB(m.Limits.Memory))
	}

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
	return m
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
		fmt.Fprintf(w, "web:      WEB_CONCURRENCY=%d (gunicorn, uvicorn, puma and Node cluster read it): %s\n", m.WebConcurrency, m.WebConcurrencyWhy)
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
	if m.OneService != "" {
		fmt.Fprintf(w, "services: %s\n", m.OneService)
	}
}
