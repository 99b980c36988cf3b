// Package limits finds the memory and CPU corral and the app may use: the
// limits of the cgroup corral runs in (what a PaaS free tier's 512 MB /
// 0.1 CPU really is), else the host's RAM and CPUs. Sizing decisions
// (WEB_CONCURRENCY, GOMEMLIMIT, the memory guard) start from here.
//
// Everything is read under a root directory so that tests can give fake
// /proc and /sys trees; production reads "/". Nothing here fails: a
// missing file is normal (a laptop, macOS, a VM without cgroups) and falls
// back to the host's figures, and a file with contents that make no sense
// is skipped with a warning that names it, since a wrong limit is worse
// than none.
package limits

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Limits is what corral may use on this machine, each figure with where it
// came from.
type Limits struct {
	// Memory is the memory limit in bytes: the smallest of the cgroup's
	// limits and the host's RAM; 0 when unknown (no /proc).
	Memory int64
	// MemorySource says where Memory came from, for logs and `corral
	// check`: "cgroup v2 memory.max", "/proc/meminfo MemTotal", … (an
	// override sets its flag's name).
	MemorySource string
	// CPU is the CPU limit in cores, e.g. 0.1: the cgroup's quota if it
	// is below the CPUs this process may run on; 0 when unknown.
	CPU float64
	// CPUSource says where CPU came from, like MemorySource.
	CPUSource string

	// HostMemory is the host's RAM (MemTotal), 0 when unknown; HostCPUs
	// the CPUs corral may run on (its affinity mask). They are kept
	// next to the limits because a limit means more beside what it
	// limits.
	HostMemory int64
	HostCPUs   int
	// CgroupVersion is the cgroup version the limits were looked for in:
	// 2, 1 (also on a hybrid system, which keeps its controllers in v1),
	// or 0 when corral is in no cgroup it can see.
	CgroupVersion int
	// MemoryCgroup is the directory, inside the root, of the memory
	// cgroup corral runs in (or, when that one is not to be seen, its
	// nearest ancestor that is): where the kernel counts the OOM kills
	// and the pressure of corral's processes. "" when there is none;
	// MemoryCgroupVersion says which kind it is (1 or 2).
	MemoryCgroup        string
	MemoryCgroupVersion int

	// Warnings are the files whose contents made no sense, each naming
	// the file and what it held; their limits were ignored.
	Warnings []string
}

// Sources of the host's figures. Constrained tells a cgroup's limit from
// the host's by them.
const (
	hostMemorySource = "/proc/meminfo MemTotal"
	hostCPUSource    = "the host's CPUs"
)

// unlimited is where a memory figure stops being a limit: cgroup v1 shows
// "no limit" as the largest page-aligned int64 (9223372036854771712 with
// 4 KiB pages, a little less with bigger pages), and no machine has 4 EiB.
const unlimited = 1 << 62

// Read returns the limits of the machine or container corral runs in,
// reading /proc and /sys under root ("/" in production).
func Read(root string) Limits {
	// runtime.NumCPU is the affinity mask at start (taskset, a cpuset),
	// which is what a GOMAXPROCS or a worker count may use.
	return read(root, runtime.NumCPU())
}

// Constrained reports whether Memory is a limit set for corral's
// processes (a cgroup's, or an override) rather than the host's RAM: only
// then can they run out of memory while the host still has some, which
// is when watching them pays.
func (l Limits) Constrained() bool {
	return l.Memory > 0 && l.MemorySource != hostMemorySource
}

// String describes the limits in one line for logs, e.g. "512 MiB
// (cgroup v2 memory.max), 0.1 CPU (cgroup v2 cpu.max)".
func (l Limits) String() string {
	mem := "memory unknown"
	if l.Memory > 0 {
		mem = fmt.Sprintf("%s (%s)", MiB(l.Memory), l.MemorySource)
	}
	cpu := "CPU unknown"
	if l.CPU > 0 {
		cpu = fmt.Sprintf("%.3g CPU (%s)", l.CPU, l.CPUSource)
	}
	return mem + ", " + cpu
}

