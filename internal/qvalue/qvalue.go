// Package qvalue reads the weights of HTTP's content negotiation headers
// (Accept-Encoding's "gzip;q=0.5"), for the edge's compression and the
// response cache's Vary, which must read them alike.
package qvalue

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
