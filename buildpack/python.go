package buildpack

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// detectPython finds a Python web app: a Django project (manage.py), or a
// WSGI (Flask, Bottle, Falcon…) or ASGI (FastAPI, Starlette, Quart) app
// assigned at the top of a well-known file. It reads the source as tokens
// and never imports it. Two different apps are an *AmbiguousError; a
// manage.py wins over the rest, which it notes.
func detectPython(a *appFiles) (*Plan, error) {
	manage, err := readPyFile(a, "manage.py")
	if err != nil {
		return nil, err
	}
	if manage != nil && strings.Contains(strings.ToLower(manage.src), "django") {
		// The other candidates only make notes: one a project cannot
		// read is no reason to refuse it.
		others, _, _ := findPyEntries(a, false, nil)
		return djangoPlan(a, manage, others)
	}
	fa, notes := readFlaskApp(a)
	entries, more, err := findPyEntries(a, true, fa)
	if err != nil || len(entries) == 0 {
		return nil, err
	}
	notes = append(notes, more...)
	entries, passed := preferFlaskApp(entries, fa)
	notes = append(notes, passed...)
	deps := readPyDeps(a)
	var plans []*Plan
	for _, e := range entries {
		p := pyEntryPlan(a, e, deps)
		if p.Title == "Python (Flask)" {
			flaskStatic(a, e, p)
		}
		pyRelease(a, e, deps, p)
		pyWorkers(a, deps, p, false)
		plans = append(plans, p)
	}
	if len(plans) > 1 {
		return nil, &AmbiguousError{Dir: a.dir, Candidates: plans}
	}
	if e := entries[0]; e.needs != "" {
		fn, _, _ := strings.Cut(e.attr, "(")
		return nil, fmt.Errorf("buildpack: %s:%d: def %s(%s) needs an argument, and no module of the app calls it: gunicorn %q would fail with a TypeError. "+
			"Write a wsgi.py that makes the app (app = %s(...)), or set FLASK_APP in .flaskenv to the call (FLASK_APP=\"%s:%s(...)\"), or write a Procfile",
			e.at.File, e.at.Line, fn, e.needs, e.target(), fn, e.module, fn)
	}
	p := plans[0]
	p.Notes = append(p.Notes, notes...)
	return p, nil
}

// preferFlaskApp keeps, of several entries, the one FLASK_APP names (fa),
// with a note for each of the others; with one entry, or none named, it
// changes nothing.
func preferFlaskApp(entries []pyEntry, fa *flaskApp) ([]pyEntry, []string) {
	i := slices.IndexFunc(entries, func(e pyEntry) bool { return e.named != nil })
	if len(entries) < 2 || i < 0 {
		return entries, nil
	}
	var notes []string
	for j, e := range entries {
		if j != i {
			notes = append(notes, fmt.Sprintf("%s is passed over: %s:%d %s", e.at, fa.at.File, fa.at.Line, fa.at.Says))
		}
	}
	return entries[i : i+1], notes
}

// flaskStatic lets the edge serve a Flask app's static folder where Flask
// puts it by default: static/ beside the app's module, at /static/. The
// mount falls through, so a path with no file there still reaches the app:
// an app that moved its static folder loses nothing.
func flaskStatic(a *appFiles, e pyEntry, p *Plan) {
	dir := join(path.Dir(e.file), "static")
	if !a.isDir(dir) {
		return
	}
	p.Static = append(p.Static, Mount{Prefix: "/static/", Dir: dir, Fallthrough: true,
		Why: Evidence{File: dir, Says: "Flask's default static folder, beside " + e.file}})
}

// pyFile is a Python file the detector read, split into statements.
type pyFile struct {
	name  string // relative to the app directory
	src   string
	stmts []pyStmt
}

// readPyFile reads and splits a Python file; nil, nil when it is missing.
func readPyFile(a *appFiles, name string) (*pyFile, error) {
	b, err := a.readOptional(name)
	if b == nil || err != nil {
		return nil, err
	}
	src := string(b)
	return &pyFile{name: name, src: src, stmts: pyStatements(src)}, nil
}

// evidence points at a statement of the file, quoting it.
func (f *pyFile) evidence(s pyStmt) Evidence {
	return Evidence{File: f.name, Line: s.line(), Says: stmtSays(f.src, s)}
}

// topAssignment returns the first module-level statement assigning name.
func (f *pyFile) topAssignment(name string) (pyStmt, bool) {
	for _, s := range f.stmts {
		if n, _, ok := s.assignment(); ok && s.top && n == name {
			return s, true
		}
	}
	return pyStmt{}, false
}

