package launcher

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/logesc"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/certs"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/httpcache"
	"github.com/corral-run/corral/launcher/output"
	"github.com/corral-run/corral/launcher/platform"
	"github.com/corral-run/corral/launcher/sendfile"
	"github.com/corral-run/corral/launcher/static"
)

// frontDoor is the running edge: the public listener, the balancer over
// the web instances and the HTTP server in front of them.
type frontDoor struct {
	bal     *edge.Balancer
	proxy   *edge.Proxy
	srv     *edge.Server
	serving sync.WaitGroup
	closers []func() error

	redirect *http.Server     // with HTTPS: the HTTP port's challenges and redirects
	owners   *portOwners      // who should answer on each web instance's port
	certs    *certs.Manager   // with HTTPS: the certificates, for the metrics
	cache    *httpcache.Cache // the response cache, for the metrics; nil when off
	// listening is logged once the run is sure to go on (logListening).
	listening string
	// site, for a static site, lets requests go once its files are known:
	// until then (a build step may be making them) they wait, as there is
	// no app to send them to.
	site func(edge.StaticFiles)
}

// logListening says where the edge listens, once nothing can stop the
// start any more: until then a failed start prints only its error.
func (fd *frontDoor) logListening(log *slog.Logger) {
	if fd.listening != "" {
		log.Info(fd.listening)
	}
}

// probeInterval is how often a starting or failed instance is probed.
const probeInterval = 100 * time.Millisecond

// boundPort is the edge's public port, bound, and the --internal
// directories, open: what the edge serves once openFrontDoor starts it.
type boundPort struct {
	ln       net.Listener
	internal *sendfile.Files
}

// close releases both, for a run that ends before the edge serves.
func (b *boundPort) close() {
	b.ln.Close()
	b.internal.Close()
}

// bindFrontDoor opens the --internal directories and binds the public
// port (the HTTPS port with HTTPS), which a platform's port scan waits
// for; the rest of the edge, and what it needs from the machine's limits,
// comes after (openFrontDoor). Connections wait in the listen backlog
// meanwhile.
func bindFrontDoor(cfg Config, plan *Plan) (*boundPort, error) {
	internal, err := openInternal(plan)
	if err != nil {
		return nil, err
	}
	var ln net.Listener
	if https := cfg.Edge.HTTPS; https.Enabled() {
		ln, err = listen(cfg.Edge.Address, https.HTTPSPort, "--https-port")
	} else {
		ln, err = listen(cfg.Edge.Address, plan.PublicPort, "--port or $PORT")
	}
	if err != nil {
		internal.Close()
		return nil, err
	}
	return &boundPort{ln: ln, internal: internal}, nil
}

// openFrontDoor starts serving on the bound port at once: until an
// instance is ready, requests wait at the boot gate. obs, if not nil, is
// told of every request (--admin's metrics). On an error, bound is left
// to the caller to close.
func openFrontDoor(ctx context.Context, cfg Config, plan *Plan, bound *boundPort, pf platform.Platform, mux *output.Mux, log *slog.Logger, obs edge.Observer) (*frontDoor, error) {
	https := cfg.Edge.HTTPS
	ln, internal := bound.ln, bound.internal
	for _, m := range plan.Internal {
		log.Info(fmt.Sprintf("internal files: the edge sends files of %s when the app names them under %s (X-Accel-Redirect) or by path (X-Sendfile)", m.Dir, m.Prefix))
	}
	fd := &frontDoor{owners: newPortOwners(log), closers: []func() error{internal.Close}}
	probe := edge.AnswerProbe{
		Path: cfg.Edge.ReadyPath,
		Host: func() string { return probeHost(https, pf, fd.proxy) },
		// Asked before the request: a stranger on the port gets none.
		Accept: fd.owners.owned,
	}
	fd.bal = edge.NewBalancer(probe.Probe, probeInterval, func(name string, ready bool) {
		if ready {
			log.Info(name + " is ready: the edge routes to it")
		}
	})
	// A probe waits for its answer as long as a request would: a worker
	// may take that long to import the app.
	fd.bal.ProbeTimeout = cmp.Or(cfg.Edge.UpstreamTimeout, 60*time.Second)
	opts := edge.Options{
		BootWait:        cfg.Edge.BootWait,
		MaxBody:         cfg.Edge.MaxBody,
		UpstreamTimeout: cfg.Edge.UpstreamTimeout,
		TrustedProxies:  trustedProxies(cfg.Edge, pf, log),
		Log:             log,
		Observer:        obs,
		Internal:        internal,
	}
	if !cfg.Edge.NoAccessLog {
		opts.AccessLog = accessLog(mux)
	}
	if m := plan.Machine; m != nil && m.CacheSize > 0 {
		fd.cache = httpcache.New(httpcache.Options{MaxBytes: m.CacheSize, MaxObject: m.CacheObject})
		opts.Cache = fd.cache
	}
	fd.proxy = edge.NewProxy(fd.bal, opts)
	fd.srv = edge.NewServer(edge.Config{Proxy: fd.proxy, HealthPath: cfg.Edge.HealthPath, HSTS: https.HSTS, NoApp: plan.staticSite(),
		AllowUnderscoreHeaders: cfg.Edge.AllowUnderscoreHeaders, Log: log, Observer: obs})
	if plan.staticSite() {
		fd.site = fd.srv.HoldStatic()
	}
	if https.Enabled() {
		tln, err := fd.startHTTPS(ctx, https, cfg.Edge.Address, pf, ln, log)
		if err != nil {
			fd.bal.Close()
			return nil, err
		}
		ln = tln
	} else {
		fd.listening = fmt.Sprintf("edge: listening on %s", onPort(cfg.Edge.Address, plan.PublicPort))
	}
	fd.serving.Go(func() {
		if err := fd.srv.Serve(ln); err != nil {
			log.Error("edge: " + err.Error())
		}
	})
	return fd, nil
}

