package output

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// fixedNow is the clock of the tests that compare whole lines.
func fixedNow() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.UTC) }

// fixedStamp is fixedNow as a JSON line's time.
const fixedStamp = "2026-01-02T15:04:05.123456789Z"

// jsonLines parses out, which must be whole JSON objects one per line, and
// fails the test on anything else.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	if out == "" {
		return nil
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a newline: …%q", out[max(0, len(out)-80):])
	}
	var objs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %.200q", i+1, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value: %.200q", i+1, line)
		}
		objs = append(objs, obj)
	}
	return objs
}

// TestParseFormat: the two names, in any case, and an error naming any other value.
func TestParseFormat(t *testing.T) {
	tests := []struct {
		in      string
		want    Format
		wantErr bool
	}{
		{"text", Text, false},
		{"json", JSON, false},
		{" JSON ", JSON, false},
		{"", Text, true},
		{"xml", Text, true},
		{"jsonl", Text, true},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
			t.Errorf("ParseFormat(%q): error %q does not name the value", tt.in, err)
		}
		if err == nil && got.String() != strings.ToLower(strings.TrimSpace(tt.in)) {
			t.Errorf("%v.String() = %q", got, got.String())
		}
	}
}

// stdJSON is encoding/json's encoding of s, with HTML escaping off.
func stdJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// TestAppendJSONString: each kind of byte that needs escaping, as a string
// and as a []byte, the same as encoding/json.
func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain text", `"plain text"`},
		{`say "hi" \ bye`, `"say \"hi\" \\ bye"`},
		{"tab\tnl\ncr\rbs\bff\f", `"tab\tnl\ncr\rbs\bff\f"`},
		{"\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"<a href='x'>&</a>", `"<a href='x'>&</a>"`},
		{"héllo, 世界 🐄", `"héllo, 世界 🐄"`},
		{"bad \xff byte", `"bad \ufffd byte"`},
		{"cut \xe4\xb8", `"cut \ufffd\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a surrogate is not UTF-8
		{"sep\u2028par\u2029", `"sep\u2028par\u2029"`},
		{`{"level":"info","msg":"x"}`, `"{\"level\":\"info\",\"msg\":\"x\"}"`},
	}
	for _, tt := range tests {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("string %q: got %s, want %s", tt.in, got, tt.want)
		}
		if got := string(appendJSONString(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("[]byte %q: got %s, want %s", tt.in, got, tt.want)
		}
		if std := stdJSON(tt.in); std != tt.want {
			t.Errorf("%q: encoding/json gives %s, the table %s", tt.in, std, tt.want)
		}
	}
}

// FuzzAppendJSONString holds appendJSONString to encoding/json, and its
// output to valid JSON that reads back as the input made valid UTF-8.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b\\c\n", "\xff\xfe", "世界\u2028", "\x00\x01\x1f", "GET /plain/path/then \"quoted\" and \xe4\xb8 cut"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONString([]byte("prefix"), []byte(s))
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("dst clobbered: %q", got)
		}
		got = got[len("prefix"):]
		if std := stdJSON(s); string(got) != std {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, std)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("%q read back as %q", s, back)
		}
	})
}

// TestTypeOf: only an instance's name TYPE.N has a type.
func TestTypeOf(t *testing.T) {
	tests := []struct{ name, want string }{
		{"web.1", "web"},
		{"web.12", "web"},
		{"my-worker_2.3", "my-worker_2"},
		{"release.1", "release"},
		{"edge", ""},
		{"corral", ""},
		{"web.", ""},
		{".1", ""},
		{"web.x", ""},
	}
	for _, tt := range tests {
		if got := typeOf(tt.name); got != tt.want {
			t.Errorf("typeOf(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestCopyJSON is TestCopy in JSON: whole objects, whatever the read sizes.
func TestCopyJSON(t *testing.T) {
	line := func(msg string) string {
		return `{"time":"` + fixedStamp + `","source":"web.1","type":"web","msg":` + msg + "}\n"
	}
	tests := []struct {
		name string
		opts Options
		in   string
		want string
	}{
		{"lines", Options{}, "a\nb\n", line(`"a"`) + line(`"b"`)},
		{"unterminated last line", Options{}, "a\nb", line(`"a"`) + line(`"b"`)},
		{"empty lines kept", Options{}, "\n\nx\n", line(`""`) + line(`""`) + line(`"x"`)},
		{"nothing", Options{}, "", ""},
		{"CRLF: the CR is the line end's", Options{}, "a\r\nb\rc\r\n", line(`"a"`) + line(`"b\rc"`)},
		{"a line of JSON stays a string", Options{}, `{"level":"error","n":1}` + "\n", line(`"{\"level\":\"error\",\"n\":1}"`)},
		{"invalid UTF-8", Options{}, "caf\xe9\n", line(`"caf\ufffd"`)},
		{"escapes", Options{}, "\x1b[31mred\x1b[0m\t\"q\"\n", line(`"\u001b[31mred\u001b[0m\t\"q\""`)},
		{"no timestamps, no colour", Options{Timestamps: true, Color: true}, "a\n", line(`"a"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.opts.Format, tt.opts.Now = JSON, fixedNow
			m := New(&out, 6, tt.opts)
			if err := m.Prefix("web.1").Copy(iotest.OneByteReader(strings.NewReader(tt.in))); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
			jsonLines(t, out.String())
		})
	}
}

