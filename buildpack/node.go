package buildpack

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/corral-run/corral/launcher/selfcmd"
)

// detectNode finds a Node app: a package.json whose start script (or a
// server.js, npm's default start) runs a server. A package.json that only
// builds (a front end inside a Django or Rails app, or a static site) is an
// Assets plan with the install and build steps alone, for Detect to join
// to the server it builds for.
func detectNode(a *appFiles) (*Plan, error) {
	src, err := a.readOptional("package.json")
	if err == nil && src == nil {
		return nil, nil
	}
	var pkg *packageJSON
	if err == nil {
		pkg, err = parsePackageJSON(src)
	}
	if err != nil {
		return nil, &unreadManifest{file: "package.json", without: "no Node process, install or build step", err: err}
	}
	pm := chooseNodeManager(a, pkg)

	p := &Plan{Notes: pm.notes}
	if pm.missing != nil {
		p.Missing = append(p.Missing, *pm.missing)
	}
	var builtDir string
	web, ev, err := "", Evidence{}, error(nil)
	if tool := frontEndDevServer(pkg.scripts["start"]); tool != "" && buildOutput(pkg.scripts[pkg.buildScript()]) != "" {
		// A front end whose start is its dev server: the site is what the
		// build writes, which the edge serves (detectStatic).
		p.Notes = append(p.Notes, fmt.Sprintf("package.json:%d: scripts.start runs %s, the front end's development server: corral serves the site the build writes instead",
			pkg.lines["scripts.start"], tool))
	} else if web, ev, err = nodeWeb(a, pkg, pm, p, &builtDir); err != nil {
		return nil, err
	}
	if web != "" {
		p.Kind = Node
		p.Evidence = append(p.Evidence, ev)
		p.Processes = append(p.Processes, Process{Type: "web", Command: web, Why: ev})
	}
	build := pkg.buildScript()
	switch {
	case p.Kind == Node:
		p.Title = "Node (" + pm.name + ")"
		prismaRelease(a, pkg, p)
		for _, name := range nodeProcessScripts() {
			if pkg.hasScript(name) {
				p.Processes = append(p.Processes, Process{Type: name, Command: pm.run(name), Why: pkg.scriptEvidence(name)})
			}
		}
	case build != "":
		p.Kind = Assets
		p.Title = "Node assets (" + pm.name + ")"
		p.Evidence = append(p.Evidence, pkg.scriptEvidence(build))
		if pkg.main != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("package.json:%d: main is %q, but there is no start script and no server.js, so nothing starts it: add a start script if it is a server", pkg.lines["main"], pkg.main))
		}
	default:
		return nil, nil
	}
	p.Evidence = append(p.Evidence, pm.why)

	if n := len(pkg.dependencies) + len(pkg.devDependencies); n > 0 {
		line := pkg.lines["dependencies"]
		if len(pkg.dependencies) == 0 {
			line = pkg.lines["devDependencies"]
		}
		says := "declares " + countDeps(len(pkg.dependencies), len(pkg.devDependencies))
		if pm.lock != "" {
			says += "; " + pm.lock + " pins them"
		}
		p.Build = append(p.Build, Step{Command: pm.install(), Creates: "node_modules", Why: Evidence{File: "package.json", Line: line, Says: says}})
	}
	if build != "" {
		p.Build = append(p.Build, Step{Command: pm.run(build), Creates: cmp.Or(buildOutput(pkg.scripts[build]), builtDir), Why: pkg.scriptEvidence(build)})
	}
	if pkg.engineNode != "" {
		p.Notes = append(p.Notes, fmt.Sprintf("package.json:%d: engines.node is %q; corral does not install Node, so the platform's node must satisfy it", pkg.lines["engines.node"], pkg.engineNode))
	}
	return p, nil
}

