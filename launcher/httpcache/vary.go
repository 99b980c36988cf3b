package httpcache

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/corral-run/corral/internal/qvalue"
)

// varyField is one request field a stored response was selected by
// (RFC 9111, 4.1): its name and the request's value, normalized.
type varyField struct {
	name  string
	value string // the values joined with ", ", each trimmed
	// mask, for Accept-Encoding: which codings the request accepted and
	// refused (acceptMask). Browsers spell the same preferences many
	// ways; what decides the response is which codings are acceptable.
	mask uint32
}

// varyFields returns the fields a response with Vary lines vary selects
// by, with the values they have in reqHeader.
func varyFields(vary []string, reqHeader http.Header) []varyField {
	var fs []varyField
	for _, v := range vary {
		for name := range strings.SplitSeq(v, ",") {
			name = textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name))
			if name == "" || hasField(fs, name) {
				continue
			}
			f := varyField{name: name}
			if name == "Accept-Encoding" {
				f.mask = acceptMask(reqHeader[name])
			} else {
				f.value = joinTrimmed(reqHeader[name])
			}
			fs = append(fs, f)
		}
	}
	return fs
}

func hasField(fs []varyField, name string) bool {
	for _, f := range fs {
		if f.name == name {
			return true
		}
	}
	return false
}

// matches reports whether a request with header h selects a response
// stored with fields fs. It does not allocate.
func matches(fs []varyField, h http.Header) bool {
	for i := range fs {
		f := &fs[i]
		if f.name == "Accept-Encoding" {
			if acceptMask(h[f.name]) != f.mask {
				return false
			}
			continue
		}
		if !equalJoined(h[f.name], f.value) {
			return false
		}
	}
	return true
}

// joinTrimmed combines field lines as RFC 9110, 5.3 allows: joined with
// ", ", each trimmed.
func joinTrimmed(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(vs[0])
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strings.TrimSpace(v)
	}
	return strings.Join(parts, ", ")
}

// equalJoined reports whether joinTrimmed(vs) == want, without joining.
func equalJoined(vs []string, want string) bool {
	for i, v := range vs {
		v = strings.TrimSpace(v)
		if i > 0 {
			if !strings.HasPrefix(want, ", ") {
				return false
			}
			want = want[2:]
		}
		if !strings.HasPrefix(want, v) {
			return false
		}
		want = want[len(v):]
	}
	return want == ""
}

// codingIndex is the place of a content coding among those acceptMask
// tells apart, or -1 for any other: one no app server sends.
func codingIndex(coding string) int {
	for i, c := range [...]string{"gzip", "deflate", "br", "zstd", "compress", "identity", "*"} {
		if strings.EqualFold(coding, c) {
			return i
		}
	}
	return -1
}

// acceptMask sums up Accept-Encoding lines: for each coding codingIndex knows,
// one bit if it is named with a qvalue above 0, another if named with 0
// (or a qvalue that does not parse, which a careful server takes for a
// refusal). Two requests with the same mask are answered with the same
// coding by any server that picks from those codings by qvalue > 0.
// x-gzip and x-compress count as their modern names.
func acceptMask(vs []string) uint32 {
	var m uint32
	for _, v := range vs {
		for v != "" {
			var coding string
			var q int
			coding, q, v = qvalue.Next(v)
			if len(coding) > 2 && (coding[0] == 'x' || coding[0] == 'X') && coding[1] == '-' {
				coding = coding[2:]
			}
			idx := codingIndex(coding)
			if idx < 0 {
				continue
			}
			if q > 0 {
				m |= 1 << (2 * idx)
			} else {
				m |= 2 << (2 * idx)
			}
		}
	}
	return m
}
