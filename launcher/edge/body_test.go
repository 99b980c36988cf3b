package edge

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// onlyReader hides bytes.Reader's Len so the client sends a chunked body.
type onlyReader struct{ io.Reader }

// bodyBackend records what it received.
type bodyBackend struct {
	mu            sync.Mutex
	contentLength int64
	chunked       bool
	sum           [32]byte
	n             int
	expect        string
}

func (b *bodyBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	b.mu.Lock()
	b.contentLength = r.ContentLength
	b.chunked = len(r.TransferEncoding) > 0
	b.sum = sha256.Sum256(data)
	b.n = len(data)
	b.expect = r.Header.Get("Expect")
	b.mu.Unlock()
	fmt.Fprintf(w, "%d", len(data))
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestRequestBodyBuffered(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		chunked   bool
		memBuffer int
	}{
		{"1KB chunked", 1 << 10, true, 0},
		{"1KB with length", 1 << 10, false, 0},
		{"3MB chunked spills to a file", 3 << 20, true, 64 << 10},
		{"3MB with length spills to a file", 3 << 20, false, 64 << 10},
		{"exactly MemBuffer", 64 << 10, true, 64 << 10},
		{"MemBuffer plus one", 64<<10 + 1, true, 64 << 10},
		{"empty chunked", 0, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{MemBuffer: tt.memBuffer, MaxBody: 4 << 20, TempDir: t.TempDir()})
			var bb bodyBackend
			b := newBackend(t, bb.ServeHTTP)
			e.add(t, "web.1", b.addr)

			data := randomBytes(t, tt.size)
			var body io.Reader = bytes.NewReader(data)
			if tt.chunked {
				body = onlyReader{body}
			}
			req, _ := http.NewRequest(http.MethodPost, e.url+"/upload", body)
			resp, got := e.do(t, req)
			if resp.StatusCode != http.StatusOK || string(got) != fmt.Sprint(tt.size) {
				t.Fatalf("%d %q, want 200 %d", resp.StatusCode, got, tt.size)
			}
			bb.mu.Lock()
			defer bb.mu.Unlock()
			if bb.chunked {
				t.Error("the instance got a chunked body; want a Content-Length")
			}
			if tt.size > 0 && bb.contentLength != int64(tt.size) {
				t.Errorf("instance saw Content-Length %d, want %d", bb.contentLength, tt.size)
			}
			if bb.n != tt.size || bb.sum != sha256.Sum256(data) {
				t.Errorf("instance got %d bytes (sha %x), want the %d sent", bb.n, bb.sum[:4], tt.size)
			}
		})
	}
}

// The upload is read completely before an instance is used: a slow client
// holds no app worker while it sends.
func TestSlowUploadHoldsNoInstance(t *testing.T) {
	e := newEdge(t, Options{})
	var bb bodyBackend
	b := newBackend(t, bb.ServeHTTP)
	e.add(t, "web.1", b.addr)

	mark := testMark(t)
	c := rawConn(t, e.addr)
	io.WriteString(c, markRaw("POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n\r\n12345", mark))
	time.Sleep(50 * time.Millisecond)
	if b.reached(mark) != 0 {
		t.Fatal("the instance got the request before its body was complete")
	}
	io.WriteString(c, "67890")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "10" {
		t.Fatalf("%d %q, want 200 10", resp.StatusCode, got)
	}
	if n := b.reached(mark); n != 1 {
		// The checks that a request did not reach an instance rely on it.
		t.Errorf("the instance got %d requests with the test's %s, want 1", n, markHeader)
	}
}

