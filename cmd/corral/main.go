// Command corral runs a web app in production from one command: it reads the
// app's Procfile and $PORT, like Heroku or Render, and runs the whole process
// formation.
//
// This file is only the command line: it turns flags and environment
// variables into a launcher.Config and hands over.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher"
	"github.com/corral-run/corral/launcher/control"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/output"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}

// run is main, minus os.Exit.
func run(args, environ []string, stdout, stderr io.Writer) int {
	app := newApp(environ, stdout, stderr)
	unknown := ""
	app.CommandNotFound = func(_ *cli.Context, name string) { unknown = name }
	args, inv := cutCommand(args)
	app.Metadata = map[string]any{invocationKey: inv}
	args, err := flagsFirst(app, args)
	if err != nil {
		printErrors(stderr, err)
		return 2
	}
	err = app.Run(args)
	if unknown != "" {
		fmt.Fprintf(stderr, "corral: unknown command %q (the commands are start, run, check and version; see corral --help)\n", unknown)
		return 2
	}
	if err == nil {
		return 0
	}
	var exit cli.ExitCoder
	if errors.As(err, &exit) {
		if msg := err.Error(); msg != "" {
			printErrors(stderr, err)
		}
		return exit.ExitCode()
	}
	printErrors(stderr, err)
	return 2 // usage: a bad flag or value
}

