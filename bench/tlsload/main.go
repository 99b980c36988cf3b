// Command tlsload is the HTTPS load generator of bench/tls.sh: it connects
// to -addr but names -sni in the TLS handshake (and the Host header), which
// wrk cannot do without DNS for that name. Standard library only.
//
// Modes:
//
//	keepalive  -c connections, each one tls.Conn (ALPN http/1.1 only) sending
//	           GET -path HTTP/1.1 in a loop and reading every response
//	handshake  -c workers, each in a loop: TCP connect, full TLS handshake
//	           (no session cache: no resumption), one request, close
//
// It runs for -d and prints one line on stdout:
//
//	req_per_s=... p99_ms=... errors=... requests=... client_cpu=...
//
// (in handshake mode every request is a handshake: req_per_s is handshakes
// per second), and, once, the negotiated TLS version, cipher suite, key
// exchange group and ALPN protocol on stderr. client_cpu is the CPU time
// tlsload used over the run, in cores.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type worker struct {
	lat    []time.Duration // one per successful request
	errs   int
	firstE error
}

var (
	addr     = flag.String("addr", "", "host:port to connect to")
	sni      = flag.String("sni", "", "the TLS server name (SNI, verification) and Host header")
	caFile   = flag.String("ca", "", "PEM file of the roots to verify the server's certificate with")
	insecure = flag.Bool("insecure", false, "do not verify the server's certificate")
	conns    = flag.Int("c", 64, "connections (keepalive) or concurrent handshake loops (handshake)")
	dur      = flag.Duration("d", 8*time.Second, "duration")
	mode     = flag.String("mode", "keepalive", "keepalive or handshake")
	path     = flag.String("path", "/", "the request path")
	curves   = flag.String("curves", "", "key exchange groups offered, comma-separated (x25519, p256, x25519mlkem768); empty: Go's defaults")
	maxTLS   = flag.String("tls", "", "1.2 to offer TLS 1.2 only; empty: TLS 1.2 and 1.3 (1.3 is negotiated if the server has it)")
)

func main() {
	flag.Parse()
	if *addr == "" || *sni == "" {
		fatal("-addr and -sni are required")
	}
	if *conns < 1 || *dur <= 0 {
		fatal("-c must be >= 1 and -d > 0")
	}
	if *mode != "handshake" && *mode != "keepalive" {
		fatal("-mode: want keepalive or handshake")
	}
	cfg := &tls.Config{
		ServerName:         *sni,
		NextProtos:         []string{"http/1.1"},
		InsecureSkipVerify: *insecure,
		MinVersion:         tls.VersionTLS12,
		// no ClientSessionCache: every handshake is a full one
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fatal(err.Error())
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			fatal("no certificates in " + *caFile)
		}
	} else if !*insecure {
		fatal("give -ca FILE or -insecure")
	}
	switch *maxTLS {
	case "":
	case "1.2":
		cfg.MaxVersion = tls.VersionTLS12
	default:
		fatal("-tls: want 1.2 or nothing")
	}
	if *curves != "" {
		for _, c := range strings.Split(*curves, ",") {
			switch strings.ToLower(strings.TrimSpace(c)) {
			case "x25519":
				cfg.CurvePreferences = append(cfg.CurvePreferences, tls.X25519)
			case "p256":
				cfg.CurvePreferences = append(cfg.CurvePreferences, tls.CurveP256)
			case "x25519mlkem768":
				cfg.CurvePreferences = append(cfg.CurvePreferences, tls.X25519MLKEM768)
			default:
				fatal("-curves: unknown group " + c)
			}
		}
	}
	req := []byte("GET " + *path + " HTTP/1.1\r\nHost: " + *sni + "\r\nUser-Agent: tlsload\r\nAccept: */*\r\n\r\n")

	// one handshake first: it must work, and says what was negotiated
	c, err := dial(cfg)
	if err != nil {
		fatal("first handshake: " + err.Error())
	}
	st := c.ConnectionState()
	fmt.Fprintf(os.Stderr, "tlsload: %s negotiated %s %s, group %s, ALPN %q, leaf %q issued by %q\n",
		*addr, tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID,
		st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName, st.PeerCertificates[0].Issuer.CommonName)
	c.Close()

	var cpu0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	start := time.Now()
	end := start.Add(*dur)
	ws := make([]*worker, *conns)
	var resumed atomic.Int64
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{lat: make([]time.Duration, 0, 1<<14)}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			if *mode == "handshake" {
				handshakes(w, cfg, req, end, &resumed)
			} else {
				keepalive(w, cfg, req, end)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var cpu1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)

	var all []time.Duration
	errs := 0
	var firstE error
	for _, w := range ws {
		all = append(all, w.lat...)
		errs += w.errs
		if firstE == nil {
			firstE = w.firstE
		}
	}
	slices.Sort(all)
	p99 := 0.0
	if len(all) > 0 {
		p99 = float64(all[(len(all)*99+99)/100-1]) / float64(time.Millisecond)
	}
	cpu := tv(cpu1.Utime) - tv(cpu0.Utime) + tv(cpu1.Stime) - tv(cpu0.Stime)
	fmt.Printf("req_per_s=%.1f p99_ms=%.3f errors=%d requests=%d resumed=%d client_cpu=%.2f\n",
		float64(len(all))/elapsed.Seconds(), p99, errs, len(all), resumed.Load(), cpu.Seconds()/elapsed.Seconds())
	if firstE != nil {
		fmt.Fprintf(os.Stderr, "tlsload: first error: %v\n", firstE)
	}
}

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

