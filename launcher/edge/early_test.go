package edge

// An app may answer a request before it has read the request's body (a
// 400 or a 413 for an upload it refuses, as gunicorn and Django do): the
// edge must forward that answer, not take the app's closing the
// connection under the body for a failure.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// earlyBackend is an instance that answers every request with status as
// soon as it has read its head and the first read bytes of its body,
// then closes the connection (if hangUp), or keeps it open without
// reading any more until the test ends. requests counts the requests,
// conns the connections that carried one.
type earlyBackend struct {
	addr         string
	requests     atomic.Int64
	mu           sync.Mutex
	conns        map[net.Conn]bool
	status, read int
	hangUp       bool
	done         chan struct{}
	wg           sync.WaitGroup
	answer       string
}

func newEarlyBackend(t *testing.T, status, read int, hangUp bool) *earlyBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &earlyBackend{addr: ln.Addr().String(), conns: map[net.Conn]bool{}, status: status, read: read, hangUp: hangUp, done: make(chan struct{})}
	b.answer = fmt.Sprintf("refused after %d bytes", read)
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Go(func() { b.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		close(b.done)
		b.mu.Lock()
		for c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *earlyBackend) serve(c net.Conn) {
	defer c.Close()
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return // a probe
	}
	b.requests.Add(1)
	b.mu.Lock()
	b.conns[c] = true
	b.mu.Unlock()
	io.CopyN(io.Discard, req.Body, int64(b.read))
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n", b.status, http.StatusText(b.status), len(b.answer))
	if b.hangUp {
		io.WriteString(c, "Connection: close\r\n")
	}
	io.WriteString(c, "\r\n"+b.answer)
	if !b.hangUp {
		<-b.done
	}
}

// connections returns how many connections carried a request.
func (b *earlyBackend) connections() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// TestEarlyAnswer: the app's answer reaches the client, whether the app
// then closes the connection under the body still coming (the edge's
// writes fail) or keeps it without reading (the edge's writes block);
// it is no upstream error, no retry, and the connection is not used again.
func TestEarlyAnswer(t *testing.T) {
	tests := []struct {
		name   string
		status int
		hangUp bool
	}{
		{"answers and closes", http.StatusBadRequest, true},
		{"answers and stops reading", http.StatusRequestEntityTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &recorder{}
			e := newEdge(t, Options{Observer: obs})
			b := newEarlyBackend(t, tt.status, 64<<10, tt.hangUp)
			other := newBackend(t, named("web.2")) // where a retry would go
			e.add(t, "web.1", b.addr)
			for i := range 2 {
				req, _ := http.NewRequest(http.MethodPost, e.url+"/upload", bytes.NewReader(make([]byte, 5<<20)))
				req.Header.Set(markHeader, testMark(t))
				resp, body := e.do(t, req)
				if resp.StatusCode != tt.status || string(body) != b.answer {
					t.Fatalf("request %d: %d %q, want the app's %d %q", i+1, resp.StatusCode, body, tt.status, b.answer)
				}
				if a := e.nextAccess(t); a.Status != tt.status || a.Instance != "web.1" || a.Bytes != int64(len(b.answer)) {
					t.Errorf("request %d: access record %+v, want %d from web.1", i+1, a, tt.status)
				}
			}
			if n := b.connections(); n != 2 {
				t.Errorf("2 requests on %d connections: a connection the app answered early must not be used again", n)
			}
			if other.hits.Load() != 0 {
				t.Error("an answered request was sent to another instance")
			}
			requests, upstream, retries, _ := obs.snapshot()
			if requests["app "+http.StatusText(tt.status)] != 2 || len(requests) != 1 {
				t.Errorf("observed %v, want the app's two %d", requests, tt.status)
			}
			if upstream != 0 || retries != 0 {
				t.Errorf("%d upstream errors and %d retries, want none", upstream, retries)
			}
		})
	}
}

// TestAnswerWhileReadingBody: an app that starts its answer before it
// reads the body (full duplex) gets the whole body still, and the client
// the whole answer.
func TestAnswerWhileReadingBody(t *testing.T) {
	e := newEdge(t, Options{})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		rc.EnableFullDuplex()
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "reading: ")
		rc.Flush()
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d bytes, %v", n, err)
	})
	e.add(t, "web.1", b.addr)
	const size = 5 << 20
	for range 2 {
		resp, body := e.do(t, must(http.NewRequest(http.MethodPut, e.url+"/up", bytes.NewReader(make([]byte, size)))))
		if want := "reading: " + strconv.Itoa(size) + " bytes, <nil>"; resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("%d %q, want 200 %q", resp.StatusCode, body, want)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
