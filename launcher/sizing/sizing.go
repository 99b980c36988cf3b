// Package sizing holds the rules by which corral sizes the app and itself
// from the machine it finds: how many workers the web command should run
// (WEB_CONCURRENCY), the soft memory limit of corral's own Go runtime
// (GOMEMLIMIT), and the shutdown budget that fits in the platform's grace
// period. Every rule returns its reason, which `corral check` prints.
package sizing

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/corral-run/corral/launcher/limits"
)

// The memory rule's constants, from Heroku's Python buildpack, which gives
// a 512 MB dyno 2 gunicorn workers and a 1 GB one 4: a Django worker
// settles at 60–150 MB, and the rest is headroom for the requests that
// load more.
const (
	// PerWorker is the memory one worker process of the web command is
	// budgeted.
	PerWorker = 256 << 20
	// PerOther is the memory kept back for each other long-running process
	// sharing the limit (a worker, a clock).
	PerOther = 128 << 20
)

// Machine is what the web command's workers share.
type Machine struct {
	Memory int64   // bytes; 0 when unknown
	CPU    float64 // cores; 0 when unknown
	// Others is the number of other long-running processes (worker,
	// clock, …) that share the memory.
	Others int
}

// WebBudget is the number of workers the web instances may run in all
// (Share divides it between them): the smaller of the memory bound,
// (memory − PerOther × others) / PerWorker, and the CPU bound, gunicorn's
// 2 × cores + 1 with a fraction of a core counting as one; at least 1. 0
// when neither limit is known.
func WebBudget(m Machine) (int, string) {
	total := math.MaxInt
	var why []string
	if m.Memory > 0 {
		avail := m.Memory - int64(m.Others)*PerOther
		byMem := max(int(avail/PerWorker), 1)
		s := fmt.Sprintf("%s / %s per worker = %d", limits.MiB(m.Memory), limits.MiB(PerWorker), byMem)
		if m.Others > 0 {
			s = fmt.Sprintf("(%s − %d other process(es) × %s) / %s per worker = %d", limits.MiB(m.Memory), m.Others, limits.MiB(PerOther), limits.MiB(PerWorker), byMem)
		}
		why = append(why, s)
		total = byMem
	}
	if m.CPU > 0 {
		cores := int(math.Ceil(m.CPU - 1e-9))
		byCPU := 2*cores + 1
		cpu := fmt.Sprintf("%d CPU", cores)
		if float64(cores) != m.CPU {
			// Say so: "2 × 0.5 CPU + 1 = 3" reads as a wrong sum.
			cpu += fmt.Sprintf(" (%.3g rounded up)", m.CPU)
		}
		why = append(why, fmt.Sprintf("2 × %s + 1 = %d", cpu, byCPU))
		total = min(total, byCPU)
	}
	if total == math.MaxInt {
		return 0, "neither the memory nor the CPU limit is known"
	}
	reason := "the least of " + strings.Join(why, " and ")
	if len(why) == 1 {
		reason = why[0]
	}
	return max(total, 1), reason
}

// Share is the WEB_CONCURRENCY of each of n web instances under a budget
// of workers: budget / n, rounded down, and at least 1, so over says that
// the n instances run more workers in all than the budget allows.
func Share(budget, n int) (per int, over bool) {
	n = max(n, 1)
	return max(budget/n, 1), n > budget
}

// GoMemLimit is the soft limit for corral's own heap: an eighth of the
// memory limit, between 32 MiB and 512 MiB. The edge needs a few MiB; the
// limit only makes the collector work harder, before the kernel's OOM
// killer would, when request bodies held in memory pile up.
func GoMemLimit(memory int64) (int64, string) {
	if memory <= 0 {
		return 0, "the memory limit is unknown"
	}
	v := min(max(memory/8, 32<<20), 512<<20)
	return v, fmt.Sprintf("an eighth of %s, between 32 MiB and 512 MiB", limits.MiB(memory))
}

// DefaultTimeout is the shutdown budget where the platform's grace period
// is unknown (foreman's -t is 5 s, systemd's 90 s; 10 s lets a web request
// finish).
const DefaultTimeout = 10 * time.Second

// Timeout is corral's shutdown budget, from SIGTERM to having exited: a
// little under the platform's grace period (a tenth of it, at least 1 s,
// at most 3 s, is kept back for corral's own exit), so that the
// app's processes get SIGTERM and then SIGKILL from corral, and corral has
// exited, before the platform's SIGKILL.
func Timeout(grace time.Duration, platform string) (time.Duration, string) {
	if grace <= 0 {
		return DefaultTimeout, "no platform grace period known: the default"
	}
	margin := min(max(grace/10, time.Second), 3*time.Second)
	t := max(grace-margin, grace/2)
	return t, fmt.Sprintf("%s gives %v between its stop signal and SIGKILL; %v is kept for corral's own exit", platform, grace, grace-t)
}

// The response cache's bounds when corral sizes it.
const (
	// DefaultCacheSize is the cache's size where the memory limit is
	// unknown.
	DefaultCacheSize = 16 << 20
	// MinCacheSize and MaxCacheSize bound a size taken from the limit:
	// below 4 MiB a cache holds too few pages to matter, and past 256 MiB
	// the memory is better left to the app (nginx's proxy_cache keeps
	// its bodies on disk; this cache keeps them in corral's heap, under
	// GOMEMLIMIT).
	MinCacheSize = 4 << 20
	MaxCacheSize = 256 << 20
	// MaxCacheObject caps one cached response, however large the cache.
	MaxCacheObject = 8 << 20
)

// CacheSize is the response cache's size: a 32nd of the memory limit,
// between MinCacheSize and MaxCacheSize (16 MiB on a 512 MB free tier,
// a quarter of corral's GOMEMLIMIT there). The cache holds only what the
// app marks cacheable, so an app that marks nothing costs nothing.
func CacheSize(memory int64) (int64, string) {
	if memory <= 0 {
		return DefaultCacheSize, "the memory limit is unknown: the default"
	}
	v := min(max(memory/32, MinCacheSize), MaxCacheSize)
	return v, fmt.Sprintf("a 32nd of %s, between %s and %s", limits.MiB(memory), limits.MiB(MinCacheSize), limits.MiB(MaxCacheSize))
}

// CacheObject is the largest response a cache of size bytes holds: a
// sixteenth of it, at most MaxCacheObject, so that one large download
// cannot push out the pages that fill a small cache.
func CacheObject(size int64) int64 {
	return min(size/16, MaxCacheObject)
}
