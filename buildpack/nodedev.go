package buildpack

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// devServer says what a start script runs when it is a development
// server (nodemon, next dev, vite, nx serve…) or a start that compiles the
// app with a dev dependency (nest start, ts-node): "" when it is neither.
func devServer(script string) string {
	for _, c := range scriptTools(script) {
		tool, sub, words := c.tool, c.sub, c.words
		switch {
		case tool == "nodemon":
			return "nodemon, a development server that restarts the app on every change"
		case tool == "ts-node-dev" || tool == "tsnd":
			return tool + ", a development server that compiles TypeScript at each start"
		case tool == "webpack-dev-server":
			return "webpack-dev-server, a development server"
		case tool == "vite" && (sub == "" || sub == "dev" || sub == "serve" || strings.HasPrefix(sub, "-")):
			return "vite, a development server"
		case sub == "dev" && slices.Contains([]string{"next", "nuxt", "nuxi", "astro", "remix", "svelte-kit"}, tool),
			sub == "serve" && slices.Contains([]string{"nx", "ng", "webpack", "vue-cli-service"}, tool),
			tool == "react-scripts" && sub == "start", tool == "gatsby" && sub == "develop":
			return tool + " " + sub + ", a development server"
		case tool == "tsx" && sub == "watch", tool == "node" && slices.Contains(words, "--watch"):
			return strings.Join(words[:2], " ") + ", which restarts the app on every change"
		case tool == "nest" && sub == "start":
			if slices.Contains(words, "--watch") || slices.Contains(words, "-w") {
				return "nest start --watch, a development server"
			}
			return "nest start, which compiles the app at each start with the Nest CLI, a dev dependency"
		case tool == "ts-node":
			return "ts-node, which compiles TypeScript at each start with a dev dependency"
		}
	}
	return ""
}

// frontEndDevServer names the development server a start script runs
// when it serves a front end only (vite, react-scripts start, ng serve,
// vue-cli-service serve, webpack serve, parcel, gatsby develop), whose
// production form is the site its build writes; "" otherwise (a Node
// server, or next dev and nuxt dev, whose production form is a server).
func frontEndDevServer(script string) string {
	for _, c := range scriptTools(script) {
		tool, sub := c.tool, c.sub
		switch {
		case tool == "vite" && (sub == "" || sub == "dev" || sub == "serve" || strings.HasPrefix(sub, "-")),
			tool == "webpack-dev-server", tool == "parcel" && sub != "build":
			return tool
		case tool == "react-scripts" && sub == "start", tool == "ng" && sub == "serve", tool == "vue-cli-service" && sub == "serve",
			tool == "webpack" && sub == "serve", tool == "gatsby" && sub == "develop":
			return tool + " " + sub
		}
	}
	return ""
}

// scriptTool is one command of a script: its program's name, the word
// after it, and all its words.
type scriptTool struct {
	tool, sub string
	words     []string
}

// scriptTools gives the commands of a script by their programs.
func scriptTools(script string) []scriptTool {
	var out []scriptTool
	for _, words := range scriptCommands(script) {
		if len(words) == 0 {
			continue
		}
		c := scriptTool{tool: path.Base(words[0]), words: words}
		if len(words) > 1 {
			c.sub = words[1]
		}
		out = append(out, c)
	}
	return out
}

// scriptCommands splits a package.json script into its commands' words,
// leaving out the environment assignments (NODE_ENV=x) and the runners
// (cross-env, npx, exec) in front of each.
func scriptCommands(script string) [][]string {
	var out [][]string
	for command := range strings.FieldsFuncSeq(script, func(r rune) bool { return strings.ContainsRune(";&|\n", r) }) {
		words := strings.Fields(command)
		for len(words) > 0 && (strings.Contains(words[0], "=") || slices.Contains([]string{"cross-env", "npx", "exec", "env"}, words[0])) {
			words = words[1:]
		}
		out = append(out, words)
	}
	return out
}

// builtDirs are where a build writes the server it runs.
func builtDirs() []string { return []string{"dist", "build", "out", ".output"} }

// builtFile returns the file a script runs with node when it is all the
// script does and sits in a build's output (node dist/main), else "".
func builtFile(script string) string {
	cmds := scriptCommands(script)
	if len(cmds) != 1 || len(cmds[0]) < 2 || cmds[0][0] != "node" {
		return ""
	}
	for _, w := range cmds[0][1:] {
		if strings.HasPrefix(w, "-") {
			continue
		}
		p := path.Clean(w)
		dir, _, _ := strings.Cut(p, "/")
		if slices.Contains(builtDirs(), dir) && p != dir {
			return p
		}
		return ""
	}
	return ""
}

// builtEntry finds the built server a package.json points at, for an app
// whose start script is a development server: a script that runs it with
// node (start:prod, prod, serve…, else any other), else main when it is
// in a build's output and the app has a build script. script is the
// script's name, "" for main; file is what node runs.
func builtEntry(pkg *packageJSON) (script, file string, ok bool) {
	names := []string{"start:prod", "start:production", "prod", "production", "serve:prod", "start:dist", "serve"}
	var rest []string
	for name := range pkg.scripts {
		if !slices.Contains(names, name) && name != "start" {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range append(names, rest...) {
		if f := builtFile(pkg.scripts[name]); f != "" {
			return name, f, true
		}
	}
	if pkg.main != "" && pkg.buildScript() != "" {
		m := path.Clean(pkg.main)
		dir, _, _ := strings.Cut(m, "/")
		if slices.Contains(builtDirs(), dir) && m != dir && !strings.ContainsAny(m, " \t'\"$`\\;&|<>()") {
			return "", m, true
		}
	}
	return "", "", false
}

// preferBuilt is the web command of a start script that runs a
// development server: the built server when package.json points at one
// (with a note), else the start script as a platform would run it, with
// a warning that says what to add.
func preferBuilt(pkg *packageJSON, pm nodeManager, p *Plan) (cmd string, ev Evidence, built string) {
	start := pkg.scriptEvidence("start")
	what := devServer(pkg.scripts["start"])
	if what == "" {
		return pm.start(), start, ""
	}
	if name, file, ok := builtEntry(pkg); ok {
		if name == "" {
			p.Notes = append(p.Notes, fmt.Sprintf("package.json:%d: scripts.start runs %s: corral runs main, %q, the built server, instead", start.Line, what, file))
			return "node " + file, Evidence{File: "package.json", Line: pkg.lines["main"], Says: fmt.Sprintf("main is %q, the built server", file)}, file
		}
		p.Notes = append(p.Notes, fmt.Sprintf("package.json:%d: scripts.start runs %s: corral runs scripts.%s, the built server, instead", start.Line, what, name))
		return pm.run(name), pkg.scriptEvidence(name), file
	}
	p.Warnings = append(p.Warnings, fmt.Sprintf("package.json:%d: scripts.start runs %s, not a production server: corral runs it as a platform would; "+
		"add a script that runs the built server (\"start:prod\": \"node dist/server.js\") and corral runs that instead", start.Line, what))
	return pm.start(), start, ""
}
