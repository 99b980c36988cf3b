// Package certs obtains and renews the edge's TLS certificates with ACME,
// as Caddy does, through certmagic: certificates for the names the user
// gives, kept in a directory across restarts (or in a storage several
// hosts share, package certstore), renewed before they expire, and, when
// an ask URL allows it, obtained on demand for names first seen in a TLS
// handshake. It serves no traffic itself: the launcher's edge uses its TLS
// configuration and its HTTP-01 challenge handler.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/corral-run/corral/launcher/certstore"
	"go.uber.org/zap"
)

// The CA shortcuts --acme-ca accepts.
const (
	LetsEncrypt        = "https://acme-v02.api.letsencrypt.org/directory"
	LetsEncryptStaging = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// Config says what to manage and how to reach the CA.
type Config struct {
	Domains []string // names to manage from the start
	Email   string   // the ACME account's contact; may be empty
	CA      string   // the CA's directory URL, or "production"/"staging"; "" is Let's Encrypt
	CARoot  string   // a PEM file of roots to trust for the CA's own HTTPS (Pebble, a private CA)
	Dir     string   // where certificates, keys and the account are kept (with Storage: a copy of those this host serves)

	// Storage, if set, is the URL of a storage several hosts share
	// (certstore.Open): certificates, keys, the ACME account, challenge
	// tokens and locks are kept there. Dir then keeps this host's copy
	// of the certificates it serves, so that a restart while the storage
	// is down still serves HTTPS.
	Storage string
	// Lease is how long a storage lock outlives its holder's last
	// renewal (certstore.Options); 0 is certstore.DefaultLease.
	Lease time.Duration
	// CheckInterval is how often the certificates are checked for
	// renewal, and for a renewal another host stored; 0 is certmagic's
	// (10 minutes).
	CheckInterval time.Duration
	// ListenHost is the address the edge's ports are bound to ("": all).
	// certmagic tries to listen there for a challenge, finds the edge
	// holding the port, and leaves the challenge to it.
	ListenHost string

	// The ports the CA's validation reaches: HTTP-01 on HTTPPort, TLS-ALPN-01
	// on HTTPSPort. The edge listens on both, so certmagic solves the
	// challenges through them rather than through listeners of its own.
	HTTPPort, HTTPSPort int
	// Challenges are the ACME challenge types to use: "http-01",
	// "tls-alpn-01"; empty means both.
	Challenges []string

	// OnDemandAsk, if set, enables certificates for names not in Domains:
	// one is requested for a name only when GET OnDemandAsk?domain=NAME
	// answers 200.
	OnDemandAsk string

	Log *slog.Logger
}

// Manager is the running certificate management.
type Manager struct {
	cfg       *certmagic.Config // manages the names given
	handshake *certmagic.Config // serves handshakes: cfg, or one that decides on demand
	issuer    *certmagic.ACMEIssuer
	askIssuer *certmagic.ACMEIssuer // handshake's, when it is not cfg
	cache     *certmagic.Cache
	store     certstore.Store // with Config.Storage; nil for the file system
	shown     string          // where the certificates are, for messages (a URL without its password)
	domains   []string
	log       *slog.Logger

	cancel   context.CancelFunc // ends the managing goroutines
	managing sync.WaitGroup     // a goroutine per name of Domains, until its certificate is loaded or obtained

	mu       sync.Mutex
	obtained map[string]bool // names whose certificate this run obtained or renewed
	seen     map[string]bool // names with a certificate loaded or obtained, on demand ones too (Expiries)
}

// New checks c and prepares the management; nothing is requested until
// Start.
func New(c Config) (*Manager, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	var domains []string
	for _, d := range c.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if err := checkDomain(d); err != nil {
			return nil, fmt.Errorf("--domain %q: %w", d, err)
		}
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 && c.OnDemandAsk == "" {
		return nil, errors.New("no --domain to get a certificate for")
	}
	ca, err := caURL(c.CA)
	if err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if c.CARoot != "" {
		pem, err := os.ReadFile(c.CARoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", c.CARoot)
		}
	}
	var ask *url.URL
	if c.OnDemandAsk != "" {
		if ask, err = url.Parse(c.OnDemandAsk); err != nil || (ask.Scheme != "http" && ask.Scheme != "https") || ask.Host == "" {
			return nil, fmt.Errorf("--on-demand-ask %q: not an http(s) URL", c.OnDemandAsk)
		}
	}
	disable := map[string]bool{"http-01": true, "tls-alpn-01": true}
	for _, ch := range c.Challenges {
		if _, ok := disable[ch]; !ok {
			return nil, fmt.Errorf("--acme-challenges: %q is not http-01 or tls-alpn-01", ch)
		}
		disable[ch] = false
	}
	if len(c.Challenges) == 0 {
		disable = map[string]bool{}
	}
	if c.Dir == "" {
		return nil, errors.New("no certificate directory (--cert-dir)")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("--cert-dir: %w", err)
	}

	m := &Manager{domains: domains, log: c.Log, shown: c.Dir, cancel: func() {}, obtained: make(map[string]bool), seen: make(map[string]bool)}
	var storage, local certmagic.Storage = &certmagic.FileStorage{Path: c.Dir}, nil
	if c.Storage != "" {
		if m.store, err = certstore.Open(c.Storage, certstore.Options{Lease: c.Lease, Log: c.Log}); err != nil {
			return nil, fmt.Errorf("--storage: %w", err)
		}
		m.shown = m.store.String()
		storage, local = m.store, &certmagic.FileStorage{Path: c.Dir}
	}
	// Two configurations on one cache: certmagic's ManageAsync only
	// allow-lists names on a configuration with OnDemand set, so the names
	// given are managed (loaded, obtained, renewed) by one without it, and
	// handshakes go through the one that may also decide on demand.
	var managed, handshake *certmagic.Config
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(cert certmagic.Certificate) (*certmagic.Config, error) {
			if slices.ContainsFunc(cert.Names, func(n string) bool { return slices.Contains(domains, n) }) {
				return managed, nil
			}
			return handshake, nil
		},
		RenewCheckInterval: c.CheckInterval,
		Logger:             zap.NewNop(),
	})
	newConfig := func(onDemand *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		cfg := certmagic.New(m.cache, certmagic.Config{
			Storage:    storage,
			LocalCache: local,
			Logger:     zap.NewNop(),
			OnEvent:    m.event,
			OnDemand:   onDemand,
		})
		iss := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
			CA:                      ca,
			Email:                   c.Email,
			Agreed:                  true,
			TrustedRoots:            roots,
			AltHTTPPort:             c.HTTPPort,
			AltTLSALPNPort:          c.HTTPSPort,
			ListenHost:              c.ListenHost,
			DisableHTTPChallenge:    disable["http-01"],
			DisableTLSALPNChallenge: disable["tls-alpn-01"],
			Logger:                  zap.NewNop(),
		})
		cfg.Issuers = []certmagic.Issuer{iss}
		return cfg, iss
	}
	managed, m.issuer = newConfig(nil)
	handshake = managed
	if ask != nil {
		handshake, m.askIssuer = newConfig(&certmagic.OnDemandConfig{DecisionFunc: m.decide(ask, roots)})
	}
	m.cfg, m.handshake = managed, handshake
	return m, nil
}

