package buildpack

import (
	"fmt"
	"slices"
	"strings"
)

// maxScanFiles bounds how many Python files pyScan reads: a worker's app
// sits near the top of a project, never among thousands of modules.
const maxScanFiles = 300

// pyScan reads the Python files where a project keeps the app of its
// task queue: the root modules and those one and two directories down,
// files named for Celery first, tests, migrations and virtualenvs left
// out.
func pyScan(a *appFiles) []*pyFile {
	var names []string
	var walk func(dir string, depth int)
	walk = func(dir string, depth int) {
		entries, err := a.list(dir)
		if err != nil {
			return
		}
		for _, de := range entries {
			name := de.Name()
			file := join(dir, name)
			switch {
			case len(names) >= maxScanFiles:
				return
			case de.IsDir():
				if depth < 2 && !skipScanDir(name) {
					walk(file, depth+1)
				}
			case strings.HasSuffix(name, ".py") && !strings.HasPrefix(name, "test"):
				names = append(names, file)
			}
		}
	}
	walk(".", 0)
	slices.SortStableFunc(names, func(x, y string) int {
		return boolInt(!strings.Contains(x, "celery")) - boolInt(!strings.Contains(y, "celery"))
	})
	var files []*pyFile
	for _, name := range names {
		if f, err := readPyFile(a, name); err == nil && f != nil {
			files = append(files, f)
		}
	}
	return files
}

// skipScanDir reports whether a directory holds no project module a
// worker is started from.
func skipScanDir(name string) bool {
	switch strings.ToLower(name) {
	case "node_modules", "venv", "env", "site-packages", "tests", "test", "migrations", "static", "staticfiles",
		"templates", "media", "docs", "alembic", "__pycache__", "build", "dist":
		return true
	}
	return strings.HasPrefix(name, ".")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pyWorkers adds the worker process of the task queue the app declares,
// and a clock for Celery's beat where the project schedules tasks:
// Celery (its app found wherever it is made), RQ (with the queues the
// code names), Dramatiq and Huey. django says the app is a Django
// project, whose apps run them through manage.py.
func pyWorkers(a *appFiles, deps *pyDeps, p *Plan, django bool) {
	celery, hasCelery := deps.get("celery")
	rqDep, hasRQ := deps.get("rq")
	djrq, hasDjangoRQ := deps.get("django-rq")
	dram, hasDramatiq := deps.get("dramatiq")
	djdram, hasDjangoDramatiq := deps.get("django-dramatiq")
	huey, hasHuey := deps.get("huey")
	if !hasCelery && !hasRQ && !hasDjangoRQ && !hasDramatiq && !hasHuey {
		return
	}
	files := pyScan(a)
	add := func(typ, cmd string, why Evidence) bool {
		if i := slices.IndexFunc(p.Processes, func(proc Process) bool { return proc.Type == typ }); i >= 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: corral runs one %s (%s); write a Procfile to run this one too", why, typ, p.Processes[i].Command))
			return false
		}
		p.Processes = append(p.Processes, Process{Type: typ, Command: cmd, Why: why})
		return true
	}
	also := func(at Evidence, more Evidence) Evidence {
		at.Says += "; " + more.String()
		return at
	}
	if hasCelery {
		if f, s, name, ok := celeryApp(files); ok {
			target := celeryTarget(f.name, name)
			add("worker", "celery -A "+target+" worker --loglevel=info", also(f.evidence(s), celery.at))
			if why, ok := beatSchedule(deps, files); ok {
				add("clock", "celery -A "+target+" beat --loglevel=info", why)
			}
		} else {
			p.Notes = append(p.Notes, fmt.Sprintf("%s, but corral finds no Celery app (app = Celery(…)) in the project's modules: no worker process", celery.at))
		}
	}
	switch {
	case django && hasDjangoRQ:
		add("worker", "python3 manage.py rqworker", djrq.at)
	case hasRQ:
		queues, at := rqQueues(files)
		cmd := `rq worker ${REDIS_URL:+--url "$REDIS_URL"}`
		why := rqDep.at
		if len(queues) > 0 {
			cmd += " " + strings.Join(queues, " ")
			why = also(at, rqDep.at)
		}
		add("worker", cmd, why)
	}
	switch {
	case django && hasDjangoDramatiq:
		add("worker", "python3 manage.py rundramatiq", djdram.at)
	case hasDramatiq:
		if mods, at, ok := dramatiqModules(files); ok {
			add("worker", "dramatiq "+strings.Join(mods, " "), also(at, dram.at))
		}
	}
	if hasHuey {
		if django {
			add("worker", "python3 manage.py run_huey", huey.at)
		} else if f, s, name, ok := assignedCall(files, func(callee string) bool { return strings.HasSuffix(callee, "Huey") }); ok {
			mod, _ := pyModuleFile(f.name)
			add("worker", "huey_consumer "+mod+"."+name, also(f.evidence(s), huey.at))
		}
	}
}

