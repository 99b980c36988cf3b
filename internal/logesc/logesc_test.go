package logesc

import (
	"strconv"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"/a/b?c=d&e=%0a", "/a/b?c=d&e=%0a"},
		{"/x\r\ncorral | web.1 is ready", `/x\x0D\x0Acorral\x20|\x20web.1\x20is\x20ready`},
		{"\x1b[2J\x1b]0;title\x07", `\x1B[2J\x1B]0;title\x07`},
		{"\x00\t\x7f", `\x00\x09\x7F`},
		{`"quoted" \x41`, `\x22quoted\x22\x20\x5Cx41`},
		{"caf\xc3\xa9 \xff", `caf\xC3\xA9\x20\xFF`},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	plain := "/articles/2024/fast-parsers?ref=home&page=2"
	if n := testing.AllocsPerRun(100, func() { String(plain) }); n != 0 {
		t.Errorf("%v allocations for a string with nothing to escape", n)
	}
}

// TestEveryByte checks the escape bitmask against the rule, byte by byte.
func TestEveryByte(t *testing.T) {
	for c := range 256 {
		want := c <= ' ' || c >= 0x7f || c == '"' || c == '\\'
		if got := escaped(byte(c)); got != want {
			t.Errorf("escaped(%#02x) = %v, want %v", c, got, want)
		}
	}
}

// FuzzString: whatever the input, the escaped form has only printable
// ASCII but space, '"' and '\\' outside escapes, and reads back to the
// input.
func FuzzString(f *testing.F) {
	for _, s := range []string{"/", "/x\r\n\x1b[0m", "caf\xc3\xa9\xff", `\x41"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := String(s)
		var back strings.Builder
		for i := 0; i < len(e); i++ {
			c := e[i]
			if c <= ' ' || c >= 0x7f || c == '"' {
				t.Fatalf("%q escaped to %q: byte %#x left raw", s, e, c)
			}
			if c != '\\' {
				back.WriteByte(c)
				continue
			}
			if i+4 > len(e) || e[i+1] != 'x' {
				t.Fatalf("%q escaped to %q: a lone backslash at %d", s, e, i)
			}
			v, err := strconv.ParseUint(e[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("%q escaped to %q: %v", s, e, err)
			}
			back.WriteByte(byte(v))
			i += 3
		}
		if back.String() != s {
			t.Fatalf("%q escaped to %q reads back as %q", s, e, back.String())
		}
	})
}