// imports returns the absolute modules the file imports anywhere (an
// import in a try block counts): "flask", "app.main".
func (f *pyFile) imports() []string {
	var mods []string
	for _, s := range f.stmts {
		m, _ := s.imports()
		for _, mod := range m {
			if !strings.HasPrefix(mod, ".") {
				mods = append(mods, mod)
			}
		}
	}
	return mods
}

// importsAny returns the first of packages the file imports (or a module
// of), "" for none.
func importsAny(mods []string, packages ...string) string {
	for _, pkg := range packages {
		for _, m := range mods {
			if m == pkg || strings.HasPrefix(m, pkg+".") {
				return pkg
			}
		}
	}
	return ""
}

// pyRootFiles are the files at the top of an app that may hold its WSGI or
// ASGI app, in the order they are tried.
func pyRootFiles() []string {
	return []string{"app.py", "wsgi.py", "application.py", "main.py", "server.py"}
}

// pyEntry is a Python web app found in a file: what a server imports.
type pyEntry struct {
	file      string // "app.py"
	module    string // "app", "app.main"
	attr      string // "app", "application", "create_app()"
	kind      Kind   // Flask (any WSGI app) or ASGI
	framework string // "Flask", "FastAPI", "WSGI"
	at        Evidence
	pathDir   string   // a directory the server must add to Python's path: "src"
	imports   []string // what the file imports, to tell a wrapper from what it wraps
	// named is where FLASK_APP names this entry (.flaskenv's line), nil
	// when it does not.
	named *Evidence
	// needs lists the parameters a factory must be given ("config_name"),
	// "" when create_app() can be called as it is.
	needs string
}

// target is what a server is told to load: "app:app", "app:create_app()".
func (e pyEntry) target() string { return e.module + ":" + e.attr }

// findPyEntries looks for WSGI and ASGI apps: in the root files and an
// ASGI one in asgi.py, then (with packages) in another root module that
// makes the app (blog.py's app = create_app()), in the __init__.py of a
// root package that imports a framework (Flask's "yourapplication"
// layout, its tutorial's create_app), in app/main.py, in
// src/<package>/main.py, and in the module FLASK_APP names (fa, nil for
// none). An entry whose module another entry imports (wsgi.py doing "from
// app import create_app") is the same app, and only the importer is kept.
// notes are what the user should know of FLASK_APP.
func findPyEntries(a *appFiles, packages bool, fa *flaskApp) (entries []pyEntry, notes []string, err error) {
	var out []pyEntry
	add := func(name, module, pathDir string, wsgi bool) error {
		f, err := readPyFile(a, name)
		if f == nil || err != nil {
			return err
		}
		if e, ok := pyEntryIn(f, module, wsgi); ok {
			e.pathDir = pathDir
			out = append(out, e)
		}
		return nil
	}
	for _, name := range pyRootFiles() {
		if err := add(name, strings.TrimSuffix(name, ".py"), "", true); err != nil {
			return nil, nil, err
		}
	}
	// asgi.py holds ASGI apps only: Django's get_asgi_application() there
	// is no app without its manage.py.
	if err := add("asgi.py", "asgi", "", false); err != nil {
		return nil, nil, err
	}
	if !packages {
		return dropWrapped(out), nil, nil
	}
	root, err := a.list(".")
	if err != nil {
		return nil, nil, err
	}
	for _, de := range root {
		name := de.Name()
		module := strings.TrimSuffix(name, ".py")
		if module == name || slices.Contains(pyRootFiles(), name) || name == "asgi.py" || !validModule(module) || strings.Contains(module, ".") || notAppModule(module) {
			continue
		}
		f, err := readPyFile(a, name)
		if err != nil {
			return nil, nil, err
		}
		// Only an app made here counts (app = create_app()), not a
		// factory defined here: a script's def is no app.
		if e, ok := pyEntryIn(f, module, true); ok && !strings.Contains(e.attr, "(") {
			out = append(out, e)
		}
	}
	for _, de := range root {
		pkg := de.Name()
		if !validModule(pkg) || strings.Contains(pkg, ".") || !a.isFile(pkg+"/__init__.py") {
			continue
		}
		f, err := readPyFile(a, pkg+"/__init__.py")
		if err != nil {
			return nil, nil, err
		}
		// A package's __init__.py counts only when it imports a
		// framework: packages are many, and application = … is
		// common outside web apps.
		if e, ok := pyEntryIn(f, pkg, true); ok && importsAny(e.imports, slices.Concat(wsgiImports(), asgiImports())...) != "" {
			out = append(out, e)
		}
	}
	// FastAPI's "bigger applications" layout: app/main.py, or the same in
	// a package of another name (api/main.py).
	for _, de := range root {
		if pkg := de.Name(); validModule(pkg) && !strings.Contains(pkg, ".") && a.isFile(pkg+"/main.py") && (pkg == "app" || a.isFile(pkg+"/__init__.py")) {
			if err := add(pkg+"/main.py", pkg+".main", "", false); err != nil {
				return nil, nil, err
			}
		}
	}
	src, err := a.list("src")
	if err != nil {
		return nil, nil, err
	}
	for _, de := range src {
		pkg := de.Name()
		if validModule(pkg) && !strings.Contains(pkg, ".") && a.isFile("src/"+pkg+"/main.py") {
			if err := add("src/"+pkg+"/main.py", pkg+".main", "src", false); err != nil {
				return nil, nil, err
			}
		}
	}
	if fa != nil {
		e, note, err := flaskAppEntry(a, fa)
		if err != nil {
			return nil, nil, err
		}
		if note != "" {
			notes = append(notes, note)
		} else {
			out = slices.DeleteFunc(out, func(o pyEntry) bool { return o.file == e.file })
			out = append(out, e)
		}
	}
	return dropWrapped(out), notes, nil
}

