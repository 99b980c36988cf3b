// Package edge is corral's front door: it owns the public port, serves
// static files itself, and proxies everything else to a pool of web
// instances, shielding them from slow clients and from each other's
// failures the way nginx shields gunicorn.
package edge

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// StaticFiles serves the files under some URL prefixes.
type StaticFiles interface {
	http.Handler
	Match(urlPath string) bool
}

// Config configures a Server.
type Config struct {
	Proxy *Proxy
	// Static, if not nil, answers the paths it matches; the app never sees them.
	Static StaticFiles
	// HealthPath answers 200 while at least one instance is ready or the
	// instances are asleep (Balancer.SetAsleep), else 503, for the
	// platform's health check (default /_corral/health).
	HealthPath string
	// HeaderTimeout bounds the reading of a request head, from its first
	// byte (default 20s); IdleTimeout bounds the wait for the next request
	// on a kept-alive connection (default 75s, nginx's keepalive_timeout).
	HeaderTimeout, IdleTimeout time.Duration
	// SendTimeout cuts off a client that takes none of a response's bytes
	// for that long, between two writes, not for the whole response
	// (default 60s, nginx's send_timeout; see send.go). It bounds an
	// HTTP/2 connection's writes too.
	SendTimeout time.Duration
	// HSTS, if not empty, is the Strict-Transport-Security value of the
	// responses to requests that came over TLS (an app's own wins).
	HSTS string
	// NoApp says nothing runs behind the edge (a static site): the health
	// path answers 200 whenever the edge is up.
	NoApp bool
	// AllowUnderscoreHeaders passes request headers whose names hold an
	// underscore on to the app, which by default are dropped, as nginx
	// drops them (underscores_in_headers off): WSGI and CGI servers merge
	// X_Forwarded_For with X-Forwarded-For, so a client could pose as a
	// proxy the app trusts. Even allowed, an underscore spelling of a
	// header the edge sets or drops never reaches the app.
	AllowUnderscoreHeaders bool
	Log                    *slog.Logger
	// Observer, if not nil, is told of each static file and health check
	// answered (the Proxy has its own, for the requests it answers).
	Observer Observer
	// MaxConns is how many client connections may be open before the
	// oldest idle ones are closed to make room for new ones, as they are
	// when accepting fails for want of file descriptors. 0 derives it
	// from the process's file-descriptor limit (MaxConnsFor); below 0,
	// only running out of descriptors closes idle connections.
	MaxConns int

	// coolAfter is how long a connection waits for its next request
	// holding its buffers before it gives them back (1s); for tests.
	coolAfter time.Duration
}

// Server is the edge's HTTP server: it serves the health path and static
// files itself and hands everything else to the proxy. It is an
// http.Handler too, for servers other than its own (TLS, HTTP/2).
type Server struct {
	cfg    Config
	static atomic.Pointer[StaticFiles] // may be set once serving: after the release phase
	// staticWait, while not nil, holds requests until the static files
	// are known (HoldStatic).
	staticWait atomic.Pointer[chan struct{}]

	ctx      context.Context // parent of every connection's context
	cancel   context.CancelCauseFunc
	shutting atomic.Bool
	mu       sync.Mutex
	listen   map[net.Listener]struct{}
	conns    map[*conn]struct{}
	hots     hotPool
	idle     idleConns // see idle.go
	date     dateCache
	h2       *h2c
}

// SetStatic makes the server answer the paths static matches from now on.
func (s *Server) SetStatic(static StaticFiles) { s.static.Store(&static) }

// HoldStatic makes requests (but the health check) wait until the static
// files are known: while the launcher asks the app where they are, a
// request for one must not reach the app instead. It returns the function
// that sets them (nil for none) and lets the requests go; only its first
// call counts.
func (s *Server) HoldStatic() func(StaticFiles) {
	ch := make(chan struct{})
	s.staticWait.Store(&ch)
	var once sync.Once
	return func(static StaticFiles) {
		once.Do(func() {
			if static != nil {
				s.SetStatic(static)
			}
			s.staticWait.Store(nil)
			close(ch)
		})
	}
}