// probeHost is the Host of the readiness probe: a name the app answers
// for, as far as corral knows one (an app that checks Host, like Django
// with ALLOWED_HOSTS, logs an error for any other): the first --domain,
// the platform's hostname for the app, the Host of the latest request,
// else localhost.
func probeHost(https HTTPSConfig, pf platform.Platform, proxy *edge.Proxy) string {
	switch {
	case len(https.Domains) > 0:
		return https.Domains[0]
	case pf.Hostname != "":
		return pf.Hostname
	}
	return cmp.Or(proxy.RecentHost(), "localhost")
}

// accessLog returns the edge's access log: a line per request from
// "edge", in mux's format. The method and target are the client's, so
// they are escaped as nginx escapes them: a target cannot end the line,
// forge another, or send a terminal an escape. A static file the edge
// served itself says "static" where a proxied request names its instance.
func accessLog(mux *output.Mux) func(edge.Access) {
	access := mux.Prefix("edge")
	return func(a edge.Access) {
		method, target := logesc.String(a.Method), logesc.String(a.Target)
		if mux.Format() == output.JSON {
			// Hand-built (output.Event): a line per request under load.
			e := access.Event(slog.LevelInfo, "request").Str("kind", a.Kind.String()).Str("method", method).Str("uri", target).
				Int("status", int64(a.Status)).Int("bytes", a.Bytes).
				Float("duration_ms", float64(a.Duration.Round(time.Microsecond))/float64(time.Millisecond)).
				Str("instance", a.Instance).Str("request_id", a.RequestID)
			if a.Cache != "" {
				e.Str("cache", a.Cache)
			}
			if a.Cut {
				e.Bool("cut", true)
			}
			e.Write()
			return
		}
		inst := a.Instance
		switch {
		case a.Kind != edge.KindApp:
			inst = a.Kind.String()
		case inst == "":
			inst = "-"
		}
		cache, cut := "", ""
		if a.Cache != "" {
			cache = " cache=" + a.Cache // hit, miss, stale, revalidated
		}
		if a.Cut {
			cut = " cut" // the client saw the response broken off
		}
		access.WriteLine(fmt.Sprintf("%s %s %d %dB %s %s id=%s%s%s", method, target, a.Status, a.Bytes,
			a.Duration.Round(time.Microsecond), inst, a.RequestID, cache, cut))
	}
}

// trustedProxies returns the peers whose X-Forwarded-* headers the edge
// believes: the configured ones; else, on a PaaS that terminates TLS in
// front of the app (and with corral not serving HTTPS itself), every
// peer, since the platform's router is the only way in; else none.
func trustedProxies(e EdgeConfig, pf platform.Platform, log *slog.Logger) []netip.Prefix {
	if e.TrustedProxies != nil {
		return e.TrustedProxies
	}
	if !pf.TLSTerminated || e.HTTPS.Enabled() {
		return nil
	}
	log.Info(fmt.Sprintf("edge: on %s, X-Forwarded-For and X-Forwarded-Proto from its router are believed (--trusted-proxies to narrow, none for none)", pf.Title))
	return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
}

