package main

// End-to-end tests of what a platform does that corral must do too (issue
// 15), found by running Heroku's and Render's sample apps under corral:
// the access log of static files, bin/ on PATH, the build of an app with
// a Procfile, .env on a platform, production defaults, package managers
// through corepack.

import (
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStaticAccessLogged: a static file the edge serves itself gets an
// `edge |` line, with kind static, and an X-Request-Id, as a request the
// app answers does; in text and in JSON.
func TestStaticAccessLogged(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := app(t, map[string]string{
				"Procfile":       "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
				"public/app.css": "body { color: teal }\n",
			})
			port := freePort(t)
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--static", "/static/=public", "--log-format", format)
			r.waitFor(`web\.1 is ready`)
			resp := wantPage(t, base+"/static/app.css?v=1", 200, "teal")
			id := resp.Header.Get("X-Request-Id")
			if id == "" {
				t.Fatalf("no X-Request-Id on a static file: %v", resp.Header)
			}
			wantPage(t, base+"/", 200, "hello from web.1")
			line := r.waitFor(regexp.QuoteMeta(id))
			r.waitFor(`(edge|"source":"edge").*(GET /|"uri":"/").*web\.1`)
			if format == "text" {
				if want := regexp.MustCompile(`^edge +\| GET /static/app\.css\?v=1 200 21B \S+ static id=` + id + `$`); !want.MatchString(line) {
					t.Errorf("access line %q, want one matching %s", line, want)
				}
			} else {
				objs := parseLogLines(t, []string{line})
				if o := objs[0]; o.Source != "edge" || o.URI != "/static/app.css?v=1" || o.Status != 200 || o.Bytes != 21 || o.Instance != "" || !strings.Contains(o.Raw, `"kind":"static"`) {
					t.Errorf("access object %s", o.Raw)
				}
			}
			r.signal(syscall.SIGTERM)
			r.wait(15 * time.Second)
		})
	}
}
