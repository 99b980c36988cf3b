package httpcache

import (
	"strconv"
	"strings"
)

// Absent is the value of a delta-seconds directive the response does not
// carry.
const Absent = -1

// maxDelta is where delta-seconds saturate (RFC 9111, 1.2.2: a value
// larger than the largest integer a cache can represent is taken as
// 2^31).
const maxDelta = 1 << 31

// Directives are the Cache-Control response directives a shared cache acts
// on (RFC 9111, 5.2.2, and RFC 5861's stale-while-revalidate and
// stale-if-error). The delta-seconds ones are Absent when not given.
//
// Qualified forms (private="Set-Cookie", no-cache="Set-Cookie") count as
// the unqualified directive: a shared cache may store such a response
// without the named fields, but not storing it (private) or revalidating
// it every time (no-cache) is never wrong and keeps the rule simple.
type Directives struct {
	Public, Private, NoStore, NoCache  bool
	MustRevalidate, ProxyRevalidate    bool
	NoTransform, Immutable             bool
	MaxAge, SMaxAge                    int64
	StaleWhileRevalidate, StaleIfError int64
}

// ParseCacheControl parses the Cache-Control field lines values. It never
// fails: an unknown directive is ignored (RFC 9111, 5.2.3), and a
// delta-seconds directive with an argument that is not one makes the
// response stale where it would give freshness (max-age, s-maxage: 0)
// and gives no permission where it would allow stale use (the stale-*
// extensions: Absent), since the most restrictive reading of a conflict
// is the one RFC 9111, 4.2.1 asks for. A directive given twice with
// different values keeps the smaller, for the same reason.
func ParseCacheControl(values []string) Directives {
	d := Directives{MaxAge: Absent, SMaxAge: Absent, StaleWhileRevalidate: Absent, StaleIfError: Absent}
	for _, v := range values {
		for v != "" {
			var name, arg string
			var hasArg bool
			name, arg, hasArg, v = nextDirective(v)
			switch {
			case strings.EqualFold(name, "public"):
				d.Public = true
			case strings.EqualFold(name, "private"):
				d.Private = true
			case strings.EqualFold(name, "no-store"):
				d.NoStore = true
			case strings.EqualFold(name, "no-cache"):
				d.NoCache = true
			case strings.EqualFold(name, "must-revalidate"):
				d.MustRevalidate = true
			case strings.EqualFold(name, "proxy-revalidate"):
				d.ProxyRevalidate = true
			case strings.EqualFold(name, "no-transform"):
				d.NoTransform = true
			case strings.EqualFold(name, "immutable"):
				d.Immutable = true
			case strings.EqualFold(name, "max-age"):
				d.MaxAge = merge(d.MaxAge, delta(arg, hasArg, 0))
			case strings.EqualFold(name, "s-maxage"):
				d.SMaxAge = merge(d.SMaxAge, delta(arg, hasArg, 0))
			case strings.EqualFold(name, "stale-while-revalidate"):
				d.StaleWhileRevalidate = merge(d.StaleWhileRevalidate, delta(arg, hasArg, Absent))
			case strings.EqualFold(name, "stale-if-error"):
				d.StaleIfError = merge(d.StaleIfError, delta(arg, hasArg, Absent))
			}
		}
	}
	return d
}

// merge combines two values of one directive: the smaller, Absent only
// when both are.
func merge(old, v int64) int64 {
	switch {
	case old == Absent:
		return v
	case v == Absent:
		return old
	}
	return min(old, v)
}

// delta parses a delta-seconds argument (token or quoted-string form),
// saturating at 2^31; bad is what a missing or malformed one gives.
func delta(arg string, hasArg bool, bad int64) int64 {
	if !hasArg || arg == "" {
		return bad
	}
	var n int64
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if c < '0' || c > '9' {
			return bad
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

// nextDirective splits the first directive off a Cache-Control list:
// its name (trimmed), its argument (unquoted), whether it had one, and the
// rest of the list after the comma that ends it. A quoted argument may
// hold commas and escaped quotes.
func nextDirective(s string) (name, arg string, hasArg bool, rest string) {
	i := 0
	for i < len(s) && s[i] != ',' && s[i] != '=' {
		i++
	}
	name = strings.Trim(s[:i], " \t")
	if i == len(s) {
		return name, "", false, ""
	}
	if s[i] == ',' {
		return name, "", false, s[i+1:]
	}
	s = strings.TrimLeft(s[i+1:], " \t")
	hasArg = true
	if s != "" && s[0] == '"' {
		var b strings.Builder
		j := 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' && j+1 < len(s) {
				j++
			}
			b.WriteByte(s[j])
		}
		arg = b.String()
		if j < len(s) {
			j++ // the closing quote
		}
		s = s[j:]
		if k := strings.IndexByte(s, ','); k >= 0 {
			return name, arg, true, s[k+1:]
		}
		return name, arg, true, ""
	}
	k := strings.IndexByte(s, ',')
	if k < 0 {
		return name, strings.Trim(s, " \t"), true, ""
	}
	return name, strings.Trim(s[:k], " \t"), true, s[k+1:]
}

// String writes d back as a Cache-Control value, directives in a fixed
// order: what ParseCacheControl reads back as d.
func (d Directives) String() string {
	var parts []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{d.Public, "public"}, {d.Private, "private"}, {d.NoStore, "no-store"}, {d.NoCache, "no-cache"},
		{d.MustRevalidate, "must-revalidate"}, {d.ProxyRevalidate, "proxy-revalidate"},
		{d.NoTransform, "no-transform"}, {d.Immutable, "immutable"},
	} {
		if f.on {
			parts = append(parts, f.name)
		}
	}
	for _, f := range []struct {
		v    int64
		name string
	}{
		{d.MaxAge, "max-age"}, {d.SMaxAge, "s-maxage"},
		{d.StaleWhileRevalidate, "stale-while-revalidate"}, {d.StaleIfError, "stale-if-error"},
	} {
		if f.v != Absent {
			parts = append(parts, f.name+"="+strconv.FormatInt(f.v, 10))
		}
	}
	return strings.Join(parts, ", ")
}
