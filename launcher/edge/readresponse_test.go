package edge

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Deliberate differences between readResponse and http.ReadResponse
// (Go 1.26), where the comparisons below are relaxed:
//
//	D1 Connection: net/http deletes a Connection field that holds "close"
//	   from an HTTP/1.1 response's Header; readResponse keeps it (the proxy
//	   drops hop-by-hop fields itself).
//	D2 Pragma: net/http adds "Cache-Control: no-cache" to a response with
//	   "Pragma: no-cache" and no Cache-Control; readResponse passes the
//	   app's fields as they came.
//	D3 Trailer: for a chunked response net/http moves the Trailer field
//	   into resp.Trailer, refuses some trailer names there, and reads the
//	   trailer into resp.Trailer; readResponse keeps the field in Header
//	   and reads the trailer only to drop it (resp.Trailer is nil, and is
//	   not compared).
//	D4 Transfer-Encoding on a response without a body (to HEAD, 1xx, 204,
//	   304): net/http takes it out of Header and sets TransferEncoding;
//	   readResponse frames no body, so leaves the field in Header and
//	   TransferEncoding nil.
//	D5 Transfer-Encoding on HTTP/1.0: net/http drops the field and ignores
//	   it (Go issue 12785); readResponse honours it (RFC 9112 6.1). The
//	   framing differs: only the status line is compared.
//	D6 Transfer-Encoding: readResponse, like net/http, reads only chunked
//	   and refuses other codings, but ignores empty list elements
//	   ("chunked ,"). See TestReadResponseTransferCodings.
//	D7 An empty stream: net/http returns io.ErrUnexpectedEOF, readResponse
//	   io.EOF exactly (upstream.go tells a stale kept-alive connection by it).
//	D8 readResponse refuses what net/http tolerates: obs-fold, versions
//	   other than HTTP/1.0 and HTTP/1.1, codes outside 100-599, more than one
//	   space before the code, a value ending in CR, a name with a space,
//	   heads over 64 KiB.
//	D9 The trailer: net/http wants all of it within br's buffer, ended by
//	   CRLF CRLF, with valid fields; readResponse reads it line by line
//	   (bare LF allowed, content unchecked, 64 KiB at most). Bodies are
//	   compared where net/http reads its body to the end.

// rrView is what readResponse and http.ReadResponse are compared on.
type rrView struct {
	Status                 string
	StatusCode             int
	Proto                  string
	ProtoMajor, ProtoMinor int
	Header                 http.Header
	ContentLength          int64
	Close                  bool
	TransferEncoding       []string
}

func rrViewOf(r *http.Response) rrView {
	return rrView{r.Status, r.StatusCode, r.Proto, r.ProtoMajor, r.ProtoMinor,
		r.Header, r.ContentLength, r.Close, r.TransferEncoding}
}

// rrNext is appended to every stream: where readResponse leaves the
// reader after a body shows in how it reads this.
const rrNext = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Next: 1\r\n\r\nnext"

// rrNextHead is rrNext as an answer to HEAD.
const rrNextHead = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Next: 1\r\n\r\n"

// rrBodyMax bounds how much of a body is read.
const rrBodyMax = 1 << 20

// rrHasToken reports whether the comma-separated values hold token.
func rrHasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.Trim(f, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// rrRawHeader is the head at the start of b as textproto reads it, before
// net/http's framing logic moves fields: where fields net/http takes out
// of Header are put back from (D1, D3, D4).
func rrRawHeader(b []byte) http.Header {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(b)))
	if _, err := tp.ReadLine(); err != nil {
		return nil
	}
	h, _ := tp.ReadMIMEHeader()
	return http.Header(h)
}

// rrExpect is what readResponse should report for a head net/http read as
// theirs (raw: the head's fields as textproto reads them), the deliberate
// differences applied; framing is false where the body is framed
// differently on purpose (D5).
func rrExpect(theirs *http.Response, raw http.Header, method string) (want rrView, framing bool) {
	want = rrViewOf(theirs)
	want.Header = theirs.Header.Clone()
	restore := func(k string) {
		if v, ok := raw[k]; ok {
			want.Header[k] = v
		}
	}
	if theirs.ProtoMinor == 1 && rrHasToken(raw["Connection"], "close") {
		restore("Connection") // D1
	}
	if p := raw["Pragma"]; len(p) > 0 && p[0] == "no-cache" && raw["Cache-Control"] == nil {
		delete(want.Header, "Cache-Control") // D2
	}
	if theirs.TransferEncoding != nil {
		restore("Trailer") // D3
	}
	if raw["Transfer-Encoding"] != nil {
		switch {
		case method == http.MethodHead || bodyless(theirs.StatusCode):
			restore("Transfer-Encoding") // D4
			want.TransferEncoding = nil
		case theirs.ProtoMinor == 0:
			return want, false // D5
		}
	}
	return want, true
}

// rrGoRefusalExpected reports whether net/http's refusal of a head
// readResponse accepts is a deliberate difference (D3, D6).
func rrGoRefusalExpected(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "transfer encoding") || strings.Contains(msg, "bad trailer key")
}