// flagsFirst moves the flags that follow a command's arguments before
// them, as urfave/cli reads flags only up to the first argument: corral
// restart web -d app is corral restart -d app web (and those of a
// subcommand, after it: corral export systemd). Every command reads
// its flags wherever they are but run, whose arguments are the one-off
// command's own, and what follows "--" stays as it is ("--" is never a
// flag's value, so -d -- is a -d without one). A flag it does
// not know is moved all the same, for the command to refuse by name.
func flagsFirst(app *cli.App, args []string) ([]string, error) {
	if len(args) < 3 {
		return args, nil
	}
	cmd, head := app.Command(args[1]), 2
	if cmd == nil || cmd.Name == "run" {
		return args, nil
	}
	if sub := cmd.Command(args[2]); sub != nil { // corral export systemd
		cmd, head = sub, 3
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		if v, ok := f.(cli.DocGenerationFlag); ok {
			for _, n := range f.Names() {
				takesValue[n] = v.TakesValue()
			}
		}
	}
	var flags, rest []string
	in := args[head:]
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			rest = append(rest, in[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		if name := strings.TrimLeft(a, "-"); takesValue[name] && !strings.Contains(name, "=") {
			if i+1 == len(in) || in[i+1] == "--" {
				// Moved, it would take the first argument (or the "--"
				// that ends corral's flags) for its value.
				return nil, fmt.Errorf("flag needs an argument: -%s (see corral %s --help)", name, strings.Join(args[1:head], " "))
			}
			i++
			flags = append(flags, in[i])
		}
	}
	return slices.Concat(args[:head], flags, rest), nil
}

// invocation is what corral start (or check) was given around its flags:
// its arguments before "--", as given, and the web command after it.
type invocation struct {
	args, command []string
	dashes        bool // there was a "--", perhaps with nothing after it
}

// invocationKey holds the invocation in the cli.App's Metadata.
const invocationKey = "invocation"

// cutCommand cuts the command after "--" off the arguments of corral
// start and check (corral start -- gunicorn app.wsgi): it is the web
// process's, not corral's, and urfave/cli would read it as process types.
// corral run's "--" stays: what follows is the one-off command.
func cutCommand(args []string) ([]string, invocation) {
	if len(args) < 3 || args[1] != "start" && args[1] != "check" {
		return args, invocation{}
	}
	i := slices.Index(args[2:], "--")
	if i < 0 {
		return args, invocation{args: args[2:]}
	}
	return args[:2+i], invocation{args: args[2 : 2+i], command: args[3+i:], dashes: true}
}

// startFlags are the flags of corral start, and of corral check, which
// prints what start would run.
func startFlags() []cli.Flag {
	return quickNames(slices.Concat(appFlags(), runFlags(), machineFlags(), edgeFlags()))
}

// compareStartFlags says how the corral start flags in line (those of
// corral's own line in the Procfile) differ from own, this corral's: one
// item per flag, "--idle-stop 10m (here: not set)". Both are read with
// corral start's flags, so -t 10 is --timeout=10 and the order does not
// matter; process types and environment variables are left out.
func compareStartFlags(app *cli.App, env, own, line []string) ([]string, error) {
	lv, err := startFlagValues(app, line)
	if err != nil {
		return nil, err
	}
	ov, err := startFlagValues(app, own)
	if err != nil {
		return nil, nil // this corral's own were read already: a check's, say
	}
	// A flag set on one side only is compared with its variable on the
	// other, which both corrals read: CORRAL_IDLE_STOP=10m here is the
	// platform's --idle-stop 10m.
	value := func(set map[string]string, name string) (v, shown string) {
		if v, ok := set[name]; ok {
			return v, v
		}
		for _, f := range startFlags() {
			if d, ok := f.(cli.DocGenerationFlag); ok && f.Names()[0] == name {
				for _, e := range d.GetEnvVars() {
					if v, ok := environ.Lookup(env, e); ok && v != "" {
						return v, v + " from $" + e
					}
				}
			}
		}
		return "", "not set"
	}
	var names []string
	for n := range lv {
		names = append(names, n)
	}
	for n := range ov {
		if _, ok := lv[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var differ []string
	for _, n := range names {
		l, lShown := value(lv, n)
		o, oShown := value(ov, n)
		if l != o {
			differ = append(differ, fmt.Sprintf("--%s %s (here: %s)", n, lShown, oShown))
		}
	}
	return differ, nil
}

// startFlagValues returns the corral start flags args set, each under its
// first name, with its value.
func startFlagValues(app *cli.App, args []string) (map[string]string, error) {
	moved, err := flagsFirst(app, append([]string{"corral", "start"}, args...))
	if err != nil {
		return nil, err
	}
	set := flag.NewFlagSet("start", flag.ContinueOnError)
	set.SetOutput(io.Discard)
	first := map[string]string{}
	for _, f := range startFlags() {
		if err := f.Apply(set); err != nil {
			return nil, err
		}
		for _, n := range f.Names() {
			first[n] = f.Names()[0]
		}
	}
	if err := set.Parse(moved[2:]); err != nil {
		return nil, err
	}
	values := map[string]string{}
	set.Visit(func(f *flag.Flag) { values[first[f.Name]] = f.Value.String() })
	return values, nil
}

// printErrors prints each of the errors joined in err on its own line.
func printErrors(w io.Writer, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(w, "corral: "+line)
	}
}

func newApp(environ []string, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "corral",
		Usage:   "run a web app's Procfile formation in production, from one command",
		Version: version(),
		Writer:  stdout, ErrWriter: stderr,
		HideVersion:    true,
		ExitErrHandler: func(*cli.Context, error) {}, // run prints errors itself
		OnUsageError:   usageError,
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(stderr, "corral: unknown command %q; see corral --help\n", name)
		},
		// Its own --version prints what corral version does.
		Flags: []cli.Flag{&cli.BoolFlag{Name: "version", Usage: "print corral's version, as corral version does"}},
		Action: func(c *cli.Context) error {
			switch {
			case c.Bool("version"):
				fmt.Fprintln(stdout, readBuildInfo())
				return nil
			case c.NArg() > 0: // corral foo: CommandNotFound, as without an Action
				return cli.ShowCommandHelp(c, c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			{
				Name:         "start",
				OnUsageError: usageError,
				Usage:        "run the app's process formation (all types, or only those named); with -- COMMAND, COMMAND is the web process",
				ArgsUsage:    "[TYPE...] [-- COMMAND [ARGS...]]",
				Flags:        startFlags(),
				Action: func(c *cli.Context) error {
					cfg, err := config(c, environ, stdout)
					if err != nil {
						return err
					}
					cfg.Types = c.Args().Slice()
					sigs, pipes := make(chan os.Signal, 4), make(chan os.Signal, 1)
					cfg.Signals = sigs
					// Once the port is bound (see Config.Bound).
					cfg.Bound = func() error {
						// SIGHUP (the terminal went away) stops like SIGTERM.
						signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
						// Handling SIGPIPE turns a write to a closed stdout into
						// an error the launcher acts on, instead of a sudden
						// death that would orphan the app. (Notify, not Ignore:
						// an ignored signal would stay ignored in the children.)
						signal.Notify(pipes, syscall.SIGPIPE)
						if err := stopWithParent(environ); err != nil { // SIGTERM is handled now
							return fmt.Errorf("PR_SET_PDEATHSIG: %v", err)
						}
						return nil
					}
					defer signal.Stop(sigs)
					defer signal.Stop(pipes)
					code, err := launcher.Run(context.Background(), cfg)
					var exit *launcher.ExitError
					if errors.As(err, &exit) {
						return cli.Exit(err, exit.Code) // a corral start that would run itself: 126
					}
					if err != nil {
						return cli.Exit(err, 1)
					}
					return cli.Exit("", code)
				},
			},
			{
				Name:         "run",
				OnUsageError: usageError,
				Usage:        "run a one-off command with the app's environment, like heroku run",
				ArgsUsage:    "-- COMMAND [ARGS...]",
				Flags:        appFlags(),
				Action: func(c *cli.Context) error {
					cfg, err := config(c, environ, stdout)
					if err != nil {
						return err
					}
					err = launcher.Exec(cfg, c.Args().Slice())
					var exit *launcher.ExitError
					if errors.As(err, &exit) {
						return cli.Exit(err, exit.Code)
					}
					return cli.Exit(err, 1)
				},
			},
			{
				Name:         "check",
				OnUsageError: usageError,
				Usage:        "check the Procfile, env files and formation, and print what start would run",
				ArgsUsage:    "[-- COMMAND [ARGS...]]",
				Flags:        startFlags(),
				Action: func(c *cli.Context) error {
					_, plan, err := checked(c, environ, stdout)
					if err != nil {
						return err
					}
					return plan.Describe(stdout)
				},
			},
			{
				Name:         "build",
				OnUsageError: usageError,
				Usage:        "run the build steps corral detects (install dependencies, build assets or the binary, collect static files), e.g. as a platform's build command",
				Flags:        append(appFlags(), logFormatFlag()),
				Action: func(c *cli.Context) error {
					cfg, err := config(c, environ, stdout)
					if err != nil {
						return err
					}
					sigs := make(chan os.Signal, 4)
					signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
					defer signal.Stop(sigs)
					cfg.Signals = sigs
					code, err := launcher.Build(context.Background(), cfg)
					if err != nil {
						return cli.Exit(err, 1)
					}
					return cli.Exit("", code)
				},
			},
			{
				Name:         "init",
				OnUsageError: usageError,
				Usage:        "write the Procfile corral detects for an app that has none, to keep and edit",
				Flags:        appFlags()[:1],
				Action: func(c *cli.Context) error {
					path, err := launcher.Init(c.String("dir"))
					if err != nil {
						return cli.Exit(err, 1)
					}
					fmt.Fprintf(stdout, "wrote %s\n", path)
					return nil
				},
			},
			controlCommand(environ, stdout, "ps", "list the running corral's processes: state, pid, uptime, restarts, memory, requests", "",
				&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"}),
			controlCommand(environ, stdout, "restart", "restart processes (web.1) or every process of a type (worker) in the running corral; web instances are replaced one at a time", "NAME|TYPE..."),
			controlCommand(environ, stdout, "scale", "change the running formation: web=3,worker=0 (web instances leaving finish their requests first)", "TYPE=N[,TYPE=N...]"),
			controlCommand(environ, stdout, "reload", "replace the running corral's web instances one at a time and restart the other processes, as SIGHUP does", ""),
			controlCommand(environ, stdout, "stop", "stop the running corral gracefully, as SIGTERM does", ""),
			exportCommand(environ, stdout, stderr),
			{
				Name:  "version",
				Usage: "print corral's version",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(stdout, readBuildInfo())
					return nil
				},
			},
		},
	}
}

func usageError(c *cli.Context, err error, _ bool) error {
	return fmt.Errorf("%s (see corral %s --help)", err, c.Command.Name)
}

// appFlags are the flags that say where the app is and how its
// environment is made.
func appFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dir", Aliases: []string{"d"}, Value: ".", EnvVars: []string{"CORRAL_DIR"},
			Usage: "the app directory: commands run there, and relative paths start there"},
		&cli.StringFlag{Name: "procfile", Aliases: []string{"f"}, EnvVars: []string{"CORRAL_PROCFILE"}, DefaultText: "Procfile; with none, what corral detects",
			Usage: "the Procfile"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, EnvVars: []string{"CORRAL_ENV"},
			Usage: "env `FILE` to load (repeatable; a later file wins; default .env if present, but not on a platform)"},
		&cli.StringFlag{Name: "port", Aliases: []string{"p"}, EnvVars: []string{"CORRAL_PORT", "PORT"},
			Value: strconv.Itoa(launcher.DefaultPort), Usage: "the public port; web.1 gets it, other instances get their own"},
		&cli.StringFlag{Name: "formation", Aliases: []string{"m"}, EnvVars: []string{"CORRAL_FORMATION"},
			Usage: "instances per type, e.g. web=2,worker=1 or all=0,web=1"},
	}
}

