package main

// End-to-end tests of automatic HTTPS against a real ACME CA: Pebble, the
// Let's Encrypt test server, with pebble-challtestsrv as its DNS server
// answering 127.0.0.1 for every name. Everything runs on loopback; Pebble
// validates its HTTP-01 and TLS-ALPN-01 challenges by connecting to
// corral's --http-port and --https-port on 127.0.0.1.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needPebble skips the test when Pebble is missing, except in CI, where it
// fails.
func needPebble(t *testing.T) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"pebble", "pebble-challtestsrv"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := "needs Pebble, the ACME test CA (Debian package pebble): " + strings.Join(missing, "; ")
	if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// freePorts returns n distinct free ports; udp also checks them for UDP.
func freePorts(t *testing.T, n int, udp bool) []int {
	t.Helper()
	var ports []int
	for try := 0; len(ports) < n; try++ {
		if try > 100 {
			t.Fatal("no free ports")
		}
		p := freePort(t)
		if slices.Contains(ports, p) {
			continue
		}
		if udp {
			pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(p))
			if err != nil {
				continue
			}
			pc.Close()
		}
		ports = append(ports, p)
	}
	return ports
}

// testCA is a CA made for one test, which signs the certificate of
// Pebble's own HTTPS listener (its ACME API and management API).
type testCA struct {
	file string // the CA certificate, PEM: corral's --acme-ca-root
	pool *x509.CertPool
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "corral test CA for Pebble's own HTTPS"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{file: filepath.Join(dir, "ca.pem"), pool: x509.NewCertPool(), cert: cert, key: key}
	ca.pool.AddCert(cert)
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// leaf writes a server certificate for localhost and 127.0.0.1 signed by
// ca, and its key, and returns their files.
func (ca *testCA) leaf(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "pebble-https.pem"), filepath.Join(dir, "pebble-https.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bgProc is a helper program (Pebble, its DNS server) running for one test.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder // stdout and stderr
	done chan struct{}
	err  error // once done
}

func (p *bgProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// exited reports whether p has ended, and how.
func (p *bgProc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// runBackground starts a program that is killed when the test ends.
func runBackground(t *testing.T, env []string, name string, args ...string) *bgProc {
	t.Helper()
	p := &bgProc{name: name, cmd: exec.Command(name, args...), done: make(chan struct{})}
	p.cmd.Env = env
	w := &lockedWriter{mu: &p.mu, b: &p.out}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s %s output:\n%s", name, strings.Join(args, " "), p.output())
		}
	})
	return p
}

// pebble is a running Pebble ACME CA.
type pebble struct {
	dirURL       string            // the ACME directory: corral's --acme-ca
	mgmt         string            // the management API's base URL
	ca           *testCA           // the CA of Pebble's own HTTPS: corral's --acme-ca-root
	client       *http.Client      // trusts ca
	root         *x509.Certificate // Pebble's root, made afresh by each run
	intermediate *x509.Certificate // Pebble's issuing intermediate
	roots        *x509.CertPool    // holds root only
	proc, dns    *bgProc
	dnsMgmt      string // pebble-challtestsrv's management API's base URL
}

// startPebble starts pebble-challtestsrv as a DNS server that answers
// 127.0.0.1 for every name, and Pebble using it, validating challenges on
// httpPort (HTTP-01) and tlsPort (TLS-ALPN-01). It returns once Pebble's
// directory answers and its roots are fetched.
func startPebble(t *testing.T, httpPort, tlsPort int) *pebble {
	t.Helper()
	return startPebbleWith(t, httpPort, tlsPort, 0)
}

