package buildpack

import (
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pyOutline renders everything a plan decides, one line per decision with
// its evidence in full, so a table test compares the whole outcome and a
// failure shows what differs.
func pyOutline(p *Plan) []string {
	out := []string{"kind " + string(p.Kind), "title " + p.Title}
	for _, e := range p.Evidence {
		out = append(out, "evidence "+e.String())
	}
	if p.Release != nil {
		out = append(out, "release: "+p.Release.Command+" ["+p.Release.Why.String()+"]")
	}
	for _, proc := range p.Processes {
		out = append(out, proc.Type+": "+proc.Command+" ["+proc.Why.String()+"]")
	}
	for _, s := range p.Build {
		out = append(out, "build: "+s.Command+" -> "+strconv.Quote(s.Creates)+" ["+s.Why.String()+"]")
	}
	for _, m := range p.Static {
		out = append(out, "static: "+strconv.Quote(m.Prefix)+" "+strconv.Quote(m.Dir)+
			" fromapp="+strconv.FormatBool(m.FromApp)+" fallthrough="+strconv.FormatBool(m.Fallthrough)+
			" index="+strconv.FormatBool(m.Index)+" ["+m.Why.String()+"]")
	}
	for _, n := range p.Notes {
		out = append(out, "note "+n)
	}
	return out
}

// pyLines splits a want text into its non-blank lines, trimmed.
func pyLines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// pyCheckOutline compares a plan with the lines it should render to.
func pyCheckOutline(t *testing.T, p *Plan, want string) {
	t.Helper()
	got, w := pyOutline(p), pyLines(want)
	if !slices.Equal(got, w) {
		t.Errorf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(w, "\n  "))
	}
}

