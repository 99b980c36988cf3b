package output

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
)

// Logger returns a logger whose records are written as prefixed lines under
// name, in the same stream and order as the processes' own output, so that
// "web.1 exited with code 1" sits right after web.1's last words.
//
// Records read as sentences followed by key=value pairs; warnings and errors
// are marked. Debug records are dropped unless debug is set.
//
// In JSON, records are log/slog's JSON handler's, with a "source" field
// naming name: {"time", "level", "msg", "source", attributes…}.
func (m *Mux) Logger(name string, debug bool) *slog.Logger {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	if m.opts.Format == JSON {
		h := slog.NewJSONHandler(lineWriter{m}, &slog.HandlerOptions{Level: level})
		return slog.New(h.WithAttrs([]slog.Attr{slog.String("source", name)}))
	}
	return slog.New(&handler{p: m.prefix(name, "1"), level: level})
}

// lineWriter hands the Mux what slog's JSON handler writes: one whole
// line per Write, which the Mux writes whole among the processes' lines.
type lineWriter struct{ m *Mux }

// Write writes b, which is one or more whole lines.
func (w lineWriter) Write(b []byte) (int, error) {
	w.m.write(b)
	return len(b), nil
}

type handler struct {
	p     *Prefix
	level slog.Level
	attrs string // preformatted attrs from WithAttrs
	group string // dotted group prefix from WithGroup
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *handler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.group, a)
		return true
	})
	h.p.WriteLine(b.String())
	return nil
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.group, a)
	}
	h2 := *h
	h2.attrs = b.String()
	return &h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func appendAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			appendAttr(b, g, ga)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(group + a.Key)
	b.WriteByte('=')
	b.WriteString(textValue(a.Value.String()))
}

// textValue is v as the value of a key=value pair: quoted if it is empty or
// holds what would make the pair ambiguous (spaces, quotes, '=', control
// characters).
func textValue(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == '"' || r == '=' || !unicode.IsPrint(r) }) {
		return strconv.Quote(v)
	}
	return v
}