// startPebbleWith is startPebble with the certificates valid for validity
// (whole seconds; 0 for Pebble's default, five years).
func startPebbleWith(t *testing.T, httpPort, tlsPort int, validity time.Duration) *pebble {
	t.Helper()
	needPebble(t)
	dir := t.TempDir()
	ca := newTestCA(t, dir)
	certFile, keyFile := ca.leaf(t, dir)
	ports := freePorts(t, 4, true)
	acmePort, mgmtPort, dnsPort, challMgmtPort := ports[0], ports[1], ports[2], ports[3]
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PEBBLE_") {
			env = append(env, kv)
		}
	}

	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
	dns := runBackground(t, env, "pebble-challtestsrv",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dns01", dnsAddr, "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", "127.0.0.1:"+strconv.Itoa(challMgmtPort))
	// The DNS server answers 127.0.0.1 for any name.
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, dnsAddr)
	}}
	var addrs []string
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		addrs, err = res.LookupHost(ctx, "app.example.test")
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		if done, werr := dns.exited(); done {
			t.Fatalf("pebble-challtestsrv exited (%v):\n%s", werr, dns.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
		t.Fatalf("pebble-challtestsrv on %s: app.example.test resolves to %v (%v), want [127.0.0.1]; its output:\n%s", dnsAddr, addrs, err, dns.output())
	}

	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(acmePort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	if validity > 0 {
		cfg["pebble"].(map[string]any)["certificateValidityPeriod"] = uint64(validity / time.Second)
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	p := &pebble{
		dirURL:  fmt.Sprintf("https://127.0.0.1:%d/dir", acmePort),
		mgmt:    fmt.Sprintf("https://127.0.0.1:%d", mgmtPort),
		ca:      ca,
		client:  &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool}}},
		dns:     dns,
		dnsMgmt: "http://127.0.0.1:" + strconv.Itoa(challMgmtPort),
	}
	t.Cleanup(p.client.CloseIdleConnections)
	p.proc = runBackground(t, append(env,
		"PEBBLE_VA_NOSLEEP=1",      // validate at once
		"PEBBLE_WFE_NONCEREJECT=0", // no spurious badNonce errors
		"PEBBLE_AUTHZREUSE=0",      // validate every order for real
	), "pebble", "-config", cfgFile, "-dnsserver", dnsAddr)

	var last string
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := p.client.Get(p.dirURL)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(body, []byte(`"newOrder"`)) {
				break
			}
			last = fmt.Sprintf("status %d, body %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		if done, werr := p.proc.exited(); done {
			t.Fatalf("pebble exited (%v) before its directory answered:\n%s", werr, p.proc.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pebble's directory %s does not answer: %s; pebble's output:\n%s", p.dirURL, last, p.proc.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.root = p.fetchCert(t, "/roots/0")
	p.intermediate = p.fetchCert(t, "/intermediates/0")
	if err := p.intermediate.CheckSignatureFrom(p.root); err != nil {
		t.Fatalf("Pebble's intermediate %q is not signed by its root %q: %v", p.intermediate.Subject, p.root.Subject, err)
	}
	p.roots = x509.NewCertPool()
	p.roots.AddCert(p.root)
	return p
}

// pointDNS makes pebble-challtestsrv answer ip for name (instead of
// 127.0.0.1): the address where Pebble validates name's challenges.
func (p *pebble) pointDNS(t *testing.T, name, ip string) {
	t.Helper()
	body := fmt.Sprintf(`{"host": %q, "addresses": [%q]}`, name+".", ip)
	resp, err := http.Post(p.dnsMgmt+"/add-a", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("pebble-challtestsrv's management API: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/add-a %s: status %d: %s", p.dnsMgmt, body, resp.StatusCode, msg)
	}
}

// fetchCert gets a PEM certificate from Pebble's management API.
func (p *pebble) fetchCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	resp, err := p.client.Get(p.mgmt + path)
	if err != nil {
		t.Fatalf("Pebble's management API: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	block, _ := pem.Decode(body)
	if resp.StatusCode != 200 || block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("GET %s%s: status %d, body %q; want a PEM certificate", p.mgmt, path, resp.StatusCode, body)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("GET %s%s: %v", p.mgmt, path, err)
	}
	return cert
}

var issuedRE = regexp.MustCompile(`Issued certificate serial ([0-9a-f]+) for order`)

// issued lists the serials, in hex, of the certificates Pebble has issued.
func (p *pebble) issued() []string {
	var serials []string
	for _, m := range issuedRE.FindAllStringSubmatch(p.proc.output(), -1) {
		n, _ := new(big.Int).SetString(m[1], 16) // Pebble pads to 16 digits
		serials = append(serials, n.Text(16))
	}
	return serials
}

// serialHex is a serial number as issued lists it.
func serialHex(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

// describeChain sums up certificates for failure messages.
func describeChain(certs []*x509.Certificate) string {
	if len(certs) == 0 {
		return "no certificates"
	}
	var parts []string
	for i, c := range certs {
		parts = append(parts, fmt.Sprintf("#%d subject %q, names %v, issuer %q, serial %s, valid %s to %s",
			i, c.Subject.String(), c.DNSNames, c.Issuer.String(), serialHex(c), c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339)))
	}
	return strings.Join(parts, "; ")
}

// handshake makes a TLS connection to addr with SNI sni, verifying the
// certificate against Pebble's root, and returns its state. A verification
// error says which certificates the server sent.
func (p *pebble) handshake(addr, sni string, protos ...string) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 30 * time.Second} // the whole handshake, which may include issuance
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: p.roots, ServerName: sni, NextProtos: protos})
	if err != nil {
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			return tls.ConnectionState{}, fmt.Errorf("%w; the server sent %s; Pebble's intermediate is %q", err, describeChain(verr.UnverifiedCertificates), p.intermediate.Subject)
		}
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// httpsClient is an HTTPS client that trusts Pebble's root and connects to
// 127.0.0.1 whatever the URL's host, so that URLs can name the domain.
// h2 says whether it offers HTTP/2.
func (p *pebble) httpsClient(t *testing.T, h2 bool) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, _ := net.SplitHostPort(addr)
			var d net.Dialer
			return d.DialContext(ctx, network, "127.0.0.1:"+port)
		},
		TLSClientConfig:     &tls.Config{RootCAs: p.roots},
		TLSHandshakeTimeout: 30 * time.Second,
		ForceAttemptHTTP2:   h2,
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// corralOutput is a session's stdout and stderr, for failure messages.
func corralOutput(r *session) string {
	return fmt.Sprintf("corral's stdout:\n%s\ncorral's stderr:\n%s", r.output(), r.stderr())
}