// Domains returns the names managed from the start.
func (m *Manager) Domains() []string { return m.domains }

// Storage says where the certificates are kept: the directory, or the
// shared storage's URL with its password hidden.
func (m *Manager) Storage() string { return m.shown }

// Start loads the stored certificates and obtains or renews the others in
// the background: it waits neither for the CA nor for the storage, so the
// edge serves at once (HTTP at least; HTTPS for the names that have a
// certificate).
func (m *Manager) Start(ctx context.Context) {
	ctx, m.cancel = context.WithCancel(ctx)
	for _, d := range m.domains {
		m.managing.Go(func() { m.manage(ctx, d) })
	}
}

// The waits between two tries to load or obtain a certificate when the
// storage fails: doubling from the first to the last.
const (
	firstRetry = time.Second
	lastRetry  = time.Minute
)

// manage loads the certificate for name, or obtains it, and leaves it to
// certmagic's maintenance, which renews it. This is certmagic's
// ManageAsync, but for a storage that does not answer: ManageAsync gives
// up on a name it cannot load and logs nothing (its logger is off), where
// this says why HTTPS is pending and tries again with backoff until the
// storage is back.
func (m *Manager) manage(ctx context.Context, name string) {
	wait := firstRetry
	for {
		err := m.load(ctx, name)
		if err == nil || ctx.Err() != nil {
			return
		}
		m.log.Warn(fmt.Sprintf("https: certificate for %s pending: %v; retrying in %v, HTTP keeps serving", name, err, wait))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, lastRetry)
	}
}

// load puts the certificate for name in the cache: the stored one, or
// one obtained now. Obtaining takes the storage's issuance lock: a host
// that waited for it while another obtained the certificate finds that
// one stored, and asks the CA for nothing. certmagic retries the CA's
// errors itself (and says so, by event); what comes back here is the
// storage's.
func (m *Manager) load(ctx context.Context, name string) error {
	cert, err := m.cfg.CacheManagedCertificate(ctx, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := m.cfg.ObtainCertAsync(ctx, name); err != nil {
			return err
		}
		_, err = m.cfg.CacheManagedCertificate(ctx, name)
		return err
	case err != nil:
		return err
	case cert.NeedsRenewal(m.cfg):
		// A copy that has waited long (a host down for weeks, or this
		// host's local copy of a certificate another host renewed):
		// certmagic's maintenance reloads it when the storage has a
		// newer one, else renews it.
		return m.cache.RenewManagedCertificates(ctx)
	}
	return nil
}

