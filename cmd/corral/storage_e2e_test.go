package main

// End-to-end tests of several corrals sharing their certificates through
// --storage: real Redis and Postgres servers (internal/enginetest), Pebble
// and pebble-challtestsrv (https_e2e_test.go), and corrals on 127.0.0.2,
// 127.0.0.3 and 127.0.0.4 (--address), all on the same ports, as hosts
// behind DNS round-robin would be.

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/enginetest"
)

// storagePassword is the engines' password: no output may show it.
const storagePassword = "Storage-s3cret-0f-the-test"

// hostIPs are the hosts' addresses, all on loopback.
var hostIPs = []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}

// acmeGate is a TCP relay in front of Pebble's ACME API that holds every
// connection until it is opened: while it is closed, the host that took
// the issuance lock waits for the CA, and the test can see which host
// that is and point the domain's DNS at another one.
type acmeGate struct {
	ln     net.Listener
	target string
	opened chan struct{}
	once   sync.Once
	conns  sync.WaitGroup
}

func newACMEGate(t *testing.T, target string) *acmeGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &acmeGate{ln: ln, target: target, opened: make(chan struct{})}
	var accepting sync.WaitGroup
	accepting.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.conns.Go(func() { g.relay(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		accepting.Wait()
		g.Open()
		g.conns.Wait()
	})
	return g
}

// relay passes c to the target once the gate is open.
func (g *acmeGate) relay(c net.Conn) {
	defer c.Close()
	<-g.opened
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

// Open lets every connection, held or new, through.
func (g *acmeGate) Open() { g.once.Do(func() { close(g.opened) }) }

// dirURL is Pebble's directory through the gate (Pebble makes its URLs
// from the request's Host, so the whole conversation goes through it).
func (g *acmeGate) dirURL() string { return "https://" + g.ln.Addr().String() + "/dir" }

// needHostIPs skips t, or fails it in CI, unless corral can listen on
// every address of hostIPs.
func needHostIPs(t *testing.T) {
	t.Helper()
	for _, ip := range hostIPs {
		if ln, err := net.Listen("tcp", ip+":0"); err != nil {
			// Linux routes all of 127/8 to loopback; macOS only 127.0.0.1.
			msg := fmt.Sprintf("cannot listen on %s (loopback beyond 127.0.0.1): %v", ip, err)
			if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		} else {
			ln.Close()
		}
	}
}

// cluster is corrals sharing one storage, each on its own address with
// the same ports and its own --cert-dir.
type cluster struct {
	h       *httpsCorral
	p       *pebble
	storage string
	hosts   []*session
	outputs []func() string // every session's and command's output, for the password check
}

// newCluster starts Pebble (certificates valid for validity; 0: its
// default) for corrals that use storage; they reach Pebble through gate
// when it is not nil.
func newCluster(t *testing.T, storage string, validity time.Duration, gate bool) (*cluster, *acmeGate) {
	t.Helper()
	needHostIPs(t)
	c := &cluster{h: newHTTPSCorral(t), storage: storage}
	c.p = startPebbleWith(t, c.h.httpPort, c.h.httpsPort, validity)
	c.h.acme, c.h.caRoot = c.p.dirURL, c.p.ca.file
	var g *acmeGate
	if gate {
		g = newACMEGate(t, strings.TrimSuffix(strings.TrimPrefix(c.p.dirURL, "https://"), "/dir"))
		c.h.acme = g.dirURL()
	}
	return c, g
}

// start starts host i (on hostIPs[i]) with its own --cert-dir, or dir.
func (c *cluster) start(t *testing.T, i int, certDir string, extra ...string) *session {
	t.Helper()
	if certDir == "" {
		certDir = t.TempDir()
	}
	args := append([]string{"--address", hostIPs[i], "--storage", c.storage, "--cert-dir", certDir}, extra...)
	// Each host has its own copy of the app (and its control socket).
	h := *c.h
	h.dir = app(t, map[string]string{"Procfile": "web: " + helperBin + "\n"})
	r := h.start(t, args...)
	for len(c.hosts) <= i {
		c.hosts = append(c.hosts, nil)
	}
	c.hosts[i] = r
	c.outputs = append(c.outputs, func() string { return r.output() + r.stderr() })
	return r
}

// addr is host i's HTTPS address.
func (c *cluster) addr(i int) string {
	return net.JoinHostPort(hostIPs[i], strconv.Itoa(c.h.httpsPort))
}

// orderer waits until one of the running hosts says it requests a
// certificate (under the issuance lock) and returns its index.
func (c *cluster) orderer(t *testing.T, limit time.Duration) int {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for i, r := range c.hosts {
			if r != nil && strings.Contains(r.output(), "https: requesting a certificate for app.example.test") {
				return i
			}
		}
	}
	t.Fatalf("no host requested a certificate within %v\n%s", limit, c.describe())
	return -1
}

