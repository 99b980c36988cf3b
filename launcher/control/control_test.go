package control

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPaths(t *testing.T) {
	short := Paths("/srv/app", "/run/user/1000")
	if len(short) != 2 || short[0] != "/srv/app/.corral/control.sock" || !strings.HasPrefix(short[1], "/run/user/1000/corral-") {
		t.Errorf("Paths of a short dir: %q", short)
	}
	long := "/" + strings.Repeat("d", 120)
	if got := Paths(long, ""); len(got) != 1 || !strings.HasPrefix(got[0], os.TempDir()+"/corral-") {
		t.Errorf("Paths of a dir too long for a socket: %q", got)
	}
	if a, b := Paths("/a", "")[1], Paths("/b", "")[1]; a == b {
		t.Errorf("two apps share the runtime socket %s", a)
	}
}

// serve listens at a socket in a temporary directory and answers with
// handle until the test ends.
func serve(t *testing.T, handle func(Request) Response) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".corral", "control.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { Serve(ctx, ln, handle) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return path
}

func TestCallAndListen(t *testing.T) {
	path := serve(t, func(req Request) Response {
		if req.Verb == "fail" {
			return Response{Error: "no such thing"}
		}
		return Response{Message: req.Verb + " " + strings.Join(req.Args, ",")}
	})
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode(), err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), ".gitignore")); err != nil {
		t.Errorf(".corral/.gitignore: %v", err)
	}
	resp, err := Call(path, Request{Verb: "scale", Args: []string{"web=2"}}, 5*time.Second)
	if err != nil || resp.Message != "scale web=2" {
		t.Errorf("Call = %+v, %v", resp, err)
	}
	if _, err := Call(path, Request{Verb: "fail"}, 5*time.Second); err == nil || err.Error() != "no such thing" {
		t.Errorf("an answer with an error: %v", err)
	}
	// A second Listen at the same path finds the first answering.
	if _, err := Listen(path); !errors.Is(err, ErrRunning) {
		t.Errorf("second Listen: %v, want ErrRunning", err)
	}
	// A line that is not JSON gets an error, not a hang.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ps please\n"))
	buf := make([]byte, 200)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := c.Read(buf)
	if !strings.Contains(string(buf[:n]), "not JSON") {
		t.Errorf("answer to garbage: %q", buf[:n])
	}
}

func TestCallErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "control.sock")
	if _, err := Call(missing, Request{Verb: "ps"}, time.Second); err == nil || !strings.Contains(err.Error(), "no corral is running this app (no control socket") {
		t.Errorf("no socket: %v", err)
	}
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Call(stale, Request{Verb: "ps"}, time.Second); err == nil || !strings.Contains(err.Error(), "stale control socket") {
		t.Errorf("stale socket: %v", err)
	}
	// Listen replaces the stale socket.
	ln2, err := Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ln2.Close()
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("the socket outlives its listener")
	}
}
