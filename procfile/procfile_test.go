package procfile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []Entry
	}{
		{"simple", "web: python app.py\nworker: celery -A app worker\n",
			[]Entry{{"web", "python app.py", 1}, {"worker", "celery -A app worker", 2}}},
		{"colons in command", "web: gunicorn -b 0.0.0.0:$PORT app:wsgi\n",
			[]Entry{{"web", "gunicorn -b 0.0.0.0:$PORT app:wsgi", 1}}},
		{"no space after colon", "web:bin/server\n", []Entry{{"web", "bin/server", 1}}},
		{"comments and blanks", "# the app\n\n   \nweb: a\n  # indented comment\n", []Entry{{"web", "a", 4}}},
		{"CRLF", "web: a\r\nworker: b\r\n", []Entry{{"web", "a", 1}, {"worker", "b", 2}}},
		{"BOM", "\xef\xbb\xbfweb: a\n", []Entry{{"web", "a", 1}}},
		{"tabs", "web:\tbundle exec puma\t\n\tworker:\tb\n", []Entry{{"web", "bundle exec puma", 1}, {"worker", "b", 2}}},
		{"no final newline", "web: a\nworker: b", []Entry{{"web", "a", 1}, {"worker", "b", 2}}},
		{"name charset", "Web_2-x: a\n", []Entry{{"Web_2-x", "a", 1}}},
		{"hash inside command", "web: echo '#not a comment'\n", []Entry{{"web", "echo '#not a comment'", 1}}},
		{"unicode command", "web: echo héllo → ✓\n", []Entry{{"web", "echo héllo → ✓", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("Procfile", strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(p.Entries, tt.want) {
				t.Errorf("entries = %#v, want %#v", p.Entries, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // one per reported error, in order
	}{
		{"empty file", "", []string{"Procfile: no process types defined"}},
		{"only comments", "# nothing\n\n", []string{"Procfile: no process types defined"}},
		{"no colon", "web python app.py\n", []string{`Procfile:1: expected "name: command"`}},
		{"empty command", "web:\n", []string{`Procfile:1: process type "web" has an empty command`}},
		{"blank command", "web:   \t\n", []string{`Procfile:1: process type "web" has an empty command`}},
		{"missing name", ": cmd\n", []string{"Procfile:1: missing process type name"}},
		{"space before colon", "web : cmd\n", []string{`Procfile:1: space before ':' after process type "web"`}},
		{"bad name char", "web.1: cmd\n", []string{`Procfile:1: invalid character '.' in process type "web.1"`}},
		{"duplicate", "web: a\nworker: b\nweb: c\n", []string{`Procfile:3: duplicate process type "web" (first defined at line 1)`}},
		{"every error reported", "web: a\nbad line\nweb: c\nx:\n", []string{
			`Procfile:2: expected "name: command"`,
			`Procfile:3: duplicate process type "web"`,
			`Procfile:4: process type "x" has an empty command`,
		}},
		{"binary", "web: a\n\x00\x01\x02\x00\n\x00\n", []string{"Procfile:2: binary data (NUL byte)"}},
		{"lone CR", "web: a\rworker: b\n", []string{"Procfile:1: carriage return inside a line"}},
		{"invalid utf8", "web: \xff\xfe\n", []string{"Procfile:1: not valid UTF-8"}},
		{"CRLF errors keep line numbers", "web: a\r\n\r\nnope\r\n", []string{`Procfile:3: expected "name: command", found "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("Procfile", strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("Parse succeeded with %#v, want errors %q", p, tt.want)
			}
			if p != nil {
				t.Errorf("Parse returned a Procfile along with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors %q, want %d: %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("error %d = %q, want prefix %q", i, got[i], tt.want[i])
				}
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Errorf("error %T does not unwrap to *procfile.Error", err)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := "web: " + strings.Repeat("x", MaxSize) + "\n"
	_, err := Parse("Procfile", strings.NewReader(big))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v, want a size error", err)
	}
}

func TestParseLongLine(t *testing.T) {
	// Lines longer than bufio's default 64 KiB token are fine.
	cmd := "echo " + strings.Repeat("y", 200_000)
	p, err := Parse("Procfile", strings.NewReader("web: "+cmd))
	if err != nil {
		t.Fatal(err)
	}
	if p.Entries[0].Command != cmd {
		t.Errorf("long command was altered")
	}
}

func TestParseFile(t *testing.T) {
	dir := t.TempDir()
	_, err := ParseFile(filepath.Join(dir, "Procfile"))
	if err == nil || !strings.Contains(err.Error(), "Procfile: no such file") {
		t.Errorf("missing file: err = %v", err)
	}
	_, err = ParseFile(dir) // a directory
	if err == nil || !strings.Contains(err.Error(), dir+": cannot read") {
		t.Errorf("directory: err = %v", err)
	}
	path := filepath.Join(dir, "Procfile")
	if err := os.WriteFile(path, []byte("web: a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := ParseFile(path)
	if err != nil || p.Path != path || len(p.Entries) != 1 {
		t.Errorf("ParseFile = %+v, %v", p, err)
	}
	if e, ok := p.Lookup("web"); !ok || e.Command != "a" {
		t.Errorf("Lookup(web) = %+v, %v", e, ok)
	}
	if _, ok := p.Lookup("nope"); ok {
		t.Errorf("Lookup(nope) found something")
	}
}

func TestParseFormation(t *testing.T) {
	known := []string{"release", "web", "worker"}
	tests := []struct {
		spec    string
		want    Formation
		wantErr string
	}{
		{"", Formation{"release": 1, "web": 1, "worker": 1}, ""},
		{"web=2,worker=3", Formation{"release": 1, "web": 2, "worker": 3}, ""},
		{" web = 2 , worker=0 ", Formation{"release": 1, "web": 2, "worker": 0}, ""},
		{"all=0,web=1", Formation{"release": 0, "web": 1, "worker": 0}, ""},
		{"web=4,all=2", Formation{"release": 2, "web": 4, "worker": 2}, ""},
		{"web=2,", Formation{"release": 1, "web": 2, "worker": 1}, ""},
		{"web=100", Formation{"release": 1, "web": 100, "worker": 1}, ""},
		{"clock=1", nil, `unknown process type "clock" (the Procfile defines release, web, worker)`},
		{"web", nil, `item "web" is not TYPE=COUNT`},
		{"web=-1", nil, `count "-1" for "web" must be a whole number from 0 to 100`},
		{"web=two", nil, `count "two"`},
		{"web=101", nil, `count "101"`},
		{"web=1,web=2", nil, `"web" is given twice`},
		{"all=1,all=2", nil, `"all" is given twice`},
	}
	for _, tt := range tests {
		got, err := ParseFormation(tt.spec, known)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFormation(%q) error = %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFormation(%q): %v", tt.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFormation(%q) = %v, want %v", tt.spec, got, tt.want)
		}
	}
}

func TestParseFormationAllAsTypeName(t *testing.T) {
	// A Procfile may define a type literally called "all"; then "all" means it.
	got, err := ParseFormation("all=3", []string{"all", "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Formation{"all": 3, "web": 1}) {
		t.Errorf("got %v", got)
	}
}

func TestParseChange(t *testing.T) {
	known := []string{"web", "worker", "clock"}
	for _, tt := range []struct {
		spec    string
		want    Formation
		wantErr string
	}{
		{"web=3", Formation{"web": 3}, ""},
		{"web=3,worker=0", Formation{"web": 3, "worker": 0}, ""},
		{"all=0,web=1", Formation{"web": 1, "worker": 0, "clock": 0}, ""},
		{"", Formation{}, ""},
		{"release=1", nil, `unknown process type "release" (the Procfile defines web, worker, clock)`},
		{"web=101", nil, `count "101"`},
		{"web=1,web=2", nil, `"web" is given twice`},
	} {
		got, err := ParseChange(tt.spec, known)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseChange(%q) error %v, want %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseChange(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
}