// serials waits until every running host answers HTTPS with a
// certificate from Pebble, and returns the serial each serves.
func (c *cluster) serials(t *testing.T, limit time.Duration) []string {
	t.Helper()
	var out []string
	for i, r := range c.hosts {
		if r == nil {
			continue
		}
		st := waitHTTPS(t, c.p, r, c.addr(i), "app.example.test", limit)
		out = append(out, serialHex(checkLeaf(t, c.p, st, "app.example.test")))
	}
	return out
}

// describe is every host's output, for failure messages.
func (c *cluster) describe() string {
	var b strings.Builder
	for i, r := range c.hosts {
		if r != nil {
			fmt.Fprintf(&b, "--- host %d (%s):\n%s\n", i, hostIPs[i], corralOutput(r))
		}
	}
	return b.String()
}

// checkOneIssuance wants the hosts to serve one certificate, the only one
// Pebble issued.
func (c *cluster) checkOneIssuance(t *testing.T, serials []string) {
	t.Helper()
	issued := c.p.issued()
	if len(issued) != 1 || slices.Compact(slices.Clone(serials))[0] != issued[0] || len(slices.Compact(slices.Clone(serials))) != 1 {
		t.Errorf("hosts serve serials %v; Pebble issued %v; want one issuance, served by all\n%s", serials, issued, c.describe())
	}
}

// checkNoPassword wants the storage's password in no output.
func (c *cluster) checkNoPassword(t *testing.T, more ...string) {
	t.Helper()
	for i, out := range c.outputs {
		if s := out(); strings.Contains(s, storagePassword) {
			t.Errorf("output %d shows the storage password:\n%s", i, s)
		}
	}
	for i, s := range more {
		if strings.Contains(s, storagePassword) {
			t.Errorf("text %d shows the storage password:\n%s", i, s)
		}
	}
}