// runFlags are the flags of a long-running start.
func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "timeout", Aliases: []string{"t"}, EnvVars: []string{"CORRAL_TIMEOUT"}, DefaultText: "a little under the platform's grace period, else 10s",
			Usage: "shutdown budget, from SIGTERM to exit: in-flight requests finish, then the processes get SIGTERM and, at its end, SIGKILL (seconds, or a duration like 500ms)"},
		&cli.BoolFlag{Name: "restart", EnvVars: []string{"CORRAL_RESTART"},
			Usage: "restart crashed processes with backoff instead of stopping everything"},
		&cli.BoolFlag{Name: "timestamps", EnvVars: []string{"CORRAL_TIMESTAMPS"}, DefaultText: "on a terminal, unless a PaaS is detected",
			Usage: "stamp each line with the time; --timestamps=false turns it off"},
		&cli.StringFlag{Name: "admin", EnvVars: []string{"CORRAL_ADMIN"}, DefaultText: "off",
			Usage: "serve Prometheus metrics (/metrics) and a status page (/) on `ADDR`: a port (9100, on 127.0.0.1) or an address (0.0.0.0:9100); never the public port"},
		logFormatFlag(),
	}
}

// logFormatFlag is --log-format, of every command whose output is the
// run's log stream (start, build).
func logFormatFlag() cli.Flag {
	return &cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"CORRAL_LOG_FORMAT"},
		Usage: "text (web.1 | …), or json: every line of stdout one JSON object, for a log drain (Loki, Datadog…)"}
}

