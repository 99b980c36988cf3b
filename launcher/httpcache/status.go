package httpcache

import (
	"strconv"
	"strings"
)

// Status is one Cache-Status field member (RFC 9211): what this cache did
// with a request.
type Status struct {
	Hit bool // answered from a stored response, not forwarded
	// Fwd, if not "", says why the request was forwarded: "uri-miss"
	// (nothing stored for the URL), "vary-miss" (nothing for these
	// request fields), "stale" (a stale response was stored), "miss".
	Fwd string
	// FwdStatus, if not 0, is the status the origin answered the
	// forwarded request with (304 for a revalidation).
	FwdStatus int
	Stored    bool // the forwarded response was stored
	Collapsed bool // the request waited for another's forward
	// TTL, with HasTTL, is the remaining freshness in seconds (negative:
	// stale).
	TTL    int64
	HasTTL bool
	Detail string // a reason of this cache's own: a Why, or how a stale response was allowed
}

// Format writes the member for the cache named name.
func (s Status) Format(name string) string {
	var b strings.Builder
	b.WriteString(name)
	if s.Hit {
		b.WriteString("; hit")
	}
	if s.Fwd != "" {
		b.WriteString("; fwd=")
		b.WriteString(s.Fwd)
	}
	if s.FwdStatus != 0 {
		b.WriteString("; fwd-status=")
		b.WriteString(strconv.Itoa(s.FwdStatus))
	}
	if s.Stored {
		b.WriteString("; stored")
	}
	if s.Collapsed {
		b.WriteString("; collapsed")
	}
	if s.HasTTL {
		b.WriteString("; ttl=")
		b.WriteString(strconv.FormatInt(s.TTL, 10))
	}
	if s.Detail != "" {
		b.WriteString("; detail=")
		b.WriteString(s.Detail)
	}
	return b.String()
}
