package output

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is how the Mux writes its lines.
type Format int

// The formats.
const (
	// Text is foreman's: "web.1  | a line", padded, optionally coloured
	// and stamped with the time.
	Text Format = iota
	// JSON writes every line as one JSON object on a line of its own, for
	// a platform's log drain (Loki, Datadog…): the time, the source and
	// the message are fields, and there are no colours and no padding.
	JSON
)

// ParseFormat reads a format's name: text or json.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	}
	return Text, fmt.Errorf("unknown log format %q: want text or json", s)
}

// String returns the name ParseFormat reads.
func (f Format) String() string {
	if f == JSON {
		return "json"
	}
	return "text"
}

// hex is the digits of \u00XX escapes.
const hex = "0123456789abcdef"

// appendJSONString appends s as a JSON string, quotes included, exactly as
// encoding/json does with HTML escaping off: bytes that are not valid UTF-8
// become U+FFFD, control characters are escaped, and so are U+2028 and
// U+2029 (for JavaScript's sake). Written out, not encoding/json's
// reflection, because it runs for every line and every access-log field;
// TestAppendJSONString and FuzzAppendJSONString hold it to encoding/json.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Most of a log is plain ASCII: skip it eight bytes at a time.
		for i+8 <= len(s) {
			w := s[i : i+8]
			if !plain8(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
				uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56) {
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		// At most 4 bytes converted: a string that small stays on the
		// stack, so a []byte costs no allocation either.
		c, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain8 reports whether the eight bytes of x are all ASCII that a JSON
// string holds as is: none is a control character, '"', '\\' or above
// 0x7f. It tests them at once (the "has a byte less than n" and "has a
// zero byte" tricks of Bit Twiddling Hacks).
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := x^(ones*'"'), x^(ones*'\\')
	control := (x - ones*0x20) &^ x
	return (control|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&highs == 0
}

// typeOf is the process type of an instance's name, "TYPE.N" (web.1 is a
// web), as the launcher names them and a Procfile's type names (letters,
// digits, _ and -) cannot be confused with; "" for a name that is no
// instance's (edge, corral).
func typeOf(name string) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || i == len(name)-1 {
		return ""
	}
	for _, c := range name[i+1:] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return name[:i]
}
