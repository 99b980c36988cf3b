package sockets

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a helper process for the
// integration tests: "master" or "worker".
const helperEnv = "CORRAL_SOCKETS_TEST_HELPER"

// TestMain lets the test binary re-exec itself as the listening processes of
// the integration test, so it needs neither python nor nc.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "master":
		helperMaster()
	case "worker":
		helperWorker()
	case "sleep":
		time.Sleep(2 * time.Minute)
	}
	os.Exit(0)
}

// helperMaster plays a pre-forking server that ignores $PORT: it binds the
// fixed addresses in CORRAL_SOCKETS_TEST_ADDRS, starts a worker that
// inherits the first socket and binds one of its own, then prints
// "MASTERPID WORKERPID WORKERPORT" and waits to be killed.
func helperMaster() {
	var lns []*net.TCPListener
	for a := range strings.SplitSeq(os.Getenv("CORRAL_SOCKETS_TEST_ADDRS"), ",") {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(2)
		}
		lns = append(lns, ln.(*net.TCPListener))
	}
	f, err := lns[0].File()
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	w := exec.Command(os.Args[0])
	w.Env = append(os.Environ(), helperEnv+"=worker")
	w.ExtraFiles = []*os.File{f}
	w.Stderr = os.Stderr
	out, err := w.StdoutPipe()
	if err == nil {
		err = w.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	f.Close() // the dup in this process; lns[0] still holds the socket
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: worker:", err)
		os.Exit(2)
	}
	fmt.Printf("%d %s", os.Getpid(), line)
	time.Sleep(2 * time.Minute) // the test kills the group long before
}

// helperWorker holds the master's socket (fd 3) and a socket of its own.
func helperWorker() {
	inherited := os.NewFile(3, "inherited")
	defer inherited.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	defer ln.Close()
	fmt.Printf("%d %d\n", os.Getpid(), ln.Addr().(*net.TCPAddr).Port)
	time.Sleep(2 * time.Minute)
}

var (
	loop4    = netip.MustParseAddr("127.0.0.1")
	any4     = netip.MustParseAddr("0.0.0.0")
	loop6    = netip.MustParseAddr("::1")
	any6     = netip.MustParseAddr("::")
	mapped   = netip.MustParseAddr("::ffff:127.0.0.1")
	docAddr6 = netip.MustParseAddr("2001:db8::1")
)

