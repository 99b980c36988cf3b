package launcher

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/internal/environ"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/platform"
	"github.com/corral-run/corral/launcher/selfcmd"
	"github.com/corral-run/corral/procfile"
)

// AppDirVar is set in the environment of every process corral starts, to
// the app directory: a corral start that finds its own app directory
// there was started by the corral running the app, through a line or a
// script Find could not see into, and refuses to run (corral never runs
// itself).
const AppDirVar = "CORRAL_APP_DIR"

// Self is what corral made of its own start command: the Procfile line
// that runs corral (web: corral start), which is the platform's start
// command and not a process to run again, and the web command that takes
// its place.
type Self struct {
	// Path and Line are corral's own line in the Procfile; Line is 0
	// when it has none, and Path is "" when the app has no Procfile:
	// then the web command is the one after this corral's "--".
	Path string
	Line int
	Text string // that line's command, as written
	Form string // how corral saw itself there ("named corral")
	// Web says where the web command comes from, for people.
	Web string
	// Detected are the types whose command comes from detection: web,
	// and those the Procfile has no line for.
	Detected []string
	// Rewrites and Unsure are selfcmd.Render's, for the command given
	// after "--".
	Rewrites []selfcmd.Rewrite
	Unsure   []string
	// Services say what becomes of the Procfile's other types, and why,
	// each with the flag that changes it.
	Services []string
	// Warnings are what the user should fix: flags that differ from
	// those of the platform's corral.
	Warnings []string
	// PublicPort is the port the edge holds, for Unsure's message.
	PublicPort int
}

// readSelf finds corral in every line of pf and in cfg.Command, and
// returns the Procfile to run: pf, or, when a line of pf is corral's own
// (web: corral start) or corral got a command after "--", pf with the
// web command taken from there or from detection (p.Self says which). A
// line that would start corral inside itself any other way is an error
// naming it. pf is nil when the app has no Procfile.
func (p *Plan) readSelf(cfg Config, pf *procfile.Procfile) (*procfile.Procfile, error) {
	// The PATH the app's commands get: a corral in .venv/bin or
	// node_modules/.bin is found as they would find it.
	bin := selfcmd.Binary{Path: cfg.Executable, Dir: p.Dir, Env: appenv.WithPath(p.Dir, p.Env)}
	own, ownLine, err := findSelf(pf, cfg.Command, bin)
	if err != nil {
		return nil, err
	}
	if own == nil && len(cfg.Command) == 0 {
		return pf, nil
	}
	s := &Self{PublicPort: cfg.Port}
	p.Self = s
	if pf != nil {
		s.Path = pf.Path
	}
	var web string
	switch {
	case len(cfg.Command) > 0:
		r := selfcmd.Render(selfcmd.Words(cfg.Command), cfg.Port)
		web, s.Rewrites, s.Unsure = r.Line, r.Rewrites, r.Unsure
		s.Web = `the command after this corral's "--"`
	case own.Dashes && len(own.Command) == 0:
		return nil, &procfile.Error{Path: pf.Path, Line: ownLine.Line, Msg: `web: nothing after "corral start --": give the web command there (web: corral start -- gunicorn app.wsgi), or leave "--" out to run what corral detects`}
	case own.Dashes:
		r := selfcmd.Render(own.Command, cfg.Port)
		web, s.Rewrites, s.Unsure = r.Line, r.Rewrites, r.Unsure
		s.Web = fmt.Sprintf(`the command after "--" on %s:%d`, pf.Path, ownLine.Line)
	}
	if own != nil {
		s.Line, s.Text, s.Form = ownLine.Line, ownLine.Command, own.Form
		s.Warnings = compareFlags(cfg, s, own.Args)
	}
	if web != "" {
		return s.replaceWeb(pf, web), nil
	}
	return p.detectWeb(pf, ownLine)
}

// findSelf looks for corral start in every line of pf (nil for none) and
// in command, the words after this corral's "--". It returns corral's own
// line, if any: a web line that runs corral start and nothing else. Any
// other corral start would run corral inside itself, and is an error.
func findSelf(pf *procfile.Procfile, command []string, bin selfcmd.Binary) (*selfcmd.Call, procfile.Entry, error) {
	var own *selfcmd.Call
	var ownLine procfile.Entry
	var errs []error
	if pf != nil {
		for _, e := range pf.Entries {
			for _, c := range selfcmd.Find(e.Command, bin) {
				if !c.Starts() {
					continue // corral run, corral check…: a one-off, not a recursion
				}
				if e.Name == "web" && c.Own && own == nil {
					own, ownLine = &c, e
					continue
				}
				errs = append(errs, &procfile.Error{Path: pf.Path, Line: e.Line, Msg: recursion(e.Name, c)})
			}
		}
	}
	for _, c := range selfcmd.FindCommand(selfcmd.Words(command), bin) {
		if c.Starts() {
			errs = append(errs, fmt.Errorf(`the command after "corral start --" (%s) is %s %s, which would run corral inside itself: give the web process's own command there (corral start -- gunicorn app.wsgi)`,
				strings.Join(command, " "), c.Program, c.Sub))
		}
	}
	return own, ownLine, errors.Join(errs...)
}