// machineFlags say how corral sizes the app for the machine.
func machineFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "memory-limit", EnvVars: []string{"CORRAL_MEMORY_LIMIT"}, DefaultText: "the cgroup's, else the host's",
			Usage: "the memory the app may use, e.g. 512MiB: sizes WEB_CONCURRENCY and the memory guard"},
		&cli.StringFlag{Name: "cpus", EnvVars: []string{"CORRAL_CPUS"}, DefaultText: "the cgroup's quota, else the host's CPUs",
			Usage: "the CPUs the app may use, e.g. 0.5: sizes WEB_CONCURRENCY"},
		&cli.IntFlag{Name: "memory-guard", Value: 90, EnvVars: []string{"CORRAL_MEMORY_GUARD"},
			Usage: "recycle the web instance using the most memory when the app's processes reach this `PERCENT` of a memory limit (0: off)"},
		&cli.StringFlag{Name: "max-memory-per-instance", EnvVars: []string{"CORRAL_MAX_MEMORY_PER_INSTANCE"},
			Usage: "recycle a web instance whose processes use more than `SIZE`, e.g. 300MiB (like uWSGI's reload-on-rss)"},
		&cli.StringFlag{Name: "idle-stop", EnvVars: []string{"CORRAL_IDLE_STOP"},
			Usage: "stop the web instances after no request for `DURATION` (e.g. 15m); the next request starts them, waiting at the edge meanwhile"},
	}
}

// machineConfig reads the machine flags of c into cfg.
func machineConfig(c *cli.Context, environ []string, cfg *launcher.Config) error {
	bad := func(flag, msg string) error {
		return cli.Exit(fmt.Sprintf("%s %q: %s (from %s)", flag, c.String(flag), msg, source(c, environ, flag, envName(flag))), 2)
	}
	for _, f := range []struct {
		flag string
		dst  *int64
	}{{"memory-limit", &cfg.MemoryLimit}, {"max-memory-per-instance", &cfg.MaxMemoryPerInstance}} {
		if v := c.String(f.flag); v != "" {
			n, err := edge.ParseSize(v)
			if err != nil {
				return bad(f.flag, err.Error())
			}
			if n < 1<<20 {
				return bad(f.flag, "less than 1 MiB: give a unit, e.g. 512MiB")
			}
			*f.dst = n
		}
	}
	if v := c.String("cpus"); v != "" {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n <= 0 || n > 4096 {
			return bad("cpus", "want a positive number of CPUs, e.g. 0.5 or 2")
		}
		cfg.CPUs = n
	}
	cfg.MemoryGuard = c.Int("memory-guard")
	if cfg.MemoryGuard < 0 || cfg.MemoryGuard > 100 {
		return cli.Exit(fmt.Sprintf("memory-guard %d: want a percentage from 1 to 100, or 0 for off (from %s)", cfg.MemoryGuard, source(c, environ, "memory-guard", envName("memory-guard"))), 2)
	}
	if v := c.String("idle-stop"); v != "" {
		d, err := parseTimeout(v)
		if err == nil && d == 0 {
			err = errors.New("must be positive (leave it out for never)")
		}
		if err != nil {
			return bad("idle-stop", err.Error())
		}
		cfg.IdleStop = d
	}
	return nil
}

