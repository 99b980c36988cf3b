package edge

// The request-head parser of the edge's own HTTP/1.1 server. It fills an
// *http.Request the way net/http's server does, so handlers see no
// difference, but it is stricter wherever a front proxy must be (RFC 9112
// 6.1, 6.3, 5.2, 11.2): a head that a server behind or beside the edge
// could frame differently is refused, not repaired, since repairing it
// (dropping a Content-Length next to a Transfer-Encoding, merging
// duplicates, unfolding lines) is what request smuggling feeds on.
//
// It is on the path of every request, so the head is copied into a
// scratch buffer kept between requests and turned into one string; the
// method, target, names and values are substrings of it.

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// headError is a request head the edge refuses before any handler sees it;
// the connection is answered with status and closed.
type headError struct {
	status int    // 400, 417, 431, 501 or 505
	reason string // short and specific, for the error page and the log, e.g. "duplicate Content-Length"
}

func (e *headError) Error() string { return strconv.Itoa(e.status) + " " + e.reason }

// The refusals. They are shared values so that refusing (a flood of bad
// heads, say) allocates nothing.
var (
	errHeadTooLarge    = &headError{431, "request header fields too large"}
	errTrailerTooLarge = &headError{431, "trailer fields too large"}
	errRequestLine     = &headError{400, "malformed request line"}
	errMethod          = &headError{400, "invalid method"}
	errVersion         = &headError{400, "malformed HTTP version"}
	errVersionUnsup    = &headError{505, "unsupported HTTP version"}
	errTarget          = &headError{400, "malformed request target"}
	errAsterisk        = &headError{400, "asterisk-form target without OPTIONS"}
	errBareCR          = &headError{400, "CR without LF in the head"}
	errObsFold         = &headError{400, "obsolete line folding in a header"}
	errTrailerFold     = &headError{400, "obsolete line folding in a trailer"}
	errNoColon         = &headError{400, "header line without a colon"}
	errFieldName       = &headError{400, "invalid header name"}
	errFieldValue      = &headError{400, "invalid header value"}
	errBothCLTE        = &headError{400, "both Content-Length and Transfer-Encoding"}
	errDupCL           = &headError{400, "duplicate Content-Length"}
	errBadCL           = &headError{400, "invalid Content-Length"}
	errTE10            = &headError{400, "Transfer-Encoding in an HTTP/1.0 request"}
	errTEUnsup         = &headError{501, "unsupported Transfer-Encoding"}
	errNoHost          = &headError{400, "missing Host"}
	errDupHost         = &headError{400, "duplicate Host"}
	errBadHost         = &headError{400, "invalid Host"}
	errTrailerDecl     = &headError{400, "forbidden field in Trailer"}
	errExpect          = &headError{417, "unsupported Expect"}
)

// reqFrame says how a parsed request's body is framed and what follows it.
type reqFrame struct {
	chunked bool  // Transfer-Encoding: chunked (then the request's ContentLength is -1)
	length  int64 // the Content-Length; 0 when there is none
	// expect: the client waits for "100 Continue" before it sends the
	// body. Only set on HTTP/1.1 with a body to wait for, as net/http does:
	// an HTTP/1.0 client cannot understand a 100.
	expect bool
	close  bool // the connection ends after this request: Connection: close, or HTTP/1.0 without Connection: keep-alive
}

// headReader reads request heads off one connection; it keeps its scratch
// buffer between requests (pool-friendly, no per-request allocation of it).
type headReader struct {
	buf    []byte      // the head being read, without the CR/LF skipped before it
	fields []headField // where each field line's name and value are in buf

	// underscores keeps header names that hold an underscore but those
	// of the edge's own headers (edgeOwned); by default every one is
	// dropped, as nginx does (Config.AllowUnderscoreHeaders).
	underscores bool

	// base, if set, is what each request starts as: a zero request
	// with its connection's context, so that the server need not copy
	// every request with WithContext.
	base *http.Request
	// last is the storage of the last request made; spare, once the
	// server says that request is finished with (recycle), is the
	// storage the next one reuses.
	last, spare *reqAlloc
}

// headField locates one field line in headReader.buf.
type headField struct {
	name0, name1, val0, val1 int
	kind                     uint8
	underscore               bool // the name holds a '_'
}

// Field kinds: the ones the parser acts on. Host and Transfer-Encoding
// never reach the Header, as with net/http's server.
const (
	fieldOther uint8 = iota
	fieldHost
	fieldCL
	fieldTE
	fieldExpect
	fieldConnection
)

