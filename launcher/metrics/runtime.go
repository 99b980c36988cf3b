package metrics

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runtimeFamilies are corral's own Go runtime metrics: the go_* series of
// client_golang's Go collector (its defaults), with the same names, help
// and types. gogc is the GC percentage corral runs with (corral never
// changes it: GOGC's, or 100).
func runtimeFamilies(gogc int) []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)

	gcPauses := metric{lines: make([]sampleLine, 0, 7)}
	for i, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		gcPauses.lines = append(gcPauses.lines, sampleLine{boundName: "quantile", bound: q, value: gc.PauseQuantiles[i].Seconds()})
	}
	gcPauses = appendSumCount(gcPauses, gc.PauseTotal.Seconds(), uint64(gc.NumGC))

	g := func(name, help string, v float64) family { return singleFamily(name, help, typeGauge, v) }
	c := func(name, help string, v float64) family { return singleFamily(name, help, typeCounter, v) }
	return []family{
		{name: "go_gc_duration_seconds", help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.", typ: typeSummary, metrics: []metric{gcPauses}},
		withUnit(g("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", float64(gogc)), "percent"),
		withUnit(g("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", float64(debug.SetMemoryLimit(-1))), "bytes"), // -1 reads it
		g("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		{name: "go_info", help: "Information about the Go environment.", typ: typeGauge, metrics: []metric{single(1, label{"version", runtime.Version()})}},
		g("go_memstats_alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", float64(ms.Alloc)),
		c("go_memstats_alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", float64(ms.TotalAlloc)),
		g("go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", float64(ms.BuckHashSys)),
		c("go_memstats_frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", float64(ms.Frees)),
		g("go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", float64(ms.GCSys)),
		g("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", float64(ms.HeapAlloc)),
		g("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", float64(ms.HeapIdle)),
		g("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", float64(ms.HeapInuse)),
		g("go_memstats_heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", float64(ms.HeapObjects)),
		g("go_memstats_heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", float64(ms.HeapReleased)),
		g("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", float64(ms.HeapSys)),
		g("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
		c("go_memstats_mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", float64(ms.Mallocs)),
		g("go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", float64(ms.MCacheInuse)),
		g("go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", float64(ms.MCacheSys)),
		g("go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", float64(ms.MSpanInuse)),
		g("go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", float64(ms.MSpanSys)),
		g("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", float64(ms.NextGC)),
		g("go_memstats_other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", float64(ms.OtherSys)),
		g("go_memstats_stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", float64(ms.StackInuse)),
		g("go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", float64(ms.StackSys)),
		g("go_memstats_sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", float64(ms.Sys)),
		withUnit(g("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", float64(runtime.GOMAXPROCS(0))), "threads"),
		g("go_threads", "Number of OS threads created.", float64(threads)),
	}
}

// withUnit is f with OpenMetrics's UNIT u: client_golang gives one to
// the series it reads from runtime/metrics.
func withUnit(f family, u string) family {
	f.unit = u
	return f
}

// userHZ is the unit of the CPU times in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports), as procfs assumes too.
const userHZ = 100

// processFamilies are corral's own process metrics: the process_* series
// of client_golang's process collector, read from /proc/self. A file that
// cannot be read costs its series, not the scrape.
func processFamilies() []family {
	g := func(name, help string, v float64) family { return singleFamily(name, help, typeGauge, v) }
	c := func(name, help string, v float64) family { return singleFamily(name, help, typeCounter, v) }
	var fams []family
	if st, ok := readSelfStat(); ok {
		fams = append(fams,
			c("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", float64(st.utime+st.stime)/userHZ),
			g("process_resident_memory_bytes", "Resident memory size in bytes.", float64(st.rss*int64(os.Getpagesize()))),
			g("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(st.vsize)))
		if boot, ok := bootTime(); ok {
			fams = append(fams, g("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", float64(boot)+float64(st.starttime)/userHZ))
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		fams = append(fams, g("process_open_fds", "Number of open file descriptors.", float64(len(fds))))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		fams = append(fams, g("process_max_fds", "Maximum number of open file descriptors.", float64(lim.Cur)))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		fams = append(fams, g("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(lim.Cur)))
	}
	if rx, tx, ok := netDevTotals(); ok {
		fams = append(fams,
			c("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", float64(rx)),
			c("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", float64(tx)))
	}
	return fams
}

// selfStat is what processFamilies reads from /proc/self/stat.
type selfStat struct {
	utime, stime, starttime uint64 // in USER_HZ ticks
	vsize                   uint64 // bytes
	rss                     int64  // pages
}

// readSelfStat reads /proc/self/stat: fields 14, 15 (utime, stime), 22
// (starttime), 23 (vsize), 24 (rss), counted from the pid.
func readSelfStat() (selfStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return selfStat{}, false
	}
	return parseSelfStat(b)
}

// parseSelfStat parses a /proc/PID/stat line; see readSelfStat.
func parseSelfStat(b []byte) (selfStat, bool) {
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 {
		return selfStat{}, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 22 {
		return selfStat{}, false
	}
	u := func(n int) uint64 { v, _ := strconv.ParseUint(f[n-3], 10, 64); return v }
	rss, _ := strconv.ParseInt(f[24-3], 10, 64)
	return selfStat{utime: u(14), stime: u(15), starttime: u(22), vsize: u(23), rss: rss}, true
}

// bootTime is the system's boot time, in seconds since the epoch (btime
// in /proc/stat).
func bootTime() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for ln := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(ln, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// netDevTotals sums the bytes received and sent over every interface of
// corral's network namespace (/proc/self/net/dev), as the process
// collector does.
func netDevTotals() (rx, tx uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, 0, false
	}
	return parseNetDev(b)
}

// parseNetDev parses /proc/net/dev: two header lines, then
// "iface: rx_bytes packets errs drop fifo frame compressed multicast tx_bytes ...".
func parseNetDev(b []byte) (rx, tx uint64, ok bool) {
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return 0, 0, false
	}
	for _, ln := range lines[2:] {
		_, rest, found := strings.Cut(ln, ":")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			return 0, 0, false
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, 0, false
		}
		rx, tx = rx+r, tx+t
	}
	return rx, tx, true
}
