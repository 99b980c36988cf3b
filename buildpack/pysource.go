package buildpack

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pyTok is a Python token and where it sits in its file, so that what the
// detector reads can be pointed at by line.
type pyTok struct {
	token
	off, end int // byte offsets of the token in the source
	line     int // 1-based line of the token's first byte
	col      int // 0-based byte column of the token's first byte
}

// pyStmt is one simple statement of a Python file: the tokens from the start
// of a logical line (or a ";") to its end. Compound statements are not
// taken apart: "if x: y = 1" is one statement that starts with "if".
type pyStmt struct {
	toks []pyTok // never empty
	// top marks a statement of a logical line at column 0: it runs when the
	// module is imported, not inside a function, class or if.
	top bool
}

// line is the line the statement starts on.
func (s pyStmt) line() int { return s.toks[0].line }

// pyStatements splits Python source into simple statements, the way
// Python's tokenizer delimits logical lines: a newline inside brackets or
// after a backslash continues the line, strings and comments hide what they
// hold. It never fails: source Python would reject still gives statements,
// which is all a detector that never runs the code can ask for.
func pyStatements(src string) []pyStmt {
	var (
		stmts     []pyStmt
		cur       []pyTok
		depth     int    // bracket nesting
		logical   = true // the next token starts a logical line
		top       bool
		line      = 1
		lineStart int
	)
	// lines counts the line ends in src[from:to]: \n, \r\n and a lone \r,
	// as Python does.
	lines := func(from, to int) {
		for j := from; j < to; j++ {
			if src[j] == '\n' || (src[j] == '\r' && (j+1 >= len(src) || src[j+1] != '\n')) {
				line++
				lineStart = j + 1
			}
		}
	}
	flush := func() {
		if len(cur) > 0 {
			stmts = append(stmts, pyStmt{toks: cur, top: top})
			cur = nil
		}
	}
	add := func(t token, off, end int) {
		pt := pyTok{token: t, off: off, end: end, line: line, col: off - lineStart}
		if logical {
			top, logical = pt.col == 0, false
		}
		cur = append(cur, pt)
		lines(off, end)
	}
	i := 0
	if strings.HasPrefix(src, "\ufeff") {
		i, lineStart = 3, 3
	}
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n' || c == '\r':
			lines(i, i+1)
			i++
			if depth == 0 {
				flush()
				logical = true
			}
		case c == '\\' && i+1 < len(src) && (src[i+1] == '\n' || src[i+1] == '\r'):
			n := 2
			if src[i+1] == '\r' && i+2 < len(src) && src[i+2] == '\n' {
				n = 3
			}
			lines(i, i+n)
			i += n
		case c == '#':
			for i < len(src) && src[i] != '\n' && src[i] != '\r' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\\':
			i++
		case c == '\'' || c == '"':
			t, n := scanString(src[i:], "")
			add(t, i, i+n)
			i += n
		case isNameByte(c) && !isDigit(c):
			j := i + 1
			for j < len(src) && isNameByte(src[j]) {
				j++
			}
			if j < len(src) && (src[j] == '\'' || src[j] == '"') && isStringPrefix(src[i:j]) {
				t, n := scanString(src[j:], src[i:j])
				add(t, i, j+n)
				i = j + n
				continue
			}
			add(token{kind: tokName, text: src[i:j]}, i, j)
			i = j
		case isDigit(c):
			j := i + 1
			for j < len(src) && (isNameByte(src[j]) || src[j] == '.') {
				j++
			}
			add(token{kind: tokOther, text: src[i:j]}, i, j)
			i = j
		default:
			switch c {
			case '(', '[', '{':
				depth++
			case ')', ']', '}':
				if depth > 0 {
					depth--
				}
			}
			if c == ';' && depth == 0 {
				flush()
				i++
				continue
			}
			add(token{kind: tokOp, text: src[i : i+1]}, i, i+1)
			i++
		}
	}
	flush()
	return stmts
}

// pyKeywords are the names that start a statement that assigns nothing.
const pyKeywords = " and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case type "

// isPyKeyword reports whether name is a keyword (soft ones included: a
// "match x:" or "type X = int" statement is no assignment to match or type).
func isPyKeyword(name string) bool {
	return strings.Contains(pyKeywords, " "+name+" ")
}