// headKeep bounds the scratch buffer kept between requests: a single huge
// head must not pin its buffer for the connection's (or a pool's) life.
const headKeep = 32 << 10

// read reads the next request head from br, at most max bytes (request line + header lines, counted as read).
// CR and LF bytes before the request line are skipped (RFC 9112 2.2 tolerance; net/http skips them after a POST).
// It returns io.EOF if br ends (or errors with io.EOF) before any byte of a request, io.ErrUnexpectedEOF if it ends inside a head,
// a *headError for a head the edge refuses, or br's own read error (e.g. a timeout net.Error) unchanged.
func (h *headReader) read(br *bufio.Reader, max int) (*http.Request, reqFrame, error) {
	skipped := 0
	for {
		p, err := br.Peek(1)
		if err != nil {
			return nil, reqFrame{}, err
		}
		if c := p[0]; c != '\r' && c != '\n' {
			if !headToken[c] {
				// Refuse at once what cannot start a method (a TLS hello on
				// the plaintext port, say) rather than wait for a line end
				// that may never come.
				return nil, reqFrame{}, errRequestLine
			}
			break
		}
		if skipped++; skipped > max {
			return nil, reqFrame{}, errHeadTooLarge
		}
		br.Discard(1)
	}
	h.start()
	req, fr, err := h.parse(br, max-skipped)
	h.finish()
	return req, fr, err
}

// parse reads and parses a head whose first byte is a method's.
func (h *headReader) parse(br *bufio.Reader, max int) (*http.Request, reqFrame, error) {
	// The request line: METHOD SP TARGET SP HTTP/1.x, at h.buf[:rlEnd].
	_, rlEnd, err := h.line(br, max, errHeadTooLarge)
	if err != nil {
		return nil, reqFrame{}, err
	}
	sp1, sp2, err := requestLine(h.buf[:rlEnd])
	if err != nil {
		return nil, reqFrame{}, err
	}
	http10 := h.buf[rlEnd-1] == '0'

	// The field lines, up to the empty line. The smuggling forms are
	// refused as soon as their second field is read.
	var nHost, nCL, nTE, nMap int
	for {
		start, end, err := h.line(br, max, errHeadTooLarge)
		if err != nil {
			return nil, reqFrame{}, err
		}
		if start == end {
			break
		}
		f, err := h.field(start, end, errObsFold)
		if err != nil {
			return nil, reqFrame{}, err
		}
		if f.underscore && (!h.underscores || edgeOwned(h.buf[f.name0:f.name1])) {
			continue // never one the framing depends on: none of those has a '_'
		}
		switch string(h.buf[f.name0:f.name1]) {
		case "Host":
			f.kind, nHost = fieldHost, nHost+1
		case "Content-Length":
			f.kind, nCL = fieldCL, nCL+1
		case "Transfer-Encoding":
			f.kind, nTE = fieldTE, nTE+1
		case "Expect":
			f.kind = fieldExpect
		case "Connection":
			f.kind = fieldConnection
		}
		switch {
		case f.kind == fieldCL && tabAround(h.buf, f, end):
			return nil, reqFrame{}, errBadCL
		case f.kind == fieldTE && tabAround(h.buf, f, end):
			return nil, reqFrame{}, errTEUnsup
		case nCL > 1:
			return nil, reqFrame{}, errDupCL
		case nTE > 0 && http10:
			// Go ignores it and reads the chunked body as the next request.
			return nil, reqFrame{}, errTE10
		case nCL > 0 && nTE > 0:
			return nil, reqFrame{}, errBothCLTE
		}
		if f.kind != fieldHost && f.kind != fieldTE {
			nMap++
		}
		h.fields = append(h.fields, f)
	}

	// One string for the whole head; everything below is a substring.
	s := string(h.buf)
	a := h.spare
	if a == nil {
		a = new(reqAlloc)
	}
	h.spare, h.last = nil, a
	req := &a.req
	if h.base != nil {
		*req = *h.base
	} else {
		*req = http.Request{}
	}
	req.Method = s[:sp1]
	req.RequestURI = s[sp1+1 : sp2]
	req.Proto = s[sp2+1 : rlEnd]
	req.ProtoMajor = 1
	req.ProtoMinor = int(s[rlEnd-1] - '0')
	req.Header = h.header(s, nMap, a)
	var fr reqFrame
	var host string
	var hasClose, hasKeepAlive, expect bool
	for _, f := range h.fields {
		v := s[f.val0:f.val1]
		switch f.kind {
		case fieldHost:
			host = v
		case fieldTE:
			if nTE > 1 || !asciiEqualFold(v, "chunked") {
				return nil, reqFrame{}, errTEUnsup
			}
			fr.chunked = true
		case fieldCL:
			if fr.length, err = parseLength(v); err != nil {
				return nil, reqFrame{}, err
			}
		case fieldExpect:
			// net/http refuses only a first Expect lacking 100-continue
			// among its tokens; anything but exactly 100-continue is
			// refused here, as nginx does. An empty one says nothing.
			if v != "" && !asciiEqualFold(v, "100-continue") {
				return nil, reqFrame{}, errExpect
			}
			expect = expect || v != ""
		case fieldConnection:
			hasClose = hasClose || hasToken(v, "close")
			hasKeepAlive = hasKeepAlive || hasToken(v, "keep-alive")
		}
	}
	// Host: RFC 9112 3.2 wants it in every HTTP/1.1 request; net/http
	// forgives CONNECT, the edge does not.
	switch {
	case nHost > 1:
		return nil, reqFrame{}, errDupHost
	case nHost == 0 && !http10:
		return nil, reqFrame{}, errNoHost
	case !validHost(host):
		return nil, reqFrame{}, errBadHost
	}

	target := req.RequestURI
	if target == "*" && req.Method != http.MethodOptions {
		return nil, reqFrame{}, errAsterisk
	}
	// CONNECT's authority-form parses as a URL's host, as net/http does.
	authority := req.Method == http.MethodConnect && target[0] != '/'
	if authority {
		target = "http://" + target
	}
	if originForm(target, &a.url) {
		req.URL = &a.url
	} else if req.URL, err = url.ParseRequestURI(target); err != nil {
		return nil, reqFrame{}, errTarget
	}
	if authority {
		req.URL.Scheme = ""
	}
	// RFC 9112 3.2.2: an absolute-form target's authority wins over Host.
	req.Host = req.URL.Host
	if req.Host == "" {
		req.Host = host
	}

	fr.close = hasClose || http10 && !hasKeepAlive
	fr.expect = expect && !http10 && (fr.chunked || fr.length > 0)
	req.Close = fr.close
	req.ContentLength = fr.length
	if fr.chunked {
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		if req.Trailer, err = declaredTrailer(req.Header); err != nil {
			return nil, reqFrame{}, err
		}
	}
	// RFC 9111 5.4, as net/http does it.
	if p := req.Header["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := req.Header["Cache-Control"]; !ok {
			req.Header["Cache-Control"] = []string{"no-cache"}
		}
	}
	return req, fr, nil
}

