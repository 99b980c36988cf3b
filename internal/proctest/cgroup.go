package proctest

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// v1Memory is where cgroup v1's memory hierarchy is mounted on the hosts
// the tests run on (systemd's and Docker's layout).
const v1Memory = "/sys/fs/cgroup/memory"

// MemoryCgroup makes a child of the cgroup v1 memory cgroup this process
// runs in, limited to limit bytes (memory and swap), and returns its
// directory. At the test's end whatever still runs in it is killed and it
// is removed. It skips the test, with the reason, where that cannot be
// done: not root, no v1 memory hierarchy, or one that is not writable.
// (A test that needs it runs under CORRAL_REQUIRE_INTEGRATION only
// where it can: making cgroups is the host's to allow.)
func MemoryCgroup(t testing.TB, limit int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("making a memory cgroup needs root")
	}
	own, err := ownV1Memory()
	if err != nil {
		t.Skipf("no cgroup v1 memory hierarchy: %v", err)
	}
	dir, err := os.MkdirTemp(filepath.Join(v1Memory, own), "corral-test-")
	if err != nil {
		t.Skipf("the memory cgroup is not writable: %v", err)
	}
	t.Cleanup(func() { removeCgroup(t, dir) })
	write := func(name string, v int64) error {
		return os.WriteFile(filepath.Join(dir, name), []byte(strconv.FormatInt(v, 10)), 0)
	}
	if err := write("memory.limit_in_bytes", limit); err != nil {
		t.Fatalf("limiting %s: %v", dir, err)
	}
	// Swap would let the app outgrow the limit slowly instead of being
	// killed: none, where the kernel accounts for it.
	if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
		if err := write("memory.memsw.limit_in_bytes", limit); err != nil {
			t.Fatalf("limiting %s's swap: %v", dir, err)
		}
	}
	return dir
}

// ownV1Memory returns this process's cgroup in the v1 memory hierarchy,
// from /proc/self/cgroup.
func ownV1Memory() (string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, rest, _ := strings.Cut(sc.Text(), ":")
		ctrls, p, ok := strings.Cut(rest, ":")
		for _, c := range strings.Split(ctrls, ",") {
			if ok && c == "memory" {
				if fi, err := os.Stat(filepath.Join(v1Memory, p)); err != nil || !fi.IsDir() {
					return "", fmt.Errorf("%s is not a directory", filepath.Join(v1Memory, p))
				}
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("/proc/self/cgroup has no memory controller line")
}

// removeCgroup kills what runs in the cgroup dir and removes it.
func removeCgroup(t testing.TB, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			t.Errorf("cleaning up %s: %v", dir, err)
			return
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("cleaning up %s: processes %v still run in it", dir, pids)
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The last process's memory is uncharged a moment after it is gone.
	for {
		err := os.Remove(dir)
		if err == nil || time.Now().After(deadline) {
			if err != nil {
				t.Errorf("removing %s: %v", dir, err)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
