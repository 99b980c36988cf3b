// Package resp is a small Redis client: RESP2 to one Redis server (a
// single server or a primary), over a little pool of connections, with
// pipelines, MULTI/EXEC and Lua scripts by SHA-1. It does what corral's
// certificate storage asks of Redis and no more: a general client
// (go-redis) cost corral's binary 8 MB and every run 1.1 MB of memory,
// though Redis is used only with --storage redis://….
package resp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Kind is the type of a reply.
type Kind byte

// The kinds of RESP2 reply.
const (
	Nil    Kind = iota // a null bulk string ($-1) or null array (*-1)
	Simple             // +OK
	Err                // -ERR message
	Int                // :42
	Bulk               // $3 abc
	Array              // *2 …
)

// Value is one reply.
type Value struct {
	Kind  Kind
	Str   []byte  // of Simple, Err and Bulk
	Int   int64   // of Int
	Elems []Value // of Array
}

// Error is an error reply from Redis, with its message ("WRONGPASS …",
// "NOSCRIPT …") as Redis wrote it.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// Limits on what a reply may declare, so that a broken or hostile server
// cannot make the client allocate without bound or recurse without end.
// Redis's own limit on a bulk string (proto-max-bulk-len) is 512 MB.
const (
	maxLine  = 64 << 10
	maxBulk  = 512 << 20
	maxDepth = 32
	// preallocate at most this much for a declared length; the rest grows
	// as it arrives, so a length alone costs nothing.
	maxPrealloc = 64 << 10
)

// ErrProtocol is wrapped by every error about a malformed reply.
var ErrProtocol = errors.New("redis protocol error")

func protoErr(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProtocol}, a...)...)
}

// ReadReply reads one RESP2 reply from r. An error reply is a Value of
// kind Err, not an error: errors are I/O and protocol errors, after which
// the connection is out of step and must be closed.
func ReadReply(r *bufio.Reader) (Value, error) { return readReply(r, 0) }

func readReply(r *bufio.Reader, depth int) (Value, error) {
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, protoErr("empty line")
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return Value{Kind: Simple, Str: body}, nil
	case '-':
		return Value{Kind: Err, Str: body}, nil
	case ':':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return Value{}, protoErr("integer reply %q", body)
		}
		return Value{Kind: Int, Int: n}, nil
	case '$':
		n, err := length(body, maxBulk)
		if err != nil || n < 0 {
			return Value{Kind: Nil}, err
		}
		b, err := readBulk(r, n)
		return Value{Kind: Bulk, Str: b}, err
	case '*':
		n, err := length(body, 1<<31)
		if err != nil || n < 0 {
			return Value{Kind: Nil}, err
		}
		if depth >= maxDepth {
			return Value{}, protoErr("arrays nested deeper than %d", maxDepth)
		}
		elems := make([]Value, 0, min(n, maxPrealloc/32))
		for range n {
			v, err := readReply(r, depth+1)
			if err != nil {
				return Value{}, err
			}
			elems = append(elems, v)
		}
		return Value{Kind: Array, Elems: elems}, nil
	}
	return Value{}, protoErr("reply type %q", line[0])
}

// length parses a declared length: -1 (null) or 0 to limit.
func length(b []byte, limit int) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 || n > limit {
		return 0, protoErr("length %q", b)
	}
	return n, nil
}

// readLine returns the next line without its CRLF.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if err == nil || err == bufio.ErrBufferFull {
			if len(line)+len(chunk) > maxLine {
				return nil, protoErr("line longer than %d bytes", maxLine)
			}
			line = append(line, chunk...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, unexpectedEOF(err)
		}
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return nil, protoErr("line not ended by CRLF")
		}
		return line[:len(line)-2], nil
	}
}

// readBulk reads n bytes and their CRLF.
func readBulk(r *bufio.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, min(n+2, maxPrealloc))
	for len(b) < n+2 {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := r.Read(b[len(b):min(cap(b), n+2)])
		b = b[:len(b)+m]
		if err != nil && len(b) < n+2 {
			return nil, unexpectedEOF(err)
		}
	}
	if b[n] != '\r' || b[n+1] != '\n' {
		return nil, protoErr("bulk string of %d bytes not ended by CRLF", n)
	}
	return b[:n], nil
}

// unexpectedEOF: a reply cut short is not a clean end.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// AppendCommand appends a command, its name and arguments, as Redis
// reads it: an array of bulk strings. An argument is a string, a []byte,
// an int or an int64.
func AppendCommand(buf []byte, args ...any) ([]byte, error) {
	buf = append(buf, '*')
	buf = strconv.AppendInt(buf, int64(len(args)), 10)
	buf = append(buf, '\r', '\n')
	for i, a := range args {
		var num [20]byte
		var s []byte
		switch a := a.(type) {
		case string:
			buf = appendBulk(buf, a)
			continue
		case []byte:
			buf = appendBulk(buf, a)
			continue
		case int:
			s = strconv.AppendInt(num[:0], int64(a), 10)
		case int64:
			s = strconv.AppendInt(num[:0], a, 10)
		default:
			return nil, fmt.Errorf("redis command %v: argument %d is a %T, want a string, []byte or integer", args[0], i, a)
		}
		buf = appendBulk(buf, s)
	}
	return buf, nil
}

func appendBulk[T string | []byte](buf []byte, s T) []byte {
	buf = append(buf, '$')
	buf = strconv.AppendInt(buf, int64(len(s)), 10)
	buf = append(buf, '\r', '\n')
	buf = append(buf, s...)
	return append(buf, '\r', '\n')
}
