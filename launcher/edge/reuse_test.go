package edge

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestStorageReusedAcrossRequests sends requests of differing heads on one
// client connection: the storage the edge reuses from one request to the
// next (the request, its header, the instance's response) must carry
// nothing over.
func TestStorageReusedAcrossRequests(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var seen []string
		for _, k := range []string{"X-A", "X-B", "X-C", "Cookie"} {
			if vs, ok := r.Header[k]; ok {
				seen = append(seen, k+"="+strings.Join(vs, "|"))
			}
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		for i := range n {
			w.Header().Set(fmt.Sprintf("X-Resp-%d", i), "v")
		}
		fmt.Fprintf(w, "%s %s [%s]", r.Method, r.URL.RequestURI(), strings.Join(seen, " "))
	}))
	defer backend.Close()
	e := newEdge(t, Options{})
	e.add(t, "web.1", strings.TrimPrefix(backend.URL, "http://"))

	c := dialClient(t, e.addr)
	defer c.Close()
	steps := []struct {
		head, want string
		respFields int
	}{
		{"GET /one?n=3 HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\nX-B: 3\r\nCookie: k=v\r\n\r\n", "GET /one?n=3 [X-A=1 X-B=2|3 Cookie=k=v]", 3},
		{"GET /two HTTP/1.1\r\nHost: a\r\n\r\n", "GET /two []", 0},
		{"HEAD /three?n=1 HTTP/1.1\r\nHost: a\r\nX-C: 4\r\n\r\n", "", 1},
		{"GET /four?n=2 HTTP/1.1\r\nHost: b\r\nX-B: 5\r\n\r\n", "GET /four?n=2 [X-B=5]", 2},
		{"GET /five HTTP/1.1\r\nHost: a\r\n\r\n", "GET /five []", 0},
	}
	for i, s := range steps {
		c.send(t, s.head)
		method, _, _ := strings.Cut(s.head, " ")
		resp, body := c.read(t, method)
		if string(body) != s.want {
			t.Errorf("request %d: the app saw %q, want %q", i+1, body, s.want)
		}
		n := 0
		for k := range resp.Header {
			if strings.HasPrefix(k, "X-Resp-") {
				n++
			}
		}
		if n != s.respFields {
			t.Errorf("request %d: %d X-Resp-* fields in the response, want %d: %v", i+1, n, s.respFields, resp.Header)
		}
		if id := resp.Header["X-Request-Id"]; len(id) != 1 {
			t.Errorf("request %d: X-Request-Id %q, want one", i+1, id)
		}
	}
}