// recursion says why call, in the line of type name, is an error.
func recursion(name string, c selfcmd.Call) string {
	run := fmt.Sprintf("%q", c.Program+" "+c.Sub)
	if name != "web" {
		return fmt.Sprintf("%s: %s would run corral inside itself, which would run this Procfile again: only the web line can be corral's own start command (web: corral start); a %s line is the process's own command (worker: celery -A app worker), which corral runs next to web. corral run -- CMD is fine: a one-off, with the app's environment", name, run, name)
	}
	hint := `write the line as "web: corral start", and put what comes before corral in a release: line`
	switch {
	case strings.Contains(c.Where, "after corral start --"):
		hint = `the command after "--" is the web process itself (web: corral start -- gunicorn app.wsgi)`
	case strings.HasPrefix(c.Where, "in "):
		hint = `write the line as "web: corral start", without the shell around it`
	}
	return fmt.Sprintf("web: %s %s would run corral inside itself: corral sees its own start command only when it is the whole web line (web: corral start, exec corral start, corral start -- CMD); %s", run, c.Where, hint)
}

// replaceWeb is pf (nil: the app has none) with web as its web command.
func (s *Self) replaceWeb(pf *procfile.Procfile, web string) *procfile.Procfile {
	if pf == nil {
		return &procfile.Procfile{Path: `the command after "corral start --" (no Procfile)`, Entries: []procfile.Entry{{Name: "web", Command: web}}}
	}
	out := &procfile.Procfile{Path: pf.Path, Entries: slices.Clone(pf.Entries)}
	i := slices.IndexFunc(out.Entries, func(e procfile.Entry) bool { return e.Name == "web" })
	if i < 0 {
		out.Entries = append(out.Entries, procfile.Entry{Name: "web", Command: web})
		return out
	}
	if s.Line == 0 {
		s.Web += fmt.Sprintf(", in place of %s:%d's web line (%s)", pf.Path, out.Entries[i].Line, out.Entries[i].Command)
	}
	out.Entries[i].Command = web
	return out
}

// detectWeb is pf, whose web line (own) is corral's own start command,
// with the web command buildpack.Detect finds, as with no Procfile; the
// Procfile's other lines win over the types detection finds, which run
// too where the Procfile has no line for them.
func (p *Plan) detectWeb(pf *procfile.Procfile, own procfile.Entry) (*procfile.Procfile, error) {
	at := fmt.Sprintf("%s:%d", pf.Path, own.Line)
	app, err := buildpack.DetectOn(p.Dir, p.tools())
	if err != nil {
		return nil, fmt.Errorf(`%s: web: %s is corral's own start command, so the web process comes from detection, as with no Procfile; or give it after "--" (web: corral start -- gunicorn app.wsgi). Detection: %w`, at, own.Command, err)
	}
	if app.Dir != "" {
		return nil, fmt.Errorf(`%s: web: %s is corral's own start command, so the web process comes from detection, and corral detects the app in %s/, below the Procfile: move the Procfile there, or run corral start --dir %s, or give the web command after "--" (web: corral start -- cd %s && CMD)`,
			at, own.Command, app.Dir, app.Dir, app.Dir)
	}
	p.App, p.Detected = app, true
	s := p.Self
	s.Web = "detection (" + app.Title + "), as with no Procfile"
	web, ok := app.Web()
	if !ok && app.Kind != buildpack.Static {
		return nil, fmt.Errorf(`%s: web: %s is corral's own start command, so the web process comes from detection, and the %s corral detects in %s has none: give the web command after "--" (web: corral start -- CMD)`, at, own.Command, app.Title, p.Dir)
	}
	if !ok { // a static site: the edge serves it, alone
		if len(pf.Entries) > 1 {
			return nil, fmt.Errorf("%s: web: %s is corral's own start command, and the app is a %s, which corral's edge serves alone: the Procfile's other types cannot run next to it (run them with corral start TYPE, which runs no web)", at, own.Command, app.Title)
		}
		s.Web = "the edge, which serves the app alone: " + app.Title
		return detectedProcfile(app), nil
	}
	out := &procfile.Procfile{Path: pf.Path}
	add := func(proc buildpack.Process) {
		s.Detected = append(s.Detected, proc.Type)
		out.Entries = append(out.Entries, procfile.Entry{Name: proc.Type, Command: proc.Command})
	}
	if _, ok := pf.Lookup(ReleaseType); !ok && app.Release != nil {
		add(*app.Release) // first, as a release line runs first anyway
	}
	for _, e := range pf.Entries {
		if e.Name == "web" {
			s.Detected = append(s.Detected, "web")
			e.Command = web.Command
		}
		out.Entries = append(out.Entries, e)
	}
	for _, proc := range app.Processes {
		if _, ok := pf.Lookup(proc.Type); !ok {
			add(proc)
		}
	}
	return out, nil
}