// edgeFlags configure the edge proxy in front of the web instances.
func edgeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "no-edge", EnvVars: []string{"CORRAL_NO_EDGE"},
			Usage: "no edge proxy: web binds $PORT itself, as under foreman"},
		&cli.StringFlag{Name: "address", EnvVars: []string{"CORRAL_ADDRESS"}, DefaultText: "every address",
			Usage: "the `IP` address of this host the edge's public ports are bound to ($PORT, or --https-port and --http-port)"},
		&cli.StringSliceFlag{Name: "static", EnvVars: []string{"CORRAL_STATIC"},
			Usage: "serve static files at the edge: `PREFIX=DIR`, e.g. /static/=staticfiles (repeatable; default: a Django app's STATIC_URL and STATIC_ROOT)"},
		&cli.StringSliceFlag{Name: "internal", EnvVars: []string{"CORRAL_INTERNAL"},
			Usage: "a directory the edge sends files from when the app names one (X-Accel-Redirect: /protected/…, or X-Sendfile: /abs/path), never to a client's own request: `PREFIX=DIR`, e.g. /protected/=private_media (repeatable)"},
		&cli.BoolFlag{Name: "spa", EnvVars: []string{"CORRAL_SPA"},
			Usage: "for a static site with no Procfile: answer paths with no file and no extension (/users/42) with index.html, for apps that route in the browser"},
		&cli.StringFlag{Name: "boot-wait", Value: "30s", EnvVars: []string{"CORRAL_BOOT_WAIT"},
			Usage: "how long a request waits for a ready web instance before a 503"},
		&cli.StringFlag{Name: "max-body", Value: "32MiB", EnvVars: []string{"CORRAL_MAX_BODY"},
			Usage: "largest request body accepted (larger gets 413), e.g. 10MB, 1GiB"},
		&cli.StringFlag{Name: "cache-size", EnvVars: []string{"CORRAL_CACHE_SIZE"}, DefaultText: "a 32nd of the memory limit, 4-256 MiB",
			Usage: "`SIZE` of memory for the response cache, which keeps the GET responses the app marks cacheable for shared caches (Cache-Control: public, max-age or s-maxage; Expires), e.g. 64MiB; 0: off"},
		&cli.StringFlag{Name: "cache-max-object", EnvVars: []string{"CORRAL_CACHE_MAX_OBJECT"}, DefaultText: "a 16th of --cache-size, at most 8 MiB",
			Usage: "the largest response the cache keeps (`SIZE`); larger ones pass through"},
		&cli.StringFlag{Name: "upstream-timeout", Value: "60s", EnvVars: []string{"CORRAL_UPSTREAM_TIMEOUT"},
			Usage: "how long the edge waits for an instance's response headers before a 504"},
		&cli.StringFlag{Name: "trusted-proxies", EnvVars: []string{"CORRAL_TRUSTED_PROXIES"},
			Usage: "addresses or CIDRs whose X-Forwarded-* headers are believed, comma-separated, or none (default: any peer on a detected PaaS, none elsewhere)"},
		&cli.StringFlag{Name: "health-path", EnvVars: []string{"CORRAL_HEALTH_PATH"},
			Usage: "an instance is ready when GET `PATH` answers below 500 (default: when it answers HEAD / with any status)"},
		&cli.StringFlag{Name: "edge-health-path", Value: "/_corral/health", EnvVars: []string{"CORRAL_EDGE_HEALTH_PATH"},
			Usage: "the edge's own health check: 200 while a web instance is ready, else 503"},
		&cli.BoolFlag{Name: "no-access-log", EnvVars: []string{"CORRAL_NO_ACCESS_LOG"},
			Usage: "no access log line per request"},
		&cli.BoolFlag{Name: "allow-underscore-headers", EnvVars: []string{"CORRAL_ALLOW_UNDERSCORE_HEADERS"},
			Usage: "pass request headers with an underscore in their name (X_Api_Key) to the app; dropped by default, as nginx does, since WSGI/CGI servers merge X_Forwarded_For with X-Forwarded-For and a client could pose as another address or as HTTPS (X-Forwarded-* and the edge's other headers stay dropped in any spelling)"},
		&cli.IntFlag{Name: "max-requests", EnvVars: []string{"CORRAL_MAX_REQUESTS"},
			Usage: "replace a web instance, without downtime, after it has served `N` requests (0: never)"},
		&cli.IntFlag{Name: "max-requests-jitter", EnvVars: []string{"CORRAL_MAX_REQUESTS_JITTER"},
			Usage: "add up to `N` at random to --max-requests, so instances are not all replaced at once"},
		&cli.StringSliceFlag{Name: "domain", EnvVars: []string{"CORRAL_DOMAINS"},
			Usage: "serve HTTPS for `NAME` with a certificate from ACME (repeatable, or comma-separated in $CORRAL_DOMAINS); only where corral receives the raw TCP traffic, not behind a PaaS's TLS"},
		&cli.StringFlag{Name: "acme-email", EnvVars: []string{"CORRAL_ACME_EMAIL"},
			Usage: "contact `EMAIL` of the ACME account (the CA's expiry warnings go there)"},
		&cli.StringFlag{Name: "acme-ca", Value: "production", EnvVars: []string{"CORRAL_ACME_CA"},
			Usage: "ACME directory `URL`, or production or staging (Let's Encrypt's)"},
		&cli.StringFlag{Name: "acme-ca-root", EnvVars: []string{"CORRAL_ACME_CA_ROOT"},
			Usage: "PEM `FILE` of roots to trust for the CA's own HTTPS (Pebble, a private CA)"},
		&cli.StringFlag{Name: "cert-dir", EnvVars: []string{"CORRAL_CERT_DIR"}, DefaultText: "$XDG_DATA_HOME/corral/certs or ~/.local/share/corral/certs",
			Usage: "where certificates and keys are kept across restarts (`DIR`)"},
		&cli.StringFlag{Name: "storage", EnvVars: []string{"CORRAL_STORAGE"}, DefaultText: "--cert-dir alone",
			Usage: "keep certificates, the ACME account and locks in Redis or Postgres, shared by every corral serving the same domains: `URL` redis://[user:password@]host:port/db (rediss:// for TLS) or postgres://[user:password@]host:port/database; --cert-dir then keeps this host's copy"},
		&cli.StringFlag{Name: "storage-lease", Value: "30s", EnvVars: []string{"CORRAL_STORAGE_LEASE"},
			Usage: "with --storage: how long a host's lock on an issuance or renewal outlives its last renewal: another host takes over from one that crashed after this"},
		&cli.StringFlag{Name: "cert-check-interval", Value: "10m", EnvVars: []string{"CORRAL_CERT_CHECK_INTERVAL"},
			Usage: "how often certificates are checked for renewal, and for a renewal another host stored in --storage"},
		&cli.IntFlag{Name: "https-port", Value: 443, EnvVars: []string{"CORRAL_HTTPS_PORT"},
			Usage: "with --domain: the HTTPS port, also where TLS-ALPN-01 challenges arrive"},
		&cli.IntFlag{Name: "http-port", Value: 80, EnvVars: []string{"CORRAL_HTTP_PORT"},
			Usage: "with --domain: the HTTP port, for HTTP-01 challenges and redirects to HTTPS"},
		&cli.StringFlag{Name: "acme-challenges", EnvVars: []string{"CORRAL_ACME_CHALLENGES"}, DefaultText: "http-01,tls-alpn-01",
			Usage: "the ACME challenge types to use, comma-separated: http-01 (needs --http-port reachable), tls-alpn-01 (needs --https-port)"},
		&cli.IntFlag{Name: "hsts-max-age", Value: 31536000, EnvVars: []string{"CORRAL_HSTS_MAX_AGE"},
			Usage: "Strict-Transport-Security max-age of HTTPS responses, in `SECONDS` (0: none)"},
		&cli.BoolFlag{Name: "on-demand", EnvVars: []string{"CORRAL_ON_DEMAND"},
			Usage: "get certificates for names first seen in TLS handshakes (customer domains); needs --on-demand-ask"},
		&cli.StringFlag{Name: "on-demand-ask", EnvVars: []string{"CORRAL_ON_DEMAND_ASK"},
			Usage: "on-demand certificates only for names `URL`?domain=NAME answers 200 for (implies --on-demand)"},
	}
}

