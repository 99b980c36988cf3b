package launcher

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/corral-run/corral/launcher/certs"
	"github.com/corral-run/corral/launcher/certstore"
	"github.com/corral-run/corral/launcher/platform"
)

// startHTTPS starts certificate management and the HTTP port's server,
// and returns the TLS listener over ln, the HTTPS port, for the edge to
// serve. Certificates are obtained in the background: the edge serves at
// once, and HTTPS works for each name as soon as it has one.
func (fd *frontDoor) startHTTPS(ctx context.Context, h HTTPSConfig, addr netip.Addr, pf platform.Platform, ln net.Listener, log *slog.Logger) (net.Listener, error) {
	host := ""
	if addr.IsValid() {
		host = addr.String()
	}
	m, err := certs.New(certs.Config{
		Domains:       h.Domains,
		Email:         h.Email,
		CA:            h.CA,
		CARoot:        h.CARoot,
		Dir:           h.CertDir,
		Storage:       h.Storage,
		Lease:         h.StorageLease,
		CheckInterval: h.CheckInterval,
		ListenHost:    host,
		HTTPPort:      h.HTTPPort,
		HTTPSPort:     h.HTTPSPort,
		Challenges:    h.Challenges,
		OnDemandAsk:   h.OnDemandAsk,
		Log:           log,
	})
	if err != nil {
		return nil, err
	}
	hln, err := listen(addr, h.HTTPPort, "--http-port")
	if err != nil {
		m.Stop()
		return nil, err
	}
	fd.redirect = &http.Server{
		Handler:           m.HTTPHandler(redirectToHTTPS(h.HTTPSPort)),
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       75 * time.Second,
	}
	fd.serving.Go(func() {
		if err := fd.redirect.Serve(hln); err != nil && err != http.ErrServerClosed {
			log.Error("edge: HTTP port: " + err.Error())
		}
	})
	fd.closers = append(fd.closers, func() error { m.Stop(); return nil })
	fd.certs = m
	m.Start(ctx)
	if pf.TLSTerminated {
		log.Warn(fmt.Sprintf("https: this looks like %s, which terminates TLS in front of the app: its router, not corral, receives the TLS connections; use the platform's own HTTPS", pf.Title))
	}
	if pf.EphemeralDisk && h.Storage == "" {
		log.Warn(fmt.Sprintf("https: %s's disk does not outlive a deploy: certificates in %s will be requested again after each one (Let's Encrypt allows 5 duplicates a week); put --cert-dir on a persistent volume", pf.Title, h.CertDir))
	}
	names := strings.Join(m.Domains(), ", ")
	if h.OnDemandAsk != "" {
		names = strings.TrimPrefix(names+", and names "+h.OnDemandAsk+" approves", ", ")
	}
	log.Info(fmt.Sprintf("edge: HTTPS on %s for %s (certificates in %s); port %d redirects to HTTPS", onPort(addr, h.HTTPSPort), names, m.Storage(), h.HTTPPort))
	return tls.NewListener(ln, m.TLSConfig()), nil
}

// redirectToHTTPS answers every request with a 308 to the same host, path
// and query over HTTPS on port.
func redirectToHTTPS(port int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/@\\ ") {
			http.Error(w, "no host to redirect to", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal
		}
		if port != 443 {
			host += ":" + strconv.Itoa(port)
		}
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// setHTTPS keeps h for corral check, and refuses a --storage URL that
// cannot work (a bad scheme, a URL that does not parse) before anything
// starts. Whether the storage answers is left to the run, which serves
// HTTP meanwhile.
func (p *Plan) setHTTPS(h HTTPSConfig) error {
	if !h.Enabled() {
		return nil
	}
	p.HTTPS = h
	if h.Storage == "" {
		return nil
	}
	s, err := certstore.Open(h.Storage, certstore.Options{})
	if err != nil {
		return fmt.Errorf("--storage: %w", err)
	}
	return s.Close()
}

// storageWait bounds corral check's question to the storage.
const storageWait = 5 * time.Second

// describeHTTPS is corral check's lines about HTTPS: the names and ports,
// and where the certificates are kept; a shared storage is asked whether
// it answers.
func (p *Plan) describeHTTPS(w io.Writer) {
	h := p.HTTPS
	if !h.Enabled() {
		return
	}
	names := strings.Join(h.Domains, ", ")
	if h.OnDemandAsk != "" {
		names = strings.TrimPrefix(names+", and names "+h.OnDemandAsk+" approves", ", ")
	}
	fmt.Fprintf(w, "https:    %s on %s; port %d redirects to HTTPS\n", names, onPort(p.Address, h.HTTPSPort), h.HTTPPort)
	if h.Storage == "" {
		fmt.Fprintf(w, "storage:  %s (this host's disk; --storage shares certificates between hosts)\n", h.CertDir)
		return
	}
	s, err := certstore.Open(h.Storage, certstore.Options{})
	if err != nil { // setHTTPS refused it already
		fmt.Fprintf(w, "storage:  %v\n", err)
		return
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), storageWait)
	defer cancel()
	if err := s.Ping(ctx); err != nil {
		why := strings.TrimPrefix(err.Error(), "certificate storage "+s.String()+": ")
		fmt.Fprintf(w, "storage:  %s does NOT answer: %s (corral start serves HTTP meanwhile, and HTTPS once it answers)\n", s, why)
		return
	}
	fmt.Fprintf(w, "storage:  %s answers (shared with every corral that uses it; a copy in %s)\n", s, h.CertDir)
}
