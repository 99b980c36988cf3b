package launcher

// The admin listener (--admin): Prometheus metrics and a status page, on
// an address of its own, never on the public port, and on loopback
// unless told otherwise: what it shows (processes, memory, request
// counts) is for the operator, not for the app's visitors.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
	"github.com/corral-run/corral/launcher/metrics"
	"github.com/corral-run/corral/launcher/process"
)

// ParseAdmin turns --admin's value into the address to listen on: a
// bare port ("9100", ":9100") is on loopback, 127.0.0.1; an address with
// an IP ("127.0.0.1:9100", "[::1]:9100", "0.0.0.0:9100") or localhost is
// taken as given. "" is off.
func ParseAdmin(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	host, port := "127.0.0.1", strings.TrimPrefix(v, ":")
	if strings.Contains(port, ":") {
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return "", errors.New("want a port (9100) or an address with one (127.0.0.1:9100, [::1]:9100, 0.0.0.0:9100)")
		}
		if h != "localhost" && net.ParseIP(h) == nil {
			return "", fmt.Errorf("%q is not an IP address: give one (127.0.0.1, ::1, 0.0.0.0 for every interface) or localhost", h)
		}
		host, port = h, p
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port != strconv.Itoa(n) {
		if port == strings.TrimPrefix(v, ":") {
			return "", errors.New("want a port from 1 to 65535 (9100) or an address with one (127.0.0.1:9100, [::1]:9100, 0.0.0.0:9100)")
		}
		return "", fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return net.JoinHostPort(host, port), nil
}

// setAdmin keeps cfg's admin address in the plan, refusing a port the
// run uses otherwise: the public port(s), or a long-running instance's
// $PORT. (The release phase and build steps run to their end; the $PORT
// they get is not served.)
func (p *Plan) setAdmin(cfg Config) error {
	if cfg.Admin == "" {
		return nil
	}
	_, ps, err := net.SplitHostPort(cfg.Admin)
	if err != nil {
		return fmt.Errorf("--admin %q: %w", cfg.Admin, err)
	}
	port, _ := strconv.Atoi(ps)
	taken := map[int]string{}
	if h := cfg.Edge.HTTPS; h.Enabled() {
		taken[h.HTTPSPort], taken[h.HTTPPort] = "--https-port", "--http-port"
	} else {
		taken[p.PublicPort] = "the public port (--port or $PORT)"
	}
	for _, inst := range p.Instances {
		if _, ok := taken[inst.Port]; !ok && inst.Port > 0 {
			taken[inst.Port] = inst.Name + "'s $PORT"
		}
	}
	if what, ok := taken[port]; ok {
		return fmt.Errorf("--admin %q: port %d is %s; the admin listener needs a port of its own", cfg.Admin, port, what)
	}
	p.Admin = cfg.Admin
	return nil
}

// describeAdmin is corral check's line about the admin listener.
func (p *Plan) describeAdmin(w io.Writer) {
	if p.Admin == "" {
		fmt.Fprintf(w, "admin:    off (--admin PORT serves /metrics and a status page on loopback)\n")
		return
	}
	fmt.Fprintf(w, "admin:    http://%s/ (status page) and /metrics (Prometheus)%s\n", p.Admin, exposure(p.Admin))
}

// exposure warns when the admin listener is reachable from elsewhere than
// this machine.
func exposure(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return ""
	}
	return "; not on loopback: whoever reaches this address sees the processes and the request counts"
}

// newMetrics makes the metrics of the run when --admin asks for them,
// else nil: without the admin listener nothing is counted, and the edge
// does not even call out.
func (r *runner) newMetrics() *metrics.Metrics {
	if r.cfg.Admin == "" {
		return nil
	}
	var types []string
	for _, inst := range r.plan.Instances {
		if !slices.Contains(types, inst.Type) {
			types = append(types, inst.Type)
		}
	}
	opts := metrics.Options{
		Processes: r.processes,
		Edge:      r.plan.Edge,
		Types:     types,
		App:       r.plan.Dir,
		GOGC:      gcPercent(r.cfg.Environ),
	}
	if m := r.plan.Machine; m != nil {
		opts.Memory = metrics.MemoryLimits{Guard: m.Guard, PerInstance: m.PerInstance}
		if m.Limits.Constrained() { // the host's RAM is no limit to draw
			opts.Memory.Limit, opts.Memory.Source = m.Limits.Memory, m.Limits.MemorySource
		}
	}
	if r.plan.staticSite() {
		opts.Processes = nil // no run loop to ask: the edge serves alone
	}
	if m := r.plan.Machine; r.plan.Edge && m != nil && m.CacheSize > 0 {
		opts.Cache = func() httpcache.Stats {
			if r.edge == nil || r.edge.cache == nil {
				return httpcache.Stats{MaxBytes: m.CacheSize}
			}
			return r.edge.cache.Stats()
		}
	}
	if r.plan.Edge && r.cfg.Edge.HTTPS.Enabled() {
		opts.Certificates = func() map[string]time.Time {
			if r.edge == nil || r.edge.certs == nil {
				return map[string]time.Time{}
			}
			return r.edge.certs.Expiries()
		}
	}
	return metrics.New(opts)
}

