package edge

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// messages is a slog.Handler that keeps each record's message as it is,
// unquoted: what a text log would print.
type messages struct {
	mu   sync.Mutex
	msgs []string
}

func (m *messages) Enabled(context.Context, slog.Level) bool { return true }
func (m *messages) Handle(_ context.Context, r slog.Record) error {
	m.mu.Lock()
	m.msgs = append(m.msgs, r.Message)
	m.mu.Unlock()
	return nil
}
func (m *messages) WithAttrs([]slog.Attr) slog.Handler { return m }
func (m *messages) WithGroup(string) slog.Handler      { return m }

func (m *messages) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// TestWarningsEscapeTarget: the edge's warnings about a request name its
// target as sent, escaped: an encoded CR LF in it cannot forge a line of
// corral's log.
func TestWarningsEscapeTarget(t *testing.T) {
	var log messages
	e := newEdge(t, Options{Log: slog.New(&log)})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // dies mid-request
		}
	})
	e.add(t, "web.1", b.addr)
	const target = "/x%0d%0acorral%20|%20web.1%20is%20ready%1b[2J"
	resp, _ := rawRoundTrip(t, e.addr, "POST "+target+" HTTP/1.1\r\nHost: app\r\nContent-Length: 2\r\n\r\nhi")
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	e.nextAccess(t)
	found := false
	for _, msg := range log.all() {
		if strings.ContainsAny(msg, "\r\n\x1b") {
			t.Errorf("a warning with raw control bytes: %q", msg)
		}
		found = found || strings.Contains(msg, target)
	}
	if !found {
		t.Errorf("no warning names the target %s: %q", target, log.all())
	}
}