// MiB formats a byte count for people: "512 MiB", "1.5 GiB", "16 GiB".
// The sizing decisions made from the limits use it too, so that they
// read alike in one log.
func MiB(n int64) string {
	switch {
	case n >= 10<<30 || n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}

// read is Read with the host's CPU count given, for tests.
func read(root string, hostCPUs int) Limits {
	r := &reader{root: root}
	l := Limits{HostCPUs: max(hostCPUs, 0)}
	l.HostMemory = r.hostMemory()

	cgMem, memSrc, cgCPU, cpuSrc, version := r.cgroup()
	l.CgroupVersion = version

	l.Memory, l.MemorySource = l.HostMemory, hostMemorySource
	if l.Memory == 0 {
		l.MemorySource = ""
	}
	// The smaller wins: a cgroup limit above the host's RAM limits
	// nothing.
	if cgMem > 0 && (l.Memory == 0 || cgMem < l.Memory) {
		l.Memory, l.MemorySource = cgMem, memSrc
	}
	l.CPU, l.CPUSource = float64(l.HostCPUs), hostCPUSource
	if l.CPU == 0 {
		l.CPUSource = ""
	}
	if cgCPU > 0 && (l.CPU == 0 || cgCPU < l.CPU) {
		l.CPU, l.CPUSource = cgCPU, cpuSrc
	}
	l.MemoryCgroup, l.MemoryCgroupVersion = r.memCgroup, r.memVersion
	l.Warnings = r.warnings
	return l
}

// reader reads files under root and collects warnings about them.
type reader struct {
	root     string
	warnings []string

	memCgroup  string // what Limits.MemoryCgroup says
	memVersion int
}

// maxFile bounds what is read of one file: the largest, mountinfo, is a
// few hundred KB on a busy Kubernetes node, and a fake tree's mistake
// (a link to /dev/zero) must not eat the memory being measured.
const maxFile = 4 << 20

// read returns the contents of the file at name, a path inside the root.
// A file that does not exist is normal and says nothing; one that exists
// but cannot be read is worth a warning.
func (r *reader) read(name string) ([]byte, bool) {
	f, err := os.Open(r.path(name))
	if err == nil {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(f, maxFile))
		f.Close()
		if err == nil {
			return b, true
		}
	}
	// ENOTDIR: a part of the path is a file, so this one is not there
	// either.
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: %v: ignored", name, unwrapPath(err)))
	}
	return nil, false
}

// path returns the OS path of name, a path inside the root. Names are
// built from what files say, so they are cleaned as absolute paths first,
// which keeps a "../.." in a fake tree inside the root.
func (r *reader) path(name string) string {
	return filepath.Join(r.root, filepath.FromSlash(path.Clean("/"+name)))
}

// unwrapPath drops the *PathError's path, which read's warning names
// already (as seen inside the root).
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// warnValue warns that the file at name holds value, which is not what
// want describes; the file's limit is ignored.
func (r *reader) warnValue(name string, value []byte, want string) {
	v := strings.TrimSpace(string(value))
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	r.warnings = append(r.warnings, fmt.Sprintf("%s holds %q, not %s: ignored", name, v, want))
}

// hostMemory returns MemTotal from /proc/meminfo in bytes, or 0.
func (r *reader) hostMemory() int64 {
	const name = "/proc/meminfo"
	b, ok := r.read(name)
	if !ok {
		return 0
	}
	n, err := parseMeminfo(b)
	if err != nil {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: %v: ignored", name, err))
		return 0
	}
	return n
}

// parseMeminfo returns MemTotal from the contents of /proc/meminfo
// ("MemTotal:       16314888 kB"), in bytes.
func parseMeminfo(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("MemTotal:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("MemTotal is %q, not a number of kB", strings.TrimSpace(string(rest)))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n <= 0 || n > math.MaxInt64>>10 {
			return 0, fmt.Errorf("MemTotal is %q, not a number of kB", strings.TrimSpace(string(rest)))
		}
		return n << 10, nil
	}
	return 0, errors.New("no MemTotal line")
}

// cgroupLine is one line of /proc/self/cgroup: "2:cpu,cpuacct:/path"
// (v1) or "0::/path" (v2).
type cgroupLine struct {
	id          string
	controllers []string // empty for v2
	path        string   // absolute, as the kernel shows it
}

