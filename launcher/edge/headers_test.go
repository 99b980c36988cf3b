package edge

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestForwardedHeaders(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		send    map[string]string
		want    map[string]string // "" = absent
		keepID  bool              // the client's X-Request-Id reaches the app
	}{
		{
			name: "no forwarded headers",
			want: map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
				"X-Forwarded-Host": "app.example", "X-Real-Ip": "127.0.0.1",
			},
		},
		{
			name:    "untrusted peer cannot spoof",
			trusted: elsewhere,
			send: map[string]string{
				"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "evil.example", "X-Real-Ip": "6.6.6.6",
				"Forwarded": "for=6.6.6.6;proto=https", "X-Request-Id": "client-chosen-id",
				// Rack's and IIS's other ways to say HTTPS.
				"X-Forwarded-Ssl": "on", "X-Forwarded-Scheme": "https", "X-Forwarded-Port": "443", "Front-End-Https": "on",
			},
			want: map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
				"X-Forwarded-Host": "app.example", "X-Real-Ip": "127.0.0.1", "Forwarded": "",
				"X-Forwarded-Ssl": "", "X-Forwarded-Scheme": "", "X-Forwarded-Port": "", "Front-End-Https": "",
			},
		},
		{
			name:    "trusted peer is believed",
			trusted: loopback,
			send: map[string]string{
				"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "www.example", "X-Real-Ip": "203.0.113.7",
				"X-Request-Id": "lb-1234:abcd_EF.9", "X-Forwarded-Ssl": "on", "X-Forwarded-Port": "443",
			},
			want: map[string]string{
				"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "www.example", "X-Real-Ip": "203.0.113.7",
				"X-Forwarded-Ssl": "on", "X-Forwarded-Port": "443",
			},
			keepID: true,
		},
		{
			name:    "trusted peer without headers",
			trusted: loopback,
			want: map[string]string{
				"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http",
				"X-Forwarded-Host": "app.example", "X-Real-Ip": "127.0.0.1",
			},
		},
		{
			name:    "trusted peer with an invalid request id",
			trusted: loopback,
			send:    map[string]string{"X-Request-Id": "bad id; <script>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{TrustedProxies: tt.trusted})
			b := newBackend(t, echoHeaders)
			e.add(t, "web.1", b.addr)
			req, _ := http.NewRequest(http.MethodGet, e.url+"/h", nil)
			req.Host = "app.example"
			for k, v := range tt.send {
				req.Header.Set(k, v)
			}
			resp, body := e.do(t, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d %q", resp.StatusCode, body)
			}
			s := decodeSeen(t, body)
			if s.Host != "app.example" {
				t.Errorf("app saw Host %q, want app.example", s.Host)
			}
			for k, v := range tt.want {
				if got := s.Header.Values(k); v == "" && len(got) > 0 || v != "" && (len(got) != 1 || got[0] != v) {
					t.Errorf("app saw %s %q, want %q", k, got, v)
				}
			}
			id := s.Header.Get("X-Request-Id")
			if tt.keepID {
				if id != tt.send["X-Request-Id"] {
					t.Errorf("app saw X-Request-Id %q, want the trusted %q", id, tt.send["X-Request-Id"])
				}
			} else if !hex32.MatchString(id) {
				t.Errorf("app saw X-Request-Id %q, want a generated 32-hex id", id)
			}
			if got := resp.Header.Get("X-Request-Id"); got != id {
				t.Errorf("client got X-Request-Id %q, app saw %q", got, id)
			}
			if a := e.nextAccess(t); a.RequestID != id {
				t.Errorf("access log request id %q, want %q", a.RequestID, id)
			}
		})
	}
}

func TestRequestIDsAreUnique(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, named("web.1"))
	e.add(t, "web.1", b.addr)
	ids := map[string]bool{}
	for range 20 {
		resp, _ := e.get(t, "/")
		id := resp.Header.Get("X-Request-Id")
		if !hex32.MatchString(id) || ids[id] {
			t.Fatalf("id %q: want a new 32-hex id each time", id)
		}
		ids[id] = true
	}
}

