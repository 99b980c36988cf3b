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

// escape has a bit set for each byte that is escaped: the controls and
// the space (0x00-0x20), '"' (0x22), '\\' (0x5C), DEL and every byte past
// ASCII (0x7F-0xFF). Constants rather than a table built by an init
// function, which every corral start would run before the edge binds
// the port; a lookup costs the same.
var escape = [4]uint64{
	0x00000005_FFFFFFFF, // 0x00-0x3F: 0x00-0x20 and 0x22
	0x80000000_10000000, // 0x40-0x7F: 0x5C and 0x7F
	^uint64(0),          // 0x80-0xBF
	^uint64(0),          // 0xC0-0xFF
}

// escaped says whether c is escaped.
func escaped(c byte) bool { return escape[c>>6]&(1<<(c&63)) != 0 }

// String returns s escaped; s itself, with no allocation, when nothing
// in it needs escaping (the common case).
func String(s string) string {
	for i := 0; i < len(s); i++ {
		if escaped(s[i]) {
			return string(Append(make([]byte, 0, len(s)+12), s))
		}
	}
	return s
}

// Append appends s escaped to dst.
func Append(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; escaped(c) {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xF])
			start = i + 1
		}
	}
	return append(dst, s[start:]...)
}