// tabAround reports whether the white space around the value of f, a
// field line that ends at end, holds a tab. RFC 9110 allows one there,
// but in a framing field it is how requests are smuggled past servers
// that trim only spaces (nginx reads "\tchunked" as an unknown coding,
// and refuses it): the edge refuses it too.
func tabAround(b []byte, f headField, end int) bool {
	return bytes.IndexByte(b[f.name1+1:f.val0], '\t') >= 0 || bytes.IndexByte(b[f.val1:end], '\t') >= 0
}

// requestLine checks a request line and returns where its two spaces
// are.
func requestLine(rl []byte) (sp1, sp2 int, err error) {
	sp1 = bytes.IndexByte(rl, ' ')
	if sp1 < 0 {
		return 0, 0, errRequestLine
	}
	sp2 = bytes.IndexByte(rl[sp1+1:], ' ') + sp1 + 1
	if sp1 == 0 || sp2 <= sp1 {
		return 0, 0, errRequestLine
	}
	for _, c := range rl[:sp1] {
		if !headToken[c] {
			return 0, 0, errMethod
		}
	}
	// The version first: HTTP/2's preface, "PRI * HTTP/2.0", gets a 505.
	v := rl[sp2+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 0, 0, errVersion
	}
	if v[5] != '1' || v[7] > '1' {
		return 0, 0, errVersionUnsup
	}
	if sp2 == sp1+1 {
		return 0, 0, errRequestLine // an empty target
	}
	return sp1, sp2, nil
}

// readTrailer reads the trailer section that follows a chunked body's last chunk ("0\r\n" already consumed by the caller's chunk reader):
// header lines up to the empty line, at most max bytes. It returns the fields (canonical keys; may be nil when empty), or a *headError (e.g. obs-fold, bad name) or read error.
// Fields that RFC 9110 6.5.1 forbids in a trailer (framing, Host) are
// returned as they are: it is for the caller not to merge them.
func (h *headReader) readTrailer(br *bufio.Reader, max int) (http.Header, error) {
	h.start()
	defer h.finish()
	for {
		start, end, err := h.line(br, max, errTrailerTooLarge)
		if err != nil {
			return nil, err
		}
		if start == end {
			break
		}
		f, err := h.field(start, end, errTrailerFold)
		if err != nil {
			return nil, err
		}
		h.fields = append(h.fields, f)
	}
	if len(h.fields) == 0 {
		return nil, nil // the common case: no trailer, no allocation
	}
	return h.header(string(h.buf), len(h.fields), nil), nil
}

