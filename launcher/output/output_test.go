package output

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestCopy(t *testing.T) {
	fixed := func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC) }
	tests := []struct {
		name string
		opts Options
		in   string
		want string
	}{
		{"lines", Options{}, "a\nb\n", "web.1  | a\nweb.1  | b\n"},
		{"unterminated last line", Options{}, "a\nb", "web.1  | a\nweb.1  | b\n"},
		{"empty lines kept", Options{}, "\n\nx\n", "web.1  | \nweb.1  | \nweb.1  | x\n"},
		{"nothing", Options{}, "", ""},
		{"CRLF passed through", Options{}, "a\r\n", "web.1  | a\r\n"},
		{"timestamps", Options{Timestamps: true, Now: fixed}, "a\n", "15:04:05 web.1  | a\n"},
		{"color", Options{Color: true}, "a\n", "\x1b[36mweb.1  |\x1b[0m a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			m := New(&out, 6, tt.opts)
			// One byte at a time: line assembly must not depend on read sizes.
			if err := m.Prefix("web.1").Copy(iotest.OneByteReader(strings.NewReader(tt.in))); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestCopyLongLines(t *testing.T) {
	for _, size := range []int{readSize - 1, readSize, readSize + 1, 1 << 20, 3*readSize + 7} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			long := strings.Repeat("x", size)
			in := "short\n" + long + "\n" + long // the last one unterminated
			var out bytes.Buffer
			m := New(&out, 0, Options{})
			if err := m.Prefix("p").Copy(strings.NewReader(in)); err != nil {
				t.Fatal(err)
			}
			want := "p | short\np | " + long + "\np | " + long + "\n"
			if out.String() != want {
				t.Errorf("output differs: got %d bytes, want %d", out.Len(), len(want))
			}
		})
	}
}

func TestCopySplitsBeyondMaxLine(t *testing.T) {
	huge := strings.Repeat("y", MaxLine+10)
	var out bytes.Buffer
	m := New(&out, 0, Options{})
	if err := m.Prefix("p").Copy(strings.NewReader(huge + "\nend\n")); err != nil {
		t.Fatal(err)
	}
	want := "p | " + huge[:MaxLine] + "\np | " + huge[MaxLine:] + "\np | end\n"
	if out.String() != want {
		t.Errorf("got %d bytes, want %d", out.Len(), len(want))
	}
}

func TestCopyReadError(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, 0, Options{})
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a\npartial"), iotest.ErrReader(boom))
	if err := m.Prefix("p").Copy(r); !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
	if out.String() != "p | a\np | partial\n" {
		t.Errorf("got %q", out.String())
	}
}

// TestConcurrentCopies checks that lines of concurrent sources are never
// mixed and none is lost.
func TestConcurrentCopies(t *testing.T) {
	const n = 20000
	var out bytes.Buffer
	m := New(&out, 1, Options{})
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		pr, pw := io.Pipe()
		p := m.Prefix(name)
		wg.Go(func() {
			if err := p.Copy(pr); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			for i := range n {
				// Odd-sized writes that cut lines at random places.
				fmt.Fprintf(pw, "%s-%06d-%s\n", name, i, strings.Repeat(name, i%97))
			}
			pw.Close()
		})
	}
	wg.Wait()
	next := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSuffix(out.String(), "\n"), "\n") {
		name, text, ok := strings.Cut(line, " | ")
		if !ok {
			t.Fatalf("line without prefix: %q", line)
		}
		want := fmt.Sprintf("%s-%06d-%s", name, next[name], strings.Repeat(name, next[name]%97))
		if text != want {
			t.Fatalf("line %q, want %q", line, want)
		}
		next[name]++
	}
	for _, name := range []string{"a", "b", "c"} {
		if next[name] != n {
			t.Errorf("%s: %d lines, want %d", name, next[name], n)
		}
	}
}

func TestPrefixColorsCycle(t *testing.T) {
	m := New(io.Discard, 0, Options{Color: true})
	first := m.Prefix("a")
	for range len(palette) - 1 {
		m.Prefix("x")
	}
	again := m.Prefix("a")
	if !bytes.Equal(first.label, again.label) {
		t.Errorf("palette does not cycle: %q vs %q", first.label, again.label)
	}
	if bytes.Equal(first.label, m.Prefix("a").label) {
		t.Errorf("consecutive prefixes share a colour")
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(b []byte) (int, error) {
	f.n++
	return 0, errors.New("closed")
}

func TestWriteErrorKeepsDraining(t *testing.T) {
	fw := &failWriter{}
	m := New(fw, 0, Options{})
	in := strings.Repeat("line\n", 100000)
	if err := m.Prefix("p").Copy(strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if m.Err() == nil {
		t.Error("Err() = nil after a failed write")
	}
	select {
	case <-m.Broken():
	default:
		t.Error("Broken() not closed after a failed write")
	}
	if fw.n != 1 {
		t.Errorf("writer called %d times after failing, want 1", fw.n)
	}
}

func TestLogger(t *testing.T) {
	var out bytes.Buffer
	m := New(&out, 6, Options{})
	log := m.Logger("corral", false)
	log.Info("starting web.1", "pid", 42, "cmd", "python app.py")
	log.Warn("slow", "after", 2*time.Second)
	log.Error("web.1 exited", "code", 1)
	log.Debug("hidden")
	log.With("proc", "web.1").WithGroup("g").Info("hi", "k", "")
	want := `corral | starting web.1 pid=42 cmd="python app.py"
corral | warning: slow after=2s
corral | error: web.1 exited code=1
corral | hi proc=web.1 g.k=""
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func BenchmarkCopy(b *testing.B) {
	line := strings.Repeat("x", 80) + "\n"
	in := strings.Repeat(line, 10000)
	m := New(io.Discard, 6, Options{Timestamps: true})
	p := m.Prefix("web.1")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := p.Copy(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// countingWriter counts the writes it gets.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(p)
}

// TestGather proves that with Options.Gather the short lines of a busy
// process (an OS pipe, as a child's output is) are written many at a time,
// none lost or out of order, and that a line from a quiet process is not
// held back.
func TestGather(t *testing.T) {
	const n = 5000
	for _, gather := range []time.Duration{0, 2 * time.Millisecond} {
		t.Run(gather.String(), func(t *testing.T) {
			w := &countingWriter{}
			m := New(w, 1, Options{Gather: gather})
			pr, pw, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Prefix("a").Copy(pr) }()
			// A quiet process's line comes out at once, whatever Gather.
			fmt.Fprintln(pw, "first")
			deadline := time.Now().Add(5 * time.Second)
			for {
				w.mu.Lock()
				got := w.buf.String()
				w.mu.Unlock()
				if got == "a | first\n" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the first line did not come out: %q", got)
				}
				time.Sleep(100 * time.Microsecond)
			}
			start := time.Now()
			for i := range n { // an access log under load: short lines, one write each
				fmt.Fprintf(pw, "line %d\n", i)
				if i%50 == 0 {
					time.Sleep(200 * time.Microsecond)
				}
			}
			pw.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			pr.Close()
			var want strings.Builder
			want.WriteString("a | first\n")
			for i := range n {
				fmt.Fprintf(&want, "a | line %d\n", i)
			}
			if w.buf.String() != want.String() {
				t.Fatal("lines lost, cut or out of order")
			}
			t.Logf("gather %v: %d writes for %d lines in %v", gather, w.writes, n+1, time.Since(start))
			if gather > 0 && w.writes > n/10 {
				t.Errorf("%d writes for %d lines: not gathered", w.writes, n)
			}
		})
	}
}