// TestDetectPythonFixtures runs Detect over each Python fixture tree and compares the whole plan.
func TestDetectPythonFixtures(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want string
	}{
		{"django-startproject", `
			kind django
			title Python (Django)
			evidence manage.py:9: sets DJANGO_SETTINGS_MODULE to "mysite.settings"
			evidence mysite/wsgi.py:11: the WSGI entry point
			evidence requirements.txt:2: declares gunicorn
			release: python3 manage.py migrate --noinput [mysite/settings.py:29: DATABASES = { …]
			web: gunicorn mysite.wsgi --bind ${HOST:-0.0.0.0}:$PORT [mysite/wsgi.py:11: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "staticfiles" [mysite/settings.py:38: STATIC_ROOT = BASE_DIR / 'staticfiles']
			static: "/static/" "staticfiles" fromapp=true fallthrough=false index=false [mysite/settings.py:38: STATIC_ROOT = BASE_DIR / 'staticfiles']
		`},
		{"django-nested-settings", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "config.settings.production"
			evidence config/wsgi.py:11: the WSGI entry point
			evidence requirements/production.txt:5: declares gunicorn
			release: python3 manage.py migrate --noinput [config/settings/base.py:13: DATABASES = {"default": env.db("DATABASE_URL")}]
			web: gunicorn config.wsgi --bind ${HOST:-0.0.0.0}:$PORT [config/wsgi.py:11: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "staticfiles" [config/settings/base.py:20: STATIC_ROOT = str(BASE_DIR / "staticfiles")]
			static: "/assets/" "staticfiles" fromapp=true fallthrough=false index=false [config/settings/base.py:20: STATIC_ROOT = str(BASE_DIR / "staticfiles")]
		`},
		{"django-nostatic", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "blog.settings"
			evidence blog/wsgi.py:4: the WSGI entry point
			evidence Pipfile:8: declares gunicorn
			web: gunicorn blog.wsgi --bind ${HOST:-0.0.0.0}:$PORT [blog/wsgi.py:4: the WSGI entry point]
			build: PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy -> "" [Pipfile: lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)]
			note blog/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"django-cdn-static", `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "site_project.settings"
			evidence site_project/wsgi.py:4: the WSGI entry point
			release: python3 manage.py migrate --noinput [site_project/settings.py:10: DATABASES["default"] = dj_database_url.config(conn_max_age=600)]
			web: gunicorn site_project.wsgi --bind ${HOST:-0.0.0.0}:$PORT [site_project/wsgi.py:4: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "collected/static" [site_project/settings.py:13: STATIC_ROOT = os.path.join(BASE_DIR, "collected", "static")]
			note gunicorn is not in requirements.txt: add it there (pip install gunicorn), or the web process will not start
			note site_project/settings.py:12: STATIC_URL = "https://cdn.example.com/static/": another host serves the static files, not corral
		`},
		{"django-celery", `
			kind django
			title Python (Django)
			evidence manage.py:7: sets DJANGO_SETTINGS_MODULE to "proj.settings"
			evidence proj/wsgi.py:4: the WSGI entry point
			evidence requirements.txt:3: declares gunicorn
			release: python3 manage.py migrate --noinput [proj/settings.py:8: DATABASES = { …]
			web: gunicorn proj.wsgi --bind ${HOST:-0.0.0.0}:$PORT [proj/wsgi.py:4: the WSGI entry point]
			worker: celery -A proj worker --loglevel=info [proj/celery.py:7: app = Celery('proj'); requirements.txt:2: declares celery[redis]]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "" [proj/settings.py:19: STATIC_ROOT = BASE_DIR / "static_root"]
			static: "/static/" "" fromapp=true fallthrough=false index=false [proj/settings.py:19: STATIC_ROOT = BASE_DIR / "static_root"]
			note proj/settings.py:19: STATIC_ROOT = BASE_DIR / "static_root": not a path corral reads without running Python (a value set in a block, or from the environment): corral asks Django at start
		`},
		{"django-asgi-only", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "chat.settings"
			evidence chat/asgi.py:7: the ASGI entry point
			evidence requirements.txt:2: declares gunicorn
			release: python3 manage.py migrate --noinput [chat/settings.py:5: DATABASES = { …]
			web: gunicorn chat.asgi:application -k uvicorn.workers.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT [chat/asgi.py:7: the ASGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "staticfiles" [chat/settings.py:9: STATIC_ROOT = "staticfiles"]
			static: "/static/" "staticfiles" fromapp=true fallthrough=false index=false [chat/settings.py:9: STATIC_ROOT = "staticfiles"]
		`},
		{"flask-basic", `
			kind flask
			title Python (Flask)
			evidence app.py:3: app = Flask(__name__)
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:3: app = Flask(__name__)]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			static: "/static/" "static" fromapp=false fallthrough=true index=false [static: Flask's default static folder, beside app.py]
		`},
		{"flask-factory", `
			kind flask
			title Python (Flask)
			evidence flaskr/__init__.py:6: def create_app(): an app factory
			evidence pyproject.toml:7: declares gunicorn
			web: gunicorn "flaskr:create_app()" --bind ${HOST:-0.0.0.0}:$PORT [flaskr/__init__.py:6: def create_app(): an app factory]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install . -> "" [pyproject.toml:1: a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-factory-wsgi", `
			kind flask
			title Python (Flask)
			evidence wsgi.py:3: app = create_app()
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn wsgi:app --bind ${HOST:-0.0.0.0}:$PORT [wsgi.py:3: app = create_app()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-root-module", `
			kind flask
			title Python (Flask)
			evidence journal.py:3: app = create_app()
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn journal:app --bind ${HOST:-0.0.0.0}:$PORT [journal.py:3: app = create_app()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-flaskenv", `
			kind flask
			title Python (Flask)
			evidence .flaskenv:2: sets FLASK_APP to "shop:create_app('production')"
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn "shop:create_app('production')" --bind ${HOST:-0.0.0.0}:$PORT [.flaskenv:2: sets FLASK_APP to "shop:create_app('production')"]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note tools/__init__.py:4: def create_app(): an app factory is passed over: .flaskenv:2 sets FLASK_APP to "shop:create_app('production')"
		`},
		{"flask-migrate", `
			kind flask
			title Python (Flask)
			evidence app.py:5: app = Flask(__name__)
			evidence requirements.txt:4: declares gunicorn
			release: FLASK_APP=app:app flask db upgrade [migrations: Flask-Migrate's migrations; requirements.txt:3: declares Flask-Migrate]
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:5: app = Flask(__name__)]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"fastapi-alembic", `
			kind asgi
			title Python (FastAPI)
			evidence app/main.py:3: app = FastAPI(title="orders")
			evidence pyproject.toml:10: declares uvicorn
			release: alembic upgrade head [alembic.ini: configures Alembic; pyproject.toml:11: declares alembic]
			web: uvicorn app.main:app --host ${HOST:-0.0.0.0} --port $PORT [app/main.py:3: app = FastAPI(title="orders")]
			build: POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root -> "" [pyproject.toml:1: a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-uwsgi", `
			kind flask
			title Python (Flask)
			evidence app.py:3: app = Flask(__name__)
			evidence requirements.txt:2: declares uWSGI
			web: uwsgi --ini uwsgi.ini --http-socket ${HOST:-0.0.0.0}:$PORT [uwsgi.ini:1: configures uWSGI]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note uwsgi.ini:7: socket = /tmp/app.sock: uWSGI listens there too; corral's edge reaches it on --http-socket $PORT
		`},
		{"flask-waitress", `
			kind flask
			title Python (Flask)
			evidence app.py:3: app = Flask(__name__)
			evidence requirements.txt:2: declares waitress
			web: waitress-serve --listen=${HOST:-0.0.0.0}:$PORT app:app [app.py:3: app = Flask(__name__)]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"django-uwsgi", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "proj.settings"
			evidence etc/uwsgi.ini:1: configures uWSGI
			evidence requirements.txt:2: declares uwsgi
			web: uwsgi --ini etc/uwsgi.ini [etc/uwsgi.ini:1: configures uWSGI]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note proj/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"django-channels", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "chat.settings"
			evidence chat/asgi.py:8: the ASGI entry point
			evidence requirements.txt:3: declares daphne
			web: daphne -b ${HOST:-0.0.0.0} -p $PORT chat.asgi:application [chat/asgi.py:8: the ASGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note chat/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"django-uvicorn-gunicorn", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "site.settings"
			evidence site/asgi.py:7: the ASGI entry point
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn site.asgi:application -k uvicorn_worker.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT [site/asgi.py:7: the ASGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note site/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"django-celery-config", `
			kind django
			title Python (Django)
			evidence manage.py:6: sets DJANGO_SETTINGS_MODULE to "config.settings"
			evidence config/wsgi.py:7: the WSGI entry point
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn config.wsgi --bind ${HOST:-0.0.0.0}:$PORT [config/wsgi.py:7: the WSGI entry point]
			worker: celery -A config.celery_app worker --loglevel=info [config/celery_app.py:7: app = Celery("shop"); requirements.txt:3: declares celery]
			clock: celery -A config.celery_app beat --loglevel=info [requirements.txt:4: declares django-celery-beat]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note config/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"flask-rq", `
			kind flask
			title Python (Flask)
			evidence app.py:7: app = Flask(__name__)
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:7: app = Flask(__name__)]
			worker: rq worker ${REDIS_URL:+--url "$REDIS_URL"} mail-tasks [app.py:9: app.task_queue = rq.Queue("mail-tasks", connection=app.redis); requirements.txt:4: declares rq]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-celery", `
			kind flask
			title Python (Flask)
			evidence web/__init__.py:10: def create_app(): an app factory
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn "web:create_app()" --bind ${HOST:-0.0.0.0}:$PORT [web/__init__.py:10: def create_app(): an app factory]
			worker: celery -A web worker --loglevel=info [web/__init__.py:4: celery = Celery(__name__, broker="redis://localhost:6379/0"); requirements.txt:3: declares celery[redis]]
			clock: celery -A web beat --loglevel=info [web/__init__.py:5: celery.conf.beat_schedule = { …]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"flask-no-gunicorn", `
			kind flask
			title Python (Flask)
			evidence app.py:3: app = Flask(__name__)
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:3: app = Flask(__name__)]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note gunicorn is not in requirements.txt: add it there (pip install gunicorn), or the web process will not start
		`},
		{"wsgi-plain", `
			kind flask
			title Python (WSGI)
			evidence wsgi.py:6: application = simple_app
			web: gunicorn wsgi:application --bind ${HOST:-0.0.0.0}:$PORT [wsgi.py:6: application = simple_app]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
		`},
		{"fastapi-uvicorn", `
			kind asgi
			title Python (FastAPI)
			evidence main.py:3: app = FastAPI()
			evidence requirements.txt:2: declares uvicorn[standard]
			web: uvicorn main:app --host ${HOST:-0.0.0.0} --port $PORT [main.py:3: app = FastAPI()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"fastapi-gunicorn-uvicorn", `
			kind asgi
			title Python (FastAPI)
			evidence main.py:3: app = fastapi.FastAPI(title="Orders")
			evidence pyproject.toml:7: declares Gunicorn
			web: gunicorn main:app -k uvicorn.workers.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT [main.py:3: app = fastapi.FastAPI(title="Orders")]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install . -> "" [pyproject.toml:1: a [project] table (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"fastapi-app-package", `
			kind asgi
			title Python (FastAPI)
			evidence app/main.py:5: app = FastAPI( …
			evidence requirements.txt:1: declares fastapi[standard], which brings uvicorn
			web: uvicorn app.main:app --host ${HOST:-0.0.0.0} --port $PORT [app/main.py:5: app = FastAPI( …]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"fastapi-src-uv", `
			kind asgi
			title Python (FastAPI)
			evidence src/inventory/main.py:3: api = FastAPI()
			evidence pyproject.toml:4: declares uvicorn
			web: uvicorn inventory.main:api --host ${HOST:-0.0.0.0} --port $PORT --app-dir src [src/inventory/main.py:3: api = FastAPI()]
			build: uv sync --frozen --no-dev -> "" [uv.lock: pins the dependencies (uv, leaving out the dev group; the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"asgi-starlette-pipfile", `
			kind asgi
			title Python (Starlette)
			evidence app.py:10: app = Starlette(debug=False, routes=[ …
			evidence Pipfile:8: declares hypercorn
			web: hypercorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:10: app = Starlette(debug=False, routes=[ …]
			build: PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy -> "" [Pipfile: lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"python-malformed-toml", `
			kind asgi
			title Python (FastAPI)
			evidence main.py:3: app = FastAPI()
			web: uvicorn main:app --host ${HOST:-0.0.0.0} --port $PORT [main.py:3: app = FastAPI()]
			note pyproject.toml:7:11: basic strings cannot have new lines: corral could not read pyproject.toml, and decided without it: no install step (pip, pipenv, poetry and uv would refuse the file too), and uvicorn as for an app that declares no server; fix pyproject.toml for corral build to install the app's packages
		`},
		{"python-poetry", `
			kind flask
			title Python (WSGI)
			evidence app.py:3: app = bottle.Bottle()
			evidence pyproject.toml:10: declares gunicorn
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:3: app = bottle.Bottle()]
			build: POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root -> "" [pyproject.toml:1: a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)]
		`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			pyCheckOutline(t, p, tc.want)
		})
	}
}

// TestDetectPythonFixtureErrors checks the fixtures Detect must refuse, and the file:line it names.
func TestDetectPythonFixtureErrors(t *testing.T) {
	for _, tc := range []struct {
		dir  string
		want string // the error's first line, or the start of it
	}{
		{"flask-factory-args", `buildpack: inventory/__init__.py:4: def create_app(config_name) needs an argument, and no module of the app calls it: gunicorn "inventory:create_app()" would fail with a TypeError. Write a wsgi.py that makes the app (app = create_app(...)), or set FLASK_APP in .flaskenv to the call (FLASK_APP="inventory:create_app(...)")`},
		{"django-no-module", `buildpack: manage.py:6: Django's manage.py names no settings module: corral reads it from os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")`},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			p, err := Detect(filepath.Join("testdata", tc.dir))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Detect = %v, %v; want an error starting %q", p, err, tc.want)
			}
		})
	}
}

// TestDetectPythonAmbiguous checks that a Flask and a FastAPI app side by side are an *AmbiguousError with both plans.
func TestDetectPythonAmbiguous(t *testing.T) {
	dir := filepath.Join("testdata", "python-ambiguous")
	_, err := Detect(dir)
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		t.Fatalf("Detect = %v, want an *AmbiguousError", err)
	}
	if amb.Dir != dir || len(amb.Candidates) != 2 {
		t.Fatalf("AmbiguousError = %+v, want 2 candidates in %s", amb, dir)
	}
	pyCheckOutline(t, amb.Candidates[0], `
		kind flask
		title Python (Flask)
		evidence app.py:3: app = Flask(__name__)
		evidence requirements.txt:3: declares gunicorn
		web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:3: app = Flask(__name__)]
		build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
	`)
	pyCheckOutline(t, amb.Candidates[1], `
		kind asgi
		title Python (FastAPI)
		evidence main.py:3: app = FastAPI()
		evidence requirements.txt:3: declares gunicorn
		web: gunicorn main:app -k uvicorn.workers.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT [main.py:3: app = FastAPI()]
		build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
	`)
}

// TestDetectPythonNone checks directories that are no Python web app.
func TestDetectPythonNone(t *testing.T) {
	for _, files := range []map[string]string{
		{"main.py": "import typer\n\napp = typer.Typer()\n"},
		{"app.py": "from celery import Celery\n\napp = Celery('tasks')\n"},
		{"app.py": "import flask\n\ndef main():\n    app = flask.Flask(__name__)\n"},
		{"app.py": "'''\napp = Flask(__name__)\n'''\n"},
		{"app.py": "# app = Flask(__name__)\n"},
		{"manage.py": "print('a management script')\n"},
		{"app/main.py": "from flask import Flask\napp = Flask(__name__)\n"}, // app/main.py is looked in for ASGI only
		{"asgi.py": "from django.core.asgi import get_asgi_application\napplication = get_asgi_application()\n"},
		{"lib/__init__.py": "def create_app():\n    pass\n"}, // a factory in a package needs Flask
		{"pyproject.toml": "[project\n"},                     // no app: a broken pyproject.toml is not read
	} {
		a := pyTestApp(t, files)
		if p, err := detectPython(a); p != nil || err != nil {
			t.Errorf("%v: detectPython = %+v, %v; want nil, nil", files, p, err)
		}
	}
}

// pyTestApp is the appFiles of a new directory holding files.
func pyTestApp(t *testing.T, files map[string]string) *appFiles {
	t.Helper()
	a, err := openAppFiles(testTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// pyManage is a manage.py naming module.
func pyManage(module string) string {
	return "import os\nimport sys\n\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', '" + module + "')\n" +
		"    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n"
}

// pyWSGI is a Django wsgi.py naming module.
func pyWSGI(module string) string {
	return "import os\nfrom django.core.wsgi import get_wsgi_application\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', '" + module + "')\napplication = get_wsgi_application()\n"
}

// TestDetectPythonCases runs Detect over small trees for the decisions the fixtures leave out.
func TestDetectPythonCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // the outline, or "error: " and the start of the error
	}{
		{"django passes over app.py, settings file missing", map[string]string{
			"manage.py":        pyManage("x.settings"),
			"x/wsgi.py":        pyWSGI("x.settings"),
			"app.py":           "from flask import Flask\napp = Flask(__name__)\n",
			"requirements.txt": "django\ngunicorn\n",
		}, `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "x.settings"
			evidence x/wsgi.py:4: the WSGI entry point
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn x.wsgi --bind ${HOST:-0.0.0.0}:$PORT [x/wsgi.py:4: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note no file for the settings module x.settings (x/settings.py or x/settings/__init__.py): static files and migrations not detected
			note app.py:2: app = Flask(__name__) is passed over: manage.py makes this a Django project
		`},
		{"django settings package, wsgi one level up, settings module differs", map[string]string{
			"manage.py":                pyManage("config.settings.local"),
			"config/wsgi.py":           pyWSGI("config.settings.production"),
			"config/settings/local.py": "from .base import *\nDEBUG = True\n",
			"config/settings/base.py": "import os\nBASE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))\n" +
				"STATIC_ROOT = os.path.join(BASE_DIR, 'static')\nSTATIC_URL = '/s/'\nDATABASES = {}\n",
		}, `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "config.settings.local"
			evidence config/wsgi.py:4: the WSGI entry point
			web: gunicorn config.wsgi --bind ${HOST:-0.0.0.0}:$PORT [config/wsgi.py:4: the WSGI entry point]
			build: python3 manage.py collectstatic --noinput -> "static" [config/settings/base.py:3: STATIC_ROOT = os.path.join(BASE_DIR, 'static')]
			static: "/s/" "static" fromapp=true fallthrough=false index=false [config/settings/base.py:3: STATIC_ROOT = os.path.join(BASE_DIR, 'static')]
			note config/wsgi.py names the settings module config.settings.production and manage.py config.settings.local: the web process uses config/wsgi.py's, collectstatic and migrate manage.py's, unless DJANGO_SETTINGS_MODULE is set
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
		`},
		{"django settings as a package __init__, env STATIC_ROOT, env STATIC_URL", map[string]string{
			"manage.py":    pyManage("site.settings"),
			"site/wsgi.py": "from django.core.wsgi import get_wsgi_application\napp = get_wsgi_application()\n",
			"site/settings/__init__.py": "import os\nSTATIC_ROOT = os.environ['STATIC_ROOT']\nSTATIC_URL = os.environ.get('STATIC_URL', '/static/')\n" +
				"DATABASES = {'default': {}}\n",
			"requirements.txt": "django\ngunicorn\n",
		}, `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "site.settings"
			evidence site/wsgi.py:2: the WSGI entry point
			evidence requirements.txt:2: declares gunicorn
			release: python3 manage.py migrate --noinput [site/settings/__init__.py:4: DATABASES = {'default': {}}]
			web: gunicorn site.wsgi:app --bind ${HOST:-0.0.0.0}:$PORT [site/wsgi.py:2: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "" [site/settings/__init__.py:2: STATIC_ROOT = os.environ['STATIC_ROOT']]
			static: "" "" fromapp=true fallthrough=false index=false [site/settings/__init__.py:2: STATIC_ROOT = os.environ['STATIC_ROOT']]
			note site/settings/__init__.py:2: STATIC_ROOT = os.environ['STATIC_ROOT']: not a path corral reads without running Python (a value set in a block, or from the environment): corral asks Django at start
		`},
		{"django asgi with uvicorn only", map[string]string{
			"manage.py":        pyManage("x.settings"),
			"x/asgi.py":        "from django.core.asgi import get_asgi_application\napplication = get_asgi_application()\n",
			"x/settings.py":    "STATIC_ROOT = None\n",
			"requirements.txt": "django\nuvicorn\n",
		}, `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "x.settings"
			evidence x/asgi.py:2: the ASGI entry point
			evidence requirements.txt:2: declares uvicorn
			web: uvicorn x.asgi:application --host ${HOST:-0.0.0.0} --port $PORT [x/asgi.py:2: the ASGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note x/settings.py sets no STATIC_ROOT: no collectstatic, so static files are served by the app (WhiteNoise, or runserver with DEBUG on), or not at all with DEBUG off
		`},
		{"django celery.py but celery not declared", map[string]string{
			"manage.py":        pyManage("proj.settings"),
			"proj/wsgi.py":     pyWSGI("proj.settings"),
			"proj/celery.py":   "from celery import Celery\napp = Celery('proj')\n",
			"proj/settings.py": "STATIC_URL = '/'\nSTATIC_ROOT = 'static'\n",
			"requirements.txt": "django\ngunicorn\n",
		}, `
			kind django
			title Python (Django)
			evidence manage.py:5: sets DJANGO_SETTINGS_MODULE to "proj.settings"
			evidence proj/wsgi.py:4: the WSGI entry point
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn proj.wsgi --bind ${HOST:-0.0.0.0}:$PORT [proj/wsgi.py:4: the WSGI entry point]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			build: python3 manage.py collectstatic --noinput -> "static" [proj/settings.py:2: STATIC_ROOT = 'static']
			note proj/settings.py:1: STATIC_URL = '/': STATIC_URL "/" would serve static files in place of every page: corral serves no static files
			note proj/celery.py defines a celery app, but celery is not declared: no worker process
		`},
		{"django with no wsgi.py or asgi.py", map[string]string{
			"manage.py": pyManage("config.settings.prod"),
		}, "error: buildpack: manage.py: the settings module is config.settings.prod, but there is no wsgi.py or asgi.py to serve it " +
			"(looked for config/settings/wsgi.py, config/wsgi.py, wsgi.py, config/settings/asgi.py, config/asgi.py, asgi.py)"},
		{"Flask app in a package, imported by wsgi.py", map[string]string{
			"shop/__init__.py":  "from flask import Flask\n\napp = Flask(__name__)\n\nimport shop.views\n",
			"shop/views.py":     "from shop import app\n",
			"wsgi.py":           "from shop import app\n",
			"tools/__init__.py": "application = make()\n",
			"requirements.txt":  "flask\ngunicorn\n",
		}, `
			kind flask
			title Python (Flask)
			evidence shop/__init__.py:3: app = Flask(__name__)
			evidence requirements.txt:2: declares gunicorn
			web: gunicorn shop:app --bind ${HOST:-0.0.0.0}:$PORT [shop/__init__.py:3: app = Flask(__name__)]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"asgi.py at the root", map[string]string{
			"asgi.py":          "from starlette.applications import Starlette\n\napp = Starlette()\n",
			"requirements.txt": "starlette\nuvicorn\n",
		}, `
			kind asgi
			title Python (Starlette)
			evidence asgi.py:3: app = Starlette()
			evidence requirements.txt:2: declares uvicorn
			web: uvicorn asgi:app --host ${HOST:-0.0.0.0} --port $PORT [asgi.py:3: app = Starlette()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"requirements -r to a missing file", map[string]string{
			"app.py":           "from flask import Flask\napp = Flask(__name__)\n",
			"requirements.txt": "flask\n\n-r requirements/prod.txt\n",
		}, `
			kind flask
			title Python (Flask)
			evidence app.py:2: app = Flask(__name__)
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:2: app = Flask(__name__)]
			note requirements.txt:3: -r requirements/prod.txt: requirements/prod.txt does not exist: corral could not read requirements.txt, and decided without it: no install step (pip, pipenv, poetry and uv would refuse the file too), and gunicorn as for an app that declares no server; fix requirements.txt for corral build to install the app's packages
		`},
		{"malformed Pipfile", map[string]string{
			"app.py":  "from flask import Flask\napp = Flask(__name__)\n",
			"Pipfile": "[packages]\nflask = *\n",
		}, `
			kind flask
			title Python (Flask)
			evidence app.py:2: app = Flask(__name__)
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:2: app = Flask(__name__)]
			note Pipfile:2:9: unexpected character U+002A '*' at start of value: corral could not read Pipfile, and decided without it: no install step (pip, pipenv, poetry and uv would refuse the file too), and gunicorn as for an app that declares no server; fix Pipfile for corral build to install the app's packages
		`},
		{"factory in app.py, FastAPI in a src package: ambiguous", map[string]string{
			"app.py":              "from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n",
			"src/api/main.py":     "from fastapi import FastAPI\napp = FastAPI()\n",
			"src/api/__init__.py": "",
		}, "error: " + "more than one app"},
		{"application, an alias of an ASGI app, preferred to its first name; annotated", map[string]string{
			"server.py": "from quart import Quart\n\nweb: Quart = Quart(__name__)\napplication: Quart = web\n",
			"Pipfile":   "[packages]\nquart = '*'\nhypercorn = '*'\n",
		}, `
			kind asgi
			title Python (Quart)
			evidence server.py:4: application: Quart = web
			evidence Pipfile:3: declares hypercorn
			web: hypercorn server:application --bind ${HOST:-0.0.0.0}:$PORT [server.py:4: application: Quart = web]
			build: PIPENV_VENV_IN_PROJECT=1 pipenv install --deploy -> "" [Pipfile: lists the dependencies (pipenv; the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"FastAPI factory call, daphne, src package", map[string]string{
			"src/svc/main.py":  "from fastapi import FastAPI\nfrom svc.factory import create_app\n\napp = create_app()\n",
			"requirements.txt": "fastapi\ndaphne\n",
		}, `
			kind asgi
			title Python (FastAPI)
			evidence src/svc/main.py:4: app = create_app()
			evidence requirements.txt:2: declares daphne
			web: PYTHONPATH=src daphne -b ${HOST:-0.0.0.0} -p $PORT svc.main:app [src/svc/main.py:4: app = create_app()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
		`},
		{"ASGI with no server declared, pyproject with tool settings only", map[string]string{
			"main.py":        "from starlette.applications import Starlette\napp = Starlette()\n",
			"pyproject.toml": "[tool.black]\nline-length = 100\n",
		}, `
			kind asgi
			title Python (Starlette)
			evidence main.py:2: app = Starlette()
			web: uvicorn main:app --host ${HOST:-0.0.0.0} --port $PORT [main.py:2: app = Starlette()]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so uvicorn and the app's other packages must already be installed
		`},
		{"two root modules make an app: ambiguous", map[string]string{
			"web.py":   "from flask import Flask\napp = Flask(__name__)\n",
			"admin.py": "from flask import Flask\napp = Flask(__name__)\n",
		}, "error: " + "more than one app"},
		{".env's FLASK_APP picks one of two root modules", map[string]string{
			"web.py":   "from flask import Flask\napp = Flask(__name__)\n",
			"admin.py": "from flask import Flask\napp = Flask(__name__)\n",
			".env":     "SECRET_KEY='x'\nexport FLASK_APP=admin.py # the admin site\n",
		}, `
			kind flask
			title Python (Flask)
			evidence admin.py:2: app = Flask(__name__)
			evidence .env:2: sets FLASK_APP to "admin.py"
			web: gunicorn admin:app --bind ${HOST:-0.0.0.0}:$PORT [admin.py:2: app = Flask(__name__)]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
			note web.py:2: app = Flask(__name__) is passed over: .env:2 sets FLASK_APP to "admin.py"
		`},
		{"FLASK_APP names a module that is not there", map[string]string{
			"app.py":    "from flask import Flask\napp = Flask(__name__)\n",
			".flaskenv": "FLASK_APP=gone\n",
		}, `
			kind flask
			title Python (Flask)
			evidence app.py:2: app = Flask(__name__)
			web: gunicorn app:app --bind ${HOST:-0.0.0.0}:$PORT [app.py:2: app = Flask(__name__)]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
			note .flaskenv:1: sets FLASK_APP to "gone", but there is no gone.py or gone/__init__.py: corral looked for the app elsewhere
		`},
		{"a factory that needs an argument, called by wsgi.py", map[string]string{
			"shop/__init__.py": "from flask import Flask\n\ndef create_app(config_name, *, debug=False):\n    return Flask(__name__)\n",
			"wsgi.py":          "from shop import create_app\napp = create_app('production')\n",
		}, `
			kind flask
			title Python (WSGI)
			evidence wsgi.py:2: app = create_app('production')
			web: gunicorn wsgi:app --bind ${HOST:-0.0.0.0}:$PORT [wsgi.py:2: app = create_app('production')]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
		`},
		{"a factory with a keyword-only parameter and no caller", map[string]string{
			"shop/__init__.py": "from flask import Flask\n\ndef create_app(*, settings):\n    return Flask(__name__)\n",
		}, "error: buildpack: shop/__init__.py:3: def create_app(settings) needs an argument"},
		{"a factory whose parameters all have defaults", map[string]string{
			"shop/__init__.py": "from flask import Flask\n\ndef create_app(config: dict[str, int] = {}, *args, **kw) -> Flask:\n    return Flask(__name__)\n",
		}, `
			kind flask
			title Python (Flask)
			evidence shop/__init__.py:3: def create_app(): an app factory
			web: gunicorn "shop:create_app()" --bind ${HOST:-0.0.0.0}:$PORT [shop/__init__.py:3: def create_app(): an app factory]
			note no requirements.txt, Pipfile or pyproject.toml declaring dependencies: corral installs nothing, so gunicorn and the app's other packages must already be installed
		`},
		{"gunicorn without uvicorn serves an ASGI app with uvicorn", map[string]string{
			"main.py":          "from fastapi import FastAPI\napp = FastAPI()\n",
			"requirements.txt": "fastapi\ngunicorn\n",
		}, `
			kind asgi
			title Python (FastAPI)
			evidence main.py:2: app = FastAPI()
			web: uvicorn main:app --host ${HOST:-0.0.0.0} --port $PORT [main.py:2: app = FastAPI()]
			build: test -d .venv || python3 -m venv --system-site-packages .venv && .venv/bin/python -m pip install -r requirements.txt -> "" [requirements.txt: lists the dependencies (pip, into the virtualenv in .venv, which corral puts first in PATH)]
			note uvicorn is not in requirements.txt: add it there (pip install uvicorn), or the web process will not start
		`},
		{"falcon and Flask by dependencies", map[string]string{
			"application.py": "import falcon\n\napplication = falcon.App()\n",
			"pyproject.toml": "[tool.poetry]\nname = 'x'\n[tool.poetry.dependencies]\nfalcon = '*'\n",
		}, `
			kind flask
			title Python (WSGI)
			evidence application.py:3: application = falcon.App()
			web: gunicorn application:application --bind ${HOST:-0.0.0.0}:$PORT [application.py:3: application = falcon.App()]
			build: POETRY_VIRTUALENVS_IN_PROJECT=true poetry install --only main --no-root -> "" [pyproject.toml:1: a poetry project ([tool.poetry]; the virtualenv in .venv, which corral puts first in PATH)]
			note gunicorn is not in pyproject.toml's dependencies: poetry add gunicorn, or the web process will not start
		`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Detect(testTree(t, tc.files))
			if want, ok := strings.CutPrefix(tc.want, "error: "); ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Detect = %v, %v; want an error with %q", p, err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pyCheckOutline(t, p, tc.want)
		})
	}
}

// TestASGIWeb checks the ASGI server chosen for each set of declared packages.
func TestASGIWeb(t *testing.T) {
	for _, tc := range []struct {
		deps, want, tool string
	}{
		{"", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
		{"uvicorn", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
		{"fastapi[all]", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
		{"fastapi[standard-no-fastapi-cloud-cli]\ngunicorn", "gunicorn m:app -k uvicorn.workers.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT", "gunicorn"},
		{"gunicorn\nUvicorn[standard]", "gunicorn m:app -k uvicorn.workers.UvicornWorker --bind ${HOST:-0.0.0.0}:$PORT", "gunicorn"},
		{"gunicorn", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
		{"hypercorn", "hypercorn m:app --bind ${HOST:-0.0.0.0}:$PORT", "hypercorn"},
		{"hypercorn\nuvicorn", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
		{"daphne", "daphne -b ${HOST:-0.0.0.0} -p $PORT m:app", "daphne"},
		{"fastapi", "uvicorn m:app --host ${HOST:-0.0.0.0} --port $PORT", "uvicorn"},
	} {
		deps := &pyDeps{file: "requirements.txt", deps: map[string]pyDep{}}
		items, err := parseRequirements("requirements.txt", tc.deps)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			addPyDep(deps.deps, it.name, it.extras, Evidence{File: "requirements.txt", Line: it.line})
		}
		cmd, tool, declared := asgiWeb("m:app", "", deps)
		if cmd != tc.want || tool != tc.tool || (declared.File == "") != (tc.deps == "" || tc.deps == "gunicorn" || tc.deps == "fastapi") {
			t.Errorf("asgiWeb with %q = %q, %q, %v; want %q, %q", tc.deps, cmd, tool, declared, tc.want, tc.tool)
		}
	}
}

// TestPyEntryIn checks which name of a file is its app, and of what kind.
func TestPyEntryIn(t *testing.T) {
	for _, tc := range []struct {
		src  string
		wsgi bool
		want string // "kind framework target line", or "" for none
	}{
		{"from flask import Flask\napp = Flask(__name__)\n", true, "flask Flask m:app 2"},
		{"import flask\napp = flask.Flask(__name__)\napp = Middleware(app)\n", true, "flask Flask m:app 2"},
		{"from flask import Flask\napplication = Flask(__name__)\napp = application\n", true, "flask Flask m:app 3"},
		{"from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n", true, "flask Flask m:create_app() 3"},
		{"async def create_app():\n    pass\n", true, "flask WSGI m:create_app() 1"},
		{"from bottle import default_app\napp = default_app()\n", true, "flask WSGI m:app 2"},
		{"from flask import Flask\napp = Flask(__name__)\n", false, ""},
		{"from fastapi import FastAPI\napp = FastAPI()\n", false, "asgi FastAPI m:app 2"},
		{"import fastapi\nroot = fastapi.FastAPI(); app = root\n", true, "asgi FastAPI m:app 2"},
		{"from starlette.applications import Starlette\nx = 1\napp = Starlette(\n    routes=[],\n)\n", true, "asgi Starlette m:app 3"},
		{"from quart import Quart\napp = Quart(__name__)\n", true, "asgi Quart m:app 2"},
		{"import falcon.asgi\napp = falcon.asgi.App()\n", true, "asgi Falcon m:app 2"},
		{"from fastapi import FastAPI\nfrom .factory import build\napp = build()\n", true, "asgi FastAPI m:app 3"},
		{"from fastapi import FastAPI\n\ndef create_app():\n    return FastAPI()\n", true, ""},
		{"\ufeffapp = Flask(__name__)\n", true, "flask WSGI m:app 1"},
		{"app: Flask = Flask(__name__)\n", true, "flask WSGI m:app 1"},
		{"app == Flask(__name__)\n", true, ""},
		{"app.x = Flask(__name__)\n", true, ""},
		{"if True:\n    app = Flask(__name__)\n", true, ""},
		{"x = (\napp = Flask(__name__))\n", true, ""},
		{"x = 1 \\\n\napp = Flask(__name__)\n", true, "flask WSGI m:app 3"},
		{"x = 1; app = Flask(__name__)\n", true, "flask WSGI m:app 1"},
		{"s = '''\napp = Flask(__name__)\n'''\n", true, ""},
		{"s = 'unclosed\napp = Flask(__name__)\n", true, "flask WSGI m:app 2"},
		{"app = None\napp = Flask(__name__)\n", true, "flask WSGI m:app 2"},
		{"app = 'Flask()'\n", true, ""},
		{"application = make_server()\n", true, "flask WSGI m:application 1"},
		{"import typer\napp = typer.Typer()\n", true, ""},
		{"x\r\ny\rapp = Flask(__name__)\r\n", true, "flask WSGI m:app 3"},
	} {
		f := &pyFile{name: "m.py", src: tc.src, stmts: pyStatements(tc.src)}
		got := ""
		if e, ok := pyEntryIn(f, "m", tc.wsgi); ok {
			got = string(e.kind) + " " + e.framework + " " + e.target() + " " + strconv.Itoa(e.at.Line)
		}
		if got != tc.want {
			t.Errorf("pyEntryIn(%q, wsgi=%v) = %q, want %q", tc.src, tc.wsgi, got, tc.want)
		}
	}
}
