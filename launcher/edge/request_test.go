package edge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const reqMax = 64 << 10 // the edge's limit

// reqSmuggle is a request that must be refused wherever it starts a head.
const reqSmuggle = "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

// reqFakeHead is body data that looks like the end of a head and the
// start of a smuggled request.
const reqFakeHead = "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n folded\r\n\r\n0\r\n\r\n" + reqSmuggle

// reqReadAll reads the requests of a connection's bytes one after the
// other from one bufio.Reader of size bufSize, skipping each body by its
// frame, until the input ends (err nil) or a read fails (err).
func reqReadAll(in string, bufSize, max int) (reqs []*http.Request, frames []reqFrame, err error) {
	br := bufio.NewReaderSize(strings.NewReader(in), bufSize)
	var h headReader
	for {
		req, fr, err := h.read(br, max)
		if err == io.EOF {
			return reqs, frames, nil
		}
		if err != nil {
			return reqs, frames, err
		}
		reqs, frames = append(reqs, req), append(frames, fr)
		if err := reqSkipBody(&h, br, fr, max, req); err != nil {
			return reqs, frames, err
		}
	}
}

// reqSkipBody reads the body the frame announces; a chunked body's
// trailer goes into req.Trailer, as the server does.
func reqSkipBody(h *headReader, br *bufio.Reader, fr reqFrame, max int, req *http.Request) error {
	if !fr.chunked {
		_, err := br.Discard(int(fr.length))
		return err
	}
	if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(br)); err != nil {
		return err
	}
	t, err := h.readTrailer(br, max)
	if err != nil {
		return err
	}
	for k, v := range t {
		if req.Trailer == nil {
			req.Trailer = make(http.Header)
		}
		req.Trailer[k] = append(req.Trailer[k], v...)
	}
	return nil
}

