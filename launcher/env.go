package launcher

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/platform"
)

// ignoredEnvWhy says why a .env was not read on pf, and how to read it.
func ignoredEnvWhy(pf platform.Platform) string {
	return fmt.Sprintf("on %s a repository's .env is a local file (heroku local's and foreman's), which the platform never reads, "+
		"and what it sets for development must not reach production; -e .env (CORRAL_ENV=.env) reads it", pf.Name)
}

// envLog returns what corral start says at start about the environment it
// gives the app: a .env it did not read.
func (p *Plan) envLog() []string {
	var lines []string
	if p.IgnoredEnv != "" {
		lines = append(lines, "env: "+filepath.Base(p.IgnoredEnv)+" is not read: "+ignoredEnvWhy(p.Machine.Platform))
	}
	return lines
}

// describeEnv writes what the app's processes get in their environment
// beyond corral's own, and why: the env files, the directories of
// commands put first in PATH.
func (p *Plan) describeEnv(w io.Writer) {
	switch {
	case p.IgnoredEnv != "":
		fmt.Fprintf(w, "env:      %s is not read: %s\n", p.IgnoredEnv, ignoredEnvWhy(p.Machine.Platform))
	case len(p.EnvFiles) == 0:
		fmt.Fprintf(w, "env:      no env file\n")
	}
	for _, f := range p.EnvFiles {
		fmt.Fprintf(w, "env:      %s\n", f)
	}
	present := appenv.Present(p.Dir, p.Env)
	for i, d := range present {
		where := "first in PATH"
		if i > 0 {
			where = "next in PATH"
		}
		fmt.Fprintf(w, "env:      %s %s (%s)\n", filepath.Join(p.Dir, filepath.FromSlash(d.Rel)), where, d.Why)
	}
	for _, d := range appenv.Dirs() {
		if step := p.makes(d.Rel); step != "" && !slices.ContainsFunc(present, func(x appenv.Dir) bool { return x.Rel == d.Rel }) {
			fmt.Fprintf(w, "env:      %s in PATH once it exists (%s), before the system's: %s makes it\n",
				filepath.Join(p.Dir, filepath.FromSlash(d.Rel)), d.Why, step)
		}
	}
}

// makes returns the build step that makes the directory rel (or
// something in it), "" if none does: "corral build runs go build -o
// bin/web ." or, for one corral start runs, "corral start (or corral
// build) runs …".
func (p *Plan) makes(rel string) string {
	if p.App == nil {
		return ""
	}
	for _, s := range p.App.Build {
		c := s.Creates
		if c == "" || !(c == rel || strings.HasPrefix(c, rel+"/") || strings.HasPrefix(rel, c+"/")) {
			continue
		}
		for _, b := range p.Build {
			if b.Command == s.Command {
				return "corral start (or corral build) runs " + s.Command
			}
		}
		return "corral build runs " + s.Command
	}
	return ""
}
