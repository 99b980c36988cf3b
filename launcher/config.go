// Package launcher turns a Config and the app's Procfile into a running
// formation: it loads and checks everything first, runs the release phase,
// starts every instance, and owns the lifecycle from there (exits, restarts,
// signals, shutdown). The parts it drives live in sub-packages: process
// (one supervised child), output (the merged log stream), envfile (.env
// files), platform (which host this is).
package launcher

import (
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/corral-run/corral/launcher/output"
)

// Toggle is a setting that is on, off, or decided by corral.
type Toggle int

// Toggle values.
const (
	Auto Toggle = iota
	On
	Off
)

// Config is everything the launcher needs, gathered by the command line.
// Relative paths are relative to Dir.
type Config struct {
	Dir string // the app directory; commands run there
	// Procfile is the Procfile's path; "" means Dir's Procfile, and when
	// there is none, what buildpack.Detect makes of the app.
	Procfile  string
	EnvFiles  []string // env files, later ones winning; nil means ".env" if it exists, but not on a platform (appenv.Files)
	Formation string   // formation spec, e.g. "web=2,worker=1"
	Types     []string // if not empty, run only these process types
	Port      int      // the public port, $PORT
	// Command, when not empty, is the web command: the words given after
	// "--" (corral start -- gunicorn app.wsgi), as the shell that started
	// corral made them. It replaces the Procfile's web line, or what
	// detection would run; the Procfile's other types still run.
	Command []string
	// Executable is the running corral binary (os.Executable), which a
	// Procfile line may name by a path or another name; "" knows corral
	// by its name only.
	Executable string
	// CompareFlags, when set, reads corral start's flags in args (those
	// of corral's own line in the Procfile) with the command line's
	// parser and says how they differ from this run's own, one item per
	// flag: the launcher reports it, but reads no flag itself.
	CompareFlags func(args []string) (differ []string, err error)
	// Timeout is the shutdown budget, from SIGTERM to exit; 0 means a
	// little under the platform's grace period (sizing.Timeout).
	Timeout time.Duration
	Restart bool // restart crashed processes instead of stopping everything
	Edge    EdgeConfig

	// SysRoot is where /proc and /sys are read from ("" is "/"): tests
	// give fake cgroup trees.
	SysRoot string
	// MemoryLimit and CPUs, when positive, replace the limits corral
	// detects (cgroups, else the host's).
	MemoryLimit int64
	CPUs        float64
	// MemoryGuard is the share of the memory limit, in percent, the app's
	// processes may use before the web instance using the most is
	// recycled; 0 turns the guard off.
	MemoryGuard int
	// MaxMemoryPerInstance, if positive, recycles a web instance whose
	// processes use more, as uWSGI's reload-on-rss does.
	MaxMemoryPerInstance int64
	// IdleStop, if positive, stops the web instances after that long
	// without a request; the next request starts them again.
	IdleStop time.Duration
	// Admin, if not empty, is the address (ParseAdmin's) of the admin
	// listener: Prometheus metrics on /metrics and a status page on /.
	Admin string

	// Terminal says Stdout is a terminal: then prefixes are coloured (unless
	// NO_COLOR is set) and, by default, lines are stamped with the time.
	Terminal   bool
	Timestamps Toggle // Auto: on a terminal, unless a PaaS is detected
	// LogFormat is output.Text (foreman's prefixed lines) or output.JSON
	// (one JSON object per line, for a log drain).
	LogFormat output.Format

	// Environ is corral's own environment, "KEY=value". It wins over env
	// files and is the only place the launcher learns about the host.
	Environ []string

	Stdout  io.Writer        // where all output goes
	Signals <-chan os.Signal // SIGINT, SIGTERM delivered to corral
	// Bound, if not nil, is called once the edge has bound the public
	// port (at once without an edge), before anything is started: the
	// moment to have stop signals delivered to Signals. The first
	// signal.Notify waits for the runtime to start a thread of its own
	// for signal masks, which a port scan would otherwise wait for too;
	// until then a signal's default action ends corral, which has
	// started nothing. An error ends the run there.
	Bound func() error
}

