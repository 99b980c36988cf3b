package launcher

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/output"
)

// frontDoor is the running edge: the public listener, the balancer over
// the web instances and the HTTP server in front of them.
type frontDoor struct {
	bal     *edge.Balancer
	proxy   *edge.Proxy
	srv     *edge.Server
	serving sync.WaitGroup
	closers []func() error
}

// probeInterval is how often a starting or failed instance is probed.
const probeInterval = 100 * time.Millisecond

// openFrontDoor binds the public port and starts serving at once: until an
// instance is ready, requests wait at the boot gate.
func openFrontDoor(cfg Config, plan *Plan, mux *output.Mux, log *slog.Logger) (*frontDoor, error) {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(plan.PublicPort))
	if err != nil {
		return nil, fmt.Errorf("cannot listen on port %d (%v): stop what holds it or choose another with --port or $PORT", plan.PublicPort, unwrapAddrInUse(err))
	}
	probe := edge.TCPProber
	if cfg.Edge.ReadyPath != "" {
		probe = edge.HTTPProber(cfg.Edge.ReadyPath)
	}
	fd := &frontDoor{bal: edge.NewBalancer(probe, probeInterval, func(name string, ready bool) {
		if ready {
			log.Info(name + " is ready: the edge routes to it")
		}
	})}
	opts := edge.Options{
		BootWait:        cfg.Edge.BootWait,
		MaxBody:         cfg.Edge.MaxBody,
		UpstreamTimeout: cfg.Edge.UpstreamTimeout,
		TrustedProxies:  cfg.Edge.TrustedProxies,
		Log:             log,
	}
	if !cfg.Edge.NoAccessLog {
		access := mux.Prefix("edge")
		opts.AccessLog = func(a edge.Access) {
			inst := a.Instance
			if inst == "" {
				inst = "-"
			}
			access.WriteLine(fmt.Sprintf("%s %s %d %dB %s %s id=%s", a.Method, a.Path, a.Status, a.Bytes,
				a.Duration.Round(time.Microsecond), inst, a.RequestID))
		}
	}
	fd.proxy = edge.NewProxy(fd.bal, opts)
	fd.srv = edge.NewServer(edge.Config{Proxy: fd.proxy, HealthPath: cfg.Edge.HealthPath, Log: log})
	fd.serving.Go(func() {
		if err := fd.srv.Serve(ln); err != nil {
			log.Error("edge: " + err.Error())
		}
	})
	log.Info(fmt.Sprintf("edge: listening on port %d", plan.PublicPort))
	return fd, nil
}

// drain stops accepting connections and waits, until ctx is done, for the
// requests in flight to be answered.
func (fd *frontDoor) drain(ctx context.Context) {
	fd.srv.Shutdown(ctx)
}

// close shuts the edge down at once and waits for it.
func (fd *frontDoor) close() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fd.srv.Shutdown(ctx)
	fd.serving.Wait()
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
