package edge

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestSendTimeout: a client that stops taking a large response is cut off
// after SendTimeout, whether the edge sends it from its spill file with
// sendfile (a declared length) or streams it (chunked); one that keeps
// reading, however long the whole response takes, gets all of it.
func TestSendTimeout(t *testing.T) {
	const big = 16 << 20
	declared := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(big))
		w.Write(make([]byte, big))
	}
	streamed := func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		chunk := make([]byte, 64<<10)
		for range big / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			rc.Flush()
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		steady  bool // the client reads all along
		size    int
	}{
		{"declared, never read", declared, false, big},
		{"streamed, never read", streamed, false, big},
		{"declared, read slowly", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(4<<20))
			w.Write(make([]byte, 4<<20))
		}, true, 4 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const timeout = time.Second
			e := newEdgeConfig(t, Options{}, Config{SendTimeout: timeout})
			e.add(t, "web.1", newBackend(t, tt.handler).addr)
			c := rawConn(t, e.addr)
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: app\r\n\r\n")
			br := bufio.NewReaderSize(c, 4096)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var got int64
			if tt.steady {
				buf := make([]byte, 64<<10)
				for err == nil { // 64 KiB each 20 ms: over a second in all
					var n int
					n, err = io.ReadFull(resp.Body, buf)
					got += int64(n)
					time.Sleep(20 * time.Millisecond)
				}
				if got != int64(tt.size) || !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("a client reading all along got %d bytes (%v) in %v, want %d", got, err, time.Since(start), tt.size)
				}
				return
			}
			time.Sleep(timeout + timeout/2)
			got, err = io.Copy(io.Discard, resp.Body)
			if got >= int64(tt.size) || !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("a client that stopped reading got %d bytes (%v), want the connection cut before %d", got, err, tt.size)
			}
		})
	}
}

// TestSendTimeoutHTTP2: an HTTP/2 client that grants a stream no more
// window (it does not read the body) while its connection stays open is
// cut off after SendTimeout, its stream reset; the connection's writes
// never block, so only the stream's own deadline can end it.
func TestSendTimeoutHTTP2(t *testing.T) {
	const big = 16 << 20
	const timeout = time.Second
	e := newEdgeConfig(t, Options{}, Config{SendTimeout: timeout})
	e.add(t, "web.1", newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(big))
		w.Write(make([]byte, big))
	}).addr)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{
		MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Get(e.url + "/big")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("answered over %s, want HTTP/2", resp.Proto)
	}
	time.Sleep(timeout + timeout/2)
	got, err := io.Copy(io.Discard, resp.Body)
	if got >= big || err == nil {
		t.Fatalf("a client that stopped reading got %d bytes (%v), want its stream reset before %d", got, err, big)
	}
}

// TestSendTimeoutHTTP2Idle: an HTTP/2 stream that is quiet between two
// events for longer than SendTimeout (server-sent events) is not cut:
// the timeout is for writes the client does not take.
func TestSendTimeoutHTTP2Idle(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEdgeConfig(t, Options{}, Config{SendTimeout: timeout})
	e.add(t, "web.1", newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		io.WriteString(w, "data: one\n\n")
		rc.Flush()
		time.Sleep(3 * timeout)
		io.WriteString(w, "data: two\n\n")
	}).addr)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: testTimeout}).Get(e.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "data: one\n\ndata: two\n\n" || resp.ProtoMajor != 2 {
		t.Fatalf("%s: %q (%v), want both events", resp.Proto, body, err)
	}
}
