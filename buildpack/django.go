package buildpack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/corral-run/corral/internal/environ"
)

// DjangoStatic is where a Django app's collected static files live, so the
// edge can answer /static/… from disk (with hashed names cached for good)
// instead of passing every stylesheet to an app server that handles one
// request at a time per worker.
type DjangoStatic struct {
	// URL is the path prefix the files are served under, with a leading
	// and a trailing slash ("/static/"), as the app's HTML links them.
	URL string
	// Root is the directory collectstatic fills: the app's STATIC_ROOT,
	// made relative to the app directory if Python gave a relative one.
	Root string
	// SettingsModule is the Django settings module the answer came from, so
	// a log line can say why corral serves these files.
	SettingsModule string
}

// settingsTimeout bounds how long FindDjangoStatic waits for Python to
// import a settings module: one that hangs (waiting on a database, say) must
// not hold up corral's start.
const settingsTimeout = 10 * time.Second

// maxSourceSize caps how much of a manage.py, wsgi.py or asgi.py is read:
// the setdefault call is near the top of any real one.
const maxSourceSize = 1 << 20

// resultPrefix marks the line the settings script prints, so noise that a
// settings module prints to stdout is never taken for the answer.
const resultPrefix = "corral-django-static: "

// staticScript reads STATIC_URL and STATIC_ROOT the way the app's own
// processes will see them. It does not call django.setup(): reading
// settings needs only the settings module, not the app registry, so apps
// whose models need a database are read just as fast.
const staticScript = `import json, sys
from django.conf import settings
url = settings.STATIC_URL
root = settings.STATIC_ROOT
sys.stdout.write("\n" + ` + "\"" + resultPrefix + "\"" + ` + json.dumps({"url": None if url is None else str(url), "root": str(root or "")}) + "\n")
sys.stdout.flush()
`

// FindDjangoStatic looks for a Django app in dir (a manage.py, or a wsgi.py
// or asgi.py one directory down naming DJANGO_SETTINGS_MODULE), and if it is
// one asks the app's python3 for settings.STATIC_URL and settings.STATIC_ROOT,
// since settings are Python code that only Python can evaluate.
//
// env is the app's environment ("KEY=value", a later entry winning); python3
// is looked up in its PATH and runs in dir with it, so the interpreter, the
// installed Django and the settings are those the app's processes will get.
// DJANGO_SETTINGS_MODULE in env wins over the default in the app's files, as
// it does when the app runs.
//
// It returns (nil, nil) when dir is not a Django app, and also when
// STATIC_URL is unset or names another host (a CDN): there is then nothing
// for corral to serve. When dir is a Django app but its settings cannot be
// read, or STATIC_ROOT is unset, the error names the file that made it one,
// the settings module and Python's last error line.
//
// run runs the Python command to completion (nil: exec.Cmd.Run); a caller
// that reaps children itself passes a function that keeps its hands off
// this one.
func FindDjangoStatic(ctx context.Context, dir string, env []string, run func(*exec.Cmd) error) (*DjangoStatic, error) {
	return findDjangoStatic(ctx, dir, env, settingsTimeout, run)
}

// findDjangoStatic is FindDjangoStatic with the time Python gets as an
// argument, so tests on a loaded machine need not race the 10 s production
// bound.
func findDjangoStatic(ctx context.Context, dir string, env []string, timeout time.Duration, run func(*exec.Cmd) error) (*DjangoStatic, error) {
	if run == nil {
		run = (*exec.Cmd).Run
	}
	app, err := detectDjango(dir)
	if err != nil || app == nil {
		return nil, err
	}
	where := fmt.Sprintf("%s: Django settings %q", app.file, app.module)
	module := app.module
	if m, _ := environ.Lookup(env, "DJANGO_SETTINGS_MODULE"); m != "" {
		module = m
		where = fmt.Sprintf("%s: Django settings %q (from DJANGO_SETTINGS_MODULE in the environment)", app.file, m)
	}
	if module == "" {
		return nil, fmt.Errorf("buildpack: %s: a Django app, but no file names its settings module: set DJANGO_SETTINGS_MODULE", app.file)
	}

	python, err := environ.LookPath("python3", env)
	if err != nil {
		return nil, fmt.Errorf("buildpack: %s: %w", where, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-B", "-c", staticScript)
	cmd.Dir = dir
	cmd.Env = append(append(make([]string, 0, len(env)+1), env...), "DJANGO_SETTINGS_MODULE="+module)
	stdout, stderr := &tail{max: 64 << 10}, &tail{max: 64 << 10}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, stdout, stderr
	cmd.WaitDelay = time.Second // a child the settings started may hold the pipes
	runErr := run(cmd)
	if errors.Is(runErr, exec.ErrWaitDelay) {
		runErr = nil // Python answered; a child it left holds the pipes
	}
	if runErr != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("buildpack: %s: %s gave no answer in time (at most %v): %w", where, python, timeout, context.Cause(ctx))
	}
	if runErr != nil {
		why := lastLine(stderr.String(), "")
		if why == "" {
			why = "no error message"
		}
		return nil, fmt.Errorf("buildpack: %s: %s could not read them: %s (%w)", where, python, why, runErr)
	}
	line := lastLine(stdout.String(), resultPrefix)
	var got struct {
		URL  *string `json:"url"`
		Root string  `json:"root"`
	}
	if line == "" {
		return nil, fmt.Errorf("buildpack: %s: %s printed no result: %s", where, python, lastLine(stderr.String(), ""))
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, resultPrefix)), &got); err != nil {
		return nil, fmt.Errorf("buildpack: %s: %s printed an unreadable result %q: %w", where, python, line, err)
	}
	if got.URL == nil {
		return nil, nil
	}
	prefix, local, err := staticPrefix(*got.URL)
	if err != nil {
		return nil, fmt.Errorf("buildpack: %s: %w", where, err)
	}
	if !local {
		return nil, nil
	}
	if got.Root == "" {
		return nil, fmt.Errorf("buildpack: %s: STATIC_ROOT is not set, so collectstatic has nowhere to put the files for %s", where, prefix)
	}
	root := got.Root
	if !filepath.IsAbs(root) {
		root = filepath.Join(dir, root)
	}
	return &DjangoStatic{URL: prefix, Root: root, SettingsModule: module}, nil
}

