package selfcmd

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/corral-run/corral/internal/environ"
)

// Binary is the running corral, as commands may name it.
type Binary struct {
	// Path is the running binary (os.Executable); "" to recognise corral
	// by its name only.
	Path string
	// Dir is where a relative path in a command starts: the app
	// directory, where the commands run.
	Dir string
	// Env is the environment the commands run with: a name without a
	// slash is looked up in its PATH, as the shell would.
	Env []string
}

// Call is corral, found in a shell command.
type Call struct {
	Program string // the word that names it, as written
	Form    string // how it was recognised as corral, for people: forms' names
	// Sub is its subcommand ("start"), "" when it has none, and the word
	// as written when the shell would expand it ($CMD).
	Sub string
	// Args are the words after the subcommand, up to "--" if there is
	// one; Command are those after "--" (corral start -- CMD…), and
	// Dashes says there was a "--".
	Args, Command []Word
	Dashes        bool
	// Own is true when the call is the whole of the command it was found
	// in: the line's only simple command, run as it is (perhaps with
	// exec or variables in front). A platform that runs such a line runs
	// that corral and nothing else.
	Own bool
	// Where says where in the command corral was found, when not Own:
	// "after bin/setup &&", "in sh -c's script", "after corral start --".
	Where string
}

// Starts reports whether the call runs corral start, which runs a
// Procfile's processes: the one subcommand that could run itself.
func (c Call) Starts() bool { return c.Sub == "start" }

// form is a way a program word can name corral.
type form struct {
	name string
	is   func(word string, b Binary) bool
}

// forms are the ways a program word can name corral, tried in order. A
// form corral ships later (a launcher script of its own, say) is a row
// here; a program that runs another one named in its arguments is a row
// of wrappers.
var forms = []form{
	// corral on the PATH, bin/corral, node_modules/.bin/corral, a
	// virtualenv's bin/corral: the binary itself or a launcher of it.
	{"named corral", func(w string, _ Binary) bool { return path.Base(w) == "corral" }},
	// A copy or link by another name (./corral-linux-amd64), found as
	// the shell would find it.
	{"the running corral binary", func(w string, b Binary) bool { return b.same(w) }},
}

// wrapper is a program that runs another one, named in its arguments:
// `exec corral start`, `env A=1 corral start`, `npx corral start`.
type wrapper struct {
	name string
	sub  string // the subcommand that runs the program (bundle exec); "" when none
	// valued are its options that take the next word as their value.
	valued []string
	// operands is how many words of its own come after its options
	// (timeout's duration).
	operands int
	// assigns says NAME=value words may come before the program (env).
	assigns bool
}

