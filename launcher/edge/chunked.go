package edge

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// chunkedReader reads a chunked request body (RFC 9112 7.1) exactly as
// net/http's reader (httputil.NewChunkedReader) does, but knows how much
// the body may still hold: a chunk whose size would take the body past
// --max-body fails with errTooLarge as soon as its size line is read, as
// nginx answers 413 then, rather than once that much data has come. It
// stops at the last chunk (io.EOF), before the trailer section.
type chunkedReader struct {
	br     *bufio.Reader
	left   uint64 // data of the current chunk not read yet
	budget int64  // data the chunks may still declare; < 0: no limit
	end    bool   // the CRLF after the current chunk's data is to be read
	excess int64  // overhead beyond what the data justifies (net/http's check)
	err    error
}

// newChunkedReader reads the chunks from br, at most limit bytes of data
// (limit <= 0: no limit).
func newChunkedReader(br *bufio.Reader, limit int64) *chunkedReader {
	if limit <= 0 {
		limit = -1
	}
	return &chunkedReader{br: br, budget: limit}
}

// The chunk errors, net/http's own.
var (
	errChunkLine    = errors.New("malformed chunk size line")
	errChunkEnd     = errors.New("malformed chunked encoding")
	errChunkLong    = errors.New("chunk size line too long")
	errChunkOverrun = errors.New("chunked encoding contains too much non-data")
)

// maxChunkLine is net/http's limit on a chunk size line, extensions included.
const maxChunkLine = 4096

// Read returns the data of the chunks. Like net/http's reader, it does
// not wait for a new chunk line or CRLF once it has data to return.
func (cr *chunkedReader) Read(p []byte) (n int, err error) {
	for cr.err == nil {
		if cr.end {
			if n > 0 && cr.br.Buffered() < 2 {
				break
			}
			cr.err = cr.crlf()
			if cr.err != nil {
				break
			}
			cr.end = false
		}
		if cr.left == 0 {
			if n > 0 && !lineBuffered(cr.br) {
				break
			}
			cr.err = cr.beginChunk()
			continue
		}
		if len(p) == 0 {
			break
		}
		m, err := cr.br.Read(p[:min(uint64(len(p)), cr.left)])
		n += m
		p = p[m:]
		cr.left -= uint64(m)
		switch {
		case cr.left == 0 && err == nil:
			cr.end = true
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
		cr.err = err
	}
	return n, cr.err
}

// crlf reads the CRLF that ends a chunk's data.
func (cr *chunkedReader) crlf() error {
	var b [2]byte
	if _, err := io.ReadFull(cr.br, b[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if string(b[:]) != "\r\n" {
		return errChunkEnd
	}
	return nil
}

// beginChunk reads a chunk size line; io.EOF means the last chunk.
func (cr *chunkedReader) beginChunk() error {
	line, err := cr.br.ReadSlice('\n')
	switch err {
	case nil:
	case io.EOF:
		return io.ErrUnexpectedEOF
	case bufio.ErrBufferFull:
		return errChunkLong
	default:
		return err
	}
	// CRLF only, and no CR before it (RFC 9112 errata 7633).
	if i := bytes.IndexByte(line, '\r'); i < 0 || i != len(line)-2 {
		return errChunkLine
	}
	line = line[:len(line)-2]
	if len(line) >= maxChunkLine {
		return errChunkLong
	}
	cr.excess += int64(len(line)) + 2
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t') {
		line = line[:len(line)-1]
	}
	line, _, _ = bytes.Cut(line, []byte(";")) // extensions mean nothing here
	size, ok := parseHex(line)
	if !ok {
		return errChunkLine
	}
	// Some overhead per chunk is fine (one byte per chunk is legitimate
	// streaming), but not so much that a sender can send extensions
	// forever: net/http's rule.
	cr.excess = max(cr.excess-(16+2*int64(size)), 0) // wrapping as net/http's does
	if cr.excess > 16<<10 {
		return errChunkOverrun
	}
	if cr.budget >= 0 {
		if size > uint64(cr.budget) {
			return errTooLarge
		}
		cr.budget -= int64(size)
	}
	if size == 0 {
		return io.EOF
	}
	cr.left = size
	return nil
}

// parseHex parses a chunk size: 1 to 16 hex digits.
func parseHex(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		n = n<<4 | uint64(c)
	}
	return n, true
}

// lineBuffered reports whether br holds a whole line already.
func lineBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}