// assignment returns the name and the value of a statement "NAME = value"
// or "NAME: annotation = value"; ok is false for anything else ("==",
// "+=", "a.b = c", "a[k] = v", "a = b = c" gives value "b = c").
func (s pyStmt) assignment() (name string, value []pyTok, ok bool) {
	t := s.toks
	if len(t) < 3 || t[0].kind != tokName || isPyKeyword(t[0].text) || !validModule(t[0].text) {
		return "", nil, false // validModule: bytes that are no UTF-8 make no name
	}
	i := 1
	if t[1].is(tokOp, ":") {
		depth := 0
		for i = 2; i < len(t); i++ {
			switch {
			case t[i].kind == tokOp && strings.Contains("([{", t[i].text):
				depth++
			case t[i].kind == tokOp && strings.Contains(")]}", t[i].text):
				depth--
			}
			if depth == 0 && t[i].is(tokOp, "=") && !(adjacentOps(t[i-1], t[i]) && strings.Contains("=<>!:", t[i-1].text)) {
				break
			}
		}
		if i >= len(t) {
			return "", nil, false
		}
	}
	if !t[i].is(tokOp, "=") || i+1 >= len(t) || (adjacentOps(t[i], t[i+1]) && t[i+1].text == "=") {
		return "", nil, false
	}
	return t[0].text, t[i+1:], true
}

// adjacentOps reports whether a and b are operator bytes written with
// nothing between them, so "=" then "=" is "==", not an assignment.
func adjacentOps(a, b pyTok) bool {
	return a.kind == tokOp && b.kind == tokOp && a.end == b.off
}

// imports returns the modules an import statement names: "import a.b as c,
// d" gives a.b and d, "from ..a import x" gives "..a", and star reports a
// "from m import *".
func (s pyStmt) imports() (mods []string, star bool) {
	t := s.toks
	switch {
	case t[0].is(tokName, "import"):
		for i := 1; i < len(t); {
			mod, n := dottedName(t[i:])
			if n == 0 {
				break
			}
			mods = append(mods, mod)
			i += n
			if i+1 < len(t) && t[i].is(tokName, "as") {
				i += 2
			}
			if i >= len(t) || !t[i].is(tokOp, ",") {
				break
			}
			i++
		}
	case t[0].is(tokName, "from"):
		i := 1
		for i < len(t) && t[i].is(tokOp, ".") {
			i++
		}
		dots := strings.Repeat(".", i-1)
		mod, n := dottedName(t[i:])
		i += n
		if (dots == "" && n == 0) || i >= len(t) || !t[i].is(tokName, "import") {
			return nil, false
		}
		mods = append(mods, dots+mod)
		star = i+1 < len(t) && t[i+1].is(tokOp, "*")
	}
	return mods, star
}

// dottedName reads "a.b.c" at the start of t, returning it and how many
// tokens it spans (0 when t does not start with a name).
func dottedName(t []pyTok) (string, int) {
	if len(t) == 0 || t[0].kind != tokName || isPyKeyword(t[0].text) {
		return "", 0
	}
	var b strings.Builder
	b.WriteString(t[0].text)
	n := 1
	for n+1 < len(t) && t[n].is(tokOp, ".") && t[n+1].kind == tokName {
		b.WriteString(".")
		b.WriteString(t[n+1].text)
		n += 2
	}
	return b.String(), n
}

// defName returns the name a "def NAME(" or "async def NAME(" statement
// defines, or "".
func (s pyStmt) defName() string {
	t := s.toks
	if len(t) > 0 && t[0].is(tokName, "async") {
		t = t[1:]
	}
	if len(t) >= 3 && t[0].is(tokName, "def") && t[1].kind == tokName && t[2].is(tokOp, "(") {
		return t[1].text
	}
	return ""
}