func TestHopByHopHeadersNotForwarded(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, echoHeaders)
	e.add(t, "web.1", b.addr)
	resp, body := rawRoundTrip(t, e.addr, "GET /h HTTP/1.1\r\n"+
		"Host: app.example:8080\r\n"+
		"Connection: keep-alive, X-Hop, x-other-hop\r\n"+
		"X-Hop: 1\r\n"+
		"X-Other-Hop: 2\r\n"+
		"Keep-Alive: timeout=5\r\n"+
		"TE: trailers\r\n"+
		"Trailer: X-T\r\n"+
		"Upgrade: websocket\r\n"+ // no Connection: upgrade: not an upgrade
		"Proxy-Authorization: Basic c2VjcmV0\r\n"+
		"Proxy-Connection: keep-alive\r\n"+
		"Expect: 100-continue\r\n"+
		"X-End-To-End: kept\r\n"+
		"Cookie: a=1\r\n"+
		"\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d %q", resp.StatusCode, body)
	}
	s := decodeSeen(t, body)
	for _, k := range []string{"X-Hop", "X-Other-Hop", "Keep-Alive", "Te", "Trailer", "Upgrade",
		"Proxy-Authorization", "Proxy-Connection", "Expect"} {
		if v, ok := s.Header[k]; ok {
			t.Errorf("hop-by-hop %s: %q reached the app", k, v)
		}
	}
	if c := s.Header.Get("Connection"); c != "" && c != "keep-alive" {
		t.Errorf("app saw Connection %q", c)
	}
	if s.Header.Get("X-End-To-End") != "kept" || s.Header.Get("Cookie") != "a=1" {
		t.Errorf("end-to-end headers lost: %v", s.Header)
	}
	if s.Host != "app.example:8080" {
		t.Errorf("app saw Host %q, want app.example:8080", s.Host)
	}
	if s.Header.Get("X-Forwarded-Host") != "app.example:8080" {
		t.Errorf("X-Forwarded-Host %q", s.Header.Get("X-Forwarded-Host"))
	}
}

// The path and query reach the app exactly as the client wrote them.
func TestRequestURIPreserved(t *testing.T) {
	e := newEdge(t, Options{})
	got := make(chan string, 1)
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.RequestURI
	})
	e.add(t, "web.1", b.addr)
	for _, uri := range []string{"/", "/a/b?x=1&y=%20z", "/caf%C3%A9/a%2Fb?q", "/p;x?="} {
		resp, _ := rawRoundTrip(t, e.addr, "GET "+uri+" HTTP/1.1\r\nHost: app\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", uri, resp.StatusCode)
		}
		if g := <-got; g != uri {
			t.Errorf("app saw %q, want %q", g, uri)
		}
	}
}

// underscoreSent are header names with underscores a client sends to pose
// as the edge's own headers, which WSGI and CGI servers (gunicorn, uWSGI,
// PHP-FPM) merge with the dashed ones (HTTP_X_FORWARDED_FOR), and two
// harmless ones.
var underscoreSent = []struct{ name, value string }{
	{"X_Forwarded_For", "6.6.6.6"},
	{"X_Forwarded_Proto", "https"},
	{"x_forwarded_host", "evil.example"},
	{"X_REAL_IP", "6.6.6.6"},
	{"X_Request_Id", "forged"},
	{"Transfer_Encoding", "chunked"},
	{"X_Custom", "kept"},
	{"My_Header", "kept"},
}

// TestUnderscoreHeaders: header names with underscores are dropped, as
// nginx does (underscores_in_headers off), over HTTP/1.1 and HTTP/2 alike;
// allowed, they reach the app, but never a spelling of a header the edge
// sets or drops itself.
func TestUnderscoreHeaders(t *testing.T) {
	h2c := h2cClient()
	defer h2c.CloseIdleConnections()
	for _, allow := range []bool{false, true} {
		e := newEdgeConfig(t, Options{}, Config{AllowUnderscoreHeaders: allow})
		b := newBackend(t, echoHeaders)
		e.add(t, "web.1", b.addr)
		for _, proto := range []string{"HTTP/1.1", "HTTP/2"} {
			t.Run(fmt.Sprintf("%s allow=%v", proto, allow), func(t *testing.T) {
				var resp *http.Response
				var body []byte
				if proto == "HTTP/1.1" {
					raw := "GET /h HTTP/1.1\r\nHost: app\r\n"
					for _, h := range underscoreSent {
						raw += h.name + ": " + h.value + "\r\n"
					}
					resp, body = rawRoundTrip(t, e.addr, raw+"\r\n")
				} else {
					req, _ := http.NewRequest(http.MethodGet, e.url+"/h", nil)
					for _, h := range underscoreSent {
						req.Header[h.name] = []string{h.value}
					}
					var err error
					if resp, err = h2c.Do(req); err != nil {
						t.Fatal(err)
					}
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.ProtoMajor != 2 {
						t.Fatalf("answered over %s", resp.Proto)
					}
				}
				if resp.StatusCode != 200 {
					t.Fatalf("status %d %q", resp.StatusCode, body)
				}
				s := decodeSeen(t, body)
				var got []string
				for k, v := range s.Header {
					if strings.Contains(k, "_") {
						got = append(got, k+"="+strings.Join(v, ","))
					}
				}
				slices.Sort(got)
				want := []string(nil)
				if allow {
					want = []string{"My_header=kept", "X_custom=kept"}
				}
				if !slices.Equal(got, want) {
					t.Errorf("the app saw underscore headers %q, want %q", got, want)
				}
				if s.Header.Get("X-Forwarded-For") != "127.0.0.1" || s.Header.Get("X-Forwarded-Proto") != "http" {
					t.Errorf("the app saw X-Forwarded-For %q, X-Forwarded-Proto %q", s.Header.Get("X-Forwarded-For"), s.Header.Get("X-Forwarded-Proto"))
				}
			})
		}
	}
}