func TestParseProcNetTCP(t *testing.T) {
	tests := []struct {
		name string
		line string
		want procNetEntry
		ok   bool
	}{
		{
			name: "ipv4 loopback 8000 listen",
			line: "   2: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652344 1 0000000057c91833 100 0 0 10 0                    ",
			want: procNetEntry{netip.AddrPortFrom(loop4, 8000), 0x0A, 652344},
			ok:   true,
		},
		{
			name: "ipv4 any 5000 listen",
			line: "   1: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652345 1 00000000951a485e 100 0 0 10 0                    ",
			want: procNetEntry{netip.AddrPortFrom(any4, 5000), 0x0A, 652345},
			ok:   true,
		},
		{
			name: "ipv4 established, no inode",
			line: "   1: 0100007F:8C37 0100007F:A048 06 00000000:00000000 03:000002EE 00000000     0        0 0 3 00000000cc37eaed                                      ",
			want: procNetEntry{netip.AddrPortFrom(loop4, 0x8C37), 0x06, 0},
			ok:   true,
		},
		{
			name: "ipv4 uid and large sl",
			line: "1234: 0F02000A:D431 8EFA4A8E:01BB 01 00000000:00000000 02:00000A0B 00000000  1000        0 98765 2 0000000000000000 20 4 30 10 -1",
			want: procNetEntry{netip.AddrPortFrom(netip.MustParseAddr("10.0.2.15"), 0xD431), 0x01, 98765},
			ok:   true,
		},
		{
			name: "ipv6 loopback 8001 listen",
			line: "   0: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652346 1 00000000f37149e8 100 0 0 10 0",
			want: procNetEntry{netip.AddrPortFrom(loop6, 8001), 0x0A, 652346},
			ok:   true,
		},
		{
			name: "ipv6 any 5001 listen",
			line: "   1: 00000000000000000000000000000000:1389 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652347 1 00000000806cc701 100 0 0 10 0",
			want: procNetEntry{netip.AddrPortFrom(any6, 5001), 0x0A, 652347},
			ok:   true,
		},
		{
			name: "ipv6 v4-mapped loopback 8002 listen",
			line: "   2: 0000000000000000FFFF00000100007F:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652348 1 00000000bcb24c20 100 0 0 10 0",
			want: procNetEntry{netip.AddrPortFrom(mapped, 8002), 0x0A, 652348},
			ok:   true,
		},
		{
			name: "ipv6 every word reversed",
			line: "   3: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 42 1 0000000000000000 100 0 0 10 0",
			want: procNetEntry{netip.AddrPortFrom(docAddr6, 80), 0x0A, 42},
			ok:   true,
		},
		{
			name: "lower-case hex",
			line: "0: 0100007f:1f40 00000000:0000 0a 00000000:00000000 00:00000000 00000000 0 0 7 1",
			want: procNetEntry{netip.AddrPortFrom(loop4, 8000), 0x0A, 7},
			ok:   true,
		},
		{name: "ipv4 header", line: "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"},
		{name: "ipv6 header", line: "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"},
		{name: "empty", line: ""},
		{name: "blank", line: "    "},
		{name: "truncated before inode", line: "   2: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0"},
		{name: "no port", line: "   2: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "short port", line: "   2: 0100007F:1F4 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "address of 12 digits", line: "   2: 0100007F0000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "address not hex", line: "   2: 0100007G:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "port not hex", line: "   2: 0100007F:1FZ0 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "state of 3 digits", line: "   2: 0100007F:1F40 00000000:0000 00A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "state not hex", line: "   2: 0100007F:1F40 00000000:0000 0X 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "negative inode", line: "   2: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 -1 1"},
		{name: "sl without colon", line: "   2 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
		{name: "sl not a number", line: "   x: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNetTCP(tt.line, binary.LittleEndian)
			if (err == nil) != tt.ok {
				t.Fatalf("parseProcNetTCP(%q) error = %v, want ok=%v", tt.line, err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("parseProcNetTCP(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

// On a big-endian host the kernel prints each address word in network order.
func TestParseProcNetTCPBigEndian(t *testing.T) {
	for line, want := range map[string]netip.AddrPort{
		"0: 7F000001:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9 1":                                                 netip.AddrPortFrom(loop4, 8000),
		"0: 20010DB8000000000000000000000001:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9 1": netip.AddrPortFrom(docAddr6, 80),
	} {
		got, err := parseProcNetTCP(line, binary.BigEndian)
		if err != nil || got.Local != want {
			t.Errorf("parseProcNetTCP(%q, BigEndian) = %v, %v; want %v", line, got.Local, err, want)
		}
	}
}

func FuzzParseProcNetTCP(f *testing.F) {
	for _, s := range []string{
		"   2: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652344 1 0000000057c91833 100 0 0 10 0",
		"   1: 00000000:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652345 1 00000000951a485e 100 0 0 10 0",
		"   0: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652346 1 00000000f37149e8 100 0 0 10 0",
		"   2: 0000000000000000FFFF00000100007F:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 652348 1 00000000bcb24c20 100 0 0 10 0",
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
		"",
		"0: :",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			e, err := parseProcNetTCP(line, order)
			if err != nil {
				if e != (procNetEntry{}) {
					t.Fatalf("error %v with a non-zero entry %+v", err, e)
				}
				continue
			}
			if !e.Local.IsValid() {
				t.Fatalf("parseProcNetTCP(%q) = invalid address with no error", line)
			}
			// GroupListeners only parses lines its byte-level prefilter keeps:
			// it must never drop a listening socket.
			if e.State == tcpListen && !listenLine([]byte(line)) {
				t.Fatalf("listenLine(%q) = false for a LISTEN socket", line)
			}
		}
		// parseSocketLink runs on what another /proc file holds; it must not panic either.
		parseSocketLink(line)
	})
}

func TestParseSocketLink(t *testing.T) {
	tests := []struct {
		target string
		want   uint64
		ok     bool
	}{
		{"socket:[652344]", 652344, true},
		{"socket:[0]", 0, true},
		{"pipe:[652344]", 0, false},
		{"anon_inode:[eventfd]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[]", 0, false},
		{"socket:[12", 0, false},
		{"socket:[-1]", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSocketLink(tt.target)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSocketLink(%q) = %d, %v; want %d, %v", tt.target, got, ok, tt.want, tt.ok)
		}
	}
}

// freePort returns a loopback port nothing listens on right now on network
// ("tcp4" or "tcp6"), the way a user picks a "fixed" port for --bind.
func freePort(t testing.TB, network, host string) uint16 {
	t.Helper()
	ln, err := net.Listen(network, net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// group is a process group like the one corral starts for a web instance:
// sh, a master that ignores $PORT, and a worker that shares its socket.
type group struct {
	pgid, master, worker int
	workerPort           uint16
}

// startGroup runs `sh -c` in a new process group, with the test binary as
// a pre-forking server bound to addrs, and kills the group at cleanup.
func startGroup(t testing.TB, addrs ...string) group {
	t.Helper()
	cmd := exec.Command("sh", "-c", `"$0" & wait`, os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=master", "CORRAL_SOCKETS_TEST_ADDRS="+strings.Join(addrs, ","))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := group{pgid: cmd.Process.Pid}
	t.Cleanup(func() {
		syscall.Kill(-g.pgid, syscall.SIGKILL)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper did not start: %v", err)
	}
	if _, err := fmt.Sscan(line, &g.master, &g.worker, &g.workerPort); err != nil {
		t.Fatalf("helper said %q: %v", line, err)
	}
	return g
}

func TestGroupListeners(t *testing.T) {
	if _, err := GroupListeners(1); errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}

	// A socket outside the group: the test process's own.
	outside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer outside.Close()
	outsideAddr := outside.Addr().(*net.TCPAddr).AddrPort()

	port := freePort(t, "tcp4", "127.0.0.1")
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", port)}
	want := []netip.AddrPort{netip.AddrPortFrom(loop4, port)}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		ln.Close()
		p6 := freePort(t, "tcp6", "::1")
		addrs = append(addrs, fmt.Sprintf("[::1]:%d", p6))
		want = append(want, netip.AddrPortFrom(loop6, p6))
	} else {
		t.Logf("no IPv6 loopback, checking IPv4 only: %v", err)
	}
	g := startGroup(t, addrs...)

	got, err := GroupListeners(g.pgid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("group %d (master %d, worker %d): %v", g.pgid, g.master, g.worker, got)

	// The master's first socket is shared with the worker: it is reported
	// once, for the lower pid.
	wantList := []Listener{{want[0], min(g.master, g.worker)}}
	for _, a := range want[1:] {
		wantList = append(wantList, Listener{a, g.master})
	}
	wantList = append(wantList, Listener{netip.AddrPortFrom(loop4, g.workerPort), g.worker})
	for _, w := range wantList {
		if !slices.Contains(got, w) {
			t.Errorf("GroupListeners(%d) = %v, missing %v", g.pgid, got, w)
		}
	}
	if len(got) != len(wantList) {
		t.Errorf("GroupListeners(%d) = %v, want exactly %v", g.pgid, got, wantList)
	}
	for _, l := range got {
		if l.Addr == outsideAddr || l.Pid == os.Getpid() {
			t.Errorf("GroupListeners(%d) reported %v, held outside the group", g.pgid, l)
		}
	}

	// ProcessListeners sees the master's own sockets alone: not the
	// worker's, not the test's.
	mine, err := ProcessListeners(g.master)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(mine, func(l Listener) bool { return l.Addr == want[0] }) ||
		slices.ContainsFunc(mine, func(l Listener) bool { return l.Addr.Port() == g.workerPort || l.Addr == outsideAddr }) {
		t.Errorf("ProcessListeners(%d) = %v: want the master's %v, and neither the worker's port %d nor %v", g.master, mine, want[0], g.workerPort, outsideAddr)
	}

	// And the outside socket is found in its own group.
	own, err := GroupListeners(syscall.Getpgrp())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(own, Listener{outsideAddr, os.Getpid()}) {
		t.Errorf("GroupListeners(own group %d) = %v, missing %v held by the test", syscall.Getpgrp(), own, outsideAddr)
	}
}

func TestGroupListenersEmpty(t *testing.T) {
	if _, err := GroupListeners(1); errors.Is(err, errors.ErrUnsupported) {
		t.Skip(err)
	}
	// A group that does not listen yet: the app is still importing.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=sleep")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	for _, pgid := range []int{cmd.Process.Pid, 1<<31 - 1} { // the second has no process
		got, err := GroupListeners(pgid)
		if err != nil || len(got) != 0 {
			t.Errorf("GroupListeners(%d) = %v, %v; want none and no error", pgid, got, err)
		}
	}
	for _, pgid := range []int{0, -1} {
		if _, err := GroupListeners(pgid); err == nil {
			t.Errorf("GroupListeners(%d): no error", pgid)
		}
	}
}

func BenchmarkGroupListeners(b *testing.B) {
	if _, err := GroupListeners(1); errors.Is(err, errors.ErrUnsupported) {
		b.Skip(err)
	}
	procs, _ := os.ReadDir("/proc")
	n := 0
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err == nil {
			n++
		}
	}
	b.Logf("%d processes on this machine", n)

	b.Run("listening", func(b *testing.B) {
		g := startGroup(b, fmt.Sprintf("127.0.0.1:%d", freePort(b, "tcp4", "127.0.0.1")))
		for b.Loop() {
			if ls, err := GroupListeners(g.pgid); err != nil || len(ls) != 2 {
				b.Fatal(ls, err)
			}
		}
	})
	b.Run("not-listening", func(b *testing.B) {
		for b.Loop() {
			if ls, err := GroupListeners(1<<31 - 1); err != nil || len(ls) != 0 {
				b.Fatal(ls, err)
			}
		}
	})
}
