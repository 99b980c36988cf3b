package edge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowClientConn dials addr with a small receive buffer, as a client on a
// slow link that reads nothing for now.
func slowClientConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: testTimeout, Control: func(network, address string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return c
}

// The response is read whole from the instance before it goes to the
// client: the instance is free again while a slow client still reads.
func TestResponseBuffered(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		setLength bool
		memBuffer int
	}{
		{"2MB with Content-Length", 2 << 20, true, 0},
		{"2MB with Content-Length, small MemBuffer", 2 << 20, true, 16 << 10},
		// A Go app writing 2 MB without setting Content-Length sends it
		// chunked; it is no stream (DESIGN.md: only text/event-stream,
		// X-Accel-Buffering: no and upgrades pass unbuffered).
		{"2MB chunked", 2 << 20, false, 0},
		{"8MB chunked", 8 << 20, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{MemBuffer: tt.memBuffer, TempDir: t.TempDir()})
			payload := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16)
			handlerDone := make(chan struct{}, 1)
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				defer func() { handlerDone <- struct{}{} }()
				if tt.setLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
				}
				w.Header().Set("Content-Type", "application/octet-stream")
				w.Write(payload)
			})
			be := e.add(t, "web.1", b.addr)

			c := slowClientConn(t, e.addr)
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: app\r\n\r\n")
			select {
			case <-handlerDone:
			case <-time.After(2 * time.Second):
				t.Fatal("the app could not finish writing its response while the client reads nothing: a slow client holds it")
			}
			deadline := time.Now().Add(time.Second)
			for be.Inflight() != 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if n := be.Inflight(); n != 0 {
				t.Fatalf("instance still has %d request in flight while the client reads nothing: a slow client holds it", n)
			}

			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || !bytes.Equal(got, payload) {
				t.Fatalf("%d with %d bytes, want 200 with the %d sent", resp.StatusCode, len(got), len(payload))
			}
			if resp.ContentLength != int64(len(payload)) {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, len(payload))
			}
			if a := e.nextAccess(t); a.Status != 200 || a.Bytes != int64(len(payload)) || a.Instance != "web.1" {
				t.Errorf("access %+v", a)
			}
		})
	}
}

func TestResponseHeadersAndStatus(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		handler http.HandlerFunc
		status  int
		body    string
		check   func(t *testing.T, h http.Header)
	}{
		{"404 with body", "GET", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "nope", 404)
		}, 404, "nope\n", nil},
		{"204", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(204)
		}, 204, "", func(t *testing.T, h http.Header) {
			if h.Get("Content-Length") != "" {
				t.Errorf("204 with Content-Length %q", h.Get("Content-Length"))
			}
		}},
		{"304", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(304)
		}, 304, "", func(t *testing.T, h http.Header) {
			if h.Get("ETag") != `"x"` {
				t.Error("ETag lost")
			}
		}},
		{"HEAD keeps the app's Content-Length", "HEAD", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1234")
		}, 200, "", func(t *testing.T, h http.Header) {
			if h.Get("Content-Length") != "1234" {
				t.Errorf("HEAD Content-Length %q, want 1234", h.Get("Content-Length"))
			}
		}},
		{"hop-by-hop response headers dropped", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "X-Internal")
			w.Header().Set("X-Internal", "secret")
			w.Header().Set("Keep-Alive", "timeout=1")
			w.Header().Set("Set-Cookie", "a=1")
			w.Header().Add("Set-Cookie", "b=2")
			io.WriteString(w, "ok")
		}, 200, "ok", func(t *testing.T, h http.Header) {
			if h.Get("X-Internal") != "" || h.Get("Keep-Alive") != "" {
				t.Errorf("hop-by-hop headers reached the client: %v", h)
			}
			if len(h["Set-Cookie"]) != 2 {
				t.Errorf("Set-Cookie %q, want both", h["Set-Cookie"])
			}
		}},
		{"app's own request id wins", "GET", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "from-app")
		}, 200, "", func(t *testing.T, h http.Header) {
			if h.Get("X-Request-Id") != "from-app" {
				t.Errorf("X-Request-Id %q", h.Get("X-Request-Id"))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{})
			b := newBackend(t, tt.handler)
			e.add(t, "web.1", b.addr)
			req, _ := http.NewRequest(tt.method, e.url+"/", nil)
			resp, body := e.do(t, req)
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if tt.check != nil {
				tt.check(t, resp.Header)
			}
		})
	}
}

// Streams pass as they come: the client gets the first event before the app
// writes the second.
func TestStreamingPassthrough(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
	}{
		{"event-stream", map[string]string{"Content-Type": "text/event-stream"}},
		{"event-stream with charset", map[string]string{"Content-Type": "text/event-stream; charset=utf-8"}},
		{"X-Accel-Buffering no", map[string]string{"Content-Type": "text/plain", "X-Accel-Buffering": "no"}},
		{"X-Accel-Buffering No with a length", map[string]string{"Content-Type": "text/plain", "X-Accel-Buffering": "No", "Content-Length": "22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{MemBuffer: 1 << 20})
			second := make(chan struct{})
			b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				io.WriteString(w, "data: one\n\n")
				http.NewResponseController(w).Flush()
				select {
				case <-second:
				case <-r.Context().Done():
					return
				}
				io.WriteString(w, "data: two\n\n")
			})
			be := e.add(t, "web.1", b.addr)

			resp, err := e.client.Get(e.url + "/events")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if v := resp.Header.Get("X-Accel-Buffering"); v != "" {
				t.Errorf("X-Accel-Buffering %q reached the client", v)
			}
			if ct := resp.Header.Get("Content-Type"); ct != tt.header["Content-Type"] {
				t.Errorf("Content-Type %q", ct)
			}
			br := bufio.NewReader(resp.Body)
			got := make(chan string, 1)
			go func() {
				var sb strings.Builder
				for range 2 {
					l, _ := br.ReadString('\n')
					sb.WriteString(l)
				}
				got <- sb.String()
			}()
			select {
			case ev := <-got:
				if ev != "data: one\n\n" {
					t.Fatalf("first event %q", ev)
				}
			case <-time.After(testTimeout / 2):
				close(second)
				t.Fatal("first event not received before the app wrote the second: the stream was buffered")
			}
			if be.Inflight() != 1 {
				t.Errorf("inflight %d during the stream, want 1", be.Inflight())
			}
			close(second)
			rest, _ := io.ReadAll(br)
			if string(rest) != "data: two\n\n" {
				t.Fatalf("rest %q", rest)
			}
			waitFor(t, "inflight back to 0", func() bool { return be.Inflight() == 0 })
		})
	}
}

// An instance that stalls mid-stream does not keep the client forever, and
// a client that leaves frees the instance.
func TestStreamClientLeaves(t *testing.T) {
	e := newEdge(t, Options{})
	appSawCancel := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hi\n\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(appSawCancel)
	})
	be := e.add(t, "web.1", b.addr)
	c := rawConn(t, e.addr)
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: app\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := bufio.NewReader(resp.Body).ReadString('\n')
	if l != "data: hi\n" {
		t.Fatalf("got %q", l)
	}
	c.Close()
	select {
	case <-appSawCancel:
	case <-time.After(testTimeout):
		t.Fatal("the app never learned the client left")
	}
	waitFor(t, "inflight back to 0", func() bool { return be.Inflight() == 0 })
}
