package edge

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestH2CPriorKnowledge: a client that speaks HTTP/2 over plain TCP from
// the first byte gets its requests proxied like HTTP/1 ones, with the
// forwarded headers, several streams on one connection.
func TestH2CPriorKnowledge(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, echoHeaders)
	e.add(t, "web.1", b.addr)

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	dials := 0
	tr := &http.Transport{
		Protocols: &p,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials++
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: testTimeout}
	for i := range 3 {
		resp, err := client.Get(e.url + "/h2?n=" + strings.Repeat("x", i))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		s := decodeSeen(t, body)
		if got := s.Header.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("X-Forwarded-For %q, want 127.0.0.1", got)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Error("no X-Request-Id on the response")
		}
	}
	if dials != 1 {
		t.Errorf("%d connections for 3 requests, want 1", dials)
	}
}
