package launcher

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/corral-run/corral/buildpack"
	"github.com/corral-run/corral/launcher/appenv"
	"github.com/corral-run/corral/launcher/platform"
)

// setDefaults decides the production defaults of the app detection found
// (NODE_ENV=production…), on a platform only: off one, corral start is
// heroku local, and the app runs as its env files and corral's own
// environment say (a laptop's Rails app in production would want
// production's database and secrets). Detection beside a Procfile counts:
// Heroku's buildpacks set them whether or not there is one.
func (p *Plan) setDefaults() {
	if p.App == nil || !p.onPlatform() {
		return
	}
	p.Defaults = appenv.Default(p.Env, p.App.Env)
}

// onPlatform reports whether corral runs on a platform it recognised.
func (p *Plan) onPlatform() bool {
	return p.Machine != nil && p.Machine.Platform.IsPaaS()
}

// ignoredEnvWhy says why a .env was not read on pf, and how to read it.
func ignoredEnvWhy(pf platform.Platform) string {
	return fmt.Sprintf("on %s a repository's .env is a local file (heroku local's and foreman's), which the platform never reads, "+
		"and what it sets for development must not reach production; -e .env (CORRAL_ENV=.env) reads it", pf.Name)
}

// envLog returns what corral start says at start about the environment it
// gives the app: a .env it did not read, the production defaults it set
// and those the app's environment overrides.
func (p *Plan) envLog() []string {
	var lines []string
	if p.IgnoredEnv != "" {
		lines = append(lines, "env: "+filepath.Base(p.IgnoredEnv)+" is not read: "+ignoredEnvWhy(p.Machine.Platform))
	}
	if d := p.Defaults; len(d.Set) > 0 || len(d.Kept) > 0 {
		line := fmt.Sprintf("env: production defaults for this %s on %s:", p.App.Title, p.Machine.Platform.Name)
		if len(d.Set) > 0 {
			line += " " + strings.Join(d.Environ(), " ")
		} else {
			line += " none set, the app sets them all itself"
		}
		for _, k := range d.Kept {
			line += fmt.Sprintf(" (%s=%s is the app's own)", k.Name, k.Own)
		}
		lines = append(lines, line+" (corral check says why)")
	}
	return lines
}

// describeEnv writes what the app's processes get in their environment
// beyond corral's own, and why: the env files, the directories of
// commands put first in PATH, the production defaults.
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
		if slices.ContainsFunc(present, func(x appenv.Dir) bool { return x.Rel == d.Rel }) {
			continue
		}
		if s, ok := p.makes(d.Rel); ok {
			fmt.Fprintf(w, "env:      %s in PATH once it exists (%s): %s makes it (%s)\n",
				filepath.Join(p.Dir, filepath.FromSlash(d.Rel)), d.Why, s.Command, p.runsWhen(s))
		}
	}
	p.describeDefaults(w)
}

// describeDefaults writes the production defaults, set or not, and why.
func (p *Plan) describeDefaults(w io.Writer) {
	if p.App == nil || len(p.App.Env) == 0 {
		return
	}
	if !p.onPlatform() {
		var vars []string
		for _, v := range p.App.Env {
			vars = append(vars, v.Name+"="+v.Value)
		}
		fmt.Fprintf(w, "env:      no production defaults off a platform (on one: %s, as Heroku's buildpack sets them): "+
			"corral start here runs the app as heroku local does; set them in .env to run it as in production\n", strings.Join(vars, " "))
		return
	}
	for _, v := range p.Defaults.Set {
		fmt.Fprintf(w, "env:      %s=%s, a production default on %s\n    because %s\n", v.Name, v.Value, p.Machine.Platform.Name, v.Why)
	}
	for _, k := range p.Defaults.Kept {
		fmt.Fprintf(w, "env:      %s=%s is the app's own, over the production default %s\n", k.Name, k.Own, k.Value)
	}
}

// makes returns the build step that makes the directory rel, or
// something in it, if there is one.
func (p *Plan) makes(rel string) (buildpack.Step, bool) {
	if p.App == nil {
		return buildpack.Step{}, false
	}
	for _, s := range p.App.Build {
		if c := s.Creates; c != "" && (c == rel || strings.HasPrefix(c, rel+"/") || strings.HasPrefix(rel, c+"/")) {
			return s, true
		}
	}
	return buildpack.Step{}, false
}