// requiredParams returns the parameters of a "def NAME(…)" statement
// that a call must give: those with no default that are not *args or
// **kwargs, keyword-only ones included.
func (s pyStmt) requiredParams() []string {
	t := s.toks
	i := slices.IndexFunc(t, func(tok pyTok) bool { return tok.is(tokOp, "(") })
	if i < 0 || s.defName() == "" {
		return nil
	}
	var out []string
	depth, start := 0, i+1
	param := func(p []pyTok) {
		if len(p) == 0 || p[0].kind != tokName {
			return // "*", "/", "*args", "**kw"
		}
		for j, tok := range p {
			if tok.is(tokOp, "=") && depth == 0 && (j == 0 || !adjacentOps(p[j-1], tok)) {
				return // a default
			}
		}
		out = append(out, p[0].text)
	}
	for j := i + 1; j < len(t); j++ {
		switch {
		case t[j].kind == tokOp && strings.Contains("([{", t[j].text):
			depth++
		case t[j].is(tokOp, ")") && depth == 0:
			param(t[start:j])
			return out
		case t[j].kind == tokOp && strings.Contains(")]}", t[j].text):
			depth--
		case t[j].is(tokOp, ",") && depth == 0:
			param(t[start:j])
			start = j + 1
		}
	}
	return out
}

// pyCallee returns the dotted name a value calls when it starts with a
// call, "flask.Flask" for "flask.Flask(__name__)", or "".
func pyCallee(value []pyTok) string {
	name, n := dottedName(value)
	if n == 0 || n >= len(value) || !value[n].is(tokOp, "(") {
		return ""
	}
	return name
}

// maxSaysLen bounds the source text quoted in evidence.
const maxSaysLen = 100

// stmtSays quotes a statement for evidence: its first line as written,
// with " …" when it goes on, so a user finds it in the file at once.
func stmtSays(src string, s pyStmt) string {
	start, last := s.toks[0].off, s.toks[len(s.toks)-1].end
	lineEnd := len(src)
	if j := strings.IndexAny(src[start:], "\r\n"); j >= 0 {
		lineEnd = start + j
	}
	text := strings.TrimSpace(src[start:min(last, lineEnd)])
	more := last > lineEnd
	if len(text) > maxSaysLen {
		cut := maxSaysLen
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text, more = text[:cut], true
	}
	if more {
		text += " …"
	}
	return text
}

// pyModuleFile is the module a file is: "a/b.py" is a.b, "a/__init__.py"
// is a, and its package, for relative imports: a for both.
func pyModuleFile(file string) (module, pkg string) {
	dir, base := path.Split(strings.TrimSuffix(file, ".py"))
	dir = strings.Trim(dir, "/")
	pkg = strings.ReplaceAll(dir, "/", ".")
	if base == "__init__" {
		return pkg, pkg
	}
	if pkg == "" {
		return base, ""
	}
	return pkg + "." + base, pkg
}

// resolveImport turns a module an import names in a file of package pkg
// into an absolute module name: "..base" in a.b is a.base; ok is false for a
// relative import above the top package.
func resolveImport(mod, pkg string) (string, bool) {
	rest := strings.TrimLeft(mod, ".")
	dots := len(mod) - len(rest)
	if dots == 0 {
		return mod, true
	}
	if pkg == "" {
		return "", false // a relative import outside a package
	}
	parts := strings.Split(pkg, ".")
	if dots-1 > len(parts) {
		return "", false
	}
	parts = parts[:len(parts)-(dots-1)]
	if rest != "" {
		parts = append(parts, rest)
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, "."), true
}

// pyPath is the value of a path expression: a slash path relative to the
// app directory (which is the working directory of every process), or to
// what it is joined to when rel.
type pyPath struct {
	p string
	// rel marks a relative string, "staticfiles", which os.path.join and
	// Path's "/" append to what comes before; a path from __file__ is
	// anchored and replaces it.
	rel bool
}

// maxPathDepth bounds the nesting the path evaluator follows: brackets in
// an expression and names defined by other names.
const maxPathDepth = 16

// pathEval evaluates the few forms of path expression a Django settings
// file writes STATIC_ROOT with, without running it: string literals,
// Path(__file__).resolve().parent.parent, .parents[n], BASE_DIR / "x",
// os.path.join/dirname/abspath/realpath, str(...) and names the lookup
// knows. Anything else is not evaluable, and the caller says so.
type pathEval struct {
	file string // the file the expression is in, for __file__
	// name gives the value of a module-level name at the expression, or
	// false when it is unknown or not evaluable.
	name  func(name string, depth int) (pyPath, bool)
	depth int
	toks  []pyTok
	i     int
}

