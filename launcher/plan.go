package launcher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/envfile"
	"github.com/corral-run/corral/launcher/platform"
	"github.com/corral-run/corral/launcher/static"
	"github.com/corral-run/corral/procfile"
)

// ReleaseType is the process type that runs once, to completion, before
// everything else, as Heroku's release phase does.
const ReleaseType = "release"

// Instance is one process to run: one of the N instances of a process type.
type Instance struct {
	Name    string // "web.1"
	Type    string // "web"
	Command string
	Line    int // the Procfile line it comes from
	Port    int // its PORT
}

// Plan is what corral will run, fully checked: nothing in it can fail for
// want of a file, a variable, a type or a port number.
type Plan struct {
	// Dir is the app directory, where every command runs: --dir, or the
	// directory below it where detection found the app (Root then says
	// which --dir was given).
	Dir string
	// Root is the directory corral was pointed at when the app is in one
	// below it (a monorepo's backend/): the control socket and the env
	// files stay there. "" when the app is at Dir.
	Root     string
	Procfile *procfile.Procfile
	EnvFiles []string // the env files read, in order
	// IgnoredEnv is the app's .env, not read on a platform (appenv.Files);
	// "" when there is none or it was read.
	IgnoredEnv string
	// Env is the environment shared by every process: corral's own over
	// the env files. InstanceEnv adds the app's directories of commands
	// first in PATH (appenv.WithPath), as each process starts.
	Env []string
	// Defaults are the production defaults of the app detection found,
	// decided on a platform (see setDefaults); the processes but the
	// build steps get those Set.
	Defaults  appenv.Defaults
	Formation map[string]int // instances per process type, after --formation and named types
	Release   *Instance      // nil when there is no release phase to run
	Instances []Instance     // the long-running instances, in start order
	// Edge says the edge proxy owns PublicPort and the web instances get
	// internal ports when they start (their Port is 0 here).
	Edge       bool
	PublicPort int
	// Shell runs every command: bash where there is one, as on Heroku (it
	// execs a lone command, so signals and exit status are the app's own),
	// else /bin/sh.
	Shell  string
	Static []static.Mount // the --static mounts (else the detected ones), directories resolved
	// Internal are the --internal directories, resolved: the edge sends
	// their files when the app names one, and to nobody else.
	Internal []static.Mount
	// App is what buildpack.Detect found in the app directory (nil if
	// nothing, with AppErr saying why when there is a Procfile); Detected
	// says the processes come from it, as the app has no Procfile (or
	// its web line is corral's own, and Self says so).
	App      *buildpack.Plan
	AppErr   error
	Detected bool
	// Self is what corral made of its own start command, when a line of
	// the Procfile is corral's own (web: corral start) or corral got a
	// web command after "--"; nil otherwise.
	Self *Self
	// Build are the build steps corral start runs before the release
	// phase: a detected app's steps whose output is missing.
	Build []Instance
	// Machine is the platform and limits found, and the sizing decided
	// from them.
	Machine *Machine
	// Admin is the admin listener's address (--admin); "" for none.
	Admin string
	// Address is the address the edge binds (--address; zero: all), and
	// HTTPS its HTTPS setup, when the edge serves HTTPS.
	Address netip.Addr
	HTTPS   HTTPSConfig

	sysRoot string // where /proc and /sys are read
}

// InstanceEnv returns the environment of inst: the shared one, with the
// app's directories of commands that exist now first in PATH, plus its own
// PORT and PS (the name foreman and honcho give it), AppDirVar, and the
// production defaults but for a build step: npm ci under
// NODE_ENV=production would leave out the devDependencies a build script
// needs (Heroku installs them with --production=false, and prunes them
// after), and rails assets:precompile under RAILS_ENV=production needs
// production's secrets.
//
// A web instance behind the edge also gets HOST=127.0.0.1, unless the
// app sets HOST: only the edge talks to it, and the servers that read HOST
// (Nuxt, Astro, SvelteKit, Remix… and corral's detected commands) then
// keep its port off the network, where it would be served past the edge.
func (p *Plan) InstanceEnv(inst Instance) []string {
	env := append(appenv.WithPath(p.Dir, slices.Clip(p.Env)), "PORT="+strconv.Itoa(inst.Port), "PS="+inst.Name, AppDirVar+"="+p.Dir)
	if inst.Type != BuildType {
		env = append(env, p.Defaults.Environ()...)
	}
	if inst.Type == "web" && p.Machine != nil && p.Machine.WebConcurrency > 0 {
		env = append(env, "WEB_CONCURRENCY="+strconv.Itoa(p.Machine.WebConcurrency))
	}
	if inst.Type == "web" && p.Edge && !p.appSetsHost() {
		env = append(env, "HOST=127.0.0.1")
	}
	return env
}

