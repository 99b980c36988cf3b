package main

// End-to-end tests: they build the corral binary and run it on real
// Procfiles, as a user would, and look only at what a user can see: its
// output, its exit status, the files its processes write and which
// processes are left alive.

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/proctest"
)

var (
	corralBin string // the built binary
	helperBin string // this test binary, which doubles as a helper program
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("CORRAL_TEST_HELPER"); mode != "" {
		os.Exit(helper(mode, os.Args[1:]))
	}
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		// Fuzzing (FuzzFlagsFirst) runs no end-to-end test: no binary to
		// build for it, which takes .ci/run's fuzz step seconds a run.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "corral-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	corralBin = filepath.Join(dir, "corral")
	build := []string{"build", "-o", corralBin}
	if raceEnabled {
		build = append(build, "-race")
	}
	out, err := exec.Command("go", append(build, ".")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building corral: %v\n%s", err, out)
		os.Exit(1)
	}
	helperBin, _ = os.Executable()
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// notUnderRace skips t under the race detector. It is for tests of corral
// beside another program (nginx's answers, a browser's rendering, pip's and
// detection's choices), which the plain run covers: the goroutines they
// would run are those the load, reload and signal tests run under -race,
// and the race run is the longest part of CI.
func notUnderRace(t *testing.T) {
	t.Helper()
	if raceEnabled {
		t.Skip("checked in the plain test run: what it compares is another program's behaviour, not corral's concurrency")
	}
}

// helper is what this binary does when a test's Procfile runs it.
func helper(mode string, args []string) int {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	defer w.Flush()
	switch mode {
	case "lines": // lines NAME COUNT: numbered lines with varying padding
		n, _ := strconv.Atoi(args[1])
		for i := range n {
			fmt.Fprintf(w, "%s-%06d-%s\n", args[0], i, strings.Repeat("z", i%50))
		}
	case "bigline": // bigline SIZE: one SIZE-byte line, then a last line without newline
		n, _ := strconv.Atoi(args[0])
		w.WriteString(strings.Repeat("x", n))
		w.WriteString("\nno-newline-at-the-end")
	case "http": // a web app: answers "hello from $PS" on $PORT
		w.Flush()
		var mu sync.Mutex
		var hoard [][]byte
		return serveApp(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/big":
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				io.WriteString(w, strings.Repeat("hello, compressible world\n", 1000))
				return
			case "/slow": // answers after a second
				time.Sleep(time.Second)
			case "/grow": // keeps 16 MiB more, touched, so that it is resident: a leak
				b := make([]byte, 16<<20)
				for i := range b {
					b[i] = byte(i)
				}
				mu.Lock()
				hoard = append(hoard, b)
				fmt.Fprintf(w, "holding %d MiB; ", 16*len(hoard))
				mu.Unlock()
			}
			fmt.Fprintf(w, "hello from %s\n", os.Getenv("PS"))
		})
	case "lateanswer": // "http", but the instance named $LATE_PS answers only once the file $LATE_FILE exists
		w.Flush()
		return serveAppAfter(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from %s\n", os.Getenv("PS"))
		}, func() {
			if os.Getenv("PS") != os.Getenv("LATE_PS") {
				return
			}
			// Listening, not answering: connections wait in the listen
			// queue, as under gunicorn's master while its workers import
			// the app.
			for {
				if _, err := os.Stat(os.Getenv("LATE_FILE")); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			fmt.Println("answering now")
		})
	case "bind": // bind --bind ADDR: a web app that listens on ADDR, not $PORT
		w.Flush()
		return bindApp(args)
	case "proto": // a web app: answers "proto=$X-Forwarded-Proto" on $PORT
		w.Flush()
		return serveApp(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "proto=%s\n", r.Header.Get("X-Forwarded-Proto"))
		})
	case "relay": // relay ADDR: a web app that passes $PORT's connections to ADDR
		w.Flush()
		return relay(args[0])
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	return 0
}

// serveApp is a helper web app: it serves h on 127.0.0.1:$PORT (or
// $HOST:$PORT, for a test that sets HOST), after reading each request's
// body, and says "listening" once it does.
func serveApp(h http.HandlerFunc) int { return serveAppAfter(h, func() {}) }

// serveAppAfter is serveApp that calls boot between listening and
// serving.
func serveAppAfter(h http.HandlerFunc, boot func()) int {
	ln, err := net.Listen("tcp", net.JoinHostPort(cmp.Or(os.Getenv("HOST"), "127.0.0.1"), os.Getenv("PORT")))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening")
	boot()
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h(w, r)
	}))
	return 0
}

// app writes the files of a test app and returns its directory.
func app(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// session is a corral process under test.
type session struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  []string // stdout lines so far
	errb strings.Builder
	more chan struct{} // signalled on each new line
	eof  chan struct{}
}

// start starts corral with args in dir, with env added to the test's own
// environment (minus variables that would change corral's behaviour).
func start(t *testing.T, dir string, env []string, args ...string) *session {
	t.Helper()
	return startCmd(t, exec.Command(corralBin, args...), dir, env)
}