// evalPath evaluates value as a path within the app directory: a clean,
// relative slash path below it. ok is false when the expression is not of
// a known form or names a place outside the app (an absolute path, "..").
func evalPath(file string, value []pyTok, depth int, name func(string, int) (pyPath, bool)) (string, bool) {
	v, ok := evalPathValue(file, value, depth, name)
	if !ok || v.p == "." || v.p == ".." || strings.HasPrefix(v.p, "../") {
		return "", false
	}
	return v.p, true
}

// evalPathValue is evalPath without the check that the value is below the
// app directory, for a name that others build on (BASE_DIR may be its
// parent's parent, joined back down).
func evalPathValue(file string, value []pyTok, depth int, name func(string, int) (pyPath, bool)) (pyPath, bool) {
	if depth > maxPathDepth {
		return pyPath{}, false
	}
	e := &pathEval{file: file, name: name, depth: depth, toks: value}
	v, ok := e.expr(0)
	if !ok || e.i != len(e.toks) {
		return pyPath{}, false
	}
	return v, true
}

// peek reports whether the next token is text of kind.
func (e *pathEval) peek(kind tokKind, text string) bool {
	return e.i < len(e.toks) && e.toks[e.i].is(kind, text)
}

// accept moves past the next token if it is text of kind.
func (e *pathEval) accept(kind tokKind, text string) bool {
	if e.peek(kind, text) {
		e.i++
		return true
	}
	return false
}

// expr := unary ("/" unary)*
func (e *pathEval) expr(nest int) (pyPath, bool) {
	if nest > maxPathDepth {
		return pyPath{}, false
	}
	v, ok := e.unary(nest)
	for ok && e.peek(tokOp, "/") {
		if e.i+1 < len(e.toks) && adjacentOps(e.toks[e.i], e.toks[e.i+1]) && strings.Contains("/=", e.toks[e.i+1].text) {
			return pyPath{}, false // "//" or "/=": no path operator
		}
		e.i++
		var r pyPath
		if r, ok = e.unary(nest); ok {
			v, ok = joinPyPath(v, r)
		}
	}
	return v, ok
}

// unary := atom trailer*
func (e *pathEval) unary(nest int) (pyPath, bool) {
	v, ok := e.atom(nest)
	for ok && e.peek(tokOp, ".") && e.i+1 < len(e.toks) && e.toks[e.i+1].kind == tokName {
		attr := e.toks[e.i+1].text
		e.i += 2
		switch attr {
		case "parent":
			v = pyPath{p: parentPath(v.p)}
		case "parents":
			var n int
			if n, ok = e.index(); ok {
				for range n + 1 {
					v.p = parentPath(v.p)
				}
				v.rel = false
			}
		case "resolve", "absolute":
			ok = e.skipCall()
			v.rel = false
		case "joinpath":
			var args []pyPath
			if args, ok = e.args(nest); ok {
				for _, a := range args {
					if v, ok = joinPyPath(v, a); !ok {
						break
					}
				}
			}
		default:
			ok = false
		}
	}
	return v, ok
}

// index reads "[n]" with a small decimal n.
func (e *pathEval) index() (int, bool) {
	if !e.accept(tokOp, "[") || e.i >= len(e.toks) || e.toks[e.i].kind != tokOther {
		return 0, false
	}
	n, err := strconv.Atoi(e.toks[e.i].text)
	e.i++
	if err != nil || n < 0 || n > 64 || !e.accept(tokOp, "]") {
		return 0, false
	}
	return n, true
}

// skipCall reads "(…)" with anything inside: resolve(strict=True) means
// the same path.
func (e *pathEval) skipCall() bool {
	if !e.accept(tokOp, "(") {
		return false
	}
	for depth := 1; e.i < len(e.toks); e.i++ {
		switch {
		case e.toks[e.i].kind != tokOp:
		case strings.Contains("([{", e.toks[e.i].text):
			depth++
		case strings.Contains(")]}", e.toks[e.i].text):
			if depth--; depth == 0 {
				e.i++
				return true
			}
		}
	}
	return false
}

