package edge

// The guard: net/http's HTTP/1 server quietly repairs some request heads
// that a front proxy must refuse (RFC 9112 6.1, 6.3, 5.2), because a
// server behind or beside it may frame them differently (request
// smuggling). By the time a handler runs, the evidence is gone: the
// Content-Length next to a Transfer-Encoding was deleted, duplicate
// Content-Lengths merged, folded lines unfolded. So the guard watches the
// raw bytes as the server reads them, follows the message framing from
// request to request on a keep-alive connection, and remembers the first
// ambiguity it sees; the handler asks Violation and answers 400.
//
// The guard only has to agree with net/http on input that net/http
// accepts: wherever it meets bytes that Go will reject (and then close the
// connection), it simply stops looking. Stopping can only miss, never flag
// a legitimate request.
//
// An upgrade request (Connection: upgrade) does not stop the guard: if it
// did, a client could send one that is never switched (the edge refuses
// it, or the app answers 200) and smuggle on the same connection
// unwatched. After a real switch the bytes are WebSocket frames (or
// HTTP/2's preface), whose first byte is no method character, so the
// guard stops there on its own; and no handler asks about that connection
// any more.

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync/atomic"
)

// GuardListener wraps ln so that each accepted connection's request heads
// are checked as they are read; see Violation. Use it on a plaintext
// HTTP/1 listener, and set GuardConnContext as the server's ConnContext.
// Under TLS the guard would see ciphertext: it stops at once and Violation
// reports nothing.
func GuardListener(ln net.Listener) net.Listener { return guardListener{ln} }

type guardListener struct{ net.Listener }

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return newGuardConn(c), nil
}

// GuardConnContext is for http.Server.ConnContext: it stores the
// connection's guard in ctx, so that Violation can find it from a
// request's context. A connection not accepted by a GuardListener (or a
// TLS one on top of it) gets no guard.
func GuardConnContext(ctx context.Context, c net.Conn) context.Context {
	if g, ok := c.(*guardConn); ok {
		return context.WithValue(ctx, guardKey{}, g)
	}
	return ctx
}

// Violation returns why the connection of the request with context ctx
// must not be trusted, or "" if nothing was seen: "both Content-Length and
// Transfer-Encoding", "duplicate Content-Length", "obsolete line folding
// in a header" or "Transfer-Encoding in an HTTP/1.0 request". The answer
// is sticky: once set it stays for the connection, and the caller should
// answer 400 and close it, since the framing of anything after the
// offending head is in doubt. It may concern a pipelined request after
// this one: the server reads ahead.
func Violation(ctx context.Context) string {
	g, _ := ctx.Value(guardKey{}).(*guardConn)
	if g == nil {
		return ""
	}
	return guardViolations[g.violation.Load()]
}

type guardKey struct{}

// Violation codes; a code is an index in guardViolations.
const (
	guardOK uint32 = iota
	guardBoth
	guardDupCL
	guardObsFold
	guardTE10
)

var guardViolations = [...]string{
	guardOK:      "",
	guardBoth:    "both Content-Length and Transfer-Encoding",
	guardDupCL:   "duplicate Content-Length",
	guardObsFold: "obsolete line folding in a header",
	// RFC 9112 6.1: the framing of such a message is faulty. Go ignores
	// the Transfer-Encoding and reads the chunked body as the next request.
	guardTE10: "Transfer-Encoding in an HTTP/1.0 request",
}

// guardConn is a net.Conn whose reads feed a guardParser.
type guardConn struct {
	net.Conn
	// violation is written by the reading goroutine and read by handlers,
	// which may run while the server's background read is in progress.
	violation atomic.Uint32
	p         guardParser // only touched by Read, which net/http serializes
}

func newGuardConn(c net.Conn) *guardConn {
	g := &guardConn{Conn: c}
	g.p.reset()
	return g
}

// Read passes the bytes through unchanged and checks them.
func (g *guardConn) Read(b []byte) (int, error) {
	n, err := g.Conn.Read(b)
	if n > 0 && n <= len(b) && g.p.state != gsDone {
		if v := g.p.feed(b[:n]); v != guardOK {
			g.violation.Store(v)
		}
	}
	return n, err
}

