package buildpack

import (
	"strings"
	"testing"
)

// TestDetectMigrations checks the release step each migration tool gets,
// and the note where the tool is there but something it needs is not.
func TestDetectMigrations(t *testing.T) {
	const fastapi = "from fastapi import FastAPI\napp = FastAPI()\n"
	for _, tc := range []struct {
		name    string
		files   map[string]string
		release string // "" for none
		note    string // a note that must be there, "" for none
	}{
		{"alembic.ini one directory down", map[string]string{
			"main.py":          fastapi,
			"requirements.txt": "fastapi\nuvicorn\nalembic\n",
			"db/alembic.ini":   "[alembic]\nscript_location = migrations\n",
		}, "cd db && alembic upgrade head", ""},
		{"alembic.ini, alembic not declared", map[string]string{
			"main.py":          fastapi,
			"requirements.txt": "fastapi\nuvicorn\n",
			"alembic.ini":      "[alembic]\n",
		}, "", "alembic.ini configures Alembic, but alembic is not declared (requirements.txt): no release step runs the migrations"},
		{"two alembic.ini one directory down", map[string]string{
			"main.py":          fastapi,
			"requirements.txt": "fastapi\nuvicorn\nalembic\n",
			"a/alembic.ini":    "[alembic]\n",
			"b/alembic.ini":    "[alembic]\n",
		}, "", ""},
		{"Flask-Migrate with a factory and FLASK_APP", map[string]string{
			".flaskenv":              "FLASK_APP=shop\n",
			"shop/__init__.py":       "from flask import Flask\n\ndef create_app(config=None):\n    return Flask(__name__)\n",
			"requirements.txt":       "flask\nflask_migrate\ngunicorn\n",
			"migrations/env.py":      "",
			"migrations/alembic.ini": "[alembic]\n",
		}, `FLASK_APP="shop:create_app()" flask db upgrade`, ""},
		{"Flask-Migrate with no migrations yet", map[string]string{
			"app.py":           "from flask import Flask\napp = Flask(__name__)\n",
			"requirements.txt": "flask\nflask-migrate\ngunicorn\n",
		}, "", ""},
		{"Prisma schema elsewhere, named in package.json", map[string]string{
			"package.json":                          `{"scripts": {"start": "node main.js"}, "dependencies": {"@prisma/client": "5"}, "prisma": {"schema": "src/prisma/schema.prisma"}}`,
			"src/prisma/schema.prisma":              "model A { id Int @id }\n",
			"src/prisma/migrations/1/migration.sql": "",
		}, "npx prisma migrate deploy --schema src/prisma/schema.prisma", ""},
		{"Prisma with no migrations", map[string]string{
			"package.json":         `{"scripts": {"start": "next start"}, "devDependencies": {"prisma": "5"}}`,
			"prisma/schema.prisma": "model A { id Int @id }\n",
		}, "", "prisma/schema.prisma has no migrations beside it (prisma/migrations/): no release step"},
		{"Prisma schema path that a shell would read", map[string]string{
			"package.json":     `{"scripts": {"start": "node main.js"}, "dependencies": {"prisma": "5"}, "prisma": {"schema": "a;b"}}`,
			"a;b":              "",
			"migrations/x.sql": "",
		}, "", ""},
		{"Prisma not declared", map[string]string{
			"package.json":              "{\"scripts\": {\"start\": \"node main.js\"}}",
			"prisma/schema.prisma":      "",
			"prisma/migrations/1/m.sql": "",
		}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := detectTestRun(t, testTree(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if p.Release != nil {
				got = p.Release.Command
			}
			if got != tc.release {
				t.Errorf("release %q, want %q", got, tc.release)
			}
			if tc.note != "" && !strings.Contains(strings.Join(p.Notes, "\n"), tc.note) {
				t.Errorf("notes\n  %s\nlack %q", strings.Join(p.Notes, "\n  "), tc.note)
			}
		})
	}
}