// celeryApp finds the module-level Celery app: NAME = Celery(…).
func celeryApp(files []*pyFile) (*pyFile, pyStmt, string, bool) {
	return assignedCall(files, func(callee string) bool {
		return callee == "Celery" || strings.HasSuffix(callee, ".Celery")
	})
}

// assignedCall finds the first module-level NAME = CALL(…) whose callee
// match accepts, in the order of files.
func assignedCall(files []*pyFile, match func(callee string) bool) (*pyFile, pyStmt, string, bool) {
	for _, f := range files {
		for _, s := range f.stmts {
			if name, value, ok := s.assignment(); ok && s.top {
				if c := pyCallee(value); c != "" && match(c) {
					return f, s, name, true
				}
			}
		}
	}
	return nil, pyStmt{}, "", false
}

// celeryTarget is celery's -A for the app NAME in file: the module, which
// celery searches for an app or celery attribute (and, for a package, a
// celery submodule: proj/celery.py is -A proj), with :NAME for another
// name.
func celeryTarget(file, name string) string {
	mod, pkg := pyModuleFile(file)
	if strings.HasSuffix(file, "/celery.py") && (name == "app" || name == "celery") {
		return pkg
	}
	if name != "app" && name != "celery" {
		return mod + ":" + name
	}
	return mod
}

// beatSchedule says why the project runs Celery's beat: a scheduler it
// declares (django-celery-beat, celery-redbeat) or a schedule its code
// sets (beat_schedule, CELERY_BEAT_SCHEDULE, CELERYBEAT_SCHEDULE).
func beatSchedule(deps *pyDeps, files []*pyFile) (Evidence, bool) {
	for _, name := range []string{"django-celery-beat", "celery-redbeat"} {
		if d, ok := deps.get(name); ok {
			return d.at, true
		}
	}
	for _, f := range files {
		for _, s := range f.stmts {
			for _, t := range s.toks {
				if n := strings.ToLower(t.text); t.kind == tokName && (strings.HasSuffix(n, "beat_schedule") || n == "celerybeat_schedule") {
					return f.evidence(s), true
				}
			}
		}
	}
	return Evidence{}, false
}

// rqQueues finds the queues the code makes, Queue("name", …), in order,
// and the first statement that makes one.
func rqQueues(files []*pyFile) ([]string, Evidence) {
	var queues []string
	var at Evidence
	for _, f := range files {
		for _, s := range f.stmts {
			t := s.toks
			for i := 0; i+2 < len(t); i++ {
				if t[i].is(tokName, "Queue") && t[i+1].is(tokOp, "(") && t[i+2].kind == tokString && t[i+2].plain && validQueue(t[i+2].text) {
					if !slices.Contains(queues, t[i+2].text) {
						queues = append(queues, t[i+2].text)
					}
					if at.File == "" {
						at = f.evidence(s)
					}
				}
			}
		}
	}
	return queues, at
}

// validQueue reports whether a queue name is a shell word as it is.
func validQueue(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range []byte(s) {
		if !isAlnum(c) && !strings.ContainsRune("-_.:", rune(c)) {
			return false
		}
	}
	return true
}

// dramatiqModules finds the modules that define Dramatiq actors (a
// decorator naming actor in a module importing dramatiq), which the
// dramatiq command is given.
func dramatiqModules(files []*pyFile) ([]string, Evidence, bool) {
	var mods []string
	var at Evidence
	for _, f := range files {
		if importsAny(f.imports(), "dramatiq") == "" {
			continue
		}
		for _, s := range f.stmts {
			if len(s.toks) > 1 && s.toks[0].is(tokOp, "@") && slices.ContainsFunc(s.toks, func(t pyTok) bool { return t.is(tokName, "actor") }) {
				mod, _ := pyModuleFile(f.name)
				mods = append(mods, mod)
				if at.File == "" {
					at = f.evidence(s)
				}
				break
			}
		}
	}
	return mods, at, len(mods) > 0
}
