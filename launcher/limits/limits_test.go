package limits

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// tree writes files (path inside the root → contents) under a new
// temporary root and returns it. A path ending in "/" is a directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// merge returns the union of the maps, later ones winning.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

const (
	miB = 1 << 20
	giB = 1 << 30
	// hostCPUs is the fake host's CPU count.
	hostCPUs = 4
)

var (
	// host is a 16 GiB machine.
	host = map[string]string{"/proc/meminfo": "MemTotal:       16777216 kB\nMemFree:         1000000 kB\n"}

	v2Mount = map[string]string{
		"/proc/self/mountinfo": "22 1 0:21 / /sys rw - sysfs sysfs rw\n" +
			"30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
	}
	v1Mounts = map[string]string{
		"/proc/self/mountinfo": "30 22 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n" +
			"31 30 0:28 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid master:5 - cgroup cgroup rw,cpu,cpuacct\n" +
			"34 30 0:31 /docker/abc /sys/fs/cgroup/memory rw,nosuid master:8 - cgroup cgroup rw,memory\n",
	}
	// hybrid is systemd's layout, and this sandbox's: the controllers in
	// v1 hierarchies, an empty v2 one at unified.
	hybrid = map[string]string{
		"/proc/self/cgroup": "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/bf1d\n2:cpuacct:/\n1:cpu:/\n0::/\n",
		"/proc/self/mountinfo": "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n" +
			"31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n" +
			"32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n" +
			"34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n" +
			"40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n",
	}
)

