package selfcmd

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	for _, tt := range []struct {
		name     string
		args     []string
		line     string
		rewrites []string // "was → now (flag)"
		unsure   []string
	}{
		{"plain words", []string{"gunicorn", "app.wsgi", "--workers", "2"}, "gunicorn app.wsgi --workers 2", nil, nil},
		{"quotes what needs it", []string{"echo", "a b", "it's", "", "$HOME", "*.py", "a;b"}, `echo 'a b' 'it'\''s' '' '$HOME' '*.py' 'a;b'`, nil, nil},
		{"an assignment or keyword first is a program", []string{"A=1", "if"}, "'A=1' if", nil, nil},
		{"'$PORT' expands in the instance", []string{"gunicorn", "--bind", "0.0.0.0:$PORT"}, "gunicorn --bind 0.0.0.0:$PORT", nil, nil},
		{"${HOST:-0.0.0.0}:${PORT} too", []string{"x", "${HOST:-0.0.0.0}:${PORT}", "$PS", "$WEB_CONCURRENCY"}, "x ${HOST:-0.0.0.0}:${PORT} $PS $WEB_CONCURRENCY", nil, nil},
		{"other variables stay as they are", []string{"x", "$PORTS", "${PORT:-$(id)}", "$SECRET"}, "x '$PORTS' '${PORT:-$(id)}' '$SECRET'", nil, nil},
		{"a ref with quoted text around", []string{"x", "a b:$PORT/c d"}, "x 'a b:'$PORT'/c d'", nil, nil},
		// The public port, expanded by the platform's shell.
		{"--bind host:port", []string{"gunicorn", "app.wsgi", "--bind", "0.0.0.0:5000"}, "gunicorn app.wsgi --bind 0.0.0.0:$PORT",
			[]string{"0.0.0.0:5000 → 0.0.0.0:$PORT (--bind)"}, nil},
		{"-b :port", []string{"gunicorn", "-b", ":5000"}, "gunicorn -b :$PORT", []string{":5000 → :$PORT (-b)"}, nil},
		{"--port port", []string{"uvicorn", "main:app", "--port", "5000"}, "uvicorn main:app --port $PORT", []string{"5000 → $PORT (--port)"}, nil},
		{"-p port", []string{"rails", "server", "-p", "5000"}, "rails server -p $PORT", []string{"5000 → $PORT (-p)"}, nil},
		{"--port=port", []string{"waitress-serve", "--port=5000", "app:app"}, "waitress-serve --port=$PORT app:app", []string{"--port=5000 → --port=$PORT (--port)"}, nil},
		{"--listen=*:port", []string{"waitress-serve", "--listen=*:5000"}, "waitress-serve '--listen=*:'$PORT", []string{"--listen=*:5000 → '--listen=*:'$PORT (--listen)"}, nil},
		{"-b glued", []string{"gunicorn", "-b0.0.0.0:5000"}, "gunicorn -b0.0.0.0:$PORT", []string{"-b0.0.0.0:5000 → -b0.0.0.0:$PORT (-b)"}, nil},
		{"puma's tcp://", []string{"puma", "-b", "tcp://0.0.0.0:5000"}, "puma -b tcp://0.0.0.0:$PORT", []string{"tcp://0.0.0.0:5000 → tcp://0.0.0.0:$PORT (-b)"}, nil},
		{"any host after a port flag", []string{"x", "--bind", "myhost:5000", "--bind", "[fd00::1]:5000"}, "x --bind myhost:$PORT --bind '[fd00::1]:'$PORT",
			[]string{"myhost:5000 → myhost:$PORT (--bind)", "[fd00::1]:5000 → '[fd00::1]:'$PORT (--bind)"}, nil},
		{"Go's -addr", []string{"bin/web", "-addr", ":5000"}, "bin/web -addr :$PORT", []string{":5000 → :$PORT (-addr)"}, nil},
		{"an address of its own", []string{"python", "manage.py", "runserver", "0.0.0.0:5000"}, "python manage.py runserver 0.0.0.0:$PORT", []string{"0.0.0.0:5000 → 0.0.0.0:$PORT ()"}, nil},
		{"[::]:port", []string{"php", "-S", "[::]:5000"}, "php -S '[::]:'$PORT", []string{"[::]:5000 → '[::]:'$PORT ()"}, nil},
		// Not an address: left as it is.
		{"--timeout 5000", []string{"gunicorn", "--timeout", "5000", "--workers=5000"}, "gunicorn --timeout 5000 --workers=5000", nil, nil},
		{"another port", []string{"gunicorn", "--bind", "0.0.0.0:5001", "-p", "50000"}, "gunicorn --bind 0.0.0.0:5001 -p 50000", nil, nil},
		{"another host's", []string{"worker", "redis://cache:5000", "http://api.example.com:5000"}, "worker redis://cache:5000 http://api.example.com:5000", nil, nil},
		{"a bare port of its own is unsure", []string{"python", "-m", "http.server", "5000"}, "python -m http.server 5000", nil, []string{"5000"}},
		{"glued short option, unsure", []string{"x", "-l5000"}, "x -l5000", nil, []string{"-l5000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Render(Words(tt.args), 5000)
			var rws []string
			for _, rw := range r.Rewrites {
				rws = append(rws, rw.Was+" → "+rw.Now+" ("+rw.Flag+")")
			}
			if r.Line != tt.line || !slices.Equal(rws, tt.rewrites) || !slices.Equal(r.Unsure, tt.unsure) {
				t.Errorf("Render(%q)\n got %s %q %q\nwant %s %q %q", tt.args, r.Line, rws, r.Unsure, tt.line, tt.rewrites, tt.unsure)
			}
		})
	}
}