// wrappers are the programs, builtins and keywords Find looks through.
var wrappers = []wrapper{
	{name: "exec", valued: []string{"-a"}},
	{name: "command"},
	{name: "builtin"},
	{name: "env", valued: []string{"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}, assigns: true},
	{name: "nice", valued: []string{"-n", "--adjustment"}},
	{name: "nohup"},
	{name: "setsid"},
	{name: "stdbuf", valued: []string{"-i", "-o", "-e"}},
	{name: "time", valued: []string{"-f", "-o", "--format", "--output"}},
	{name: "timeout", valued: []string{"-s", "-k", "--signal", "--kill-after"}, operands: 1},
	{name: "tini"},
	{name: "dumb-init"},
	{name: "sudo", valued: []string{"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}, assigns: true},
	{name: "npx", valued: []string{"-p", "--package", "-c", "--call"}},
	{name: "bunx", valued: []string{"-p", "--package"}},
	{name: "pnpm", sub: "exec"},
	{name: "yarn", sub: "exec"},
	{name: "bundle", sub: "exec"},
	{name: "uv", sub: "run", valued: []string{"--with", "--python", "-p", "--project", "--directory", "--env-file", "--group", "--extra"}},
	{name: "poetry", sub: "run"},
	{name: "pipenv", sub: "run"},
	// Shell keywords that may come before a command: they run what follows.
	{name: "!"}, {name: "{"}, {name: "if"}, {name: "then"}, {name: "else"}, {name: "elif"},
	{name: "while"}, {name: "until"}, {name: "do"},
}

// shells run a script given with -c, which Find reads too.
var shells = []string{"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"}

// Find returns every call of corral in line, a shell command: in each of
// its simple commands, through the wrappers, and inside the scripts of
// sh -c, eval and corral start's own "--". A word the shell would expand
// ($CORRAL start) is not seen: corral guards against what Find cannot
// see when it starts (a process it started may not start it again).
func Find(line string, b Binary) []Call {
	return find(line, b, "", 0)
}

// maxDepth bounds how deep Find reads scripts inside scripts.
const maxDepth = 4

// find is Find for a script found where (for Call.Where), depth scripts
// deep.
func find(line string, b Binary, where string, depth int) []Call {
	if depth > maxDepth {
		return nil
	}
	cmds := Split(line)
	var calls []Call
	for i, cmd := range cmds {
		w := where
		if w == "" && i > 0 {
			w = "after " + cmds[i-1].Words[0].Src + " " + cmds[i-1].Op
			if len(cmds[i-1].Words) > 1 {
				w = "after " + cmds[i-1].Words[0].Src + " … " + cmds[i-1].Op
			}
		}
		// corral start & or corral start | tee: the shell, not corral, is
		// what the platform runs.
		own := where == "" && len(cmds) == 1 && (cmd.Op == "" || cmd.Op == ";")
		calls = append(calls, findIn(cmd.Words, b, own, w, depth)...)
	}
	return calls
}

// findIn looks for corral in one simple command's words.
func findIn(words []Word, b Binary, own bool, where string, depth int) []Call {
	words = skipAssignments(words)
	for len(words) > 0 {
		v, ok := words[0].Literal()
		if !ok {
			return nil // $PROGRAM: what it is is known only when it runs
		}
		if f, ok := formOf(v, b); ok {
			c := corralCall(words, f, own, where)
			if !c.Starts() || !c.Dashes {
				return []Call{c}
			}
			// corral start -- CMD runs CMD, which must not be corral start.
			return append([]Call{c}, findIn(c.Command, b, false, "after corral start --", depth+1)...)
		}
		if wr, ok := wrapperOf(v); ok {
			words = wr.skip(words[1:])
			continue
		}
		if script, what, ok := scriptOf(v, words[1:]); ok {
			in := "in " + what + "'s script"
			if where != "" {
				in += ", " + where
			}
			return find(script, b, in, depth+1)
		}
		return nil
	}
	return nil
}

// corralCall is the Call of words, which start with corral's name, and
// of whatever the command after its "--" runs.
func corralCall(words []Word, f form, own bool, where string) Call {
	c := Call{Program: words[0].Src, Form: f.name, Own: own, Where: where}
	rest := words[1:]
	if len(rest) > 0 {
		if v, ok := rest[0].Literal(); ok {
			c.Sub = v
		} else {
			c.Sub = rest[0].Src
		}
		rest = rest[1:]
	}
	for i, w := range rest {
		if w.Src == "--" {
			c.Args, c.Command, c.Dashes = rest[:i], rest[i+1:], true
			return c
		}
	}
	c.Args = rest
	return c
}

// FindCommand is Find for the command corral start runs after "--",
// given as words.
func FindCommand(words []Word, b Binary) []Call {
	return findIn(words, b, false, "after corral start --", 1)
}

// formOf returns the form by which word names corral, if it does.
func formOf(word string, b Binary) (form, bool) {
	for _, f := range forms {
		if f.is(word, b) {
			return f, true
		}
	}
	return form{}, false
}

// wrapperOf returns the wrapper named word, by its name on the PATH or
// its path (/usr/bin/env).
func wrapperOf(word string) (wrapper, bool) {
	i := slices.IndexFunc(wrappers, func(w wrapper) bool {
		return w.name == word || strings.Contains(word, "/") && w.name == path.Base(word)
	})
	if i < 0 {
		return wrapper{}, false
	}
	return wrappers[i], true
}

// skip returns the words after the wrapper's own: its subcommand,
// options, operands and assignments. A wrapper with a subcommand that
// is not it (yarn install) runs nothing: no words are left.
func (w wrapper) skip(words []Word) []Word {
	if w.sub != "" {
		if len(words) == 0 || words[0].Src != w.sub {
			return nil
		}
		words = words[1:]
	}
	for len(words) > 0 {
		v := words[0].Src
		switch {
		case v == "--":
			return skipOperands(words[1:], w.operands)
		case strings.HasPrefix(v, "-") && len(v) > 1:
			words = words[1:]
			if slices.Contains(w.valued, v) && len(words) > 0 {
				words = words[1:]
			}
		case w.assigns && isAssignment(words[0]):
			words = words[1:]
		default:
			return skipOperands(words, w.operands)
		}
	}
	return nil
}

func skipOperands(words []Word, n int) []Word {
	if n > len(words) {
		return nil
	}
	return words[n:]
}

// scriptOf returns the script a shell runs with -c (sh -c 'corral start'),
// or eval runs, when it is literal, and what runs it.
func scriptOf(program string, args []Word) (script, what string, ok bool) {
	if program == "eval" {
		parts := make([]string, len(args))
		for i, a := range args {
			if parts[i], ok = a.Literal(); !ok {
				return "", "", false
			}
		}
		return strings.Join(parts, " "), "eval", len(args) > 0
	}
	if !slices.Contains(shells, path.Base(program)) {
		return "", "", false
	}
	dashC := false
	for _, a := range args {
		v, lit := a.Literal()
		switch {
		case !lit:
			return "", "", false
		case strings.HasPrefix(v, "--"):
			// --login, --norc…: long options take no value here
		case (strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+")) && len(v) > 1:
			dashC = dashC || strings.Contains(v, "c")
		case dashC:
			return v, path.Base(program) + " -c", true
		default:
			return "", "", false // sh script.sh: a file Find does not read
		}
	}
	return "", "", false
}

// skipAssignments drops the NAME=value words in front of a command.
func skipAssignments(words []Word) []Word {
	for len(words) > 0 && isAssignment(words[0]) {
		words = words[1:]
	}
	return words
}

// isAssignment reports whether w is NAME=value, a variable the shell
// sets for the command that follows.
func isAssignment(w Word) bool {
	if len(w.Parts) == 0 || w.Parts[0].Expand {
		return false
	}
	name, _, ok := strings.Cut(w.Parts[0].Text, "=")
	if !ok || name == "" || !isNameStart(name[0]) || !strings.HasPrefix(w.Src, name+"=") {
		return false
	}
	for i := range len(name) {
		if !isNameChar(name[i]) {
			return false
		}
	}
	return true
}

// same reports whether word names the running binary: a path to it, from
// b.Dir, or a name that b.Env's PATH finds it by.
func (b Binary) same(word string) bool {
	if b.Path == "" || word == "" {
		return false
	}
	p := word
	if !strings.Contains(word, "/") {
		var err error
		if p, err = environ.LookPath(word, b.Env); err != nil {
			return false
		}
	} else if !filepath.IsAbs(p) {
		p = filepath.Join(b.Dir, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	self, err := os.Stat(b.Path)
	return err == nil && os.SameFile(fi, self)
}

// Src is words as written, joined by spaces: what a message quotes.
func Src(words []Word) string {
	s := make([]string, len(words))
	for i, w := range words {
		s[i] = w.Src
	}
	return strings.Join(s, " ")
}
