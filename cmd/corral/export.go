package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/corral-run/corral/launcher/systemd"
	"github.com/urfave/cli/v2"
)

// exportCommand is corral export: what runs the app under a service
// manager, as foreman export writes. systemd is the one format: the
// others foreman knows (upstart, runit, inittab…) serve init systems
// gone from the distributions.
func exportCommand(environ []string, stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name: "export", OnUsageError: usageError,
		Usage:     "write what runs the app under a service manager: corral export systemd",
		ArgsUsage: "systemd",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.Exit("export needs a format: systemd (see corral export systemd --help)", 2)
			}
			return cli.Exit(fmt.Sprintf("export %q: the one format is systemd (see corral export systemd --help)", c.Args().First()), 2)
		},
		Subcommands: []*cli.Command{{
			Name:  "systemd",
			Usage: "print a systemd unit that runs corral start for the app, with the flags given here (-o writes it to a file)",
			OnUsageError: func(_ *cli.Context, err error, _ bool) error {
				return fmt.Errorf("%s (see corral export systemd --help)", err)
			},
			Flags: append(startFlags(),
				&cli.StringFlag{Name: "user", EnvVars: []string{"CORRAL_EXPORT_USER"}, DefaultText: "the app directory's owner",
					Usage: "the `USER` the unit runs corral as; root only when named"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, EnvVars: []string{"CORRAL_EXPORT_OUTPUT"}, DefaultText: "stdout",
					Usage: "write the unit to `FILE`, or to NAME.service in it if it is a directory; a file there is replaced only if corral export wrote it"}),
			Action: func(c *cli.Context) error { return exportSystemd(c, environ, stdout, stderr) },
		}},
	}
}

// exportSystemd prints, or writes, the systemd unit that runs corral
// start for the app with c's flags, once they and the app have passed
// what corral check checks: a unit that fails at each boot helps nobody.
func exportSystemd(c *cli.Context, environ []string, stdout, stderr io.Writer) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("export systemd takes no arguments, not %q: the unit runs corral start for the whole app, whose processes come from its Procfile and -m (corral init writes a Procfile to keep)", strings.Join(c.Args().Slice(), " ")), 2)
	}
	cfg, plan, err := checked(c, environ, stdout)
	if err != nil {
		return err
	}
	u := systemd.Unit{Dir: plan.Dir, Name: systemd.UnitName(plan.Dir), Timeout: cfg.Timeout, EnvFiles: plan.EnvFiles, HTTPS: cfg.Edge.HTTPS.Enabled()}
	warnings, err := exportUser(c, &u)
	if err != nil {
		return err
	}
	if u.Executable, err = os.Executable(); err != nil {
		return cli.Exit("export systemd: cannot tell where the corral binary is: "+err.Error(), 1)
	}
	if strings.Contains(u.Executable, "/go-build") {
		warnings = append(warnings, fmt.Sprintf("the unit runs this corral, %s, which go run will remove: install corral (the .deb puts it in /usr/bin) and export the unit again", u.Executable))
	}
	if u.Flags, u.Secrets, err = exportFlags(c); err != nil {
		return err
	}
	if c.IsSet("cert-dir") {
		u.CertDir, _ = filepath.Abs(c.String("cert-dir"))
	}
	if h := cfg.Edge.HTTPS; h.Enabled() {
		u.Ports = []int{h.HTTPSPort, h.HTTPPort}
	} else {
		u.Ports = []int{cfg.Port}
	}
	if _, p, err := net.SplitHostPort(cfg.Admin); err == nil {
		n, _ := strconv.Atoi(p)
		u.Ports = append(u.Ports, n)
	}
	path := c.String("output")
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, u.Name+".service")
	} else if name, ok := strings.CutSuffix(filepath.Base(path), ".service"); ok && path != "" {
		u.Name = name // systemd names the unit after its file
	}
	unit, err := u.Render()
	if err != nil {
		return cli.Exit(fmt.Sprintf("export systemd: %v", err), 1)
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "corral: "+w)
	}
	if path == "" {
		_, err := stdout.Write(unit)
		return err
	}
	if old, err := os.ReadFile(path); err == nil && !systemd.Made(old) {
		return cli.Exit(fmt.Sprintf("output %s: a file corral export did not write is there: remove it, or name another file", path), 1)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cli.Exit(fmt.Sprintf("output: %v", err), 1)
	}
	if err := os.WriteFile(path, unit, 0o644); err != nil {
		return cli.Exit(fmt.Sprintf("output: %v", err), 1)
	}
	fmt.Fprintf(stdout, "wrote %s\n%s\n", path, u.Install(path))
	return nil
}

