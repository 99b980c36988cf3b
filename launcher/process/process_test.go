package process

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/proctest"
	"github.com/corral-run/corral/launcher/output"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a Mux
// and reads of a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, command string, grace time.Duration) (*Proc, *syncBuffer) {
	t.Helper()
	var out syncBuffer
	p, err := Start(Spec{
		Command: command,
		Dir:     t.TempDir(),
		Env:     []string{"PATH=" + os.Getenv("PATH"), "GREETING=hi"},
		Grace:   grace,
		Out:     output.New(&out, 0, output.Options{}).Prefix("t"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Kill(); p.Wait() })
	return p, &out
}

func TestStatus(t *testing.T) {
	tests := []struct {
		command string
		want    Status
		str     string
		code    int
	}{
		{"exit 0", Status{Code: 0}, "exited with code 0", 0},
		{"exit 3", Status{Code: 3}, "exited with code 3", 3},
		{"no-such-command-xyz", Status{Code: 127}, "exited with code 127 (command not found)", 127},
		{"kill -SEGV $$", Status{Code: -1, Signal: syscall.SIGSEGV}, "killed by SIGSEGV", 139},
	}
	for _, tt := range tests {
		p, _ := start(t, tt.command, time.Second)
		got := p.Wait()
		if got != tt.want || got.String() != tt.str || got.ExitCode() != tt.code {
			t.Errorf("%q: status %+v %q %d, want %+v %q %d", tt.command, got, got, got.ExitCode(), tt.want, tt.str, tt.code)
		}
	}
}

func TestOutputAndEnv(t *testing.T) {
	p, out := start(t, `echo "$GREETING from $(pwd)"; echo oops >&2; printf tail`, time.Second)
	p.Wait()
	lines := strings.Split(out.String(), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "t | hi from /") || lines[1] != "t | oops" || lines[2] != "t | tail" {
		t.Errorf("output = %q", out.String())
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if pid, err2 := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && err2 == nil && pid > 0 {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// TestLeftoversStopped: when the shell exits, what it started in the
// background is stopped too, even with its output redirected away.
func TestLeftoversStopped(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, _ := start(t, `sleep 1000 >/dev/null 2>&1 & echo $! > `+pidfile+`; exit 4`, 5*time.Second)
	pid := readPid(t, pidfile)
	if st := p.Wait(); st.Code != 4 {
		t.Errorf("status %v", st)
	}
	if !proctest.Gone(pid, time.Second) {
		t.Errorf("background process %d survived", pid)
	}
}

// TestLeftoverIgnoringTERM: a leftover that ignores SIGTERM is killed after
// the grace period, and Kill cuts the grace short.
func TestLeftoverIgnoringTERM(t *testing.T) {
	for _, useKill := range []bool{false, true} {
		pidfile := filepath.Join(t.TempDir(), "pid")
		p, _ := start(t, `(trap '' TERM; echo $$ > /dev/null; sh -c 'echo $$ > `+pidfile+`; trap "" TERM; while :; do sleep 0.05; done') & sleep 0.2; exit 0`, 800*time.Millisecond)
		pid := readPid(t, pidfile)
		<-p.Exited()
		began := time.Now()
		if useKill {
			p.Kill()
		}
		p.Wait()
		took := time.Since(began)
		if !proctest.Gone(pid, time.Second) {
			t.Errorf("kill=%v: process %d survived", useKill, pid)
		}
		if !useKill && took < 700*time.Millisecond {
			t.Errorf("grace not given: done after %v", took)
		}
		if useKill && took > 500*time.Millisecond {
			t.Errorf("Kill did not cut the grace short: %v", took)
		}
	}
}

func TestSignalGroup(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, _ := start(t, `sleep 1000 & echo $! > `+pidfile+`; wait`, time.Second)
	pid := readPid(t, pidfile)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	st := p.Wait()
	if st.Code != -1 || st.Signal != syscall.SIGTERM {
		t.Errorf("status %v, want killed by SIGTERM", st)
	}
	if !proctest.Gone(pid, time.Second) {
		t.Errorf("grandchild %d survived SIGTERM to the group", pid)
	}
	if err := p.Signal(syscall.SIGTERM); err != os.ErrProcessDone {
		t.Errorf("Signal after done = %v", err)
	}
}

// TestEscapedHolderDoesNotHang: a process that left the group (setsid) but
// keeps the output pipe open must not keep the Proc from being done.
func TestEscapedHolderDoesNotHang(t *testing.T) {
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
			t.Fatal("setsid (util-linux) is missing")
		}
		t.Skip("no setsid")
	}
	pidfile := filepath.Join(t.TempDir(), "pid")
	p, _ := start(t, `setsid sh -c 'echo $$ > `+pidfile+`; exec sleep 1000' & sleep 0.2`, time.Second)
	pid := readPid(t, pidfile)
	defer syscall.Kill(pid, syscall.SIGKILL)
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Proc not done while an escaped process holds its pipe")
	}
}