// httpsConfig reads the HTTPS flags of c.
func httpsConfig(c *cli.Context, environ []string) (launcher.HTTPSConfig, error) {
	h := launcher.HTTPSConfig{
		Email:       c.String("acme-email"),
		CA:          c.String("acme-ca"),
		CARoot:      c.String("acme-ca-root"),
		CertDir:     c.String("cert-dir"),
		HTTPSPort:   c.Int("https-port"),
		HTTPPort:    c.Int("http-port"),
		OnDemandAsk: c.String("on-demand-ask"),
		Storage:     strings.TrimSpace(c.String("storage")),
	}
	for ch := range strings.SplitSeq(c.String("acme-challenges"), ",") {
		if ch = strings.TrimSpace(ch); ch != "" {
			h.Challenges = append(h.Challenges, strings.ToLower(ch))
		}
	}
	for _, d := range c.StringSlice("domain") {
		if d = strings.TrimSpace(d); d != "" {
			h.Domains = append(h.Domains, d)
		}
	}
	bad := func(flag, msg string) error {
		return cli.Exit(fmt.Sprintf("%s: %s (from %s)", flag, msg, source(c, environ, flag, envName(flag))), 2)
	}
	if c.Bool("on-demand") && h.OnDemandAsk == "" {
		return h, bad("on-demand", "needs --on-demand-ask URL: open on-demand TLS lets anyone make corral request certificates for any name")
	}
	if !h.Enabled() {
		return h, nil
	}
	for _, p := range []string{"https-port", "http-port"} {
		if v := c.Int(p); v < 1 || v > 65535 {
			return h, bad(p, fmt.Sprintf("%d is not a port", v))
		}
	}
	if h.HTTPSPort == h.HTTPPort {
		return h, bad("http-port", fmt.Sprintf("%d is --https-port too", h.HTTPPort))
	}
	for _, d := range []struct {
		flag string
		dst  *time.Duration
	}{{"storage-lease", &h.StorageLease}, {"cert-check-interval", &h.CheckInterval}} {
		v, err := parseTimeout(c.String(d.flag))
		if err == nil && v == 0 {
			err = errors.New("must be positive")
		}
		if err != nil {
			return h, bad(d.flag, fmt.Sprintf("%q: %v", c.String(d.flag), err))
		}
		*d.dst = v
	}
	if n := c.Int("hsts-max-age"); n > 0 {
		h.HSTS = "max-age=" + strconv.Itoa(n)
	} else if n < 0 {
		return h, bad("hsts-max-age", fmt.Sprintf("%d is negative", n))
	}
	if h.CertDir == "" {
		h.CertDir = defaultCertDir(environ)
		if h.CertDir == "" {
			return h, bad("cert-dir", "neither $XDG_DATA_HOME nor $HOME is set: say where certificates are kept")
		}
	}
	return h, nil
}