func TestRequestBodyTooLarge(t *testing.T) {
	const limit = 1 << 10
	tests := []struct {
		name string
		req  string
	}{
		{"declared length", "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 2048\r\n\r\n" + strings.Repeat("x", 2048)},
		{"declared length not sent", "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 100000000\r\n\r\n"},
		{"chunked", "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"400\r\n" + strings.Repeat("x", 1024) + "\r\n400\r\n" + strings.Repeat("y", 1024) + "\r\n0\r\n\r\n"},
		{"chunked one byte over", "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"401\r\n" + strings.Repeat("x", 1025) + "\r\n0\r\n\r\n"},
		{"expect 100-continue", "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 2048\r\nExpect: 100-continue\r\n\r\n"},
		// A chunk larger than what is left is refused at its size line:
		// its data is never sent here, and need not be.
		{"chunk size over, no data", "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n401\r\n"},
		{"huge chunk size, no data", "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff;x=1\r\n"},
		{"second chunk over, no data", "POST /up HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"200\r\n" + strings.Repeat("x", 512) + "\r\n201\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEdge(t, Options{MaxBody: limit})
			var bb bodyBackend
			b := newBackend(t, bb.ServeHTTP)
			e.add(t, "web.1", b.addr)

			mark := testMark(t)
			resp, body := rawRoundTrip(t, e.addr, markRaw(tt.req, mark))
			checkErrorPage(t, resp, body, http.StatusRequestEntityTooLarge, false)
			if !resp.Close {
				t.Errorf("413 without Connection: close: %v", resp.Header)
			}
			if !strings.Contains(string(body), "1 KiB") {
				t.Errorf("413 page does not name the limit: %q", body)
			}
			b.checkNotReached(t, mark, "an oversized request reached the instance")
		})
	}

	t.Run("at the limit", func(t *testing.T) {
		e := newEdge(t, Options{MaxBody: limit})
		var bb bodyBackend
		b := newBackend(t, bb.ServeHTTP)
		e.add(t, "web.1", b.addr)
		for _, chunked := range []bool{false, true} {
			var body io.Reader = bytes.NewReader(randomBytes(t, limit))
			if chunked {
				body = onlyReader{body}
			}
			req, _ := http.NewRequest(http.MethodPost, e.url+"/up", body)
			resp, got := e.do(t, req)
			if resp.StatusCode != 200 || string(got) != fmt.Sprint(limit) {
				t.Errorf("chunked=%v: %d %q, want 200", chunked, resp.StatusCode, got)
			}
		}
	})
}

func TestExpectContinue(t *testing.T) {
	e := newEdge(t, Options{})
	var bb bodyBackend
	b := newBackend(t, bb.ServeHTTP)
	e.add(t, "web.1", b.addr)

	c := rawConn(t, e.addr)
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("first line %q (%v), want 100 Continue", line, err)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("100 Continue followed by %q", blank)
	}
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(got) != "5" {
		t.Fatalf("%d %q, want 200 5", resp.StatusCode, got)
	}
	bb.mu.Lock()
	expect, sum := bb.expect, bb.sum
	bb.mu.Unlock()
	if expect != "" {
		t.Errorf("instance got Expect: %q; the edge already read the body", expect)
	}
	if sum != sha256.Sum256([]byte("hello")) {
		t.Error("instance got the wrong body")
	}

	// Go's own client, which waits for the 100 before sending.
	tr := &http.Transport{ExpectContinueTimeout: testTimeout}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/up", strings.NewReader("hello, world"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, err = (&http.Client{Transport: tr, Timeout: testTimeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "12" || time.Since(start) > testTimeout/2 {
		t.Fatalf("%d %q after %v, want 200 12 at once", resp.StatusCode, got, time.Since(start))
	}
}

// A client that stops sending its body mid-way is timed out after
// BodyTimeout; it must not be told that its request succeeded.
func TestStalledUpload(t *testing.T) {
	e := newEdge(t, Options{BodyTimeout: 100 * time.Millisecond})
	var bb bodyBackend
	b := newBackend(t, bb.ServeHTTP)
	e.add(t, "web.1", b.addr)

	mark := testMark(t)
	c := rawConn(t, e.addr)
	io.WriteString(c, markRaw("POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n\r\n123", mark))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode < 400 {
			t.Errorf("stalled upload answered %d %q; want 408 (or the connection closed)", resp.StatusCode, body)
		}
	}
	b.checkNotReached(t, mark, "a partial body reached the instance")
}

