// Package enginetest starts throwaway Redis and Postgres servers for tests:
// Debian's redis-server and postgresql, on a free loopback port, with their
// files in a temporary directory, stopped when the test ends. A test that
// needs a missing server skips, except under CORRAL_REQUIRE_INTEGRATION
// (CI), where it fails.
package enginetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need skips t, or fails it in CI, unless every program in bins is found
// (on PATH, or as an absolute path).
func Need(t testing.TB, what string, bins ...string) {
	t.Helper()
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			msg := fmt.Sprintf("needs %s: %v", what, err)
			if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// freePort asks the kernel for a port free on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// server is a server process the test owns.
type server struct {
	name string
	cmd  *exec.Cmd
	out  bytes.Buffer // its output, for failure messages
	mu   sync.Mutex
	done chan struct{}
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// Output is what the server printed so far.
func (s *server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func start(t testing.TB, cmd *exec.Cmd) *server {
	t.Helper()
	s := &server{name: filepath.Base(cmd.Path), cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s, s
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd, err)
	}
	go func() { cmd.Wait(); close(s.done) }()
	return s
}

// stop ends the server with sig, then SIGKILL after 10 s.
func (s *server) stop(sig syscall.Signal) {
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// waitDial waits until addr accepts TCP connections, failing t if s exits
// or 30 s pass.
func (s *server) waitDial(t testing.TB, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited before it listened on %s:\n%s", s.name, addr, s.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s after 30s:\n%s", s.name, addr, s.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Redis is a redis-server run by a test.
type Redis struct {
	Port     int
	Password string // "" for none
	// Roots trust the server's certificate, with StartRedisTLS; nil
	// without TLS.
	Roots *x509.CertPool
	dir   string
	t     testing.TB
	srv   *server
}

// StartRedis starts redis-server on a free loopback port, with password
// (if not empty) required, its data in a temporary directory, kept across
// Stop and Start (an append-only file, as a production Redis keeps it).
func StartRedis(t testing.TB, password string) *Redis {
	t.Helper()
	return startRedis(t, password, false)
}

// StartRedisTLS is StartRedis with TLS only (no plain port), on a
// certificate for 127.0.0.1 and localhost that Roots trusts.
func StartRedisTLS(t testing.TB, password string) *Redis {
	t.Helper()
	return startRedis(t, password, true)
}

func startRedis(t testing.TB, password string, withTLS bool) *Redis {
	t.Helper()
	Need(t, "Redis (Debian package redis-server)", "redis-server")
	r := &Redis{Port: freePort(t), Password: password, dir: t.TempDir(), t: t}
	if withTLS {
		r.Roots = selfSigned(t, filepath.Join(r.dir, "tls.crt"), filepath.Join(r.dir, "tls.key"))
	}
	r.Start()
	t.Cleanup(func() {
		if r.srv != nil {
			r.Stop()
		}
	})
	return r
}

// selfSigned writes a certificate for 127.0.0.1 and localhost, and its
// key, and returns a pool that trusts it.
func selfSigned(t testing.TB, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// URL is the redis:// URL of database 0 (rediss:// with TLS), with the
// password.
func (r *Redis) URL() string {
	u := url.URL{Scheme: "redis", Host: r.Addr(), Path: "/0"}
	if r.Roots != nil {
		u.Scheme = "rediss"
	}
	if r.Password != "" {
		u.User = url.UserPassword("", r.Password)
	}
	return u.String()
}

// Addr is host:port.
func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Start starts the server (again, after Stop) and waits until it listens.
func (r *Redis) Start() {
	r.t.Helper()
	args := []string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no", "--logfile", ""}
	if r.Roots != nil {
		args = append(args, "--port", "0", "--tls-port", strconv.Itoa(r.Port), "--tls-auth-clients", "no",
			"--tls-cert-file", filepath.Join(r.dir, "tls.crt"), "--tls-key-file", filepath.Join(r.dir, "tls.key"))
	}
	if r.Password != "" {
		args = append(args, "--requirepass", r.Password)
	}
	r.srv = start(r.t, exec.Command("redis-server", args...))
	r.srv.waitDial(r.t, r.Addr())
}

// Stop stops the server (SIGTERM: it writes its data and exits).
func (r *Redis) Stop() {
	r.srv.stop(syscall.SIGTERM)
	r.srv = nil
}

// Output is what the server has printed since its last Start.
func (r *Redis) Output() string {
	if r.srv == nil {
		return ""
	}
	return r.srv.Output()
}

// Postgres is a throwaway Postgres cluster run by a test.
type Postgres struct {
	Port     int
	Password string // of the superuser, postgres
	Database string
	dir      string
	t        testing.TB
	srv      *server
	cred     *syscall.Credential // whom it runs as, when the test runs as root
	bin      string
}

// StartPostgres makes a cluster with initdb in a temporary directory and
// runs it on a free loopback port (and a Unix socket in that directory),
// with password authentication over TCP for the superuser postgres, and a
// database named database. Postgres refuses to run as root: under root,
// the cluster belongs to the postgres user (or nobody) instead.
func StartPostgres(t testing.TB, password, database string) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	bin := ""
	if len(bins) > 0 {
		bin = filepath.Dir(bins[len(bins)-1])
	} else if p, err := exec.LookPath("postgres"); err == nil {
		bin = filepath.Dir(p)
	}
	Need(t, "Postgres (Debian package postgresql)", filepath.Join(bin, "postgres"), filepath.Join(bin, "initdb"))
	p := &Postgres{Port: freePort(t), Password: password, Database: database, t: t, bin: bin}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "corral-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir = dir
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		who, err := user.Lookup("postgres")
		if err != nil {
			who, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatalf("running Postgres as root's test: no postgres or nobody user to run it as: %v", err)
		}
		uid, _ := strconv.Atoi(who.Uid)
		gid, _ := strconv.Atoi(who.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.cred != nil {
		os.Chown(pwfile, int(p.cred.Uid), int(p.cred.Gid))
	}
	initdb := p.command("initdb", "-D", p.data(), "-U", "postgres", "--pwfile", pwfile,
		"--auth-local", "trust", "--auth-host", "scram-sha-256", "-E", "UTF8", "--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	os.Remove(pwfile)
	p.Start()
	t.Cleanup(func() {
		if p.srv != nil {
			p.Stop()
		}
	})
	create := p.command("psql", "-h", dir, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
		"-c", "CREATE DATABASE "+database)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("creating database %s: %v\n%s", database, err, out)
	}
	return p
}

func (p *Postgres) data() string { return filepath.Join(p.dir, "data") }

// command is one of the cluster's programs, run as the cluster's owner.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

// URL is the postgres:// URL of the database, with the password.
func (p *Postgres) URL() string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", p.Password), Host: p.Addr(), Path: "/" + p.Database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Addr is host:port.
func (p *Postgres) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// Start runs the server (again, after Stop) and waits until it listens.
// Durability is off: a test's data need not survive a crash of the machine.
func (p *Postgres) Start() {
	p.t.Helper()
	cmd := p.command("postgres", "-D", p.data(), "-p", strconv.Itoa(p.Port), "-k", p.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB", "-c", "max_connections=50")
	p.srv = start(p.t, cmd)
	p.srv.waitDial(p.t, p.Addr())
	// Listening comes before accepting logins: wait for those too.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := p.command("pg_isready", "-h", p.dir, "-p", strconv.Itoa(p.Port), "-U", "postgres").CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("Postgres not ready after 30s: %v %s\n%s", err, out, p.srv.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server (SIGINT: Postgres's fast shutdown).
func (p *Postgres) Stop() {
	p.srv.stop(syscall.SIGINT)
	p.srv = nil
}

// SQL runs sql with psql as the superuser in the database and returns its
// output, unaligned and without headers.
func (p *Postgres) SQL(sql string) (string, error) {
	cmd := p.command("psql", "-h", p.dir, "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", p.Database,
		"-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("psql -c %q: %v: %s", sql, err, out)
	}
	return string(bytes.TrimSpace(out)), nil
}

// Output is what the server has printed since its last Start.
func (p *Postgres) Output() string {
	if p.srv == nil {
		return ""
	}
	return p.srv.Output()
}