// parseCgroupFile parses /proc/self/cgroup. Lines that are not
// "id:controllers:/path" are left out, and bad is the first of them: the
// kernel writes none, so a fake or damaged file is worth a warning.
func parseCgroupFile(b []byte) (lines []cgroupLine, bad []byte) {
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		// The path may itself hold ':', so split twice only.
		id, rest, ok1 := strings.Cut(string(line), ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		if _, err := strconv.ParseUint(id, 10, 32); err != nil || !ok1 || !ok2 || !strings.HasPrefix(p, "/") {
			if bad == nil {
				bad = line
			}
			continue
		}
		l := cgroupLine{id: id, path: p}
		if ctrls != "" {
			l.controllers = strings.Split(ctrls, ",")
		}
		lines = append(lines, l)
	}
	return lines, bad
}

// mount is a cgroup filesystem from /proc/self/mountinfo.
type mount struct {
	root   string   // which cgroup the mount shows at its top
	point  string   // where it is mounted
	fstype string   // "cgroup" (v1) or "cgroup2"
	opts   []string // super options: a v1 mount's controllers are among them
}

// parseMountinfo returns the cgroup mounts listed in the contents of
// /proc/self/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - cgroup cgroup rw,memory
//	(1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)    (11)
//
// Malformed lines are skipped: mountinfo only helps find the cgroup
// filesystem, which has a usual place to fall back on.
func parseMountinfo(b []byte) []mount {
	var mounts []mount
	for line := range bytes.Lines(b) {
		f := strings.Fields(string(line))
		sep := slices.Index(f, "-")
		if sep < 6 || len(f) < sep+4 {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		root, point := unescape(f[3]), unescape(f[4])
		if !strings.HasPrefix(root, "/") || !strings.HasPrefix(point, "/") {
			continue
		}
		mounts = append(mounts, mount{root: root, point: point, fstype: fstype, opts: strings.Split(f[sep+3], ",")})
	}
	return mounts
}

// unescape undoes mountinfo's octal escapes of space, tab, newline and
// backslash ("\040").
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// controller is where one cgroup controller (memory, cpu) keeps its files
// for this process.
type controller struct {
	version int
	dirs    []string // inside the root: the process's cgroup first, up to the mount's top
}

// cgroup reads the cgroup limits: memory in bytes and CPU in cores (0:
// none found), each with its source, and the cgroup version.
func (r *reader) cgroup() (mem int64, memSrc string, cpu float64, cpuSrc string, version int) {
	const cgroupFile = "/proc/self/cgroup"
	b, ok := r.read(cgroupFile)
	if !ok {
		return 0, "", 0, "", 0
	}
	lines, bad := parseCgroupFile(b)
	if bad != nil {
		r.warnValue(cgroupFile, bad, `a line of "hierarchy:controllers:/path"`)
	}
	var mounts []mount
	mi, haveMountinfo := r.read("/proc/self/mountinfo")
	if haveMountinfo {
		mounts = parseMountinfo(mi)
	}
	memC := r.find(lines, "memory", mounts)
	cpuC := r.find(lines, "cpu", mounts)
	for _, d := range memC.dirs {
		if fi, err := os.Stat(r.path(d)); err == nil && fi.IsDir() {
			r.memCgroup, r.memVersion = d, memC.version
			break
		}
	}

	switch memC.version {
	case 2:
		mem, memSrc = r.v2Memory(memC.dirs)
	case 1:
		mem, memSrc = r.v1Memory(memC.dirs)
	}
	switch cpuC.version {
	case 2:
		cpu, cpuSrc = r.v2CPU(cpuC.dirs)
	case 1:
		cpu, cpuSrc = r.v1CPU(cpuC.dirs)
	}
	switch {
	case memC.version == 1 || cpuC.version == 1:
		version = 1
	case memC.version == 2 || cpuC.version == 2:
		version = 2
	}
	return mem, memSrc, cpu, cpuSrc, version
}

// find returns where the controller named ctrl keeps its files. A
// controller lives in exactly one hierarchy: a v1 one that lists it, or
// else the v2 one (a hybrid system has both kinds of line).
func (r *reader) find(lines []cgroupLine, ctrl string, mounts []mount) controller {
	var v2 *cgroupLine
	for i, l := range lines {
		if l.id == "0" && len(l.controllers) == 0 {
			v2 = &lines[i]
			continue
		}
		if slices.Contains(l.controllers, ctrl) {
			return controller{version: 1, dirs: r.dirs(l.path, mountFor(mounts, l.path, func(m mount) bool {
				return m.fstype == "cgroup" && slices.Contains(m.opts, ctrl)
			}), v1Defaults(l.controllers, ctrl))}
		}
	}
	if v2 == nil {
		return controller{}
	}
	return controller{version: 2, dirs: r.dirs(v2.path, mountFor(mounts, v2.path, func(m mount) bool {
		return m.fstype == "cgroup2"
	}), []string{"/sys/fs/cgroup"})}
}

// v1Defaults are where a v1 controller is usually mounted when mountinfo
// does not say: systemd and Docker mount "cpu,cpuacct" as such and link
// "cpu" to it.
func v1Defaults(controllers []string, ctrl string) []string {
	d := []string{"/sys/fs/cgroup/" + strings.Join(controllers, ",")}
	if len(controllers) > 1 {
		d = append(d, "/sys/fs/cgroup/"+ctrl)
	}
	return d
}

// mountFor returns the mount of the hierarchy that ok accepts which shows
// cgroup path p, and p relative to the mount's top. The mount whose top
// is the deepest ancestor of p wins; with none (a sandbox showing the
// container's cgroup at the top while /proc/self/cgroup names it in
// full), the first mount, at its top. nil when mountinfo lists none.
func mountFor(mounts []mount, p string, ok func(mount) bool) *mountRel {
	var best *mountRel
	for _, m := range mounts {
		if !ok(m) {
			continue
		}
		rel, under := relTo(p, m.root)
		switch {
		case under && (best == nil || !best.under || len(m.root) > len(best.root)):
			best = &mountRel{mount: m, rel: rel, under: true}
		case !under && best == nil:
			best = &mountRel{mount: m, rel: "/"}
		}
	}
	return best
}

// mountRel is a mount and a cgroup path relative to its top.
type mountRel struct {
	mount
	rel   string
	under bool // the cgroup is under the mount's top
}

// relTo returns p relative to root ("/" for root itself), and whether p
// is root or under it.
func relTo(p, root string) (string, bool) {
	if root == "/" {
		return p, true
	}
	if p == root {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, root); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return "", false
}

// dirs returns the directories, inside the root, of cgroup path p and
// its ancestors up to the top of the mount: limits nest, and the one that
// binds may be set on a parent (a systemd slice, a Kubernetes pod around
// the container). Inside a container the path is often "/", or one that
// does not exist there because the container's own cgroup is at the top
// of the mount; either way the walk ends at the top, so it finds that
// cgroup's limits. With no mount found in mountinfo, the top is the first
// of the usual places that exists. nil when p lies outside this cgroup
// namespace ("/../x"): no mount shows it.
func (r *reader) dirs(p string, m *mountRel, defaults []string) []string {
	var top, rel string
	if m != nil {
		top, rel = m.point, m.rel
	} else {
		top, rel = defaults[0], p
		for _, d := range defaults {
			if fi, err := os.Stat(r.path(d)); err == nil && fi.IsDir() {
				top = d
				break
			}
		}
	}
	if outside(p) && (m == nil || !m.under) || outside(rel) {
		return nil
	}
	rel = path.Clean("/" + rel)
	var ds []string
	for {
		ds = append(ds, path.Join(top, rel))
		if rel == "/" {
			return ds
		}
		rel = path.Dir(rel)
	}
}

// outside reports whether cgroup path p is above the root of corral's
// cgroup namespace, as /proc/self/cgroup shows a cgroup the process moved
// to after the namespace was made.
func outside(p string) bool { return p == "/.." || strings.HasPrefix(p, "/../") }

// v2Memory returns the smallest of memory.max and memory.high in dirs.
// memory.high counts too: past it the kernel does not kill but throttles
// and reclaims the cgroup's pages hard, so the app slows to a crawl, which
// is as much a ceiling for sizing workers as memory.max.
func (r *reader) v2Memory(dirs []string) (int64, string) {
	var lim int64
	var src string
	for _, d := range dirs {
		for _, file := range []string{"memory.max", "memory.high"} {
			if n := r.memoryFile(path.Join(d, file), false); n > 0 && (lim == 0 || n < lim) {
				lim, src = n, "cgroup v2 "+file
			}
		}
	}
	return lim, src
}

// v1Memory returns the smallest memory.limit_in_bytes in dirs.
func (r *reader) v1Memory(dirs []string) (int64, string) {
	var lim int64
	for _, d := range dirs {
		if n := r.memoryFile(path.Join(d, "memory.limit_in_bytes"), true); n > 0 && (lim == 0 || n < lim) {
			lim = n
		}
	}
	if lim == 0 {
		return 0, ""
	}
	return lim, "cgroup v1 memory.limit_in_bytes"
}

// memoryFile reads a memory limit file; 0 when there is none, or no
// limit.
func (r *reader) memoryFile(name string, v1 bool) int64 {
	b, ok := r.read(name)
	if !ok {
		return 0
	}
	n, limited, err := parseMemory(string(b), v1)
	if err != nil {
		want := `a positive number of bytes or "max"`
		if v1 {
			want = "a positive number of bytes or -1"
		}
		r.warnValue(name, b, want)
		return 0
	}
	if !limited {
		return 0
	}
	return n
}

// parseMemory parses a memory limit file: bytes, or "max" (v2) or "-1"
// (v1, as written; it reads back as a huge number) for no limit. Zero is
// refused: a cgroup that lets its processes use no memory holds no
// running corral, so the file is not what it seems.
func parseMemory(s string, v1 bool) (n int64, limited bool, err error) {
	s = strings.TrimSpace(s)
	if s == "max" && !v1 || s == "-1" && v1 {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && !strings.HasPrefix(s, "-") {
			return 0, false, nil // beyond int64: no limit
		}
		return 0, false, err
	}
	if n <= 0 {
		return 0, false, errors.New("not positive")
	}
	if n >= unlimited {
		return 0, false, nil
	}
	return n, true, nil
}

// v2CPU returns the smallest cpu.max quota in dirs, in cores.
func (r *reader) v2CPU(dirs []string) (float64, string) {
	var lim float64
	for _, d := range dirs {
		name := path.Join(d, "cpu.max")
		b, ok := r.read(name)
		if !ok {
			continue
		}
		cores, limited, err := parseCPUMax(string(b))
		if err != nil {
			r.warnValue(name, b, `"max PERIOD" or "QUOTA PERIOD" in µs`)
			continue
		}
		if limited && (lim == 0 || cores < lim) {
			lim = cores
		}
	}
	if lim == 0 {
		return 0, ""
	}
	return lim, "cgroup v2 cpu.max"
}

// parseCPUMax parses cgroup v2's cpu.max, "QUOTA PERIOD" in µs of CPU
// time per µs of wall time: "10000 100000" is 0.1 CPU, "max 100000" no
// limit.
func parseCPUMax(s string) (cores float64, limited bool, err error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 {
		return 0, false, errors.New("not QUOTA PERIOD")
	}
	if f[0] == "max" {
		// The period does not matter, but must still be a period.
		if len(f) == 2 {
			if p, err := strconv.ParseInt(f[1], 10, 64); err != nil || p <= 0 {
				return 0, false, errors.New("bad period")
			}
		}
		return 0, false, nil
	}
	if len(f) != 2 {
		return 0, false, errors.New("no period")
	}
	return quotaCores(f[0], f[1])
}

// quotaCores divides a quota by a period, both positive µs.
func quotaCores(quota, period string) (float64, bool, error) {
	q, err1 := strconv.ParseInt(quota, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0, false, errors.New("not positive numbers")
	}
	return float64(q) / float64(p), true, nil
}

// v1CPU returns the smallest cpu.cfs_quota_us / cpu.cfs_period_us in
// dirs, in cores; a quota of -1 is no limit.
func (r *reader) v1CPU(dirs []string) (float64, string) {
	var lim float64
	for _, d := range dirs {
		qName, pName := path.Join(d, "cpu.cfs_quota_us"), path.Join(d, "cpu.cfs_period_us")
		qb, ok := r.read(qName)
		if !ok {
			continue
		}
		q := strings.TrimSpace(string(qb))
		if q == "-1" {
			continue
		}
		if n, err := strconv.ParseInt(q, 10, 64); err != nil || n <= 0 {
			r.warnValue(qName, qb, "a positive number of µs or -1")
			continue
		}
		pb, ok := r.read(pName)
		if !ok {
			r.warnings = append(r.warnings, fmt.Sprintf("%s is missing next to %s: its quota is ignored", pName, qName))
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(pb)), 10, 64); err != nil || n <= 0 {
			r.warnValue(pName, pb, "a positive number of µs")
			continue
		}
		cores, _, _ := quotaCores(q, strings.TrimSpace(string(pb)))
		if lim == 0 || cores < lim {
			lim = cores
		}
	}
	if lim == 0 {
		return 0, ""
	}
	return lim, "cgroup v1 cpu.cfs_quota_us"
}