func TestRead(t *testing.T) {
	const (
		v2Src      = "cgroup v2 memory.max"
		v2CPU      = "cgroup v2 cpu.max"
		v1Src      = "cgroup v1 memory.limit_in_bytes"
		v1CPU      = "cgroup v1 cpu.cfs_quota_us"
		hostMem    = 16 * giB
		hostMemSrc = "/proc/meminfo MemTotal"
		hostCPUSrc = "the host's CPUs"
	)
	for _, tt := range []struct {
		name    string
		files   map[string]string
		mem     int64
		memSrc  string
		cpu     float64
		cpuSrc  string
		version int
		warn    []string // each must be in one warning, in order
	}{
		{
			name: "v2 limits set",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":          "0::/\n",
				"/sys/fs/cgroup/memory.max":  "536870912\n",
				"/sys/fs/cgroup/memory.high": "max\n",
				"/sys/fs/cgroup/cpu.max":     "10000 100000\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: 0.1, cpuSrc: v2CPU, version: 2,
		},
		{
			name: "v2 unlimited",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":          "0::/\n",
				"/sys/fs/cgroup/memory.max":  "max\n",
				"/sys/fs/cgroup/memory.high": "max\n",
				"/sys/fs/cgroup/cpu.max":     "max 100000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "v2 nested: the parent's limits bind",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup": "0::/user.slice/app.service\n",
				"/sys/fs/cgroup/user.slice/app.service/memory.max":   "max\n",
				"/sys/fs/cgroup/user.slice/app.service/cpu.max":      "200000 100000\n",
				"/sys/fs/cgroup/user.slice/memory.max":               "1073741824\n",
				"/sys/fs/cgroup/user.slice/cpu.max":                  "50000 100000\n",
				"/sys/fs/cgroup/cgroup.controllers":                  "cpu memory\n", // the host's root has no limit files
				"/sys/fs/cgroup/user.slice/app.service/memory.high":  "max\n",
				"/sys/fs/cgroup/user.slice/app.service/cgroup.procs": "1\n",
			}),
			mem: giB, memSrc: v2Src, cpu: 0.5, cpuSrc: v2CPU, version: 2,
		},
		{
			name: "v2 nested: the child's limits bind",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup": "0::/user.slice/app.service\n",
				"/sys/fs/cgroup/user.slice/app.service/memory.max": "268435456\n",
				"/sys/fs/cgroup/user.slice/app.service/cpu.max":    "25000 100000\n",
				"/sys/fs/cgroup/user.slice/memory.max":             "1073741824\n",
				"/sys/fs/cgroup/user.slice/cpu.max":                "50000 100000\n",
			}),
			mem: 256 * miB, memSrc: v2Src, cpu: 0.25, cpuSrc: v2CPU, version: 2,
		},
		{
			name: "v2 memory.high below memory.max",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":          "0::/\n",
				"/sys/fs/cgroup/memory.max":  "1073741824\n",
				"/sys/fs/cgroup/memory.high": "805306368\n",
			}),
			mem: 768 * miB, memSrc: "cgroup v2 memory.high", cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "v2 with no mountinfo: /sys/fs/cgroup",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":         "0::/\n",
				"/sys/fs/cgroup/memory.max": "536870912\n",
				"/sys/fs/cgroup/cpu.max":    "100000 100000\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: 1, cpuSrc: v2CPU, version: 2,
		},
		{
			name: "v2 mounted at a pod's cgroup",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":                    "0::/kubepods/pod1/ctr\n",
				"/proc/self/mountinfo":                 "30 22 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
				"/sys/fs/cgroup/ctr/memory.max":        "max\n",
				"/sys/fs/cgroup/memory.max":            "402653184\n",
				"/sys/fs/cgroup/kubepods/pod1/cpu.max": "1 100000\n", // not there: the mount's top is the pod
			}),
			mem: 384 * miB, memSrc: v2Src, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "v2 path not inside the container: the mount's top",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":         "0::/system.slice/docker-abc.scope\n",
				"/sys/fs/cgroup/memory.max": "536870912\n",
				"/sys/fs/cgroup/cpu.max":    "150000 100000\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: 1.5, cpuSrc: v2CPU, version: 2,
		},
		{
			name: "v2 cgroup outside the namespace",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":         "0::/../init\n",
				"/sys/fs/cgroup/memory.max": "536870912\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "v2 limit above the host's",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":         "0::/\n",
				"/sys/fs/cgroup/memory.max": "68719476736\n",
				"/sys/fs/cgroup/cpu.max":    "800000 100000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "v1 limits set",
			files: merge(host, v1Mounts, map[string]string{
				"/proc/self/cgroup":                                      "12:pids:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/docker/abc\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":            "268435456\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":            "50000\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us":           "100000\n",
				"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "1", // not there: the top is the container
			}),
			mem: 256 * miB, memSrc: v1Src, cpu: 0.5, cpuSrc: v1CPU, version: 1,
		},
		{
			name: "v1 unlimited",
			files: merge(host, v1Mounts, map[string]string{
				"/proc/self/cgroup":                            "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":  "9223372036854771712\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "-1\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
		},
		{
			name: "v1 with no mountinfo, the path not inside",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":                            "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":  "536870912\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "20000\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
			}),
			mem: 512 * miB, memSrc: v1Src, cpu: 0.2, cpuSrc: v1CPU, version: 1,
		},
		{
			name: "v1 with no mountinfo, cpu mounted as cpu",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":                      "3:cpu,cpuacct:/a\n",
				"/sys/fs/cgroup/cpu/a/cpu.cfs_quota_us":  "-1\n",
				"/sys/fs/cgroup/cpu/a/cpu.cfs_period_us": "100000\n",
				"/sys/fs/cgroup/cpu/cpu.cfs_quota_us":    "30000\n",
				"/sys/fs/cgroup/cpu/cpu.cfs_period_us":   "100000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: 0.3, cpuSrc: v1CPU, version: 1,
		},
		{
			name: "v1 nested",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":    "4:memory:/kubepods/pod1/ctr\n",
				"/proc/self/mountinfo": "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
				"/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes": "9223372036854771712\n",
				"/sys/fs/cgroup/memory/kubepods/pod1/memory.limit_in_bytes":     "134217728\n",
				"/sys/fs/cgroup/memory/kubepods/memory.limit_in_bytes":          "1073741824\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":                   "9223372036854771712\n",
			}),
			mem: 128 * miB, memSrc: v1Src, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
		},
		{
			name: "hybrid: v1 controllers win over the unified hierarchy",
			files: merge(host, hybrid, map[string]string{
				"/sys/fs/cgroup/memory/process_api/bf1d/memory.limit_in_bytes": "9223372036854771712\n",
				"/sys/fs/cgroup/memory/process_api/memory.limit_in_bytes":      "1073741824\n",
				"/sys/fs/cgroup/cpu/cpu.cfs_quota_us":                          "100000\n",
				"/sys/fs/cgroup/cpu/cpu.cfs_period_us":                         "100000\n",
				"/sys/fs/cgroup/unified/memory.max":                            "1048576\n", // no memory controller there
				"/sys/fs/cgroup/unified/cpu.max":                               "1000 100000\n",
			}),
			mem: giB, memSrc: v1Src, cpu: 1, cpuSrc: v1CPU, version: 1,
		},
		{
			name:  "hybrid, no limits",
			files: merge(host, hybrid),
			mem:   hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
		},
		{
			name:  "a cgroup but no cgroup files: a laptop",
			files: merge(host, v2Mount, map[string]string{"/proc/self/cgroup": "0::/user.slice/user-1000.slice/session-2.scope\n"}),
			mem:   hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name:  "no cgroup file",
			files: host,
			mem:   hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc,
		},
		{
			name:  "no /proc at all",
			files: map[string]string{},
			cpu:   hostCPUs, cpuSrc: hostCPUSrc,
		},

		// Garbage: a warning naming the file and the value, and the
		// host's figures.
		{
			name: "v2 garbage memory.max and cpu.max",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":         "0::/\n",
				"/sys/fs/cgroup/memory.max": "lots\n",
				"/sys/fs/cgroup/cpu.max":    "ten 100000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/sys/fs/cgroup/memory.max holds "lots"`, `/sys/fs/cgroup/cpu.max holds "ten 100000"`},
		},
		{
			name: "v2 negative memory, zero period",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":         "0::/\n",
				"/sys/fs/cgroup/memory.max": "-536870912\n",
				"/sys/fs/cgroup/cpu.max":    "10000 0\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/sys/fs/cgroup/memory.max holds "-536870912"`, `/sys/fs/cgroup/cpu.max holds "10000 0"`},
		},
		{
			name: "v2 zero memory, zero quota, no period",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":           "0::/a\n",
				"/sys/fs/cgroup/a/memory.max": "0\n",
				"/sys/fs/cgroup/a/cpu.max":    "0 100000\n",
				"/sys/fs/cgroup/cpu.max":      "5000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/sys/fs/cgroup/a/memory.max holds "0"`, `/sys/fs/cgroup/a/cpu.max holds "0 100000"`, `/sys/fs/cgroup/cpu.max holds "5000"`},
		},
		{
			name: "v2 garbage in the child, a limit in the parent",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":           "0::/a\n",
				"/sys/fs/cgroup/a/memory.max": "12x\n",
				"/sys/fs/cgroup/memory.max":   "536870912\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/sys/fs/cgroup/a/memory.max holds "12x"`},
		},
		{
			name: "v2 memory.max that cannot be read",
			files: merge(host, v2Mount, map[string]string{
				"/proc/self/cgroup":          "0::/\n",
				"/sys/fs/cgroup/memory.max/": "",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/sys/fs/cgroup/memory.max: is a directory`},
		},
		{
			name: "v1 garbage",
			files: merge(host, v1Mounts, map[string]string{
				"/proc/self/cgroup":                            "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes":  "unlimited\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "50000\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "0\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
			warn: []string{`/sys/fs/cgroup/memory/memory.limit_in_bytes holds "unlimited"`, `/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us holds "0"`},
		},
		{
			name: "v1 bad quota, missing period",
			files: merge(host, v1Mounts, map[string]string{
				"/proc/self/cgroup":                           "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/memory/memory.limit_in_bytes": "-2\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "half\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
			warn: []string{`/sys/fs/cgroup/memory/memory.limit_in_bytes holds "-2"`, `/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us holds "half"`},
		},
		{
			name: "v1 missing period",
			files: merge(host, v1Mounts, map[string]string{
				"/proc/self/cgroup":                           "3:cpu,cpuacct:/docker/abc\n",
				"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "50000\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 1,
			warn: []string{`/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us is missing`},
		},
		{
			name: "garbage /proc/self/cgroup",
			files: merge(host, map[string]string{
				"/proc/self/cgroup": "0::/\nthis is not a cgroup file\n:memory:/x\n",
			}),
			mem: hostMem, memSrc: hostMemSrc, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/proc/self/cgroup holds "this is not a cgroup file"`},
		},
		{
			name: "garbage mountinfo: the usual place",
			files: merge(host, map[string]string{
				"/proc/self/cgroup":         "0::/\n",
				"/proc/self/mountinfo":      "garbage\n- - -\n1 2 3 4 5 6 - cgroup2\n",
				"/sys/fs/cgroup/memory.max": "536870912\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
		},
		{
			name: "garbage /proc/meminfo",
			files: map[string]string{
				"/proc/meminfo": "MemTotal: many kB\n",
			},
			cpu: hostCPUs, cpuSrc: hostCPUSrc,
			warn: []string{`/proc/meminfo: MemTotal is "many kB"`},
		},
		{
			name: "garbage /proc/meminfo, a cgroup limit",
			files: merge(v2Mount, map[string]string{
				"/proc/meminfo":             "Bogus: 1 kB\n",
				"/proc/self/cgroup":         "0::/\n",
				"/sys/fs/cgroup/memory.max": "536870912\n",
			}),
			mem: 512 * miB, memSrc: v2Src, cpu: hostCPUs, cpuSrc: hostCPUSrc, version: 2,
			warn: []string{`/proc/meminfo: no MemTotal line`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := read(tree(t, tt.files), hostCPUs)
			if l.Memory != tt.mem || l.MemorySource != tt.memSrc || l.CPU != tt.cpu || l.CPUSource != tt.cpuSrc || l.CgroupVersion != tt.version {
				t.Errorf("got %d (%s), %v (%s), v%d; want %d (%s), %v (%s), v%d",
					l.Memory, l.MemorySource, l.CPU, l.CPUSource, l.CgroupVersion, tt.mem, tt.memSrc, tt.cpu, tt.cpuSrc, tt.version)
			}
			if len(l.Warnings) != len(tt.warn) {
				t.Errorf("warnings %q; want %d like %q", l.Warnings, len(tt.warn), tt.warn)
			} else {
				for i, w := range tt.warn {
					if !strings.Contains(l.Warnings[i], w) {
						t.Errorf("warning %q; want it to hold %q", l.Warnings[i], w)
					}
				}
			}
			if _, hasMeminfo := tt.files["/proc/meminfo"]; hasMeminfo && len(tt.warn) == 0 && l.HostMemory != 16*giB {
				t.Errorf("HostMemory %d", l.HostMemory)
			}
			if l.HostCPUs != hostCPUs {
				t.Errorf("HostCPUs %d", l.HostCPUs)
			}
			t.Log(l, l.Warnings)
		})
	}
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		l    Limits
		want string
	}{
		{Limits{Memory: 512 * miB, MemorySource: "cgroup v2 memory.max", CPU: 0.1, CPUSource: "cgroup v2 cpu.max"},
			"512 MiB (cgroup v2 memory.max), 0.1 CPU (cgroup v2 cpu.max)"},
		{Limits{Memory: 16 * giB, MemorySource: hostMemorySource, CPU: 8, CPUSource: hostCPUSource},
			"16 GiB (/proc/meminfo MemTotal), 8 CPU (the host's CPUs)"},
		{Limits{Memory: 1536 * miB, MemorySource: "--memory-limit", CPU: 1.0 / 3, CPUSource: "--cpus"},
			"1.5 GiB (--memory-limit), 0.333 CPU (--cpus)"},
		{Limits{}, "memory unknown, CPU unknown"},
	} {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}

func TestConstrained(t *testing.T) {
	for _, tt := range []struct {
		l    Limits
		want bool
	}{
		{Limits{Memory: 512 * miB, MemorySource: "cgroup v2 memory.max"}, true},
		{Limits{Memory: 512 * miB, MemorySource: "--memory-limit"}, true},
		{Limits{Memory: 16 * giB, MemorySource: hostMemorySource}, false},
		{Limits{}, false},
	} {
		if got := tt.l.Constrained(); got != tt.want {
			t.Errorf("%+v.Constrained() = %v", tt.l, got)
		}
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup`:       "/sys/fs/cgroup",
		`/a\040b`:              "/a b",
		`/a\011b\012c\134d`:    "/a\tb\nc\\d",
		`/trailing\04`:         `/trailing\04`,
		`/not\999octal`:        `/not\999octal`,
		`\`:                    `\`,
		`/x\040`:               "/x ",
		`/cgroup\040fs\040dir`: "/cgroup fs dir",
	} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q; want %q", in, got, want)
		}
	}
	// A mount point with a space in it is found.
	root := tree(t, merge(host, map[string]string{
		"/proc/self/cgroup":         "0::/\n",
		"/proc/self/mountinfo":      `30 22 0:26 / /cg\040two rw - cgroup2 cgroup2 rw` + "\n",
		"/cg two/memory.max":        "536870912\n",
		"/sys/fs/cgroup/memory.max": "1048576\n",
	}))
	if l := read(root, 1); l.Memory != 512*miB {
		t.Errorf("with an escaped mount point: %v", l)
	}
}

func TestParseCPUMax(t *testing.T) {
	for _, tt := range []struct {
		in      string
		cores   float64
		limited bool
		ok      bool
	}{
		{"max 100000\n", 0, false, true},
		{"max", 0, false, true},
		{"10000 100000\n", 0.1, true, true},
		{"250000 100000", 2.5, true, true},
		{"max 0", 0, false, false},
		{"10000", 0, false, false},
		{"10000 0", 0, false, false},
		{"-1 100000", 0, false, false},
		{"1 2 3", 0, false, false},
		{"", 0, false, false},
		{"0x10 100", 0, false, false},
	} {
		cores, limited, err := parseCPUMax(tt.in)
		if cores != tt.cores || limited != tt.limited || (err == nil) != tt.ok {
			t.Errorf("parseCPUMax(%q) = %v, %v, %v", tt.in, cores, limited, err)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for _, tt := range []struct {
		in      string
		v1      bool
		n       int64
		limited bool
		ok      bool
	}{
		{"536870912\n", false, 512 * miB, true, true},
		{"max\n", false, 0, false, true},
		{"max\n", true, 0, false, false},
		{"-1\n", true, 0, false, true},
		{"-1\n", false, 0, false, false},
		{"9223372036854771712\n", true, 0, false, true},
		{"9223372036854710272\n", true, 0, false, true}, // 64 KiB pages
		{"99999999999999999999\n", false, 0, false, true},
		{"-99999999999999999999\n", false, 0, false, false},
		{"0\n", false, 0, false, false},
		{"12k", false, 0, false, false},
		{"", false, 0, false, false},
	} {
		n, limited, err := parseMemory(tt.in, tt.v1)
		if n != tt.n || limited != tt.limited || (err == nil) != tt.ok {
			t.Errorf("parseMemory(%q, v1=%v) = %v, %v, %v", tt.in, tt.v1, n, limited, err)
		}
	}
}

// TestReadHere reads this machine's limits: whatever they are, Read must
// not panic and should find some memory where there is a /proc.
func TestReadHere(t *testing.T) {
	l := Read("/")
	t.Logf("%s (host %d bytes, %d CPUs, cgroup v%d)", l, l.HostMemory, l.HostCPUs, l.CgroupVersion)
	for _, w := range l.Warnings {
		t.Logf("warning: %s", w)
	}
	if l.CPU <= 0 || l.CPU > float64(runtime.NumCPU()) {
		t.Errorf("CPU = %v, with %d CPUs", l.CPU, runtime.NumCPU())
	}
	if _, err := os.Stat("/proc/meminfo"); err == nil && (l.Memory <= 0 || l.HostMemory <= 0 || l.Memory > l.HostMemory) {
		t.Errorf("Memory = %d, HostMemory = %d", l.Memory, l.HostMemory)
	}
}

func FuzzParseCPUMax(f *testing.F) {
	for _, s := range []string{"max 100000\n", "10000 100000\n", "10000 0", "-5 3", "1e3 100", "9223372036854775807 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cores, limited, err := parseCPUMax(s)
		if err != nil && (cores != 0 || limited) {
			t.Fatalf("%q: error %v with %v, %v", s, err, cores, limited)
		}
		if limited && (!(cores > 0) || math.IsInf(cores, 0)) {
			t.Fatalf("%q: limited to %v cores", s, cores)
		}
		if !limited && cores != 0 {
			t.Fatalf("%q: not limited, %v cores", s, cores)
		}
	})
}

func FuzzParseMemory(f *testing.F) {
	for _, s := range []string{"max\n", "536870912\n", "-1", "9223372036854771712", "0", "1"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, v1 bool) {
		n, limited, err := parseMemory(s, v1)
		if limited != (n > 0) || n >= unlimited || err != nil && limited {
			t.Fatalf("%q: %d, %v, %v", s, n, limited, err)
		}
	})
}

func FuzzParseCgroupFile(f *testing.F) {
	for _, s := range []string{
		"0::/\n",
		"12:pids:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n",
		"1:name=systemd:/user.slice/a:b\n",
		"0::/../init\n",
		"garbage\n::\n0:/\nx::/\n",
	} {
		f.Add([]byte(s))
	}
	empty := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, bad := parseCgroupFile(b)
		if bad != nil && !bytes.Contains(b, bad) {
			t.Fatalf("bad line %q is not in the file", bad)
		}
		for _, l := range lines {
			if !strings.HasPrefix(l.path, "/") || l.id == "" {
				t.Fatalf("line %+v", l)
			}
		}
		// The walk over what it finds must not panic either.
		r := &reader{root: empty}
		r.find(lines, "memory", parseMountinfo(b))
	})
}

func FuzzParseMountinfo(f *testing.F) {
	for _, s := range []string{
		string(v1Mounts["/proc/self/mountinfo"]),
		string(hybrid["/proc/self/mountinfo"]),
		`30 22 0:26 / /cg\040two rw - cgroup2 cgroup2 rw` + "\n",
		"1 2 3 4 5 6 - cgroup\n- - - - - - - cgroup2 a b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseMountinfo(b) {
			if !strings.HasPrefix(m.root, "/") || !strings.HasPrefix(m.point, "/") || m.fstype != "cgroup" && m.fstype != "cgroup2" {
				t.Fatalf("mount %+v", m)
			}
			if rel, ok := relTo("/a/b", m.root); ok && !strings.HasPrefix(rel, "/") {
				t.Fatalf("relTo(/a/b, %q) = %q", m.root, rel)
			}
		}
	})
}

// TestPathStaysInRoot: names built from file contents cannot leave the
// root.
func TestPathStaysInRoot(t *testing.T) {
	r := &reader{root: "/tmp/root"}
	for name, want := range map[string]string{
		"/sys/fs/cgroup/memory.max":                 "/tmp/root/sys/fs/cgroup/memory.max",
		"/sys/fs/cgroup/../../../../etc/passwd":     "/tmp/root/etc/passwd",
		"../x":                                      "/tmp/root/x",
		"/sys/fs/cgroup/memory,../../../../../../y": "/tmp/root/y",
	} {
		if got := r.path(name); got != filepath.FromSlash(want) {
			t.Errorf("path(%q) = %q; want %q", name, got, want)
		}
	}
}

func TestMiB(t *testing.T) {
	const mib = 1 << 20
	for n, want := range map[int64]string{512 * mib: "512 MiB", 1536 * mib: "1.5 GiB", 1 << 30: "1 GiB", 16 << 30: "16 GiB", 0: "0 MiB"} {
		if got := MiB(n); got != want {
			t.Errorf("MiB(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestMemoryCgroup: the memory cgroup corral runs in is found where its
// limits are looked for: the process's own cgroup, or its nearest
// ancestor to be seen.
func TestMemoryCgroup(t *testing.T) {
	for _, tt := range []struct {
		name    string
		files   map[string]string
		dir     string
		version int
	}{
		{"v2 own cgroup", merge(host, v2Mount, map[string]string{
			"/proc/self/cgroup": "0::/user.slice/app.service\n",
			"/sys/fs/cgroup/user.slice/app.service/memory.events": "oom_kill 0\n",
		}), "/sys/fs/cgroup/user.slice/app.service", 2},
		{"v2 path not inside the container", merge(host, v2Mount, map[string]string{
			"/proc/self/cgroup":            "0::/system.slice/docker-abc.scope\n",
			"/sys/fs/cgroup/memory.events": "oom_kill 0\n",
		}), "/sys/fs/cgroup", 2},
		{"hybrid: the v1 memory hierarchy", merge(host, hybrid, map[string]string{
			"/sys/fs/cgroup/memory/process_api/bf1d/memory.oom_control": "oom_kill 0\n",
			"/sys/fs/cgroup/unified/memory.events":                      "oom_kill 0\n",
		}), "/sys/fs/cgroup/memory/process_api/bf1d", 1},
		{"no cgroup file", host, "", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := read(tree(t, tt.files), hostCPUs)
			if l.MemoryCgroup != tt.dir || l.MemoryCgroupVersion != tt.version {
				t.Errorf("memory cgroup %q (v%d), want %q (v%d)", l.MemoryCgroup, l.MemoryCgroupVersion, tt.dir, tt.version)
			}
		})
	}
}
