// Package output merges the output of many processes into one stream, a
// whole line at a time, each line prefixed with the name of the process that
// wrote it ("web.1 | ..."), as foreman does.
//
// Lines are never split or interleaved with other processes' lines (up to
// MaxLine bytes), none are dropped, and a last line without a newline is kept.
// Each reader's lines are batched into one write, so a chatty process costs
// one system call per pipe read, not one per line.
//
// In the JSON format (Options.Format) each line is instead one JSON object,
// {"time", "source", "type", "msg"}, with the same guarantees.
package output

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"time"
)

// MaxLine is the longest line kept whole. A longer line is written in pieces
// of MaxLine bytes, each under the process's prefix, so that one process
// printing without newlines cannot use unbounded memory; no byte is lost.
const MaxLine = 8 << 20

// readSize is the size of each read from a process's pipe: a Linux pipe holds
// 64 KiB, so one read usually drains it.
const readSize = 64 << 10

// gatherBelow: a read of fewer bytes than this counts as short; see
// Options.Gather.
const gatherBelow = 4 << 10

// Options says how lines are decorated and written.
type Options struct {
	// Format is Text (the zero value) or JSON. With JSON, Timestamps and
	// Color are ignored: the time is a field, and a log drain wants no
	// escapes.
	Format     Format
	Timestamps bool // prefix each line with the local time, "15:04:05 "
	Color      bool // colour each prefix with ANSI escapes
	// Gather, if not zero, is how long a read that comes right after a
	// short one is put off, so that a process writing many short lines
	// (an access log under load) has them read and written many at a
	// time rather than one each. A process that has been quiet for Gather
	// is never delayed. It only helps a reader that buffers what is
	// written meanwhile, as an OS pipe does.
	Gather time.Duration
	// Now returns the current time; nil means time.Now. (Mux.Logger's JSON
	// records carry log/slog's own time.)
	Now func() time.Time
}

// Mux writes prefixed lines to one writer. It is safe for concurrent use.
type Mux struct {
	opts  Options
	width int

	mu     sync.Mutex // serialises writes to w and guards colors
	w      io.Writer
	colors int
	err    error // first write error; later writes are skipped
	broken chan struct{}

	events sync.Pool // of *Event, so that a line per request costs no garbage
}

// palette is the sequence of prefix colours handed to processes in turn.
var palette = [...]string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// New returns a Mux writing to w. Width is the width names are padded to;
// callers pass the longest name they will use so the "|" columns line up.
func New(w io.Writer, width int, opts Options) *Mux {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Format == JSON {
		opts.Timestamps, opts.Color = false, false
	}
	return &Mux{w: w, width: width, opts: opts, broken: make(chan struct{})}
}

// Format is the format the Mux writes.
func (m *Mux) Format() Format { return m.opts.Format }

// Prefix is the decoration put before each line of one source.
type Prefix struct {
	m     *Mux
	label []byte // padded name, colour and " | "
	// source is the name as a JSON string; fields is what a JSON line
	// has between its time and its message: `","source":…,"msg":`.
	source []byte
	fields []byte
}

// Prefix returns the prefix for lines from name. Each call takes the next
// colour of the palette, so call it once per process. In JSON, a name of
// the form TYPE.N (web.1) gives the lines a "type" field too.
func (m *Mux) Prefix(name string) *Prefix {
	m.mu.Lock()
	color := palette[m.colors%len(palette)]
	m.colors++
	m.mu.Unlock()
	return m.prefix(name, color)
}

func (m *Mux) prefix(name, color string) *Prefix {
	var b strings.Builder
	if m.opts.Color {
		b.WriteString("\x1b[" + color + "m")
	}
	b.WriteString(name)
	for i := len(name); i < m.width; i++ {
		b.WriteByte(' ')
	}
	b.WriteString(" |")
	if m.opts.Color {
		b.WriteString("\x1b[0m")
	}
	b.WriteByte(' ')
	p := &Prefix{m: m, label: []byte(b.String()), source: appendJSONString(nil, name)}
	p.fields = append(append([]byte(`","source":`), p.source...), ',')
	if typ := typeOf(name); typ != "" {
		p.fields = appendJSONString(append(p.fields, `"type":`...), typ)
		p.fields = append(p.fields, ',')
	}
	p.fields = append(p.fields, `"msg":`...)
	return p
}

