package launcher

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/corral-run/corral/launcher/certs"
	"github.com/corral-run/corral/launcher/platform"
)

// startHTTPS starts certificate management and the HTTP port's server,
// and returns the TLS listener over ln, the HTTPS port, for the edge to
// serve. Certificates are obtained in the background: the edge serves at
// once, and HTTPS works for each name as soon as it has one.
func (fd *frontDoor) startHTTPS(ctx context.Context, h HTTPSConfig, pf platform.Platform, ln net.Listener, log *slog.Logger) (net.Listener, error) {
	m, err := certs.New(certs.Config{
		Domains:     h.Domains,
		Email:       h.Email,
		CA:          h.CA,
		CARoot:      h.CARoot,
		Dir:         h.CertDir,
		HTTPPort:    h.HTTPPort,
		HTTPSPort:   h.HTTPSPort,
		Challenges:  h.Challenges,
		OnDemandAsk: h.OnDemandAsk,
		Log:         log,
	})
	if err != nil {
		return nil, err
	}
	hln, err := listen(h.HTTPPort, "--http-port")
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
	if err := m.Start(ctx); err != nil {
		// Only a failure to read the storage ends up here; the CA being
		// down does not: certmagic keeps trying in the background.
		log.Warn("https: " + err.Error())
	}
	if pf.TLSTerminated {
		log.Warn(fmt.Sprintf("https: this looks like %s, which terminates TLS in front of the app: its router, not corral, receives the TLS connections; use the platform's own HTTPS", pf.Title))
	}
	if pf.EphemeralDisk {
		log.Warn(fmt.Sprintf("https: %s's disk does not outlive a deploy: certificates in %s will be requested again after each one (Let's Encrypt allows 5 duplicates a week); put --cert-dir on a persistent volume", pf.Title, h.CertDir))
	}
	names := strings.Join(m.Domains(), ", ")
	if h.OnDemandAsk != "" {
		names = strings.TrimPrefix(names+", and names "+h.OnDemandAsk+" approves", ", ")
	}
	log.Info(fmt.Sprintf("edge: HTTPS on port %d for %s (certificates in %s); port %d redirects to HTTPS", h.HTTPSPort, names, h.CertDir, h.HTTPPort))
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
