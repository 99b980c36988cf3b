package systemd

import (
	"strings"
	"unicode"
)

// Writing values in a unit: systemd replaces %-specifiers (%n, %h…) in
// most settings, splits ExecStart= into words at whitespace, reads quotes
// and backslash escapes there as a shell does, takes a lone ";" word as
// the end of a command, and expands $VAR in each argument (not in the
// program's path) when it runs the command. Render refuses control
// characters before any of this, as no setting can hold them.

// specifiers escapes the % of s, which systemd would read as specifiers.
func specifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// execPath writes path, absolute and free of quotes and backslashes
// (Unit.check), as ExecStart='s program: systemd expands no variable there.
func execPath(path string) string { return word(specifiers(path)) }

// execArgs writes args as ExecStart='s arguments, each reaching the
// program as it is.
func execArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = word(strings.ReplaceAll(specifiers(a), "$", "$$"))
	}
	return strings.Join(out, " ")
}

// paths writes a list of paths, as ReadWritePaths= takes them.
func paths(ps []string) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = word(specifiers(p))
	}
	return strings.Join(out, " ")
}

// word writes s as one word of a setting systemd splits into words: bare
// when nothing in it is read as syntax, else in double quotes, where a
// backslash or a double quote is escaped.
func word(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || strings.ContainsRune(`"'\;`, r) }) < 0 {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// shellLine writes words as a command for an administrator's shell, for
// the unit's comments: bare when plain, else in single quotes.
func shellLine(words ...string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		if w == "" || strings.IndexFunc(w, func(r rune) bool {
			return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_@%+=:,./-", r))
		}) >= 0 {
			out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
