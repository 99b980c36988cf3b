package systemd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// readExec reads an ExecStart= value back into the words the program
// gets, as systemd's manual says it does: specifiers first (%% is %, no
// other is written), then words split at whitespace, with double quotes
// and backslash escapes (\\ and \" are the only ones written), a lone
// unquoted ";" ending the command; then, in each argument but the
// program's path, $$ becomes $ (no other $ is written).
func readExec(value string) ([]string, error) {
	var spec strings.Builder
	for i := 0; i < len(value); i++ {
		if value[i] == '%' {
			if i+1 == len(value) || value[i+1] != '%' {
				return nil, fmt.Errorf("specifier at %d", i)
			}
			i++
		}
		spec.WriteByte(value[i])
	}
	s := spec.String()
	var words []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		quoted := false
		for ; i < len(s) && s[i] != ' '; i++ {
			switch c := s[i]; c {
			case '"':
				quoted = true
				for i++; ; i++ {
					if i == len(s) {
						return nil, errors.New("unbalanced quotes")
					}
					if s[i] == '"' {
						break
					}
					if s[i] == '\\' {
						if i++; i == len(s) || s[i] != '\\' && s[i] != '"' {
							return nil, fmt.Errorf("escape at %d", i)
						}
					}
					w.WriteByte(s[i])
				}
			case '\'', '\\':
				return nil, fmt.Errorf("%c outside double quotes at %d", c, i)
			default:
				w.WriteByte(c)
			}
		}
		if !quoted && w.String() == ";" {
			return nil, errors.New(`a lone ";" ends the command`)
		}
		words = append(words, w.String())
	}
	for i := 1; i < len(words); i++ {
		var b strings.Builder
		w := words[i]
		for j := 0; j < len(w); j++ {
			if w[j] == '$' {
				if j+1 == len(w) || w[j+1] != '$' {
					return nil, fmt.Errorf("variable in %q", w)
				}
				j++
			}
			b.WriteByte(w[j])
		}
		words[i] = b.String()
	}
	return words, nil
}

func TestExecQuoting(t *testing.T) {
	tests := []struct {
		path string
		args []string
		want string
	}{
		{"/usr/bin/corral", []string{"start", "--dir", "/srv/app"}, "/usr/bin/corral start --dir /srv/app"},
		{"/opt/my apps/corral", []string{"a b", ""}, `"/opt/my apps/corral" "a b" ""`},
		{"/opt/100%/$x", []string{"100%", "$HOME", "${X}", "$$"}, `/opt/100%%/$x 100%% $$HOME $${X} $$$$`},
		{"/c", []string{`a"b`, `a\b`, `it's`, ";", "a;b", "\u00a0"}, `/c "a\"b" "a\\b" "it's" ";" "a;b" "` + "\u00a0" + `"`},
		{"/c", []string{"é", "--x=y", "web=2,worker=1", "/s/=dir"}, "/c é --x=y web=2,worker=1 /s/=dir"},
	}
	for _, tt := range tests {
		got := execPath(tt.path) + " " + execArgs(tt.args)
		if got != tt.want {
			t.Errorf("%q %q: %s, want %s", tt.path, tt.args, got, tt.want)
		}
		words, err := readExec(got)
		if err != nil || !slices.Equal(words, append([]string{tt.path}, tt.args...)) {
			t.Errorf("%s reads back as %q, %v", got, words, err)
		}
	}
}

func TestShellLine(t *testing.T) {
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"corral", "ps", "--dir", "/srv/app"}, "corral ps --dir /srv/app"},
		{[]string{"cp", "/srv/my app", "it's", "", "$x"}, `cp '/srv/my app' 'it'\''s' '' '$x'`},
	} {
		if got := shellLine(tt.words...); got != tt.want {
			t.Errorf("shellLine(%q) = %s, want %s", tt.words, got, tt.want)
		}
	}
}

// FuzzExecArgs: whatever the program's path and arguments a unit can
// hold, ExecStart= gives systemd exactly them, on one line.
func FuzzExecArgs(f *testing.F) {
	f.Add("/usr/bin/corral", "--dir", "/srv/my app", `a"b\c`)
	f.Add("/opt/100%/x", "$HOME", ";", "")
	f.Add("/x", "%%$$", "'", "\u00a0;")
	f.Fuzz(func(t *testing.T, path, a, b, c string) {
		args := []string{a, b, c}
		path = "/" + path
		if slices.ContainsFunc(append([]string{path}, args...), func(s string) bool { return !writable(s) }) || strings.ContainsAny(path, `"'\`) {
			return // Unit.check refuses these
		}
		line := execPath(path) + " " + execArgs(args)
		if strings.ContainsAny(line, "\n\r") {
			t.Fatalf("%q: more than one line", line)
		}
		words, err := readExec(line)
		if err != nil || !slices.Equal(words, append([]string{path}, args...)) {
			t.Fatalf("%q %q: %s reads back as %q, %v", path, args, line, words, err)
		}
	})
}