// EdgeConfig configures the edge proxy that owns the public port and
// routes to the web instances. Zero values take the edge's defaults.
type EdgeConfig struct {
	Disabled bool // --no-edge: web binds $PORT itself, as with foreman
	// Static maps URL prefixes to directories the edge serves itself
	// ("/static/=staticfiles"); empty means: find a Django app's STATIC_ROOT.
	Static []string
	// Internal maps URL prefixes to directories ("/protected/=private_media")
	// whose files the edge sends in place of an app's response that names
	// one (X-Accel-Redirect, X-Sendfile), as nginx's `internal` locations;
	// a client's own request under one gets 404.
	Internal []string
	// SPA answers a path with no file and no extension with the index.html
	// of a detected static site, for apps that route in the browser.
	SPA             bool
	BootWait        time.Duration
	MaxBody         int64
	UpstreamTimeout time.Duration
	// Address is the address the edge's public ports are bound to (the
	// HTTP port, or with HTTPS the HTTPS and HTTP ports); the zero Addr
	// is every address of the host.
	Address netip.Addr
	// TrustedProxies are the peers whose X-Forwarded-* headers are
	// believed. nil means the default: every peer on a detected PaaS
	// (its router, which terminates TLS, is the only way in), none
	// elsewhere; an empty slice means none.
	TrustedProxies []netip.Prefix
	HealthPath     string // the edge's own health endpoint
	ReadyPath      string // if set, an instance is ready when GET ReadyPath answers < 500
	NoAccessLog    bool
	// AllowUnderscoreHeaders lets request headers with an underscore in
	// their name reach the app (edge.Config's field says why they do not).
	AllowUnderscoreHeaders bool
	// MaxRequests, if positive, replaces a web instance (as a reload does)
	// once it has served that many requests plus up to MaxRequestsJitter,
	// as gunicorn's max_requests does for its workers: a cure for leaks.
	MaxRequests       int
	MaxRequestsJitter int
	// CacheSize bounds the response cache (package httpcache), which
	// holds the GET responses the app marks cacheable for shared caches:
	// 0 sizes it from the memory limit (sizing.CacheSize), below 0 turns
	// it off. CacheMaxObject bounds one response; 0 derives it from the
	// size (sizing.CacheObject).
	CacheSize      int64
	CacheMaxObject int64
	// HTTPS, when it names domains or allows on-demand certificates,
	// makes the edge serve HTTPS with certificates from ACME instead of
	// plain HTTP on $PORT.
	HTTPS HTTPSConfig
}

// HTTPSConfig configures automatic HTTPS (package certs).
type HTTPSConfig struct {
	Domains     []string
	Email       string // the ACME account's contact
	CA          string // ACME directory URL, or production/staging
	CARoot      string // PEM roots to trust for the CA's own HTTPS
	CertDir     string
	HTTPSPort   int      // TLS, HTTP/2 and HTTP/1.1
	HTTPPort    int      // ACME HTTP-01 challenges, and redirects to HTTPS
	Challenges  []string // ACME challenge types; none: all
	OnDemandAsk string   // allows certificates for names the ask URL approves
	HSTS        string   // Strict-Transport-Security value; empty: none
	// Storage is the URL of a storage several hosts share (Redis or
	// Postgres, package certstore); empty: CertDir alone.
	Storage       string
	StorageLease  time.Duration // how long a storage lock outlives its holder's last renewal; 0: certstore's default
	CheckInterval time.Duration // how often certificates are checked for renewal; 0: certmagic's
}

// Enabled reports whether the edge serves HTTPS.
func (h HTTPSConfig) Enabled() bool { return len(h.Domains) > 0 || h.OnDemandAsk != "" }

// DefaultPort is the public port when neither $PORT nor --port says.
const DefaultPort = 5000