// startCmd is start for a command that runs corral (or execs it).
func startCmd(t *testing.T, cmd *exec.Cmd, dir string, env []string) *session {
	t.Helper()
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r := &session{t: t, cmd: cmd, more: make(chan struct{}, 1), eof: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &r.mu, b: &r.errb}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(r.eof)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			r.mu.Lock()
			r.out = append(r.out, sc.Text())
			r.mu.Unlock()
			select {
			case r.more <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-r.eof
		cmd.Wait()
	})
	return r
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "PORT" || k == "HOST" || k == "NO_COLOR" || strings.HasPrefix(k, "CORRAL_") {
			continue
		}
		env = append(env, kv)
	}
	// A race-enabled binary sleeps a second before it exits (the race
	// runtime's atexit_sleep_ms), which timing checks would count.
	return append(env, "CORRAL_TEST_HELPER=", "GORACE=atexit_sleep_ms=0") // the helper is set per command in Procfiles
}

func (r *session) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.out...)
}

func (r *session) output() string { return strings.Join(r.lines(), "\n") }

// waitFor waits until a line matching pattern has been printed, and
// returns it.
func (r *session) waitFor(pattern string) string {
	r.t.Helper()
	return r.waitForNth(pattern, 1)
}

// waitForNth waits until n lines matching pattern have been printed, and
// returns the nth.
func (r *session) waitForNth(pattern string, n int) string {
	r.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.After(20 * time.Second)
	count, seen := 0, 0
	find := func() string {
		lines := r.lines()
		for _, l := range lines[seen:] {
			if re.MatchString(l) {
				if count++; count == n {
					return l
				}
			}
		}
		seen = len(lines)
		return ""
	}
	for {
		if l := find(); l != "" {
			return l
		}
		select {
		case <-r.more:
		case <-r.eof:
			if l := find(); l != "" {
				return l
			}
			r.t.Fatalf("corral ended without printing %q (%d of %d such lines); output:\n%s\nstderr:\n%s", pattern, count, n, r.output(), r.stderr())
		case <-deadline:
			r.t.Fatalf("no line matching %q (%d of %d); output:\n%s", pattern, count, n, r.output())
		}
	}
}

func (r *session) stderr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.errb.String()
}

// wait waits for corral to exit and returns its exit status.
func (r *session) wait(limit time.Duration) int {
	r.t.Helper()
	done := make(chan error, 1)
	go func() { <-r.eof; done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		r.t.Fatal(err)
	case <-time.After(limit):
		r.t.Fatalf("corral still running after %v; output:\n%s", limit, r.output())
	}
	return -1
}

func (r *session) signal(sig syscall.Signal) {
	r.t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatal(err)
	}
}

// corral runs corral to completion and returns its status, stdout and stderr.
func corral(t *testing.T, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	r := start(t, dir, env, args...)
	code := r.wait(30 * time.Second)
	return code, r.output(), r.stderr()
}

// freeBase finds a base port with base+off free for every off, outside the
// kernel's ephemeral range (where client sockets of parallel tests come
// and go).
func freeBase(t *testing.T, offs ...int) int {
	t.Helper()
	for try := 0; try < 200; try++ {
		base := 20000 + rand.IntN(10000)
		ok := true
		for _, off := range offs {
			ln, err := net.Listen("tcp", ":"+strconv.Itoa(base+off))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// freePort finds a free port for corral's public port, outside the
// ephemeral range.
func freePort(t *testing.T) int {
	t.Helper()
	return freeBase(t, 0)
}

func pidsIn(t *testing.T, dir string) []int {
	t.Helper()
	var pids []int
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, field := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(field)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			pids = append(pids, pid)
		}
	}
	return pids
}

func waitDead(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if !proctest.Gone(pid, 3*time.Second) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("process %d outlived corral", pid)
		}
	}
}

func TestFormationAndPorts(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"# ports and names\n" +
		"worker: echo \"I am $PS on $PORT\"; exec sleep 60\n" +
		"web: echo \"I am $PS on $PORT\"; exec sleep 60\n" +
		"clock: echo \"I am $PS on $PORT\"; exec sleep 60\n"})
	base := freeBase(t, 0, 1, 100, 101)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(base)}, "start", "--no-edge", "-m", "web=2,worker=2,clock=0")
	want := map[string]int{"web.1": base, "web.2": base + 1, "worker.1": base + 100, "worker.2": base + 101}
	for name, port := range want {
		line := r.waitFor(`^` + regexp.QuoteMeta(name) + ` +\| I am `)
		if wantLine := fmt.Sprintf("| I am %s on %d", name, port); !strings.HasSuffix(line, wantLine) {
			t.Errorf("got %q, want suffix %q", line, wantLine)
		}
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if strings.Contains(r.output(), "clock.") {
		t.Errorf("clock=0 ran anyway:\n%s", r.output())
	}
	// Prefixes are padded to one width so the bars line up.
	for _, l := range r.lines() {
		if i := strings.Index(l, " | "); i != len("worker.1") {
			t.Errorf("misaligned prefix in %q", l)
		}
	}
}

func TestNamedTypesAndEnvFlags(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: echo web ran\nworker: echo worker on $PORT\n"})
	code, out, _ := corral(t, dir, []string{"CORRAL_PORT=7100", "PORT=9999"}, "start", "worker")
	if code != 0 || !strings.Contains(out, "worker.1 | worker on 7200") || strings.Contains(out, "web ran") {
		t.Errorf("status %d, output:\n%s", code, out)
	}
	// Flags after the types are read too.
	code, out, errOut := corral(t, t.TempDir(), nil, "start", "worker", "-d", dir, "-p", "7300")
	if code != 0 || !strings.Contains(out, "worker.1 | worker on 7400") || strings.Contains(out, "web ran") {
		t.Errorf("flags after the types: status %d, output:\n%s\n%s", code, out, errOut)
	}
}