// appSetsHost reports whether the app's environment sets HOST, which
// corral then leaves to it.
func (p *Plan) appSetsHost() bool {
	return slices.ContainsFunc(p.Env, func(kv string) bool { return strings.HasPrefix(kv, "HOST=") })
}

// Load reads and checks everything a run needs: the app directory, the
// Procfile, the env files, the formation, the selected types, each command's
// shell syntax and the port numbers. It reports every problem it finds, not
// just the first, joined with errors.Join.
func Load(cfg Config) (*Plan, error) {
	plan, err := load(cfg, true, true)
	if err == nil {
		plan.detectBeside(cfg)
	}
	return plan, err
}

// load is Load; without syntax, it leaves the commands' shell syntax to
// be checked by the caller (Run checks it while the edge binds the port:
// a shell per command costs milliseconds that a platform's port scan
// would wait for); without sized, it leaves the machine's limits to be
// read and the app sized for them by the caller (sizeMachine: Run does it
// once the port is bound, as reading the cgroup's files and
// /proc/meminfo takes a millisecond the bind does not need).
func load(cfg Config, syntax, sized bool) (*Plan, error) {
	dir, err := appDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Dir: dir, sysRoot: cmp.Or(cfg.SysRoot, "/")}
	var errs []error

	env, files, ignored, err := loadEnv(dir, cfg.EnvFiles, cfg.Environ)
	if err != nil {
		errs = append(errs, err)
	}
	plan.Env, plan.EnvFiles, plan.IgnoredEnv = env, files, ignored

	if cfg.Port < 1 || cfg.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is not a TCP port (1-65535); set --port or $PORT", cfg.Port))
	}

	pf, err := plan.readProcfile(cfg)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	plan.Procfile = pf
	plan.Shell = findShell()
	if syntax {
		errs = append(errs, checkSyntax(plan.Shell, pf)...)
	}

	formation, err := procfile.ParseFormation(cfg.Formation, pf.Names())
	if err != nil {
		errs = append(errs, fmt.Errorf("--formation: %w", err))
	} else if len(cfg.Types) > 0 {
		for _, name := range pf.Names() {
			if !slices.Contains(cfg.Types, name) {
				formation[name] = 0
			}
		}
		for _, name := range cfg.Types {
			if _, ok := pf.Lookup(name); !ok {
				errs = append(errs, fmt.Errorf("process type %q is not in %s (it defines %s)", name, pf.Path, strings.Join(pf.Names(), ", ")))
			}
		}
	}
	if len(errs) == 0 {
		plan.leaveToPlatform(cfg, formation)
	}
	plan.Formation = formation
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	plan.PublicPort = cfg.Port
	plan.Edge = !cfg.Edge.Disabled && (formation["web"] > 0 || plan.staticSite())
	if plan.staticSite() && cfg.Edge.Disabled {
		return nil, fmt.Errorf("--no-edge: %s is a static site, which corral's edge serves; without it there is nothing to run", dir)
	}
	if cfg.Edge.HTTPS.Enabled() && !plan.Edge {
		return nil, errors.New("--domain/--on-demand-ask: HTTPS is served by the edge in front of web, and this formation runs no web process")
	}
	if plan.Edge {
		plan.Address = cfg.Edge.Address
		if err := plan.setHTTPS(cfg.Edge.HTTPS); err != nil {
			return nil, err
		}
	}
	if !plan.Edge {
		// The first two act on web instances through the edge: without
		// it a request could neither wake an instance nor wait for one;
		// the edge is what sends the --internal files.
		for flag, set := range map[string]bool{"--idle-stop": cfg.IdleStop > 0, "--max-memory-per-instance": cfg.MaxMemoryPerInstance > 0, "--internal": len(cfg.Edge.Internal) > 0} {
			if set {
				return nil, fmt.Errorf("%s: needs the edge in front of web instances, and %s", flag, noEdgeReason(cfg))
			}
		}
	}
	for _, spec := range cfg.Edge.Static {
		m, err := static.ParseMount(spec)
		if err != nil {
			return nil, fmt.Errorf("--static: %w", err)
		}
		m.Dir = resolve(dir, m.Dir)
		plan.Static = append(plan.Static, m)
	}
	if len(cfg.Edge.Static) == 0 && plan.Edge && plan.Detected {
		plan.Static = plan.detectedStatic(cfg.Edge.SPA)
	}
	if err := plan.setInternal(cfg.Edge.Internal); err != nil {
		return nil, err
	}
	plan.Build = plan.startBuild()
	if err := plan.assignPorts(); err != nil {
		return nil, err
	}
	if err := plan.setAdmin(cfg); err != nil {
		return nil, err
	}
	if plan.Release == nil && len(plan.Instances) == 0 && !plan.staticSite() {
		return nil, fmt.Errorf("nothing to run: the formation leaves every process type of %s at 0", pf.Path)
	}
	plan.Machine = newMachine(cfg)
	if sized {
		plan.sizeMachine(cfg)
	}
	return plan, nil
}

