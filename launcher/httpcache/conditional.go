package httpcache

import (
	"net/http"
	"strings"
)

// Conditions are the preconditions of a request this cache evaluates,
// kept apart from its header: the request that revalidates a stored
// response carries the cache's own instead.
type Conditions struct {
	IfNoneMatch, IfModifiedSince []string
	HasIfNoneMatch               bool
}

// ConditionsOf returns the conditions of a request with header h.
func ConditionsOf(h http.Header) Conditions {
	inm, ok := h["If-None-Match"]
	return Conditions{IfNoneMatch: inm, HasIfNoneMatch: ok, IfModifiedSince: h["If-Modified-Since"]}
}

// NotModified reports whether a GET or HEAD with conditions c is answered
// 304 from e (RFC 9110, 13.1 and 13.2.2; RFC 9111, 4.3.2): If-None-Match,
// by the weak comparison, when the request has it; else
// If-Modified-Since against the stored Last-Modified (a response without
// one is never "not modified" by date).
func (e *Entry) NotModified(c Conditions) bool {
	if c.HasIfNoneMatch {
		return e.etag != "" && matchesETag(c.IfNoneMatch, e.etag)
	}
	ims := c.IfModifiedSince
	if len(ims) != 1 || e.lastModified.IsZero() {
		return false
	}
	t, err := http.ParseTime(strings.TrimSpace(ims[0]))
	if err != nil {
		return false // invalid: ignored (RFC 9110, 13.1.3)
	}
	return !e.lastModified.After(t)
}

// matchesETag reports whether the If-None-Match lines list match etag
// by the weak comparison (W/ ignored on both sides), or are "*".
func matchesETag(list []string, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for _, v := range list {
		for v != "" {
			var tag string
			tag, v = nextETag(v)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// nextETag splits the first entity-tag off a list: a quoted opaque-tag
// may hold commas.
func nextETag(s string) (tag, rest string) {
	s = strings.TrimLeft(s, " \t,")
	i := 0
	if strings.HasPrefix(s, "W/") {
		i = 2
	}
	if i < len(s) && s[i] == '"' {
		if j := strings.IndexByte(s[i+1:], '"'); j >= 0 {
			end := i + 1 + j + 1
			return s[:end], s[end:]
		}
	}
	if k := strings.IndexByte(s, ','); k >= 0 {
		return strings.TrimSpace(s[:k]), s[k+1:]
	}
	return strings.TrimSpace(s), ""
}