func TestEnvPrecedence(t *testing.T) {
	files := map[string]string{
		"Procfile": "web: echo \"A=$A B=$B C=$C D=$D\"\n",
		".env":     "A=dotenv\nD=dotenv\n",
		"one.env":  "A=one\nB=one\nC=one\n",
		"two.env":  "B=two\nC=two\n",
	}
	dir := app(t, files)
	// Default: .env, with corral's own environment winning.
	_, out, _ := corral(t, dir, []string{"D=own"}, "start", "--no-edge")
	if !strings.Contains(out, "web.1  | A=dotenv B= C= D=own") {
		t.Errorf(".env: output:\n%s", out)
	}
	// -e files replace .env; a later file wins; the own environment wins over all.
	_, out, _ = corral(t, dir, []string{"C=own"}, "start", "--no-edge", "-e", "one.env", "-e", "two.env")
	if !strings.Contains(out, "web.1  | A=one B=two C=own D=") {
		t.Errorf("-e files: output:\n%s", out)
	}
}

func TestReleasePhase(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		dir := app(t, map[string]string{"Procfile": "" +
			"web: test -f migrated && echo saw migration\n" +
			"release: sleep 0.2; touch migrated; echo migrated\n"})
		code, out, _ := corral(t, dir, nil, "start", "--no-edge")
		if code != 0 {
			t.Fatalf("status %d:\n%s", code, out)
		}
		iRel := strings.Index(out, "release.1 | migrated")
		iWeb := strings.Index(out, "web.1     | saw migration")
		if iRel < 0 || iWeb < 0 || iRel > iWeb {
			t.Errorf("release did not run to completion before web:\n%s", out)
		}
	})
	t.Run("failure", func(t *testing.T) {
		dir := app(t, map[string]string{"Procfile": "" +
			"web: touch web-started\n" +
			"release: echo migration failed >&2; exit 3\n"})
		code, out, _ := corral(t, dir, nil, "start")
		if code != 3 {
			t.Errorf("status %d, want the release's 3", code)
		}
		if _, err := os.Stat(filepath.Join(dir, "web-started")); err == nil || strings.Contains(out, "web.1 started") {
			t.Errorf("web started after a failed release:\n%s", out)
		}
		if !strings.Contains(out, "release.1 | migration failed") || !strings.Contains(out, "release phase failed") {
			t.Errorf("output:\n%s", out)
		}
	})
}

func TestFirstExitStopsAll(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: echo $$ > web.pid; exec sleep 60\n" +
		"worker: sleep 0.5; exit 5\n"})
	code, out, _ := corral(t, dir, nil, "start")
	if code != 5 {
		t.Errorf("status %d, want the worker's 5:\n%s", code, out)
	}
	for _, want := range []string{"worker.1 exited with code 5", "sending SIGTERM to web.1", "web.1 killed by SIGTERM"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	waitDead(t, pidsIn(t, dir))
}

func TestCommandNotFound(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: no-such-program-here --flag\n"})
	code, out, _ := corral(t, dir, nil, "start")
	if code != 127 || !strings.Contains(out, "web.1 exited with code 127 (command not found)") {
		t.Errorf("status %d, output:\n%s", code, out)
	}
}

// TestSIGTERMIgnored: a child that ignores SIGTERM is killed after --timeout,
// and nothing it started survives: not a daemon forked into the background,
// not even one that left the process group with setsid.
func TestSIGTERMIgnored(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		// A shell that ignores TERM, with a child and a double-forked daemon.
		"web: trap '' TERM; sleep 1000 & echo $! > child.pid; (sleep 1000 & echo $! > daemon.pid) ; echo $$ > web.pid; echo ready; while :; do sleep 0.1; done\n" +
		"worker: echo $$ > worker.pid; exec sleep 1000\n" +
		// A daemon that leaves the process group altogether.
		"clock: setsid sh -c 'echo $$ > escaped.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 & exec sleep 1000\n"})
	r := start(t, dir, nil, "start", "-t", "1")
	r.waitFor(`web.1 +\| ready`)
	r.waitFor(`worker.1 started`)
	r.waitFor(`clock.1 started`)
	time.Sleep(200 * time.Millisecond) // let the pid files be written
	pids := pidsIn(t, dir)
	if len(pids) != 5 {
		t.Fatalf("pids %v, want 5", pids)
	}
	began := time.Now()
	r.signal(syscall.SIGTERM)
	code := r.wait(10 * time.Second)
	took := time.Since(began)
	if code != 0 {
		t.Errorf("status %d, want 0", code)
	}
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Errorf("stopped in %v; want about the 1s timeout", took)
	}
	for _, want := range []string{"sending SIGKILL to web.1", "left running outside its process group by the app: sleep 1000"} {
		if !strings.Contains(r.output(), want) {
			t.Errorf("output lacks %q:\n%s", want, r.output())
		}
	}
	waitDead(t, pids)
}

