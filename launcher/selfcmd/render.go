package selfcmd

import (
	"slices"
	"strconv"
	"strings"
)

// InstanceVars are the variables corral sets for each web instance, whose
// values the shell that started corral could not know. A reference to one
// that reaches corral unexpanded, because it was quoted for the platform's
// shell ('$PORT', \$PORT), is left for each instance's shell to expand:
// that is what the quotes were for. Any other $ stays a plain character.
var InstanceVars = []string{"PORT", "HOST", "PS", "WEB_CONCURRENCY"}

// Rewrite is a change Render made to a word: the public port, which the
// platform's shell put where the command said $PORT, given back to each
// instance as its own $PORT.
type Rewrite struct {
	Was, Now string // the word before and after: "0.0.0.0:5000", "0.0.0.0:$PORT"
	// Flag is the option the word is the value of ("--bind"); "" for an
	// address that stands alone (runserver 0.0.0.0:5000).
	Flag string
}

// Rendered is a command Render made.
type Rendered struct {
	Line     string    // a shell command that runs the words
	Rewrites []Rewrite // where the public port became $PORT
	// Unsure are the words that hold the public port and were left as
	// they are, not being an address Render knows (--timeout 5000 is
	// not): if the instance binds that port, which the edge holds, it
	// fails with "address in use".
	Unsure []string
}

// Render returns the shell command that runs words, each one as the shell
// that read them made it, for the shell that runs each web instance: the
// command given after "corral start --". A literal word is quoted so that
// sh -c sees exactly it; an expansion the shell would have made ($VAR,
// $(…), a glob) is kept as written, to be made in the instance. Where
// the public port (publicPort, 0 for none) is a listening address or port
// the command is given (--bind 0.0.0.0:5000, -p 5000, 0.0.0.0:5000), the
// platform's shell expanded $PORT before corral saw it, and the instance
// would try to bind the port the edge holds: Render writes $PORT there,
// and says so in Rewrites.
func Render(words []Word, publicPort int) Rendered {
	var r Rendered
	port := ""
	if publicPort > 0 {
		port = strconv.Itoa(publicPort)
	}
	out := make([]string, len(words))
	for i, w := range words {
		v, lit := w.Literal()
		if lit && port != "" {
			flag := ""
			if i > 0 {
				flag, _ = words[i-1].Literal()
			}
			if rw, ok := rewrite(v, flag, port); ok {
				r.Rewrites = append(r.Rewrites, rw)
				out[i] = rw.Now
				continue
			}
			if holdsNumber(v, port) && mayListen(v, flag) {
				r.Unsure = append(r.Unsure, v)
			}
		}
		out[i] = renderWord(w, i == 0)
	}
	r.Line = strings.Join(out, " ")
	return r
}

// PortWords returns the words of line, a shell command, that name port,
// or may, as where to listen: those Render would rewrite or call unsure.
func PortWords(line string, port int) []string {
	var words []string
	for _, c := range Split(line) {
		r := Render(c.Words, port)
		for _, rw := range r.Rewrites {
			words = append(words, rw.Was)
		}
		words = append(words, r.Unsure...)
	}
	return words
}

// Words makes a literal word of each arg: the words a shell gave corral.
func Words(args []string) []Word {
	words := make([]Word, len(args))
	for i, a := range args {
		words[i] = Word{Src: a, Parts: []Part{{Text: a}}}
	}
	return words
}

// renderWord writes w for the shell: expansions as they were written,
// literal text quoted where it needs to be, with references to
// InstanceVars left to expand.
func renderWord(w Word, first bool) string {
	var b strings.Builder
	for i, p := range w.Parts {
		if p.Expand {
			b.WriteString(p.Text)
			continue
		}
		for j, seg := range splitRefs(p.Text) {
			if seg.Expand {
				b.WriteString(seg.Text)
				continue
			}
			// After $NAME, a name character would lengthen the name.
			glued := b.Len() > 0 && endsWithName(b.String()) && isNameChar(seg.Text[0])
			b.WriteString(quote(seg.Text, first && i == 0 && j == 0, glued))
		}
	}
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}

// quote writes s so that the shell reads it as it is: bare when every
// character is plain, else in single quotes. The first word of a command
// is quoted too when the shell would read it as an assignment or a
// keyword; force quotes it anyway.
func quote(s string, first, force bool) string {
	bare := s != "" && !force && strings.IndexFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_@%+=:,./-", r))
	}) < 0
	if first && (strings.Contains(s, "=") || slices.Contains(keywords, s)) {
		bare = false
	}
	if bare {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// keywords are the shell's reserved words, which it reads as syntax at a
// command's start.
var keywords = []string{"!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if", "in", "select", "then", "time", "until", "while", "[[", "]]"}

// endsWithName reports whether s ends with $NAME, which a name character
// after it would continue.
func endsWithName(s string) bool {
	i := len(s)
	for i > 0 && isNameChar(s[i-1]) {
		i--
	}
	return i > 0 && i < len(s) && s[i-1] == '$' && isNameStart(s[i])
}

// splitRefs splits literal text into plain text and the references to
// InstanceVars in it: $PORT, ${PORT}, ${HOST:-0.0.0.0} (a default of
// plain characters only, which expands the same unquoted).
func splitRefs(s string) []Part {
	var parts []Part
	plain := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			continue
		}
		if n := instanceRef(s[i:]); n > 0 {
			if plain < i {
				parts = append(parts, Part{Text: s[plain:i]})
			}
			parts = append(parts, Part{Text: s[i : i+n], Expand: true})
			i += n - 1
			plain = i + 1
		}
	}
	if plain < len(s) || len(parts) == 0 {
		parts = append(parts, Part{Text: s[plain:]})
	}
	return parts
}

