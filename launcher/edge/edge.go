// Package edge is corral's front door: it owns the public port, serves
// static files itself, and proxies everything else to a pool of web
// instances, shielding them from slow clients and from each other's
// failures the way nginx shields gunicorn.
package edge

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
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
	// HealthPath answers 200 while at least one instance is ready, else
	// 503, for the platform's health check (default /_corral/health).
	HealthPath string
	Log        *slog.Logger
}

// Server is the edge's HTTP server.
type Server struct {
	cfg    Config
	srv    *http.Server
	static atomic.Pointer[StaticFiles] // may be set once serving: after the release phase
}

// SetStatic makes the server answer the paths static matches from now on.
func (s *Server) SetStatic(static StaticFiles) { s.static.Store(&static) }

// NewServer returns a Server; call Serve with the public listener.
func NewServer(cfg Config) *Server {
	if cfg.HealthPath == "" {
		cfg.HealthPath = "/_corral/health"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg}
	if cfg.Static != nil {
		s.SetStatic(cfg.Static)
	}
	s.srv = &http.Server{
		Handler: s,
		// A client gets this long to send its request headers; the body
		// has its own per-read timeout in the proxy.
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       75 * time.Second, // nginx's keepalive_timeout
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{cfg.Log}, "", 0),
		ConnContext:       GuardConnContext,
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if v := Violation(r.Context()); v != "" {
		rejectAmbiguous(w, r, v)
		return
	}
	switch {
	case r.URL.Path == s.cfg.HealthPath:
		s.health(w, r)
	case s.serveStatic(w, r):
	default:
		s.cfg.Proxy.ServeHTTP(w, r)
	}
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) bool {
	st := s.static.Load()
	if st == nil || !(*st).Match(r.URL.Path) {
		return false
	}
	(*st).ServeHTTP(w, r)
	return true
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.cfg.Proxy.bal.ReadyCount() == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("starting: no web instance is ready\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// rejectAmbiguous answers 400 to a request whose framing could be read two
// ways (request smuggling), and closes the connection: what follows on it
// cannot be trusted either.
func rejectAmbiguous(w http.ResponseWriter, r *http.Request, why string) {
	w.Header().Set("Connection", "close")
	writeError(w, r, http.StatusBadRequest, "ambiguous request: "+why)
}

// Serve serves on ln until Shutdown; it returns nil after Shutdown. Each
// connection's raw request heads are checked as they are read (see
// GuardListener).
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.Serve(GuardListener(ln))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections and waits, until ctx is done, for
// the requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.cfg.Proxy.Close()
	return err
}

// slogWriter turns net/http's internal error log into debug records: they
// are client-side noise (bad requests, resets) that nginx logs at info.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Debug(string(p))
	return len(p), nil
}
