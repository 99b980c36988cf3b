// Package qvalue reads the weights of HTTP's content negotiation headers
// (Accept-Encoding's "gzip;q=0.5"), for the edge's compression, the static
// files' precompressed siblings and the response cache's Vary, which must
// read them alike.
package qvalue

import "strings"

// Next reads the first element of s, an Accept-Encoding header value
// (RFC 9110, 12.5.3): it returns the element's coding, trimmed and in the
// case the client sent it ("" for an empty element), its qvalue in
// thousandths (1000 when it has none; a q named twice, the last), and what
// follows the element's comma. Callers loop until rest is "".
func Next(s string) (coding string, q int, rest string) {
	elem, rest, _ := strings.Cut(s, ",")
	coding, params, _ := strings.Cut(elem, ";")
	q = 1000
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		if k, val, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			q = Parse(strings.TrimSpace(val))
		}
	}
	return strings.TrimSpace(coding), q, rest
}

// Parse parses an RFC 9110 qvalue ("0", "0.5", "1", "1.000") into
// thousandths, without the float parsing that would also accept "1e-3",
// "+1" or "NaN". Anything malformed is 0, a refusal.
func Parse(s string) int {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') || (len(s) > 1 && s[1] != '.') {
		return 0
	}
	q := int(s[0]-'0') * 1000
	scale := 100
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	if q > 1000 {
		return 0
	}
	return q
}