// NewServer returns a Server; call Serve with the public listener.
func NewServer(cfg Config) *Server {
	if cfg.HealthPath == "" {
		cfg.HealthPath = "/_corral/health"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = 20 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 75 * time.Second
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 60 * time.Second
	}
	s := &Server{
		cfg:    cfg,
		listen: make(map[net.Listener]struct{}),
		conns:  make(map[*conn]struct{}),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	if s.cfg.MaxConns == 0 {
		s.cfg.MaxConns = MaxConnsFor(fdLimit())
	}
	if s.cfg.coolAfter <= 0 {
		s.cfg.coolAfter = time.Second
	}
	if cfg.Static != nil {
		s.SetStatic(cfg.Static)
	}
	s.h2 = newH2C(s)
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 { // HTTP/1 heads are cleaned as they are read
		dropUnderscoreHeaders(r.Header, s.cfg.AllowUnderscoreHeaders)
		w = &streamSend{ResponseWriter: w, rc: http.NewResponseController(w), d: s.cfg.SendTimeout}
	}
	if r.TLS != nil && s.cfg.HSTS != "" {
		w.Header()["Strict-Transport-Security"] = []string{s.cfg.HSTS}
	}
	var start time.Time
	if s.cfg.Observer != nil {
		start = time.Now()
	}
	switch {
	case r.URL.Path == s.cfg.HealthPath:
		status := s.health(w, r)
		if s.cfg.Observer != nil {
			s.cfg.Observer.Request(KindHealth, status, time.Since(start))
		}
	case s.cfg.Proxy.opts.Internal != nil && s.cfg.Proxy.opts.Internal.Match(r.URL.Path):
		// nginx's `internal` location: for the app's X-Accel-Redirect only.
		s.serveLocal(w, r, start, http.HandlerFunc(notFound))
	case s.serveStatic(w, r, start):
	default:
		s.cfg.Proxy.ServeHTTP(w, r)
	}
}

// serveStatic serves r from the static files if they match it, and
// reports whether they did. start is when the request came, for the
// Observer. The response gets an X-Request-Id and an access log line, as a
// proxied one does: nginx logs the files it serves too.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, start time.Time) bool {
	if wait := s.staticWait.Load(); wait != nil {
		select {
		case <-*wait:
		case <-r.Context().Done(): // gone: the proxy says so in the log
		}
	}
	st := s.static.Load()
	if st == nil || !(*st).Match(r.URL.Path) {
		return false
	}
	s.serveLocal(w, r, start, *st)
	return true
}

// notFound answers a path that exists for the edge alone.
func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeError(w, r, http.StatusNotFound, "not found")
}

// serveLocal answers r with h, the edge's own handler, with the request
// id, access log and Observer a proxied request gets.
func (s *Server) serveLocal(w http.ResponseWriter, r *http.Request, start time.Time, h http.Handler) {
	_, trusted := s.cfg.Proxy.peer(r)
	acc := Access{Kind: KindStatic, Method: r.Method, Target: r.RequestURI}
	acc.RequestID, _ = requestID(r.Header, trusted)
	w.Header()["X-Request-Id"] = []string{acc.RequestID}
	obs, log := s.cfg.Observer, s.cfg.Proxy.opts.AccessLog
	if obs == nil && log == nil {
		h.ServeHTTP(w, r)
		return
	}
	if start.IsZero() { // set only for an Observer
		start = time.Now()
	}
	// The status and bytes: this server's own writer keeps them; an
	// HTTP/2 one needs a recorder around it (a small allocation, on a
	// path that makes several already).
	if rw, ok := w.(*response); ok {
		h.ServeHTTP(w, r)
		acc.Status, acc.Bytes = rw.status, rw.written
		// Fewer bytes than declared: the client waits for the rest in vain.
		acc.Cut = rw.length >= 0 && rw.written < rw.length && !rw.noBody
	} else {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		acc.Status, acc.Bytes = rec.status, rec.written
	}
	if acc.Status == 0 { // nothing written: the server sends 200
		acc.Status = http.StatusOK
	}
	acc.Duration = time.Since(start)
	if log != nil {
		log(acc)
	}
	if obs != nil {
		obs.Request(KindStatic, acc.Status, acc.Duration)
	}
}

// health answers the health path, and returns the status it sent.
func (s *Server) health(w http.ResponseWriter, r *http.Request) int {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.cfg.NoApp {
		w.Write([]byte("ok: a static site, no app behind the edge\n"))
		return http.StatusOK
	}
	if s.cfg.Proxy.bal.Asleep() && s.cfg.Proxy.bal.ReadyCount() == 0 {
		w.Write([]byte("asleep: the app starts on the next request\n"))
		return http.StatusOK
	}
	if s.cfg.Proxy.bal.ReadyCount() == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("starting: no web instance is ready\n"))
		return http.StatusServiceUnavailable
	}
	w.Write([]byte("ok\n"))
	return http.StatusOK
}