// TestKillSaysSinceSIGTERM: the SIGKILL's reason says how long the
// process had run since its SIGTERM, which the edge's drain of the
// requests in flight puts off: not the whole shutdown budget.
func TestKillSaysSinceSIGTERM(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		"worker: trap '' TERM; echo stubborn; while :; do sleep 0.1; done\n"})
	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "-t", "4", "--log-format", "json")
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`"source":"worker\.1".*stubborn`)
	slow := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/slow") // a second
		if err == nil {
			resp.Body.Close()
		}
		slow <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ps(t, dir)["web.1"].InFlight == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached web.1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
	if err := <-slow; err != nil {
		t.Errorf("the request in flight: %v", err)
	}

	var termAt, killAt time.Time
	var claim time.Duration
	var budget string
	kill := regexp.MustCompile(`^sending SIGKILL to worker\.1 \(still running (\S+) after SIGTERM( \(shutdown budget 4s\))?\)$`)
	for _, o := range parseLogLines(t, r.lines()) {
		at, _ := time.Parse(time.RFC3339Nano, o.Time)
		switch m := kill.FindStringSubmatch(o.Msg); {
		case strings.Contains(o.Msg, "sending SIGTERM to web.1, worker.1"):
			termAt = at
		case m != nil:
			killAt, budget = at, m[2]
			claim, _ = time.ParseDuration(m[1])
		}
	}
	if termAt.IsZero() || killAt.IsZero() || claim == 0 {
		t.Fatalf("no SIGTERM line, or no SIGKILL line saying how long after it:\n%s", r.output())
	}
	// The drain took about the slow request's second of the 4 s.
	took := killAt.Sub(termAt)
	t.Logf("SIGKILL %v after the SIGTERM line, saying %v", took, claim)
	if claim > took+100*time.Millisecond || claim < took-time.Second {
		t.Errorf("the SIGKILL says %v after SIGTERM, but came %v after it:\n%s", claim, took, r.output())
	}
	if budget == "" {
		t.Errorf("the SIGKILL's reason does not say the shutdown budget:\n%s", r.output())
	}
}

func TestSecondSIGINTKillsAtOnce(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: trap '' TERM INT; echo ready; while :; do sleep 0.1; done\n"})
	r := start(t, dir, nil, "start", "-t", "60")
	r.waitFor(`web.1 +\| ready`)
	r.signal(syscall.SIGINT)
	r.waitFor(`sending SIGTERM to web.1`)
	time.Sleep(100 * time.Millisecond) // a second signal at once is the same stop (TestDuplicateStopSignal)
	began := time.Now()
	r.signal(syscall.SIGINT)
	r.wait(5 * time.Second)
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("second SIGINT took %v to stop corral", took)
	}
	if !strings.Contains(r.output(), "killing everything now") {
		t.Errorf("output:\n%s", r.output())
	}
}

// TestDuplicateStopSignal: the same stop signal twice at once (GNU
// timeout signals its child, then its process group) is one graceful
// stop, not a kill.
func TestDuplicateStopSignal(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.1; done\n"})
	r := start(t, dir, nil, "start", "--no-edge", "-t", "20")
	r.waitFor(`web.1 +\| ready`)
	r.cmd.Process.Signal(syscall.SIGTERM)
	// A moment apart, or the kernel merges them into one.
	time.Sleep(5 * time.Millisecond)
	r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
	out := r.output()
	if strings.Contains(out, "killing everything now") || !strings.Contains(out, "got TERM") {
		t.Errorf("a doubled SIGTERM did not stop gracefully:\n%s", out)
	}
	if !strings.Contains(out, "still stopping gracefully") {
		t.Logf("the two signals were merged into one:\n%s", out)
	}
}