// testSharedIssuance: three hosts share storage; the CA validates on a
// host that did not place the order (DNS points only there), which
// answers from the challenge the orderer stored; all three serve the one
// certificate Pebble issued.
func testSharedIssuance(t *testing.T, storage, challenge string) {
	c, gate := newCluster(t, storage, 0, true)
	for i := range hostIPs {
		c.start(t, i, "", "--acme-challenges", challenge)
	}
	o := c.orderer(t, 30*time.Second)
	other := (o + 1) % len(hostIPs)
	c.p.pointDNS(t, "app.example.test", hostIPs[other])
	t.Logf("host %d (%s) placed the order; the CA validates %s on host %d (%s)", o, hostIPs[o], challenge, other, hostIPs[other])
	gate.Open()
	waitLog(t, c.hosts[o], `certificate for app\.example\.test obtained`, 30*time.Second)
	serials := c.serials(t, 30*time.Second)
	c.checkOneIssuance(t, serials)
	for i, r := range c.hosts {
		if i == o {
			continue
		}
		if strings.Contains(r.output(), "requesting a certificate") {
			t.Errorf("host %d, which did not hold the lock, requested a certificate too\n%s", i, c.describe())
		}
		waitLog(t, r, `https: using the stored certificate for app\.example\.test`, 10*time.Second)
	}
	// Plain HTTP on each host's HTTP port: the redirect.
	for _, ip := range hostIPs {
		resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
			Get(fmt.Sprintf("http://%s:%d/x", ip, c.h.httpPort))
		if err != nil || resp.StatusCode != http.StatusPermanentRedirect {
			t.Errorf("GET http://%s:%d/x: %v %v, want a 308", ip, c.h.httpPort, resp, err)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	c.checkNoPassword(t)
	for _, r := range c.hosts {
		stop(t, r)
	}
}

// TestStorageRedisThreeHosts: three hosts on one Redis, HTTP-01 answered
// by a host that did not order.
func TestStorageRedisThreeHosts(t *testing.T) {
	redis := enginetest.StartRedis(t, storagePassword)
	testSharedIssuance(t, redis.URL(), "http-01")
}

// TestStoragePostgresThreeHosts: three hosts on one Postgres database,
// TLS-ALPN-01 answered by a host that did not order.
func TestStoragePostgresThreeHosts(t *testing.T) {
	pg := enginetest.StartPostgres(t, storagePassword, "corral")
	testSharedIssuance(t, pg.URL(), "tls-alpn-01")
}

// TestStorageLockHolderKilled: the host holding the issuance lock is
// killed with SIGKILL in the middle of its order; the other takes the
// lock once its lease has run out and gets the certificate, which the CA
// issues once.
func TestStorageLockHolderKilled(t *testing.T) {
	redis := enginetest.StartRedis(t, storagePassword)
	c, gate := newCluster(t, redis.URL(), 0, true)
	const lease = 2 * time.Second
	for i := range 2 {
		c.start(t, i, "", "--storage-lease", lease.String(), "--acme-challenges", "http-01")
	}
	o := c.orderer(t, 30*time.Second)
	survivor := 1 - o
	c.p.pointDNS(t, "app.example.test", hostIPs[survivor])
	c.hosts[o].signal(syscall.SIGKILL)
	killed := time.Now()
	c.hosts[o].wait(10 * time.Second)
	c.hosts[o] = nil
	gate.Open()
	line := waitLog(t, c.hosts[survivor], `https: requesting a certificate for app\.example\.test`, lease+20*time.Second)
	took := time.Since(killed)
	waitLog(t, c.hosts[survivor], `certificate for app\.example\.test obtained`, 30*time.Second)
	t.Logf("the survivor took over %v after the SIGKILL (lease %v): %s", took.Round(time.Millisecond), lease, line)
	// Within the lease, and the time to notice (a poll) and start: the
	// rest of the bound is for a loaded machine.
	if took > lease+10*time.Second {
		t.Errorf("the survivor requested the certificate %v after the holder was killed, with a %v lease", took, lease)
	}
	c.checkOneIssuance(t, c.serials(t, 30*time.Second))
	c.checkNoPassword(t)
	stop(t, c.hosts[survivor])
}

// TestStorageRenewal: with Pebble's certificates valid for a short while,
// one host renews; the other loads the renewed certificate from the
// storage without asking the CA.
func TestStorageRenewal(t *testing.T) {
	t.Parallel() // mostly waiting for the renewal window
	pg := enginetest.StartPostgres(t, storagePassword, "corral")
	const validity = 30 * time.Second
	c, _ := newCluster(t, pg.URL(), validity, false)
	c.p.pointDNS(t, "app.example.test", hostIPs[0]) // whoever orders, host 0 answers
	for i := range 2 {
		c.start(t, i, "", "--cert-check-interval", "1s")
	}
	first := c.serials(t, 30*time.Second)
	c.checkOneIssuance(t, first)
	// certmagic renews in the last third of the validity.
	var renewer = -1
	for deadline := time.Now().Add(validity + 10*time.Second); renewer < 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for i, r := range c.hosts {
			if strings.Contains(r.output(), "certificate for app.example.test renewed") {
				renewer = i
			}
		}
	}
	if renewer < 0 {
		t.Fatalf("no host renewed the certificate within %v of its validity (Pebble issued %v)\n%s", validity+10*time.Second, c.p.issued(), c.describe())
	}
	issued := c.p.issued()
	if len(issued) != 2 {
		t.Fatalf("Pebble issued %v; want the first certificate and one renewal\n%s", issued, c.describe())
	}
	// Both hosts serve the renewal, the other having loaded it.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var got []string
		for i := range c.hosts {
			st, err := c.p.handshake(c.addr(i), "app.example.test")
			if err != nil {
				t.Fatalf("host %d: %v\n%s", i, err, c.describe())
			}
			got = append(got, serialHex(st.PeerCertificates[0]))
		}
		if got[0] == issued[1] && got[1] == issued[1] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts serve %v, want the renewed %s on both (host %d renewed)\n%s", got, issued[1], renewer, c.describe())
		}
	}
	t.Logf("host %d renewed the certificate; host %d loaded the renewal from the storage", renewer, 1-renewer)
	other := c.hosts[1-renewer].output()
	if strings.Contains(other, "renewed") || strings.Count(other, "requesting a certificate") > 1 {
		t.Errorf("host %d, which did not renew, asked the CA too:\n%s", 1-renewer, other)
	}
	if n := len(c.p.issued()); n != 2 {
		t.Errorf("Pebble issued %d certificates, want 2: %v", n, c.p.issued())
	}
	c.checkNoPassword(t)
	for _, r := range c.hosts {
		stop(t, r)
	}
}

