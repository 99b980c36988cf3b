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
	toks := tokenize(src)
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

type tokKind uint8

const (
	tokName   tokKind = iota + 1 // an identifier or keyword
	tokString                    // a string literal
	tokOp                        // one punctuation byte
	tokOther                     // a number
)

// token is one Python token, as far as settingsModuleDefault needs them.
type token struct {
	kind tokKind
	text string // a name, an operator byte, a number, or a string's contents
	// plain marks a string literal whose text is its value: closed, with
	// no escapes and no prefix that changes the value (b, f, t).
	plain bool
}

func (t token) is(kind tokKind, text string) bool { return t.kind == kind && t.text == text }

func (t token) isPlainString(value string) bool {
	return t.kind == tokString && t.plain && t.text == value
}

// tokenize splits Python source into the tokens settingsModuleDefault looks
// at, dropping comments and whitespace. It never fails: anything it does not
// know becomes a one-byte operator, and an unclosed string ends the input's
// line (or the input, for a triple-quoted one), as Python's tokenizer would
// report it.
func tokenize(src string) []token {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '#':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '\\':
			i++ // a backslash outside a string can only continue a line
		case c == '\'' || c == '"':
			t, n := scanString(src[i:], "")
			toks = append(toks, t)
			i += n
		case isNameByte(c) && !isDigit(c):
			j := i + 1
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && isStringPrefix(src[i:j]) {
				t, n := scanString(src[j:], src[i:j])
				toks = append(toks, t)
				i = j + n
				continue
			}
			toks = append(toks, token{kind: tokName, text: src[i:j]})
			i = j
		case isDigit(c):
			j := i + 1
			for j < len(src) && (isNameByte(src[j]) || src[j] == '.') {
				j++
			}
			toks = append(toks, token{kind: tokOther, text: src[i:j]})
			i = j
		default:
			toks = append(toks, token{kind: tokOp, text: src[i : i+1]})
			i++
		}
	}
	return toks
}

// scanString reads the string literal at the start of s (which begins with
// its opening quote) and returns it and the number of bytes it spans.
func scanString(s, prefix string) (token, int) {
	q := s[0]
	delim := 1
	if len(s) >= 3 && s[1] == q && s[2] == q {
		delim = 3
	}
	escaped := false
	for i := delim; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			escaped = true
			i++ // the next byte is escaped, a quote or a newline included
		case delim == 1 && (c == '\n' || c == '\r'):
			return token{kind: tokString, text: s[1:i]}, i // unclosed
		case c == q && (delim == 1 || (i+2 < len(s) && s[i+1] == q && s[i+2] == q)):
			p := strings.ToLower(prefix)
			return token{
				kind:  tokString,
				text:  s[delim:i],
				plain: !escaped && (p == "" || p == "r" || p == "u"),
			}, i + delim
		}
	}
	return token{kind: tokString}, len(s) // unclosed at the end of the input
}

// isStringPrefix reports whether name, written just before a quote, is a
// string prefix (r"…", b'…', f"…", rb"…", …) rather than a name.
func isStringPrefix(name string) bool {
	switch strings.ToLower(name) {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf", "t", "tr", "rt":
		return true
	}
	return false
}

// isNameByte reports whether c can be part of a name. Every non-ASCII byte
// counts, so a name in any script stays one token.
func isNameByte(c byte) bool {
	return c == '_' || c >= 0x80 || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