func TestRestart(t *testing.T) {
	// Crashes twice, then exits cleanly: two restarts, then corral is done.
	dir := app(t, map[string]string{"Procfile": "" +
		"web: n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo run $n; [ $n -ge 3 ] && exit 0; exit 1\n"})
	code, out, _ := corral(t, dir, nil, "start", "--no-edge", "--restart")
	if code != 0 {
		t.Errorf("status %d:\n%s", code, out)
	}
	for _, want := range []string{
		"web.1 exited with code 1; restarting in 500ms (restart #1)",
		"web.1 exited with code 1; restarting in 1s (restart #2)",
		"web.1  | run 3",
		"web.1 exited with code 0; finished, not restarting",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestLongAndUnterminatedLines(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=bigline exec " + helperBin + " 1048576\n"})
	code, out, _ := corral(t, dir, nil, "start", "--no-edge")
	if code != 0 {
		t.Fatalf("status %d", code)
	}
	if !strings.Contains(out, "web.1  | "+strings.Repeat("x", 1<<20)+"\n") {
		t.Errorf("the 1 MiB line did not arrive whole")
	}
	if !strings.HasSuffix(out, "\nweb.1  | no-newline-at-the-end") && !strings.Contains(out, "\nweb.1  | no-newline-at-the-end\n") {
		t.Errorf("the unterminated last line was lost:\n%s", out[len(out)-300:])
	}
}

// TestNoLinesLostOrMixed: 200,000 lines from two processes at full speed all
// arrive, whole, in order, each under its own prefix.
func TestNoLinesLostOrMixed(t *testing.T) {
	const n = 100000
	dir := app(t, map[string]string{"Procfile": fmt.Sprintf(
		"a: CORRAL_TEST_HELPER=lines exec %[1]s a %[2]d\nb: CORRAL_TEST_HELPER=lines exec %[1]s b %[2]d\n", helperBin, n)})
	// --restart: the first to finish must not stop the other mid-stream.
	code, out, _ := corral(t, dir, nil, "start", "--restart")
	if code != 0 {
		t.Fatalf("status %d", code)
	}
	next := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		prefix, text, ok := strings.Cut(line, " | ")
		if !ok {
			t.Fatalf("line without prefix: %q", line)
		}
		if strings.TrimSpace(prefix) == "corral" {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSpace(prefix), ".1")
		i := next[name]
		if want := fmt.Sprintf("%s-%06d-%s", name, i, strings.Repeat("z", i%50)); text != want {
			t.Fatalf("%s: line %q, want %q", prefix, line, want)
		}
		next[name]++
	}
	if next["a"] != n || next["b"] != n {
		t.Errorf("got %d and %d lines, want %d each", next["a"], next["b"], n)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		env   []string
		code  int
		want  []string
	}{
		{"no Procfile, no app to detect", map[string]string{"notes.txt": "hi"}, nil, nil, 1, []string{"no Procfile, and no app corral knows how to run", "manage.py (Django)", "Write a Procfile"}},
		{"missing --procfile", map[string]string{"Procfile": "web: x\n"}, []string{"-f", "Procfile.dev"}, nil, 1, []string{"Procfile.dev: no such file"}},
		{"malformed package.json, no Procfile", map[string]string{"package.json": "{\n  \"scripts\": {\n    \"start\": \"node s.js\",\n  }\n}\n"}, nil, nil, 1, []string{"package.json:4:3: invalid JSON"}},
		{"empty Procfile", map[string]string{"Procfile": ""}, nil, nil, 1, []string{"Procfile: no process types defined"}},
		{"binary Procfile", map[string]string{"Procfile": "\x7fELF\x02\x01\x00\x00"}, nil, nil, 1, []string{"Procfile:1: binary data"}},
		{"malformed lines", map[string]string{"Procfile": "web: ok\nworker python w.py\nweb: again\nclock:\n"}, nil, nil, 1, []string{
			`Procfile:2: expected "name: command"`, `Procfile:3: duplicate process type "web"`, `Procfile:4: process type "clock" has an empty command`}},
		{"unknown type in formation", map[string]string{"Procfile": "web: x\n"}, []string{"-m", "web=1,wrker=2"}, nil, 1, []string{`unknown process type "wrker"`}},
		{"unknown named type", map[string]string{"Procfile": "web: x\n"}, []string{"wokrer"}, nil, 1, []string{`process type "wokrer" is not in`}},
		{"bad env file", map[string]string{"Procfile": "web: x\n", ".env": "OK=1\nNOT VALID\n"}, nil, nil, 1, []string{".env:2: "}},
		{"missing -e file", map[string]string{"Procfile": "web: x\n"}, []string{"-e", "prod.env"}, nil, 1, []string{"prod.env: cannot read env file: no such file"}},
		{"unreadable .env", map[string]string{"Procfile": "web: x\n", ".env/x": ""}, nil, nil, 1, []string{".env: cannot read env file: is a directory"}},
		{"unbalanced quote", map[string]string{"Procfile": "web: echo 'oops\n"}, nil, nil, 1, []string{`Procfile:1: process type "web": /bin/bash cannot parse the command`}},
		{"bad PORT", map[string]string{"Procfile": "web: x\n"}, nil, []string{"PORT=http"}, 2, []string{`port "http" is not a number (from $PORT)`}},
		{"port out of range", map[string]string{"Procfile": "web: x\n"}, []string{"-p", "70000"}, nil, 1, []string{"port 70000 is not a TCP port"}},
		{"bad timeout", map[string]string{"Procfile": "web: x\n"}, []string{"-t", "soon"}, nil, 2, []string{`timeout "soon": want seconds`}},
		{"no such dir", map[string]string{}, []string{"-d", "nowhere"}, nil, 1, []string{`--dir "nowhere": app directory not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := app(t, tt.files)
			code, out, stderr := corral(t, dir, tt.env, append([]string{"start"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("status %d, want %d", code, tt.code)
			}
			if out != "" {
				t.Errorf("something started:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestCRLFAndBOMProcfile(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "\xef\xbb\xbfweb:\techo \"hello $PS\"\r\n\r\n# done\r\nworker: echo w"})
	code, out, _ := corral(t, dir, nil, "start", "--no-edge", "-m", "worker=0")
	if code != 0 || !strings.Contains(out, "web.1  | hello web.1\n") {
		t.Errorf("status %d, output:\n%q", code, out)
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := app(t, map[string]string{"Procfile": "web: touch started\n"})
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, fmt.Sprintf("cannot listen on port %d (address already in use)", port)},
		{[]string{"--no-edge"}, fmt.Sprintf("port %d for web.1 is not free (address already in use)", port)},
	} {
		code, out, stderr := corral(t, dir, nil, append([]string{"start", "-p", strconv.Itoa(port)}, tt.args...)...)
		if code != 1 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: status %d, stderr:\n%s", tt.args, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil || out != "" {
			t.Errorf("%v: web started on a busy port: %q", tt.args, out)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := app(t, map[string]string{
		"Procfile": "release: ./migrate\nweb: gunicorn app:wsgi --bind 0.0.0.0:$PORT\nworker: celery worker\n",
		".env":     "A=1\n",
	})
	code, out, stderr := corral(t, dir, nil, "check", "-p", "8000", "-m", "web=3")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	for _, want := range []string{
		"edge:     port 8000 → 3 web instance(s) on loopback (HOST=127.0.0.1)",
		"web      3      internal  gunicorn app:wsgi --bind 0.0.0.0:$PORT",
		"worker   1      8100      celery worker",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	code, out, stderr = corral(t, dir, nil, "check", "--no-edge", "-p", "8000", "-m", "web=3")
	if code != 0 {
		t.Fatalf("status %d: %s", code, stderr)
	}
	for _, want := range []string{
		"procfile: " + filepath.Join(dir, "Procfile") + " (3 process types)",
		"env:      " + filepath.Join(dir, ".env"),
		"release  once   8000            ./migrate",
		"web      3      8000,8001,8002  gunicorn app:wsgi --bind 0.0.0.0:$PORT",
		"worker   1      8100            celery worker",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}

	// Every problem at once, each with its file and line.
	bad := app(t, map[string]string{
		"Procfile": "web: echo \"unbalanced\nworker python w.py\nclock: sh -c 'if true; then echo'\n",
		".env":     "A=1\n\n=oops\n",
	})
	code, out, stderr = corral(t, bad, nil, "check")
	if code != 1 {
		t.Errorf("status %d, want 1", code)
	}
	for _, want := range []string{
		`.env:3: "" is not a valid variable name`,
		`Procfile:2: expected "name: command"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check lacks %q:\n%s", want, stderr)
		}
	}
	if out != "" {
		t.Errorf("check printed a plan for a bad Procfile:\n%s", out)
	}
	// Shell syntax errors are found once the Procfile parses.
	bad = app(t, map[string]string{"Procfile": "web: echo \"unbalanced\nclock: if true; then echo\nok: echo fine\n"})
	_, _, stderr = corral(t, bad, nil, "check")
	for _, want := range []string{
		`Procfile:1: process type "web": /bin/bash cannot parse the command`,
		`Procfile:2: process type "clock": /bin/bash cannot parse the command`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check lacks %q:\n%s", want, stderr)
		}
	}
}

// TestStartSyntaxError: corral start checks the commands' shell syntax
// after binding the port, and still stops with the Procfile's errors
// before anything runs, with --admin or not.
func TestStartSyntaxError(t *testing.T) {
	bad := app(t, map[string]string{"Procfile": "web: echo \"unbalanced\nclock: touch ran\n"})
	for _, args := range [][]string{
		{"start", "-p", strconv.Itoa(freePort(t))},
		{"start", "-p", strconv.Itoa(freePort(t)), "--admin", strconv.Itoa(freePort(t))},
	} {
		code, out, stderr := corral(t, bad, nil, args...)
		if code != 1 || !strings.Contains(stderr, `Procfile:1: process type "web": /bin/bash cannot parse the command`) {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, stderr)
		}
		if strings.Contains(out, "listening") || strings.Contains(out, "started") {
			t.Errorf("%v: a start that failed said more than its error:\n%s", args, out)
		}
		if _, err := os.Stat(filepath.Join(bad, "ran")); err == nil {
			t.Errorf("%v: clock ran", args)
		}
	}
}