// findLog waits up to limit for a line of corral's stdout or stderr that
// matches pattern, and returns it; "" if it found none before the limit or
// corral's end. (session.waitFor reads stdout only.)
func findLog(r *session, pattern string, limit time.Duration) string {
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(limit)
	for {
		ended := !running(r)
		if ended {
			time.Sleep(100 * time.Millisecond) // for the last of stderr
		}
		for _, l := range append(r.lines(), strings.Split(r.stderr(), "\n")...) {
			if re.MatchString(l) {
				return l
			}
		}
		if ended || time.Now().After(deadline) {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog is findLog, failing the test if no line matches.
func waitLog(t *testing.T, r *session, pattern string, limit time.Duration) string {
	t.Helper()
	l := findLog(r, pattern, limit)
	if l == "" {
		how := fmt.Sprintf("within %v", limit)
		if !running(r) {
			how = "before it ended"
		}
		t.Fatalf("corral logged no line matching %q %s\n%s", pattern, how, corralOutput(r))
	}
	return l
}

// running reports whether corral still runs.
func running(r *session) bool {
	select {
	case <-r.eof: // its stdout closed
		return false
	default:
		return true
	}
}

// httpsCorral is the setup of corral with HTTPS for one test.
type httpsCorral struct {
	dir                 string // the app
	httpPort, httpsPort int
	certDir             string
	acme, caRoot        string // --acme-ca, --acme-ca-root
}

func newHTTPSCorral(t *testing.T) *httpsCorral {
	ports := freePorts(t, 2, false)
	return &httpsCorral{
		dir:       app(t, map[string]string{"Procfile": "web: " + helperBin + "\n"}),
		httpPort:  ports[0],
		httpsPort: ports[1],
		certDir:   t.TempDir(),
	}
}

func (h *httpsCorral) httpsAddr() string { return "127.0.0.1:" + strconv.Itoa(h.httpsPort) }

// start runs corral with HTTPS for app.example.test and waits for web.1
// to be ready.
func (h *httpsCorral) start(t *testing.T, extra ...string) *session {
	t.Helper()
	args := []string{"start", "-d", h.dir, "-p", strconv.Itoa(freePort(t)), "-t", "5",
		"--domain", "app.example.test",
		"--acme-ca", h.acme, "--acme-ca-root", h.caRoot, "--acme-email", "test@example.test",
		"--https-port", strconv.Itoa(h.httpsPort), "--http-port", strconv.Itoa(h.httpPort),
		"--cert-dir", h.certDir}
	r := start(t, h.dir, []string{"CORRAL_TEST_HELPER=proto"}, append(args, extra...)...)
	waitLog(t, r, `web\.1 is ready`, 20*time.Second)
	return r
}

// stop stops corral with SIGTERM and checks that it exits with status 0.
func stop(t *testing.T, r *session) {
	t.Helper()
	r.signal(syscall.SIGTERM)
	if code := r.wait(15 * time.Second); code != 0 {
		t.Errorf("corral exited with status %d after SIGTERM, want 0\n%s", code, corralOutput(r))
	}
}

// waitHTTPS waits until a handshake with sni at corral's HTTPS port
// verifies against Pebble's root, and returns its state.
func waitHTTPS(t *testing.T, p *pebble, r *session, addr, sni string, limit time.Duration) tls.ConnectionState {
	t.Helper()
	var err error
	for deadline := time.Now().Add(limit); ; {
		var st tls.ConnectionState
		if st, err = p.handshake(addr, sni, "h2", "http/1.1"); err == nil {
			return st
		}
		if !running(r) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no verified TLS handshake with %s for %q within %v (want a certificate from Pebble, whose root is %q); last error: %v\n%s",
		addr, sni, limit, p.root.Subject, err, corralOutput(r))
	return tls.ConnectionState{}
}

// checkLeaf checks that st's certificate is Pebble's, for name only.
func checkLeaf(t *testing.T, p *pebble, st tls.ConnectionState, name string) *x509.Certificate {
	t.Helper()
	leaf := st.PeerCertificates[0]
	if !slices.Equal(leaf.DNSNames, []string{name}) {
		t.Errorf("certificate names %v, want [%s]; chain: %s", leaf.DNSNames, name, describeChain(st.PeerCertificates))
	}
	if !bytes.Equal(leaf.RawIssuer, p.intermediate.RawSubject) || leaf.CheckSignatureFrom(p.intermediate) != nil {
		t.Errorf("certificate for %s not issued by Pebble's intermediate %q; chain: %s", name, p.intermediate.Subject, describeChain(st.PeerCertificates))
	}
	if serial := serialHex(leaf); !slices.Contains(p.issued(), serial) {
		t.Errorf("certificate serial %s for %s is not among those Pebble logged as issued: %v", serial, name, p.issued())
	}
	return leaf
}

// getHTTPS gets url (whose host is the domain; the connection goes to
// 127.0.0.1) and returns the response and its body.
func getHTTPS(t *testing.T, c *http.Client, r *session, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	resp, body, err := fetch(c, url, header)
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, corralOutput(r))
	}
	return resp, string(body)
}

// checkRedirects checks that plain HTTP at corral's --http-port redirects
// to HTTPS with 308, keeping the path and query.
func checkRedirects(t *testing.T, h *httpsCorral, r *session) {
	t.Helper()
	client := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	want := fmt.Sprintf("https://app.example.test:%d/some/path?q=1", h.httpsPort)
	for _, host := range []string{"app.example.test", "app.example.test:" + strconv.Itoa(h.httpPort)} {
		url := fmt.Sprintf("http://127.0.0.1:%d/some/path?q=1", h.httpPort)
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET %s with Host %s: %v\n%s", url, host, err, corralOutput(r))
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("GET %s with Host %s: status %d, Location %q, body %q; want 308 to %s\n%s",
				url, host, resp.StatusCode, resp.Header.Get("Location"), body, want, corralOutput(r))
		}
		if v := resp.Header.Get("Strict-Transport-Security"); v != "" {
			t.Errorf("GET %s: Strict-Transport-Security %q over plain HTTP; RFC 6797 (7.2) says never", url, v)
		}
	}
}

