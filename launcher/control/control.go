// Package control is corral's control socket: a Unix socket, one per
// running corral, through which corral ps, restart, scale, reload and stop
// reach the running formation, as overmind's does. One request and one
// answer per connection, each a line of JSON; the socket is the app
// owner's alone (mode 0600 in a 0700 directory).
package control

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Request is what a CLI verb asks of the running corral.
type Request struct {
	Verb string   `json:"verb"` // ps, restart, scale, reload, stop
	Args []string `json:"args,omitempty"`
}

// Response is the running corral's answer.
type Response struct {
	Error     string    `json:"error,omitempty"`   // the request failed: why
	Message   string    `json:"message,omitempty"` // what was done, for people
	Processes []Process `json:"processes,omitempty"`
}

// Process is one row of corral ps.
type Process struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Pid      int     `json:"pid"`   // of its process group's leader; 0 when not running
	State    string  `json:"state"` // starting, up, stopping, restarting, asleep, exited
	Uptime   float64 `json:"uptime_seconds"`
	Restarts int     `json:"restarts"`
	RSS      int64   `json:"rss_bytes"` // of its whole process group
	Port     int     `json:"port"`
	Served   int64   `json:"requests_served"`    // web instances behind the edge
	InFlight int64   `json:"requests_in_flight"` // web instances behind the edge
	// WebConcurrency is the WEB_CONCURRENCY a web instance was started
	// with; 0 for none.
	WebConcurrency int `json:"web_concurrency,omitempty"`
}

// maxSocketPath is the room a Unix socket path has on Linux (sun_path,
// less its NUL).
const maxSocketPath = 107

// Paths are where the control socket of the app in dir may live, in the
// order corral tries them: .corral/control.sock in the app directory;
// else (a read-only app directory, or a path too long for a Unix socket)
// a name made from dir's hash in runtimeDir ($XDG_RUNTIME_DIR; "" is the
// temporary directory). dir must be absolute.
func Paths(dir, runtimeDir string) []string {
	var paths []string
	if p := filepath.Join(dir, ".corral", "control.sock"); len(p) <= maxSocketPath {
		paths = append(paths, p)
	}
	if runtimeDir == "" {
		runtimeDir = os.TempDir()
	}
	sum := sha256.Sum256([]byte(dir))
	return append(paths, filepath.Join(runtimeDir, "corral-"+hex.EncodeToString(sum[:8])+".sock"))
}

// Find returns the first of paths where a socket file exists, or the
// first path when there is none (for the error that names it).
func Find(paths []string) string {
	for _, p := range paths {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSocket != 0 {
			return p
		}
	}
	return paths[0]
}

// ErrRunning is Listen's error when another corral answers on the socket.
var ErrRunning = errors.New("another corral is running this app")

// Running returns an ErrRunning that names path when the socket there
// answers: another corral runs the app. nil when nothing answers.
func Running(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil
	}
	c.Close()
	return fmt.Errorf("%w: its control socket %s answers (corral ps lists its processes; corral stop stops it)", ErrRunning, path)
}

// Listen makes the control socket at path. A socket there that answers
// belongs to another corral running the same app: that is an error, and
// its socket is left alone. One that does not answer was left by a corral
// that died; it is replaced.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if filepath.Base(filepath.Dir(path)) == ".corral" {
		// Like .pytest_cache: the directory keeps itself out of git.
		ignore := filepath.Join(filepath.Dir(path), ".gitignore")
		if _, err := os.Lstat(ignore); errors.Is(err, fs.ErrNotExist) {
			os.WriteFile(ignore, []byte("# made by corral: its control socket lives here\n*\n"), 0o644)
		}
	}
	if err := Running(path); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("control socket: removing the stale %s: %w", path, err)
	}
	// The umask covers the moment between bind and chmod.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// Serve answers the requests on ln with handle until ctx is done, then
// closes ln and waits for the connections it is answering.
func Serve(ctx context.Context, ln net.Listener, handle func(Request) Response) {
	var conns sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			break
		}
		conns.Go(func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			var req Request
			line, err := bufio.NewReaderSize(c, 4096).ReadBytes('\n')
			resp := Response{}
			if err != nil {
				resp.Error = "no request read: " + err.Error()
			} else if err := json.Unmarshal(line, &req); err != nil {
				resp.Error = "a request that is not JSON: " + err.Error()
			} else {
				resp = handle(req)
			}
			json.NewEncoder(c).Encode(resp)
		})
	}
	ln.Close()
	conns.Wait()
}

// Call sends req to the corral whose control socket is path and returns
// its answer; an answer with Error set is returned as an error too. The
// errors say what the user can do: no corral running, a stale socket,
// another user's.
func Call(path string, req Request, timeout time.Duration) (Response, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Response{}, fmt.Errorf("no corral is running this app (no control socket at %s): start it with corral start", path)
	case errors.Is(err, syscall.ECONNREFUSED):
		return Response{}, fmt.Errorf("no corral is running this app: %s is a stale control socket, left by a corral that did not stop cleanly (the next corral start replaces it)", path)
	case errors.Is(err, fs.ErrPermission):
		return Response{}, fmt.Errorf("permission denied on %s: the corral running this app belongs to another user", path)
	case err != nil:
		return Response{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("control socket %s: %w", path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("control socket %s: no answer: %w", path, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
