package edge

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestTLS serves the edge over TLS: HTTP/1.1 and HTTP/2 by ALPN, the app
// told the request came over https, HSTS on the responses, and a client
// that fails the handshake costs nothing but its connection.
func TestTLS(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto"))
	}))
	defer backend.Close()
	e := newEdge(t, Options{})
	e.add(t, "web.1", strings.TrimPrefix(backend.URL, "http://"))

	cert, pool := testCertificate()
	srv := NewServer(Config{Proxy: e.proxy, HSTS: "max-age=31536000"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	go srv.Serve(tln)
	defer srv.Shutdown(t.Context())

	for _, tc := range []struct {
		name   string
		protos []string
		h2     bool
	}{
		{"HTTP/1.1", []string{"http/1.1"}, false},
		{"HTTP/2", []string{"h2", "http/1.1"}, true},
		{"no ALPN", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com", NextProtos: tc.protos}, ForceAttemptHTTP2: tc.h2}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: testTimeout}
			for range 2 { // and a second request on the same connection
				resp, err := client.Get("https://" + ln.Addr().String() + "/")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "proto=https" || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" || (resp.ProtoMajor == 2) != tc.h2 {
					t.Fatalf("got %s %q HSTS %q; want HTTP/2 %v, proto=https and HSTS", resp.Proto, b, resp.Header.Get("Strict-Transport-Security"), tc.h2)
				}
			}
		})
	}

	// A plaintext request on the TLS port fails its handshake; the server
	// goes on.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	io.Copy(io.Discard, c)
	c.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("after a failed handshake: %v", err)
	}
	resp.Body.Close()

	// The same server's plain HTTP responses carry no HSTS.
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(pln)
	resp, err = http.Get("http://" + pln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain HTTP: %d, HSTS %q; want 200 and no HSTS", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
}

// testCertificate returns a certificate for example.com, httptest's own,
// and a pool of the root that verifies it.
func testCertificate() (tls.Certificate, *x509.CertPool) {
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return ts.TLS.Certificates[0], pool
}