func TestRun(t *testing.T) {
	dir := app(t, map[string]string{".env": "GREETING=hello\nOVERRIDE=file\n", "sub/x": ""})
	bash := "\n" // what echo ${BASH_VERSION:+bash} says outside bash
	if _, err := os.Stat("/bin/bash"); err == nil {
		bash = "bash\n"
	}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
	}{
		{"shell command", []string{"run", "--", "echo $GREETING $OVERRIDE from $(basename $(pwd))"}, "", 0, "hello own from "},
		{"argv", []string{"run", "--", "sh", "-c", "echo $GREETING; exit 7"}, "", 7, "hello\n"},
		// The shell the Procfile's commands get: bash where there is
		// one, as on Heroku.
		{"shell command in bash", []string{"run", "--", "echo ${BASH_VERSION:+bash}"}, "", 0, bash},
		{"stdin passed through", []string{"run", "--", "cat"}, "piped in\n", 0, "piped in\n"},
		{"not found", []string{"run", "--", "no-such-command-xyz", "arg"}, "", 127, ""},
		{"cwd is the app dir", []string{"run", "-d", "sub", "--", "ls"}, "", 0, "x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(corralBin, tt.args...)
			cmd.Dir = dir
			cmd.Env = append(baseEnv(), "OVERRIDE=own")
			cmd.Stdin = strings.NewReader(tt.stdin)
			out, err := cmd.Output()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.HasPrefix(string(out), tt.out) {
				t.Errorf("status %d, output %q; want %d, %q", code, out, tt.code, tt.out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(corralBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "corral ") {
		t.Errorf("version: %q, %v", out, err)
	}
}

func TestSignalDuringRelease(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"release: echo $$ > release.pid; echo migrating; exec sleep 60\n" +
		"web: touch web-started\n"})
	r := start(t, dir, nil, "start")
	r.waitFor(`release.1 \| migrating`)
	pids := pidsIn(t, dir)
	r.signal(syscall.SIGTERM)
	code := r.wait(10 * time.Second)
	if code != 0 {
		t.Errorf("status %d", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "web-started")); err == nil {
		t.Errorf("web started after the release was interrupted:\n%s", r.output())
	}
	waitDead(t, pids)
}

func TestSIGHUPStops(t *testing.T) {
	// Without an edge there is nothing to reload into: SIGHUP (the
	// terminal went away) stops, as SIGTERM does.
	dir := app(t, map[string]string{"Procfile": "web: echo $$ > web.pid; echo up; exec sleep 60\n"})
	r := start(t, dir, nil, "start", "--no-edge")
	r.waitFor(`web.1 +\| up`)
	pids := pidsIn(t, dir)
	r.signal(syscall.SIGHUP)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("status %d", code)
	}
	waitDead(t, pids)
}