// TestCopyJSONLongLines: a line of any length, a 1 MiB one among them, and
// a last line with no newline (a process's last words at exit) each come
// out as one JSON object holding all of it.
func TestCopyJSONLongLines(t *testing.T) {
	for _, size := range []int{readSize - 1, readSize, readSize + 1, 1 << 20, 3*readSize + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			long := strings.Repeat("x", size-1) + "é" // a rune across read boundaries, somewhere
			in := "short\n" + long + "\n" + long      // the last one unterminated
			var out bytes.Buffer
			m := New(&out, 0, Options{Format: JSON})
			if err := m.Prefix("worker.1").Copy(strings.NewReader(in)); err != nil {
				t.Fatal(err)
			}
			objs := jsonLines(t, out.String())
			if len(objs) != 3 {
				t.Fatalf("%d objects, want 3", len(objs))
			}
			for i, want := range []string{"short", long, long} {
				if objs[i]["msg"] != want || objs[i]["source"] != "worker.1" || objs[i]["type"] != "worker" {
					t.Errorf("object %d: source %v, type %v, msg of %d bytes; want %d", i, objs[i]["source"], objs[i]["type"], len(fmt.Sprint(objs[i]["msg"])), len(want))
				}
			}
		})
	}
}

// TestCopyJSONPartialLineAtError: what a process wrote before its pipe
// failed comes out whole, the partial last line too.
func TestCopyJSONPartialLineAtError(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, 0, Options{Format: JSON})
	r := io.MultiReader(strings.NewReader("a\npartial"), iotest.ErrReader(io.ErrUnexpectedEOF))
	if err := m.Prefix("p").Copy(r); err != io.ErrUnexpectedEOF {
		t.Errorf("err = %v", err)
	}
	objs := jsonLines(t, out.String())
	if len(objs) != 2 || objs[0]["msg"] != "a" || objs[1]["msg"] != "partial" {
		t.Errorf("got %q", out.String())
	}
	if _, ok := objs[0]["type"]; ok {
		t.Errorf("a type for a name that is no instance's: %q", out.String())
	}
}

// TestConcurrentCopiesJSON checks that lines of concurrent sources are
// never mixed and none is lost, in JSON.
func TestConcurrentCopiesJSON(t *testing.T) {
	const n = 20000
	var out bytes.Buffer
	m := New(&out, 1, Options{Format: JSON})
	var wg sync.WaitGroup
	names := []string{"a.1", "b.1", "c.1"}
	log := m.Logger("corral", false)
	for _, name := range names {
		pr, pw := io.Pipe()
		p := m.Prefix(name)
		wg.Go(func() {
			if err := p.Copy(pr); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			for i := range n {
				// Odd-sized writes that cut lines at random places, with
				// bytes that need escaping.
				fmt.Fprintf(pw, "%s-%06d-\"%s\"\t\xff\n", name, i, strings.Repeat(name, i%97))
			}
			pw.Close()
		})
	}
	edge := m.Prefix("edge")
	wg.Go(func() {
		for i := range n {
			edge.Event(slog.LevelInfo, "request").Int("n", int64(i)).Write()
			if i%100 == 0 {
				log.Info("tick", "n", i)
			}
		}
	})
	wg.Wait()
	next := map[string]int{}
	for _, obj := range jsonLines(t, out.String()) {
		name, _ := obj["source"].(string)
		var want string
		switch name {
		case "edge":
			want = "request"
			if obj["n"] != float64(next[name]) {
				t.Fatalf("edge event %v, want n=%d", obj, next[name])
			}
		case "corral":
			want = "tick"
			if obj["n"] != float64(next[name]*100) {
				t.Fatalf("corral record %v, want n=%d", obj, next[name]*100)
			}
		default:
			want = fmt.Sprintf("%s-%06d-\"%s\"\t\uFFFD", name, next[name], strings.Repeat(name, next[name]%97))
		}
		if obj["msg"] != want {
			t.Fatalf("object %v, want msg %q", obj, want)
		}
		next[name]++
	}
	for _, name := range names {
		if next[name] != n {
			t.Errorf("%s: %d lines, want %d", name, next[name], n)
		}
	}
	if next["edge"] != n || next["corral"] != n/100 {
		t.Errorf("%d edge events, %d corral records; want %d and %d", next["edge"], next["corral"], n, n/100)
	}
}