// nodeWeb is the web command of a Node app, and why: its start script;
// npm's default start, node server.js, when it has none. A start script
// that is corral's own start ("start": "corral start", the way a Node app
// runs corral from npm) is no web command, or corral would run itself:
// the web command is then the one it gives after "--", else npm's default
// (server.js), else the package's main. "" when there is none.
//
// A start script that runs a development server gives way to the built
// server package.json points at (preferBuilt), whose build output
// directory builtDir is then set to.
func nodeWeb(a *appFiles, pkg *packageJSON, pm nodeManager, p *Plan, builtDir *string) (string, Evidence, error) {
	if !pkg.hasScript("start") {
		if a.isFile("server.js") {
			return "node server.js", Evidence{File: "server.js", Says: "no start script in package.json, and npm's default start is node server.js"}, nil
		}
		return "", Evidence{}, nil
	}
	ev := pkg.scriptEvidence("start")
	own, ok := corralStart(pkg.scripts["start"])
	if !ok {
		cmd, ev, built := preferBuilt(pkg, pm, p)
		if built != "" {
			dir, _, _ := strings.Cut(built, "/")
			*builtDir = dir
		}
		return cmd, ev, nil
	}
	runs := fmt.Sprintf("scripts.start runs corral itself (%q)", pkg.scripts["start"])
	switch {
	case own.Dashes && len(own.Command) > 0:
		ev.Says = runs + ": the web command is the one after --"
		return selfcmd.Src(own.Command), ev, nil
	case a.isFile("server.js"):
		ev.Says = runs + ", so the web command is npm's default start, node server.js"
		return "node server.js", ev, nil
	case pkg.main != "":
		ev.Says = fmt.Sprintf("%s, so the web command runs main, %q", runs, pkg.main)
		return "node " + pkg.main, ev, nil
	}
	return "", Evidence{}, fmt.Errorf(`package.json:%d: %s, so corral needs the server's own command: give it after "--" ("start": "corral start -- node app.js"), or add a server.js`, ev.Line, runs)
}

// corralStart returns the call of corral start in script, a package.json
// script, if there is one.
func corralStart(script string) (selfcmd.Call, bool) {
	for _, c := range selfcmd.Find(script, selfcmd.Binary{}) {
		if c.Starts() {
			return c, true
		}
	}
	return selfcmd.Call{}, false
}

// nodeProcessScripts are the scripts that become process types of their
// own name. Not "release": an npm release script usually publishes the
// package, which no deploy should do.
func nodeProcessScripts() []string { return []string{"worker", "clock", "scheduler"} }

// countDeps says how many dependencies a package.json declares, in words.
func countDeps(deps, dev int) string {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.Itoa(n) + " " + many
	}
	switch {
	case dev == 0:
		return plural(deps, "dependency", "dependencies")
	case deps == 0:
		return plural(dev, "dev dependency", "dev dependencies")
	default:
		return plural(deps, "dependency", "dependencies") + " and " + plural(dev, "dev dependency", "dev dependencies")
	}
}

// packageJSON is what detection needs of a package.json.
type packageJSON struct {
	scripts         map[string]string
	packageManager  string
	dependencies    []string
	devDependencies []string
	main            string // "" unless a string
	prismaSchema    string // prisma.schema, "" unless a string
	engineNode      string // engines.node, "" unless a string
	// lines maps a key's path ("scripts.start", "dependencies") to the
	// line it is on, for evidence that points at it.
	lines map[string]int
}

// parsePackageJSON reads a package.json. A syntax error names its line and
// column; a field of the wrong type names the field and the line of its
// key, so the user knows what to fix without a JSON validator.
//
// Fields are looked up by their exact names, as npm (JavaScript) does:
// encoding/json would take "Scripts" for "scripts". The fields that decide
// a command must have npm's types; main and engines only make notes, so
// an old package.json with, say, engines as an array (npm once allowed
// it) is still read.
func parsePackageJSON(src []byte) (*packageJSON, error) {
	// npm strips a byte order mark, which some Windows editors write.
	src = bytes.TrimPrefix(src, []byte("\ufeff"))
	var top map[string]json.RawMessage
	err := json.Unmarshal(src, &top)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		line, col := lineCol(src, syntax.Offset-1)
		return nil, fmt.Errorf("buildpack: package.json:%d:%d: invalid JSON: %s", line, col, syntax.Error())
	}
	// Unmarshal checks the syntax before decoding, so from here src is
	// valid JSON and the token walk reads all of it.
	keys := jsonKeys(src)
	if err != nil {
		return nil, packageJSONError(src, keys, "", 0, err)
	}
	// field decodes a top-level field, if there is one, into v.
	field := func(name string, v any) error {
		raw, ok := top[name]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			// The value's bytes end where its key's span does: the
			// last one of that name, as a repeated key's last value
			// is the one decoded.
			var at int64
			for _, k := range keys {
				if k.depth == 1 && k.path == name {
					at = k.end - int64(len(raw))
				}
			}
			return packageJSONError(src, keys, name, at, err)
		}
		return nil
	}
	var deps, devDeps map[string]json.RawMessage
	pkg := &packageJSON{lines: map[string]int{}}
	for _, err := range []error{
		field("scripts", &pkg.scripts),
		field("packageManager", &pkg.packageManager),
		field("dependencies", &deps),
		field("devDependencies", &devDeps),
	} {
		if err != nil {
			return nil, err
		}
	}
	pkg.dependencies, pkg.devDependencies = sortedKeys(deps), sortedKeys(devDeps)
	for _, k := range keys {
		// A top-level "scripts.start" is no script: only nested keys
		// have dots in their paths.
		if k.depth == 1 && strings.Contains(k.path, ".") {
			continue
		}
		pkg.lines[k.path] = k.line // a repeated key's last value is the one decoded
	}
	_ = field("main", &pkg.main)
	var prisma map[string]json.RawMessage
	if field("prisma", &prisma) == nil {
		_ = json.Unmarshal(prisma["schema"], &pkg.prismaSchema)
	}
	var engines map[string]json.RawMessage
	if field("engines", &engines) == nil {
		_ = json.Unmarshal(engines["node"], &pkg.engineNode)
	}
	return pkg, nil
}