func TestRenderKeepsExpansions(t *testing.T) {
	// A Procfile's own line, read by Split: what the shell would expand is
	// kept, for the instance's shell.
	words := Split(`gunicorn app.wsgi --bind "${HOST:-0.0.0.0}:$PORT" --name=$APP_NAME 'x y' *.conf --workers 5000`)[0].Words
	r := Render(words, 5000)
	want := `gunicorn app.wsgi --bind "${HOST:-0.0.0.0}:$PORT" --name=$APP_NAME 'x y' *.conf --workers 5000`
	if r.Line != want || len(r.Rewrites) != 0 || len(r.Unsure) != 0 {
		t.Errorf("Render: %s %v %v\nwant %s", r.Line, r.Rewrites, r.Unsure, want)
	}
}

// TestRenderInShell runs what Render makes with the shell, as a web
// instance's command runs: sh -c must see exactly the words corral got,
// with the instance's own PORT where the public port was or where
// '$PORT' was quoted for the platform's shell.
func TestRenderInShell(t *testing.T) {
	for _, shell := range []string{"/bin/sh", "/bin/bash"} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("no %s: %v", shell, err)
			continue
		}
		for _, tt := range []struct {
			args, want []string
		}{
			{[]string{"a b", "it's", "", `"q"`, `back\slash`, "$HOME", "`id`", "*", "~", "#x", "a;b|c&d", "tab\there", "new\nline", "ünï"},
				[]string{"a b", "it's", "", `"q"`, `back\slash`, "$HOME", "`id`", "*", "~", "#x", "a;b|c&d", "tab\there", "new\nline", "ünï"}},
			{[]string{"--bind", "0.0.0.0:5000", "-p", "5000", "0.0.0.0:$PORT", "${HOST:-0.0.0.0}", "x$PS", "$PORTS"},
				[]string{"--bind", "0.0.0.0:7001", "-p", "7001", "0.0.0.0:7001", "127.0.0.1", "xweb.2", "$PORTS"}},
		} {
			r := Render(Words(append([]string{"printf", "[%s]"}, tt.args...)), 5000)
			cmd := exec.Command(shell, "-c", r.Line)
			cmd.Env = []string{"PORT=7001", "HOST=127.0.0.1", "PS=web.2", "HOME=/nowhere", "PATH=/usr/bin:/bin"}
			cmd.Dir = t.TempDir() // a glob that matched would show
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s -c %s: %v", shell, r.Line, err)
			}
			want := "[" + strings.Join(tt.want, "][") + "]"
			if string(out) != want {
				t.Errorf("%s -c %s\n printed %q\n    want %q", shell, r.Line, out, want)
			}
		}
	}
}
