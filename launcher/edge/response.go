package edge

// The response-head reader of the edge's client to the instances. It does
// what http.ReadResponse does for the responses of HTTP/1.x app servers,
// with the head copied into a buffer kept with the connection and turned
// into one string, names and values taken as substrings of it: on the
// path of every proxied request, http.ReadResponse's textproto reader,
// per-field strings and body framing objects were a tenth of the edge's
// time.

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
)

// maxResponseHead bounds an instance's response head (nginx's
// proxy_buffer_size is 4-8 KiB; Go's client allows 10 MB).
const maxResponseHead = 64 << 10

// errBadResponse is an instance's response the edge cannot read.
type errBadResponse struct{ why string }

func (e *errBadResponse) Error() string { return "malformed response from the app: " + e.why }

// respAlloc is the storage of one response and its body's readers, for
// readResponse to reuse once the last response made in it is done with.
type respAlloc struct {
	resp   http.Response
	fields fieldStore
	fixed  fixedBody
	body   upBody
}

// readResponse reads a response head from br for a request with method,
// and returns the response with its body framed: by Content-Length, by
// chunks (whose trailer is read and dropped), or to the end of the
// connection (then Close is set). scratch is a buffer kept between calls.
// The response is built in a when a is not nil, overwriting what a held.
func readResponse(br *bufio.Reader, scratch *[]byte, req *http.Request, a *respAlloc) (*http.Response, error) {
	buf := (*scratch)[:0]
	start, lines := 0, 0 // where the current line begins in buf; lines read whole
	for {
		piece, err := br.ReadSlice('\n')
		buf = append(buf, piece...)
		if len(buf) > maxResponseHead {
			return nil, &errBadResponse{"head larger than 64 KiB"}
		}
		if err == bufio.ErrBufferFull {
			continue // a line longer than br's buffer
		}
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line := buf[start:]
		start = len(buf)
		lines++
		if len(line) == 1 || len(line) == 2 && line[0] == '\r' {
			if lines == 1 {
				return nil, &errBadResponse{"empty status line"}
			}
			break // the end of the head
		}
	}
	*scratch = buf
	if cap(buf) > 2*maxResponseHead {
		*scratch = nil // one huge head must not pin its buffer
	}
	return parseResponse(string(buf), lines-2, br, req, a)
}

