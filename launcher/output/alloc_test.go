//go:build !race

// The race detector makes sync.Pool drop items at random, so allocations
// are only counted without it.

package output

import (
	"io"
	"log/slog"
	"testing"
)

// TestNoAllocs: the per-line work of JSON output makes no garbage: the
// string escaper (a []byte with multi-byte and invalid UTF-8 included),
// and an access-log Event once the Mux has one to recycle.
func TestNoAllocs(t *testing.T) {
	dst := make([]byte, 0, 1024)
	line := []byte("a line with \"quotes\", \t tabs, é, 世界 and a bad \xff byte")
	if n := testing.AllocsPerRun(100, func() { appendJSONString(dst, line) }); n != 0 {
		t.Errorf("appendJSONString: %v allocations per call", n)
	}
	p := New(io.Discard, 0, Options{Format: JSON}).Prefix("edge")
	if n := testing.AllocsPerRun(100, func() {
		p.Event(slog.LevelInfo, "request").Str("method", "GET").Str("path", "/caf\xe9").Int("status", 200).
			Float("duration_ms", 1.234).Write()
	}); n != 0 {
		t.Errorf("Event: %v allocations per line", n)
	}
}