// ReadFrom keeps net/http's sendfile path for static files: the server
// only uses it when the connection itself is an io.ReaderFrom.
func (g *guardConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := g.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{g.Conn}, r)
}

// CloseWrite keeps net/http's graceful close after an error response (a
// 400 here): without a half-close the unread rest of the request can make
// the kernel reset the connection before the client reads the answer.
func (g *guardConn) CloseWrite() error {
	if cw, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// guardMaxHead bounds a head (or a trailer section) that the guard
// follows; net/http gives up long before (Server.MaxHeaderBytes).
const guardMaxHead = 1 << 20

// Parser states. The head and trailer states come first so that one
// comparison tells whether a byte counts against guardMaxHead.
const (
	gsReqStart     uint8 = iota // before a request line (after a POST: up to 4 CR/LF skipped, like net/http)
	gsMethod                    // in the method
	gsTarget                    // in the request target
	gsVersion                   // matching "HTTP/1." and a digit
	gsVersionEnd                // after the version: CR or LF
	gsReqLineLF                 // after the request line's CR
	gsLineStart                 // at the start of a header line
	gsName                      // matching a header name we care about
	gsSkipLine                  // in a header line we do not care about
	gsCLValue                   // in a Content-Length value
	gsTEValue                   // in a Transfer-Encoding value
	gsValueLF                   // after a CR in a value: LF must follow
	gsHeadEndLF                 // after the CR of the empty line ending the head
	gsTrailerStart              // at the start of a trailer line
	gsTrailerSkip               // in a trailer line
	gsTrailerEndLF              // after the CR of the empty line ending the trailers
	gsBody                      // in a Content-Length body
	gsChunkSize                 // in a chunk size
	gsChunkWS                   // in the white space after a chunk size
	gsChunkExt                  // in a chunk extension
	gsChunkLF                   // after a chunk line's CR
	gsChunkData                 // in chunk data
	gsChunkDataCR               // after chunk data: CR
	gsChunkDataLF               // after chunk data: LF
	gsDone                      // stopped: a violation was seen, or the input confused us
)

const (
	guardCL = "content-length"
	guardTE = "transfer-encoding"
	// guardMaxCL is the largest Content-Length net/http accepts
	// (strconv.ParseUint(s, 10, 63)).
	guardMaxCL = 1<<63 - 1
)

// guardParser is an incremental HTTP/1.1 request framing tracker. It
// holds no buffer: every decision is made from the current byte and a
// few counters, so its result cannot depend on how the stream is cut.
type guardParser struct {
	state uint8
	left  int    // head bytes left before guardMaxHead
	n     uint64 // body or chunk bytes to skip; a Content-Length or chunk size being parsed
	i     uint8  // position in the literal being matched, or digits seen
	phase uint8  // in a value: 0 before it, 1 in it, 2 after it

	name     string // the header name being matched (guardCL or guardTE)
	skipped  uint8  // CR/LF bytes skipped before this request line
	lastPOST bool   // the previous request was a POST
	post     bool   // the method so far matches "POST"
	http10   bool
	cl, te   uint8 // Content-Length and Transfer-Encoding fields seen
	clLen    uint64
	bad      bool // a Content-Length or Transfer-Encoding value Go rejects
}

// reset prepares for the next request head.
func (p *guardParser) reset() {
	*p = guardParser{state: gsReqStart, left: guardMaxHead, lastPOST: p.post}
}

// stop ends checking for good.
func (p *guardParser) stop() { p.state = gsDone }

// flag records violation v and stops: one reason is enough, and the
// connection is not to be trusted from here on.
func (p *guardParser) flag(v uint32) uint32 {
	p.stop()
	return v
}

// feed follows b and returns a violation code if b completes one.
func (p *guardParser) feed(b []byte) uint32 {
	for i := 0; i < len(b); {
		// Bulk states first: they are most of the bytes.
		switch p.state {
		case gsDone:
			return guardOK
		case gsBody, gsChunkData:
			k := uint64(len(b) - i)
			if k > p.n {
				k = p.n
			}
			i += int(k)
			p.n -= k
			if p.n == 0 {
				if p.state == gsBody {
					p.reset()
				} else {
					p.state = gsChunkDataCR
				}
			}
			continue
		case gsSkipLine, gsTrailerSkip:
			rest := b[i:]
			j := bytes.IndexByte(rest, '\n')
			if j < 0 {
				j = len(rest) - 1 // consume all; the line goes on
			} else if p.state == gsSkipLine {
				p.state = gsLineStart
			} else {
				p.state = gsTrailerStart
			}
			i += j + 1
			if p.left -= j + 1; p.left < 0 {
				p.stop()
			}
			continue
		}

		c := b[i]
		i++
		if p.state < gsBody {
			if p.left--; p.left < 0 {
				p.stop()
				return guardOK
			}
		}
		switch p.state {
		case gsReqStart:
			// net/http forgives up to 4 CR/LF after a POST (old clients
			// added CRLF after the body); after anything else an empty
			// request line is an error.
			if p.lastPOST && p.skipped < 4 && (c == '\r' || c == '\n') {
				p.skipped++
				continue
			}
			if !isTokenByte(c) {
				p.stop()
				continue
			}
			p.state = gsMethod
			p.post = c == 'P'
			p.i = 1
		case gsMethod:
			switch {
			case c == ' ':
				p.post = p.post && p.i == 4
				p.state = gsTarget
			case isTokenByte(c):
				p.post = p.post && p.i < 4 && c == "POST"[p.i]
				if p.i < 255 {
					p.i++
				}
			default:
				p.stop()
			}
		case gsTarget:
			switch c {
			case ' ':
				p.state, p.i = gsVersion, 0
			case '\n':
				p.stop() // no version: Go rejects it
			}
		case gsVersion:
			const v = "HTTP/1."
			switch {
			case p.i < uint8(len(v)) && c == v[p.i]:
				p.i++
			case p.i == uint8(len(v)) && '0' <= c && c <= '9':
				p.http10 = c == '0'
				p.state = gsVersionEnd
			default:
				// Not HTTP/1.x: Go rejects it, or it is HTTP/2's
				// preface and the connection speaks frames from now on.
				p.stop()
			}
		case gsVersionEnd:
			switch c {
			case '\r':
				p.state = gsReqLineLF
			case '\n':
				p.state = gsLineStart
			default:
				p.stop()
			}
		case gsReqLineLF, gsValueLF:
			if c != '\n' {
				p.stop() // a CR inside a line: Go rejects it
				continue
			}
			p.state = gsLineStart
		case gsLineStart:
			switch c {
			case '\r':
				p.state = gsHeadEndLF
			case '\n':
				p.headEnd()
			case ' ', '\t':
				// A continuation line: Go unfolds it (or, on the first
				// line, rejects it); RFC 9112 5.2 wants a proxy to reject.
				return p.flag(guardObsFold)
			case 'c', 'C':
				p.state, p.name, p.i = gsName, guardCL, 1
			case 't', 'T':
				p.state, p.name, p.i = gsName, guardTE, 1
			default:
				p.state = gsSkipLine
			}
		case gsName:
			if int(p.i) == len(p.name) {
				if c != ':' {
					p.state = gsSkipLine // another name, or one Go rejects
					if c == '\n' {
						p.state = gsLineStart
					}
					continue
				}
				if v := p.field(); v != guardOK {
					return v
				}
				continue
			}
			if lower(c) != p.name[p.i] {
				p.state = gsSkipLine
				if c == '\n' {
					p.state = gsLineStart
				}
				continue
			}
			p.i++
		case gsCLValue:
			switch {
			case '0' <= c && c <= '9' && p.phase < 2:
				d := uint64(c - '0')
				if p.n > (guardMaxCL-d)/10 {
					p.valueBad(c)
					continue
				}
				p.n = p.n*10 + d
				p.phase = 1
			case c == ' ' || c == '\t':
				if p.phase == 1 {
					p.phase = 2
				}
			case (c == '\r' || c == '\n') && p.phase > 0:
				p.clLen = p.n
				p.valueEnd(c)
			default:
				p.valueBad(c)
			}
		case gsTEValue:
			// Go accepts exactly one field, "chunked" (any case).
			const v = "chunked"
			switch {
			case p.phase < 2 && p.i < uint8(len(v)) && lower(c) == v[p.i]:
				p.phase = 1
				if p.i++; p.i == uint8(len(v)) {
					p.phase = 2
				}
			case (c == ' ' || c == '\t') && p.phase != 1:
			case (c == '\r' || c == '\n') && p.phase == 2:
				p.valueEnd(c)
			default:
				p.valueBad(c)
			}
		case gsHeadEndLF:
			if c != '\n' {
				p.stop()
				continue
			}
			p.headEnd()

		case gsChunkSize:
			switch {
			case hexVal(c) < 16:
				if p.i == 16 {
					p.stop() // Go: chunk length too large
					continue
				}
				p.n = p.n<<4 | uint64(hexVal(c))
				p.i++
			case p.i == 0:
				p.stop()
			case c == ';':
				p.state = gsChunkExt
			case c == ' ' || c == '\t':
				p.state = gsChunkWS
			case c == '\r':
				p.state = gsChunkLF
			default:
				p.stop() // includes a bare LF, which Go rejects in chunk lines
			}
		case gsChunkWS:
			switch c {
			case ' ', '\t':
			case '\r':
				p.state = gsChunkLF
			default:
				p.stop()
			}
		case gsChunkExt:
			// Go ignores extensions, up to the line end.
			switch c {
			case '\r':
				p.state = gsChunkLF
			case '\n':
				p.stop()
			}
		case gsChunkLF:
			switch {
			case c != '\n':
				p.stop()
			case p.n == 0:
				// The last chunk; trailers get the head's budget.
				p.state, p.left = gsTrailerStart, guardMaxHead
			default:
				p.state = gsChunkData
			}
		case gsChunkDataCR:
			if c != '\r' {
				p.stop()
				continue
			}
			p.state = gsChunkDataLF
		case gsChunkDataLF:
			if c != '\n' {
				p.stop()
				continue
			}
			p.state, p.n, p.i = gsChunkSize, 0, 0

		case gsTrailerStart:
			switch c {
			case '\r':
				p.state = gsTrailerEndLF
			case '\n':
				p.reset()
			case ' ', '\t':
				return p.flag(guardObsFold)
			default:
				p.state = gsTrailerSkip
			}
		case gsTrailerEndLF:
			if c != '\n' {
				p.stop()
				continue
			}
			p.reset()
		}
	}
	return guardOK
}

// field handles the colon after a Content-Length or Transfer-Encoding name.
func (p *guardParser) field() uint32 {
	p.n, p.i, p.phase = 0, 0, 0
	if p.name == guardCL {
		if p.cl++; p.cl > 1 {
			return p.flag(guardDupCL)
		}
		p.state = gsCLValue
	} else {
		if p.te < 255 {
			p.te++
		}
		if p.http10 {
			return p.flag(guardTE10)
		}
		p.state = gsTEValue
	}
	if p.cl > 0 && p.te > 0 {
		return p.flag(guardBoth)
	}
	return guardOK
}

// valueEnd ends a value we follow at CR or LF.
func (p *guardParser) valueEnd(c byte) {
	if c == '\r' {
		p.state = gsValueLF
	} else {
		p.state = gsLineStart
	}
}

// valueBad notes a value Go will reject, and keeps reading the head so
// that a Content-Length beside a Transfer-Encoding is still reported.
func (p *guardParser) valueBad(c byte) {
	p.bad = true
	if c == '\n' {
		p.state = gsLineStart
	} else {
		p.state = gsSkipLine
	}
}

// headEnd decides the body's framing the way net/http does at the empty
// line that ends a head. No violation is left to find here: each is
// flagged as soon as its field name is read.
func (p *guardParser) headEnd() {
	switch {
	case p.bad || p.te > 1:
		p.stop() // Go answers 400 or 501 and closes
	case p.te == 1:
		p.state, p.n, p.i = gsChunkSize, 0, 0
	case p.cl == 1 && p.clLen > 0:
		p.state, p.n = gsBody, p.clLen
	default:
		p.reset()
	}
}

// isTokenByte reports whether c may appear in a method (RFC 9110 token).
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hexVal returns c's value as a hex digit, or 16 if it is not one.
func hexVal(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 16
}