// TestStorageOutage: Redis is stopped while hosts run, and started
// again. The running host's HTTP and HTTPS never fail; a host restarted
// meanwhile serves HTTPS from its copy in --cert-dir; a host started
// meanwhile serves HTTP, says why HTTPS is pending, and serves HTTPS once
// Redis is back. The password appears nowhere: not in the logs, corral
// check, the status page or the metrics.
func TestStorageOutage(t *testing.T) {
	redis := enginetest.StartRedis(t, storagePassword)
	c, _ := newCluster(t, redis.URL(), 0, false)
	c.p.pointDNS(t, "app.example.test", hostIPs[0])
	adminPort := freePort(t)
	a := c.start(t, 0, "", "--admin", strconv.Itoa(adminPort))
	restartedDir := t.TempDir()
	c.start(t, 1, restartedDir)
	serials := c.serials(t, 30*time.Second)
	c.checkOneIssuance(t, serials)

	// Requests to host 0 through the whole outage: none may fail.
	var sent, failed atomic.Int64
	var failures sync.Map
	stopPolling := make(chan struct{})
	var polling sync.WaitGroup
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.p.roots, ServerName: "app.example.test"}}
	t.Cleanup(tr.CloseIdleConnections)
	httpsc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	polling.Go(func() {
		for {
			select {
			case <-stopPolling:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, u := range []string{fmt.Sprintf("http://%s:%d/poll", hostIPs[0], c.h.httpPort), fmt.Sprintf("https://%s:%d/poll", hostIPs[0], c.h.httpsPort)} {
				client, want := plain, http.StatusPermanentRedirect
				if strings.HasPrefix(u, "https") {
					client, want = httpsc, http.StatusOK
				}
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Host = "app.example.test"
				sent.Add(1)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != want {
						err = fmt.Errorf("status %d, want %d", resp.StatusCode, want)
					}
				}
				if err != nil {
					failed.Add(1)
					failures.Store(u+": "+err.Error(), true)
				}
			}
		}
	})

	redis.Stop()
	t.Log("Redis stopped")
	// Host 1, restarted with its --cert-dir: HTTPS at once, from its copy.
	stop(t, c.hosts[1])
	c.start(t, 1, restartedDir)
	st := waitHTTPS(t, c.p, c.hosts[1], c.addr(1), "app.example.test", 10*time.Second)
	if got := serialHex(st.PeerCertificates[0]); got != serials[0] {
		t.Errorf("host 1, restarted while Redis was down, serves %s, want its copy of %s", got, serials[0])
	}
	// Host 2, new: HTTP, and HTTPS pending.
	b := c.start(t, 2, "")
	pending := waitLog(t, b, `https: certificate for app\.example\.test pending: .*retrying in`, 20*time.Second)
	t.Logf("host 2 with Redis down: %s", pending)
	if !strings.Contains(pending, "redis://:xxxxx@"+redis.Addr()) {
		t.Errorf("the pending line does not name the storage (password hidden): %s", pending)
	}
	// It tries again, with backoff.
	waitLog(t, b, `https: certificate for app\.example\.test pending: .*retrying in 2s`, 20*time.Second)
	if _, err := c.p.handshake(c.addr(2), "app.example.test"); err == nil {
		t.Errorf("host 2 serves HTTPS with Redis down and no certificate of its own")
	}
	resp, err := plain.Get(fmt.Sprintf("http://%s:%d/x", hostIPs[2], c.h.httpPort))
	if err != nil || resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("host 2's HTTP port with Redis down: %v %v, want a 308", resp, err)
	} else {
		resp.Body.Close()
	}
	_, checkDown, checkDownErr := corral(t, c.h.dir, nil, "check", "--domain", "app.example.test", "--storage", redis.URL(), "--cert-dir", t.TempDir())
	if !strings.Contains(checkDown, "storage:  redis://:xxxxx@"+redis.Addr()+"/0 does NOT answer") {
		t.Errorf("corral check with Redis down:\n%s%s\nwant a storage line saying it does not answer", checkDown, checkDownErr)
	}

	redis.Start()
	t.Log("Redis started again")
	st = waitHTTPS(t, c.p, b, c.addr(2), "app.example.test", 30*time.Second)
	if got := serialHex(st.PeerCertificates[0]); got != serials[0] {
		t.Errorf("host 2 serves %s once Redis is back, want the stored %s", got, serials[0])
	}
	waitLog(t, b, `https: using the stored certificate for app\.example\.test`, 5*time.Second)
	close(stopPolling)
	polling.Wait()
	if n := failed.Load(); n != 0 || sent.Load() < 20 {
		var msgs []string
		failures.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		t.Errorf("%d of %d requests to host 0 failed during the outage: %v", n, sent.Load(), msgs)
	} else {
		t.Logf("%d requests to host 0 during the outage, none failed", sent.Load())
	}
	if n := len(c.p.issued()); n != 1 {
		t.Errorf("Pebble issued %d certificates, want 1: %v", n, c.p.issued())
	}

	_, checkUp, checkUpErr := corral(t, c.h.dir, nil, "check", "--domain", "app.example.test", "--storage", redis.URL(), "--cert-dir", t.TempDir())
	if !strings.Contains(checkUp, "storage:  redis://:xxxxx@"+redis.Addr()+"/0 answers") {
		t.Errorf("corral check with Redis up:\n%s%s\nwant a storage line saying it answers", checkUp, checkUpErr)
	}
	var pages []string
	for _, path := range []string{"/", "/metrics"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", adminPort, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pages = append(pages, string(body))
	}
	if !strings.Contains(pages[1], `corral_tls_certificate_expiry_timestamp_seconds{name="app.example.test"}`) {
		t.Errorf("host 0's /metrics has no certificate expiry for app.example.test:\n%s", pages[1])
	}
	var files []string
	for _, dir := range []string{restartedDir} {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				files = append(files, string(b))
			}
			return nil
		})
	}
	c.checkNoPassword(t, append(append(pages, files...), checkDown, checkDownErr, checkUp, checkUpErr, redis.Output())...)
	for _, r := range []*session{a, c.hosts[1], b} {
		stop(t, r)
	}
	c.checkNoPassword(t)
}

// TestAddress: --address binds the public port to that address only.
func TestAddress(t *testing.T) {
	needHostIPs(t)
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=proto exec " + helperBin + "\n"})
	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--address", hostIPs[0])
	waitLog(t, r, regexp.QuoteMeta("edge: listening on "+hostIPs[0]+" port "+strconv.Itoa(port)), 20*time.Second)
	resp, err := http.Get(fmt.Sprintf("http://%s:%d/", hostIPs[0], port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 2*time.Second); err == nil {
		c.Close()
		t.Errorf("with --address %s, 127.0.0.1:%d accepts connections too", hostIPs[0], port)
	}
	// A second corral on another address, same port.
	dir2 := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=proto exec " + helperBin + "\n"})
	r2 := start(t, dir2, nil, "start", "-p", strconv.Itoa(port), "--address", hostIPs[1])
	waitLog(t, r2, `web\.1 is ready`, 20*time.Second)
	stop(t, r2)
	stop(t, r)
}
