package edge

import (
	"bufio"
	"bytes"
	"io"
	"net/http/httputil"
	"strings"
	"testing"
)

// chunkedCases are chunked bodies, well-formed or not, each followed by
// what comes after the body ("NEXT").
var chunkedCases = []string{
	"0\r\n\r\nNEXT",
	"5\r\nhello\r\n0\r\n\r\nNEXT",
	"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT",
	"5;name=\"va;l\\\"ue\";x\r\nhello\r\n0;end\r\n\r\nNEXT",
	"0000000000000005 \t\r\nhello\r\n0\r\n\r\nNEXT",
	"A\r\n0123456789\r\n0\r\n\r\nNEXT",
	"a\r\n0123456789\r\n0\r\n\r\nNEXT",
	"1\r\nx\r\n1\r\ny\r\n1\r\nz\r\n0\r\n\r\nNEXT",
	"5\nhello\r\n0\r\n\r\nNEXT",              // bare LF
	"5\r\nhello\n0\r\n\r\nNEXT",              // bare LF after data
	"5\r\nhelloXY0\r\n\r\nNEXT",              // no CRLF after data
	"5\r\r\nhello\r\n0\r\n\r\nNEXT",          // CR inside the line
	"5 ;x\r\nhello\r\n0\r\n\r\nNEXT",         // space before the extension
	"\r\nhello\r\n0\r\n\r\nNEXT",             // no size
	"-5\r\nhello\r\n0\r\n\r\nNEXT",           // sign
	"0x5\r\nhello\r\n0\r\n\r\nNEXT",          // 0x
	"10000000000000000\r\nhello\r\n\r\nNEXT", // 17 digits
	"ffffffffffffffff\r\nhello",              // 16 digits, cut short
	"5\r\nhel",                               // cut in the data
	"5\r\nhello\r",                           // cut in the CRLF
	"5",                                      // cut in the size line
	"",
	"\n",
	"1;" + strings.Repeat("x", 5000) + "\r\nx\r\n0\r\n\r\n",                      // a line too long
	strings.Repeat("1;"+strings.Repeat("e", 200)+"\r\nx\r\n", 100) + "0\r\n\r\n", // too much overhead
}

// chunkedRead reads a chunked body from in with a buffer of size and
// returns the data, the error (nil at the last chunk) and what is left
// after it.
func chunkedRead(in string, size int, ours bool, limit int64) (data []byte, err error, rest string) {
	br := bufio.NewReaderSize(strings.NewReader(in), size)
	var r io.Reader
	if ours {
		r = newChunkedReader(br, limit)
	} else {
		r = httputil.NewChunkedReader(br)
	}
	data, err = io.ReadAll(r)
	b, _ := io.ReadAll(br)
	return data, err, string(b)
}

// checkChunkedAgrees fails t if the edge's chunk reader, without a limit,
// reads in differently from net/http's: other data, success where the
// other fails, or a different end.
func checkChunkedAgrees(t *testing.T, in string) {
	t.Helper()
	for _, size := range []int{16, 4096} {
		d1, err1, rest1 := chunkedRead(in, size, true, 0)
		d2, err2, rest2 := chunkedRead(in, size, false, 0)
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(d1, d2) || err1 == nil && rest1 != rest2 {
			t.Fatalf("%q, buffer %d:\n edge    %q, %v, left %q\n net/http %q, %v, left %q", in, size, d1, err1, rest1, d2, err2, rest2)
		}
	}
}

func TestChunkedReaderAgreesWithGo(t *testing.T) {
	for _, in := range chunkedCases {
		checkChunkedAgrees(t, in)
	}
}

// TestChunkedReaderLimit: a chunk that would take the body past its limit
// fails at its size line, its data left unread; up to the limit is fine.
func TestChunkedReaderLimit(t *testing.T) {
	for _, c := range []struct {
		in    string
		limit int64
		data  string // read before the refusal, or all
		over  bool
		rest  string
	}{
		{"5\r\nhello\r\n0\r\n\r\nNEXT", 5, "hello", false, "\r\nNEXT"},
		{"5\r\nhello\r\n0\r\n\r\nNEXT", 4, "", true, "hello\r\n0\r\n\r\nNEXT"},
		{"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, "abc", true, "def\r\n0\r\n\r\n"},
		{"ffffffffffffffff\r\nabc", 1 << 30, "", true, "abc"},
		{"7fffffffffffffff\r\nabc", 1<<63 - 1, "abc", false, ""}, // no refusal: cut short
	} {
		br := bufio.NewReader(strings.NewReader(c.in))
		data, err := io.ReadAll(newChunkedReader(br, c.limit))
		rest, _ := io.ReadAll(br)
		if string(data) != c.data || (err == errTooLarge) != c.over || c.over && string(rest) != c.rest {
			t.Errorf("%q, limit %d: %q, %v, left %q; want %q, too large %v, left %q", c.in, c.limit, data, err, rest, c.data, c.over, c.rest)
		}
	}
}

// FuzzChunkedReader: for any input, the edge's chunk reader reads as
// net/http's does.
func FuzzChunkedReader(f *testing.F) {
	for _, in := range chunkedCases {
		if len(in) < 4096 {
			f.Add([]byte(in))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkChunkedAgrees(t, string(in))
	})
}
