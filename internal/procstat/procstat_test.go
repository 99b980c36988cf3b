package procstat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// line is a whole /proc/PID/stat line, as Linux 6 writes it, of a process
// with the given comm, state, parent, group and rss in pages.
func line(pid int, comm string, state byte, ppid, pgrp int, rss int64) string {
	return strconv.Itoa(pid) + " (" + comm + ") " + string(state) + " " + strconv.Itoa(ppid) + " " + strconv.Itoa(pgrp) +
		" 10859 0 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 5659466 3133440 " + strconv.FormatInt(rss, 10) +
		" 18446744073709551615 94045815689216 94045815709097 140733232691024 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0" +
		" 94045815725104 94045815726720 94045836161024 140733232695797 140733232695817 140733232695817 140733232697323 0\n"
}

func TestParse(t *testing.T) {
	page := pageSize
	for _, tt := range []struct {
		in   string
		want Stat
		ok   bool
	}{
		{"42 (sleep) S 1 42 42 0 -1", Stat{State: 'S', PPid: 1, Pgrp: 42}, true},
		{"7 (a) b) (c) Z 3 5 5 0", Stat{State: 'Z', PPid: 3, Pgrp: 5}, true},
		{"9 (x\ny) R 2 9", Stat{State: 'R', PPid: 2, Pgrp: 9}, true},
		{"9 (x) R 2", Stat{}, false},
		{"9 x R 2 3", Stat{}, false},
		{"9 (x) RR 2 3", Stat{}, false},
		{"9 (x) R two 3", Stat{}, false},
		{"9 (x) \x00 2 3", Stat{}, false},
		{"9 (x) R 2 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 5", Stat{State: 'R', PPid: 2, Pgrp: 3}, true}, // stops before rss
		{line(18265, "cat", 'R', 18262, 18262, 356), Stat{State: 'R', PPid: 18262, Pgrp: 18262, RSS: 356 * page}, true},
		{line(100, "gunicorn: worker [app] (1)", 'S', 99, 99, 25600), Stat{State: 'S', PPid: 99, Pgrp: 99, RSS: 25600 * page}, true},
		{line(101, ") R 1 1 ", 'S', 99, 98, 7), Stat{State: 'S', PPid: 99, Pgrp: 98, RSS: 7 * page}, true},
		{line(2, "kthreadd", 'S', 0, 0, 0), Stat{State: 'S'}, true},
		{line(5, "z", 'Z', 1, 5, -3), Stat{State: 'Z', PPid: 1, Pgrp: 5}, true}, // clamped, as the kernel does
		{strings.Replace(line(5, "z", 'S', 1, 5, 1), " 1 18446744073709551615", " lots 18446744073709551615", 1), Stat{}, false},
		{line(5, "z", 'S', 1, 5, 999999999999999999), Stat{}, false}, // bytes overflow
	} {
		got, ok := Parse([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	b := []byte(line(100, "gunicorn: worker [app]", 'S', 99, 99, 25600))
	if n := testing.AllocsPerRun(100, func() { Parse(b) }); n != 0 {
		t.Errorf("Parse allocates %v times", n)
	}
}

func TestReadSelf(t *testing.T) {
	st, ok := Read(os.Getpid())
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if !ok || st.PPid != os.Getppid() || st.State == 'Z' {
		t.Errorf("Read(self) = %+v, %v", st, ok)
	}
	// A Go test binary has a few MB resident, and less than a few GB.
	if st.RSS < 1<<20 || st.RSS > 4<<30 {
		t.Errorf("Read(self).RSS = %d", st.RSS)
	}
}

// fakeProc writes a /proc tree with the given stat lines by pid, and
// entries that are not processes, and returns its path.
func fakeProc(t *testing.T, stats map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, stat := range stats {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if stat == "" {
			continue // a process that exited between the listing and the read
		}
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"meminfo", "sys/kernel/pid_max", "self/stat"} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(line(1, "not a pid", 'S', 0, 1, 1<<30)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestGroupRSS(t *testing.T) {
	page := pageSize
	root := fakeProc(t, map[string]string{
		"1":   line(1, "corral", 'S', 0, 1, 5000),
		"2":   line(2, "kthreadd", 'S', 0, 0, 0),
		"100": line(100, "gunicorn: master [app]", 'S', 1, 100, 10000),
		"101": line(101, "gunicorn: worker [app]", 'S', 100, 100, 30000),
		"102": line(102, "gunicorn: worker [app]", 'S', 100, 100, 32000),
		"103": line(103, "x) S 1 103 ", 'Z', 100, 100, 0), // a zombie with an awkward name
		"200": line(200, "celery", 'S', 1, 200, 20000),
		"201": line(201, "sh -c (sleep 1)", 'S', 200, 200, 100),
		"300": "",               // gone
		"301": "garbage\n",      // unparsable: skipped
		"302": "302 (cut) S 1 ", // cut short: skipped
	})
	got, err := GroupRSS(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]int64{1: 5000 * page, 0: 0, 100: 72000 * page, 200: 20100 * page}
	if len(got) != len(want) {
		t.Errorf("GroupRSS = %v; want %v", got, want)
	}
	for g, rss := range want {
		if got[g] != rss {
			t.Errorf("group %d: %d bytes; want %d", g, got[g], rss)
		}
	}

	if _, err := GroupRSS(filepath.Join(root, "none")); err == nil {
		t.Error("GroupRSS of a missing directory: no error")
	}
	empty, err := GroupRSS(t.TempDir())
	if err != nil || len(empty) != 0 {
		t.Errorf("GroupRSS of an empty directory = %v, %v", empty, err)
	}
}

// TestGroupRSSReal starts a process group of two sleeps and finds their
// memory under the real /proc.
func TestGroupRSSReal(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & sleep 30; wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	var got map[int]int64
	for range 100 {
		var err error
		got, err = GroupRSS("/proc")
		if err != nil {
			t.Fatal(err)
		}
		if got[cmd.Process.Pid] > 0 {
			break
		}
	}
	self, _ := Read(os.Getpid())
	t.Logf("group %d: %d bytes; this test's group %d: %d bytes (%d processes' groups)", cmd.Process.Pid, got[cmd.Process.Pid], self.Pgrp, got[self.Pgrp], len(got))
	if got[cmd.Process.Pid] <= 0 || got[self.Pgrp] < self.RSS {
		t.Errorf("GroupRSS: group %d has %d bytes, ours %d of our own %d", cmd.Process.Pid, got[cmd.Process.Pid], got[self.Pgrp], self.RSS)
	}
}

func BenchmarkGroupRSS(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("no /proc")
	}
	for b.Loop() {
		if _, err := GroupRSS("/proc"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("42 (sleep) S 1 42 42"))
	f.Add([]byte(line(101, ") R 1 1 ", 'S', 99, 98, 7)))
	f.Add([]byte(line(5, "z", 'Z', 1, 5, -3)))
	f.Add([]byte("9 (x) R 2 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 5 300 9999999999999999"))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, ok := Parse(b)
		if ok && st.State == 0 {
			t.Fatal("ok with no state")
		}
		if !ok && st != (Stat{}) {
			t.Fatalf("not ok with %+v", st)
		}
		if st.RSS < 0 || st.RSS%pageSize != 0 {
			t.Fatalf("RSS %d", st.RSS)
		}
	})
}