// Expiries returns when the certificate of each name expires: the names
// given, and those obtained on demand since the start. A name with no
// certificate yet has the zero time. With several certificates for a
// name (one just renewed), the latest expiry counts: it is the one served.
func (m *Manager) Expiries() map[string]time.Time {
	m.mu.Lock()
	names := slices.Clone(m.domains)
	for n := range m.seen {
		if !slices.Contains(m.domains, n) {
			names = append(names, n)
		}
	}
	m.mu.Unlock()
	out := make(map[string]time.Time, len(names))
	for _, n := range names {
		var latest time.Time
		for _, c := range m.cache.AllMatchingCertificates(n) {
			if c.Leaf != nil && c.Leaf.NotAfter.After(latest) {
				latest = c.Leaf.NotAfter
			}
		}
		out[n] = latest
	}
	return out
}

// Stop ends the renewals, and the tries to load or obtain a certificate,
// releases the storage's locks this host holds and closes the storage.
func (m *Manager) Stop() {
	m.cancel()
	m.managing.Wait()
	m.cache.Stop()
	if m.store != nil {
		m.store.Close()
	}
}

// TLSConfig is the configuration of the HTTPS listener: certificates from
// the manager, TLS 1.2 or later, HTTP/2 and HTTP/1.1 by ALPN, and the
// TLS-ALPN-01 challenge.
func (m *Manager) TLSConfig() *tls.Config {
	t := m.handshake.TLSConfig()
	t.MinVersion = tls.VersionTLS12
	t.NextProtos = append([]string{"h2", "http/1.1"}, t.NextProtos...)
	return t
}

// HTTPHandler answers the CA's HTTP-01 challenges and passes every other
// request to next.
func (m *Manager) HTTPHandler(next http.Handler) http.Handler {
	if m.askIssuer != nil {
		next = m.askIssuer.HTTPChallengeHandler(next)
	}
	return m.issuer.HTTPChallengeHandler(next)
}

// event turns certmagic's events into the log lines a user needs: what is
// being requested, what was obtained, and why HTTPS is still pending.
func (m *Manager) event(_ context.Context, name string, data map[string]any) error {
	id, _ := data["identifier"].(string)
	switch name {
	case "cached_managed_cert":
		sans, _ := data["sans"].([]string)
		m.mu.Lock()
		fresh := slices.ContainsFunc(sans, func(n string) bool { return m.obtained[n] })
		for _, n := range sans {
			m.seen[n] = true
		}
		m.mu.Unlock()
		if !fresh { // one just obtained is loaded too: that was said
			m.log.Info(fmt.Sprintf("https: using the stored certificate for %s", strings.Join(sans, ", ")))
		}
	case "cert_obtaining":
		m.log.Info("https: requesting a certificate for " + id)
	case "cert_obtained":
		what := "obtained"
		if renewal, _ := data["renewal"].(bool); renewal {
			what = "renewed"
		}
		m.mu.Lock()
		m.obtained[id] = true
		m.seen[id] = true
		m.mu.Unlock()
		m.log.Info(fmt.Sprintf("https: certificate for %s %s", id, what))
	case "cert_failed":
		m.log.Warn(fmt.Sprintf("https: certificate for %s pending: %v; retrying with backoff, HTTP keeps serving", id, data["error"]))
	}
	return nil
}

// decide is the on-demand DecisionFunc: the names of Domains are allowed,
// any other only if the ask URL answers 200 for it.
func (m *Manager) decide(ask *url.URL, roots *x509.CertPool) func(context.Context, string) error {
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, name string) error {
		if slices.Contains(m.domains, name) {
			return nil
		}
		if checkDomain(name) != nil {
			return fmt.Errorf("on-demand: %q is not a domain name", name)
		}
		u := *ask
		q := u.Query()
		q.Set("domain", name)
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			m.log.Warn(fmt.Sprintf("https: on-demand certificate for %s refused: the ask URL failed: %v", name, err))
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			m.log.Info(fmt.Sprintf("https: on-demand certificate for %s refused: %s answered %d", name, ask.Redacted(), resp.StatusCode))
			return fmt.Errorf("on-demand: %s answered %d for %s", ask.Redacted(), resp.StatusCode, name)
		}
		return nil
	}
}

// caURL expands the CA shortcuts and checks a URL.
func caURL(ca string) (string, error) {
	switch ca {
	case "", "production", "letsencrypt":
		return LetsEncrypt, nil
	case "staging":
		return LetsEncryptStaging, nil
	}
	u, err := url.Parse(ca)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("--acme-ca %q: want an https:// ACME directory URL, or production or staging", ca)
	}
	return ca, nil
}

// checkDomain accepts a DNS name an ACME CA can validate over HTTP or TLS:
// no IP address, port, scheme, path or wildcard.
func checkDomain(d string) error {
	switch {
	case d == "":
		return errors.New("empty name")
	case strings.Contains(d, "://"), strings.ContainsAny(d, "/:@ "):
		return errors.New("a bare domain name is wanted (no scheme, port or path)")
	case strings.HasPrefix(d, "*."):
		return errors.New("wildcard certificates need the DNS challenge, which corral does not do")
	case net.ParseIP(d) != nil:
		return errors.New("an IP address: ACME certificates are for domain names")
	case len(d) > 253:
		return errors.New("longer than 253 characters")
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("bad label %q", l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("bad character %q in label %q", c, l)
			}
		}
	}
	return nil
}
