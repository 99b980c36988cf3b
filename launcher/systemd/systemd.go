// Package systemd writes the systemd service unit that runs corral start
// for an app on a host of its own (a VPS): foreman export's modern form.
//
// foreman export writes a unit per process, since foreman itself is gone
// once systemd runs them. corral runs the whole formation (release phase,
// the web pool behind its edge, workers), sizes it and stops it in order,
// so one unit runs corral start and nothing else. Each directive comes
// with a comment in the unit that says why it is there, and so does each
// hardening option left out because it would break a web app.
package systemd

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/sizing"
)

// Unit is what a unit is made from: facts about the app and how corral
// start is to run it, gathered by the command line.
type Unit struct {
	// Name is the unit's name without ".service" (UnitName's, unless
	// the file is named otherwise).
	Name string
	// Dir is the app directory, absolute.
	Dir string
	// Executable is the corral binary the unit runs, absolute.
	Executable string
	// Flags are corral start's flags besides --dir, one word each, as
	// corral is to receive them: the unit quotes them.
	Flags []string
	// User is who corral runs as, a name or a numeric uid; UserWhy says
	// why that one ("the owner of /srv/app").
	User, UserWhy string
	// Root says User is root (uid 0): no capability is granted or
	// bounded then, root having them all.
	Root bool
	// Timeout is corral's shutdown budget (--timeout); 0 is corral's
	// own off a platform, sizing.DefaultTimeout.
	Timeout time.Duration
	// Ports are the ports corral binds (the edge's, the admin port).
	Ports []int
	// EnvFiles are the env files corral reads at each start, absolute.
	EnvFiles []string
	// HTTPS says corral gets certificates from an ACME CA; they are kept
	// in CertDir (--cert-dir, absolute), or, when it is "", in the
	// state directory systemd makes for the unit.
	HTTPS   bool
	CertDir string
	// Secrets are the variables (CORRAL_STORAGE) whose values hold a
	// password, kept out of the unit, which every user may read
	// (systemctl cat): the unit reads them from SecretsFile, root's
	// alone. Flags must not carry them.
	Secrets []string
}

// SecretsFile is where the unit reads Secrets from: under /etc, which
// ProtectSystem=full leaves readable, out of the app directory, which its
// user (and its builds) can read.
func (u Unit) SecretsFile() string { return "/etc/corral/" + u.Name + ".env" }

const (
	// nofile is the unit's limit on open files, soft and hard, for
	// corral and the app alike. The edge bounds its client connections
	// from it (edge.MaxConnsFor); the app's servers get it too, where the
	// usual soft limit of 1024 trips a busy Node or Python server.
	nofile = 65536
	// stopMargin is what TimeoutStopSec adds to corral's shutdown
	// budget: at the budget's end corral kills what is left, reaps it
	// and exits.
	stopMargin = 5 * time.Second
	// restartSec is the pause before a failed corral starts again: long
	// enough that an app failing at once does not spin, short enough
	// that a crash costs seconds.
	restartSec = 5 * time.Second
	// privilegedPorts is where binding needs CAP_NET_BIND_SERVICE
	// (Linux's net.ipv4.ip_unprivileged_port_start, by default).
	privilegedPorts = 1024
	// made starts every unit this package writes, after "# "; a file
	// that starts otherwise is not corral's to overwrite (Made).
	made = "Made by corral export systemd"
)

// Made reports whether data is a unit this package wrote, which writing
// it anew may replace.
func Made(data []byte) bool { return bytes.HasPrefix(data, []byte("# "+made)) }

// UnitName is the name of the unit of the app in dir: "corral-" and the
// directory's name, with what a unit name cannot hold made "-".
func UnitName(dir string) string {
	base := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-') {
			return r
		}
		return '-'
	}, filepath.Base(dir))
	base = strings.Trim(base, "-.")
	if base == "" {
		return "corral"
	}
	if len(base) > 200 { // unit names end at 255 bytes
		base = base[:200]
	}
	return "corral-" + base
}

// validName reports whether name (without ".service") is a unit name
// systemd accepts for a service of its own (no template: no '@').
func validName(name string) bool {
	return name != "" && len(name)+len(".service") <= 255 && strings.IndexFunc(name, func(r rune) bool {
		return !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(":_.-", r)))
	}) < 0
}