// packageJSONError names the field of a wrong type and the line of its
// key. err comes from decoding the value of field that starts at byte at
// of src. The decoder's own Field stops at a map ("scripts" for a bad
// scripts.start), so the field is found from the offset instead: the
// deepest key whose value holds it.
func packageJSONError(src []byte, keys []jsonKey, field string, at int64, err error) error {
	var e *json.UnmarshalTypeError
	if !errors.As(err, &e) {
		line, _ := lineCol(src, at)
		return fmt.Errorf("buildpack: package.json:%d: %s: %w", line, field, err)
	}
	pos := at + e.Offset - 1 // the offset is just past the value's first token
	line, depth := 0, 0
	for _, k := range keys {
		if k.start <= pos && pos < k.end && k.depth > depth {
			field, line, depth = k.path, k.line, k.depth
		}
	}
	if depth == 0 {
		line, _ = lineCol(src, pos)
	}
	want := "a string"
	if e.Type != nil && (e.Type.Kind() == reflect.Map || e.Type.Kind() == reflect.Struct) {
		want = "an object"
	}
	got, _, _ := strings.Cut(e.Value, " ") // "number 1e400" is a number
	switch got {
	case "array", "object":
		got = "an " + got
	case "bool":
		got = "a boolean"
	default:
		got = "a " + got
	}
	if field == "" {
		return fmt.Errorf("buildpack: package.json:%d: the top level is %s, not an object", line, got)
	}
	return fmt.Errorf("buildpack: package.json:%d: %s is %s, not %s", line, field, got, want)
}

// jsonKey is an object key of a JSON document, at most two objects deep.
type jsonKey struct {
	path       string // dotted from the top: "scripts.start"
	depth      int    // 1 for a top-level key
	line       int    // of the key
	start, end int64  // offsets from just past the key to just past its value
}

// jsonKeys lists the keys of the top-level object and of the objects that
// are its values, with their lines and the span of their values. src must
// be valid JSON.
func jsonKeys(src []byte) []jsonKey {
	// frame is an open object or array.
	type frame struct {
		object  bool
		path    string // of the key whose value this is; "" at the top
		depth   int    // 1 for the top level
		keyed   bool   // reached through objects only, so its keys have paths
		wantKey bool   // the next string is a key
		pending int    // index in keys of the key whose value comes next, or -1
		self    int    // index in keys of this container's own key, or -1
	}
	var keys []jsonKey
	var stack []*frame
	// Keys come in the order of the text, so lines are counted on from
	// the last key rather than from the top each time.
	var lastPos int64
	line := 1
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber() // no float conversion, so 1e400 is no error
	// valueDone ends the value of the key pending in top, at offset off.
	valueDone := func(top *frame, off int64) {
		if top != nil && top.object {
			if top.pending >= 0 {
				keys[top.pending].end = off
			}
			top.pending, top.wantKey = -1, true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		off := dec.InputOffset()
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				f := &frame{object: t == '{', depth: 1, keyed: true, wantKey: t == '{', pending: -1, self: -1}
				if top != nil {
					f.depth = top.depth + 1
					f.keyed = top.keyed && top.object
					f.self = top.pending
					if f.self >= 0 {
						f.path = keys[f.self].path
					}
					top.pending, top.wantKey = -1, top.object
				}
				stack = append(stack, f)
				continue
			}
			if len(stack) == 0 {
				return keys // not valid JSON after all
			}
			closed := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if closed.self >= 0 {
				keys[closed.self].end = off
			}
		case string:
			if top != nil && top.object && top.wantKey {
				top.wantKey = false
				top.pending = -1
				if top.keyed && top.depth <= 2 {
					p := t
					if top.path != "" {
						p = top.path + "." + t
					}
					line += bytes.Count(src[lastPos:off], []byte("\n"))
					lastPos = off
					keys = append(keys, jsonKey{path: p, depth: top.depth, line: line, start: off, end: off})
					top.pending = len(keys) - 1
				}
				continue
			}
			valueDone(top, off)
		default:
			valueDone(top, off)
		}
	}
}