// exportFlags are the words of corral start's flags that c sets (on the
// command line or by their variables), for the unit's corral start:
// --dir aside, which the unit gives as an absolute path. The paths that
// corral reads from its working directory, not the app's, are made
// absolute, as the unit's working directory is the app's.
//
// A flag whose value holds a password (a --storage URL with one) is left
// out, and its variable returned in secrets: the unit reads it from a
// file only root reads, as anyone may read a unit.
func exportFlags(c *cli.Context) (words, secrets []string, err error) {
	for _, f := range startFlags() {
		name := f.Names()[0]
		if name == "dir" || !c.IsSet(name) {
			continue
		}
		switch f := unwrap(f).(type) {
		case *cli.BoolFlag:
			if c.Bool(name) {
				words = append(words, "--"+name)
			} else {
				words = append(words, "--"+name+"=false")
			}
		case *cli.IntFlag:
			words = append(words, "--"+name, strconv.Itoa(c.Int(name)))
		case *cli.StringSliceFlag:
			for _, v := range c.StringSlice(name) {
				words = append(words, "--"+name, v)
			}
		case *cli.StringFlag:
			v := c.String(name)
			if name == "cert-dir" || name == "acme-ca-root" {
				v, _ = filepath.Abs(v)
			}
			if hasPassword(v) {
				secrets = append(secrets, f.EnvVars[0])
				continue
			}
			words = append(words, "--"+name, v)
		default:
			return nil, nil, fmt.Errorf("export systemd: --%s is a %T, which it cannot pass on", name, f)
		}
	}
	return words, secrets, nil
}

// hasPassword reports whether v is a URL with a password in it
// (redis://:secret@host, postgres://user:secret@host/db).
func hasPassword(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

// exportUser decides who the unit u runs corral as: --user, else the
// owner of the app directory, which the app and its builds write to;
// root only when named, as the capability to bind ports 80 and 443 is
// all a web app needs of root. It returns what an administrator should
// know about that user.
func exportUser(c *cli.Context, u *systemd.Unit) (warnings []string, err error) {
	owner := -1
	if fi, err := os.Stat(u.Dir); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = int(st.Uid)
		}
	}
	u.User = c.String("user")
	if u.User == "" {
		if owner < 0 {
			return nil, cli.Exit(fmt.Sprintf("export systemd: cannot tell who owns %s: say who runs the app (--user)", u.Dir), 2)
		}
		if owner == 0 {
			return nil, cli.Exit(fmt.Sprintf("export systemd: %s belongs to root, and a web app should not run as root (an exploit of it would own the machine): give the app a user (sudo useradd --system --home-dir %[1]s myapp && sudo chown -R myapp %[1]s) and --user myapp, or say --user root", u.Dir), 2)
		}
		u.User, u.UserWhy = strconv.Itoa(owner), "the owner of "+u.Dir
		if pw, err := user.LookupId(u.User); err == nil {
			u.User = pw.Username
		}
		return nil, nil
	}
	u.UserWhy = "--user " + u.User
	uid := -1
	pw, err := user.Lookup(u.User)
	if err != nil {
		pw, err = user.LookupId(u.User) // systemd takes a numeric uid too
	}
	if err == nil {
		uid, _ = strconv.Atoi(pw.Uid)
	}
	u.Root = uid == 0 || u.User == "root"
	switch {
	case uid < 0:
		warnings = append(warnings, fmt.Sprintf("--user %s: no such user here: make it before starting the unit (sudo useradd --system --home-dir %s %[1]s)", u.User, u.Dir))
	case u.User == "nobody":
		warnings = append(warnings, "--user nobody: nobody is shared by unrelated daemons and should own no file (systemd warns about it too): give the app a user of its own (sudo useradd --system --home-dir "+u.Dir+" myapp)")
	case !u.Root && owner >= 0 && uid != owner:
		warnings = append(warnings, fmt.Sprintf("--user %s does not own %s: corral and the app write there (its control socket in .corral/, a build's .venv, node_modules or static files): sudo chown -R %[1]s %[2]s", u.User, u.Dir))
	}
	return warnings, nil
}