// Render returns the unit, or an error that names what cannot be written
// in one.
func (u Unit) Render() ([]byte, error) {
	if err := u.check(); err != nil {
		return nil, err
	}
	timeout, timeoutWhy := u.Timeout, "--timeout"
	if timeout <= 0 {
		timeout, timeoutWhy = sizing.DefaultTimeout, "corral's default where no platform says; --timeout changes it"
	}
	stop := time.Duration(math.Ceil((timeout + stopMargin).Seconds())) * time.Second
	service := u.Name + ".service"
	low := slices.ContainsFunc(u.Ports, func(p int) bool { return p < privilegedPorts })
	args := append([]string{"start", "--dir", u.Dir}, u.Flags...)
	if u.HTTPS && u.CertDir == "" {
		args = append(args, "--cert-dir", u.stateCerts())
	}

	var b writer
	b.comment(made + ": " + service + " runs corral start for the app in " + u.Dir +
		". Export it again to change it, rather than edit it: corral export overwrites what it made.")
	b.comment("Install: save it as /etc/systemd/system/" + service + ", then: systemctl daemon-reload && systemctl enable --now " + u.Name + ".")
	b.comment("Logs: journalctl -u " + u.Name + ". Processes: " + shellLine(u.asUser(u.Executable, "ps", "--dir", u.Dir)...))
	b.line("")
	b.line("[Unit]")
	b.comment("What systemctl status shows, and where to read about this unit.")
	b.set("Description", specifiers("corral: "+filepath.Base(u.Dir)+" ("+u.Dir+")"))
	b.set("Documentation", "https://github.com/corral-run/corral#corral-export-systemd")
	b.comment("Started once the network is up: an ACME CA, and an app's database elsewhere, are reached at start. An app whose database runs on this host wants After=postgresql.service (or mariadb, redis-server) here too.")
	b.set("Wants", "network-online.target")
	b.set("After", "network-online.target")

	b.line("")
	b.line("[Service]")
	b.comment("One unit for the whole app: corral runs every Procfile type itself (release phase, web pool behind its edge, workers), not one unit per process as foreman export writes. exec: the start fails when corral cannot be run; corral binds its ports at once and speaks no sd_notify.")
	b.set("Type", "exec")
	if u.Root {
		b.comment("root, as asked (" + u.UserWhy + "): any exploit of the app then owns the whole machine.")
	} else {
		b.comment("Not root: an exploit of the app gets this user's rights only. The user is " + u.UserWhy + ".")
	}
	b.set("User", specifiers(u.User))
	b.set("WorkingDirectory", specifiers(u.Dir))
	b.comment("corral start with the flags corral export was given (corral check with them prints what it runs).")
	b.set("ExecStart", execPath(u.Executable)+" "+execArgs(args))
	b.comment("systemctl reload: corral reload, through corral's control socket, replaces the web instances one at a time, without a failed request. A bare SIGHUP would stop a corral with no edge (--no-edge) or still in its release phase; corral reload fails then, and the app runs on.")
	b.set("ExecReload", execPath(u.Executable)+" "+execArgs([]string{"reload", "--dir", u.Dir}))
	b.note(u.envComment())
	if len(u.Secrets) > 0 {
		b.comment(strings.Join(u.Secrets, " and ") + " hold a password, so they are not on the ExecStart line, which every user can read (systemctl cat, ps): systemd reads them from this file, which only root may read (chmod 600), one NAME=value line each, before it starts corral. A start without it fails, rather than run without them.")
		b.set("EnvironmentFile", specifiers(u.SecretsFile()))
	}
	b.comment(fmt.Sprintf("SIGTERM to corral alone: it stops taking requests, lets those in flight finish and stops its processes' groups itself within its shutdown budget, %v (%s); what is left when it exits, or at TimeoutStopSec, gets SIGKILL.", timeout, timeoutWhy))
	b.set("KillMode", "mixed")
	b.comment(fmt.Sprintf("The shutdown budget, %v, and %v for corral's own exit.", timeout, stopMargin))
	b.set("TimeoutStopSec", strconv.Itoa(int(stop/time.Second)))
	b.comment("A corral that fails (a process exits with an error without --restart, a failed release phase) starts again; a stop (systemctl stop, corral stop) is no failure. With --restart corral restarts a crashed process itself and the others stay up.")
	b.set("Restart", "on-failure")
	b.set("RestartSec", restartSec.String())
	b.comment(fmt.Sprintf("The edge keeps at most %d client connections open under this limit (two descriptors each while a request is served, %d for corral's own); the app's servers get it too, past the usual 1024 that a busy Node or Python server runs into.",
		edge.MaxConnsFor(nofile), nofile-2*edge.MaxConnsFor(nofile)))
	b.set("LimitNOFILE", strconv.Itoa(nofile))
	switch {
	case u.Root:
	case low:
		b.comment(ports(u.Ports, func(p int) bool { return p < privilegedPorts }, "is", "are") + fmt.Sprintf(" below %d, where binding takes CAP_NET_BIND_SERVICE: corral gets it, and the app's processes with it, and no other capability.", privilegedPorts))
		b.set("AmbientCapabilities", "CAP_NET_BIND_SERVICE")
		b.set("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE")
	default:
		b.comment(ports(u.Ports, nil, "needs", "need") + fmt.Sprintf(" no capability (binding takes one below %d only), so none is kept.", privilegedPorts))
		b.set("CapabilityBoundingSet", "")
	}
	if u.HTTPS && u.CertDir == "" {
		b.comment("Certificates are kept in " + u.stateCerts() + ", a directory systemd makes for the unit and gives to its user: a service user's home may not be its own to write (www-data's is /var/www).")
		b.set("StateDirectory", specifiers(u.Name))
	}
	b.comment("Hardening a web app does not notice:")
	b.comment("no new privileges for corral and the app: no sudo, su or setuid programs;")
	b.set("NoNewPrivileges", "yes")
	b.comment("/usr, /boot and /etc read-only; the app directory, the user's home and /var stay writable, as the app and its builds write there (strict would need each such path listed);")
	b.set("ProtectSystem", "full")
	if rw := u.readOnlyWrites(); len(rw) > 0 {
		b.comment("but corral writes under those, where this app keeps its files;")
		b.set("ReadWritePaths", paths(rw))
	}
	b.comment("a /tmp of its own, emptied at each stop (corral spills large request bodies there);")
	b.set("PrivateTmp", "yes")
	b.comment("no changing the kernel's settings or modules, reading its log, setting the clock or the host name;")
	b.set("ProtectKernelTunables", "yes")
	b.set("ProtectKernelModules", "yes")
	b.set("ProtectKernelLogs", "yes")
	b.set("ProtectClock", "yes")
	b.set("ProtectHostname", "yes")
	b.comment("the cgroup tree read-only: corral reads its memory limits there, and its memory guard, without the PSI trigger a service's user may not set anyway, reads memory.events;")
	b.set("ProtectControlGroups", "yes")
	b.comment("no setuid files made, no realtime scheduling, no switching the execution domain.")
	b.set("RestrictSUIDSGID", "yes")
	b.set("RestrictRealtime", "yes")
	b.set("LockPersonality", "yes")
	b.line("")
	b.note("Left out, as they break web apps: ProtectHome (apps, their interpreters from pyenv, nvm or rbenv, and a corral from go install live under /home), MemoryDenyWriteExecute (the JITs of Node, Java, PyPy, Ruby's YJIT), PrivateDevices (GPUs), RestrictNamespaces (headless Chromium's sandbox).")
	b.note("No Environment=PATH=: PATH is systemd's (/usr/local/bin:/usr/bin…), after the app's own .venv/bin, node_modules/.bin and bin, which corral puts first; an interpreter from nvm or pyenv needs its directory added here.")
	b.note("No MemoryMax=: with one (MemoryMax=1G), corral sizes WEB_CONCURRENCY and its memory guard to it rather than to the host's memory.")
	b.comment("corral's lines and the app's go to the journal, which stamps them with the time (corral then adds none).")
	b.set("StandardOutput", "journal")
	b.set("StandardError", "journal")
	b.set("SyslogIdentifier", specifiers(u.Name))

	b.line("")
	b.line("[Install]")
	b.comment("Started at boot, once enabled.")
	b.set("WantedBy", "multi-user.target")
	return b.Bytes(), nil
}