// instanceRef is the length of the reference to one of InstanceVars that
// starts s, or 0.
func instanceRef(s string) int {
	if strings.HasPrefix(s, "${") {
		end := strings.IndexByte(s, '}')
		if end < 0 {
			return 0
		}
		name, dflt := s[2:end], ""
		if i := strings.IndexByte(name, '-'); i >= 0 {
			name, dflt = strings.TrimSuffix(name[:i], ":"), name[i+1:]
		}
		if !slices.Contains(InstanceVars, name) || strings.IndexFunc(dflt, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_@%+=:,./-", r))
		}) >= 0 {
			return 0
		}
		return end + 1
	}
	n := expansionLen(s)
	if n < 2 || !isNameStart(s[1]) || !slices.Contains(InstanceVars, s[1:n]) {
		return 0
	}
	return n
}

// portFlags are options whose value is where a server listens: gunicorn's
// and hypercorn's --bind/-b, uvicorn's, Rails', Next's and Flask's
// --port/-p, waitress' --listen, uWSGI's --http, Go programs' -addr.
var portFlags = []string{
	"--bind", "-b", "-bind", "--port", "-p", "-port", "--listen", "-listen",
	"--http", "-http", "--http-socket", "--addr", "-addr", "--address", "-address",
}

func isPortFlag(v string) bool { return slices.Contains(portFlags, v) }

// mayListen reports whether v, a word after the word before, might say
// where to listen, when it holds the public port: a word of its own
// (python -m http.server 5000) or a short option with its value glued on
// (-l5000), but not the value of another option (--timeout 5000,
// --workers=5000), nor a path or a URL (redis://cache:5000).
func mayListen(v, before string) bool {
	if strings.Contains(v, "/") {
		return false // a path, another host's URL
	}
	if strings.HasPrefix(v, "-") {
		return !strings.HasPrefix(v, "--") && !strings.Contains(v, "=")
	}
	return !strings.HasPrefix(before, "-")
}

// rewrite returns the rewrite of v, a literal word after flag (the word
// before it), when v gives the public port, port, as where to listen: the
// value of a port flag (-p 5000, --bind host:5000, --port=5000), or an
// address of one's own on a wildcard or loopback host (0.0.0.0:5000).
func rewrite(v, flag, port string) (Rewrite, bool) {
	if glued := v[:min(2, len(v))]; (glued == "-b" || glued == "-p") && len(v) > 2 && v[2] != '=' {
		// -b0.0.0.0:5000, -p5000: a short option with its value glued on
		if prefix, ok := listenAt(v[2:], port, true); ok {
			return Rewrite{Was: v, Now: portRef(glued + prefix), Flag: glued}, true
		}
		return Rewrite{}, false
	}
	if name, val, ok := strings.Cut(v, "="); ok && isPortFlag(name) && strings.HasPrefix(name, "-") {
		if prefix, ok := listenAt(val, port, true); ok {
			return Rewrite{Was: v, Now: portRef(name + "=" + prefix), Flag: name}, true
		}
		return Rewrite{}, false
	}
	if isPortFlag(flag) {
		if prefix, ok := listenAt(v, port, true); ok {
			return Rewrite{Was: v, Now: portRef(prefix), Flag: flag}, true
		}
		return Rewrite{}, false
	}
	if prefix, ok := listenAt(v, port, false); ok && prefix != "" {
		return Rewrite{Was: v, Now: portRef(prefix)}, true
	}
	return Rewrite{}, false
}

// portRef is the shell word prefix$PORT.
func portRef(prefix string) string {
	if prefix == "" {
		return "$PORT"
	}
	return quote(prefix, false, false) + "$PORT"
}

// listenAt reports whether v is an address (or a bare port, when anyHost)
// with port port, and returns what comes before the port. With anyHost
// the host may be any name or address; without, only one that means
// "listen here": empty, *, 0.0.0.0, ::, 127.0.0.1, ::1, localhost.
func listenAt(v, port string, anyHost bool) (prefix string, ok bool) {
	if v == port {
		return "", anyHost
	}
	host, found := strings.CutSuffix(v, ":"+port)
	if !found {
		return "", false
	}
	prefix = host + ":"
	for _, scheme := range []string{"tcp://", "http://"} {
		host = strings.TrimPrefix(host, scheme)
	}
	switch host {
	case "", "*", "0.0.0.0", "[::]", "::", "127.0.0.1", "[::1]", "localhost":
		return prefix, true
	}
	if !anyHost || host == "" {
		return "", false
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	ok = strings.IndexFunc(host, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(".-_:%", r))
	}) < 0
	return prefix, ok
}

// holdsNumber reports whether v holds n as a whole number, not as a part
// of a longer one (15000, 5000.5 do not hold 5000).
func holdsNumber(v, n string) bool {
	for i := 0; ; {
		j := strings.Index(v[i:], n)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(n)
		before := j == 0 || !isDigitOrDot(v[j-1])
		after := end == len(v) || !isDigitOrDot(v[end])
		if before && after {
			return true
		}
		i = j + 1
	}
}

func isDigitOrDot(c byte) bool { return '0' <= c && c <= '9' || c == '.' }