// parseResponse parses head (the status line, fields lines of fields, the
// empty line) and frames the body that follows on br.
func parseResponse(head string, fields int, br *bufio.Reader, req *http.Request, a *respAlloc) (*http.Response, error) {
	line, rest := nextLine(head)
	var resp *http.Response
	if a != nil {
		resp = &a.resp
		*resp = http.Response{Request: req}
	} else {
		resp = &http.Response{Request: req}
	}
	// HTTP/1.x SP 3DIGIT SP reason (the reason may be empty, and so may
	// the space before it, as Go's client allows)
	if len(line) < 12 || line[:7] != "HTTP/1." || line[7] != '0' && line[7] != '1' || line[8] != ' ' {
		return nil, &errBadResponse{"status line " + strconv.Quote(clip(line))}
	}
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = line[:8], 1, int(line[7]-'0')
	code := line[9:12]
	if code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' || len(line) > 12 && line[12] != ' ' {
		return nil, &errBadResponse{"status line " + strconv.Quote(clip(line))}
	}
	resp.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	resp.Status = line[9:]

	var fs *fieldStore
	if a != nil {
		fs = &a.fields
	}
	h, values := fs.take(fields)
	var cl string
	clSeen, chunked, connClose, keepAlive := false, false, false, false
	for i := 0; ; i++ {
		line, rest = nextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, &errBadResponse{"obsolete line folding"}
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || !isToken(line[:colon]) {
			return nil, &errBadResponse{"field line " + strconv.Quote(clip(line))}
		}
		name := textproto.CanonicalMIMEHeaderKey(line[:colon])
		value := strings.Trim(line[colon+1:], " \t")
		for j := 0; j < len(value); j++ {
			if !valueByte[value[j]] {
				return nil, &errBadResponse{"control character in " + name}
			}
		}
		switch name {
		case "Content-Length":
			if clSeen && value != cl {
				return nil, &errBadResponse{"differing Content-Lengths"}
			}
			if clSeen {
				continue // the same value twice: one is enough
			}
			clSeen, cl = true, value
		case "Transfer-Encoding":
			// Only chunked is read, as by Go's client: a body in another
			// coding would reach the client still encoded, unlabelled.
			// Empty list elements do not count (RFC 9110 5.6.1).
			for f := range strings.SplitSeq(value, ",") {
				if f = strings.Trim(f, " \t"); f == "" {
					continue
				}
				if chunked || !asciiEqualFold(f, "chunked") {
					return nil, &errBadResponse{"unsupported Transfer-Encoding " + strconv.Quote(clip(value))}
				}
				chunked = true
			}
		case "Connection":
			connClose = connClose || hasToken(value, "close")
			keepAlive = keepAlive || hasToken(value, "keep-alive")
		}
		values[i] = value
		if vs := h[name]; vs == nil {
			h[name] = values[i : i+1 : i+1] // no allocation of its own
		} else {
			h[name] = append(vs, value)
		}
	}
	resp.Header = h
	resp.Close = connClose || resp.ProtoMinor == 0 && !keepAlive
	var length int64
	if clSeen { // checked even where it does not frame the body, as net/http does
		n, err := strconv.ParseUint(cl, 10, 63)
		if err != nil {
			return nil, &errBadResponse{"Content-Length " + strconv.Quote(clip(cl))}
		}
		length = int64(n)
	}

	switch {
	case req.Method == http.MethodHead || bodyless(resp.StatusCode):
		resp.Body = http.NoBody
		resp.ContentLength = 0
		if req.Method == http.MethodHead {
			resp.ContentLength = -1 // unknown, as net/http has it
			if clSeen {
				resp.ContentLength = length
			}
		}
	case chunked:
		// RFC 9112 6.3: Transfer-Encoding wins over Content-Length; in an
		// HTTP/1.0 message the connection closes after it (6.1).
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		resp.ContentLength = -1
		resp.TransferEncoding = []string{"chunked"}
		resp.Body = &chunkedBody{cr: httputil.NewChunkedReader(br), br: br}
		resp.Close = resp.Close || resp.ProtoMinor == 0
	case clSeen:
		resp.ContentLength = length
		if a != nil {
			a.fixed = fixedBody{r: br, left: length}
			resp.Body = &a.fixed
		} else {
			resp.Body = &fixedBody{r: br, left: length}
		}
		if length == 0 {
			resp.Body = http.NoBody
		}
	default:
		resp.ContentLength = -1
		resp.Close = true
		resp.Body = io.NopCloser(br)
	}
	return resp, nil
}

// nextLine splits off s's first line, without its CRLF or LF.
func nextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	return strings.TrimSuffix(line, "\r"), rest
}

// clip shortens what goes into an error message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// isToken reports whether s is an RFC 9110 token (a field name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !headToken[s[i]] {
			return false
		}
	}
	return s != ""
}

// fixedBody is a body of Content-Length bytes.
type fixedBody struct {
	r    *bufio.Reader
	left int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left == 0 {
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (b *fixedBody) Close() error { return nil }

// chunkedBody is a chunked body; at its end the trailer section is read
// and dropped (the edge sends the body with a length), which leaves the
// connection at the next response. An error sticks: after one, the body
// never seems to end well.
type chunkedBody struct {
	cr  io.Reader
	br  *bufio.Reader
	err error // io.EOF once read to the end
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.cr.Read(p)
	if err == io.EOF {
		if terr := b.skipTrailer(); terr != nil {
			err = terr
		}
	}
	b.err = err
	return n, err
}

func (b *chunkedBody) skipTrailer() error {
	size, start := 0, true // start: at the start of a line
	for {
		piece, err := b.br.ReadSlice('\n')
		size += len(piece)
		if size > maxResponseHead {
			return &errBadResponse{"trailer larger than 64 KiB"}
		}
		if err == bufio.ErrBufferFull {
			start = false // a long line: its rest follows
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if start && (len(piece) == 1 || len(piece) == 2 && piece[0] == '\r') {
			return nil
		}
		start = true
	}
}

func (b *chunkedBody) Close() error { return nil }