// args reads "(expr, expr, …)", a trailing comma allowed.
func (e *pathEval) args(nest int) ([]pyPath, bool) {
	if !e.accept(tokOp, "(") {
		return nil, false
	}
	var out []pyPath
	for !e.accept(tokOp, ")") {
		v, ok := e.expr(nest + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		if !e.accept(tokOp, ",") && !e.peek(tokOp, ")") {
			return nil, false
		}
	}
	return out, true
}

// atom := STRING | NAME | "(" expr ")" | a call of Path, str, os.path.*
func (e *pathEval) atom(nest int) (pyPath, bool) {
	if e.i >= len(e.toks) {
		return pyPath{}, false
	}
	t := e.toks[e.i]
	switch {
	case t.kind == tokString:
		e.i++
		if !t.plain || t.text == "" || strings.HasPrefix(t.text, "/") || strings.HasPrefix(t.text, "~") || strings.Contains(t.text, "\\") {
			return pyPath{}, false
		}
		return pyPath{p: path.Clean(t.text), rel: true}, true
	case t.is(tokOp, "("):
		e.i++
		v, ok := e.expr(nest + 1)
		if !ok || !e.accept(tokOp, ")") {
			return pyPath{}, false
		}
		return v, true
	case t.kind != tokName:
		return pyPath{}, false
	}
	fn, n := dottedName(e.toks[e.i:])
	if e.i+n < len(e.toks) && e.toks[e.i+n].is(tokOp, "(") && isPathFunc(fn) {
		e.i += n
		args, ok := e.args(nest)
		if !ok {
			return pyPath{}, false
		}
		return callPyPath(fn, args)
	}
	e.i++
	if t.text == "__file__" {
		return pyPath{p: e.file}, true
	}
	return e.name(t.text, e.depth+1)
}

// isPathFunc reports whether callPyPath knows the function fn.
func isPathFunc(fn string) bool {
	switch fn {
	case "Path", "pathlib.Path", "PurePath", "pathlib.PurePath", "str", "os.fspath",
		"os.path.join", "os.path.normpath", "os.path.abspath", "os.path.realpath", "os.path.dirname":
		return true
	}
	return false
}

// parentPath is the directory above p, which may be above the app
// directory: "." has "..".
func parentPath(p string) string {
	if p == "." || p == ".." || strings.HasSuffix(p, "/..") {
		return path.Join(p, "..")
	}
	return path.Dir(p)
}

// callPyPath applies the functions a settings file builds paths with.
func callPyPath(fn string, args []pyPath) (pyPath, bool) {
	switch fn {
	case "Path", "pathlib.Path", "PurePath", "pathlib.PurePath", "os.path.join":
		if len(args) == 0 {
			return pyPath{}, false
		}
		v := args[0]
		for _, a := range args[1:] {
			var ok bool
			if v, ok = joinPyPath(v, a); !ok {
				return pyPath{}, false
			}
		}
		return v, true
	case "str", "os.fspath", "os.path.normpath":
		if len(args) != 1 {
			return pyPath{}, false
		}
		return args[0], true
	case "os.path.abspath", "os.path.realpath":
		if len(args) != 1 {
			return pyPath{}, false
		}
		return pyPath{p: args[0].p}, true
	case "os.path.dirname":
		if len(args) != 1 {
			return pyPath{}, false
		}
		return pyPath{p: parentPath(args[0].p), rel: args[0].rel}, true
	}
	return pyPath{}, false
}

// joinPyPath is os.path.join of two paths: a relative one is appended, an
// anchored one replaces what comes before.
func joinPyPath(a, b pyPath) (pyPath, bool) {
	if !b.rel {
		return b, true
	}
	return pyPath{p: path.Join(a.p, b.p), rel: a.rel}, true
}

type tokKind uint8

const (
	tokName   tokKind = iota + 1 // an identifier or keyword
	tokString                    // a string literal
	tokOp                        // one punctuation byte
	tokOther                     // a number
)

// token is one Python token, as far as the detectors need them.
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