func fatal(msg string) {
	fmt.Fprintln(os.Stderr, "tlsload:", msg)
	os.Exit(2)
}

func dial(cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 10 * time.Second}
	return tls.DialWithDialer(d, "tcp", *addr, cfg)
}

func (w *worker) fail(err error) {
	w.errs++
	if w.firstE == nil {
		w.firstE = err
	}
}

// roundTrip sends req on c and reads the response; close says the server
// will close the connection.
func roundTrip(c net.Conn, br *bufio.Reader, req []byte) (close bool, err error) {
	if _, err := c.Write(req); err != nil {
		return true, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return true, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return true, err
	}
	if resp.StatusCode != 200 {
		return resp.Close, fmt.Errorf("status %s", resp.Status)
	}
	return resp.Close, nil
}

func keepalive(w *worker, cfg *tls.Config, req []byte, end time.Time) {
	var c *tls.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for time.Now().Before(end) {
		if c == nil {
			var err error
			if c, err = dial(cfg); err != nil {
				if time.Now().Before(end) {
					w.fail(err)
				}
				c = nil
				time.Sleep(10 * time.Millisecond)
				continue
			}
			c.SetDeadline(end.Add(5 * time.Second))
			br = bufio.NewReaderSize(c, 16<<10)
		}
		t0 := time.Now()
		closed, err := roundTrip(c, br, req)
		if err != nil {
			if t0.Before(end) && !errors.Is(err, os.ErrDeadlineExceeded) {
				w.fail(err)
			}
		} else {
			w.lat = append(w.lat, time.Since(t0))
		}
		if closed || err != nil {
			c.Close()
			c = nil
		}
	}
}

func handshakes(w *worker, cfg *tls.Config, req []byte, end time.Time, resumed *atomic.Int64) {
	for time.Now().Before(end) {
		t0 := time.Now()
		c, err := dial(cfg)
		if err != nil {
			w.fail(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if c.ConnectionState().DidResume {
			resumed.Add(1)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = roundTrip(c, bufio.NewReaderSize(c, 4<<10), req)
		c.Close()
		if err != nil {
			w.fail(err)
			continue
		}
		w.lat = append(w.lat, time.Since(t0))
	}
}
