package edge

import (
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"0", 0, false},
		{"10", 10, false},
		{"10b", 10, false},
		{"10B", 10, false},
		{"1k", 1 << 10, false},
		{"1K", 1 << 10, false},
		{"1KiB", 1 << 10, false},
		{"1kib", 1 << 10, false},
		{"1KB", 1000, false},
		{"512KiB", 512 << 10, false},
		{"10MB", 10_000_000, false},
		{"10m", 10 << 20, false},
		{"32MiB", 32 << 20, false},
		{"1g", 1 << 30, false},
		{"1GiB", 1 << 30, false},
		{"2GB", 2_000_000_000, false},
		{" 5 MB ", 5_000_000, false},
		{"\t7\tk\n", 7 << 10, false},
		{"007", 7, false},
		{"4611686018427387904", 1 << 62, false},
		{"4294967296g", 1 << 62, false},

		{"", 0, true},
		{"   ", 0, true},
		{"MB", 0, true},
		{"-1", 0, true},
		{"+1", 0, true},
		{"1.5MB", 0, true},
		{"1e6", 0, true},
		{"10TB", 0, true},
		{"10 M B", 0, true},
		{"10MBs", 0, true},
		{"0x10", 0, true},
		{"4611686018427387905", 0, true},
		{"4294967297g", 0, true},
		{"9223372036854775807", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999999999999k", 0, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseSize(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseSize(%q) = %d, %v; want error: %v", tt.in, got, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Fatalf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if err != nil && (got != 0 || err.Error() == "") {
				t.Fatalf("ParseSize(%q) = %d, %q: want 0 and a message", tt.in, got, err)
			}
		})
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "10", "1k", "1KiB", "10MB", " 5 mb ", "1.5g", "-1", "", "4294967296g", "99999999999999999999", "1\u00a0k", "1ǩ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseSize(%q) = %d with error %v", s, n, err)
			}
			return
		}
		if n < 0 || n > 1<<62 {
			t.Fatalf("ParseSize(%q) = %d: out of range", s, n)
		}
		// What it accepted is digits then a known unit: the same number
		// written in bytes parses back to the same size.
		back, err := ParseSize(strconv.FormatInt(n, 10))
		if err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but ParseSize(%d) = %d, %v", s, n, n, back, err)
		}
		tr := strings.TrimSpace(s)
		if tr == "" || tr[0] < '0' || tr[0] > '9' {
			t.Fatalf("ParseSize(%q) accepted input that does not start with a digit", s)
		}
	})
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{" , ,", nil, false},
		{"127.0.0.1", []string{"127.0.0.1/32"}, false},
		{"10.0.0.0/8, 192.168.1.7/24", []string{"10.0.0.0/8", "192.168.1.0/24"}, false},
		{"::1", []string{"::1/128"}, false},
		{"2001:db8::1/32", []string{"2001:db8::/32"}, false},
		{"::ffff:10.0.0.1", []string{"10.0.0.1/32"}, false},
		{"0.0.0.0/0,::/0", []string{"0.0.0.0/0", "::/0"}, false},
		{"foo", nil, true},
		{"10.0.0.0/33", nil, true},
		{"1.2.3.4/", nil, true},
		{"1.2.3.4/-1", nil, true},
		{"127.0.0.1, nope", nil, true},
		{"10.0.0.0/8/8", nil, true},
		{"256.0.0.1", nil, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseTrustedProxies(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseTrustedProxies(%q) = %v, %v; want error: %v", tt.in, got, err, tt.wantErr)
			}
			var gs []string
			for _, p := range got {
				gs = append(gs, p.String())
			}
			if !slices.Equal(gs, tt.want) {
				t.Fatalf("ParseTrustedProxies(%q) = %q, want %q", tt.in, gs, tt.want)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	tests := []struct {
		list string
		addr string
		want bool
	}{
		{"", "127.0.0.1", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"10.0.0.0/8", "10.200.3.4", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.0.0.0/8", "::ffff:10.1.1.1", true}, // a v4 peer on a dual-stack socket
		{"::1", "::1", true},
		{"fd00::/8", "fd12::1", true},
		// An IPv4 range written in its IPv4-mapped IPv6 form means the same
		// IPv4 peers.
		{"::ffff:10.0.0.0/104", "10.1.2.3", true},
	}
	for _, tt := range tests {
		t.Run(tt.list+" "+tt.addr, func(t *testing.T) {
			pfx, err := ParseTrustedProxies(tt.list)
			if err != nil {
				t.Fatal(err)
			}
			p := &Proxy{opts: Options{TrustedProxies: pfx}}
			r := &http.Request{RemoteAddr: netip.AddrPortFrom(netip.MustParseAddr(tt.addr), 4000).String(), Header: http.Header{}}
			r.Header.Set("X-Forwarded-Proto", "https")
			h := r.Header.Clone()
			p.forwardHeaders(h, r)
			if got := h.Get("X-Forwarded-Proto") == "https"; got != tt.want {
				t.Fatalf("peer %s with trusted %q: believed %v, want %v", tt.addr, tt.list, got, tt.want)
			}
		})
	}
}

func FuzzParseTrustedProxies(f *testing.F) {
	for _, s := range []string{"", "127.0.0.1", "10.0.0.0/8, 192.168.1.7/24", "::1", "::ffff:10.0.0.1",
		"fe80::1%eth0", "2001:db8::1/32", "1.2.3.4/33", ",,", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTrustedProxies(s)
		if err != nil {
			if got != nil {
				t.Fatalf("ParseTrustedProxies(%q) = %v with error %v", s, got, err)
			}
			return
		}
		var strs []string
		for _, p := range got {
			if !p.IsValid() || p != p.Masked() || p.Addr().Zone() != "" {
				t.Fatalf("ParseTrustedProxies(%q) gave prefix %v: not valid, masked and zoneless", s, p)
			}
			strs = append(strs, p.String())
		}
		// The result, written back, parses to itself.
		again, err := ParseTrustedProxies(strings.Join(strs, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseTrustedProxies(%q) = %v; written back: %v, %v", s, got, again, err)
		}
		// Every bare address listed is trusted.
		p := &Proxy{opts: Options{TrustedProxies: got}}
		for f := range strings.SplitSeq(s, ",") {
			f = strings.TrimSpace(f)
			if a, err := netip.ParseAddr(f); err == nil && !strings.Contains(f, "/") && !p.trusted(a.Unmap().WithZone("")) {
				t.Fatalf("ParseTrustedProxies(%q): listed address %v is not trusted", s, a)
			}
		}
	})
}

// "0" means no limit (ParseSize's contract, as --max-body documents it):
// a body over the 32 MiB default then passes.
func TestMaxBodyZeroMeansNoLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 33 MiB")
	}
	limit, err := ParseSize("0")
	if err != nil {
		t.Fatal(err)
	}
	e := newEdge(t, Options{MaxBody: limit, TempDir: t.TempDir()})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	e.add(t, "web.1", b.addr)
	const size = 32<<20 + 1
	req, _ := http.NewRequest(http.MethodPost, e.url+"/up", io.LimitReader(zeros{}, size))
	resp, body := e.do(t, req)
	if resp.StatusCode != 200 || string(body) != strconv.Itoa(size) {
		t.Fatalf("%d (%d bytes of body) with MaxBody from ParseSize(\"0\"), want 200: \"0\" should mean no limit", resp.StatusCode, len(body))
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