// defaultCertDir is $XDG_DATA_HOME/corral/certs, else
// ~/.local/share/corral/certs, as the XDG base directory spec has it.
func defaultCertDir(environ []string) string {
	get := func(k string) string {
		for _, kv := range slices.Backward(environ) {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	if d := get("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "corral", "certs")
	}
	if h := get("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "corral", "certs")
	}
	return ""
}

// edgeConfig reads the edge flags of c, if it has them.
func edgeConfig(c *cli.Context, environ []string) (launcher.EdgeConfig, error) {
	var e launcher.EdgeConfig
	if !hasFlag(c, "no-edge") { // run has no edge flags
		return e, nil
	}
	e.Disabled = c.Bool("no-edge")
	e.Static = c.StringSlice("static")
	e.Internal = c.StringSlice("internal")
	e.SPA = c.Bool("spa")
	e.HealthPath = c.String("edge-health-path")
	e.ReadyPath = c.String("health-path")
	e.NoAccessLog = c.Bool("no-access-log")
	if a := strings.TrimSpace(c.String("address")); a != "" {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return e, cli.Exit(fmt.Sprintf("address %q: not an IP address of this host, e.g. 10.0.0.5 or ::1 (from %s)", a, source(c, environ, "address", envName("address"))), 2)
		}
		e.Address = addr.Unmap()
	}
	e.AllowUnderscoreHeaders = c.Bool("allow-underscore-headers")
	e.MaxRequests, e.MaxRequestsJitter = c.Int("max-requests"), c.Int("max-requests-jitter")
	if e.MaxRequests < 0 || e.MaxRequestsJitter < 0 {
		return e, cli.Exit(fmt.Sprintf("--max-requests %d and --max-requests-jitter %d must not be negative", e.MaxRequests, e.MaxRequestsJitter), 2)
	}
	for _, d := range []struct {
		flag string
		dst  *time.Duration
	}{{"boot-wait", &e.BootWait}, {"upstream-timeout", &e.UpstreamTimeout}} {
		v, err := parseTimeout(c.String(d.flag))
		if err != nil {
			return e, cli.Exit(fmt.Sprintf("%s %q: %v (from %s)", d.flag, c.String(d.flag), err, source(c, environ, d.flag, envName(d.flag))), 2)
		}
		*d.dst = v
	}
	size, err := edge.ParseSize(c.String("max-body"))
	if err != nil {
		return e, cli.Exit(fmt.Sprintf("max-body %q: %v (from %s)", c.String("max-body"), err, source(c, environ, "max-body", envName("max-body"))), 2)
	}
	e.MaxBody = size
	for _, f := range []struct {
		flag string
		dst  *int64
	}{{"cache-size", &e.CacheSize}, {"cache-max-object", &e.CacheMaxObject}} {
		v := c.String(f.flag)
		if v == "" {
			continue
		}
		n, err := edge.ParseSize(v)
		if err == nil && n > 0 && n < 64<<10 {
			err = errors.New("less than 64 KiB: give a unit, e.g. 64MiB (0 turns the cache off)")
		}
		if err == nil && n == 0 && f.flag == "cache-max-object" {
			err = errors.New("want a size such as 1MiB (--cache-size 0 turns the cache off)")
		}
		if err != nil {
			return e, cli.Exit(fmt.Sprintf("%s %q: %v (from %s)", f.flag, v, err, source(c, environ, f.flag, envName(f.flag))), 2)
		}
		*f.dst = n
		if n == 0 {
			*f.dst = -1 // launcher.EdgeConfig: below 0 is off, 0 sized by corral
		}
	}
	if tp := c.String("trusted-proxies"); c.IsSet("trusted-proxies") {
		// Set, even to none: no platform default (launcher.EdgeConfig).
		e.TrustedProxies = []netip.Prefix{}
		if tp != "none" {
			e.TrustedProxies, err = edge.ParseTrustedProxies(tp)
		}
	}
	if err != nil {
		return e, cli.Exit(fmt.Sprintf("trusted-proxies %q: %v (from %s)", c.String("trusted-proxies"), err, source(c, environ, "trusted-proxies", envName("trusted-proxies"))), 2)
	}
	for _, f := range []string{"edge-health-path", "health-path"} {
		if p := c.String(f); p != "" && !strings.HasPrefix(p, "/") {
			return e, cli.Exit(fmt.Sprintf("%s %q must start with '/' (from %s)", f, p, source(c, environ, f, envName(f))), 2)
		}
	}
	if e.HTTPS, err = httpsConfig(c, environ); err != nil {
		return e, err
	}
	if e.Disabled && e.HTTPS.Enabled() {
		return e, cli.Exit("--no-edge and --domain/--on-demand-ask: HTTPS is served by the edge", 2)
	}
	return e, nil
}

// hasFlag reports whether c's command defines the flag name. (FlagNames
// lists only the flags that were set.)
func hasFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// envName is the CORRAL_… variable of a flag.
func envName(flag string) string {
	return "CORRAL_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// config turns the flags of c into a launcher.Config.
func config(c *cli.Context, environ []string, stdout io.Writer) (launcher.Config, error) {
	cfg := launcher.Config{
		Dir:       c.String("dir"),
		Procfile:  c.String("procfile"), // "": the app's Procfile, or detection
		Formation: c.String("formation"),
		Restart:   c.Bool("restart"),
		Environ:   environ,
		Stdout:    stdout,
	}
	if c.IsSet("env") {
		cfg.EnvFiles = c.StringSlice("env")
	}
	if name := c.Command.Name; name == "start" || name == "check" {
		inv, _ := c.App.Metadata[invocationKey].(invocation)
		if inv.dashes && len(inv.command) == 0 {
			return cfg, cli.Exit(fmt.Sprintf(`nothing after "--": corral %s -- COMMAND [ARGS...] runs COMMAND as the web process`, name), 2)
		}
		cfg.Command = inv.command
		cfg.Executable, _ = os.Executable()
		cfg.CompareFlags = func(line []string) ([]string, error) { return compareStartFlags(c.App, environ, inv.args, line) }
	}
	port, err := strconv.Atoi(strings.TrimSpace(c.String("port")))
	if err != nil {
		return cfg, cli.Exit(fmt.Sprintf("port %q is not a number (from %s)", c.String("port"), source(c, environ, "port", "CORRAL_PORT", "PORT")), 2)
	}
	cfg.Port = port
	if c.IsSet("timeout") {
		d, err := parseTimeout(c.String("timeout"))
		if err != nil {
			return cfg, cli.Exit(fmt.Sprintf("timeout %q: %v (from %s)", c.String("timeout"), err, source(c, environ, "timeout", "CORRAL_TIMEOUT")), 2)
		}
		cfg.Timeout = max(d, time.Nanosecond) // 0 is "at once", not "decide for me"
	}
	if c.IsSet("timestamps") {
		cfg.Timestamps = launcher.Off
		if c.Bool("timestamps") {
			cfg.Timestamps = launcher.On
		}
	}
	if hasFlag(c, "log-format") {
		if cfg.LogFormat, err = output.ParseFormat(c.String("log-format")); err != nil {
			return cfg, cli.Exit(fmt.Sprintf("log-format %q: want text or json (from %s)", c.String("log-format"), source(c, environ, "log-format", "CORRAL_LOG_FORMAT")), 2)
		}
	}
	if hasFlag(c, "admin") {
		if cfg.Admin, err = launcher.ParseAdmin(c.String("admin")); err != nil {
			return cfg, cli.Exit(fmt.Sprintf("admin %q: %v (from %s)", c.String("admin"), err, source(c, environ, "admin", "CORRAL_ADMIN")), 2)
		}
	}
	if f, ok := stdout.(*os.File); ok {
		cfg.Terminal = term.IsTerminal(int(f.Fd()))
	}
	if hasFlag(c, "memory-guard") {
		if err := machineConfig(c, environ, &cfg); err != nil {
			return cfg, err
		}
	}
	cfg.Edge, err = edgeConfig(c, environ)
	return cfg, err
}

// checked reads the flags of c and loads the app's plan with them, as
// corral check does: an error is the one to exit with.
func checked(c *cli.Context, environ []string, stdout io.Writer) (launcher.Config, *launcher.Plan, error) {
	cfg, err := config(c, environ, stdout)
	if err != nil {
		return cfg, nil, err
	}
	plan, err := launcher.Load(cfg)
	if err != nil {
		return cfg, nil, cli.Exit(err, 1)
	}
	return cfg, plan, nil
}

// parseTimeout accepts whole seconds, as foreman's -t does, or a Go duration.
func parseTimeout(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		s = strconv.Itoa(n) + "s"
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want seconds or a duration like 30s")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return d, nil
}

// source says where a flag's value came from, for error messages: the first
// of its environment variables holding that value, else the flag itself.
func source(c *cli.Context, environ []string, flag string, envVars ...string) string {
	for _, e := range envVars {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, e+"="); ok && v == c.String(flag) {
				return "$" + e
			}
		}
	}
	return "--" + flag
}