// reqAlloc puts a request and its URL in one allocation: allocating is
// most of the cost of a small request's head. Its header map and values
// are kept with it, for a recycled reqAlloc to reuse.
type reqAlloc struct {
	req    http.Request
	url    url.URL
	fields fieldStore
}

// fieldStore is a header map and the array its values share (see
// headReader.header), kept for the next head to reuse.
type fieldStore struct {
	hdr  http.Header
	vals []string
}

// take returns an empty header and n empty values: s's, when s is not nil
// (and has room for n values), else new ones, which s then keeps.
func (s *fieldStore) take(n int) (http.Header, []string) {
	if s == nil {
		return make(http.Header, n), make([]string, n)
	}
	if s.hdr == nil {
		s.hdr = make(http.Header, n)
	} else {
		clear(s.hdr)
	}
	if cap(s.vals) >= n {
		s.vals = s.vals[:n]
		clear(s.vals)
	} else {
		s.vals = make([]string, n)
	}
	return s.hdr, s.vals
}

// recycle tells h that the last request it made is finished with: its
// handler has returned, and nothing kept it, its URL or its header. The
// next request reuses their storage.
func (h *headReader) recycle() {
	if h.last != nil {
		h.spare, h.last = h.last, nil
	}
}

// originForm fills u as url.ParseRequestURI would for an origin-form
// target whose path it takes verbatim: no escapes, no byte it would
// re-escape (which would set RawPath), no "?" at the end (ForceQuery).
// It reports false for any other target, which then takes the slow path.
func originForm(target string, u *url.URL) bool {
	path, query, hasQuery := strings.Cut(target, "?")
	if path == "" || path[0] != '/' || hasQuery && query == "" {
		return false
	}
	for i := 0; i < len(path); i++ {
		if !pathByte[path[i]] {
			return false
		}
	}
	for i := 0; i < len(query); i++ {
		if c := query[i]; c < ' ' || c == 0x7f {
			return false // ParseRequestURI refuses a CTL anywhere
		}
	}
	*u = url.URL{Path: path, RawQuery: query}
	return true
}

// start prepares the scratch buffers for a head.
func (h *headReader) start() {
	if h.buf == nil {
		h.buf = make([]byte, 0, 2<<10)
	}
	h.buf, h.fields = h.buf[:0], h.fields[:0]
}

// finish drops a scratch buffer grown too large to keep.
func (h *headReader) finish() {
	if cap(h.buf) > headKeep {
		h.buf = nil
	}
	if cap(h.fields) > headKeep/32 {
		h.fields = nil
	}
}

// line appends the next line to h.buf and returns its bounds without its
// line end (LF or CRLF). A line longer than br's buffer arrives in
// pieces (bufio.ErrBufferFull). h.buf may not grow past limit.
func (h *headReader) line(br *bufio.Reader, limit int, tooLarge *headError) (start, end int, err error) {
	start = len(h.buf)
	for {
		frag, err := br.ReadSlice('\n')
		if len(h.buf)+len(frag) > limit {
			return 0, 0, tooLarge
		}
		h.buf = append(h.buf, frag...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, err
		}
	}
	end = len(h.buf) - 1
	if end > start && h.buf[end-1] == '\r' {
		end--
	}
	if bytes.IndexByte(h.buf[start:end], '\r') >= 0 {
		return 0, 0, errBareCR
	}
	return start, end, nil
}

