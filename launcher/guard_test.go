package launcher

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mib = 1 << 20

func TestPace(t *testing.T) {
	for _, tt := range []struct {
		name          string
		total, target int64
		growth        float64 // bytes/s
		want          time.Duration
	}{
		{"far, steady", 100 * mib, 460 * mib, 0, guardEvery},
		{"far, growing slowly", 100 * mib, 460 * mib, 10 * mib, guardEvery},
		{"growing at 250 MB/s, 360 MiB short", 100 * mib, 460 * mib, 250e6, 377 * time.Millisecond},
		{"growing at 250 MB/s, 60 MiB short", 400 * mib, 460 * mib, 250e6, 62 * time.Millisecond},
		{"growing at 250 MB/s, 20 MiB short: the fastest", 440 * mib, 460 * mib, 250e6, guardFast},
		{"within a tenth, steady", 420 * mib, 460 * mib, 0, guardNear},
		{"past it", 470 * mib, 460 * mib, 0, guardNear},
		{"no target", 100 * mib, 0, 250e6, guardEvery},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := pace(tt.total, tt.target, tt.growth)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("pace(%d MiB, %d MiB, %.0f B/s) = %v, want %v", tt.total/mib, tt.target/mib, tt.growth, got, tt.want)
			}
		})
	}
}

// TestGuardRule: what the guard does with one sample. After it recycled
// an instance it keeps acting (no blind window): a victim still draining
// when the total reaches the hard line is stopped at once; the
// replacement starting is never picked, nor, under the hard line, while
// it settles; past the hard line it is.
func TestGuardRule(t *testing.T) {
	g := &memoryGuard{limit: 512 * mib, threshold: 460 * mib, hard: 486 * mib}
	web1 := member{name: "web.1", pid: 11, used: 300 * mib, candidate: true}
	web2 := member{name: "web.2", pid: 12, used: 120 * mib, candidate: true}
	web1Other := member{name: "web.2", pid: 12, used: 400 * mib, candidate: true}
	starting := member{name: "web.1", pid: 13, used: 350 * mib} // a replacement, not yet ready
	draining := member{name: "web.1", pid: 11, used: 300 * mib, recycling: true}
	hurried := member{name: "web.1", pid: 11, used: 300 * mib, recycling: true, hurried: true}
	settling := member{name: "web.1", pid: 13, used: 350 * mib, candidate: true, settling: true} // ready, settling
	outgrew := member{name: "web.1", pid: 13, used: 350 * mib, candidate: true, settling: true, outgrew: true}
	running, settles := progress{running: true}, progress{settling: true}
	for _, tt := range []struct {
		name    string
		guard   memoryGuard
		total   int64
		ms      []member
		p       progress
		recycle string // the member recycled; "" for none
		hurry   []int  // pids told to stop now
		why     string // part of the reason
		stuck   bool
	}{
		{name: "under the threshold", guard: *g, total: 450 * mib, ms: []member{web1, web2}},
		{name: "over it: the biggest", guard: *g, total: 470 * mib, ms: []member{web2, web1}, recycle: "web.1 11",
			why: "the app's processes use 470 MiB, 92% of the 512 MiB limit (guard at 460 MiB): recycling web.1 (pid 11, 300 MiB), the web instance using the most"},
		{name: "the replacement starting is not picked", guard: *g, total: 470 * mib, ms: []member{starting, web2}, recycle: "web.2 12"},
		{name: "a recycle in progress: wait", guard: *g, total: 480 * mib, ms: []member{draining, web2}, p: running},
		{name: "in progress, past the hard line: hurry it", guard: *g, total: 490 * mib, ms: []member{draining, web2}, p: running, hurry: []int{11}},
		{name: "in progress, hurried already", guard: *g, total: 500 * mib, ms: []member{hurried, web2}, p: running},
		{name: "past the hard line, nothing in progress: at once", guard: *g, total: 490 * mib, ms: []member{web1, web2}, recycle: "web.1 11",
			why: "without waiting for its requests: the total is past 486 MiB"},
		{name: "a replacement settling: not at the threshold", guard: *g, total: 480 * mib, ms: []member{settling, web2}, p: settles},
		{name: "a replacement settling: others wait too", guard: *g, total: 480 * mib, ms: []member{{name: "web.1", pid: 13, used: 50 * mib, candidate: true, settling: true}, web1Other}, p: settles},
		{name: "a replacement that outgrew its predecessor: at the threshold", guard: *g, total: 465 * mib, ms: []member{outgrew, web2}, p: settles, recycle: "web.1 13", why: "(guard at 460 MiB)"},
		{name: "settling, past the hard line: the biggest, even the replacement", guard: *g, total: 490 * mib, ms: []member{settling, web2}, p: settles, recycle: "web.1 13",
			why: "(guard at 486 MiB): recycling web.1 (pid 13, 350 MiB), the web instance using the most, without waiting for its requests"},
		{name: "nothing to recycle", guard: *g, total: 470 * mib, ms: []member{starting}, stuck: true, why: "no ready web instance can be recycled"},
		{name: "raised: not at the threshold", guard: memoryGuard{limit: g.limit, threshold: g.threshold, hard: g.hard, raised: true}, total: 480 * mib, ms: []member{web1}},
		{name: "raised: at the hard line", guard: memoryGuard{limit: g.limit, threshold: g.threshold, hard: g.hard, raised: true}, total: 487 * mib, ms: []member{web1}, recycle: "web.1 11",
			why: "(guard at 486 MiB)"},
		{name: "over --max-memory-per-instance, in progress or not", guard: memoryGuard{limit: g.limit, threshold: g.threshold, hard: g.hard, perInstance: 100 * mib},
			total: 300 * mib, ms: []member{draining, web2}, p: running, recycle: "web.2 12", why: "web.2 (pid 12) uses 120 MiB, over --max-memory-per-instance 100 MiB"},
		{name: "per instance only", guard: memoryGuard{limit: g.limit, perInstance: 200 * mib}, total: 500 * mib, ms: []member{web2, web1}, recycle: "web.1 11"},
		{name: "OOM reporting only", guard: memoryGuard{limit: g.limit}, total: 510 * mib, ms: []member{web1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mv := tt.guard.rule(tt.total, tt.ms, tt.p)
			got := ""
			if mv.recycle != nil {
				got = mv.recycle.name + " " + strconv.Itoa(mv.recycle.pid)
			}
			var hurry []int
			for _, m := range mv.hurry {
				hurry = append(hurry, m.pid)
			}
			if got != tt.recycle || !slices.Equal(hurry, tt.hurry) || mv.stuck != tt.stuck || !strings.Contains(mv.why, tt.why) {
				t.Errorf("rule = recycle %q, hurry %v, stuck %v, why %q; want %q, %v, %v, %q", got, hurry, mv.stuck, mv.why, tt.recycle, tt.hurry, tt.stuck, tt.why)
			}
		})
	}
}
