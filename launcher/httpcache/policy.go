package httpcache

import (
	"net/http"
	"strings"
	"time"
)

// Why a response was not stored: the detail of its Cache-Status (RFC 9211
// lets a cache say so in its own words), and what a user reads to learn
// why a page is not cached.
const (
	WhyMethod        = "method"          // not a GET
	WhyStatus        = "status"          // a status this cache does not store (206, 304, 5xx…)
	WhyNoStore       = "no-store"        // Cache-Control: no-store
	WhyPrivate       = "private"         // Cache-Control: private
	WhySetCookie     = "set-cookie"      // a response that sets a cookie is one client's
	WhyAuthorization = "authorization"   // the request had credentials, the response did not allow sharing
	WhyVaryStar      = "vary-star"       // Vary: * matches no later request
	WhyNoFreshness   = "no-explicit-ttl" // no max-age, s-maxage or Expires: heuristic freshness is off
	WhyUseless       = "no-reuse"        // already stale, with no validator and no stale-* permission
	WhyTooLarge      = "too-large"       // over the per-object cap
	WhyRange         = "content-range"   // a part of a representation
	WhyStream        = "stream"          // the origin flushed it as it came (server-sent events, a long poll)
)

// storableStatus are the final statuses stored when the response gives an
// explicit freshness lifetime: RFC 9110's heuristically cacheable ones,
// and the redirects an app marks cacheable. Not 206 (ranges are not
// served from here) nor 304 (a 304 refreshes, it is not a response to
// keep), nor the 5xx an app sends while it struggles.
func storableStatus(code int) bool {
	switch code {
	case 200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// policy is what a stored response's fields say about its use, computed
// once at store time.
type policy struct {
	cc           Directives
	lifetime     time.Duration // freshness lifetime (RFC 9111, 4.2.1)
	initialAge   time.Duration // corrected_initial_age (4.2.3)
	responseTime time.Time
	etag         string    // "" if none
	lastModified time.Time // zero if none or invalid
}

// decide applies RFC 9111's rules for a shared cache (3, 4.2) to a GET
// response: whether it may be stored ("" if so, else one of the Why
// constants), and its policy. reqHeader is the request's header;
// requestTime and responseTime bracket the exchange with the app.
func decide(reqHeader http.Header, status int, h http.Header, requestTime, responseTime time.Time) (policy, string) {
	p := policy{cc: ParseCacheControl(h["Cache-Control"]), responseTime: responseTime}
	cc := p.cc
	switch {
	case !storableStatus(status):
		return p, WhyStatus
	case cc.NoStore:
		return p, WhyNoStore
	case cc.Private:
		return p, WhyPrivate
	case len(h["Set-Cookie"]) > 0:
		return p, WhySetCookie
	case len(h["Content-Range"]) > 0:
		return p, WhyRange
	case len(reqHeader["Authorization"]) > 0 && !cc.Public && cc.SMaxAge == Absent && !cc.MustRevalidate:
		return p, WhyAuthorization // RFC 9111, 3.5
	case varyStar(h["Vary"]):
		return p, WhyVaryStar
	}
	lifetime, explicit := freshnessLifetime(cc, h, responseTime)
	if !explicit {
		return p, WhyNoFreshness
	}
	p.lifetime = lifetime
	p.initialAge = initialAge(h, requestTime, responseTime)
	if et := h["Etag"]; len(et) > 0 {
		p.etag = strings.TrimSpace(et[0])
	}
	if lm := h["Last-Modified"]; len(lm) == 1 {
		if t, err := http.ParseTime(lm[0]); err == nil {
			p.lastModified = t
		}
	}
	if p.lifetime <= p.initialAge && p.etag == "" && p.lastModified.IsZero() &&
		cc.StaleIfError <= 0 && cc.StaleWhileRevalidate <= 0 {
		return p, WhyUseless
	}
	return p, ""
}

// freshnessLifetime is RFC 9111, 4.2.1 for a shared cache: s-maxage, else
// max-age, else Expires minus Date (the time received when there is no
// Date). explicit is false when none is given: this cache does not guess
// (no heuristic freshness), so such a response is not stored. An Expires
// or Date that does not parse, or is given twice, makes the response
// stale (lifetime 0), as 5.3 asks of an invalid Expires.
func freshnessLifetime(cc Directives, h http.Header, responseTime time.Time) (time.Duration, bool) {
	switch {
	case cc.SMaxAge != Absent:
		return time.Duration(cc.SMaxAge) * time.Second, true
	case cc.MaxAge != Absent:
		return time.Duration(cc.MaxAge) * time.Second, true
	}
	exp, ok := h["Expires"]
	if !ok {
		return 0, false
	}
	if len(exp) != 1 {
		return 0, true
	}
	expires, err := http.ParseTime(strings.TrimSpace(exp[0]))
	if err != nil {
		return 0, true
	}
	date := responseTime
	if d, ok := h["Date"]; ok {
		if len(d) != 1 {
			return 0, true
		}
		if date, err = http.ParseTime(strings.TrimSpace(d[0])); err != nil {
			return 0, true
		}
	}
	return max(expires.Sub(date), 0), true
}

// initialAge is corrected_initial_age (RFC 9111, 4.2.3): the age the
// response had when it arrived, from the app's Date and Age fields and the
// time the exchange took.
func initialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	var apparent time.Duration
	if d := h["Date"]; len(d) == 1 {
		if date, err := http.ParseTime(strings.TrimSpace(d[0])); err == nil {
			apparent = max(responseTime.Sub(date), 0)
		}
	}
	var ageValue time.Duration
	if a := h["Age"]; len(a) > 0 {
		// A list-valued Age: its first member (RFC 9111, 5.1); an invalid
		// one is ignored.
		first, _, _ := strings.Cut(a[0], ",")
		if n := delta(strings.TrimSpace(first), true, Absent); n != Absent {
			ageValue = time.Duration(n) * time.Second
		}
	}
	corrected := ageValue + max(responseTime.Sub(requestTime), 0)
	return max(apparent, corrected)
}

// varyStar reports whether the Vary field lists "*".
func varyStar(vary []string) bool {
	for _, v := range vary {
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == "*" {
				return true
			}
		}
	}
	return false
}