// field checks the field line at h.buf[start:end] (not empty), puts its
// name in canonical form in place, so that no key needs a string of its
// own, and returns where the name and the trimmed value are.
func (h *headReader) field(start, end int, fold *headError) (headField, error) {
	b := h.buf
	if c := b[start]; c == ' ' || c == '\t' {
		// A continuation line (RFC 9112 5.2): Go unfolds it, or, on the
		// first line, refuses it; a proxy must refuse.
		return headField{}, fold
	}
	colon := bytes.IndexByte(b[start:end], ':') + start
	if colon < start {
		return headField{}, errNoColon
	}
	if colon == start {
		return headField{}, errFieldName
	}
	upper, underscore := true, false
	for i := start; i < colon; i++ {
		c := b[i]
		if !headToken[c] {
			// Includes white space before the colon (RFC 9112 5.1).
			return headField{}, errFieldName
		}
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
			b[i] = c
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
			b[i] = c
		}
		upper = c == '-'
		underscore = underscore || c == '_'
	}
	v0, v1 := colon+1, end
	for v0 < v1 && (b[v0] == ' ' || b[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (b[v1-1] == ' ' || b[v1-1] == '\t') {
		v1--
	}
	for _, c := range b[v0:v1] {
		if !valueByte[c] {
			return headField{}, errFieldValue
		}
	}
	return headField{name0: start, name1: colon, val0: v0, val1: v1, underscore: underscore}, nil
}

// header builds the Header of h.fields from s, the string of h.buf,
// leaving out Host and Transfer-Encoding; n is how many fields go in. The
// values share one backing array, as in net/textproto; a repeated field's
// append reallocates only its own slice. The map and the array are a's
// when a is given, reused if a was recycled.
func (h *headReader) header(s string, n int, a *reqAlloc) http.Header {
	var fs *fieldStore
	if a != nil {
		fs = &a.fields
	}
	m, vals := fs.take(n)
	if n == 0 {
		return m
	}
	i := 0
	for _, f := range h.fields {
		if f.kind == fieldHost || f.kind == fieldTE {
			continue
		}
		k, v := s[f.name0:f.name1], s[f.val0:f.val1]
		if vv, ok := m[k]; ok {
			m[k] = append(vv, v)
			continue
		}
		vals[i] = v
		m[k] = vals[i : i+1 : i+1]
		i++
	}
	return m
}

// declaredTrailer moves a chunked request's Trailer field into the
// request's Trailer keys, as net/http does, refusing the names whose
// arrival after the body would change its framing.
func declaredTrailer(hdr http.Header) (http.Header, error) {
	vv, ok := hdr["Trailer"]
	if !ok {
		return nil, nil
	}
	delete(hdr, "Trailer")
	var t http.Header
	for _, v := range vv {
		for k := range strings.SplitSeq(v, ",") {
			if k = strings.Trim(k, " \t"); k == "" {
				continue
			}
			switch k = http.CanonicalHeaderKey(k); k {
			case "Transfer-Encoding", "Trailer", "Content-Length":
				return nil, errTrailerDecl
			}
			if t == nil {
				t = make(http.Header)
			}
			t[k] = nil
		}
	}
	return t, nil
}

// parseLength parses a Content-Length value (SP/HTAB already trimmed):
// digits only, at most 1<<63-1, as net/http's strconv.ParseUint(v, 10, 63).
func parseLength(v string) (int64, error) {
	if v == "" {
		return 0, errBadCL
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := int64(v[i] - '0')
		if !isDigit(v[i]) || n > (1<<63-1-d)/10 {
			return 0, errBadCL
		}
		n = n*10 + d
	}
	return n, nil
}

// hasToken reports whether the comma-separated list v holds token, ASCII
// case-insensitively (httpguts.HeaderValuesContainsToken).
func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if asciiEqualFold(strings.Trim(f, " \t"), token) {
			return true
		}
	}
	return false
}

// asciiEqualFold reports whether s is lower, a lower-case ASCII literal,
// in any case. ASCII only, as net/http: strings.EqualFold would let
// "\u212aeep-alive" (a Kelvin sign) match "keep-alive".
func asciiEqualFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != lower[i] && !('A' <= c && c <= 'Z' && c+'a'-'A' == lower[i]) {
			return false
		}
	}
	return true
}

// validHost is httpguts.ValidHostHeader (golang.org/x/net is not a
// dependency of corral): lenient, it only refuses bytes that cannot be in
// a uri-host [":" port].
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		if !hostByte[h[i]] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// headToken, valueByte, hostByte and pathByte are byte classes: RFC
// 9110's tchar; what httpguts.ValidHeaderFieldValue allows in a value (no
// CTL but HTAB; obs-text is fine); what it allows in a Host; and what
// net/url keeps as it is in a path (not '%').
var headToken, valueByte, hostByte, pathByte = func() (tok, val, host, path [256]bool) {
	for c := range 256 {
		alnum := '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		tok[c], host[c], path[c] = alnum, alnum, alnum
		val[c] = c >= ' ' && c != 0x7f || c == '\t'
	}
	for _, c := range "-_.~$&+,/:;=@" {
		path[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		tok[c] = true
	}
	for _, c := range "!$%&()*+,-.:;=[]'_~" {
		host[c] = true
	}
	return tok, val, host, path
}()
