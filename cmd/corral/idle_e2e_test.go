package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestIdleConnectionsFillTheFDLimit: idle keep-alive connections, more
// than corral has file descriptors for (ulimit -n 256), do not stop it
// serving. It closes the oldest idle ones to keep accepting, every
// connection and then a new client get their answers, and the log says
// so once.
func TestIdleConnectionsFillTheFDLimit(t *testing.T) {
	const fill = 300
	dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
	port := strconv.Itoa(freePort(t))
	r := startCmd(t, exec.Command("sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, corralBin, "start", "-p", port, "--no-access-log"), dir, nil)
	r.waitFor(`web\.1 is ready`)

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range fill {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		if err != nil {
			t.Fatalf("idle connection %d of %d: %v; output:\n%s", i+1, fill, err, r.output())
		}
		c.SetDeadline(time.Time{})
	}
	resp, body, err := fetch(&http.Client{Timeout: 10 * time.Second}, "http://127.0.0.1:"+port+"/", nil)
	if err != nil || resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
		t.Fatalf("a new client, with %d idle connections open: %v %q; output:\n%s", fill, err, body, r.output())
	}

	r.signal(syscall.SIGTERM)
	r.wait(10 * time.Second)
	re := regexp.MustCompile(`edge: \d+ connections open, the most the file-descriptor limit allows: closed (\d+) idle connections, the oldest, to keep accepting`)
	var lines []string
	for _, l := range r.lines() {
		if re.MatchString(l) {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d lines about closing idle connections, want 1; output:\n%s", len(lines), r.output())
	}
	t.Log(lines[0])
	if n, _ := strconv.Atoi(re.FindStringSubmatch(lines[0])[1]); n < fill-256 {
		t.Errorf("%s: fewer than the %d connections past the limit", lines[0], fill-256)
	}
}