// TestStdoutClosed: when the reader of corral's output goes away
// ("corral start | head"), corral stops the app cleanly instead of dying
// and leaving it running.
func TestStdoutClosed(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: echo $$ > web.pid; while :; do echo spam; done\n"})
	cmd := exec.Command(corralBin, "start")
	cmd.Dir = dir
	cmd.Env = baseEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for range 10 {
		sc.Scan()
	}
	stdout.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Errorf("exit: %v, want status 1", err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("corral kept running with nobody reading its output")
	}
	waitDead(t, pidsIn(t, dir))
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"start", "--bogus"}, "corral: flag provided but not defined: -bogus (see corral start --help)"},
		{[]string{"start", "-m"}, "corral: flag needs an argument: -m"},
		{[]string{"strat"}, `corral: unknown command "strat"`},
		{[]string{"run"}, "no command given: corral run -- COMMAND"},
	}
	for _, tt := range tests {
		cmd := exec.Command(corralBin, tt.args...)
		cmd.Dir = t.TempDir()
		cmd.Env = baseEnv()
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 {
			t.Errorf("%v: err %v, want a non-zero exit", tt.args, err)
		}
		if !strings.Contains(stderr.String(), tt.want) || len(out) != 0 {
			t.Errorf("%v: stdout %q, stderr %q; want %q on stderr only", tt.args, out, stderr.String(), tt.want)
		}
	}
}

// TestEdgeFlags: the edge's flags reach it.
func TestEdgeFlags(t *testing.T) {
	dir := app(t, map[string]string{
		"Procfile":         "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
		"public/hello.txt": "static hello\n",
	})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--static", "/assets=public", "--no-access-log", "--max-body", "1KiB")
	r.waitFor(`web\.1 is ready`)

	resp, body := get(t, base+"/assets/hello.txt", nil)
	if resp.StatusCode != 200 || string(body) != "static hello\n" {
		t.Errorf("--static: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, base+"/anything", nil)
	if resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
		t.Errorf("proxied: %d %q", resp.StatusCode, body)
	}
	// Compression: gzip for a client that asks, with Vary either way.
	resp, body = get(t, base+"/big", http.Header{"Accept-Encoding": {"gzip"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" || len(body) > 2000 {
		t.Errorf("/big with Accept-Encoding gzip: %v, %d bytes", resp.Header, len(body))
	} else if zr, err := gzip.NewReader(bytes.NewReader(body)); err != nil {
		t.Error(err)
	} else if plain, _ := io.ReadAll(zr); len(plain) != 26000 {
		t.Errorf("gunzipped %d bytes, want 26000", len(plain))
	}
	resp, body = get(t, base+"/big", http.Header{"Accept-Encoding": {"identity"}})
	if resp.Header.Get("Content-Encoding") != "" || len(body) != 26000 || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("/big without gzip: %v, %d bytes", resp.Header, len(body))
	}
	resp, err := http.Post(base+"/", "text/plain", strings.NewReader(strings.Repeat("x", 2000)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("--max-body 1KiB: a 2000-byte body got %d", resp.StatusCode)
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
	if strings.Contains(r.output(), "edge   | ") {
		t.Errorf("--no-access-log, yet:\n%s", r.output())
	}
}

// TestBootGate: the edge answers from the first moment; while no instance
// is ready a request waits, then gets a 503 with Retry-After.
func TestBootGate(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: echo never listening; exec sleep 60\n"})
	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--boot-wait", "300ms")
	r.waitFor(`edge: listening on port`)
	began := time.Now()
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", http.Header{"Accept": {"application/json"}})
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(string(body), "{") {
		t.Errorf("status %d, Retry-After %q, body %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if waited := time.Since(began); waited < 250*time.Millisecond {
		t.Errorf("answered after %v, before --boot-wait", waited)
	}
	resp, _ = get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/_corral/health", nil)
	if resp.StatusCode != 503 {
		t.Errorf("health while booting: %d", resp.StatusCode)
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
}

// TestReadyOnlyWhenAnswering: an instance whose port accepts connections
// but which does not answer yet (gunicorn's master, its workers still
// importing the app) gets no request until it answers one: the instance
// that answers serves them all meanwhile.
func TestReadyOnlyWhenAnswering(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=lateanswer exec " + helperBin + "\n"})
	gate := filepath.Join(t.TempDir(), "answer")
	port := freePort(t)
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	r := start(t, dir, []string{"LATE_PS=web.2", "LATE_FILE=" + gate}, "start", "-p", strconv.Itoa(port), "-m", "web=2")
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`web\.2 +\| listening`)
	for i := range 10 {
		resp, body := get(t, url, nil)
		if resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
			t.Errorf("request %d, with web.2 listening but not answering: %d %q", i, resp.StatusCode, body)
		}
	}
	if strings.Contains(r.output(), "web.2 is ready") {
		t.Errorf("web.2 was taken for ready before it answered a request:\n%s", r.output())
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r.waitFor(`web\.2 is ready`)
	seen := map[string]bool{}
	for range 10 {
		_, body := get(t, url, nil)
		seen[string(body)] = true
	}
	if !seen["hello from web.2\n"] {
		t.Errorf("once ready, web.2 got none of 10 requests: %v", seen)
	}
	for _, l := range r.lines() {
		if strings.Contains(l, "answering now") {
			break
		}
		if strings.Contains(l, "web.2 is ready") {
			t.Errorf("web.2 ready before it answered:\n%s", r.output())
		}
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
}

// TestReloadUnderLoad: SIGHUP replaces every web instance, one at a time,
// while clients keep sending requests; none of them fails.
func TestReloadUnderLoad(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		"worker: echo worker up; exec sleep 60\n"})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "-m", "web=2", "--no-access-log")
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`web\.2 is ready`)
	pids := regexp.MustCompile(`(web\.\d) started \(pid (\d+)`).FindAllStringSubmatch(r.output(), -1)

	stop := make(chan struct{})
	counts, wait := load(base, "/", 8, stop)
	time.Sleep(300 * time.Millisecond)
	r.signal(syscall.SIGHUP)
	r.waitFor(`reload: every web instance replaced`)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wait()
	if counts[200] == 0 || len(counts) != 1 {
		t.Errorf("answers by status during the reload: %v; want only 200s\n%s", counts, r.output())
	}
	for _, m := range pids {
		pid, _ := strconv.Atoi(m[2])
		if !proctest.Gone(pid, 3*time.Second) {
			t.Errorf("the old %s (pid %d) still runs after the reload", m[1], pid)
		}
	}
	if n := strings.Count(r.output(), "worker.1 | worker up"); n != 2 {
		t.Errorf("worker started %d times, want 2 (restarted by the reload)", n)
	}
	resp, body := get(t, base+"/", nil)
	if resp.StatusCode != 200 {
		t.Errorf("after the reload: %d %q", resp.StatusCode, body)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(10 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
}

// TestMaxRequests: an instance that has served --max-requests requests is
// replaced without a failed request.
func TestMaxRequests(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "-m", "web=2", "--no-access-log", "--max-requests", "200", "--max-requests-jitter", "50")
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`web\.2 is ready`)
	stop := make(chan struct{})
	counts, wait := load(base, "/", 4, stop)
	r.waitFor(`recycle: web\.\d has served \d+ requests \(--max-requests 200\): replacing it`)
	r.waitFor(`recycle: done`)
	close(stop)
	wait()
	if counts[200] < 200 || len(counts) != 1 {
		t.Errorf("answers by status: %v; want only 200s", counts)
	}
	if rows := ps(t, dir); rows["web.1"].Restarts+rows["web.2"].Restarts == 0 {
		t.Errorf("corral ps after a recycle counts no restart: %+v", rows)
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
}

// TestWebIgnoresPORT: a web command that binds a fixed port instead of
// $PORT is found, and the edge routes to it with a warning naming it.
func TestWebIgnoresPORT(t *testing.T) {
	fixed := freePort(t)
	dir := app(t, map[string]string{"Procfile": fmt.Sprintf("web: PORT=%d CORRAL_TEST_HELPER=http exec %s\n", fixed, helperBin)})
	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port))
	r.waitFor(fmt.Sprintf(`web\.1 ignores \$PORT \(\d+\) and listens on port %d`, fixed))
	r.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
		t.Errorf("through the edge: %d %q", resp.StatusCode, body)
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
}

// TestWebListensElsewhereOnPORT: a web command that binds $PORT at an
// address the edge's 127.0.0.1 does not reach (an app's HOST) is found
// there, and served, with a warning.
func TestWebListensElsewhereOnPORT(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: HOST=127.0.0.2 CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port))
	r.waitFor(`web\.1 listens on 127\.0\.0\.2:\d+, not on 127\.0\.0\.1 where the edge looks for it \(HOST=127\.0\.0\.2 in the app's environment\?\): the edge routes there`)
	r.waitFor(`web\.1 is ready`)
	resp, body := get(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	if resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
		t.Errorf("through the edge: %d %q", resp.StatusCode, body)
	}
	r.stop()
}

