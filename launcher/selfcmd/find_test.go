package selfcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// binary is a stand-in for the running corral: an executable file in a
// temporary bin/ under another name, with a link to it, and a PATH that
// finds both.
func binary(t *testing.T) Binary {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(bin, "corral-linux-amd64")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("corral-linux-amd64", filepath.Join(bin, "cr")); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(bin, "gunicorn")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return Binary{Path: exe, Dir: dir, Env: []string{"PATH=" + bin}}
}

// calls is calls for a test, one string each.
func calls(cs []Call) []string {
	var out []string
	for _, c := range cs {
		s := fmt.Sprintf("%s %s [%s]", c.Program, c.Sub, Src(c.Args))
		if c.Dashes {
			s += fmt.Sprintf(" -- [%s]", Src(c.Command))
		}
		if c.Own {
			s += " own"
		}
		if c.Where != "" {
			s += " " + c.Where
		}
		s += " (" + c.Form + ")"
		out = append(out, s)
	}
	return out
}

func TestFind(t *testing.T) {
	b := binary(t)
	for _, tt := range []struct {
		line string
		want []string
	}{
		// corral's own line, as a platform runs it.
		{"corral start", []string{"corral start [] own (named corral)"}},
		{"exec corral start --idle-stop 10m", []string{"corral start [--idle-stop 10m] own (named corral)"}},
		{"A=1 exec env B=2 corral start", []string{"corral start [] own (named corral)"}},
		{"bin/corral start", []string{"bin/corral start [] own (named corral)"}},
		{"/usr/local/bin/corral start -p $PORT", []string{"/usr/local/bin/corral start [-p $PORT] own (named corral)"}},
		{"node_modules/.bin/corral start", []string{"node_modules/.bin/corral start [] own (named corral)"}},
		{".venv/bin/corral start", []string{".venv/bin/corral start [] own (named corral)"}},
		{"npx corral start", []string{"corral start [] own (named corral)"}},
		{"npx -p corral corral start", []string{"corral start [] own (named corral)"}},
		{"bundle exec corral start", []string{"corral start [] own (named corral)"}},
		{"uv run --with x corral start", []string{"corral start [] own (named corral)"}},
		{"timeout 1h corral start", []string{"corral start [] own (named corral)"}},
		{"/usr/bin/env corral start", []string{"corral start [] own (named corral)"}},
		{"./bin/corral-linux-amd64 start", []string{"./bin/corral-linux-amd64 start [] own (the running corral binary)"}},
		{"cr start", []string{"cr start [] own (the running corral binary)"}},
		{"corral start 2>&1", []string{"corral start [] own (named corral)"}},
		{"corral start web -- gunicorn app.wsgi --bind '0.0.0.0:$PORT'", []string{"corral start [web] -- [gunicorn app.wsgi --bind '0.0.0.0:$PORT'] own (named corral)"}},
		{"corral start --", []string{"corral start [] -- [] own (named corral)"}},
		// corral, but not its own line.
		{"bin/setup && corral start", []string{"corral start [] after bin/setup && (named corral)"}},
		{"corral start | tee log", []string{"corral start [] (named corral)"}},
		{"corral start &", []string{"corral start [] (named corral)"}},
		{`sh -c "corral start"`, []string{"corral start [] in sh -c's script (named corral)"}},
		{`bash -lc 'exec corral start'`, []string{"corral start [] in bash -c's script (named corral)"}},
		{`eval corral start`, []string{"corral start [] in eval's script (named corral)"}},
		{"if true; then corral start; fi", []string{"corral start [] after if … ; (named corral)"}},
		{"corral start -- corral start", []string{
			"corral start [] -- [corral start] own (named corral)",
			"corral start [] after corral start -- (named corral)"}},
		{`corral start -- sh -c "corral start"`, []string{
			`corral start [] -- [sh -c "corral start"] own (named corral)`,
			"corral start [] in sh -c's script, after corral start -- (named corral)"}},
		// corral's other commands, which run no Procfile.
		{"corral run -- python manage.py migrate", []string{"corral run [] -- [python manage.py migrate] own (named corral)"}},
		{"corral", []string{"corral  [] own (named corral)"}},
		{"corral $CMD", []string{"corral $CMD [] own (named corral)"}},
		// Not corral.
		{"gunicorn app.wsgi", nil},
		{"echo corral start", nil},
		{"$CORRAL start", nil},
		{"yarn install corral", nil},
		{"sh script.sh corral start", nil},
		{`sh -c "$SCRIPT"`, nil},
		{"bin/corralx start", nil},
	} {
		got := calls(Find(tt.line, b))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Find(%q)\n got %q\nwant %q", tt.line, got, tt.want)
		}
	}
}

func TestFindByNameOnly(t *testing.T) {
	// With no binary to compare, a program of another name is not corral.
	if got := Find("./corral-linux-amd64 start", Binary{}); len(got) != 0 {
		t.Errorf("Find with no binary: %q", calls(got))
	}
	if got := calls(Find("corral start", Binary{})); !slices.Equal(got, []string{"corral start [] own (named corral)"}) {
		t.Errorf("Find with no binary: %q", got)
	}
}

func TestFindDepth(t *testing.T) {
	// Scripts in scripts are read up to maxDepth, then given up on.
	line := "corral start"
	for range maxDepth {
		line = "sh -c " + quote(line, false, true)
	}
	if got := Find(line, Binary{}); len(got) != 1 {
		t.Errorf("Find did not read %d scripts deep: %q", maxDepth, calls(got))
	}
	line = "sh -c " + quote(line, false, true)
	if got := Find(line, Binary{}); len(got) != 0 {
		t.Errorf("Find read %d scripts deep: %q", maxDepth+1, calls(got))
	}
}

func TestFindCommand(t *testing.T) {
	b := binary(t)
	if got := calls(FindCommand(Words([]string{"corral", "start", "web"}), b)); !slices.Equal(got, []string{"corral start [web] after corral start -- (named corral)"}) {
		t.Errorf("FindCommand: %q", got)
	}
	if got := FindCommand(Words([]string{"gunicorn", "app.wsgi"}), b); len(got) != 0 {
		t.Errorf("FindCommand found corral in gunicorn: %q", calls(got))
	}
}