// lineCol gives the 1-based line and column (in characters) of byte pos of
// src, clamped to src.
func lineCol(src []byte, pos int64) (line, col int) {
	pos = max(0, min(pos, int64(len(src))))
	before := src[:pos]
	start := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte("\n")) + 1, utf8.RuneCount(before[start:]) + 1
}

// sortedKeys returns a map's keys; only the names of dependencies matter.
func sortedKeys(m map[string]json.RawMessage) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// hasScript reports whether package.json has a script of that name that
// does something.
func (p *packageJSON) hasScript(name string) bool {
	return strings.TrimSpace(p.scripts[name]) != ""
}

// scriptEvidence points at a script's line.
func (p *packageJSON) scriptEvidence(name string) Evidence {
	return Evidence{File: "package.json", Line: p.lines["scripts."+name], Says: fmt.Sprintf("scripts.%s is %q", name, p.scripts[name])}
}

// buildScript is the script a Heroku build runs: heroku-postbuild in place
// of build when there is one; "" for neither.
func (p *packageJSON) buildScript() string {
	for _, name := range []string{"heroku-postbuild", "build"} {
		if p.hasScript(name) {
			return name
		}
	}
	return ""
}

// buildOutput is the directory a build script writes, when it runs a tool
// whose output directory is known; "" when it is not. A static site is
// served from there.
func buildOutput(script string) string {
	for command := range strings.FieldsFuncSeq(script, func(r rune) bool { return strings.ContainsRune(";&|\n", r) }) {
		words := strings.FieldsFunc(command, func(r rune) bool { return strings.ContainsRune(" \t\r()", r) })
		for i, w := range words {
			tool := path.Base(w) // ./node_modules/.bin/vite is vite
			next := ""
			if i+1 < len(words) {
				next = words[i+1]
			}
			switch {
			case (tool == "vite" || tool == "astro") && next == "build":
				return outDir(words[i+2:], "--outDir", "dist")
			case tool == "parcel" && next == "build":
				return outDir(words[i+2:], "--dist-dir", "dist")
			case tool == "react-scripts" && next == "build":
				return "build"
			case tool == "next" && next == "export":
				return "out"
			case tool == "ng" && next == "build":
				return "dist"
			}
		}
	}
	return ""
}

// outDir finds a tool's output directory option among the rest of its
// command's words, or gives the tool's default. A directory outside
// the app is no directory corral can use: "".
func outDir(args []string, flag, def string) string {
	for i, arg := range args {
		v, ok := strings.CutPrefix(arg, flag+"=")
		if !ok && arg == flag && i+1 < len(args) {
			v, ok = args[i+1], true
		}
		if !ok {
			continue
		}
		v = path.Clean(strings.Trim(v, `"'`))
		if path.IsAbs(v) || v == "." || v == ".." || strings.HasPrefix(v, "../") {
			return ""
		}
		return v
	}
	return def
}

// nodeLock is a lock file and the package manager that writes it.
type nodeLock struct{ file, manager string }

// nodeLocks are the lock files corral knows, in the order it prefers them
// when more than one manager's is present.
func nodeLocks() []nodeLock {
	return []nodeLock{
		{"package-lock.json", "npm"},
		{"npm-shrinkwrap.json", "npm"},
		{"yarn.lock", "yarn"},
		{"pnpm-lock.yaml", "pnpm"},
		{"bun.lockb", "bun"},
		{"bun.lock", "bun"},
	}
}

// nodeManager is the package manager chosen for an app, and why.
type nodeManager struct {
	name  string // npm, yarn, pnpm or bun
	lock  string // its lock file, "" when there is none
	why   Evidence
	notes []string
	// via runs it: "" for itself, "corepack " when only corepack is on
	// PATH (see locate).
	via     string
	missing *Missing // neither it nor corepack is on PATH
	field   bool     // package.json's packageManager chose it
}

// chooseNodeManager picks the package manager: package.json's
// packageManager field (Corepack's) first, then the lock file, then npm;
// and how to run it on this machine (locate).
func chooseNodeManager(a *appFiles, pkg *packageJSON) nodeManager {
	m := pickNodeManager(a, pkg)
	m.locate(a.have)
	return m
}