// TestWebListensBeyondLoopback: a web instance whose command binds every
// address, ignoring the HOST=127.0.0.1 corral gives it, is warned about
// once, off a platform; on one (which routes only $PORT) it is not.
func TestWebListensBeyondLoopback(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: HOST=0.0.0.0 CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(freePort(t)), "-m", "web=2")
	r.waitFor(`web\.2 is ready`)
	r.waitFor(`web\.[12] listens on (0\.0\.0\.0|\[::\]):\d+, beyond loopback: other machines can reach the app there, past the edge`)
	time.Sleep(1500 * time.Millisecond) // another look at web.2 would come within a second
	if n := len(regexp.MustCompile(`beyond loopback`).FindAllString(r.output(), -1)); n != 1 {
		t.Errorf("%d warnings, want 1 per run\n%s", n, r.output())
	}
	r.stop()

	render := []string{"RENDER=true", "RENDER_SERVICE_NAME=app"}
	r = start(t, dir, render, "start", "-p", strconv.Itoa(freePort(t)))
	r.waitFor(`web\.1 is ready`)
	time.Sleep(1500 * time.Millisecond)
	if strings.Contains(r.output(), "beyond loopback") {
		t.Errorf("warned on a platform:\n%s", r.output())
	}
	r.stop()
}

// TestSmugglingAndTraversal: requests whose framing could be read two ways
// get 400 from the edge and never reach the app; paths that try to leave
// the static directory get 404.
func TestSmugglingAndTraversal(t *testing.T) {
	dir := app(t, map[string]string{
		"Procfile":         "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n",
		"public/hello.txt": "static hello\n",
		"secret.txt":       "secret\n",
	})
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--static", "/assets/=public")
	r.waitFor(`web\.1 is ready`)
	raw := func(req string) string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		status, _ := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(status)
	}
	for _, tt := range []struct{ name, req, want string }{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"duplicate CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", "HTTP/1.1 400 Bad Request"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", "HTTP/1.1 400 Bad Request"},
		{"plain", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK"},
		{"traversal", "GET /assets/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"},
		{"encoded traversal", "GET /assets/%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"},
		{"dotfile", "GET /assets/.env HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 404 Not Found"},
	} {
		if got := raw(tt.req); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
	if n := strings.Count(r.output(), "GET / 200"); n != 1 {
		t.Errorf("the app saw %d requests to /, want only the plain one:\n%s", n, r.output())
	}
}