// notAppModule reports whether a root module's name says it is no web
// app's entry even when it makes one (a Celery worker's app =
// create_app(), a test's): such modules are left to the Procfile.
func notAppModule(module string) bool {
	m := strings.ToLower(module)
	for _, word := range []string{"test", "conftest", "setup", "config", "settings", "celery", "worker", "task", "gunicorn", "noxfile", "fabfile", "migrat", "seed"} {
		if strings.Contains(m, word) {
			return true
		}
	}
	return false
}

// flaskAppEntry is the entry FLASK_APP names: the attribute or call it
// gives, or the app found in the module's file as Flask would find it.
// note says why there is none.
func flaskAppEntry(a *appFiles, fa *flaskApp) (pyEntry, string, error) {
	base := join(fa.pathDir, strings.ReplaceAll(fa.module, ".", "/"))
	var f *pyFile
	for _, name := range []string{base + ".py", base + "/__init__.py"} {
		var err error
		if f, err = readPyFile(a, name); err != nil {
			return pyEntry{}, "", err
		}
		if f != nil {
			break
		}
	}
	if f == nil {
		return pyEntry{}, fmt.Sprintf("%s, but there is no %s.py or %s/__init__.py: corral looked for the app elsewhere", fa.at, base, base), nil
	}
	at := fa.at
	if fa.attr != "" {
		fw := "WSGI"
		if importsAny(f.imports(), "flask") != "" {
			fw = "Flask"
		}
		return pyEntry{file: f.name, module: fa.module, attr: fa.attr, kind: Flask, framework: fw, at: at,
			pathDir: fa.pathDir, imports: f.imports(), named: &at}, "", nil
	}
	e, ok := pyEntryIn(f, fa.module, true)
	if !ok {
		return pyEntry{}, fmt.Sprintf("%s, but corral finds no app in %s (app or application, or a create_app factory): corral looked for the app elsewhere", fa.at, f.name), nil
	}
	e.pathDir, e.named = fa.pathDir, &at
	return e, "", nil
}

