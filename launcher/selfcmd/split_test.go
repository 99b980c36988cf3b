package selfcmd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// show is cmds for a test: each command's words, a literal word as its
// value in <>, any other as written in {}, then its operator.
func show(cmds []Simple) []string {
	var out []string
	for _, c := range cmds {
		var ws []string
		for _, w := range c.Words {
			if v, ok := w.Literal(); ok {
				ws = append(ws, "<"+v+">")
			} else {
				ws = append(ws, "{"+w.Src+"}")
			}
		}
		s := strings.Join(ws, " ")
		if c.Op != "" {
			s += " " + c.Op
		}
		if c.Redirected {
			s += " (redirected)"
		}
		out = append(out, s)
	}
	return out
}

func TestSplit(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"corral start", []string{"<corral> <start>"}},
		{"  exec   corral\tstart  ", []string{"<exec> <corral> <start>"}},
		{`A=1 B="x y" corral start`, []string{"<A=1> <B=x y> <corral> <start>"}},
		{`echo 'a b' "c d" e\ f`, []string{"<echo> <a b> <c d> <e f>"}},
		{`echo 'it'\''s' ""`, []string{"<echo> <it's> <>"}},
		{`echo "a \"b\" \$c \x"`, []string{`<echo> <a "b" $c \x>`}},
		{`gunicorn --bind 0.0.0.0:$PORT app`, []string{"<gunicorn> <--bind> {0.0.0.0:$PORT} <app>"}},
		{`gunicorn --bind '0.0.0.0:$PORT'`, []string{"<gunicorn> <--bind> <0.0.0.0:$PORT>"}},
		{`x ${HOST:-0.0.0.0}:${PORT} "$A b" $(date +%s) ` + "`id -u`", []string{"<x> {${HOST:-0.0.0.0}:${PORT}} {\"$A b\"} {$(date +%s)} {`id -u`}"}},
		{`x $( echo "a b" ) *.py ~/bin a$ $`, []string{`<x> {$( echo "a b" )} {*.py} {~/bin} <a$> <$>`}},
		{"bin/setup && corral start; echo done", []string{"<bin/setup> &&", "<corral> <start> ;", "<echo> <done>"}},
		{"a || b | c & d", []string{"<a> ||", "<b> |", "<c> &", "<d>"}},
		{"corral start 2>&1 >log", []string{"<corral> <start> (redirected)"}},
		{"corral start &> log.txt", []string{"<corral> <start> (redirected)"}},
		{"echo a2>x", []string{"<echo> <a2> (redirected)"}},
		{"echo 12 > x", []string{"<echo> <12> (redirected)"}},
		{"corral start # a comment; rm -rf /", []string{"<corral> <start>"}},
		{"echo a#b", []string{"<echo> <a#b>"}},
		{"(cd app && exec corral start)", []string{"<cd> <app> &&", "<exec> <corral> <start> )"}},
		{"if true; then corral start; fi", []string{"<if> <true> ;", "<then> <corral> <start> ;", "<fi>"}},
		{`sh -c "corral start"`, []string{"<sh> <-c> <corral start>"}},
		{"echo 'unterminated", []string{"<echo> <unterminated>"}},
		{`echo "unterminated $X`, []string{`<echo> {"unterminated $X}`}},
		{`echo $'a\tb'`, []string{`<echo> {$'a\tb'}`}},
		{"a \\\nb", []string{"<a> <b>"}},
		{";;", nil},
		{"", nil},
	} {
		got := show(Split(tt.line))
		if !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q)\n got %q\nwant %q", tt.line, got, tt.want)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"PORT": "5000", "A": "x y"}
	get := func(name string) string { return env[name] }
	for _, tt := range []struct {
		word, want string
		ok         bool
	}{
		{"plain", "plain", true},
		{"$PORT", "5000", true},
		{"${PORT}", "5000", true},
		{"0.0.0.0:$PORT", "0.0.0.0:5000", true},
		{`"$A:$PORT"`, "x y:5000", true},
		{`"\$PORT"`, "$PORT", true},
		{`'$PORT'`, "$PORT", true},
		{"$UNSET", "", true},
		{"${PORT:-1}", "", false},
		{"$(id)", "", false},
		{"*.py", "", false},
		{"$1", "", false},
		{"`id`", "", false},
	} {
		words := Split("x " + tt.word)[0].Words
		got, ok := words[1].Expand(get)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Expand(%s) = %q, %v; want %q, %v", tt.word, got, ok, tt.want, tt.ok)
		}
	}
}

// ExampleSplit shows what Split makes of a Procfile's web line.
func ExampleSplit() {
	for _, c := range Split(`exec corral start -- gunicorn app.wsgi --bind '0.0.0.0:$PORT'`) {
		for _, w := range c.Words {
			v, ok := w.Literal()
			fmt.Printf("%q %v\n", v, ok)
		}
	}
	// Output:
	// "exec" true
	// "corral" true
	// "start" true
	// "--" true
	// "gunicorn" true
	// "app.wsgi" true
	// "--bind" true
	// "0.0.0.0:$PORT" true
}
