package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckDomain(t *testing.T) {
	for _, tt := range []struct {
		name, err string
	}{
		{"example.com", ""},
		{"a-b.example.co.uk", ""},
		{"xn--bcher-kva.example", ""},
		{"", "empty"},
		{"https://example.com", "bare domain"},
		{"example.com:443", "bare domain"},
		{"example.com/path", "bare domain"},
		{"*.example.com", "wildcard"},
		{"127.0.0.1", "IP address"},
		{"::1", "bare domain"},
		{"-a.example.com", "bad label"},
		{"a..example.com", "bad label"},
		{"exa_mple.com", "bad character"},
		{strings.Repeat("a", 64) + ".com", "bad label"},
		{strings.Repeat("a.", 127) + "com", "longer than 253"},
	} {
		err := checkDomain(tt.name)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("checkDomain(%q) = %v, want nil", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("checkDomain(%q) = %v, want an error saying %q", tt.name, err, tt.err)
		}
	}
}

func FuzzCheckDomain(f *testing.F) {
	for _, s := range []string{"example.com", "*.x.y", "1.2.3.4", "a..b", "xn--a.b", "é.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkDomain(s) != nil {
			return
		}
		// What is accepted is a plain lower-case DNS name.
		if len(s) > 253 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" || strings.Contains(s, "..") {
			t.Errorf("checkDomain accepted %q", s)
		}
	})
}

func TestCAURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                            LetsEncrypt,
		"production":                  LetsEncrypt,
		"staging":                     LetsEncryptStaging,
		"https://127.0.0.1:14000/dir": "https://127.0.0.1:14000/dir",
	} {
		if got, err := caURL(in); err != nil || got != want {
			t.Errorf("caURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"http://ca.example/dir", "ca.example", "stagging"} {
		if _, err := caURL(in); err == nil || !strings.Contains(err.Error(), "--acme-ca") {
			t.Errorf("caURL(%q): %v, want an --acme-ca error", in, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "x.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o644)
	for _, tt := range []struct {
		cfg  Config
		want string
	}{
		{Config{Dir: dir}, "no --domain"},
		{Config{Domains: []string{"*.example.com"}, Dir: dir}, `--domain "*.example.com": wildcard`},
		{Config{Domains: []string{"example.com"}, Dir: dir, CA: "ftp://x"}, "--acme-ca"},
		{Config{Domains: []string{"example.com"}, Dir: dir, CARoot: filepath.Join(dir, "missing.pem")}, "--acme-ca-root"},
		{Config{Domains: []string{"example.com"}, Dir: dir, CARoot: notPEM}, "no PEM certificate"},
		{Config{Domains: []string{"example.com"}, Dir: dir, OnDemandAsk: "localhost:9/ask"}, "--on-demand-ask"},
		{Config{Domains: []string{"example.com"}}, "--cert-dir"},
		{Config{Domains: []string{"example.com"}, Dir: dir, Challenges: []string{"dns-01"}}, `--acme-challenges: "dns-01"`},
	} {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error saying %q", tt.cfg, err, tt.want)
		}
	}
	m, err := New(Config{Domains: []string{"Example.com.", "example.com"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if got := m.Domains(); len(got) != 1 || got[0] != "example.com" {
		t.Errorf("Domains() = %q, want [example.com]", got)
	}
	tc := m.TLSConfig()
	if tc.NextProtos[0] != "h2" || tc.NextProtos[1] != "http/1.1" || tc.MinVersion < 0x0303 {
		t.Errorf("TLSConfig: NextProtos %q, MinVersion %x", tc.NextProtos, tc.MinVersion)
	}
}

// TestExpiries: a name's expiry is its certificate's NotAfter, the latest
// of several; a name with none yet has the zero time.
func TestExpiries(t *testing.T) {
	m, err := New(Config{Domains: []string{"example.com", "pending.example.com"}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	older := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	newer := older.Add(60 * 24 * time.Hour)
	for _, exp := range []time.Time{older, newer} {
		if _, err := m.cfg.CacheUnmanagedTLSCertificate(context.Background(), selfSigned(t, "example.com", exp), nil); err != nil {
			t.Fatal(err)
		}
	}
	got := m.Expiries()
	if len(got) != 2 || !got["example.com"].Equal(newer) || !got["pending.example.com"].IsZero() {
		t.Errorf("Expiries() = %v; want example.com at %v and pending.example.com at zero", got, newer)
	}
}

// selfSigned makes a certificate for name that expires at notAfter.
func selfSigned(t *testing.T, name string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notAfter.Unix()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