// An upload that stalls behind a request on the same connection that ran
// long enough to be watched (see conn.arm), whose watcher read the
// upload's first byte, is timed out like any other and never reaches the
// instance.
func TestStalledUploadAfterWatchedRequest(t *testing.T) {
	e := newEdge(t, Options{BodyTimeout: 100 * time.Millisecond})
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	var released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, r.URL.Path)
	})
	t.Cleanup(unblock) // before the backend's Close, which waits for its handlers
	e.add(t, "web.1", b.addr)

	slow, mark := testMark(t), testMark(t)
	c := rawConn(t, e.addr)
	br := bufio.NewReader(c)
	io.WriteString(c, markRaw("GET /slow HTTP/1.1\r\nHost: app\r\n\r\n", slow))
	select {
	case <-arrived:
	case <-time.After(testTimeout):
		t.Fatal("the first request did not reach the instance")
	}
	time.Sleep(2 * watchDelay) // the watcher is reading the connection
	io.WriteString(c, markRaw("POST /up HTTP/1.1\r\nHost: app\r\nContent-Length: 10\r\n\r\n123", mark))
	time.Sleep(20 * time.Millisecond) // for the watcher to take its first byte
	unblock()

	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("first response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "/slow" {
		t.Fatalf("first response %d %q, want 200 /slow", resp.StatusCode, body)
	}
	resp, err = http.ReadResponse(br, nil)
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("stalled upload answered %d %q; want 408 (or the connection closed)", resp.StatusCode, body)
		}
	}
	b.checkNotReached(t, mark, "a partial body reached the instance")
	if n := b.reached(slow); n != 1 {
		t.Errorf("the instance got %d requests with the first request's %s, want 1", n, markHeader)
	}
}

// BodyTimeout limits each read of the client's body, not the time the app
// takes to answer once the body is in.
func TestBodyTimeoutDoesNotLimitTheApp(t *testing.T) {
	e := newEdge(t, Options{BodyTimeout: 100 * time.Millisecond, UpstreamTimeout: testTimeout})
	b := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	})
	e.add(t, "web.1", b.addr)
	req, _ := http.NewRequest(http.MethodPost, e.url+"/slow", strings.NewReader("a=1"))
	resp, body := e.do(t, req)
	if resp.StatusCode != 200 || string(body) != "done" {
		t.Fatalf("%d %q, want 200 done: the request was cut off after BodyTimeout", resp.StatusCode, body)
	}
}

// When the edge cannot store a body (the temp dir is unusable), the client
// gets a server error, not a 200 with an empty body.
func TestSpillFailureIsAServerError(t *testing.T) {
	e := newEdge(t, Options{MemBuffer: 1 << 10, TempDir: t.TempDir() + "/missing"})
	var bb bodyBackend
	b := newBackend(t, bb.ServeHTTP)
	e.add(t, "web.1", b.addr)
	mark := testMark(t)
	req, _ := http.NewRequest(http.MethodPost, e.url+"/up", bytes.NewReader(randomBytes(t, 4<<10)))
	req.Header.Set(markHeader, mark)
	resp, body := e.do(t, req)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("%d %q, want 500", resp.StatusCode, body)
	}
	b.checkNotReached(t, mark, "the instance got a request whose body was lost")
}

func TestSpill(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		memMax   int
		limit    int64
		wantFile bool
		wantErr  error
	}{
		{"empty", 0, 16, -1, false, nil},
		{"in memory", 16, 16, -1, false, nil},
		{"spills", 17, 16, -1, true, nil},
		{"large spills", 3 << 20, 64 << 10, -1, true, nil},
		{"at limit", 100, 16, 100, true, nil},
		{"over limit", 101, 16, 100, false, errTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &sync.Pool{New: newPooledSpill}
			s := newSpill(pool, tt.memMax, t.TempDir())
			defer s.release()
			data := randomBytes(t, tt.size)
			err := s.fill(bytes.NewReader(data), tt.limit)
			if err != tt.wantErr {
				t.Fatalf("fill: %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if (s.file != nil) != tt.wantFile {
				t.Errorf("in a file: %v, want %v", s.file != nil, tt.wantFile)
			}
			if s.Len() != int64(tt.size) {
				t.Errorf("Len %d, want %d", s.Len(), tt.size)
			}
			for range 2 { // each reader starts over
				got, err := io.ReadAll(s.reader())
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("reader gave %d bytes (%v), want the %d written", len(got), err, len(data))
				}
			}
		})
	}
}
