// Command bootclock times how soon a server started by a command accepts TCP
// connections on its port, and how soon it answers a real HTTP request, for
// bench/boot.sh. Standard library only; Linux (it reads /proc).
//
//	bootclock -port P [-dir DIR] [-path /] [-interval 500us] [-timeout 60s] [-grace 5s] [-tls-name NAME -tls-ca FILE] -- COMMAND [ARG...]
//
// It checks that nothing accepts connections on 127.0.0.1:P, then starts a
// poller that tries to connect to 127.0.0.1:P every -interval, takes the
// time t0, and starts COMMAND (not through a shell) in DIR with PORT=P in its
// environment, as the leader of its own process group. It prints, on one line
// to stdout, as key=value pairs:
//
//	bind_us         t0 to the first successful connect
//	first_us        t0 to the headers of the first response to GET PATH below
//	                500 (one request is sent as soon as the port accepts; a
//	                5xx answer or a failed request is retried after 1 ms;
//	                with -tls-name, over HTTPS with that SNI, verified
//	                against -tls-ca: a failed handshake is retried too)
//	tls_us          with -tls-name: t0 to the first successful TLS handshake
//	                (the server had its certificate)
//	status          that response's status code
//	tries           HTTP requests sent, up to and including that one
//	rss_bind_kb     VmRSS of COMMAND's own process right after bind
//	rss_up_kb       the same right after the first response
//	polls           connect attempts before and including the first success
//	poll_us         bind_us / polls: the mean time between attempts
//	stop_ms         how long the whole process tree took to go away
//	leftover        processes of the tree still alive once the leader had
//	                exited and the grace had passed (they were SIGKILLed)
//
// Then (and also on failure, SIGINT or SIGTERM) it stops the process group:
// SIGTERM, SIGKILL after -grace if the leader is still there, and SIGKILL to
// any descendant (seen from /proc before the SIGTERM, in any process group)
// that outlives the leader by -grace. It exits 0 on success, 1 if the
// command exited before answering or the -timeout passed, 2 on bad usage.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	// Pdeathsig is tied to the thread that started the child: keep it the main thread.
	runtime.LockOSThread()

	port := flag.Int("port", 0, "the port to poll on 127.0.0.1 (also $PORT of the command)")
	dir := flag.String("dir", "", "the command's working directory (default: the current one)")
	path := flag.String("path", "/", "the path of the first request")
	noHTTP := flag.Bool("no-http", false, "only time the bind; send no request")
	tlsName := flag.String("tls-name", "", "send the request over HTTPS with this server name (SNI), verified against -tls-ca")
	tlsCA := flag.String("tls-ca", "", "PEM roots that verify the server's certificate, with -tls-name")
	interval := flag.Duration("interval", 500*time.Microsecond, "time between connect attempts")
	timeout := flag.Duration("timeout", 60*time.Second, "give up when no response came within this long")
	grace := flag.Duration("grace", 5*time.Second, "time between SIGTERM and SIGKILL when stopping")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: bootclock -port P [flags] -- COMMAND [ARG...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *port <= 0 || *port > 65535 || flag.NArg() == 0 || *interval <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	var tlsConfig *tls.Config
	if *tlsName != "" {
		pem, err := os.ReadFile(*tlsCA)
		roots := x509.NewCertPool()
		if err != nil || !roots.AppendCertsFromPEM(pem) {
			fatalf("-tls-ca %q: no PEM certificate (%v)", *tlsCA, err)
		}
		tlsConfig = &tls.Config{ServerName: *tlsName, RootCAs: roots}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		fatalf("%s already accepts connections before the command started", addr)
	}

	name := flag.Arg(0)
	if strings.Contains(name, "/") && !filepath.IsAbs(name) {
		name, _ = filepath.Abs(name) // relative to our directory, not to -dir
	}
	cmd := exec.Command(name, flag.Args()[1:]...)
	cmd.Dir = *dir
	cmd.Env = append(withoutPort(os.Environ()), "PORT="+strconv.Itoa(*port))
	cmd.Stdin = nil
	cmd.Stdout = os.Stderr // the command's output goes to our stderr (boot.sh keeps it in a log)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)

	// The poller runs from just before the exec. It uses raw syscalls and
	// nanosleep on a fixed schedule: Go's timers round sub-millisecond sleeps
	// up to about 1 ms, and net.Dial costs a few goroutines per attempt.
	bound := make(chan time.Time, 1)
	var polls int
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		sa := &syscall.SockaddrInet4{Port: *port, Addr: [4]byte{127, 0, 0, 1}}
		next := time.Now()
		for ctx.Err() == nil {
			polls++
			if connects(sa) {
				bound <- time.Now()
				return
			}
			next = next.Add(*interval)
			if d := time.Until(next); d > 0 {
				ts := syscall.NsecToTimespec(int64(d))
				syscall.Nanosleep(&ts, nil) // EINTR (Go's preemption signals) only shortens one wait
			} else {
				next = time.Now()
			}
		}
	}()

	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fatalf("start %s: %v", flag.Arg(0), err)
	}
	leader := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var exitErr error
	exitedEarly := false

	res := map[string]string{}
	fail := ""
	deadline := time.NewTimer(*timeout)
	select {
	case t := <-bound:
		res["bind_us"] = us(t.Sub(t0))
		res["rss_bind_kb"] = rssKB(leader)
		res["polls"] = strconv.Itoa(polls)
		res["poll_us"] = strconv.FormatInt(t.Sub(t0).Microseconds()/int64(polls), 10)
	case exitErr = <-exited:
		exitedEarly = true
		fail = fmt.Sprintf("the command exited before %s accepted connections (%v)", addr, exitStr(exitErr))
	case <-deadline.C:
		fail = fmt.Sprintf("%s did not accept connections within %v", addr, *timeout)
	case s := <-sigs:
		fail = "interrupted by " + s.String()
	}
	cancel()

	if fail == "" && !*noHTTP {
		type answer struct {
			at     time.Time
			status int
			tries  int
		}
		got := make(chan answer, 1)
		tlsAt := make(chan time.Time, 1) // with -tls-name: when the first handshake succeeded
		hctx, hcancel := context.WithCancel(context.Background())
		go func() {
			tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
			url := "http://" + addr + *path
			if tlsConfig != nil {
				tr.TLSClientConfig = tlsConfig
				url = "https://" + addr + *path
			}
			client := &http.Client{Transport: tr}
			var handshook atomic.Bool
			for tries := 1; hctx.Err() == nil; tries++ {
				ctx := hctx
				if tlsConfig != nil && !handshook.Load() {
					ctx = httptrace.WithClientTrace(hctx, &httptrace.ClientTrace{TLSHandshakeDone: func(_ tls.ConnectionState, err error) {
						if err == nil && handshook.CompareAndSwap(false, true) {
							tlsAt <- time.Now()
						}
					}})
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := client.Do(req)
				if err == nil {
					at := time.Now()
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode < 500 {
						got <- answer{at, resp.StatusCode, tries}
						return
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
		select {
		case a := <-got:
			res["first_us"] = us(a.at.Sub(t0))
			if tlsConfig != nil {
				res["tls_us"] = us((<-tlsAt).Sub(t0))
			}
			res["status"] = strconv.Itoa(a.status)
			res["tries"] = strconv.Itoa(a.tries)
			res["rss_up_kb"] = rssKB(leader)
		case exitErr = <-exited:
			exitedEarly = true
			fail = fmt.Sprintf("the command exited before answering GET %s (%v)", *path, exitStr(exitErr))
		case <-deadline.C:
			fail = fmt.Sprintf("no answer below 500 to GET %s within %v", *path, *timeout)
		case s := <-sigs:
			fail = "interrupted by " + s.String()
		}
		hcancel()
	}

	stopStart := time.Now()
	leftover := stopTree(leader, exited, exitedEarly, *grace)
	res["stop_ms"] = strconv.FormatInt(time.Since(stopStart).Milliseconds(), 10)
	res["leftover"] = strconv.Itoa(leftover)
	if fail != "" {
		fatalf("%s", fail)
	}
	var b strings.Builder
	for _, k := range []string{"bind_us", "first_us", "tls_us", "status", "tries", "rss_bind_kb", "rss_up_kb", "polls", "poll_us", "stop_ms", "leftover"} {
		if v, ok := res[k]; ok {
			fmt.Fprintf(&b, "%s=%s ", k, v)
		}
	}
	fmt.Println(strings.TrimSpace(b.String()))
}

// connects reports whether a blocking connect to sa succeeds (loopback
// answers at once: refused, or accepted into the listen backlog).
func connects(sa *syscall.SockaddrInet4) bool {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	// bound a connect that would wait (a full backlog retries the SYN)
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &syscall.Timeval{Sec: 1})
	return syscall.Connect(fd, sa) == nil
}

// stopTree stops the process group led by leader (whose cmd.Wait result
// arrives on exited, unless it already did) and every descendant, and
// returns how many descendants had to be SIGKILLed after the leader exited.
func stopTree(leader int, exited <-chan error, alreadyExited bool, grace time.Duration) int {
	kids := descendants(leader)
	if !alreadyExited {
		syscall.Kill(-leader, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			fmt.Fprintf(os.Stderr, "bootclock: pid %d still there %v after SIGTERM: SIGKILL\n", leader, grace)
			syscall.Kill(-leader, syscall.SIGKILL)
			<-exited
		}
	}
	syscall.Kill(-leader, syscall.SIGKILL) // anything left in the group; the leader has been reaped
	end := time.Now().Add(grace)
	for {
		alive := 0
		for _, k := range kids {
			if k.alive() {
				alive++
			}
		}
		if alive == 0 {
			return 0
		}
		if time.Now().After(end) {
			for _, k := range kids {
				if k.alive() {
					fmt.Fprintf(os.Stderr, "bootclock: pid %d outlived pid %d by %v: SIGKILL\n", k.pid, leader, grace)
					syscall.Kill(k.pid, syscall.SIGKILL)
				}
			}
			return alive
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// proc is a process as seen in /proc: its pid and start time (so that a
// reused pid is not mistaken for it).
type proc struct {
	pid   int
	start string
}

func (p proc) alive() bool {
	_, start, ok := stat(p.pid)
	return ok && start == p.start
}

// stat reads /proc/PID/stat: the parent pid and the start time. A zombie
// counts as gone.
func stat(pid int) (ppid int, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:]) // state ppid pgrp ... starttime is field 22 of the line, f[19]
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, "", false
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, f[19], true
}

// descendants lists every live descendant of pid.
func descendants(pid int) []proc {
	entries, _ := filepath.Glob("/proc/[0-9]*")
	children := map[int][]proc{}
	for _, e := range entries {
		p, err := strconv.Atoi(filepath.Base(e))
		if err != nil {
			continue
		}
		if ppid, start, ok := stat(p); ok {
			children[ppid] = append(children[ppid], proc{p, start})
		}
	}
	var out []proc
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c.pid)
		}
	}
	return out
}

// rssKB is VmRSS of pid in kB, from /proc/PID/status ("0" when gone).
func rssKB(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "0"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "0"
}

func withoutPort(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, "PORT=") {
			out = append(out, e)
		}
	}
	return out
}

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

func exitStr(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String()
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bootclock: "+format+"\n", a...)
	os.Exit(1)
}
