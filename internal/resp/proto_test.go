package resp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// show writes v in a form a table can spell: kinds and contents.
func show(v Value) string {
	switch v.Kind {
	case Nil:
		return "nil"
	case Simple:
		return "+" + string(v.Str)
	case Err:
		return "-" + string(v.Str)
	case Int:
		return fmt.Sprintf(":%d", v.Int)
	case Bulk:
		return fmt.Sprintf("$%q", v.Str)
	case Array:
		parts := make([]string, len(v.Elems))
		for i, e := range v.Elems {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("kind %d", v.Kind)
}

func TestReadReply(t *testing.T) {
	for _, c := range []struct {
		in, want string // want: show of the reply, or "error: " and a part of the error
		rest     string // what is left unread after the reply
	}{
		{in: "+OK\r\n", want: "+OK"},
		{in: "+QUEUED\r\n+OK\r\n", want: "+QUEUED", rest: "+OK\r\n"},
		{in: "-NOSCRIPT No matching script. Please use EVAL.\r\n", want: "-NOSCRIPT No matching script. Please use EVAL."},
		{in: ":0\r\n", want: ":0"},
		{in: ":-42\r\n", want: ":-42"},
		{in: ":9223372036854775807\r\n", want: ":9223372036854775807"},
		{in: "$3\r\nabc\r\n", want: `$"abc"`},
		{in: "$0\r\n\r\n", want: `$""`},
		{in: "$4\r\na\r\nb\r\n", want: `$"a\r\nb"`}, // a bulk string may hold CRLF
		{in: "$-1\r\n", want: "nil"},
		{in: "*-1\r\n", want: "nil"},
		{in: "*0\r\n", want: "[]"},
		{in: "*2\r\n:1\r\n:1\r\n", want: "[:1 :1]"},
		{in: "*3\r\n$1\r\na\r\n$-1\r\n*1\r\n-ERR x\r\n", want: `[$"a" nil [-ERR x]]`},
		{in: "", want: "error: unexpected EOF"},
		{in: "+OK", want: "error: unexpected EOF"},
		{in: "+OK\n", want: "error: not ended by CRLF"},
		{in: "\r\n", want: "error: empty line"},
		{in: "%2\r\n", want: "error: reply type '%'"}, // RESP3: not spoken here
		{in: ":x\r\n", want: "error: integer reply"},
		{in: ":99999999999999999999\r\n", want: "error: integer reply"},
		{in: "$-2\r\n", want: "error: length"},
		{in: "$x\r\n", want: "error: length"},
		{in: "$536870913\r\n", want: "error: length"}, // past 512 MB
		{in: "$3\r\nabcd\r\n", want: "error: not ended by CRLF"},
		{in: "$3\r\nab", want: "error: unexpected EOF"},
		{in: "$1000000\r\nabc", want: "error: unexpected EOF"}, // a length alone allocates little
		{in: "*2\r\n:1\r\n", want: "error: unexpected EOF"},
		{in: "*1000000000\r\n", want: "error: unexpected EOF"},
		{in: strings.Repeat("*1\r\n", 40) + ":1\r\n", want: "error: nested deeper"},
		{in: "+" + strings.Repeat("a", maxLine) + "\r\n", want: "error: line longer"},
	} {
		r := bufio.NewReaderSize(strings.NewReader(c.in), 16)
		v, err := ReadReply(r)
		got := show(v)
		if err != nil {
			got = "error: " + err.Error()
		}
		if strings.HasPrefix(c.want, "error: ") {
			if err == nil || !strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) {
				t.Errorf("ReadReply(%.40q) = %s, want an %s", c.in, got, c.want)
			}
			continue
		}
		rest, _ := io.ReadAll(r)
		if got != c.want || string(rest) != c.rest {
			t.Errorf("ReadReply(%q) = %s, leaving %q; want %s, leaving %q", c.in, got, rest, c.want, c.rest)
		}
	}
}

// FuzzReadReply: whatever the server sends, ReadReply returns a reply or
// an error (no panic, no hang), and a reply it accepts, written again,
// reads back the same.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n*-1\r\n", "*1\r\n*1\r\n:1\r\n", "$5\r\nab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := ReadReply(bufio.NewReaderSize(bytes.NewReader(in), 16))
		if err != nil {
			if !errors.Is(err, ErrProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadReply(%q): %v, want a protocol error or unexpected EOF", in, err)
			}
			return
		}
		again, err := ReadReply(bufio.NewReader(bytes.NewReader(appendReply(nil, v))))
		if err != nil || show(again) != show(v) {
			t.Fatalf("ReadReply(%q) = %s; written again and read: %s, %v", in, show(v), show(again), err)
		}
	})
}

// appendReply writes v as a server would.
func appendReply(b []byte, v Value) []byte {
	switch v.Kind {
	case Nil:
		return append(b, "$-1\r\n"...)
	case Simple:
		return append(append(append(b, '+'), v.Str...), "\r\n"...)
	case Err:
		return append(append(append(b, '-'), v.Str...), "\r\n"...)
	case Int:
		return fmt.Appendf(b, ":%d\r\n", v.Int)
	case Bulk:
		return appendBulk(b, v.Str)
	}
	b = fmt.Appendf(b, "*%d\r\n", len(v.Elems))
	for _, e := range v.Elems {
		b = appendReply(b, e)
	}
	return b
}

func TestAppendCommand(t *testing.T) {
	for _, c := range []struct {
		args []any
		want string
	}{
		{[]any{"PING"}, "*1\r\n$4\r\nPING\r\n"},
		{[]any{"HSET", "k", "v", []byte("a\r\nb"), "m", int64(1700000000000)},
			"*6\r\n$4\r\nHSET\r\n$1\r\nk\r\n$1\r\nv\r\n$4\r\na\r\nb\r\n$1\r\nm\r\n$13\r\n1700000000000\r\n"},
		{[]any{"ZADD", "i", 0, ""}, "*4\r\n$4\r\nZADD\r\n$1\r\ni\r\n$1\r\n0\r\n$0\r\n\r\n"},
		{[]any{"X", -1, []byte(nil)}, "*3\r\n$1\r\nX\r\n$2\r\n-1\r\n$0\r\n\r\n"},
		{[]any{"SET", "é", "ü"}, "*3\r\n$3\r\nSET\r\n$2\r\né\r\n$2\r\nü\r\n"}, // lengths in bytes
	} {
		got, err := AppendCommand([]byte("before"), c.args...)
		if err != nil || string(got) != "before"+c.want {
			t.Errorf("AppendCommand(%q) = %q, %v; want %q", c.args, got, err, "before"+c.want)
		}
	}
	if _, err := AppendCommand(nil, "SET", "k", 1.5); err == nil || !strings.Contains(err.Error(), "argument 2 is a float64") {
		t.Errorf("AppendCommand with a float: %v, want an error naming argument 2 and its type", err)
	}
}

// TestAppendCommandRead: what AppendCommand writes is what a RESP reader
// (ours, reading it as an array of bulk strings) gets back.
func TestAppendCommandRead(t *testing.T) {
	args := []any{"EVALSHA", strings.Repeat("f", 40), 1, "corral:certs:index", []byte{0, '\r', '\n', 0xff}, int64(-7)}
	b, err := AppendCommand(nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ReadReply(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := `[$"EVALSHA" $"ffffffffffffffffffffffffffffffffffffffff" $"1" $"corral:certs:index" $"\x00\r\n\xff" $"-7"]`
	if show(v) != want {
		t.Errorf("read back: %s, want %s", show(v), want)
	}
}