// TestLoggerJSON: corral's messages are slog's JSON records with a source,
// one line each, debug only when asked for.
func TestLoggerJSON(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, 6, Options{Format: JSON, Color: true, Timestamps: true})
	log := m.Logger("corral", false)
	before := time.Now()
	log.Info("starting web.1", "pid", 42, "cmd", "python app.py")
	log.Warn("slow", "after", 2*time.Second)
	log.Error("web.1 exited", "code", 1)
	log.Debug("hidden")
	log.With("proc", "web.1").WithGroup("g").Info("two\nlines", "k", "")
	m.Logger("corral", true).Debug("shown")
	objs := jsonLines(t, out.String())
	want := []map[string]any{
		{"level": "INFO", "msg": "starting web.1", "source": "corral", "pid": 42.0, "cmd": "python app.py"},
		{"level": "WARN", "msg": "slow", "source": "corral", "after": float64(2 * time.Second)},
		{"level": "ERROR", "msg": "web.1 exited", "source": "corral", "code": 1.0},
		{"level": "INFO", "msg": "two\nlines", "source": "corral", "proc": "web.1", "g": map[string]any{"k": ""}},
		{"level": "DEBUG", "msg": "shown", "source": "corral"},
	}
	if len(objs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(objs), len(want), out.String())
	}
	for i, obj := range objs {
		ts, _ := obj["time"].(string)
		when, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || when.Before(before.Add(-time.Second)) || when.After(time.Now().Add(time.Second)) {
			t.Errorf("record %d: time %q (%v)", i, ts, err)
		}
		delete(obj, "time")
		if fmt.Sprint(obj) != fmt.Sprint(want[i]) {
			t.Errorf("record %d:\ngot  %v\nwant %v", i, obj, want[i])
		}
	}
	// Field order is slog's: time, level, msg, then source and the rest.
	if first, _, _ := strings.Cut(out.String(), "\n"); !strings.HasPrefix(first, `{"time":"`) || !strings.Contains(first, `,"level":"INFO","msg":"starting web.1","source":"corral","pid":42,`) {
		t.Errorf("first record %s", first)
	}
}

// TestEvent: an access-log line in JSON and in text, exactly; a recycled
// Event keeps nothing of the last.
func TestEvent(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		level  slog.Level
		write  func(*Event)
		want   string
	}{
		{"json access line", JSON, slog.LevelInfo, func(e *Event) {
			e.Str("method", "GET").Str("path", "/caf\xe9 \"x\"").Int("status", 200).Int("bytes", 13).
				Float("duration_ms", 1.234).Str("instance", "web.1").Str("request_id", "abc").Write()
		}, `{"time":"` + fixedStamp + `","level":"INFO","msg":"request","source":"edge","method":"GET","path":"/caf\ufffd \"x\"",` +
			`"status":200,"bytes":13,"duration_ms":1.234,"instance":"web.1","request_id":"abc"}` + "\n"},
		{"json levels and odd numbers", JSON, slog.LevelWarn, func(e *Event) {
			e.Float("nan", math.NaN()).Float("inf", math.Inf(-1)).Float("big", 1e21).Float("zero", 0).Int("neg", -5).Bool("cut", true).Bool("no", false).Write()
		}, `{"time":"` + fixedStamp + `","level":"WARN","msg":"request","source":"edge","nan":null,"inf":null,"big":1000000000000000000000,"zero":0,"neg":-5,"cut":true,"no":false}` + "\n"},
		{"text", Text, slog.LevelInfo, func(e *Event) {
			e.Str("method", "GET").Str("path", "/a b").Int("status", 200).Float("ms", 1.5).Str("empty", "").Bool("cut", true).Write()
		}, `edge   | request method=GET path="/a b" status=200 ms=1.5 empty="" cut=true` + "\n"},
		{"text error", Text, slog.LevelError, func(e *Event) { e.Write() }, "edge   | error: request\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			m := New(&out, 6, Options{Format: tt.format, Now: fixedNow})
			p := m.Prefix("edge")
			tt.write(p.Event(tt.level, "request"))
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
			if tt.format == JSON {
				jsonLines(t, out.String())
			}
			// A recycled Event starts afresh.
			out.Reset()
			p.Event(slog.LevelInfo, "again").Write()
			if tt.format == JSON && out.String() != `{"time":"`+fixedStamp+`","level":"INFO","msg":"again","source":"edge"}`+"\n" {
				t.Errorf("second event: %s", out.String())
			}
		})
	}
}

