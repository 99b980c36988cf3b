package selfcmd

import (
	"strings"
	"testing"
)

// FuzzSplit: any line splits without a panic into words written in it,
// and Find reads it without a panic.
func FuzzSplit(f *testing.F) {
	for _, seed := range []string{
		"corral start",
		`A=1 exec corral start -- gunicorn app.wsgi --bind "${HOST:-0.0.0.0}:$PORT" 2>&1`,
		`sh -c 'bin/setup && corral start' ; eval "corral start"`,
		"x $( a \"b\" ) `c` ${d:-'e'} $'f' \\\n g # h",
		"'unterminated \"also $(",
		"${", "$((", "`", "\\", "2>", "&>", "((()))",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, c := range Split(line) {
			if len(c.Words) == 0 {
				t.Fatalf("an empty command in %q", line)
			}
			for _, w := range c.Words {
				if !strings.Contains(line, w.Src) {
					t.Fatalf("word %q is not in %q", w.Src, line)
				}
				if len(w.Parts) == 0 {
					t.Fatalf("word %q has no parts", w.Src)
				}
				w.Expand(func(string) string { return "v" })
			}
		}
		Find(line, Binary{})
	})
}

// FuzzRender: the command Render makes of any words is read back by
// Split as those very words, one command, nothing expanded where the
// words hold no $ (TestRenderInShell checks the same with sh itself).
func FuzzRender(f *testing.F) {
	f.Add("gunicorn\x00app.wsgi\x00--bind\x000.0.0.0:5000")
	f.Add("echo\x00it's\x00\x00a b\x00*\x00~\x00#\x00if")
	f.Add("x\x00${HOST:-0.0.0.0}:$PORT\x00$PS$PS")
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		r := Render(Words(args), 5000)
		cmds := Split(r.Line)
		if len(cmds) != 1 || len(cmds[0].Words) != len(args) {
			t.Fatalf("Render(%q) = %s, which Split reads as %q", args, r.Line, show(cmds))
		}
		rewritten := map[string]bool{}
		for _, rw := range r.Rewrites {
			rewritten[rw.Was] = true
		}
		for i, w := range cmds[0].Words {
			if strings.Contains(args[i], "$") || rewritten[args[i]] {
				continue
			}
			if v, ok := w.Literal(); !ok || v != args[i] {
				t.Fatalf("Render(%q) = %s: word %d reads back as %q (literal %v)", args, r.Line, i, v, ok)
			}
		}
	})
}
