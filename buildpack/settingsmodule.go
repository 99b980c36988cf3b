package buildpack

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// settingsModuleDefault finds the settings module that a manage.py, wsgi.py
// or asgi.py falls back to, the second argument of the first
//
//	os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
//
// in src. It reads Python's tokens rather than matching text, so a call in a
// comment or a docstring does not count, quotes may be single, double or
// triple, and spaces, newlines and a trailing comma may sit anywhere between
// the tokens. Only a plain string literal naming a dotted module counts: a
// name built at run time (an f-string, a variable) cannot be known here.
func settingsModuleDefault(src string) (string, bool) {
	for _, stmt := range pyStatements(src) {
		toks := stmt.toks
		for i := 0; i+7 < len(toks); i++ {
			if !toks[i].is(tokName, "environ") || !toks[i+1].is(tokOp, ".") ||
				!toks[i+2].is(tokName, "setdefault") || !toks[i+3].is(tokOp, "(") ||
				!toks[i+4].isPlainString("DJANGO_SETTINGS_MODULE") || !toks[i+5].is(tokOp, ",") {
				continue
			}
			value := toks[i+6]
			closed := toks[i+7].is(tokOp, ")") ||
				(toks[i+7].is(tokOp, ",") && i+8 < len(toks) && toks[i+8].is(tokOp, ")"))
			if value.kind == tokString && value.plain && closed && validModule(value.text) {
				return value.text, true
			}
		}
	}
	return "", false
}

// validModule reports whether s is a dotted Python module name, so that
// nothing else is handed to Python as one.
func validModule(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if part == "" {
			return false
		}
		for i, r := range part {
			if r != '_' && !unicode.IsLetter(r) && (i == 0 || !unicode.IsDigit(r)) {
				return false
			}
		}
	}
	return true
}