// compareFlags returns the warning, if any, that the flags on corral's
// own line differ from this corral's: the platform gives it those flags,
// a laptop's corral start may not have them.
func compareFlags(cfg Config, s *Self, args []selfcmd.Word) []string {
	if cfg.CompareFlags == nil {
		return nil
	}
	values := make([]string, len(args))
	for i, a := range args {
		v, ok := a.Expand(func(name string) string { v, _ := environ.Lookup(cfg.Environ, name); return v })
		if !ok {
			return nil // made by the shell when it runs: cannot tell
		}
		values[i] = v
	}
	differ, err := cfg.CompareFlags(values)
	at := fmt.Sprintf("%s:%d", s.Path, s.Line)
	if err != nil {
		return []string{fmt.Sprintf("%s: web: %s: the platform's corral would refuse its flags: %v", at, s.Text, err)}
	}
	if len(differ) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s: web: %s gives corral start other flags than this corral's: %s. Where they differ, this corral runs differently from the platform's: give it the same flags, or set them with their CORRAL_… variables, which both read", at, s.Text, strings.Join(differ, ", "))}
}

// leaveToPlatform decides, for corral's own line, what becomes of the
// Procfile's other types: the platform runs the Procfile it reads, so
// on one whose free tier runs workers as services of their own, worker
// and clock are left to it (running them here too would do every job
// twice), and the release line where it runs it itself (Heroku's release
// phase). Elsewhere they run here, next to web. A type the formation or
// the command line names is run as it says.
func (p *Plan) leaveToPlatform(cfg Config, formation procfile.Formation) {
	s := p.Self
	if s == nil || s.Line == 0 {
		return
	}
	pf := platform.Detect(cfg.Environ)
	var says []string
	var found []string
	for _, t := range s.Detected {
		if t != "web" && t != ReleaseType && formation[t] > 0 {
			found = append(found, t)
		}
	}
	if len(found) > 0 {
		says = append(says, fmt.Sprintf("%s (detected: the Procfile has no line for %s, so only corral can run %s) %s here, next to web; %s leaves %s out",
			strings.Join(found, " and "), number(found, "it", "them"), number(found, "it", "them"), number(found, "runs", "run"), formationFlag(found, 0), number(found, "it", "them")))
	}
	named, _ := procfile.ParseChange(cfg.Formation, p.Procfile.Names()) // checked already
	var left, here, release []string
	var leftAt, hereAt, releaseAt []string
	for _, e := range p.Procfile.Entries {
		if e.Name == "web" || slices.Contains(s.Detected, e.Name) || slices.Contains(cfg.Types, e.Name) {
			continue
		}
		if _, ok := named[e.Name]; ok || formation[e.Name] == 0 {
			continue
		}
		at := strconv.Itoa(e.Line)
		switch {
		case e.Name == ReleaseType && pf.ReleasePhase != "":
			formation[e.Name] = 0
			release, releaseAt = append(release, e.Name), append(releaseAt, at)
		case e.Name == ReleaseType:
		case pf.OwnWorkerService:
			formation[e.Name] = 0
			left, leftAt = append(left, e.Name), append(leftAt, at)
		default:
			here, hereAt = append(here, e.Name), append(hereAt, at)
		}
	}
	where := func(at []string) string { return s.Path + ":" + strings.Join(at, ",") }
	if len(release) > 0 {
		says = append(says, fmt.Sprintf("release (%s) is left to %s: %s; --formation release=1 runs it here too, before web", where(releaseAt), pf.Title, pf.ReleasePhase))
	}
	if len(left) > 0 {
		says = append(says, fmt.Sprintf("%s (%s) %s left to %s, not run here, where %s would do every job a second time: %s; %s runs %s here instead, inside this web service",
			strings.Join(left, " and "), where(leftAt), number(left, "is", "are"), pf.Title, number(left, "it", "they"), pf.WorkerNote, formationFlag(left, 1), number(left, "it", "them")))
	}
	if len(here) > 0 {
		why := "no platform detected (a laptop or a VPS, where corral is all there is)"
		leave := "leaves " + number(here, "it", "them") + " out"
		if pf.IsPaaS() {
			why, leave = pf.WorkerNote, "leaves "+number(here, "it", "them")+" to a service of its own"
		}
		says = append(says, fmt.Sprintf("%s (%s) %s here, inside this web service, next to web: %s; %s %s",
			strings.Join(here, " and "), where(hereAt), number(here, "runs", "run"), why, formationFlag(here, 0), leave))
	}
	s.Services = says
}