// listen binds port on addr (every address when addr is the zero Addr),
// saying which setting chose it when it cannot.
func listen(addr netip.Addr, port int, setting string) (net.Listener, error) {
	host := ""
	if addr.IsValid() {
		host = addr.String()
		setting += ", or another --address"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (%v): stop what holds it or choose another with %s", onPort(addr, port), unwrapAddrInUse(err), setting)
	}
	return ln, nil
}

// onPort says where the edge listens: "port 443", or "127.0.0.2 port 443"
// with --address.
func onPort(addr netip.Addr, port int) string {
	if addr.IsValid() {
		return fmt.Sprintf("%s port %d", addr, port)
	}
	return fmt.Sprintf("port %d", port)
}

// serveStatic sets up the static files the edge serves itself. The
// --static mounts are set at once (a directory that does not exist is an
// error). Without them, corral asks a Django app for its STATIC_URL and
// STATIC_ROOT: Python importing the settings takes as long as the app's
// own boot, so that runs beside the web instances' start, owned by the
// returned wait, while the edge holds requests until it knows; an app
// whose static files cannot be found only gets a warning, and serves
// them itself.
func (fd *frontDoor) serveStatic(ctx context.Context, plan *Plan, run func(*exec.Cmd) error, log *slog.Logger) (wait func(), err error) {
	if len(plan.Static) > 0 {
		for _, m := range plan.Static {
			log.Info(fmt.Sprintf("static files: the edge serves %s from %s", m.Prefix, m.Dir))
		}
		srv, err := static.New(plan.Static)
		if err != nil {
			return func() {}, fmt.Errorf("static files: %w", err)
		}
		if fd.site != nil {
			fd.site(srv)
		} else {
			fd.srv.SetStatic(srv)
		}
		fd.closers = append(fd.closers, srv.Close)
		return func() {}, nil
	}
	release := fd.srv.HoldStatic()
	ctx, cancel := context.WithCancel(ctx)
	var finding sync.WaitGroup
	finding.Go(func() {
		srv := fd.findDjangoStatic(ctx, plan, run, log)
		if srv == nil {
			release(nil)
			return
		}
		fd.closers = append(fd.closers, srv.Close) // read by close, after wait
		release(srv)
	})
	return func() { cancel(); finding.Wait() }, nil
}

// findDjangoStatic returns the file server for a Django app's static
// files, or nil (and a warning, unless it is no Django app).
func (fd *frontDoor) findDjangoStatic(ctx context.Context, plan *Plan, run func(*exec.Cmd) error, log *slog.Logger) *static.Server {
	ds, err := buildpack.FindDjangoStatic(ctx, plan.Dir, appenv.WithPath(plan.Dir, plan.Env), run)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			log.Warn("static files: " + err.Error() + "; the app serves them itself")
		}
		return nil
	case ds == nil:
		return nil
	}
	if fi, err := os.Stat(ds.Root); err != nil || !fi.IsDir() {
		log.Warn(fmt.Sprintf("static files: STATIC_ROOT %s of %s does not exist; run collectstatic in the release phase "+
			"(release: python manage.py collectstatic --noinput). Until then the app serves %s itself", ds.Root, ds.SettingsModule, ds.URL))
		return nil
	}
	srv, err := static.New([]static.Mount{{Prefix: ds.URL, Dir: ds.Root}})
	if err != nil {
		log.Warn(fmt.Sprintf("static files: %v; the app serves %s itself", err, ds.URL))
		return nil
	}
	log.Info(fmt.Sprintf("static files: the edge serves %s from %s (STATIC_URL and STATIC_ROOT of %s)", ds.URL, ds.Root, ds.SettingsModule))
	return srv
}

// drain stops accepting connections and waits, until ctx is done, for the
// requests in flight to be answered; those still in flight then get a 503.
// corral is stopping: a request waiting at the boot gate, where no
// instance is coming now, gets its 503 at once.
func (fd *frontDoor) drain(ctx context.Context) {
	fd.bal.CloseGate()
	fd.srv.Shutdown(ctx)
}

// close shuts the edge down at once and waits for it.
func (fd *frontDoor) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fd.srv.Shutdown(ctx)
	if fd.redirect != nil {
		fd.redirect.Close()
	}
	fd.serving.Wait()
	fd.proxy.Close() // its background revalidations
	fd.bal.Close()
	for _, c := range fd.closers {
		c()
	}
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1 for a web
// instance to listen on.
func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