// reqRefusals covers every refusal: each input's last head (after any
// legitimate requests before it) must be refused with status and reason.
// The first group are the request smuggling forms.
var reqRefusals = []struct {
	name, in string
	status   int
	reason   string
}{
	{"CL then TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
	{"TE then CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
	{"CL and TE any case", "POST / HTTP/1.1\r\nhost: a\r\ncontent-LENGTH: 5\r\nTRANSFER-encoding: CHUNKED\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
	{"CL and unsupported TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
	{"CL and TE bare LF", "POST / HTTP/1.1\nHost: a\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n", 400, "both Content-Length and Transfer-Encoding"},
	{"duplicate CL identical", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400, "duplicate Content-Length"},
	{"duplicate CL differing", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "duplicate Content-Length"},
	{"duplicate CL apart", "POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\ncontent-length:5\r\n\r\nhello", 400, "duplicate Content-Length"},
	{"duplicate CL with TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nCONTENT-LENGTH: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "duplicate Content-Length"},
	{"obs-fold space", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400, "obsolete line folding in a header"},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\t2\r\n\r\n", 400, "obsolete line folding in a header"},
	{"obs-fold first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400, "obsolete line folding in a header"},
	{"obs-fold bare LF", "GET / HTTP/1.1\nHost: a\nX-A: 1\n 2\n\n", 400, "obsolete line folding in a header"},
	{"obs-fold blank", "GET / HTTP/1.1\r\nHost: a\r\n \r\n\r\n", 400, "obsolete line folding in a header"},
	{"obs-fold in trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n 2\r\n\r\n", 400, "obsolete line folding in a trailer"},
	{"obs-fold first trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\tX-T: 1\r\n\r\n", 400, "obsolete line folding in a trailer"},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 request"},
	{"TE identity in HTTP/1.0", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: identity\r\n\r\n", 400, "Transfer-Encoding in an HTTP/1.0 request"},
	{"smuggle after GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n" + reqSmuggle, 400, "both Content-Length and Transfer-Encoding"},
	{"smuggle after body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" + reqSmuggle, 400, "both Content-Length and Transfer-Encoding"},
	{"smuggle after chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" + reqSmuggle, 400, "both Content-Length and Transfer-Encoding"},
	{"smuggle after refused upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" + reqSmuggle, 400, "both Content-Length and Transfer-Encoding"},

	// Transfer-Encoding other than exactly chunked.
	{"TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE chunked;", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE after a tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE before a tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \t\r\n\r\n0\r\n\r\n", 501, "unsupported Transfer-Encoding"},
	{"TE Unicode fold", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u212aHUNKED\r\n\r\n", 501, "unsupported Transfer-Encoding"},

	// Content-Length values.
	{"CL plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL minus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"},
	{"CL two numbers", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL after a tab", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t5\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL before a tab", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400, "invalid Content-Length"},
	{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400, "invalid Content-Length"},
	{"CL too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, "invalid Content-Length"},
	{"CL far too large", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "invalid Content-Length"},

	// Host.
	{"no Host", "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", 400, "missing Host"},
	{"no Host absolute-form", "GET http://a/ HTTP/1.1\r\n\r\n", 400, "missing Host"},
	{"no Host CONNECT", "CONNECT a:443 HTTP/1.1\r\n\r\n", 400, "missing Host"},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400, "duplicate Host"},
	{"two Hosts HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate Host"},
	{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid Host"},
	{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, "invalid Host"},
	{"Host with obs-text", "GET / HTTP/1.1\r\nHost: \xc3\xa9\r\n\r\n", 400, "invalid Host"},

	// Request line.
	{"no version", "GET /\r\nHost: a\r\n\r\n", 400, "malformed request line"},
	{"only a method", "GET\r\n\r\n", 400, "malformed request line"},
	{"empty target", "GET  HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line"},
	{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line"},
	{"TLS hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "malformed request line"},
	{"bad method", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method"},
	{"method with tab", "GE\tT / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid method"},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request line"},
	{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
	{"version without minor", "GET / HTTP/2\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
	{"version 10.0", "GET / HTTP/10.0\r\nHost: a\r\n\r\n", 400, "malformed HTTP version"},
	{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, "unsupported HTTP version"},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"},
	{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505, "unsupported HTTP version"},
	{"bad escape", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request target"},
	{"CTL in target", "GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request target"},
	{"relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400, "malformed request target"},
	{"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "asterisk-form target without OPTIONS"},

	// Field lines.
	{"CR inside request line", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400, "CR without LF in the head"},
	{"CR inside a value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n", 400, "CR without LF in the head"},
	{"CR at the end", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\r\n\r\n", 400, "CR without LF in the head"},
	{"CR as the empty line", "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n", 400, "CR without LF in the head"},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A 1\r\n\r\n", 400, "header line without a colon"},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", 400, "invalid header name"},
	{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400, "invalid header name"},
	{"space in name", "GET / HTTP/1.1\r\nHost: a\r\nX A: 1\r\n\r\n", 400, "invalid header name"},
	{"separator in name", "GET / HTTP/1.1\r\nHost: a\r\nX(A): 1\r\n\r\n", 400, "invalid header name"},
	{"obs-text in name", "GET / HTTP/1.1\r\nHost: a\r\nX-\xe9: 1\r\n\r\n", 400, "invalid header name"},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n", 400, "invalid header value"},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x7f\r\n\r\n", 400, "invalid header value"},
	{"ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \x1b[0m\r\n\r\n", 400, "invalid header value"},

	// Expect.
	{"Expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417, "unsupported Expect"},
	{"Expect list", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\nContent-Length: 1\r\n\r\nx", 417, "unsupported Expect"},
	{"Expect second", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", 417, "unsupported Expect"},
	{"Expect in HTTP/1.0", "POST / HTTP/1.0\r\nExpect: x\r\nContent-Length: 1\r\n\r\nx", 417, "unsupported Expect"},

	// Trailer declarations net/http refuses.
	{"Trailer Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-A, content-length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "forbidden field in Trailer"},
	{"Trailer Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "forbidden field in Trailer"},

	// Size.
	{"head too large", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1<<10)+"\r\n", 64) + "\r\n", 431, "request header fields too large"},
	{"line too large", "GET /" + strings.Repeat("a", reqMax) + " HTTP/1.1\r\nHost: a\r\n\r\n", 431, "request header fields too large"},
	{"too many empty lines", strings.Repeat("\r\n", reqMax), 431, "request header fields too large"},
	{"CRLF then a head without Host", "GET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400, "missing Host"},
	{"CR inside CL", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\rX\r\n\r\nhello", 400, "CR without LF in the head"},
	{"trailer too large", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1<<10)+"\r\n", 64) + "\r\n", 431, "trailer fields too large"},
	{"trailer bad name", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX T: 1\r\n\r\n", 400, "invalid header name"},
	{"trailer no colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T\r\n\r\n", 400, "header line without a colon"},
	{"trailer bad value", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: \x00\r\n\r\n", 400, "invalid header value"},
}

func TestReadRequestRefusals(t *testing.T) {
	for _, c := range reqRefusals {
		t.Run(c.name, func(t *testing.T) {
			// A small buffer as well: long lines arrive in pieces then.
			for _, size := range []int{16, 4096} {
				_, _, err := reqReadAll(c.in, size, reqMax)
				var he *headError
				if !errors.As(err, &he) {
					t.Fatalf("buffer %d: err %v, want %d %s", size, err, c.status, c.reason)
				}
				if he.status != c.status || he.reason != c.reason {
					t.Fatalf("buffer %d: %d %q, want %d %q", size, he.status, he.reason, c.status, c.reason)
				}
				if he.Error() != strconv.Itoa(c.status)+" "+c.reason {
					t.Fatalf("Error() = %q", he.Error())
				}
			}
		})
	}
}

// reqLegit are legitimate connections' bytes: read whole, and in step
// (a smuggling request appended is still refused).
var reqLegit = []struct {
	name, in string
	n        int // requests
	max      int // 0: reqMax
}{
	{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0},
	{"keep-alive GETs", strings.Repeat("GET /a?b=c HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n", 3), 3, 0},
	{"HEAD", "HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD /b HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"HTTP/1.0", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", 2, 0},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\nPOST / HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi", 2, 0},
	{"POST body that looks like a head",
		"POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: " + strconv.Itoa(len(reqFakeHead)) + "\r\n\r\n" + reqFakeHead +
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"CL with spaces and zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:   0003  \r\n\r\nabc", 1, 0},
	{"CL zero", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 1, 0},
	{"GET with a body", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n\r\n\r\n", 1, 0},
	{"names that are nearly ours",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Lengths: 5\r\nX-Content-Length: 5\r\nContent-Type: text/plain\r\n" +
			"Transfer-Encodings: chunked\r\nTE: trailers\r\nTransfer-Encodin: chunked\r\nContent-Length-X: 1\r\nCookie: a=b\r\nConnection: keep-alive\r\n\r\n", 1, 0},
	{"values that look like ours", "GET / HTTP/1.1\r\nHost: a\r\nX-A: Content-Length: 5\r\nX-B: Transfer-Encoding: chunked\r\n\r\n", 1, 0},
	{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 1, 0},
	{"chunked any case and spaces", "POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:   ChUnKeD  \r\n\r\n0\r\n\r\n", 1, 0},
	{"chunked extensions, trailers, header-like data",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			fmt.Sprintf("%X;name=\"va;l\\\"ue\";x\r\n%s\r\n", len(reqFakeHead), reqFakeHead) +
			"0000000000000005 \t\r\n\r\n\r\n\r\r\n" +
			"a;\r\n0\r\n\r\n0\r\n\r\n\r\n" +
			"0;end\r\nX-Sum: 1\r\nContent-Length: 7\r\nX-Other: y\r\n\r\n" +
			"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"chunked, empty trailers bare LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", 1, 0},
	{"CRLF after a POST", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"leading CRLFs", "\r\n\n\r\n\rGET / HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"upgrade", "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", 1, 0},
	{"absolute-form", "GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", 1, 0},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0},
	{"empty query", "GET /? HTTP/1.1\r\nHost: a\r\n\r\nGET /a?? HTTP/1.1\r\nHost: a\r\n\r\n", 2, 0},
	{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 1, 0},
	{"CONNECT path", "CONNECT /_goRPC_ HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0},
	{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 1, 0},
	{"Expect", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx" +
		"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", 2, 0},
	{"Pragma", "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", 1, 0},
	{"odd values", "GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\nX-B: \t\r\nX-C: caf\xc3\xa9 \t x\r\nx-a: 2\r\n\r\n", 1, 0},
	{"60 KB head", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Large: "+strings.Repeat("v", 1000)+"\r\n", 60) + "\r\n", 1, 0},
	{"large head", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Large: "+strings.Repeat("v", 1000)+"\r\n", 60) +
		"Cookie: " + strings.Repeat("c=d; ", 10000) + "\r\n\r\n", 1, 1 << 20},
}

func TestReadRequestLegit(t *testing.T) {
	for _, c := range reqLegit {
		t.Run(c.name, func(t *testing.T) {
			max := c.max
			if max == 0 {
				max = reqMax
			}
			// 32: net/http's chunk reader wants a chunk line in the buffer.
			for _, size := range []int{32, 4096} {
				reqs, _, err := reqReadAll(c.in, size, max)
				if err != nil || len(reqs) != c.n {
					t.Fatalf("buffer %d: %d requests, %v; want %d", size, len(reqs), err, c.n)
				}
				reqs, _, err = reqReadAll(c.in+reqSmuggle, size, max)
				var he *headError
				if len(reqs) != c.n || !errors.As(err, &he) || he != errBothCLTE {
					t.Fatalf("buffer %d, then a smuggling request: %d requests, %v", size, len(reqs), err)
				}
			}
			reqAgree(t, []byte(c.in), 4096, max, true)
		})
	}
}

// TestReadRequestFields checks what the request and frame say.
func TestReadRequestFields(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // %s of the request's main fields and the frame
	}{
		{"GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a:  2 \r\nuser-AGENT: u\r\n\r\n",
			`GET /a?b=c HTTP/1.1 host=h url=/a?b=c cl=0 te=[] close=false hdr=map[User-Agent:[u] X-A:[1 2]] tr=map[] {chunked:false length:0 expect:false close:false}`},
		{"GET http://x.example:81/p HTTP/1.1\r\nHost: h\r\n\r\n",
			`GET http://x.example:81/p HTTP/1.1 host=x.example:81 url=http://x.example:81/p cl=0 te=[] close=false hdr=map[] tr=map[] {chunked:false length:0 expect:false close:false}`},
		{"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			`OPTIONS * HTTP/1.1 host=h url=* cl=0 te=[] close=false hdr=map[] tr=map[] {chunked:false length:0 expect:false close:false}`},
		{"CONNECT x.example:443 HTTP/1.1\r\nHost: x.example:443\r\n\r\n",
			`CONNECT x.example:443 HTTP/1.1 host=x.example:443 url=//x.example:443 cl=0 te=[] close=false hdr=map[] tr=map[] {chunked:false length:0 expect:false close:false}`},
		{"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\nTrailer: x-sum, X-B\r\nExpect: 100-continue\r\n\r\n",
			`POST / HTTP/1.1 host=h url=/ cl=-1 te=[chunked] close=false hdr=map[Expect:[100-continue]] tr=map[X-B:[] X-Sum:[]] {chunked:true length:0 expect:true close:false}`},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\nConnection: x, Close\r\n\r\n",
			`POST / HTTP/1.1 host=h url=/ cl=7 te=[] close=true hdr=map[Connection:[x, Close] Content-Length:[007]] tr=map[] {chunked:false length:7 expect:false close:true}`},
		{"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 0\r\nTrailer: X\r\n\r\n",
			`POST / HTTP/1.1 host=h url=/ cl=0 te=[] close=false hdr=map[Content-Length:[0] Expect:[100-continue] Trailer:[X]] tr=map[] {chunked:false length:0 expect:false close:false}`},
		{"GET / HTTP/1.0\r\n\r\n",
			`GET / HTTP/1.0 host= url=/ cl=0 te=[] close=true hdr=map[] tr=map[] {chunked:false length:0 expect:false close:true}`},
		{"POST / HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
			`POST / HTTP/1.0 host= url=/ cl=1 te=[] close=false hdr=map[Connection:[Keep-Alive] Content-Length:[1] Expect:[100-continue]] tr=map[] {chunked:false length:1 expect:false close:false}`},
		{"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			`GET / HTTP/1.0 host= url=/ cl=0 te=[] close=true hdr=map[Connection:[keep-alive, close]] tr=map[] {chunked:false length:0 expect:false close:true}`},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775807\r\n\r\n",
			`POST / HTTP/1.1 host=h url=/ cl=9223372036854775807 te=[] close=false hdr=map[Content-Length:[9223372036854775807]] tr=map[] {chunked:false length:9223372036854775807 expect:false close:false}`},
		{"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
			`GET / HTTP/1.1 host=h url=/ cl=0 te=[] close=false hdr=map[Cache-Control:[no-cache] Pragma:[no-cache]] tr=map[] {chunked:false length:0 expect:false close:false}`},
	} {
		var h headReader
		req, fr, err := h.read(bufio.NewReader(strings.NewReader(c.in)), reqMax)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		got := fmt.Sprintf("%s %s %s host=%s url=%s cl=%d te=%v close=%v hdr=%v tr=%v %+v",
			req.Method, req.RequestURI, req.Proto, req.Host, req.URL, req.ContentLength, req.TransferEncoding, req.Close, req.Header, req.Trailer, fr)
		if got != c.want {
			t.Errorf("%q:\n got %s\nwant %s", c.in, got, c.want)
		}
		reqAgree(t, []byte(c.in), 4096, reqMax, false) // some have no body
	}
}

// TestReadRequestEnds checks the errors for input that ends or fails.
func TestReadRequestEnds(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"\r\n\r\n", io.EOF},
		{"G", io.ErrUnexpectedEOF},
		{"GET / HTTP/1.1", io.ErrUnexpectedEOF},
		{"GET / HTTP/1.1\r\nHost: a\r\n", io.ErrUnexpectedEOF},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", io.ErrUnexpectedEOF},
	} {
		var h headReader
		if _, _, err := h.read(bufio.NewReader(strings.NewReader(c.in)), reqMax); err != c.want {
			t.Errorf("%q: %v, want %v", c.in, err, c.want)
		}
	}
	// A read error passes through unchanged, before or inside a head.
	boom := errors.New("boom")
	for _, in := range []string{"", "\r\n", "GET / HTTP/1.1\r\n"} {
		var h headReader
		br := bufio.NewReader(io.MultiReader(strings.NewReader(in), reqErrReader{boom}))
		if _, _, err := h.read(br, reqMax); err != boom {
			t.Errorf("%q then an error: %v", in, err)
		}
	}
	// The trailer: a trailer never ends a connection cleanly.
	for _, in := range []string{"", "X: 1\r\n"} {
		var h headReader
		if _, err := h.readTrailer(bufio.NewReader(strings.NewReader(in)), reqMax); err != io.ErrUnexpectedEOF {
			t.Errorf("trailer %q: %v", in, err)
		}
	}
}

// TestReadRequestMax checks the limit to the byte, CR/LF before the
// request line included.
func TestReadRequestMax(t *testing.T) {
	const max = 1000
	head := func(n int) string { // a head of n bytes
		const pre, post = "GET / HTTP/1.1\r\nHost: a\r\nX: ", "\r\n\r\n"
		return pre + strings.Repeat("v", n-len(pre)-len(post)) + post
	}
	for _, c := range []struct {
		in string
		ok bool
	}{
		{head(max), true},
		{head(max + 1), false},
		{"\r\n" + head(max-2), true},
		{"\r\n" + head(max-1), false},
	} {
		for _, size := range []int{16, 4096} {
			var h headReader
			_, _, err := h.read(bufio.NewReaderSize(strings.NewReader(c.in), size), max)
			if c.ok && err != nil || !c.ok && err != errHeadTooLarge {
				t.Errorf("%d bytes, buffer %d: %v", len(c.in), size, err)
			}
		}
	}
}

type reqErrReader struct{ err error }

func (r reqErrReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadTrailer(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\r\n", "map[]"},
		{"\n", "map[]"},
		{"x-sum: 1 \r\nX-Sum:2\r\nContent-Length: 7\n\r\n", "map[Content-Length:[7] X-Sum:[1 2]]"},
	} {
		var h headReader
		br := bufio.NewReaderSize(strings.NewReader(c.in+"NEXT"), 16)
		tr, err := h.readTrailer(br, reqMax)
		if err != nil || fmt.Sprint(tr) != c.want {
			t.Errorf("%q: %v, %v; want %s", c.in, tr, err, c.want)
		}
		if len(tr) == 0 && tr != nil {
			t.Errorf("%q: an empty trailer should be nil", c.in)
		}
		if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
			t.Errorf("%q: left %q", c.in, rest)
		}
	}
}

// TestReadRequestScratch checks that the scratch buffer is kept between
// requests, and that one grown too large is let go.
func TestReadRequestScratch(t *testing.T) {
	var h headReader
	const get = "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: x\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(get + get))
	if _, _, err := h.read(br, reqMax); err != nil {
		t.Fatal(err)
	}
	buf := &h.buf[:1][0]
	if _, _, err := h.read(br, reqMax); err != nil || &h.buf[:1][0] != buf {
		t.Fatalf("scratch buffer not reused (err %v)", err)
	}
	big := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 2*headKeep) + "\r\n\r\n"
	if _, _, err := h.read(bufio.NewReader(strings.NewReader(big)), 1<<20); err != nil {
		t.Fatal(err)
	}
	if cap(h.buf) > headKeep {
		t.Fatalf("kept a %d-byte scratch buffer", cap(h.buf))
	}
}

// TestReadRequestAllocs pins the allocations of the common cases: the
// head's string, the Request with its URL, the Header map (one allocation
// empty, four past 8 keys) and the values' backing array; and that
// lower-case names cost nothing more.
func TestReadRequestAllocs(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{reqWrk, 3},
		{reqBrowser, 7},
		{reqLowerNames(reqBrowser), 7},
	} {
		var h headReader
		r := strings.NewReader(c.in)
		br := bufio.NewReader(r)
		n := testing.AllocsPerRun(100, func() {
			r.Reset(c.in)
			br.Reset(r)
			if _, _, err := h.read(br, reqMax); err != nil {
				t.Fatal(err)
			}
		})
		if n > c.want {
			t.Errorf("%.40q: %v allocations, want %v", c.in, n, c.want)
		}
	}
}

// reqLowerNames returns head with its field names in lower case.
func reqLowerNames(head string) string {
	lines := strings.Split(head, "\n")
	for i, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			lines[i+1] = strings.ToLower(k) + ":" + v
		}
	}
	return strings.Join(lines, "\n")
}

// TestOriginForm checks the fast path for targets against
// url.ParseRequestURI, with every byte in the path and in the query.
func TestOriginForm(t *testing.T) {
	var targets []string
	for c := range 256 {
		b := string(rune(c))
		if c >= 0x80 {
			b = string([]byte{byte(c)})
		}
		targets = append(targets, "/a"+b+"z", "/a?x"+b+"y", b, b+"/", "/?"+b)
	}
	targets = append(targets, "/", "/a?", "/a??", "/a?b?", "//x/y", "/a/../b", "/%41", "/a?%zz", "?x", "")
	fast := 0
	for _, target := range targets {
		var u url.URL
		if !originForm(target, &u) {
			continue
		}
		fast++
		want, err := url.ParseRequestURI(target)
		if err != nil || !reflect.DeepEqual(u, *want) {
			t.Errorf("%q: %#v; url.ParseRequestURI: %#v, %v", target, u, want, err)
		}
	}
	if fast < 200 {
		t.Errorf("only %d targets took the fast path", fast)
	}
}

// reqTraffic generates a random keep-alive stream of legitimate requests
// in the forms net/http accepts (name case, absolute-form, OPTIONS *,
// Expect, Pragma, Trailer...), and the number of requests in it.
func reqTraffic(rng *rand.Rand) (stream []byte, n int) {
	var b bytes.Buffer
	eol := func() string { return []string{"\r\n", "\n"}[rng.IntN(2)] }
	text := func(max int) string {
		const pool = "abc XYZ:\r\n\t0123456789;\"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n \x00\xff"
		s := make([]byte, rng.IntN(max+1))
		for i := range s {
			s[i] = pool[rng.IntN(len(pool))]
		}
		return string(s)
	}
	name := func(s string) string {
		switch rng.IntN(4) {
		case 0:
			return strings.ToLower(s)
		case 1:
			return strings.ToUpper(s)
		}
		return s
	}
	for n = 0; n < 1+rng.IntN(6); n++ {
		method := []string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"}[rng.IntN(6)]
		v11 := rng.IntN(4) > 0
		target := "/" + strings.Repeat("p", rng.IntN(20)) + []string{"", "?a=b&c=%20d", "/%41;x"}[rng.IntN(3)]
		switch rng.IntN(8) {
		case 0:
			target = "http://example.org:8080" + target
		case 1:
			if method == "OPTIONS" {
				target = "*"
			}
		}
		fmt.Fprintf(&b, "%s %s HTTP/1.%d%s", method, target, map[bool]int{false: 0, true: 1}[v11], eol())
		fmt.Fprintf(&b, "%s: example.com%s", name("Host"), eol())
		for range rng.IntN(6) {
			k := []string{"X-A", "Cookie", "Content-Type", "Content-Lengths", "TE", "Connection", "Accept", "Pragma", "Cache-Control", "Expect", "Trailer", "X_Forwarded_For", "Content_Length"}[rng.IntN(13)]
			v := []string{"chunked", "Content-Length: 1", "keep-alive", "a=b; c=d", "close", "no-cache", "100-continue", "X-Sum"}[rng.IntN(8)]
			if k == "Expect" {
				v = "100-continue" // anything else is refused
			}
			fmt.Fprintf(&b, "%s:%s%s%s", name(k), []string{"", " ", "\t "}[rng.IntN(3)], v, eol())
		}
		switch body := rng.IntN(3); {
		case body == 1:
			data := text(300)
			fmt.Fprintf(&b, "%s:%s%s%d%s%s%s", name("Content-Length"), []string{"", " ", "  "}[rng.IntN(3)], strings.Repeat("0", rng.IntN(3)), len(data), []string{"", " "}[rng.IntN(2)], eol(), eol())
			b.WriteString(data)
		case body == 2 && v11:
			fmt.Fprintf(&b, "%s: %s%s%s", name("Transfer-Encoding"), []string{"chunked", "Chunked", "CHUNKED"}[rng.IntN(3)], eol(), eol())
			for range rng.IntN(4) {
				data := text(100)
				if data == "" {
					continue
				}
				size := fmt.Sprintf([]string{"%x", "%X", "%03x"}[rng.IntN(3)], len(data))
				fmt.Fprintf(&b, "%s%s\r\n%s\r\n", size, []string{"", " ", ";a", ";a=\"b c\"", "\t"}[rng.IntN(5)], data)
			}
			b.WriteString([]string{"0", "000", "0;z"}[rng.IntN(3)] + "\r\n")
			for range rng.IntN(3) {
				fmt.Fprintf(&b, "X-Trailer-%d: %s\r\n", rng.IntN(100), []string{"1", "Content-Length: 5"}[rng.IntN(2)])
			}
			b.WriteString("\r\n")
		default:
			b.WriteString(eol())
		}
		if method == "POST" {
			b.WriteString([]string{"", "\r\n", "\n", "\r\n\r\n"}[rng.IntN(4)])
		}
	}
	return b.Bytes(), n
}

// reqAgree reads stream with headReader and with http.ReadRequest side by
// side and fails if a head read accepts is one net/http refuses or reads
// differently, or if they end a head at different bytes. With all, every
// request must be accepted by both, bodies included. It returns how many
// requests both read.
//
// Deliberate differences, where the comparison is relaxed:
//   - read skips any CR and LF before a request line; net/http's server
//     skips up to 4 after a POST, and http.ReadRequest none: they are
//     skipped here before net/http reads.
//   - Expect: read sets frame.expect when any Expect is 100-continue;
//     net/http looks at the first only. Compared when there is one.
//   - Trailers: net/http's trailer reader wants a CRLF CRLF within its
//     buffer and unfolds obs-folds; readTrailer accepts a bare LF end and
//     refuses folds. Compared when both accept.
//   - Header names with an underscore: read drops them, as nginx does;
//     they are dropped from net/http's header too.
func reqAgree(t testing.TB, stream []byte, bufSize, max int, all bool) int {
	t.Helper()
	r1, r2 := bytes.NewReader(stream), bytes.NewReader(stream)
	br1, br2 := bufio.NewReaderSize(r1, bufSize), bufio.NewReader(r2)
	pos := func(r *bytes.Reader, br *bufio.Reader) int { return len(stream) - r.Len() - br.Buffered() }
	var h headReader
	for i := 0; ; i++ {
		req, fr, err := h.read(br1, max)
		for {
			if p, _ := br2.Peek(1); len(p) == 0 || p[0] != '\r' && p[0] != '\n' {
				break
			}
			br2.Discard(1)
		}
		if err == io.EOF {
			if _, err := br2.Peek(1); err != io.EOF {
				t.Fatalf("request %d: read saw the end, net/http did not\n%q", i, stream)
			}
			return i
		}
		if err != nil {
			if all {
				t.Fatalf("request %d: %v\n%q", i, err, stream)
			}
			return i
		}
		want, err := http.ReadRequest(br2)
		if err != nil {
			t.Fatalf("request %d: read accepts, net/http: %v\n%q", i, err, stream)
		}
		if p1, p2 := pos(r1, br1), pos(r2, br2); p1 != p2 {
			t.Fatalf("request %d: head ends at %d, net/http: %d\n%q", i, p1, p2, stream)
		}
		delete(want.Header, "Host") // as net/http's server does
		dropUnderscoreHeaders(want.Header, false)
		type view struct {
			Method, RequestURI, Proto, Host string
			ProtoMajor, ProtoMinor          int
			URL                             any
			Header, Trailer                 http.Header
			ContentLength                   int64
			TransferEncoding                []string
			Close                           bool
		}
		v := func(r *http.Request) view {
			return view{r.Method, r.RequestURI, r.Proto, r.Host, r.ProtoMajor, r.ProtoMinor, *r.URL,
				r.Header, r.Trailer, r.ContentLength, r.TransferEncoding, r.Close}
		}
		if got, want := v(req), v(want); !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d:\n got %+v\nwant %+v\n%q", i, got, want, stream)
		}
		if fr.chunked != (req.ContentLength == -1) || !fr.chunked && fr.length != req.ContentLength || fr.close != req.Close {
			t.Fatalf("request %d: frame %+v, request %+v", i, fr, req)
		}
		if e := want.Header["Expect"]; len(e) == 1 {
			goExpect := strings.EqualFold(e[0], "100-continue") && want.ProtoAtLeast(1, 1) && want.ContentLength != 0
			if fr.expect != goExpect {
				t.Fatalf("request %d: expect %v, net/http %v\n%q", i, fr.expect, goExpect, stream)
			}
		}

		err1 := reqSkipBody(&h, br1, fr, max, req)
		_, err2 := io.Copy(io.Discard, want.Body)
		if all && (err1 != nil || err2 != nil && !fr.chunked) {
			t.Fatalf("request %d: body: %v, net/http: %v\n%q", i, err1, err2, stream)
		}
		if err1 != nil || err2 != nil {
			return i + 1
		}
		if p1, p2 := pos(r1, br1), pos(r2, br2); p1 != p2 {
			t.Fatalf("request %d: body ends at %d, net/http: %d\n%q", i, p1, p2, stream)
		}
		if len(req.Trailer)+len(want.Trailer) > 0 && !reflect.DeepEqual(req.Trailer, want.Trailer) {
			t.Fatalf("request %d: trailer %v, net/http: %v\n%q", i, req.Trailer, want.Trailer, stream)
		}
	}
}

// TestReadRequestAgreesWithGo: random legitimate keep-alive streams read
// alike by read and by net/http, request by request.
func TestReadRequestAgreesWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		stream, want := reqTraffic(rng)
		for _, size := range []int{16, 4096} {
			if n := reqAgree(t, stream, size, reqMax, true); n != want {
				t.Fatalf("stream %d, buffer %d: %d requests, want %d\n%q", i, size, n, want, stream)
			}
		}
		// Still in step: a smuggling request after it is refused.
		reqs, _, err := reqReadAll(string(stream)+reqSmuggle, 4096, reqMax)
		if len(reqs) != want || err != errBothCLTE {
			t.Fatalf("stream %d, then a smuggling request: %d requests, %v\n%q", i, len(reqs), err, stream)
		}
	}
}

// FuzzReadRequest: for any input, read does not panic, does not depend
// on how br's buffer cuts the lines, and whatever it accepts net/http
// accepts and reads the same way (see reqAgree for the relaxed points).
func FuzzReadRequest(f *testing.F) {
	for _, c := range reqRefusals {
		if len(c.in) < 4096 {
			f.Add([]byte(c.in))
		}
	}
	for _, c := range reqLegit {
		if len(c.in) < 4096 {
			f.Add([]byte(c.in))
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		stream, _ := reqTraffic(rng)
		f.Add(stream)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4 << 10
		// The first head alike whatever the buffer size (later ones may
		// differ: net/http's chunk reader wants a chunk line in its buffer).
		var h1, h2 headReader
		r1, fr1, err1 := h1.read(bufio.NewReaderSize(bytes.NewReader(data), 16), max)
		r2, fr2, err2 := h2.read(bufio.NewReaderSize(bytes.NewReader(data), 4096), max)
		if fr1 != fr2 || err1 != err2 && (err1 == nil || err2 == nil || err1.Error() != err2.Error()) || (r1 == nil) != (r2 == nil) {
			t.Fatalf("buffer 16: %+v, %v; buffer 4096: %+v, %v", fr1, err1, fr2, err2)
		}
		if r1 != nil && (!reflect.DeepEqual(r1.Header, r2.Header) || r1.RequestURI != r2.RequestURI || r1.Host != r2.Host) {
			t.Fatalf("buffer 16: %+v; buffer 4096: %+v", r1, r2)
		}
		reqAgree(t, data, 16, max, false)
		reqAgree(t, data, 4096, max, false)
	})
}

const (
	reqWrk     = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
	reqBrowser = "GET /articles/2024/fast-parsers?ref=home&page=2 HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Referer: https://www.example.com/\r\n" +
		"Connection: keep-alive\r\n" +
		"Cookie: session=4f9a1c2e8b7d6a5f; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n" +
		"Upgrade-Insecure-Requests: 1\r\n" +
		"Sec-Fetch-Dest: document\r\n" +
		"Sec-Fetch-Mode: navigate\r\n" +
		"Priority: u=0, i\r\n\r\n"
)

// reqLoop is an io.Reader that replays data forever, like a keep-alive
// connection carrying the same request again and again.
type reqLoop struct {
	data string
	off  int
}

func (l *reqLoop) Read(b []byte) (int, error) {
	n := copy(b, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// reqBench runs read (or net/http's ReadRequest) over a stream of the
// same request in a 4 KiB bufio.Reader, as the server's; one op is one
// request head.
func reqBench(b *testing.B, goRead bool) {
	for _, c := range []struct{ name, in string }{{"browser", reqBrowser}, {"wrk", reqWrk}} {
		b.Run(c.name, func(b *testing.B) {
			br := bufio.NewReaderSize(&reqLoop{data: strings.Repeat(c.in, 64)}, 4<<10)
			var h headReader
			b.SetBytes(int64(len(c.in)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if goRead {
					_, err = http.ReadRequest(br)
				} else {
					_, _, err = h.read(br, reqMax)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkReadRequest(b *testing.B)        { reqBench(b, false) }
func BenchmarkReadRequestNetHTTP(b *testing.B) { reqBench(b, true) }

// TestReadRequestUnderscores: names with an underscore are dropped from
// the header, or with underscores allowed, only the edge's own; they
// never count as the fields the framing depends on.
func TestReadRequestUnderscores(t *testing.T) {
	const in = "POST / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nx_real_ip: 6.6.6.6\r\nContent_Length: 99\r\n" +
		"Transfer_Encoding: chunked\r\nX_Custom: 1\r\nX-Dashed: 2\r\nContent-Length: 0\r\n\r\n"
	for _, c := range []struct {
		allow bool
		want  string
	}{
		{false, "map[Content-Length:[0] X-Dashed:[2]]"},
		{true, "map[Content-Length:[0] X-Dashed:[2] X_custom:[1]]"},
	} {
		h := headReader{underscores: c.allow}
		req, fr, err := h.read(bufio.NewReader(strings.NewReader(in)), reqMax)
		if err != nil || fmt.Sprint(req.Header) != c.want || fr.chunked || fr.length != 0 {
			t.Errorf("allow %v: %v %+v %v, want %s and no body", c.allow, req.Header, fr, err, c.want)
		}
	}
	for _, name := range []string{"X_Forwarded_For", "x_forwarded_proto", "X_FORWARDED_HOST", "X_Real_Ip", "Forwarded", "X_Request_Id",
		"Http2_Settings", "Proxy_Authorization", "Content_Length", "Transfer_Encoding", "Host"} {
		if !edgeOwned(name) {
			t.Errorf("%s is not the edge's", name)
		}
	}
	for _, name := range []string{"X_Custom", "X_Forwarded_Fo", "X_Forwarded_For_", "Cookie", "", strings.Repeat("x_", 20)} {
		if edgeOwned(name) {
			t.Errorf("%s is the edge's", name)
		}
	}
}