// Broken is closed when a write to the underlying writer has failed: the
// stream is gone (a closed pipe, a full disk) and nothing more will be written.
func (m *Mux) Broken() <-chan struct{} { return m.broken }

// Err returns the first error writing to the underlying writer.
func (m *Mux) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Copy reads r until EOF or error and writes what it reads as prefixed lines.
// A final line without a newline is written with one added. It returns nil at
// EOF, else the read error (after writing what it had).
func (p *Prefix) Copy(r io.Reader) error {
	buf := make([]byte, readSize)
	var batch []byte
	start := 0 // buf[start:end] holds bytes not yet written: a partial line
	end := 0
	var lastRead time.Time // when the last read returned, and with how many bytes
	lastN := 0
	for {
		if end == len(buf) {
			if start > 0 {
				// Move the partial line to the front to make room.
				end = copy(buf, buf[start:end])
				start = 0
			} else if len(buf) < MaxLine {
				grown := make([]byte, min(2*len(buf), MaxLine))
				copy(grown, buf[:end])
				buf = grown
			} else {
				// A line longer than MaxLine: write what we have as a line.
				batch = p.appendLine(batch[:0], buf[:end])
				p.m.write(batch)
				start, end = 0, 0
			}
		}
		if gather := p.m.opts.Gather; gather > 0 && lastN < gatherBelow {
			if d := time.Since(lastRead); d < gather {
				time.Sleep(gather - d) // see Options.Gather
			}
		}
		n, err := r.Read(buf[end:])
		lastRead, lastN = time.Now(), n
		end += n
		if n > 0 {
			batch = batch[:0]
			chunk := buf[start:end]
			last := bytes.LastIndexByte(chunk, '\n')
			if last >= 0 {
				batch = p.appendLines(batch, chunk[:last+1])
				start += last + 1
				p.m.write(batch)
			}
			if start == end {
				start, end = 0, 0
			}
		}
		if err != nil {
			if start < end {
				batch = p.appendLine(batch[:0], buf[start:end])
				p.m.write(batch)
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// appendLines appends the prefixed form of lines, which ends with '\n'.
func (p *Prefix) appendLines(dst, lines []byte) []byte {
	if p.m.opts.Format == JSON {
		var buf [64]byte
		now := p.m.opts.Now().AppendFormat(buf[:0], time.RFC3339Nano)
		for len(lines) > 0 {
			i := bytes.IndexByte(lines, '\n')
			dst = p.appendJSON(dst, now, lines[:i])
			lines = lines[i+1:]
		}
		return dst
	}
	stamp := p.m.stamp()
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		dst = append(dst, stamp...)
		dst = append(dst, p.label...)
		dst = append(dst, lines[:i+1]...)
		lines = lines[i+1:]
	}
	return dst
}

// appendLine appends one prefixed line that has no '\n' of its own.
func (p *Prefix) appendLine(dst, line []byte) []byte {
	if p.m.opts.Format == JSON {
		var buf [64]byte
		return p.appendJSON(dst, p.m.opts.Now().AppendFormat(buf[:0], time.RFC3339Nano), line)
	}
	dst = append(dst, p.m.stamp()...)
	dst = append(dst, p.label...)
	dst = append(dst, line...)
	return append(dst, '\n')
}

// appendJSON appends line, without its '\n', as a JSON object stamped now
// (an RFC 3339 time). The '\r' of a CRLF line end is not part of the
// message. The line goes in as a string whatever it holds, JSON included:
// a log drain parses corral's objects, never the app's.
func (p *Prefix) appendJSON(dst, now, line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	dst = append(dst, `{"time":"`...)
	dst = append(dst, now...)
	dst = append(dst, p.fields...)
	dst = appendJSONString(dst, line)
	return append(dst, '}', '\n')
}

// WriteLine writes text as one or more prefixed lines; a trailing newline is
// optional.
func (p *Prefix) WriteLine(text string) {
	text = strings.TrimSuffix(text, "\n")
	p.m.write(p.appendLines(nil, []byte(text+"\n")))
}

func (m *Mux) stamp() string {
	if !m.opts.Timestamps {
		return ""
	}
	return m.opts.Now().Format("15:04:05 ")
}

func (m *Mux) write(b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return
	}
	if _, err := m.w.Write(b); err != nil {
		m.err = err
		close(m.broken)
	}
}