// Install says how to install the unit written at path, and start it.
func (u Unit) Install(path string) string {
	service := u.Name + ".service"
	start := "sudo systemctl daemon-reload && sudo systemctl enable --now " + u.Name
	if len(u.Secrets) > 0 {
		// The values are not printed: they are the passwords kept out
		// of the unit.
		start = "write " + strings.Join(u.Secrets, " and ") + " (NAME=value lines) to " + u.SecretsFile() +
			" (sudo install -D -m 600 /dev/null " + u.SecretsFile() + ", then edit it), then " + start
	}
	if abs, err := filepath.Abs(path); err == nil && abs == "/etc/systemd/system/"+service {
		return "start it: " + start
	}
	return "install and start it: sudo cp " + shellLine(path) + " /etc/systemd/system/" + service + " && " + start
}

// check says what in u a unit cannot hold.
func (u Unit) check() error {
	var errs []error
	if !validName(u.Name) {
		errs = append(errs, fmt.Errorf("unit name %q: use letters, digits and :_.- only", u.Name))
	}
	if u.User == "" {
		errs = append(errs, errors.New("no user to run the app as"))
	}
	for _, p := range []struct{ what, path string }{{"app directory", u.Dir}, {"corral binary", u.Executable}, {"--cert-dir", u.CertDir}} {
		if p.path != "" && (!filepath.IsAbs(p.path) || filepath.Clean(p.path) != p.path) {
			errs = append(errs, fmt.Errorf("%s %q: not an absolute, clean path", p.what, p.path))
		}
	}
	if strings.ContainsAny(u.Executable, `"'\`) {
		// systemd refuses them in the program's path, quoted or not.
		errs = append(errs, fmt.Errorf("corral binary %q: systemd refuses a program path with a quote or a backslash in it: install corral elsewhere (the .deb puts it in /usr/bin)", u.Executable))
	}
	if strings.TrimRightFunc(u.Dir, unicode.IsSpace) != u.Dir {
		errs = append(errs, fmt.Errorf("app directory %q: WorkingDirectory= cannot end with a space", u.Dir))
	}
	for _, v := range slices.Concat([]string{u.Name, u.Dir, u.Executable, u.User, u.CertDir}, u.Flags, u.EnvFiles) {
		if !writable(v) {
			errs = append(errs, fmt.Errorf("%q: a unit file holds only UTF-8 text without control characters (newline, tab…)", v))
		}
	}
	return errors.Join(errs...)
}

// writable reports whether s can be written in a unit file at all.
func writable(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\uFEFF' }) < 0
}

// stateCerts is where certificates are kept in the unit's state directory.
func (u Unit) stateCerts() string { return "/var/lib/" + u.Name + "/certs" }

// asUser is cmd as run by the unit's user, from an administrator's shell.
func (u Unit) asUser(cmd ...string) []string {
	if u.Root {
		return cmd
	}
	return append([]string{"sudo", "-u", u.User}, cmd...)
}

// envComment says where the app's environment comes from, and why the
// unit has no EnvironmentFile=.
func (u Unit) envComment() string {
	const why = "is read by corral itself at each start, with the dotenv rules (quotes, export, multi-line values, ${VAR}): systemd's rules for an EnvironmentFile= differ (an export line is ignored, \\n in double quotes stays as it is, a trailing # comment is part of the value) and what systemd set would win over corral's own reading."
	if len(u.EnvFiles) == 0 {
		return "No EnvironmentFile=: the app has no env file now; a .env in " + u.Dir + ", if one comes, " + why
	}
	return "No EnvironmentFile=: the app's environment, " + strings.Join(u.EnvFiles, ", ") + ", " + why
}

// readOnlyWrites are the directories corral writes that ProtectSystem=full
// makes read-only: the app's, the certificates'.
func (u Unit) readOnlyWrites() []string {
	var rw []string
	for _, p := range []string{u.Dir, u.CertDir} {
		for _, ro := range []string{"/usr", "/boot", "/efi", "/etc"} {
			if p == ro || strings.HasPrefix(p, ro+"/") {
				rw = append(rw, p)
				break
			}
		}
	}
	return rw
}

// ports names the ports of ps that pass keep (every one, with a nil
// keep) and the verb that follows: "Port 80 is", "Ports 443 and 80 are".
func ports(ps []int, keep func(int) bool, one, many string) string {
	var s []string
	for _, p := range ps {
		if keep == nil || keep(p) {
			s = append(s, strconv.Itoa(p))
		}
	}
	switch len(s) {
	case 0:
		return "No port " + one
	case 1:
		return "Port " + s[0] + " " + one
	}
	return "Ports " + strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1] + " " + many
}

// writer builds a unit's text.
type writer struct{ bytes.Buffer }

// line writes one line as it is.
func (w *writer) line(s string) {
	w.WriteString(s)
	w.WriteByte('\n')
}

// set writes the directive key=value.
func (w *writer) set(key, value string) { w.line(key + "=" + value) }

// note writes text as comment lines about a directive the unit has not,
// set apart from the next directive's.
func (w *writer) note(text string) {
	w.comment(text)
	w.line("")
}

// comment writes text as comment lines of at most about 80 columns,
// broken at spaces (a run of them in a path stays as it is, unless a line
// breaks there).
func (w *writer) comment(text string) {
	const width = 78
	line := "#"
	for word := range strings.SplitSeq(text, " ") {
		if len(line) > 1 && len(line)+1+len(word) > width {
			w.line(line)
			line = "#"
		}
		line += " " + word
	}
	w.line(line)
}