// checkHSTS checks a response's Strict-Transport-Security header.
func checkHSTS(t *testing.T, resp *http.Response, maxAge string) {
	t.Helper()
	want := "max-age=" + maxAge
	if got := resp.Header.Get("Strict-Transport-Security"); got != want && !strings.HasPrefix(got, want+";") {
		t.Errorf("Strict-Transport-Security %q, want %q", got, want)
	}
}

// TestPebbleFixture checks the test's own setup: Pebble starts, answers
// on its directory with a certificate corral can be told to trust, and its
// DNS server sends every name to 127.0.0.1. When this fails, the HTTPS
// tests' failures say nothing about corral.
func TestPebbleFixture(t *testing.T) {
	ports := freePorts(t, 2, false)
	p := startPebble(t, ports[0], ports[1])
	resp, err := p.client.Get(p.dirURL)
	if err != nil {
		t.Fatal(err)
	}
	var dir map[string]any
	err = json.NewDecoder(resp.Body).Decode(&dir)
	resp.Body.Close()
	if err != nil || dir["newNonce"] == nil || dir["newAccount"] == nil || dir["newOrder"] == nil {
		t.Errorf("directory %s: %v, %v; want newNonce, newAccount, newOrder", p.dirURL, dir, err)
	}
	if !p.root.IsCA || !p.intermediate.IsCA || bytes.Equal(p.root.Raw, p.intermediate.Raw) {
		t.Errorf("root %q (CA %v), intermediate %q (CA %v)", p.root.Subject, p.root.IsCA, p.intermediate.Subject, p.intermediate.IsCA)
	}
	// Without the test CA, Pebble's HTTPS is not trusted.
	if resp, err := http.Get(p.dirURL); err == nil {
		resp.Body.Close()
		t.Errorf("Pebble's directory verified without the test CA")
	}
	if n := len(p.issued()); n != 0 {
		t.Errorf("Pebble issued %d certificates already", n)
	}
}