// rrRefusalExpected reports whether readResponse's refusal of a head
// net/http accepts (at the start of rest) is a deliberate difference (D5,
// D6, D8).
func rrRefusalExpected(err error, rest []byte) bool {
	var bad *errBadResponse
	if !errors.As(err, &bad) {
		return false
	}
	// D5, D6: net/http ignores a Transfer-Encoding on HTTP/1.0 and on
	// responses without a body; readResponse refuses codings it cannot
	// read wherever they are.
	for _, why := range []string{"obsolete line folding", "status line", "head larger than 64 KiB", "unsupported Transfer-Encoding"} {
		if strings.HasPrefix(bad.why, why) {
			return true
		}
	}
	switch {
	case strings.HasPrefix(bad.why, "control character"):
		// A value ending in CR: net/http trims it.
		return bytes.Contains(rest, []byte("\r\r"))
	case strings.HasPrefix(bad.why, "field line"):
		// A name with a space: net/http keeps it uncanonicalized (Go
		// issue 34540).
		for line := range bytes.Lines(rest) {
			name, _, ok := bytes.Cut(line, []byte(":"))
			if ok && bytes.ContainsAny(name, " ") {
				return true
			}
		}
	}
	return false
}

// rrAgree reads stream response after response, with readResponse (its
// scratch kept, as upstream.go does) and with http.ReadResponse, each
// over a bufio.Reader of bufSize, and fails t where they disagree beyond
// the deliberate differences: status line, fields, framing, body bytes,
// and where each leaves the reader after the head and after the body.
// With strict, net/http must also accept and read everything readResponse
// does. It returns the bodies readResponse read and the error that ended
// its reading (io.EOF at a clean end of the stream).
func rrAgree(t testing.TB, stream []byte, bufSize int, method string, strict bool) (bodies []string, end error) {
	t.Helper()
	r1, r2 := bytes.NewReader(stream), bytes.NewReader(stream)
	br1, br2 := bufio.NewReaderSize(r1, bufSize), bufio.NewReaderSize(r2, bufSize)
	pos := func(r *bytes.Reader, br *bufio.Reader) int { return len(stream) - r.Len() - br.Buffered() }
	req := &http.Request{Method: method, Header: http.Header{}}
	var scratch []byte
	for i := 0; ; i++ {
		start := pos(r1, br1)
		ours, err := readResponse(br1, &scratch, req, nil)
		theirs, gerr := http.ReadResponse(br2, req)
		if err == io.EOF {
			if gerr != io.ErrUnexpectedEOF || start != len(stream) { // D7
				t.Errorf("response %d: readResponse sees the end at %d of %d, net/http: %v\n%q", i, start, len(stream), gerr, stream)
			}
			return bodies, err
		}
		if err != nil {
			if strict || gerr == nil && !rrRefusalExpected(err, stream[start:]) {
				t.Errorf("response %d: %v; net/http: %v\n%q", i, err, gerr, stream)
			}
			return bodies, err
		}
		if ours.Request != req || ours.Body == nil {
			t.Fatalf("response %d: Request %p (want %p), Body %v", i, ours.Request, req, ours.Body)
		}
		if gerr != nil {
			if strict || !rrGoRefusalExpected(gerr) {
				t.Errorf("response %d: readResponse accepts %+v\nnet/http: %v\n%q", i, rrViewOf(ours), gerr, stream)
			}
			return bodies, nil
		}
		if p1, p2 := pos(r1, br1), pos(r2, br2); p1 != p2 {
			t.Errorf("response %d: head ends at %d, net/http: %d\n%q", i, p1, p2, stream)
			return bodies, nil
		}
		want, framing := rrExpect(theirs, rrRawHeader(stream[start:]), method)
		got := rrViewOf(ours)
		if !framing {
			got.Header, got.ContentLength, got.Close, got.TransferEncoding = nil, 0, false, nil
			want.Header, want.ContentLength, want.Close, want.TransferEncoding = nil, 0, false, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("response %d:\n got %+v\nwant %+v\n%q", i, got, want, stream)
			return bodies, nil
		}
		if !framing {
			return bodies, nil
		}

		b1, e1 := io.ReadAll(io.LimitReader(ours.Body, rrBodyMax))
		b2, e2 := io.ReadAll(io.LimitReader(theirs.Body, rrBodyMax))
		bodies = append(bodies, string(b1))
		if !bytes.Equal(b1, b2) {
			t.Errorf("response %d: body %q (%v)\nnet/http: %q (%v)\n%q", i, b1, e1, b2, e2, stream)
			return bodies, nil
		}
		switch {
		case e2 == nil && e1 != nil:
			t.Errorf("response %d: body: %v, net/http read it\n%q", i, e1, stream)
			return bodies, e1
		case e2 != nil && e1 == nil && ours.TransferEncoding == nil:
			t.Errorf("response %d: body read, net/http: %v\n%q", i, e2, stream)
			return bodies, nil
		case e2 != nil:
			if strict {
				t.Errorf("response %d: body: %v, net/http: %v\n%q", i, e1, e2, stream)
			}
			return bodies, e1 // a broken body, or a trailer net/http will not read (D9)
		}
		if len(b1) == rrBodyMax {
			return bodies, nil
		}
		if p1, p2 := pos(r1, br1), pos(r2, br2); p1 != p2 {
			t.Errorf("response %d: body ends at %d, net/http: %d\n%q", i, p1, p2, stream)
			return bodies, nil
		}
	}
}