// controlCommand is a verb that talks to the corral running the app in
// --dir through its control socket: the request is the verb, name, with
// the command's arguments (a verb that takes none refuses them).
func controlCommand(environ []string, stdout io.Writer, name, usage, args string, flags ...cli.Flag) *cli.Command {
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: args, OnUsageError: usageError,
		Flags: append(appFlags()[:1], flags...),
		Action: func(c *cli.Context) error {
			if args == "" && c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("%s takes no arguments, not %q (see corral %s --help)", name, strings.Join(c.Args().Slice(), " "), name), 2)
			}
			req := control.Request{Verb: name, Args: c.Args().Slice()}
			path, err := launcher.ControlPath(c.String("dir"), environ)
			if err != nil {
				return cli.Exit(err, 1)
			}
			resp, err := control.Call(path, req, 30*time.Second)
			if err != nil {
				return cli.Exit(fmt.Sprintf("%s: %v", name, err), 1)
			}
			if name == "ps" {
				return printPs(stdout, resp.Processes, c.Bool("json"))
			}
			fmt.Fprintln(stdout, resp.Message)
			return nil
		},
	}
}

// printPs writes corral ps's table, or its JSON.
func printPs(w io.Writer, procs []control.Process, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(procs)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tUPTIME\tRESTARTS\tRSS\tWEB_CONCURRENCY\tPORT\tSERVED\tIN FLIGHT")
	for _, p := range procs {
		pid, rss, conc, port, served, inflight := "-", "-", "-", "-", "-", "-"
		if p.Pid > 0 {
			pid = strconv.Itoa(p.Pid)
		}
		if p.RSS > 0 {
			rss = fmt.Sprintf("%.1f MB", float64(p.RSS)/1e6)
		}
		if p.WebConcurrency > 0 {
			conc = strconv.Itoa(p.WebConcurrency)
		}
		if p.Port > 0 {
			port = strconv.Itoa(p.Port)
		}
		if p.Type == "web" && (p.Served > 0 || p.InFlight > 0 || p.Port > 0) {
			served, inflight = strconv.FormatInt(p.Served, 10), strconv.FormatInt(p.InFlight, 10)
		}
		uptime := (time.Duration(p.Uptime) * time.Second).String()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.State, pid, uptime, p.Restarts, rss, conc, port, served, inflight)
	}
	return tw.Flush()
}