// TestHTTPSWithPebble: corral gets a certificate from the CA, serves HTTPS
// with it over HTTP/2 and HTTP/1.1, redirects plain HTTP, and after a
// restart serves the stored certificate without asking the CA again.
func TestHTTPSWithPebble(t *testing.T) {
	h := newHTTPSCorral(t)
	p := startPebble(t, h.httpPort, h.httpsPort)
	h.acme, h.caRoot = p.dirURL, p.ca.file

	began := time.Now()
	r := h.start(t)
	waitLog(t, r, `certificate for app\.example\.test obtained`, 30*time.Second)
	t.Logf("certificate obtained %v after starting corral", time.Since(began).Round(time.Millisecond))
	st := waitHTTPS(t, p, r, h.httpsAddr(), "app.example.test", 10*time.Second)
	leaf := checkLeaf(t, p, st, "app.example.test")
	if n := len(p.issued()); n != 1 {
		t.Errorf("Pebble issued %d certificates (%v), want 1", n, p.issued())
	}
	if st.NegotiatedProtocol != "h2" {
		t.Errorf("ALPN chose %q for a client offering [h2 http/1.1], want h2", st.NegotiatedProtocol)
	}

	base := fmt.Sprintf("https://app.example.test:%d", h.httpsPort)
	t.Run("HTTP/2", func(t *testing.T) {
		resp, body := getHTTPS(t, p.httpsClient(t, true), r, base+"/hello?x=1", nil)
		if resp.StatusCode != 200 || body != "proto=https\n" {
			t.Errorf("status %d, body %q; want 200, %q\n%s", resp.StatusCode, body, "proto=https\n", corralOutput(r))
		}
		if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
			t.Errorf("protocol %s, want HTTP/2.0", resp.Proto)
		}
		checkHSTS(t, resp, "31536000")
	})
	t.Run("HTTP/1.1", func(t *testing.T) {
		// X-Forwarded-Proto from an untrusted client does not pass.
		resp, body := getHTTPS(t, p.httpsClient(t, false), r, base+"/", http.Header{"X-Forwarded-Proto": {"http"}})
		if resp.StatusCode != 200 || body != "proto=https\n" {
			t.Errorf("status %d, body %q; want 200, %q\n%s", resp.StatusCode, body, "proto=https\n", corralOutput(r))
		}
		if resp.Proto != "HTTP/1.1" {
			t.Errorf("protocol %s, want HTTP/1.1", resp.Proto)
		}
		checkHSTS(t, resp, "31536000")
	})
	t.Run("redirect", func(t *testing.T) { checkRedirects(t, h, r) })

	stop(t, r)

	t.Run("restart reuses the certificate", func(t *testing.T) {
		r2 := h.start(t)
		st := waitHTTPS(t, p, r2, h.httpsAddr(), "app.example.test", 20*time.Second)
		got := st.PeerCertificates[0]
		if !got.Equal(leaf) {
			files := listFiles(h.certDir)
			t.Errorf("after a restart with the same --cert-dir, serial %s, want the stored %s; --cert-dir holds %v\n%s",
				serialHex(got), serialHex(leaf), files, corralOutput(r2))
		}
		time.Sleep(time.Second) // room for an order that should not come
		if n := len(p.issued()); n != 1 {
			t.Errorf("Pebble issued %d certificates (%v) across the restart, want 1\n%s", n, p.issued(), corralOutput(r2))
		}
		if strings.Contains(r2.output()+r2.stderr(), "certificate for app.example.test obtained") {
			t.Errorf("the restarted corral obtained a new certificate\n%s", corralOutput(r2))
		}
		resp, body := getHTTPS(t, p.httpsClient(t, true), r2, base+"/", nil)
		if resp.StatusCode != 200 || body != "proto=https\n" {
			t.Errorf("after the restart: status %d, body %q; want 200, %q", resp.StatusCode, body, "proto=https\n")
		}
		stop(t, r2)
	})
}