// staticPrefix turns a STATIC_URL into the path prefix the edge serves, as
// Django links it: "static/" is "/static/" (Django adds the script prefix,
// "/" outside a request). A URL on another host (http://cdn…, //cdn…) is
// not local. "/" is refused: it would hide every page of the app.
func staticPrefix(s string) (prefix string, local bool, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", false, fmt.Errorf("STATIC_URL %q is not a URL: %w", s, err)
	}
	if u.Scheme != "" || u.Host != "" || strings.HasPrefix(s, "//") {
		return "", false, nil
	}
	p := u.Path
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if p == "/" {
		return "", false, fmt.Errorf("STATIC_URL %q would serve static files in place of every page", s)
	}
	return p, true, nil
}

// djangoApp is what the app's files say: which file makes dir a Django app
// and the settings module it falls back to ("" if none names one).
type djangoApp struct {
	file   string
	module string
}

// detectDjango finds the settings module default in manage.py, then
// */wsgi.py, then */asgi.py, the order in which a developer would look. A
// manage.py that mentions Django makes dir a Django app even when it names
// no module (DJANGO_SETTINGS_MODULE may come from the environment); a
// wsgi.py or asgi.py counts only when it names one, since other frameworks
// use those names too.
func detectDjango(dir string) (*djangoApp, error) {
	var app *djangoApp
	manage := filepath.Join(dir, "manage.py")
	src, err := readSource(manage)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("buildpack: %w", err)
	default:
		if m, ok := settingsModuleDefault(src); ok {
			return &djangoApp{file: manage, module: m}, nil
		}
		if strings.Contains(strings.ToLower(src), "django") {
			app = &djangoApp{file: manage}
		}
	}
	for _, pattern := range []string{"*/wsgi.py", "*/asgi.py"} {
		files, err := filepath.Glob(filepath.Join(globEscape(dir), pattern))
		if err != nil {
			return nil, fmt.Errorf("buildpack: %w", err)
		}
		for _, f := range files {
			src, err := readSource(f)
			if err != nil {
				continue // a directory named wsgi.py, a dangling link: not this app's entry point
			}
			if m, ok := settingsModuleDefault(src); ok {
				return &djangoApp{file: f, module: m}, nil
			}
		}
	}
	return app, nil
}

// readSource reads at most maxSourceSize bytes of a regular file.
func readSource(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return "", err
	} else if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSourceSize))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// globEscape quotes the glob metacharacters in a literal path.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// lastLine returns the last non-blank line of s that starts with prefix,
// trimmed.
func lastLine(s, prefix string) string {
	for s != "" {
		i := strings.LastIndexByte(s, '\n')
		line := strings.TrimSpace(s[i+1:])
		if line != "" && strings.HasPrefix(line, prefix) {
			return line
		}
		if i < 0 {
			break
		}
		s = s[:i]
	}
	return ""
}

// tail keeps the last max bytes written to it: the end of Python's output
// is what matters, and a chatty settings module must not grow it unbounded.
type tail struct {
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := t.buf.Len() + len(p) - t.max; over > 0 {
		t.buf.Next(over)
	}
	t.buf.Write(p)
	return n, nil
}

func (t *tail) String() string { return t.buf.String() }