// dropWrapped keeps the entries no other entry imports: wsgi.py importing
// app.py's factory is one app, served from wsgi.py. When every entry is
// imported by another, all are kept.
func dropWrapped(entries []pyEntry) []pyEntry {
	var kept []pyEntry
	for i, e := range entries {
		wrapped := false
		for j, other := range entries {
			if i != j && importsAny(other.imports, e.module) != "" {
				wrapped = true
			}
		}
		if !wrapped {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return entries
	}
	return kept
}

// asgiFramework names the framework whose constructor callee is, or "":
// FastAPI(), fastapi.FastAPI(), starlette.applications.Starlette().
func asgiFramework(callee string) string {
	if callee == "falcon.asgi.App" {
		return "Falcon"
	}
	last := callee[strings.LastIndexByte(callee, '.')+1:]
	switch last {
	case "FastAPI", "Starlette", "Quart", "Litestar":
		return last
	}
	return ""
}

// asgiImports are the ASGI frameworks' packages, lower case as imported.
func asgiImports() []string { return []string{"fastapi", "starlette", "quart", "litestar"} }

// wsgiImports are the WSGI frameworks' packages.
func wsgiImports() []string {
	return []string{"flask", "bottle", "falcon", "pyramid", "werkzeug", "webob", "cherrypy"}
}

// frameworkOfImport is the framework's name as its users write it.
func frameworkOfImport(pkg string) string {
	switch pkg {
	case "fastapi":
		return "FastAPI"
	case "":
		return ""
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:]
}

// isWSGICall reports whether a call makes a WSGI app whatever the file
// imports: Flask(__name__), bottle.Bottle(), falcon.App(), a factory.
func isWSGICall(callee string) bool {
	switch callee[strings.LastIndexByte(callee, '.')+1:] {
	case "Flask", "Bottle", "default_app", "create_app", "make_app", "get_wsgi_application", "make_wsgi_app":
		return true
	}
	return strings.HasPrefix(callee, "falcon.")
}

// pyVar is a module-level name of a file that holds a web app.
type pyVar struct {
	name      string
	kind      Kind
	framework string
	stmt      pyStmt
}

// pyEntryIn finds the app of a file: a module-level app or application
// that a framework's constructor (or, in a file that imports a framework,
// any call) makes; else another name a FastAPI, Starlette or Quart
// constructor makes; else, for WSGI, a module-level def create_app(. With
// wsgi false only ASGI apps count.
func pyEntryIn(f *pyFile, module string, wsgi bool) (pyEntry, bool) {
	imports := f.imports()
	wsgiPkg := importsAny(imports, wsgiImports()...)
	asgiPkg := importsAny(imports, asgiImports()...)
	var vars []pyVar
	seen := map[string]int{} // the names in vars, to their index + 1
	for _, s := range f.stmts {
		name, value, ok := s.assignment()
		if _, dup := seen[name]; !ok || !s.top || dup {
			continue // the first assignment makes the app; later ones wrap it
		}
		n := len(vars)
		callee := pyCallee(value)
		isApp := name == "app" || name == "application"
		switch {
		case callee != "" && asgiFramework(callee) != "":
			vars = append(vars, pyVar{name, ASGI, asgiFramework(callee), s})
		case !isApp:
		case len(value) == 1 && value[0].kind == tokName && seen[value[0].text] > 0:
			// application = app: the same app under the name servers look for
			v := vars[seen[value[0].text]-1]
			vars = append(vars, pyVar{name, v.kind, v.framework, s})
		case callee != "" && asgiPkg != "" && wsgiPkg == "":
			// app = create_app() in a FastAPI project
			vars = append(vars, pyVar{name, ASGI, frameworkOfImport(asgiPkg), s})
		case !wsgi:
		case callee != "" && (wsgiPkg != "" || name == "application" || isWSGICall(callee)),
			callee == "" && name == "application" && len(value) == 1 && value[0].kind == tokName:
			fw := "WSGI"
			if wsgiPkg == "flask" {
				fw = "Flask"
			}
			vars = append(vars, pyVar{name, Flask, fw, s})
		}
		if len(vars) > n {
			seen[name] = len(vars) // 1-based: 0 is "not an app"
		}
	}
	entry := func(v pyVar) (pyEntry, bool) {
		return pyEntry{file: f.name, module: module, attr: v.name, kind: v.kind, framework: v.framework,
			at: f.evidence(v.stmt), imports: imports}, true
	}
	for _, want := range []string{"app", "application"} {
		if i := slices.IndexFunc(vars, func(v pyVar) bool { return v.name == want }); i >= 0 {
			return entry(vars[i])
		}
	}
	if i := slices.IndexFunc(vars, func(v pyVar) bool { return v.kind == ASGI }); i >= 0 {
		return entry(vars[i])
	}
	if wsgi && (asgiPkg == "" || wsgiPkg != "") {
		return pyFactoryIn(f, module)
	}
	return pyEntry{}, false
}

// pyFactoryIn finds a module-level def create_app(: a Flask app factory,
// which gunicorn calls with "module:create_app()".
func pyFactoryIn(f *pyFile, module string) (pyEntry, bool) {
	imports := f.imports()
	for _, s := range f.stmts {
		if s.top && s.defName() == "create_app" {
			fw := "WSGI"
			if importsAny(imports, "flask") != "" {
				fw = "Flask"
			}
			return pyEntry{file: f.name, module: module, attr: "create_app()", kind: Flask, framework: fw,
				at:      Evidence{File: f.name, Line: s.line(), Says: "def create_app(): an app factory"},
				imports: imports, needs: strings.Join(s.requiredParams(), ", ")}, true
		}
	}
	return pyEntry{}, false
}

// pyEntryPlan is the plan for a WSGI or ASGI app: its server, the install
// step, and notes on what the dependencies lack.
func pyEntryPlan(a *appFiles, e pyEntry, deps *pyDeps) *Plan {
	p := &Plan{Kind: e.kind, Evidence: []Evidence{e.at}}
	if e.named != nil && *e.named != e.at {
		p.Evidence = append(p.Evidence, *e.named)
	}
	fw := e.framework
	if fw == "WSGI" {
		if _, ok := deps.get("flask"); ok {
			fw = "Flask"
		}
	}
	p.Title = "Python (" + fw + ")"
	var srv pyServer
	if e.kind == ASGI {
		srv.cmd, srv.tool, srv.declared = asgiWeb(e.target(), e.pathDir, deps)
	} else {
		srv = wsgiServer(a, e.target(), deps)
		switch {
		case e.pathDir == "":
		case srv.tool == "gunicorn":
			srv.cmd += " --pythonpath " + e.pathDir
		default:
			srv.cmd = "PYTHONPATH=" + e.pathDir + " " + srv.cmd
		}
	}
	web := Process{Type: "web", Command: srv.cmd, Why: e.at}
	if srv.why != nil {
		web.Why = *srv.why
	}
	p.Processes = []Process{web}
	deps.apply(p, srv.tool, srv.declared)
	p.Notes = append(p.Notes, srv.notes...)
	return p
}

// asgiWeb is the web command for an ASGI app, with the server the
// dependencies declare: gunicorn with uvicorn's worker when both are,
// else uvicorn, hypercorn or daphne, and uvicorn when none is. It returns
// the server's name and where it is declared (none: File "").
func asgiWeb(target, pathDir string, deps *pyDeps) (cmd, tool string, declared Evidence) {
	uvicorn, hasUvicorn := uvicornDeclared(deps)
	gunicorn, hasGunicorn := deps.get("gunicorn")
	env := ""
	if pathDir != "" {
		env = "PYTHONPATH=" + pathDir + " "
	}
	if hasGunicorn && hasUvicorn {
		// uvicorn.workers is deprecated for the uvicorn-worker package,
		// whose class the app then declares.
		worker := "uvicorn.workers.UvicornWorker"
		if _, ok := deps.get("uvicorn-worker"); ok {
			worker = "uvicorn_worker.UvicornWorker"
		}
		cmd = "gunicorn " + target + " -k " + worker + " --bind " + bindHost + ":$PORT"
		if pathDir != "" {
			cmd += " --pythonpath " + pathDir
		}
		return cmd, "gunicorn", gunicorn.at
	}
	if !hasUvicorn {
		if d, ok := deps.get("hypercorn"); ok {
			return env + "hypercorn " + target + " --bind " + bindHost + ":$PORT", "hypercorn", d.at
		}
		if d, ok := deps.get("daphne"); ok {
			return env + "daphne -b " + bindHost + " -p $PORT " + target, "daphne", d.at
		}
	}
	cmd = "uvicorn " + target + " --host " + bindHost + " --port $PORT"
	if pathDir != "" {
		cmd += " --app-dir " + pathDir
	}
	return cmd, "uvicorn", uvicorn
}

// uvicornDeclared reports whether uvicorn is declared, by itself or by
// fastapi[standard] (or [all]), which brings it.
func uvicornDeclared(deps *pyDeps) (Evidence, bool) {
	for _, name := range []string{"uvicorn", "uvicorn-worker"} {
		if d, ok := deps.get(name); ok {
			return d.at, true
		}
	}
	if d, ok := deps.get("fastapi"); ok && slices.ContainsFunc(d.extras, func(x string) bool {
		return x == "all" || strings.HasPrefix(x, "standard")
	}) {
		at := d.at
		at.Says += ", which brings uvicorn"
		return at, true
	}
	return Evidence{}, false
}

// djangoPlan is the plan for a Django project: manage.py names the settings
// module, the package above it holds wsgi.py (or asgi.py), and the
// settings, read as text, say whether there are static files to collect
// and a database to migrate.
func djangoPlan(a *appFiles, manage *pyFile, others []pyEntry) (*Plan, error) {
	module, ok := settingsModuleDefault(manage.src)
	if !ok {
		where := "manage.py"
		if i := strings.Index(manage.src, "DJANGO_SETTINGS_MODULE"); i >= 0 {
			where += fmt.Sprintf(":%d", 1+strings.Count(strings.ReplaceAll(manage.src[:i], "\r\n", "\n"), "\n"))
		}
		return nil, fmt.Errorf("buildpack: %s: Django's manage.py names no settings module: corral reads it from "+
			`os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings") with the module as a plain string; `+
			"add that line, or write a Procfile", where)
	}
	deps := readPyDeps(a)
	p := &Plan{Kind: Django, Title: "Python (Django)"}
	p.Evidence = append(p.Evidence, Evidence{File: "manage.py", Line: setdefaultLine(manage, module),
		Says: fmt.Sprintf("sets DJANGO_SETTINGS_MODULE to %q", module)})
	web, tool, declared, err := djangoWeb(a, module, deps, p)
	if err != nil {
		return nil, err
	}
	p.Evidence = append(p.Evidence, web.Why)
	p.Processes = append(p.Processes, web)
	deps.apply(p, tool, declared)

	settings, err := readDjangoSettings(a, module)
	if err != nil {
		return nil, err
	}
	if settings.file == "" {
		p.Notes = append(p.Notes, fmt.Sprintf("no file for the settings module %s (%s.py or %s/__init__.py): static files and migrations not detected",
			module, strings.ReplaceAll(module, ".", "/"), strings.ReplaceAll(module, ".", "/")))
	} else {
		djangoStatic(settings, p)
		if s, ok := settings.databases(); ok {
			p.Release = &Process{Type: "release", Command: "python3 manage.py migrate --noinput", Why: s.evidence()}
		}
	}
	pyWorkers(a, deps, p, true)
	project, _, _ := strings.Cut(module, ".")
	if _, ok := deps.get("celery"); !ok && deps.unread == nil && strings.Contains(module, ".") && a.isFile(project+"/celery.py") {
		p.Notes = append(p.Notes, fmt.Sprintf("%s/celery.py defines a celery app, but celery is not declared: no worker process", project))
	}
	for _, e := range others {
		p.Notes = append(p.Notes, fmt.Sprintf("%s:%d: %s is passed over: manage.py makes this a Django project", e.at.File, e.at.Line, e.at.Says))
	}
	return p, nil
}

// setdefaultLine is the line of the setdefault call that names module.
func setdefaultLine(f *pyFile, module string) int {
	for _, s := range f.stmts {
		for i, t := range s.toks {
			if t.is(tokName, "setdefault") && i+4 < len(s.toks) && s.toks[i+1].is(tokOp, "(") &&
				s.toks[i+2].isPlainString("DJANGO_SETTINGS_MODULE") && s.toks[i+4].isPlainString(module) {
				return t.line
			}
		}
	}
	return 0
}

// djangoWeb finds the web process of a Django project: the wsgi.py of the
// settings module's package or of a package above it (config.settings.prod
// looks in config/settings/, then config/, then the top), served by the
// WSGI server the app declares (wsgiServer); failing that an asgi.py,
// served as asgiWeb decides. An app that declares an ASGI server (uvicorn,
// daphne, hypercorn) or Channels is served from its asgi.py first: that
// is what it declares them for. It returns the command's program and
// where it is declared (File "": nowhere).
func djangoWeb(a *appFiles, module string, deps *pyDeps, p *Plan) (web Process, tool string, declared Evidence, err error) {
	parts := strings.Split(module, ".")
	kinds := []string{"wsgi", "asgi"}
	channels, hasChannels := deps.get("channels")
	_, hasUvicorn := uvicornDeclared(deps)
	_, hasDaphne := deps.get("daphne")
	_, hasHypercorn := deps.get("hypercorn")
	asgiServer := hasUvicorn || hasDaphne || hasHypercorn
	if asgiServer || hasChannels {
		kinds = []string{"asgi", "wsgi"}
	}
	var looked []string
	for _, kind := range kinds {
		for n := len(parts) - 1; n >= 0; n-- {
			file := join(strings.Join(parts[:n], "/"), kind+".py")
			looked = append(looked, file)
			f, err := readPyFile(a, file)
			if err != nil {
				return Process{}, "", Evidence{}, err
			}
			if f == nil {
				continue
			}
			mod := strings.Join(append(slices.Clone(parts[:n]), kind), ".")
			why := Evidence{File: file, Says: "the " + strings.ToUpper(kind) + " entry point"}
			attr := "application"
			if s, ok := f.topAssignment("application"); ok {
				why.Line = s.line()
			} else if s, ok := f.topAssignment("app"); ok {
				why.Line, attr = s.line(), "app"
			}
			if m, ok := settingsModuleDefault(f.src); ok && m != module {
				p.Notes = append(p.Notes, fmt.Sprintf("%s names the settings module %s and manage.py %s: the web process uses %s's, collectstatic and migrate manage.py's, unless DJANGO_SETTINGS_MODULE is set",
					file, m, module, file))
			}
			if kind == "wsgi" {
				srv := wsgiServer(a, mod+":"+attr, deps)
				if srv.tool == "gunicorn" {
					// gunicorn's own spelling: the module, its
					// application implied.
					srv.cmd = "gunicorn " + mod
					if attr != "application" {
						srv.cmd += ":" + attr
					}
					srv.cmd += " --bind " + bindHost + ":$PORT"
				}
				if srv.why != nil {
					why = *srv.why
				}
				p.Notes = append(p.Notes, srv.notes...)
				return Process{Type: "web", Command: srv.cmd, Why: why}, srv.tool, srv.declared, nil
			}
			if hasChannels && !asgiServer {
				// Channels 2 and 3 install daphne, and runserver runs it;
				// Channels 4 asks for it to be declared.
				at := channels.at
				at.Says += ", which brings daphne before Channels 4 (with 4, declare daphne)"
				return Process{Type: "web", Command: "daphne -b " + bindHost + " -p $PORT " + mod + ":" + attr, Why: why}, "daphne", at, nil
			}
			cmd, tool, declared := asgiWeb(mod+":"+attr, "", deps)
			return Process{Type: "web", Command: cmd, Why: why}, tool, declared, nil
		}
	}
	return Process{}, "", Evidence{}, fmt.Errorf("buildpack: manage.py: the settings module is %s, but there is no wsgi.py or asgi.py to serve it (looked for %s): write a Procfile naming the web command",
		module, strings.Join(looked, ", "))
}

// djangoSetting is a module-level name a settings file assigns or changes.
type djangoSetting struct {
	file  *pyFile
	stmt  pyStmt
	name  string
	value []pyTok // nil for a change: DATABASES["default"] = …, X.update(…)
}

// evidence points at the setting's statement.
func (s djangoSetting) evidence() Evidence { return s.file.evidence(s.stmt) }

// djangoSettings are a settings module's statements in the order Python
// runs them, with those of the modules it star-imports (from .base import
// *) in their place.
type djangoSettings struct {
	file string // the settings module's file; "" when the app has none
	list []djangoSetting
	// assigned indexes list by name: the assignments to each, in order,
	// so a file of many thousand names is read in n log n.
	assigned map[string][]int
	// paths memoises the value of each assignment a path refers to, so
	// names built on names (b = a / a, c = b / b…) are evaluated once.
	paths map[int]pyPathResult
}

// pyPathResult is a memoised path value.
type pyPathResult struct {
	v  pyPath
	ok bool
}

// maxSettingsImports bounds how deep star imports are followed.
const maxSettingsImports = 4

// pyModulePath is the file of module in the app: a/b.py or a/b/__init__.py,
// or "".
func pyModulePath(a *appFiles, module string) string {
	base := strings.ReplaceAll(module, ".", "/")
	for _, f := range []string{base + ".py", base + "/__init__.py"} {
		if a.isFile(f) {
			return f
		}
	}
	return ""
}

// readDjangoSettings reads the settings module's file and what it
// star-imports from the app.
func readDjangoSettings(a *appFiles, module string) (*djangoSettings, error) {
	ds := &djangoSettings{file: pyModulePath(a, module)}
	if ds.file == "" {
		return ds, nil
	}
	return ds, ds.load(a, ds.file, 0, map[string]bool{})
}

// load adds file's module-level statements, following its star imports.
func (ds *djangoSettings) load(a *appFiles, file string, depth int, seen map[string]bool) error {
	seen[file] = true
	f, err := readPyFile(a, file)
	if f == nil || err != nil {
		return err
	}
	_, pkg := pyModuleFile(file)
	return ds.add(f, func(mod string) error {
		abs, ok := resolveImport(mod, pkg)
		if !ok || depth >= maxSettingsImports {
			return nil
		}
		if mf := pyModulePath(a, abs); mf != "" && !seen[mf] {
			return ds.load(a, mf, depth+1, seen)
		}
		return nil
	})
}

// add adds the statements of f that assign or change a name, calling
// starImport in place of a module-level "from m import *".
func (ds *djangoSettings) add(f *pyFile, starImport func(mod string) error) error {
	for _, s := range f.stmts {
		if mods, star := s.imports(); star && s.top && len(mods) == 1 {
			if err := starImport(mods[0]); err != nil {
				return err
			}
			continue
		}
		if name, value, ok := s.assignment(); ok {
			if ds.assigned == nil {
				ds.assigned = map[string][]int{}
			}
			ds.assigned[name] = append(ds.assigned[name], len(ds.list))
			ds.list = append(ds.list, djangoSetting{file: f, stmt: s, name: name, value: value})
		} else if t := s.toks; len(t) > 1 && t[0].kind == tokName && (t[1].is(tokOp, "[") || t[1].is(tokOp, ".")) {
			ds.list = append(ds.list, djangoSetting{file: f, stmt: s, name: t[0].text})
		}
	}
	return nil
}

// last returns the index of the last assignment to name before end, or -1.
func (ds *djangoSettings) last(name string, end int) int {
	idx := ds.assigned[name]
	n, _ := slices.BinarySearch(idx, end)
	if n == 0 {
		return -1
	}
	return idx[n-1]
}

// evalPath evaluates the path setting i assigns, or false when it is not
// of a form the evaluator knows or sits inside a block (an if, a try): a
// conditional value cannot be known without running the file.
func (ds *djangoSettings) evalPath(i int) (string, bool) {
	s := ds.list[i]
	if !s.stmt.top {
		return "", false
	}
	return evalPath(s.file.name, s.value, 0, ds.lookup(i))
}

// lookup gives the path evaluator the value names have before setting i.
func (ds *djangoSettings) lookup(i int) func(string, int) (pyPath, bool) {
	return func(name string, depth int) (pyPath, bool) {
		j := ds.last(name, i)
		if j < 0 || !ds.list[j].stmt.top {
			return pyPath{}, false
		}
		if r, ok := ds.paths[j]; ok {
			return r.v, r.ok
		}
		s := ds.list[j]
		v, ok := evalPathValue(s.file.name, s.value, depth, ds.lookup(j))
		if ds.paths == nil {
			ds.paths = map[int]pyPathResult{}
		}
		ds.paths[j] = pyPathResult{v, ok}
		return v, ok
	}
}

// isValue reports whether a setting's value is exactly the one token text
// (None, {}): what Django takes as unset.
func (s djangoSetting) isValue(text ...string) bool {
	if len(s.value) != len(text) {
		return false
	}
	for i, t := range text {
		if s.value[i].kind == tokString || s.value[i].text != t {
			return false
		}
	}
	return true
}

// databases returns the statement that gives the project a database: the
// last assignment to DATABASES when it is not {} (Django's default, no
// database), else a change after it (DATABASES["default"] =
// dj_database_url.config()).
func (ds *djangoSettings) databases() (djangoSetting, bool) {
	i := ds.last("DATABASES", len(ds.list))
	if i >= 0 && !ds.list[i].isValue("{", "}") {
		return ds.list[i], true
	}
	for _, s := range ds.list[i+1:] {
		if s.name == "DATABASES" {
			return s, true
		}
	}
	return djangoSetting{}, false
}

// djangoStatic adds what STATIC_ROOT and STATIC_URL say to the plan: a
// collectstatic step and a mount that corral confirms with Django at
// start, or a note when there are no files to serve.
func djangoStatic(ds *djangoSettings, p *Plan) {
	i := ds.last("STATIC_ROOT", len(ds.list))
	if i < 0 || ds.list[i].isValue("None") {
		p.Notes = append(p.Notes, fmt.Sprintf("%s sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off", ds.file))
		return
	}
	root := ds.list[i]
	why := root.evidence()
	dir, ok := ds.evalPath(i)
	if !ok {
		p.Notes = append(p.Notes, fmt.Sprintf("%s: not a path corral reads without running Python (a value set in a block, or from the environment): corral asks Django at start", why))
	}
	p.Build = append(p.Build, Step{Command: "python3 manage.py collectstatic --noinput", Creates: dir, Why: why})

	prefix := "/static/" // Django's startproject sets "static/"
	if j := ds.last("STATIC_URL", len(ds.list)); j >= 0 {
		s := ds.list[j]
		if v := s.value; s.stmt.top && len(v) == 1 && v[0].kind == tokString && v[0].plain {
			pre, local, err := staticPrefix(v[0].text)
			switch {
			case err != nil:
				p.Notes = append(p.Notes, fmt.Sprintf("%s: %v: corral serves no static files", s.evidence(), err))
				return
			case !local:
				p.Notes = append(p.Notes, fmt.Sprintf("%s: another host serves the static files, not corral", s.evidence()))
				return
			}
			prefix = pre
		} else {
			prefix = "" // known only to Django: asked at start
		}
	}
	p.Static = append(p.Static, Mount{Prefix: prefix, Dir: dir, FromApp: true, Why: why})
}