// noEdgeReason says why a run has no edge.
func noEdgeReason(cfg Config) string {
	if cfg.Edge.Disabled {
		return "--no-edge turns it off"
	}
	return "this formation runs no web process"
}

func appDir(dir string) (string, error) {
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--dir %q: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("--dir %q: app directory not found", dir)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("--dir %q: not a directory", dir)
	}
	return abs, nil
}

func resolve(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// loadEnv reads the env files and merges corral's own environment over
// them. With no files named it reads .env if there is one, unless corral's
// environment is a platform's (then ignored names it).
func loadEnv(dir string, names, own []string) (env, files []string, ignored string, err error) {
	files, ignored = appenv.Files(dir, names, platform.Detect(own).IsPaaS())
	vars, err := envfile.ReadFiles(files...)
	if err != nil {
		return envfile.Merge(nil, own), files, ignored, err
	}
	return envfile.Merge(vars, own), files, ignored, nil
}

// findShell picks the shell that runs the commands.
func findShell() string {
	if fi, err := os.Stat("/bin/bash"); err == nil && fi.Mode()&0o111 != 0 {
		return "/bin/bash"
	}
	return "/bin/sh"
}

// checkSyntax asks the shell that will run them whether it can parse each
// command, so that an unbalanced quote is found now and not after a deploy.
// The shells run in parallel; the errors come in Procfile order.
func checkSyntax(shell string, pf *procfile.Procfile) []error {
	found := make([]error, len(pf.Entries))
	var wg sync.WaitGroup
	for i, e := range pf.Entries {
		wg.Go(func() { found[i] = checkLine(shell, pf.Path, e) })
	}
	wg.Wait()
	var errs []error
	for _, err := range found {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// checkLine asks shell whether it can parse e's command.
func checkLine(shell, path string, e procfile.Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	out, err := exec.CommandContext(ctx, shell, "-n", "-c", e.Command).CombinedOutput()
	cancel()
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(string(out))
	// dash says "sh: 1: Syntax error: …", bash "bash: -c: line 1: …",
	// possibly over two lines (the second quoting the code).
	msg, _, _ = strings.Cut(msg, "\n")
	if i := strings.Index(msg, "rror: "); i >= 0 {
		msg = msg[i+len("rror: "):]
	} else if i := strings.Index(msg, "line 1: "); i >= 0 {
		msg = msg[i+len("line 1: "):]
	}
	if msg == "" {
		msg = err.Error()
	}
	return &procfile.Error{Path: path, Line: e.Line,
		Msg: fmt.Sprintf("process type %q: %s cannot parse the command: %s", e.Name, shell, msg)}
}

// assignPorts gives every instance its PORT. The scheme (documented in the
// README): web.N gets port+N-1, so web.1 has the public port as platforms
// require — unless the edge owns the public port, and web instances get
// free loopback ports as they start; the k-th other type in Procfile order
// gets port+100k+N-1, which keeps instances of different types apart;
// release, which runs alone, gets the public port.
func (p *Plan) assignPorts() error {
	for _, e := range p.Procfile.Entries {
		n := p.Formation[e.Name]
		if e.Name == ReleaseType {
			if n > 0 {
				p.Release = &Instance{Name: e.Name + ".1", Type: e.Name, Command: e.Command, Line: e.Line, Port: p.PublicPort}
			}
			continue
		}
		for i := 1; i <= n; i++ {
			inst, err := p.newInstance(e, i)
			if err != nil {
				return err
			}
			p.Instances = append(p.Instances, inst)
		}
	}
	// web first: it is what the platform waits for.
	slices.SortStableFunc(p.Instances, func(a, b Instance) int {
		return boolInt(b.Type == "web") - boolInt(a.Type == "web")
	})
	return nil
}

// newInstance is instance i of the Procfile's type e, with its PORT by
// assignPorts' scheme; corral scale makes more with it while running.
func (p *Plan) newInstance(e procfile.Entry, i int) (Instance, error) {
	port := 0 // web behind the edge: a free loopback port, chosen at each start
	if e.Name != "web" || !p.Edge {
		port = p.PublicPort + p.portOffset(e.Name) + i - 1
	}
	if port > 65535 {
		return Instance{}, fmt.Errorf("port %d for %s.%d is above 65535: lower the base port (--port or $PORT is %d)", port, e.Name, i, p.PublicPort)
	}
	return Instance{Name: e.Name + "." + strconv.Itoa(i), Type: e.Name, Command: e.Command, Line: e.Line, Port: port}, nil
}

// portOffset is where the ports of type name start above the public
// port: 0 for web, 100k for the k-th other type in Procfile order.
func (p *Plan) portOffset(name string) int {
	if name == "web" {
		return 0
	}
	k := 0
	for _, e := range p.Procfile.Entries {
		if e.Name != ReleaseType && e.Name != "web" {
			k++
		}
		if e.Name == name {
			break
		}
	}
	return 100 * k
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Describe writes the plan for people: files, then one row per process type.
func (p *Plan) Describe(w io.Writer) error {
	fmt.Fprintf(w, "app:      %s\n", p.Dir)
	if p.Root != "" {
		fmt.Fprintf(w, "          detected below %s, which has no app at its top: every command runs in %s (as --dir would)\n", p.Root, p.Dir)
	}
	switch {
	case p.Self != nil && p.Self.Path == "":
		fmt.Fprintf(w, "procfile: none (web is the command after \"--\")\n")
	case p.Self != nil:
		fmt.Fprintf(w, "procfile: %s\n", p.Self.Path)
	case p.staticSite():
		fmt.Fprintf(w, "procfile: none (a static site needs none)\n")
	case p.Detected:
		fmt.Fprintf(w, "procfile: none (corral init writes the one below)\n")
	default:
		fmt.Fprintf(w, "procfile: %s (%d process types)\n", p.Procfile.Path, len(p.Procfile.Entries))
	}
	if p.Self != nil {
		p.Self.describe(w)
	}
	p.describeApp(w)
	p.describeEnv(w)
	switch {
	case p.staticSite():
		fmt.Fprintf(w, "edge:     %s, serving the static site alone\n", onPort(p.Address, p.PublicPort))
	case p.Edge:
		host := "on loopback (HOST=127.0.0.1)"
		if p.appSetsHost() {
			host = "(HOST is the app's)"
		}
		fmt.Fprintf(w, "edge:     %s → %d web instance(s) %s\n", onPort(p.Address, p.PublicPort), p.Formation["web"], host)
	}
	p.describeHTTPS(w)
	for _, m := range p.Static {
		fmt.Fprintf(w, "static:   %s from %s\n", m.Prefix, m.Dir)
	}
	p.describeInternal(w)
	p.describeAdmin(w)
	if p.Machine != nil {
		p.Machine.describe(w)
	}
	if p.Self != nil {
		p.Self.describeServices(w)
	}
	if len(p.Procfile.Entries) == 0 {
		return nil // a static site: no process
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tCOUNT\tPORTS\tCOMMAND")
	for _, e := range p.Procfile.Entries {
		var ports []string
		for _, inst := range p.Instances {
			if inst.Type == e.Name {
				ports = append(ports, strconv.Itoa(inst.Port))
			}
		}
		count := strconv.Itoa(p.Formation[e.Name])
		if e.Name == ReleaseType && p.Release != nil {
			count = "once"
			ports = []string{strconv.Itoa(p.Release.Port)}
		}
		portList := "-"
		if len(ports) > 0 {
			portList = strings.Join(ports, ",")
		}
		if e.Name == "web" && p.Edge && p.Formation[e.Name] > 0 {
			portList = "internal"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, count, portList, e.Command)
	}
	return tw.Flush()
}
