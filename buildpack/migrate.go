package buildpack

import (
	"fmt"
	"path"
	"strings"
)

// pyRelease gives a WSGI or ASGI app the release step of its migrations:
// Flask-Migrate's flask db upgrade when the app declares Flask-Migrate and
// has its migrations/, else alembic upgrade head where an alembic.ini is
// (at the top, or one directory down) and Alembic is declared. Django's
// migrate is djangoPlan's.
func pyRelease(a *appFiles, e pyEntry, deps *pyDeps, p *Plan) {
	if fm, ok := deps.get("flask-migrate"); ok && a.isDir("migrations") && (a.isFile("migrations/env.py") || a.isFile("migrations/alembic.ini")) {
		target := e.target()
		if strings.ContainsAny(target, "()'") {
			target = `"` + target + `"`
		}
		// FLASK_APP in front: the flask command then loads the app the
		// web process serves, whatever .flaskenv says for development.
		cmd := "FLASK_APP=" + target + " flask db upgrade"
		if e.pathDir != "" {
			cmd = "PYTHONPATH=" + e.pathDir + " " + cmd
		}
		p.Release = &Process{Type: "release", Command: cmd,
			Why: Evidence{File: "migrations", Says: "Flask-Migrate's migrations; " + fm.at.String()}}
		return
	}
	ini := alembicIni(a)
	if ini == "" {
		return
	}
	al, ok := deps.get("alembic")
	if !ok {
		if deps.unread == nil {
			p.Notes = append(p.Notes, fmt.Sprintf("%s configures Alembic, but alembic is not declared (%s): no release step runs the migrations", ini, deps.where))
		}
		return
	}
	cmd := "alembic upgrade head"
	if dir := path.Dir(ini); dir != "." {
		// Alembic reads script_location relative to where it runs, as
		// its docs have it run: beside alembic.ini.
		cmd = "cd " + dir + " && " + cmd
	}
	p.Release = &Process{Type: "release", Command: cmd, Why: Evidence{File: ini, Says: "configures Alembic; " + al.at.String()}}
}

// alembicIni finds the app's alembic.ini: at the top, else in one
// directory one level down (backend/, db/…); "" for none, or for several
// there, where corral cannot tell which database is the app's.
func alembicIni(a *appFiles) string {
	if a.isFile("alembic.ini") {
		return "alembic.ini"
	}
	entries, err := a.list(".")
	if err != nil {
		return ""
	}
	found := ""
	for _, de := range entries {
		name := de.Name()
		if strings.HasPrefix(name, ".") || name == "migrations" || name == "node_modules" || !de.IsDir() {
			continue
		}
		if ini := name + "/alembic.ini"; a.isFile(ini) {
			if found != "" {
				return ""
			}
			found = ini
		}
	}
	return found
}

// prismaRelease gives a Node app that declares Prisma, and has migrations
// beside its schema, the release step Prisma's deploy guide gives:
// prisma migrate deploy applies the pending migrations, and nothing else.
func prismaRelease(a *appFiles, pkg *packageJSON, p *Plan) {
	declared := false
	for _, d := range append(pkg.dependencies, pkg.devDependencies...) {
		if d == "prisma" || d == "@prisma/client" {
			declared = true
		}
	}
	if !declared {
		return
	}
	schema, flag := "prisma/schema.prisma", ""
	if pkg.prismaSchema != "" {
		s := path.Clean(pkg.prismaSchema)
		if path.IsAbs(s) || s == ".." || strings.HasPrefix(s, "../") || strings.ContainsAny(s, " \t\n'\"$`\\;&|<>()") {
			return
		}
		schema = s
		if schema != "prisma/schema.prisma" {
			flag = " --schema " + schema
		}
	}
	if !a.isFile(schema) && !a.isDir(schema) { // Prisma 5.15's prismaSchemaFolder: a directory
		return
	}
	migrations := join(path.Dir(schema), "migrations")
	if a.isDir(schema) {
		migrations = join(schema, "migrations")
	}
	if !a.isDir(migrations) {
		p.Notes = append(p.Notes, fmt.Sprintf("%s has no migrations beside it (%s/): no release step (a schema kept with prisma db push is pushed by hand)", schema, migrations))
		return
	}
	p.Release = &Process{Type: "release", Command: "npx prisma migrate deploy" + flag,
		Why: Evidence{File: migrations, Says: "Prisma's migrations, for " + schema}}
}
