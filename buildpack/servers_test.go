package buildpack

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseINI checks the INI reader on what uWSGI and Alembic files hold.
func TestParseINI(t *testing.T) {
	src := "; comment\n[uwsgi]\nhttp-socket=:$(PORT)\nmaster = true\n# c\nstatic-map = /m/=/code/m/\n\n[Alembic]\nscript_location: migrations\nnot a key\n[broken\nx = 1\n"
	var got []string
	for _, k := range parseINI(src) {
		got = append(got, fmt.Sprintf("%s.%s=%s@%d", k.section, k.key, k.value, k.line))
	}
	want := "uwsgi.http-socket=:$(PORT)@3 uwsgi.master=true@4 uwsgi.static-map=/m/=/code/m/@6 alembic.script_location=migrations@9 alembic.x=1@12"
	if strings.Join(got, " ") != want {
		t.Errorf("parseINI = %s\nwant %s", strings.Join(got, " "), want)
	}
	if n := iniSectionLine(src, "alembic"); n != 8 {
		t.Errorf("iniSectionLine = %d, want 8", n)
	}
}

// FuzzINI checks the INI reader on any input: every key is on a line of
// the input, lower case and trimmed, and a line added on top moves each
// down by one.
func FuzzINI(f *testing.F) {
	for _, seed := range []string{
		"[uwsgi]\nmodule = app:app\nsocket=/tmp/s\n",
		"; c\n[Alembic]\r\nscript_location: alembic\r\n",
		"[a\nk\n=v\n[]\n:x\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		keys := parseINI(src)
		lines := len(splitLines(src))
		for _, k := range keys {
			if k.line < 1 || k.line > lines || k.key == "" || k.key != strings.ToLower(strings.TrimSpace(k.key)) {
				t.Fatalf("key %+v of %d lines", k, lines)
			}
		}
		moved := parseINI("; top\n" + src)
		if len(moved) != len(keys) {
			t.Fatalf("a comment on top changes %d keys to %d", len(keys), len(moved))
		}
		for i := range keys {
			if moved[i].line != keys[i].line+1 || moved[i].key != keys[i].key {
				t.Fatalf("a comment on top changes %+v to %+v", keys[i], moved[i])
			}
		}
	})
}
