package edge

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
)

// hopHeaders are meaningful for one connection only (RFC 9110, 7.6.1;
// HTTP2-Settings, RFC 7540 3.2.1, whether Connection names it or not) and
// are never forwarded, in either direction.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Http2-Settings",
}

// removeHopHeaders deletes the hop-by-hop headers of h, including any that
// its Connection header names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				h.Del(f)
			}
		}
	}
	for _, k := range hopHeaders {
		delete(h, k) // canonical keys: cheaper than Del
	}
}

// trusted reports whether a request from addr may tell us about the
// client (its X-Forwarded-* headers are believed).
func (p *Proxy) trusted(addr netip.Addr) bool {
	for _, pfx := range p.opts.TrustedProxies {
		if pfx.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardHeaders sets the headers that tell the app who the client is, as
// nginx's recommended proxy_set_header lines do, and returns the request's
// id. Client-supplied X-Forwarded-* headers are kept only from trusted
// proxies; from anyone else they are replaced, so a client cannot pose as
// another address or as HTTPS.
func (p *Proxy) forwardHeaders(h http.Header, r *http.Request) string {
	addr, trusted := p.peer(r)
	ip := ""
	if addr.IsValid() {
		ip = addr.String()
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	if !trusted {
		delete(h, "Forwarded")
		delete(h, "X-Forwarded-Proto")
		delete(h, "X-Forwarded-Host")
		delete(h, "X-Real-Ip")
		// The edge does not set these, but frameworks believe them:
		// Rack (Rails, Sinatra) takes X-Forwarded-Ssl: on and
		// X-Forwarded-Scheme for HTTPS and X-Forwarded-Port for the port,
		// as IIS-era apps do Front-End-Https.
		delete(h, "X-Forwarded-Ssl")
		delete(h, "X-Forwarded-Scheme")
		delete(h, "X-Forwarded-Port")
		delete(h, "Front-End-Https")
	}
	// The values set below share one array: one allocation, not five.
	// Each is a slice of its own capacity, so an append reallocates.
	vals := make([]string, 0, 5)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if prior := h["X-Forwarded-For"]; trusted && len(prior) > 0 {
		set("X-Forwarded-For", strings.Join(prior, ", ")+", "+ip)
	} else {
		set("X-Forwarded-For", ip)
	}
	if _, ok := h["X-Forwarded-Proto"]; !ok {
		set("X-Forwarded-Proto", proto)
	}
	if _, ok := h["X-Forwarded-Host"]; !ok {
		set("X-Forwarded-Host", r.Host)
	}
	if _, ok := h["X-Real-Ip"]; !ok {
		set("X-Real-Ip", ip)
	}
	id, fresh := requestID(h, trusted)
	if fresh {
		set("X-Request-Id", id)
	}
	return id
}

// peer returns the address of r's client (not valid if it has none), and
// whether it is a trusted proxy.
func (p *Proxy) peer(r *http.Request) (addr netip.Addr, trusted bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	addr = ap.Addr().Unmap()
	return addr, p.trusted(addr)
}

// requestID returns the id of a request with header h: the X-Request-Id
// a trusted proxy sent, if it is one validRequestID accepts, else a new
// one (fresh).
func requestID(h http.Header, trusted bool) (id string, fresh bool) {
	id = first(h, "X-Request-Id")
	if trusted && validRequestID(id) {
		return id, false
	}
	return newRequestID(), true
}

// validRequestID accepts the ids load balancers and clients commonly send:
// up to 128 characters of letters, digits and -_.:
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// newRequestID returns 128 random bits in hex. They come from the
// runtime's generator (ChaCha8, seeded from the kernel at start), not
// crypto/rand, which costs a getrandom system call per request where the
// kernel has no vDSO for it: an id must be unique, not secret.
func newRequestID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var h [32]byte // on the stack: one allocation, the string's
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// ParseTrustedProxies parses a comma-separated list of addresses and CIDR
// prefixes, as given to --trusted-proxies.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, err
			}
			// Peers are compared unmapped: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, err
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// first returns h's first value for key, which must be in canonical form:
// http.Header.Get canonicalizes its key on every call, which the hot path
// need not pay for.
func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// edgeOwned reports whether name, a header name with an underscore, is a
// spelling of one the edge sets or drops itself (the forwarding headers,
// the request id, framing and hop-by-hop ones): WSGI and CGI servers turn
// X_Forwarded_For and X-Forwarded-For alike into HTTP_X_FORWARDED_FOR, and
// take whichever comes first, so such a name must never reach the app,
// even when --allow-underscore-headers lets the others through.
func edgeOwned[T string | []byte](name T) bool {
	var b [24]byte // longer than any name below
	if len(name) > len(b) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		b[i] = c
	}
	switch string(b[:len(name)]) {
	case "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded", "x-request-id",
		"x-forwarded-ssl", "x-forwarded-scheme", "x-forwarded-port", "front-end-https",
		"host", "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
		"proxy-authenticate", "proxy-authorization", "te", "trailer", "upgrade", "expect", "http2-settings":
		return true
	}
	return false
}

// dropUnderscoreHeaders deletes the fields of h whose names hold an
// underscore: all of them, or with allow only the edge's own (edgeOwned).
// The edge's HTTP/1 parser drops them as it reads a head; this is for
// heads it did not read (HTTP/2's).
func dropUnderscoreHeaders(h http.Header, allow bool) {
	for k := range h {
		if strings.IndexByte(k, '_') >= 0 && (!allow || edgeOwned(k)) {
			delete(h, k)
		}
	}
}