func formationFlag(types []string, n int) string {
	items := make([]string, len(types))
	for i, t := range types {
		items[i] = t + "=" + strconv.Itoa(n)
	}
	return "--formation " + strings.Join(items, ",")
}

// number is one when types holds one type, else many: "is" or "are".
func number(types []string, one, many string) string {
	if len(types) == 1 {
		return one
	}
	return many
}

// notes are the lines corral check prints, and corral start logs, about
// corral's own start command: what corral saw, where the web command
// comes from, what it rewrote.
func (s *Self) notes() (info, warn []string) {
	if s.Line > 0 {
		info = append(info, fmt.Sprintf("%s:%d: web: %s is corral's own start command (%s): the platform runs it, and corral, which never runs itself, does not run it again", s.Path, s.Line, s.Text, s.Form))
	}
	info = append(info, "web comes from "+s.Web)
	for _, rw := range s.Rewrites {
		flag := ""
		if rw.Flag != "" && !strings.HasPrefix(rw.Was, rw.Flag+"=") {
			flag = rw.Flag + " "
		}
		warn = append(warn, fmt.Sprintf("the web command's %s%s is now %s%s: %d is the public port, which corral's edge holds, put there by the platform's shell where the start command said $PORT; each instance gets its own. Write '$PORT' (or \\$PORT) in the start command to leave it to the instance",
			flag, rw.Was, flag, rw.Now, s.PublicPort))
	}
	for _, u := range s.Unsure {
		warn = append(warn, fmt.Sprintf("the web command holds %d, the public port, in %q, which corral left as it is: if the instance listens there it fails with \"address in use\", as corral's edge holds that port; write $PORT there (quoted for the platform's shell: '$PORT')", s.PublicPort, u))
	}
	return info, append(warn, s.Warnings...)
}

// logSelf logs the notes at start.
func (r *runner) logSelf() {
	if r.plan.Self == nil {
		return
	}
	info, warn := r.plan.Self.notes()
	for _, n := range info {
		r.log.Info(n)
	}
	for _, n := range warn {
		r.log.Warn(n)
	}
	for _, n := range r.plan.Self.Services {
		r.log.Info(n)
	}
}

// describe writes the notes for corral check.
func (s *Self) describe(w io.Writer) {
	info, warn := s.notes()
	for i, n := range info {
		label := "          "
		if i == 0 {
			label = "self:     "
		}
		fmt.Fprintln(w, label+n)
	}
	for _, n := range warn {
		fmt.Fprintln(w, "          warning: "+n)
	}
}

// describeServices writes Services for corral check, where the machine
// section says what runs in this service.
func (s *Self) describeServices(w io.Writer) {
	for _, n := range s.Services {
		fmt.Fprintln(w, "services: "+n)
	}
}

// portClash says why inst, a web instance behind the edge that exited
// before it ever answered, may have: its command names the public port,
// which the edge holds, so listening there fails with "address in use".
// "" when its command does not name it.
func (p *Plan) portClash(inst Instance) string {
	if inst.Type != "web" || !p.Edge {
		return ""
	}
	words := selfcmd.PortWords(inst.Command, p.PublicPort)
	if len(words) == 0 {
		return ""
	}
	return fmt.Sprintf("%s's command names %d, the public port, in %q: corral's edge holds that port, so an instance that listens there fails with \"address in use\". Write $PORT there, which is each instance's own port (quoted for a platform's shell, '$PORT', in corral start -- CMD)",
		inst.Name, p.PublicPort, words)
}

// nested returns the error for a corral start run by a process of the
// corral running the same app, which environ (corral's own) says: a line
// or a script that starts corral in a way corral could not see in the
// Procfile. It exits 126, so that the corral that started it stops
// rather than start it again and again.
func nested(dir string, env []string) error {
	parent, ok := environ.Lookup(env, AppDirVar)
	if !ok || parent == "" {
		return nil
	}
	a, errA := os.Stat(parent)
	b, errB := os.Stat(cmp.Or(dir, "."))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		return nil // started by the corral of another app: not itself
	}
	ps, _ := environ.Lookup(env, "PS")
	return &ExitError{Code: 126, Err: fmt.Errorf("corral start runs as %s of the corral already running the app in %s (%s says so): a Procfile line, or a script it runs, starts corral inside itself. corral never runs itself: make the web line corral's own start command alone (web: corral start), and give each other type its own command", cmp.Or(ps, "a process"), parent, AppDirVar)}
}
