package memwatch

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Events is cgroup v2's memory.events: how many times, since the cgroup
// was made, its usage (or a descendant's) hit memory.high (High) or
// memory.max (Max), the kernel ran out of memory in it (OOM), and the OOM
// killer killed a process in it (OOMKill) or a whole cgroup
// (OOMGroupKill).
type Events struct {
	Low, High, Max, OOM, OOMKill, OOMGroupKill uint64
}

// ParseEvents parses the contents of memory.events ("high 0\nmax 12\n
// oom 1\noom_kill 1\n…"). Keys it does not know are skipped (kernels add
// some); a line that is not "key number" is an error, and so is a file
// without oom_kill, which every kernel with memory.events writes.
func ParseEvents(b []byte) (Events, error) {
	var e Events
	seen := false
	err := parseKeyed(b, func(key []byte, v uint64) {
		switch string(key) {
		case "low":
			e.Low = v
		case "high":
			e.High = v
		case "max":
			e.Max = v
		case "oom":
			e.OOM = v
		case "oom_kill":
			e.OOMKill, seen = v, true
		case "oom_group_kill":
			e.OOMGroupKill = v
		}
	})
	if err == nil && !seen {
		err = errors.New("no oom_kill line")
	}
	return e, err
}

// OOMControl is cgroup v1's memory.oom_control.
type OOMControl struct {
	// KillDisabled: the OOM killer is off for the cgroup (oom_kill_disable
	// 1), so its processes wait for memory instead of being killed.
	KillDisabled bool
	UnderOOM     bool   // under_oom: out of memory now
	OOMKill      uint64 // processes the OOM killer killed in the cgroup
	// HasOOMKill says the kernel counts the kills: the oom_kill line came
	// with Linux 4.13.
	HasOOMKill bool
}

// ParseOOMControl parses the contents of memory.oom_control
// ("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"). Keys it does not know
// are skipped; a line that is not "key number" is an error, and so is a
// file without under_oom, which every kernel writes.
func ParseOOMControl(b []byte) (OOMControl, error) {
	var c OOMControl
	seen := false
	err := parseKeyed(b, func(key []byte, v uint64) {
		switch string(key) {
		case "oom_kill_disable":
			c.KillDisabled = v != 0
		case "under_oom":
			c.UnderOOM, seen = v != 0, true
		case "oom_kill":
			c.OOMKill, c.HasOOMKill = v, true
		}
	})
	if err == nil && !seen {
		err = errors.New("no under_oom line")
	}
	return c, err
}

// parseKeyed calls fn with the key and value of each "key number" line of
// a cgroup's flat keyed file; an empty line is skipped.
func parseKeyed(b []byte, fn func(key []byte, v uint64)) error {
	return eachLine(b, func(line []byte) error {
		key, val, ok := bytes.Cut(line, []byte(" "))
		v, err := strconv.ParseUint(string(val), 10, 64)
		if !ok || len(key) == 0 || err != nil {
			return fmt.Errorf("%q is not \"key number\"", clip(line))
		}
		fn(key, v)
		return nil
	})
}

// eachLine calls fn with each line of b that is not empty, without its
// newline; an error says on which line.
func eachLine(b []byte, fn func(line []byte) error) error {
	n := 0
	for line := range bytes.Lines(b) {
		n++
		line = bytes.TrimRight(line, "\n")
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
	}
	return nil
}

// PSI is a pressure file (a cgroup's memory.pressure, or
// /proc/pressure/memory): how much of the time some (Some) or all (Full)
// of the non-idle processes stalled waiting for memory, reclaiming it or
// swapping.
type PSI struct {
	Some, Full Stall
	HasFull    bool // the full line is there (it is for memory)
}

// Stall is one line of a PSI file: the share of wall time stalled, in
// percent, over the last 10, 60 and 300 seconds, and the total stall
// time.
type Stall struct {
	Avg10, Avg60, Avg300 float64
	Total                time.Duration
}

// ParsePressure parses the contents of a PSI file:
//
//	some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//	full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//
// The some line is required; an average outside 0–100, a field missing or
// repeated, or a line of another kind is an error.
func ParsePressure(b []byte) (PSI, error) {
	var p PSI
	hasSome := false
	err := eachLine(b, func(line []byte) error {
		kind, rest, _ := bytes.Cut(line, []byte(" "))
		var dst *Stall
		switch {
		case string(kind) == "some" && !hasSome:
			dst, hasSome = &p.Some, true
		case string(kind) == "full" && !p.HasFull:
			dst, p.HasFull = &p.Full, true
		default:
			return fmt.Errorf("%q is not a some or full line (each once)", clip(line))
		}
		var err error
		*dst, err = parseStall(rest)
		return err
	})
	if err != nil {
		return PSI{}, err
	}
	if !hasSome {
		return PSI{}, errors.New("no some line")
	}
	return p, nil
}

// parseStall parses "avg10=0.00 avg60=0.00 avg300=0.00 total=0" (total in
// µs).
func parseStall(b []byte) (Stall, error) {
	var st Stall
	var seen [4]bool
	for _, f := range bytes.Fields(b) {
		key, val, ok := bytes.Cut(f, []byte("="))
		if !ok {
			return Stall{}, fmt.Errorf("%q is not key=value", clip(f))
		}
		var slot int
		var avg *float64
		switch string(key) {
		case "avg10":
			slot, avg = 0, &st.Avg10
		case "avg60":
			slot, avg = 1, &st.Avg60
		case "avg300":
			slot, avg = 2, &st.Avg300
		case "total":
			slot = 3
		default:
			return Stall{}, fmt.Errorf("unknown field %q", clip(key))
		}
		if seen[slot] {
			return Stall{}, fmt.Errorf("%s twice", key)
		}
		seen[slot] = true
		if avg == nil {
			us, err := strconv.ParseUint(string(val), 10, 64)
			if err != nil || us > math.MaxInt64/uint64(time.Microsecond) {
				return Stall{}, fmt.Errorf("total=%q is not a number of µs", clip(val))
			}
			st.Total = time.Duration(us) * time.Microsecond
			continue
		}
		v, err := strconv.ParseFloat(string(val), 64)
		if err != nil || !(v >= 0 && v <= 100) { // NaN fails too
			return Stall{}, fmt.Errorf("%s=%q is not a percentage", key, clip(val))
		}
		*avg = v
	}
	for i, name := range []string{"avg10", "avg60", "avg300", "total"} {
		if !seen[i] {
			return Stall{}, fmt.Errorf("no %s", name)
		}
	}
	return st, nil
}

// clip shortens what an error quotes from a file.
func clip(b []byte) []byte {
	if len(b) > 60 {
		return b[:60]
	}
	return b
}
