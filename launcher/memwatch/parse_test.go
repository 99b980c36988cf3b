package memwatch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseEvents(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want Events
		err  string // part of the error; "" for none
	}{
		{"linux 6", "low 0\nhigh 3\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n", Events{High: 3, Max: 12, OOM: 2, OOMKill: 1}, ""},
		{"older, no group kill", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n", Events{}, ""},
		{"unknown keys skipped", "low 1\nsock_throttled 4\noom_kill 7\n", Events{Low: 1, OOMKill: 7}, ""},
		{"no oom_kill", "low 0\nhigh 0\n", Events{}, "no oom_kill"},
		{"empty", "", Events{}, "no oom_kill"},
		{"not a number", "oom_kill lots\n", Events{}, `line 1: "oom_kill lots"`},
		{"negative", "high 0\noom_kill -1\n", Events{}, `line 2: "oom_kill -1"`},
		{"two spaces", "oom_kill  1\n", Events{}, "line 1"},
		{"no value", "oom_kill\n", Events{}, "line 1"},
		{"no key", " 1\n", Events{}, "line 1"},
		{"CRLF", "oom_kill 1\r\n", Events{}, "line 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvents([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseEvents(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseEvents(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseOOMControl(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want OOMControl
		err  string
	}{
		{"killed thrice", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", OOMControl{OOMKill: 3, HasOOMKill: true}, ""},
		{"under OOM, killer off", "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n", OOMControl{KillDisabled: true, UnderOOM: true, HasOOMKill: true}, ""},
		{"before Linux 4.13", "oom_kill_disable 0\nunder_oom 0\n", OOMControl{}, ""},
		{"no under_oom", "oom_kill 1\n", OOMControl{}, "no under_oom"},
		{"garbage", "under_oom yes\n", OOMControl{}, `line 1: "under_oom yes"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOOMControl([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseOOMControl(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseOOMControl(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParsePressure(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want PSI
		err  string
	}{
		{"idle", "some avg10=0.00 avg60=0.00 avg300=0.00 total=2889\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=375\n",
			PSI{Some: Stall{Total: 2889 * time.Microsecond}, Full: Stall{Total: 375 * time.Microsecond}, HasFull: true}, ""},
		{"stalling", "some avg10=12.50 avg60=3.01 avg300=0.66 total=8000000\nfull avg10=100.00 avg60=1.00 avg300=0.10 total=1\n",
			PSI{Some: Stall{12.5, 3.01, 0.66, 8 * time.Second}, Full: Stall{100, 1, 0.1, time.Microsecond}, HasFull: true}, ""},
		{"some only", "some avg10=1.00 avg60=0.00 avg300=0.00 total=5\n", PSI{Some: Stall{Avg10: 1, Total: 5 * time.Microsecond}}, ""},
		{"no some", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "no some line"},
		{"some twice", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nsome avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "line 2"},
		{"over 100%", "some avg10=100.01 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "avg10=\"100.01\" is not a percentage"},
		{"NaN", "some avg10=NaN avg60=0.00 avg300=0.00 total=0\n", PSI{}, "not a percentage"},
		{"a field missing", "some avg10=0.00 avg60=0.00 total=0\n", PSI{}, "no avg300"},
		{"a field twice", "some avg10=0.00 avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "avg10 twice"},
		{"unknown field", "some avg10=0.00 avg60=0.00 avg300=0.00 total=0 max=1\n", PSI{}, `unknown field "max"`},
		{"total too big", "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n", PSI{}, "not a number of µs"},
		{"not key=value", "some avg10 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "not key=value"},
		{"another kind", "cpu avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", PSI{}, "not a some or full line"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePressure([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePressure(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParsePressure(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// formatKeyed writes counters the way the kernel writes a flat keyed
// file.
func formatKeyed(kv ...any) []byte {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s %d\n", kv[i], kv[i+1])
	}
	return []byte(b.String())
}

// FuzzParseEvents: no input panics, and what parses is written back the
// kernel's way and parses to the same.
func FuzzParseEvents(f *testing.F) {
	f.Add([]byte("low 0\nhigh 3\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"))
	f.Add([]byte("oom_kill 18446744073709551615\n"))
	f.Add([]byte("oom_kill 1\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEvents(b)
		if err != nil {
			return
		}
		again, err := ParseEvents(formatKeyed("low", e.Low, "high", e.High, "max", e.Max, "oom", e.OOM, "oom_kill", e.OOMKill, "oom_group_kill", e.OOMGroupKill))
		if err != nil || again != e {
			t.Fatalf("%q parsed to %+v, which reparses to %+v, %v", b, e, again, err)
		}
	})
}

// FuzzParseOOMControl: as FuzzParseEvents, for memory.oom_control.
func FuzzParseOOMControl(f *testing.F) {
	f.Add([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"))
	f.Add([]byte("oom_kill_disable 0\nunder_oom 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseOOMControl(b)
		if err != nil {
			return
		}
		kv := []any{"oom_kill_disable", b2i(c.KillDisabled), "under_oom", b2i(c.UnderOOM)}
		if c.HasOOMKill {
			kv = append(kv, "oom_kill", c.OOMKill)
		}
		again, err := ParseOOMControl(formatKeyed(kv...))
		if err != nil || again != c {
			t.Fatalf("%q parsed to %+v, which reparses to %+v, %v", b, c, again, err)
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzParsePressure: no input panics, and what parses is within range
// and reparses to the same when written back.
func FuzzParsePressure(f *testing.F) {
	f.Add([]byte("some avg10=0.00 avg60=0.00 avg300=0.00 total=2889\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=375\n"))
	f.Add([]byte("some avg10=12.50 avg60=3.01 avg300=0.66 total=8000000\n"))
	f.Add([]byte("some avg10=1e2 avg60=+0 avg300=0x1p-2 total=0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePressure(b)
		if err != nil {
			return
		}
		line := func(kind string, s Stall) string {
			for _, v := range []float64{s.Avg10, s.Avg60, s.Avg300} {
				if !(v >= 0 && v <= 100) {
					t.Fatalf("%q: %s average %v out of range", b, kind, v)
				}
			}
			if s.Total < 0 || s.Total%time.Microsecond != 0 {
				t.Fatalf("%q: %s total %v", b, kind, s.Total)
			}
			return fmt.Sprintf("%s avg10=%v avg60=%v avg300=%v total=%d\n", kind, s.Avg10, s.Avg60, s.Avg300, s.Total/time.Microsecond)
		}
		text := line("some", p.Some)
		if p.HasFull {
			text += line("full", p.Full)
		}
		again, err := ParsePressure([]byte(text))
		if err != nil || again != p {
			t.Fatalf("%q parsed to %+v, which reparses (%q) to %+v, %v", b, p, text, again, err)
		}
	})
}