// gcPercent is the GC percentage the Go runtime took from GOGC in
// corral's environment when it started, as it reads it: "off" is -1, a
// number is itself, anything else 100. corral never changes it.
func gcPercent(env []string) int {
	v, _ := environ.Lookup(env, "GOGC")
	if v == "off" {
		return -1
	}
	// The runtime's parser takes no '+' sign; strconv's would.
	if n, err := strconv.ParseInt(v, 10, 32); err == nil && !strings.HasPrefix(v, "+") {
		return int(n)
	}
	return 100
}

// psWait bounds a scrape's or a status page's wait for the run loop,
// which answers between two events; between the release phase and the
// app nobody does for a moment.
const psWait = 2 * time.Second

// processes asks the run loop for the rows of corral ps.
func (r *runner) processes() ([]control.Process, error) {
	return r.processesWithin(context.Background())
}

// processesWithin is processes, given up when parent is done.
func (r *runner) processesWithin(parent context.Context) ([]control.Process, error) {
	ctx, cancel := context.WithTimeout(parent, psWait)
	defer cancel()
	resp := r.ask(ctx, control.Request{Verb: "ps"})
	if ctx.Err() != nil {
		return nil, fmt.Errorf("the run loop did not answer within %v", psWait)
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return resp.Processes, nil
}

// observer is the edge's Observer: the metrics, or a true nil without
// them (a nil *Metrics in the interface would not be nil).
func (r *runner) observer() edge.Observer {
	if r.metrics == nil {
		return nil
	}
	return r.metrics
}

// adminServer is the running admin listener, and the sampling of the
// status page's charts, which goes on as long as it is open.
type adminServer struct {
	srv          *http.Server
	serving      sync.WaitGroup // the server and the sampling
	stopSampling context.CancelFunc
	listening    string // logged after the edge's line (logListening)
}

// openAdmin binds the admin listener, once the edge holds the public
// port, and serves the metrics and the status page until close. Without
// --admin it does nothing, and close neither.
func (r *runner) openAdmin() (*adminServer, error) {
	a := &adminServer{}
	if r.metrics == nil {
		return a, nil
	}
	ln, err := net.Listen("tcp", r.cfg.Admin)
	if err != nil {
		return nil, fmt.Errorf("--admin %s: cannot listen (%v): stop what holds it or choose another address", r.cfg.Admin, unwrapAddrInUse(err))
	}
	a.srv = &http.Server{
		Handler:           r.metrics.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       75 * time.Second,
	}
	a.serving.Go(func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("admin: " + err.Error())
		}
	})
	var ctx context.Context
	ctx, a.stopSampling = context.WithCancel(context.Background())
	a.serving.Go(func() { r.sample(ctx) })
	a.listening = fmt.Sprintf("admin: status page on http://%s/, metrics on http://%s/metrics%s", ln.Addr(), ln.Addr(), exposure(r.cfg.Admin))
	return a, nil
}

// logListening says where the admin listener is, after the edge's own
// line, once the start goes on.
func (a *adminServer) logListening(log *slog.Logger) {
	if a.listening != "" {
		log.Info(a.listening)
	}
}

// close stops the admin listener and the sampling at once, and waits
// for them.
func (a *adminServer) close() {
	if a.srv == nil {
		return
	}
	a.stopSampling()
	a.srv.Close()
	a.serving.Wait()
}

// sample feeds the status page's charts and its request rate until ctx
// is done: a sample at once, then every metrics.SampleEvery, whether
// anyone looks at the page or not. The request path pays nothing for
// it; the run loop answers a corral ps per sample.
func (r *runner) sample(ctx context.Context) {
	t := time.NewTicker(metrics.SampleEvery)
	defer t.Stop()
	for {
		procs := []control.Process{} // none: the edge serves a static site alone
		if !r.plan.staticSite() {
			// An unanswered ask (between the release phase and the app)
			// is a gap in the memory chart.
			procs, _ = r.processesWithin(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		r.metrics.Sample(procs)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noteRestart counts, for corral ps and the metrics, that in, which ended
// with st, is to be started again.
func (r *runner) noteRestart(in *instance, st process.Status) {
	in.timesRestarted++
	if r.metrics == nil {
		return
	}
	reason := metrics.ReasonCrash
	if st.Success() {
		reason = metrics.ReasonExit
	}
	r.metrics.Restarted(metrics.Restart{Name: in.Name, Type: in.Type, Reason: reason, Status: st.String()})
}

// noteOOMKill counts, for corral ps and the metrics, a process of in (nil:
// of no instance) that the kernel's OOM killer killed. When that was in's
// main process, its exit counts as in's restart (noteRestart) instead.
func (r *runner) noteOOMKill(in *instance, pid int, leader bool) {
	var name, typ string
	if in != nil {
		name, typ = in.Name, in.Type
		if !leader {
			in.timesRestarted++
		}
	}
	if r.metrics == nil {
		return
	}
	r.metrics.OOMKilled(name, typ)
	if in != nil && !leader {
		r.metrics.Restarted(metrics.Restart{Name: name, Type: typ, Reason: metrics.ReasonOOMKill, Status: fmt.Sprintf("pid %d killed by the kernel's OOM killer", pid)})
	}
}

// noteRecycle counts, for corral ps and the metrics, that in is replaced
// on purpose (reason is metrics.ReasonMemoryGuard or ReasonMaxRequests),
// and why.
func (r *runner) noteRecycle(in *instance, reason, why string) {
	in.timesRestarted++
	if r.metrics == nil {
		return
	}
	r.metrics.Restarted(metrics.Restart{Name: in.Name, Type: in.Type, Reason: reason, Status: why})
}