// TestHTTPSTLSALPNChallenge: with the HTTP port out of the CA's reach,
// corral gets its certificate through the TLS-ALPN-01 challenge on its
// HTTPS port. (Otherwise the ACME client picks a challenge type at random.)
func TestHTTPSTLSALPNChallenge(t *testing.T) {
	h := newHTTPSCorral(t)
	p := startPebble(t, freePort(t), h.httpsPort) // HTTP-01 goes to a closed port
	h.acme, h.caRoot = p.dirURL, p.ca.file

	r := h.start(t)
	waitLog(t, r, `certificate for app\.example\.test obtained`, 30*time.Second)
	st := waitHTTPS(t, p, r, h.httpsAddr(), "app.example.test", 10*time.Second)
	checkLeaf(t, p, st, "app.example.test")
	resp, body := getHTTPS(t, p.httpsClient(t, true), r, fmt.Sprintf("https://app.example.test:%d/", h.httpsPort), nil)
	if resp.StatusCode != 200 || body != "proto=https\n" {
		t.Errorf("status %d, body %q; want 200, %q\n%s", resp.StatusCode, body, "proto=https\n", corralOutput(r))
	}
	stop(t, r)
}

func listFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

// TestHTTPSOnDemand: with --on-demand-ask, a name the ask URL approves gets
// a certificate during its first handshake; any other name gets none. The
// --domain name is still obtained at start-up, without asking.
func TestHTTPSOnDemand(t *testing.T) {
	h := newHTTPSCorral(t)
	p := startPebble(t, h.httpPort, h.httpsPort)
	h.acme, h.caRoot = p.dirURL, p.ca.file

	var mu sync.Mutex
	var asked []string // "path?query" of each ask
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.RequestURI())
		mu.Unlock()
		if r.URL.Path == "/check" && r.URL.Query().Get("domain") == "yes.example.test" {
			return // 200
		}
		http.Error(w, "not ours", http.StatusNotFound)
	}))
	t.Cleanup(ask.Close)
	askedFor := func(domain string) bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(asked, "/check?domain="+domain)
	}
	askLog := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked)
	}

	r := h.start(t, "--on-demand-ask", ask.URL+"/check", "--hsts-max-age", "60")
	// The --domain name is not on demand: its certificate is obtained at
	// start-up, as without --on-demand-ask. (Issuance takes about a second.)
	if findLog(r, `certificate for app\.example\.test obtained`, 10*time.Second) == "" {
		t.Errorf("with --on-demand-ask, no certificate for --domain app.example.test obtained at start-up within 10s (Pebble issued %v)\n%s", p.issued(), corralOutput(r))
	}
	checkLeaf(t, p, waitHTTPS(t, p, r, h.httpsAddr(), "app.example.test", 30*time.Second), "app.example.test")
	if asked := askLog(); len(asked) != 0 {
		t.Errorf("the ask URL was asked %v for the --domain name", asked)
	}
	before := len(p.issued())

	t.Run("approved", func(t *testing.T) {
		began := time.Now()
		st, err := p.handshake(h.httpsAddr(), "yes.example.test", "h2", "http/1.1")
		if err != nil {
			t.Fatalf("handshake for yes.example.test, which the ask URL approves: %v; asks so far %v\n%s", err, askLog(), corralOutput(r))
		}
		t.Logf("on-demand handshake took %v", time.Since(began).Round(time.Millisecond))
		leaf := checkLeaf(t, p, st, "yes.example.test")
		if !askedFor("yes.example.test") {
			t.Errorf("the ask URL was not asked about yes.example.test; asks: %v", askLog())
		}
		if n := len(p.issued()); n != before+1 {
			t.Errorf("Pebble issued %d certificates since start-up, want 1: %v", n-before, p.issued())
		}
		// The second handshake uses the certificate now held.
		st, err = p.handshake(h.httpsAddr(), "yes.example.test", "h2", "http/1.1")
		if err != nil || !st.PeerCertificates[0].Equal(leaf) {
			t.Errorf("second handshake for yes.example.test: %v; want the same certificate %s", err, serialHex(leaf))
		} else if n := len(p.issued()); n != before+1 {
			t.Errorf("the second handshake made Pebble issue again: %v", p.issued())
		}
		resp, body := getHTTPS(t, p.httpsClient(t, true), r, fmt.Sprintf("https://yes.example.test:%d/", h.httpsPort), nil)
		if resp.StatusCode != 200 || body != "proto=https\n" {
			t.Errorf("GET https://yes.example.test/: status %d, body %q; want 200, %q", resp.StatusCode, body, "proto=https\n")
		}
		checkHSTS(t, resp, "60")
	})
	t.Run("refused", func(t *testing.T) {
		n := len(p.issued())
		st, err := p.handshake(h.httpsAddr(), "no.example.test", "h2", "http/1.1")
		if err == nil {
			t.Errorf("handshake for no.example.test, which the ask URL refuses, succeeded with %s", describeChain(st.PeerCertificates))
		} else {
			t.Logf("handshake for no.example.test failed as it should: %v", err)
		}
		if !askedFor("no.example.test") {
			t.Errorf("the ask URL was not asked about no.example.test; asks: %v\n%s", askLog(), corralOutput(r))
		}
		if len(p.issued()) != n {
			t.Errorf("Pebble issued a certificate after the ask URL refused: %v", p.issued())
		}
		if !running(r) {
			t.Errorf("corral ended\n%s", corralOutput(r))
		}
	})
	stop(t, r)
}

// TestHTTPSCADown: when the CA cannot be reached, corral still runs and
// serves the HTTP port's redirects, and says that HTTPS is pending.
func TestHTTPSCADown(t *testing.T) {
	h := newHTTPSCorral(t)
	ca := newTestCA(t, t.TempDir())
	h.acme, h.caRoot = fmt.Sprintf("https://127.0.0.1:%d/dir", freePort(t)), ca.file // nothing listens there

	r := h.start(t)
	line := waitLog(t, r, `https: .*pending|pending.*https: `, 20*time.Second)
	t.Logf("corral logged: %s", line)
	checkRedirects(t, h, r)
	time.Sleep(time.Second)
	if !running(r) {
		t.Fatalf("corral exited when the CA was down, want it to keep running\n%s", corralOutput(r))
	}
	if strings.Contains(r.output()+r.stderr(), "certificate for app.example.test obtained") {
		t.Errorf("corral claims a certificate from a CA that is down\n%s", corralOutput(r))
	}
	stop(t, r)
}
