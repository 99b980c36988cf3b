package buildpack

import (
	"strings"
	"testing"
)

// TestDetectWorkers checks the worker (and clock) each task queue gets.
func TestDetectWorkers(t *testing.T) {
	const flask = "from flask import Flask\napp = Flask(__name__)\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // the plan's processes after web, "type: command" joined by "; "
	}{
		{"Dramatiq actors in two modules", map[string]string{
			"app.py":           flask,
			"jobs/mail.py":     "import dramatiq\n\n@dramatiq.actor\ndef send(to):\n    pass\n",
			"jobs/report.py":   "from dramatiq import actor\n\n@actor(max_retries=3)\ndef build():\n    pass\n",
			"jobs/util.py":     "import dramatiq\n",
			"requirements.txt": "flask\ngunicorn\ndramatiq[redis]\n",
		}, "worker: dramatiq jobs.mail jobs.report"},
		{"Huey outside Django", map[string]string{
			"app.py":           flask,
			"tasks/queue.py":   "from huey import RedisHuey\n\nhuey = RedisHuey('app')\n",
			"requirements.txt": "flask\ngunicorn\nhuey\n",
		}, "worker: huey_consumer tasks.queue.huey"},
		{"RQ with no queue named", map[string]string{
			"app.py":           flask,
			"requirements.txt": "flask\ngunicorn\nrq\n",
		}, `worker: rq worker ${REDIS_URL:+--url "$REDIS_URL"}`},
		{"Celery app under another name", map[string]string{
			"app.py":           flask,
			"proj/queue.py":    "import celery\n\nbroker = celery.Celery('proj')\n",
			"requirements.txt": "flask\ngunicorn\ncelery\n",
		}, "worker: celery -A proj.queue:broker worker --loglevel=info"},
		{"Celery and RQ both: one worker", map[string]string{
			"app.py":           flask,
			"celery_app.py":    "from celery import Celery\napp = Celery('x')\n",
			"requirements.txt": "flask\ngunicorn\ncelery\nrq\n",
		}, "worker: celery -A celery_app worker --loglevel=info"},
		{"Celery declared, no app", map[string]string{
			"app.py":           flask,
			"requirements.txt": "flask\ngunicorn\ncelery\n",
		}, ""},
		{"Django with django-rq", map[string]string{
			"manage.py":        pyManage("proj.settings"),
			"proj/wsgi.py":     pyWSGI("proj.settings"),
			"requirements.txt": "django\ngunicorn\ndjango-rq\n",
		}, "worker: python3 manage.py rqworker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := detectTestRun(t, testTree(t, tc.files))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, proc := range p.Processes[1:] {
				got = append(got, proc.Type+": "+proc.Command)
			}
			if strings.Join(got, "; ") != tc.want {
				t.Errorf("processes %q, want %q; notes:\n  %s", got, tc.want, strings.Join(p.Notes, "\n  "))
			}
		})
	}
}
