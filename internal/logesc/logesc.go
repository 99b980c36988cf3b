// Package logesc makes text a client chose safe to put in a log line, the
// way nginx escapes the variables of its access log: every byte a
// terminal or a log parser could misread — control characters (CR, LF,
// ESC…), DEL, '"', '\\', and every byte past ASCII — becomes \xHH, so a
// request target can neither end the line, forge another, colour or
// retitle the terminal, nor break a quoted field. A space becomes \x20
// too (nginx leaves it, inside quotes): corral's text lines are not
// quoted, and a target has no space on the wire. The escaping is
// reversible: a backslash is itself escaped.
package logesc

// hex is nginx's digits: upper case.
const hex = "0123456789ABCDEF"

// escape says which bytes are escaped.
var escape = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c <= ' ' || c >= 0x7f || c == '"' || c == '\\'
	}
	return t
}()

// String returns s escaped; s itself, with no allocation, when nothing
// in it needs escaping (the common case).
func String(s string) string {
	for i := 0; i < len(s); i++ {
		if escape[s[i]] {
			return string(Append(make([]byte, 0, len(s)+12), s))
		}
	}
	return s
}

// Append appends s escaped to dst.
func Append(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; escape[c] {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xF])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}