// rrWithBody is head (a status line and fields) with a Content-Length
// field for body, and body.
func rrWithBody(head, body string) string {
	return head + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

const (
	rrDate    = "Date: Mon, 03 Mar 2025 10:00:00 GMT\r\n"
	rrGoSmall = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n" + rrDate +
		"Content-Length: 13\r\n\r\nHello, world!"
	rrDjango = "HTTP/1.1 200 OK\r\n" +
		"Server: gunicorn\r\n" + rrDate +
		"Connection: keep-alive\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"X-Frame-Options: DENY\r\n" +
		"Vary: Cookie\r\n" +
		"Content-Length: 22\r\n" +
		"X-Content-Type-Options: nosniff\r\n" +
		"Referrer-Policy: same-origin\r\n" +
		"Cross-Origin-Opener-Policy: same-origin\r\n" +
		"Set-Cookie: csrftoken=Zm9vYmFyYmF6cXV4; expires=Mon, 02 Mar 2026 10:00:00 GMT; Max-Age=31449600; Path=/; SameSite=Lax\r\n" +
		"\r\n<h1>Hello, Django</h1>"
	rrNginx404 = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n" +
		"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"
)

// rrAgreeCases are responses as app servers send them. body is what
// readResponse must read as the body of the last response of in; toClose
// marks a body that runs to the end of the connection.
var rrAgreeCases = []struct {
	name, in, method string
	body             string
	toClose          bool
	minBuf           int // a smaller bufio.Reader is not tried (net/http's trailer must fit in it)
}{
	// Go's net/http
	{name: "go small", in: rrGoSmall, body: "Hello, world!"},
	{name: "go 404", in: rrWithBody("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n"+rrDate, "404 page not found\n"), body: "404 page not found\n"},
	{name: "go chunked", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n" + rrDate +
		"Transfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8\r\n, world!\r\n0\r\n\r\n", body: "Hello, world!"},
	{name: "go 204", in: "HTTP/1.1 204 No Content\r\n" + rrDate + "\r\n"},
	{name: "go 304", in: "HTTP/1.1 304 Not Modified\r\nEtag: \"abc\"\r\nLast-Modified: Sun, 02 Mar 2025 10:00:00 GMT\r\n" + rrDate + "\r\n"},

	// gunicorn and Django
	{name: "gunicorn sync", in: rrWithBody("HTTP/1.1 200 OK\r\nServer: gunicorn\r\n"+rrDate+"Connection: close\r\nContent-Type: text/html; charset=utf-8\r\n", "<p>hello</p>\n"), body: "<p>hello</p>\n"},
	{name: "gunicorn HTTP/1.0", in: rrWithBody("HTTP/1.0 200 OK\r\nServer: gunicorn\r\n"+rrDate+"Connection: close\r\n", "ok"), body: "ok"},
	{name: "gunicorn no length", in: "HTTP/1.1 200 OK\r\nServer: gunicorn\r\n" + rrDate + "Connection: close\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n", body: "a,b\n1,2\n", toClose: true},
	{name: "django", in: rrDjango, body: "<h1>Hello, Django</h1>"},
	{name: "django redirect", in: "HTTP/1.1 302 Found\r\nServer: gunicorn\r\n" + rrDate + "Connection: keep-alive\r\n" +
		"Content-Type: text/html; charset=utf-8\r\nLocation: /login/?next=/\r\nVary: Cookie\r\nVary: Accept-Language\r\n" +
		"Set-Cookie: sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/\r\n" +
		"Set-Cookie: messages=abc; Path=/; HttpOnly; SameSite=Lax\r\nContent-Length: 0\r\n\r\n"},
	{name: "django 304 with length", in: "HTTP/1.1 304 Not Modified\r\nServer: gunicorn\r\n" + rrDate + "Etag: \"5d8c72a5edda8d6a\"\r\nContent-Length: 1234\r\n\r\n"},
	{name: "django 204 with length 0", in: "HTTP/1.1 204 No Content\r\nServer: gunicorn\r\n" + rrDate + "Content-Length: 0\r\n\r\n"},
	{name: "uvicorn streaming", in: "HTTP/1.1 200 OK\r\ndate: Mon, 03 Mar 2025 10:00:00 GMT\r\nserver: uvicorn\r\ncontent-type: text/plain; charset=utf-8\r\n" +
		"transfer-encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n", body: "onetwo"},

	// Node
	{name: "express", in: "HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 17\r\n" +
		"ETag: W/\"11-aGVsbG8gd29ybGQ\"\r\n" + rrDate + "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n{\"hello\":\"world\"}", body: `{"hello":"world"}`},
	{name: "node chunked", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + rrDate + "Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n6\r\nchunk1\r\n6\r\nchunk2\r\n0\r\n\r\n", body: "chunk1chunk2"},
	{name: "node close", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + rrDate + "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", body: "ok"},

	// nginx
	{name: "nginx 404", in: rrWithBody("HTTP/1.1 404 Not Found\r\nServer: nginx/1.24.0\r\n"+rrDate+"Content-Type: text/html\r\nConnection: keep-alive\r\n", rrNginx404), body: rrNginx404},
	{name: "nginx HTTP/1.0 keep-alive", in: rrWithBody("HTTP/1.0 200 OK\r\nServer: nginx\r\nConnection: keep-alive\r\n", "ok"), body: "ok"},
	{name: "nginx 301", in: rrWithBody("HTTP/1.1 301 Moved Permanently\r\nServer: nginx\r\n"+rrDate+"Content-Type: text/html\r\nLocation: https://example.com/\r\nConnection: keep-alive\r\n", "<html></html>\r\n"), body: "<html></html>\r\n"},

	// Chunk extensions and trailers
	{name: "chunk extensions", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nHello\r\n7;x;y=\"z\"\r\n, world\r\n0;end\r\n\r\n", body: "Hello, world"},
	{name: "trailer", in: "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n", body: "ok"},
	{name: "trailers", in: "HTTP/1.1 200 OK\r\nTrailer: X-Sum, X-Len\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: abc\r\nX-Len: 2\r\n\r\n", body: "ok", minBuf: 64},
	{name: "chunked and Content-Length", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", body: "ok"},
	{name: "Chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n2\r\nok\r\n0\r\n\r\n", body: "ok"},
	{name: "empty chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "big chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000\r\n" + strings.Repeat("a", 0x4000) + "\r\n0\r\n\r\n", body: strings.Repeat("a", 0x4000)},

	// Close-delimited bodies, Connection
	{name: "HTTP/1.0 to the close", in: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close", body: "until the close", toClose: true},
	{name: "HTTP/1.0 keep-alive to the close", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nuntil the close", body: "until the close", toClose: true},
	{name: "HTTP/1.1 to the close", in: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x\n\n", body: "data: x\n\n", toClose: true},
	{name: "HTTP/1.1 empty to the close", in: "HTTP/1.1 200 OK\r\n\r\n", toClose: true},
	{name: "Connection: close with a length", in: rrWithBody("HTTP/1.1 200 OK\r\nConnection: close\r\n", "ok"), body: "ok"},
	{name: "Connection: keep-alive, Close", in: rrWithBody("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n", "ok"), body: "ok"},
	{name: "Connection: close twice", in: rrWithBody("HTTP/1.1 200 OK\r\nConnection: Upgrade\r\nConnection: close\r\n", "ok"), body: "ok"},
	{name: "HTTP/1.0 Keep-Alive", in: rrWithBody("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5, max=100\r\n", "ok"), body: "ok"},
	{name: "HTTP/1.0 keep-alive, close", in: rrWithBody("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n", "ok"), body: "ok"},

	// HEAD, 1xx, 204, 304
	{name: "HEAD with a length", method: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1234\r\n\r\n"},
	{name: "HEAD with a length 0", method: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "HEAD HTTP/1.0 with a length", method: "HEAD", in: "HTTP/1.0 200 OK\r\nContent-Length: 1234\r\n\r\n"},
	{name: "HEAD chunked with a length", method: "HEAD", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n"},
	// ContentLength is -1 (unknown) without a Content-Length (it was 0).
	{name: "HEAD without a length", method: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: keep-alive\r\n\r\n"},
	{name: "HEAD chunked", method: "HEAD", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "204 with a length", in: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"},
	{name: "304 chunked", in: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{name: "HTTP/1.0 304", in: "HTTP/1.0 304 Not Modified\r\nContent-Length: 10\r\n\r\n"},
	{name: "100 Continue", in: "HTTP/1.1 100 Continue\r\n\r\n" + rrGoSmall, body: "Hello, world!"},
	{name: "103 Early Hints", in: "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nLink: </script.js>; rel=preload; as=script\r\n\r\n" + rrDjango, body: "<h1>Hello, Django</h1>"},
	{name: "100 then 103", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + rrGoSmall, body: "Hello, world!"},
	{name: "103 with a length", in: "HTTP/1.1 103 Early Hints\r\nContent-Length: 10\r\nLink: </a.css>; rel=preload\r\n\r\n" + rrGoSmall, body: "Hello, world!"},
	{name: "103 keep-alive HTTP/1.0", in: "HTTP/1.0 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + rrGoSmall, body: "Hello, world!"},

	// Status lines
	{name: "no reason", in: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "empty reason", in: "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "odd reason", in: "HTTP/1.1 201 Très  bien \t!\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "599", in: "HTTP/1.1 599 Network Connect Timeout\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "long status line", in: "HTTP/1.1 500 Internal Server Error, and a reason longer than sixteen bytes\r\nContent-Length: 2\r\n\r\nok", body: "ok"},

	// Line endings, names, values
	{name: "bare LF", in: "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 2\n\nok", body: "ok"},
	{name: "bare LF end", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\nok", body: "ok"},
	{name: "bare LF chunked", in: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\r\nok\r\n0\r\n\r\n", body: "ok"},
	{name: "names in any case", in: "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nCONTENT-LENGTH: 2\r\nx-request-id: abc\r\nX-rEqUeSt-Id: def\r\nwww-authenticate: Basic\r\n\r\nok", body: "ok"},
	{name: "repeated fields", in: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nCache-Control: no-cache\r\nSet-Cookie: b=2\r\nCache-Control: no-store\r\nSet-Cookie: c=3\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "same Content-Length twice", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "same Content-Length twice, spaced", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length:\t2 \r\n\r\nok", body: "ok"},
	{name: "Content-Length 0", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
	{name: "Content-Length leading zeros", in: "HTTP/1.1 200 OK\r\nContent-Length: 0002\r\n\r\nok", body: "ok"},
	{name: "whitespace", in: "HTTP/1.1 200 OK\r\nX-A: \t v  w \t\r\nX-B:v\r\nX-Empty:\r\nX-Blank: \t \r\nContent-Length:2\r\n\r\nok", body: "ok"},
	{name: "obs-text and symbols", in: "HTTP/1.1 200 OK\r\nX-Name: Zoë \xff\r\nX-!#$%&'*+-.^_`|~09az: x\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "Pragma", in: "HTTP/1.1 200 OK\r\nPragma: no-cache\r\nContent-Length: 2\r\n\r\nok", body: "ok"},
	{name: "long cookie", in: rrWithBody("HTTP/1.1 200 OK\r\nSet-Cookie: session="+strings.Repeat("x", 300)+"; Path=/\r\n", "ok"), body: "ok"},
	{name: "20 KiB field", in: rrWithBody("HTTP/1.1 200 OK\r\nContent-Security-Policy: "+strings.Repeat("default-src 'self'; ", 1024)+"\r\n", "ok"), body: "ok"},
	{name: "60 KiB head", in: rrWithBody("HTTP/1.1 200 OK\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 60), "ok"), body: "ok"},
}

// TestReadResponseAgreesWithGo proves that readResponse reads realistic
// responses as http.ReadResponse does, field by field and body byte by
// byte, and leaves the reader where it does, whatever br's buffer size.
func TestReadResponseAgreesWithGo(t *testing.T) {
	for _, c := range rrAgreeCases {
		t.Run(c.name, func(t *testing.T) {
			method, next, nextBody := c.method, rrNext, "next"
			if method == "" {
				method = http.MethodGet
			}
			if method == http.MethodHead {
				next, nextBody = rrNextHead, ""
			}
			for _, size := range []int{16, 4096, 16 << 10} {
				if size < c.minBuf {
					continue
				}
				bodies, end := rrAgree(t, []byte(c.in+next), size, method, true)
				if t.Failed() {
					t.Fatalf("buffer %d", size)
				}
				want := []string{c.body, nextBody}
				if c.toClose {
					want = []string{c.body + next}
				}
				if end != io.EOF || len(bodies) < len(want) || !reflect.DeepEqual(bodies[len(bodies)-len(want):], want) {
					t.Fatalf("buffer %d: bodies %q, then %v; want %q, then EOF", size, bodies, end, want)
				}
			}
		})
	}
}

// TestReadResponseTransferCodings proves how readResponse frames the
// Transfer-Encodings net/http refuses or ignores (D5, D6): per RFC 9112
// 6.1 and 6.3, and without losing a coding the body still carries.
func TestReadResponseTransferCodings(t *testing.T) {
	const body = "2\r\nok\r\n0\r\n\r\n"
	for _, c := range []struct {
		name, in string
		check    func(resp *http.Response, body string, err error) string // "" if right
	}{
		// Only chunked is read (as by net/http's client): a body in another
		// coding would reach the client still coded and unlabelled.
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nGZ", rrKeepsGzip},
		{"chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + body, rrKeepsGzip},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + body, rrKeepsGzip},
		{"gzip then chunked, two fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + body, rrKeepsGzip},
		{"chunked then gzip, two fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n" + body, rrKeepsGzip},
		// RFC 9110 5.6.1.2: empty list elements are
		// ignored; the last coding is chunked.
		{"chunked with an empty list element", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked ,\r\n\r\n" + body, func(r *http.Response, b string, err error) string {
			if err != nil || r.Close || b != "ok" {
				return "want a chunked body"
			}
			return ""
		}},
		{"HTTP/1.0 chunked", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n" + body, func(r *http.Response, b string, err error) string {
			if err != nil || !r.Close || b != "ok" || r.ContentLength != -1 {
				return "want a chunked body, then the close"
			}
			return ""
		}},
		// RFC 9112 6.1: an HTTP/1.0 message with a
		// Transfer-Encoding has faulty framing; the connection must be
		// closed after it, keep-alive or not.
		{"HTTP/1.0 keep-alive chunked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + body, func(r *http.Response, b string, err error) string {
			if err != nil || !r.Close || b != "ok" {
				return "want a chunked body, then the close"
			}
			return ""
		}},
	} {
		for _, size := range []int{16, 4096} {
			var scratch []byte
			br := bufio.NewReaderSize(strings.NewReader(c.in+rrNext), size)
			resp, err := readResponse(br, &scratch, &http.Request{Method: http.MethodGet}, nil)
			var b []byte
			if err == nil {
				b, err = io.ReadAll(resp.Body)
			}
			if msg := c.check(resp, string(b), err); msg != "" {
				if resp != nil {
					t.Errorf("%s, buffer %d: %s\n got %+v, body %q, %v", c.name, size, msg, rrViewOf(resp), b, err)
				} else {
					t.Errorf("%s, buffer %d: %s\n got %v", c.name, size, msg, err)
				}
			}
		}
	}
}

// rrKeepsGzip checks a response whose codings are gzip then chunked: it
// is refused (as net/http does), or read with the gzip coding still in
// its Header or TransferEncoding.
func rrKeepsGzip(r *http.Response, b string, err error) string {
	if err != nil && r == nil {
		return ""
	}
	if err != nil {
		return "body: " + err.Error()
	}
	if !strings.Contains(strings.ToLower(strings.Join(r.Header["Transfer-Encoding"], ",")), "gzip") &&
		!strings.Contains(strings.Join(r.TransferEncoding, ","), "gzip") {
		return "the gzip coding is lost: refuse the response, or keep the coding"
	}
	return ""
}

// Expected errors in rrRefusals besides exact ones (io.EOF,
// io.ErrUnexpectedEOF, compared with ==, as upstream.go does).
var (
	rrBad = errors.New("an *errBadResponse")
	rrAny = errors.New("an error other than io.EOF")
)

func rrErrIs(err, want error) bool {
	switch want {
	case rrBad:
		var e *errBadResponse
		return errors.As(err, &e)
	case rrAny:
		return err != nil && err != io.EOF
	}
	return err == want
}

// rrRefusal is a response readResponse must refuse: its head, or (body)
// when its body is read.
type rrRefusal struct {
	name, in, method string
	want             error
	body             bool
}

func rrRefusals() []rrRefusal {
	const ok = "HTTP/1.1 200 OK\r\n"
	chunked := ok + "Transfer-Encoding: chunked\r\n\r\n"
	bigHead := ok + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 66) + "Content-Length: 0\r\n\r\n"
	bigTrailer := chunked + "2\r\nok\r\n0\r\n" + strings.Repeat("X-T: "+strings.Repeat("t", 15000)+"\r\n", 5) + "\r\n"
	return []rrRefusal{
		// Fields
		{name: "obs-fold", in: ok + "X-A: a\r\n b\r\nContent-Length: 0\r\n\r\n", want: rrBad},
		{name: "obs-fold, tab", in: ok + "X-A: a\r\n\tb\r\n\r\n", want: rrBad},
		{name: "folded first line", in: ok + " X-A: a\r\n\r\n", want: rrBad},
		{name: "no colon", in: ok + "X-A a\r\n\r\n", want: rrBad},
		{name: "no colon, bare LF", in: "HTTP/1.1 200 OK\nX-A\n\n", want: rrBad},
		{name: "empty name", in: ok + ": a\r\n\r\n", want: rrBad},
		{name: "space before colon", in: ok + "X-A : a\r\n\r\n", want: rrBad},
		{name: "name with space", in: ok + "X A: a\r\n\r\n", want: rrBad},
		{name: "name with parenthesis", in: ok + "X(A): a\r\n\r\n", want: rrBad},
		{name: "name with @", in: ok + "X@A: a\r\n\r\n", want: rrBad},
		{name: "name with obs-text", in: ok + "X\xe9: a\r\n\r\n", want: rrBad},
		{name: "name with NUL", in: ok + "X\x00: a\r\n\r\n", want: rrBad},
		{name: "NUL in value", in: ok + "X-A: a\x00b\r\n\r\n", want: rrBad},
		{name: "SOH in value", in: ok + "X-A: \x01\r\n\r\n", want: rrBad},
		{name: "DEL in value", in: ok + "X-A: a\x7f\r\n\r\n", want: rrBad},
		{name: "CR in value", in: ok + "X-A: a\rb\r\n\r\n", want: rrBad},
		{name: "CR ending value", in: ok + "X-A: a\r\r\n\r\n", want: rrBad},
		{name: "CR CR LF line", in: ok + "X-A: a\r\n\r\r\n\r\n", want: rrBad},
		{name: "ESC in value", in: ok + "X-A: \x1b[31m\r\n\r\n", want: rrBad},

		// Content-Length
		{name: "differing Content-Lengths", in: ok + "Content-Length: 2\r\nContent-Length: 3\r\n\r\nok", want: rrBad},
		{name: "differing Content-Lengths, chunked", in: ok + "Content-Length: 2\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: rrBad},
		{name: "differing Content-Lengths, HEAD", method: "HEAD", in: ok + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n", want: rrBad},
		{name: "Content-Length list", in: ok + "Content-Length: 2, 2\r\n\r\nok", want: rrBad},
		{name: "non-numeric Content-Length", in: ok + "Content-Length: abc\r\n\r\n", want: rrBad},
		{name: "negative Content-Length", in: ok + "Content-Length: -1\r\n\r\n", want: rrBad},
		{name: "signed Content-Length", in: ok + "Content-Length: +2\r\n\r\nok", want: rrBad},
		{name: "empty Content-Length", in: ok + "Content-Length: \r\n\r\n", want: rrBad},
		{name: "hex Content-Length", in: ok + "Content-Length: 0x10\r\n\r\n", want: rrBad},
		{name: "Content-Length with underscore", in: ok + "Content-Length: 1_0\r\n\r\n", want: rrBad},
		{name: "Content-Length 2^63", in: ok + "Content-Length: 9223372036854775808\r\n\r\n", want: rrBad},
		// An invalid Content-Length is refused even where it does not
		// frame the body, as net/http does: it would go on to the client.
		{name: "negative Content-Length, HEAD", method: "HEAD", in: ok + "Content-Length: -5\r\n\r\n", want: rrBad},
		{name: "non-numeric Content-Length, HEAD", method: "HEAD", in: ok + "Content-Length: abc\r\n\r\n", want: rrBad},
		{name: "non-numeric Content-Length, 204", in: "HTTP/1.1 204 No Content\r\nContent-Length: abc\r\n\r\n", want: rrBad},
		{name: "negative Content-Length, 304", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: -1\r\n\r\n", want: rrBad},
		{name: "non-numeric Content-Length, 103", in: "HTTP/1.1 103 Early Hints\r\nContent-Length: x\r\n\r\n", want: rrBad},
		{name: "non-numeric Content-Length, chunked", in: ok + "Content-Length: abc\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", want: rrBad},

		// Status lines
		{name: "HTTP/2.0", in: "HTTP/2.0 200 OK\r\n\r\n", want: rrBad},
		{name: "HTTP/1.2", in: "HTTP/1.2 200 OK\r\n\r\n", want: rrBad},
		{name: "HTTP/0.9", in: "HTTP/0.9 200 OK\r\n\r\n", want: rrBad},
		{name: "HTTP/1", in: "HTTP/1 200 OK\r\n\r\n", want: rrBad},
		{name: "lower-case HTTP", in: "http/1.1 200 OK\r\n\r\n", want: rrBad},
		{name: "two-digit code", in: "HTTP/1.1 20 OK\r\n\r\n", want: rrBad},
		{name: "code 999x", in: "HTTP/1.1 999x\r\n\r\n", want: rrBad},
		{name: "code 999", in: "HTTP/1.1 999 Odd\r\n\r\n", want: rrBad},
		{name: "code 600", in: "HTTP/1.1 600 Odd\r\n\r\n", want: rrBad},
		{name: "code 099", in: "HTTP/1.1 099 Odd\r\n\r\n", want: rrBad},
		{name: "code 2x0", in: "HTTP/1.1 2x0 OK\r\n\r\n", want: rrBad},
		{name: "code -20", in: "HTTP/1.1 -20 OK\r\n\r\n", want: rrBad},
		{name: "four-digit code", in: "HTTP/1.1 2000 OK\r\n\r\n", want: rrBad},
		{name: "no space after code", in: "HTTP/1.1 200OK\r\n\r\n", want: rrBad},
		{name: "tab after code", in: "HTTP/1.1 200\tOK\r\n\r\n", want: rrBad},
		{name: "two spaces before code", in: "HTTP/1.1  200 OK\r\n\r\n", want: rrBad},
		{name: "tab before code", in: "HTTP/1.1\t200 OK\r\n\r\n", want: rrBad},
		{name: "leading space", in: " HTTP/1.1 200 OK\r\n\r\n", want: rrBad},
		{name: "ICY", in: "ICY 200 OK\r\n\r\n", want: rrBad},
		{name: "a request line", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", want: rrBad},
		{name: "version only", in: "HTTP/1.1\r\n\r\n", want: rrBad},
		{name: "empty first line", in: "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", want: rrBad},
		{name: "empty first line, bare LF", in: "\nHTTP/1.1 200 OK\r\n\r\n", want: rrBad},
		{name: "CR first line", in: "\r\r\n\r\n", want: rrBad},

		// Sizes and ends
		{name: "head over 64 KiB", in: bigHead, want: rrBad},
		{name: "line over 64 KiB, unended", in: ok + "X-A: " + strings.Repeat("a", 70<<10), want: rrBad},
		{name: "empty stream", in: "", want: io.EOF},
		{name: "one byte", in: "H", want: io.ErrUnexpectedEOF},
		{name: "status line unended", in: "HTTP/1.1 200 OK", want: io.ErrUnexpectedEOF},
		{name: "status line only", in: ok, want: io.ErrUnexpectedEOF},
		{name: "field unended", in: ok + "Content-Le", want: io.ErrUnexpectedEOF},
		{name: "no empty line", in: ok + "Content-Length: 2\r\n", want: io.ErrUnexpectedEOF},
		{name: "half an empty line", in: ok + "Content-Length: 2\r\n\r", want: io.ErrUnexpectedEOF},

		// Bodies
		{name: "Content-Length body cut", in: ok + "Content-Length: 10\r\n\r\nshort", want: io.ErrUnexpectedEOF, body: true},
		{name: "Content-Length body missing", in: ok + "Content-Length: 10\r\n\r\n", want: io.ErrUnexpectedEOF, body: true},
		{name: "chunk cut", in: chunked + "5\r\nHel", want: io.ErrUnexpectedEOF, body: true},
		{name: "chunk line cut", in: chunked + "5", want: io.ErrUnexpectedEOF, body: true},
		{name: "no last chunk", in: chunked + "5\r\nHello\r\n", want: io.ErrUnexpectedEOF, body: true},
		{name: "no end of trailer", in: chunked + "0\r\n", want: io.ErrUnexpectedEOF, body: true},
		{name: "trailer cut", in: chunked + "0\r\nX-T: 1\r\n", want: io.ErrUnexpectedEOF, body: true},
		{name: "chunk without CRLF", in: chunked + "5\r\nHelloXX0\r\n\r\n", want: rrAny, body: true},
		{name: "chunk line with bare LF", in: chunked + "5\nHello\r\n0\r\n\r\n", want: rrAny, body: true},
		{name: "chunk size not hex", in: chunked + "zz\r\n\r\n", want: rrAny, body: true},
		{name: "chunk size negative", in: chunked + "-1\r\n\r\n", want: rrAny, body: true},
		{name: "trailer over 64 KiB", in: bigTrailer, want: rrBad, body: true},
	}
}

// TestReadResponseRefusals proves that readResponse refuses malformed,
// truncated and oversized responses with the right error (an
// *errBadResponse for a format problem; io.EOF exactly for an empty
// stream, io.ErrUnexpectedEOF for a cut one), at the head or when the body
// is read, without panicking, whatever br's buffer size.
func TestReadResponseRefusals(t *testing.T) {
	for _, c := range rrRefusals() {
		method := c.method
		if method == "" {
			method = http.MethodGet
		}
		for _, size := range []int{16, 16 << 10} {
			var scratch []byte
			br := bufio.NewReaderSize(strings.NewReader(c.in), size)
			resp, err := readResponse(br, &scratch, &http.Request{Method: method}, nil)
			if c.body {
				if err != nil {
					t.Errorf("%s, buffer %d: head refused: %v", c.name, size, err)
					continue
				}
				_, err = io.ReadAll(resp.Body)
			} else if err == nil {
				t.Errorf("%s, buffer %d: accepted %+v", c.name, size, rrViewOf(resp))
				continue
			}
			if !rrErrIs(err, c.want) {
				t.Errorf("%s, buffer %d: %T %v; want %v", c.name, size, err, err, c.want)
			}
		}
	}
}

// TestReadResponseHeadLimit proves that a head of exactly 64 KiB is read
// and one a byte longer refused, whatever br's buffer size.
func TestReadResponseHeadLimit(t *testing.T) {
	for _, extra := range []int{0, 1} {
		head := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
		for len(head)+1000 < maxResponseHead {
			head += "X-Pad: " + strings.Repeat("p", 990) + "\r\n"
		}
		lastLen := maxResponseHead - len(head) - len("X-Last: \r\n\r\n") + extra
		head += "X-Last: " + strings.Repeat("l", lastLen) + "\r\n\r\n"
		if len(head) != maxResponseHead+extra {
			t.Fatalf("head of %d bytes", len(head))
		}
		for _, size := range []int{16, 4096, 16 << 10} {
			var scratch []byte
			br := bufio.NewReaderSize(strings.NewReader(head+"ok"), size)
			resp, err := readResponse(br, &scratch, &http.Request{Method: http.MethodGet}, nil)
			if extra == 0 {
				if err != nil {
					t.Errorf("64 KiB head, buffer %d: %v", size, err)
				} else if b, _ := io.ReadAll(resp.Body); len(resp.Header.Get("X-Last")) != lastLen || string(b) != "ok" {
					t.Errorf("64 KiB head, buffer %d: X-Last of %d bytes, body %q", size, len(resp.Header.Get("X-Last")), b)
				}
			}
			if extra == 1 && !rrErrIs(err, rrBad) {
				t.Errorf("64 KiB + 1 head, buffer %d: %v", size, err)
			}
		}
	}
}

// TestReadResponseBodyErrorSticky proves that a chunked body that failed
// (here in a trailer cut short) keeps failing, as net/http's does (Go
// issue 12027), and is never taken for a whole body; and that a trailer
// line longer than br's buffer is read.
func TestReadResponseBodyErrorSticky(t *testing.T) {
	long := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Long: " + strings.Repeat("a", 40) + "\r\n\r\n"
	var scratch []byte
	resp, err := readResponse(bufio.NewReaderSize(strings.NewReader(long), 16), &scratch, &http.Request{Method: http.MethodGet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
		t.Fatalf("a trailer line longer than the buffer: %q, %v", b, err)
	}
	in := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Cut: " + strings.Repeat("a", 40)
	resp, err = readResponse(bufio.NewReaderSize(strings.NewReader(in), 16), &scratch, &http.Request{Method: http.MethodGet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("a trailer cut short was read as whole")
	}
	for i := range 10 {
		if n, err := resp.Body.Read(make([]byte, 8)); err == nil || err == io.EOF {
			t.Fatalf("read %d after the error: %d, %v; want the error again", i, n, err)
		}
	}
}

// TestReadResponseScratch proves that the scratch buffer is kept between
// responses and reused, and that the Header read does not alias it.
func TestReadResponseScratch(t *testing.T) {
	var scratch []byte
	br := bufio.NewReader(strings.NewReader(rrDjango + rrGoSmall))
	req := &http.Request{Method: http.MethodGet}
	first, err := readResponse(br, &scratch, req, nil)
	if err != nil || cap(scratch) == 0 {
		t.Fatalf("%v, scratch of %d bytes", err, cap(scratch))
	}
	io.Copy(io.Discard, first.Body)
	buf := &scratch[:1][0]
	second, err := readResponse(br, &scratch, req, nil)
	if err != nil || &scratch[:1][0] != buf {
		t.Fatalf("scratch buffer not reused (%v)", err)
	}
	if first.Header.Get("Server") != "gunicorn" || first.Header.Get("Content-Length") != "22" ||
		second.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("headers overwritten: %v, %v", first.Header, second.Header)
	}
}

// TestReadResponseAllocs proves that a field costs no allocation of its
// own: a response is the Response, the Header map (one allocation up to
// 8 names, four past), the values' backing array, the head's string and
// the body's reader.
func TestReadResponseAllocs(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     float64
	}{
		{"go", rrGoSmall, 6},
		{"django", rrDjango, 8},
	} {
		var scratch []byte
		r := strings.NewReader(c.in)
		br := bufio.NewReader(r)
		req := &http.Request{Method: http.MethodGet}
		n := testing.AllocsPerRun(100, func() {
			r.Reset(c.in)
			br.Reset(r)
			resp, err := readResponse(br, &scratch, req, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
		})
		// A field's first value is a slice of one backing array for all.
		if n > c.want {
			t.Errorf("%s: %v allocations, want %v", c.name, n, c.want)
		}
	}
}

// FuzzReadResponse proves that for any input readResponse does not panic,
// reads the first head alike whatever br's buffer size, and agrees with
// http.ReadResponse on every response both accept (fields, framing, body
// bytes up to 1 MiB, position), the deliberate differences aside.
func FuzzReadResponse(f *testing.F) {
	for _, c := range rrAgreeCases {
		if len(c.in) < 4096 {
			next := rrNext
			if c.method == "HEAD" {
				next = rrNextHead
			}
			f.Add(c.method == "HEAD", []byte(c.in+next))
		}
	}
	for _, c := range rrRefusals() {
		if len(c.in) < 4096 {
			f.Add(c.method == "HEAD", []byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, head bool, data []byte) {
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		req := &http.Request{Method: method}
		var s1, s2 []byte
		r1, err1 := readResponse(bufio.NewReaderSize(bytes.NewReader(data), 16), &s1, req, nil)
		r2, err2 := readResponse(bufio.NewReaderSize(bytes.NewReader(data), 4096), &s2, req, nil)
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("buffer 16: %v; buffer 4096: %v", err1, err2)
		}
		if r1 != nil && !reflect.DeepEqual(rrViewOf(r1), rrViewOf(r2)) {
			t.Fatalf("buffer 16: %+v\nbuffer 4096: %+v", rrViewOf(r1), rrViewOf(r2))
		}
		rrAgree(t, data, 16, method, false)
		rrAgree(t, data, 4096, method, false)
	})
}

// rrBench reads the same response over and over from a 16 KiB
// bufio.Reader, as upstream.go does (scratch kept), with readResponse or
// http.ReadResponse; one op is one response, head and body.
func rrBench(b *testing.B, goRead bool) {
	for _, c := range []struct{ name, in string }{{"go", rrGoSmall}, {"django", rrDjango}} {
		b.Run(c.name, func(b *testing.B) {
			br := bufio.NewReaderSize(&reqLoop{data: strings.Repeat(c.in, 64)}, 16<<10)
			req := &http.Request{Method: http.MethodGet}
			var scratch []byte
			var body [64]byte
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				var resp *http.Response
				var err error
				if goRead {
					resp, err = http.ReadResponse(br, req)
				} else {
					resp, err = readResponse(br, &scratch, req, nil)
				}
				if err != nil {
					b.Fatal(err)
				}
				for err == nil {
					_, err = resp.Body.Read(body[:])
				}
				if err != io.EOF {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

func BenchmarkReadResponse(b *testing.B)        { rrBench(b, false) }
func BenchmarkReadResponseNetHTTP(b *testing.B) { rrBench(b, true) }