// TestEventTextNewlines: a text event's message with newlines stays under
// its prefix, line by line.
func TestEventTextNewlines(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, 0, Options{})
	m.Prefix("edge").Event(slog.LevelInfo, "a\nb").Str("k", "v\nw").Write()
	if want := "edge | a\nedge | b k=\"v\\nw\"\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// accessLine is one request of the access-log benchmarks.
var accessLine = struct {
	method, path, instance, id string
	status                     int
	bytes                      int64
	duration                   time.Duration
}{"GET", "/api/v1/items/42", "web.1", "6f1c2e9a4b7d4e0f8a1b2c3d4e5f6a7b", 200, 1234, 1234567 * time.Nanosecond}

// BenchmarkAccessLog measures one access-log line, as frontdoor.go writes
// it: text (its fmt.Sprintf and WriteLine), JSON (an Event), and, for
// comparison, JSON through log/slog's handler.
func BenchmarkAccessLog(b *testing.B) {
	a := accessLine
	b.Run("text", func(b *testing.B) {
		p := New(io.Discard, 6, Options{}).Prefix("edge")
		b.ReportAllocs()
		for b.Loop() {
			p.WriteLine(fmt.Sprintf("%s %s %d %dB %s %s id=%s", a.method, a.path, a.status, a.bytes,
				a.duration.Round(time.Microsecond), a.instance, a.id))
		}
	})
	b.Run("json", func(b *testing.B) {
		p := New(io.Discard, 6, Options{Format: JSON}).Prefix("edge")
		b.ReportAllocs()
		for b.Loop() {
			p.Event(slog.LevelInfo, "request").Str("method", a.method).Str("path", a.path).
				Int("status", int64(a.status)).Int("bytes", a.bytes).
				Float("duration_ms", float64(a.duration.Round(time.Microsecond))/float64(time.Millisecond)).
				Str("instance", a.instance).Str("request_id", a.id).Write()
		}
	})
	b.Run("slog-json", func(b *testing.B) {
		log := New(io.Discard, 6, Options{Format: JSON}).Logger("edge", false)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("method", a.method), slog.String("path", a.path),
				slog.Int("status", a.status), slog.Int64("bytes", a.bytes),
				slog.Float64("duration_ms", float64(a.duration.Round(time.Microsecond))/float64(time.Millisecond)),
				slog.String("instance", a.instance), slog.String("request_id", a.id))
		}
	})
}

// BenchmarkCopyJSON is BenchmarkCopy in JSON.
func BenchmarkCopyJSON(b *testing.B) {
	line := strings.Repeat("x", 80) + "\n"
	in := strings.Repeat(line, 10000)
	m := New(io.Discard, 6, Options{Format: JSON})
	p := m.Prefix("web.1")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := p.Copy(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPlain8 tries every byte at every place of a word of plain letters.
func TestPlain8(t *testing.T) {
	for b := range 256 {
		want := b >= 0x20 && b < 0x80 && b != '"' && b != '\\'
		for pos := range 8 {
			word := []byte("abcdefgh")
			word[pos] = byte(b)
			x := uint64(0)
			for i, c := range word {
				x |= uint64(c) << (8 * i)
			}
			if got := plain8(x); got != want {
				t.Fatalf("byte %#x at %d: plain8 = %v, want %v", b, pos, got, want)
			}
		}
	}
}
