package httpcache

import "testing"

// TestParseCacheControl: the directives a shared cache acts on, in the
// spellings apps send.
func TestParseCacheControl(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"public, max-age=60"}, "public, max-age=60"},
		{[]string{"PUBLIC,MAX-AGE=60"}, "public, max-age=60"},
		{[]string{" max-age = 60 "}, "max-age=60"},
		{[]string{`max-age="60"`}, "max-age=60"},
		{[]string{`private="Set-Cookie, X-Token", max-age=60`}, "private, max-age=60"},
		{[]string{`no-cache="a\"b,c", s-maxage=5`}, "no-cache, s-maxage=5"},
		{[]string{"max-age=60", "max-age=10"}, "max-age=10"},
		{[]string{"max-age=ten"}, "max-age=0"},
		{[]string{"max-age"}, "max-age=0"},
		{[]string{"max-age=-1"}, "max-age=0"},
		{[]string{"stale-if-error=oops, stale-while-revalidate=30"}, "stale-while-revalidate=30"},
		{[]string{"max-age=99999999999999999999999"}, "max-age=2147483648"},
		{[]string{"no-store,,, must-revalidate, proxy-revalidate, no-transform, immutable, unknown=1"}, "no-store, must-revalidate, proxy-revalidate, no-transform, immutable"},
		{[]string{`ext="unterminated, max-age=5`}, ""},
	} {
		if got := ParseCacheControl(c.in).String(); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzParseCacheControl: any Cache-Control value parses without panic,
// to delta-seconds in range, and what String writes parses back the
// same.
func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"public, max-age=60", `private="a,b"`, "s-maxage=1, stale-while-revalidate=59", "no-cache, no-store",
		`max-age="5"`, "max-age=99999999999999999999", `x="\"`, ",,=,", "stale-if-error=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := ParseCacheControl([]string{s})
		for _, v := range []int64{d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError} {
			if v != Absent && (v < 0 || v > maxDelta) {
				t.Fatalf("%q: delta %d out of range in %+v", s, v, d)
			}
		}
		if again := ParseCacheControl([]string{d.String()}); again != d {
			t.Fatalf("%q: %+v; its String %q parses to %+v", s, d, d.String(), again)
		}
	})
}