// locate decides how to run m where have says which programs are on
// PATH: itself when it is there; else, for yarn and pnpm, corepack yarn
// or corepack pnpm (corepack comes with Node.js 16.9 to 24, and runs the
// version packageManager names, else its own default, fetched from the
// npm registry on first use), which needs neither root nor a global shim,
// as corepack enable would; else it is missing, with what to install.
func (m *nodeManager) locate(have Tools) {
	if have == nil || have(m.name) {
		return
	}
	if (m.name == "yarn" || m.name == "pnpm") && have("corepack") {
		m.via = "corepack "
		m.notes = append(m.notes, fmt.Sprintf("%s is not on PATH, but corepack is: corral runs corepack %s, which fetches %s (the version packageManager names, else corepack's default) on first use",
			m.name, m.name, m.name))
		return
	}
	var fix string
	switch m.name {
	case "npm":
		fix = "install Node.js with its npm (Debian: apt-get install nodejs npm)"
	case "bun":
		fix = "install bun (https://bun.sh)"
	default:
		fix = fmt.Sprintf("neither is corepack, through which corral would run it; install %s (npm install --global %s) or a Node.js that comes with corepack (16.9 to 24)", m.name, m.name)
	}
	switch {
	case m.name == "npm":
	case m.field:
		fix += ", or set packageManager in package.json to npm"
	case m.lock != "":
		fix += ", or delete " + m.lock + " to use npm"
	}
	m.missing = &Missing{Program: m.name, Why: m.why, Fix: fix}
}

// pickNodeManager is chooseNodeManager's choice of a package manager.
func pickNodeManager(a *appFiles, pkg *packageJSON) nodeManager {
	var present []nodeLock
	for _, l := range nodeLocks() {
		if a.isFile(l.file) {
			present = append(present, l)
		}
	}
	lockOf := func(manager string) string {
		for _, l := range present {
			if l.manager == manager {
				return l.file
			}
		}
		return ""
	}
	var m nodeManager
	if pkg.packageManager != "" {
		line := pkg.lines["packageManager"]
		name, _, _ := strings.Cut(pkg.packageManager, "@")
		switch name {
		case "npm", "yarn", "pnpm", "bun":
			m = nodeManager{name: name, lock: lockOf(name), field: true, why: Evidence{File: "package.json", Line: line, Says: fmt.Sprintf("sets packageManager to %q", pkg.packageManager)}}
			for _, l := range present {
				if l.manager != name {
					m.notes = append(m.notes, fmt.Sprintf("package.json:%d: packageManager is %q, so %s (%s's lock file) is not used", line, pkg.packageManager, l.file, l.manager))
				}
			}
			return m
		}
		m.notes = append(m.notes, fmt.Sprintf("package.json:%d: packageManager %q is not npm, yarn, pnpm or bun; corral goes by the lock files", line, pkg.packageManager))
	}
	if len(present) == 0 {
		m.name = "npm"
		m.why = Evidence{File: "package.json", Says: "no packageManager field and no lock file, so npm"}
		return m
	}
	chosen := present[0]
	if f := lockOf("npm"); f != "" {
		chosen = nodeLock{f, "npm"}
	}
	m.name, m.lock = chosen.manager, chosen.file
	m.why = Evidence{File: chosen.file, Says: chosen.manager + "'s lock file"}
	for _, l := range present {
		if l.manager != chosen.manager {
			m.notes = append(m.notes, fmt.Sprintf("both %s (%s) and %s (%s) are here; corral uses %s: set packageManager in package.json or delete the other lock file", chosen.file, chosen.manager, l.file, l.manager, chosen.manager))
		}
	}
	return m
}

// install is the command that installs the dependencies: exactly the
// locked ones when there is a lock file, as a CI build does.
func (m nodeManager) install() string {
	switch {
	case m.name == "npm" && m.lock != "":
		return "npm ci"
	case m.name == "npm":
		return "npm install"
	case m.lock != "":
		return m.via + m.name + " install --frozen-lockfile"
	default:
		// A frozen install with no lock file has nothing to keep to:
		// pnpm refuses to run.
		return m.via + m.name + " install"
	}
}

// run is the command that runs a script.
func (m nodeManager) run(script string) string {
	if m.name == "yarn" {
		return m.via + "yarn " + script
	}
	return m.via + m.name + " run " + script
}

// start is the command that runs the start script.
func (m nodeManager) start() string {
	if m.name == "bun" {
		return "bun run start" // the spelling bun documents for scripts
	}
	return m.via + m.name + " start"
}
