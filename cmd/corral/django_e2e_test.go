package main

// End-to-end tests of the edge in front of a real Django app under real
// gunicorn (examples/django), as a user deploys it.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// needDjango skips the test when gunicorn or Django is missing, except in
// CI, where it fails.
func needDjango(t *testing.T, dir string) {
	t.Helper()
	_, errG := exec.LookPath("gunicorn")
	cmd := exec.Command("python3", "-c", "import django")
	cmd.Dir = dir
	errD := cmd.Run()
	if errG == nil && errD == nil {
		return
	}
	msg := fmt.Sprintf("needs gunicorn and python3-django (gunicorn: %v, django: %v)", errG, errD)
	if os.Getenv("CORRAL_REQUIRE_INTEGRATION") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// djangoApp copies examples/django into a temporary directory, so that
// collectstatic and Python's caches stay out of the repository.
func djangoApp(t *testing.T) string {
	t.Helper()
	dst := copyExample(t, "django")
	needDjango(t, dst)
	return dst
}

// copyExample copies examples/name into a temporary directory, leaving out
// what a run makes (staticfiles, caches, bin) and the files named in skip.
func copyExample(t *testing.T, name string, skip ...string) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("../../examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return copyTree(t, src, skip...)
}

// copyTree copies the app in src into a temporary directory, as
// copyExample does, keeping whether each file is executable.
func copyTree(t *testing.T, src string, skip ...string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if slices.Contains(skip, rel) {
			return nil
		}
		if d.IsDir() && (d.Name() == "staticfiles" || d.Name() == "__pycache__" || d.Name() == "node_modules" || rel == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		perm := os.FileMode(0o644)
		if fi, err := d.Info(); err == nil && fi.Mode()&0o111 != 0 {
			perm = 0o755
		}
		return os.WriteFile(filepath.Join(dst, rel), b, perm)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// startDjango runs corral on a Django app copy with web=2 and waits until
// both instances are ready.
func startDjango(t *testing.T, args ...string) (*session, string) {
	t.Helper()
	dir := djangoApp(t)
	port := freePort(t)
	r := start(t, dir, []string{"PORT=" + strconv.Itoa(port)}, append([]string{"start", "-m", "web=2", "-t", "10"}, args...)...)
	r.waitFor(`web\.1 is ready`)
	r.waitFor(`web\.2 is ready`)
	return r, "http://127.0.0.1:" + strconv.Itoa(port)
}

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := fetch(http.DefaultClient, url, header)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// fetch GETs url through c with header and reads the whole body.
func fetch(c *http.Client, url string, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	return resp, body, nil
}

func TestDjangoThroughEdge(t *testing.T) {
	r, base := startDjango(t)

	t.Run("page", func(t *testing.T) {
		resp, body := get(t, base+"/", nil)
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("/static/css/site.")) {
			t.Fatalf("status %d, body %.300s", resp.StatusCode, body)
		}
	})

	t.Run("static from the edge", func(t *testing.T) {
		_, page := get(t, base+"/", nil)
		hashed := regexp.MustCompile(`/static/css/site\.[0-9a-f]{12}\.css`).Find(page)
		if hashed == nil {
			t.Fatalf("no hashed stylesheet link in %.300s", page)
		}
		resp, body := get(t, base+string(hashed), nil)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
			t.Errorf("Cache-Control %q for a hashed name", cc)
		}
		etag := resp.Header.Get("Etag")
		resp, _ = get(t, base+string(hashed), http.Header{"If-None-Match": {etag}})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
		}
		resp, part := get(t, base+string(hashed), http.Header{"Range": {"bytes=0-9"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(part, body[:10]) {
			t.Errorf("Range: status %d, %q", resp.StatusCode, part)
		}
		// The edge answered, not gunicorn: no access-log line from a web instance.
		time.Sleep(200 * time.Millisecond)
		for _, l := range r.lines() {
			if strings.HasPrefix(l, "web.") && strings.Contains(l, string(hashed)) {
				t.Errorf("the app served a static file: %s", l)
			}
		}
		resp, _ = get(t, base+"/static/../manage.py", nil)
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("traversal: status %d", resp.StatusCode)
		}
	})

	t.Run("forwarded headers", func(t *testing.T) {
		resp, body := get(t, base+"/whoami", http.Header{
			"X-Forwarded-For":   {"6.6.6.6"},
			"X-Forwarded-Proto": {"https"},
		})
		var who map[string]any
		if err := json.Unmarshal(body, &who); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if who["x_forwarded_for"] != "127.0.0.1" || who["x_forwarded_proto"] != "http" || who["is_secure"] != false {
			t.Errorf("an untrusted client's forwarded headers reached the app: %v", who)
		}
		if id := resp.Header.Get("X-Request-Id"); id == "" || who["x_request_id"] != id {
			t.Errorf("X-Request-Id: response %q, app saw %v", id, who["x_request_id"])
		}
	})

	t.Run("upload over the limit", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 100<<20)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		status, _ := io.ReadAll(io.LimitReader(c, 12))
		if string(status) != "HTTP/1.1 413" {
			t.Errorf("100 MB upload: %q, want a 413 before the body is sent", status)
		}
	})

	t.Run("upload within the limit", func(t *testing.T) {
		payload := bytes.Repeat([]byte("corral"), 1<<20) // 6 MiB
		resp, err := http.Post(base+"/upload", "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Bytes int }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 200 || got.Bytes != len(payload) {
			t.Errorf("status %d, app got %d bytes, want %d", resp.StatusCode, got.Bytes, len(payload))
		}
	})

	t.Run("slow clients do not starve gunicorn", func(t *testing.T) {
		// 2 instances x 2 sync workers = 4 workers. 20 clients that trickle
		// their bodies would hold every one of them without the edge.
		var conns []net.Conn
		for range 20 {
			c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nslow")
			conns = append(conns, c)
		}
		began := time.Now()
		resp, _ := get(t, base+"/whoami", nil)
		if resp.StatusCode != 200 || time.Since(began) > 2*time.Second {
			t.Errorf("a normal request took %v (status %d) behind 20 slow clients", time.Since(began), resp.StatusCode)
		}
	})

	t.Run("server-sent events stream through", func(t *testing.T) {
		resp, err := http.Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		began := time.Now()
		buf := make([]byte, 256)
		n, err := resp.Body.Read(buf)
		if err != nil || n == 0 || time.Since(began) > 600*time.Millisecond {
			t.Errorf("first event after %v (%d bytes, %v): the stream was buffered", time.Since(began), n, err)
		}
	})

	t.Run("health", func(t *testing.T) {
		resp, _ := get(t, base+"/_corral/health", nil)
		if resp.StatusCode != 200 {
			t.Errorf("edge health: %d", resp.StatusCode)
		}
	})

	r.signal(syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", code, r.output())
	}
}

// load sends GETs from n goroutines until stop is closed, counting
// answers by status (0: a transport error).
func load(base, path string, n int, stop <-chan struct{}) (counts map[int]int, wait func()) {
	var mu sync.Mutex
	counts = make(map[int]int)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status := 0
				if resp, err := client.Get(base + path); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				mu.Lock()
				counts[status]++
				mu.Unlock()
			}
		})
	}
	return counts, func() { wg.Wait() }
}

// TestKillInstanceUnderLoad: SIGKILL to one instance's gunicorn master
// under load costs no client a failed request: the other instance answers.
func TestKillInstanceUnderLoad(t *testing.T) {
	r, base := startDjango(t, "--no-access-log")
	line := r.waitFor(`web\.1 started \(pid \d+`)
	pid, _ := strconv.Atoi(regexp.MustCompile(`pid (\d+)`).FindStringSubmatch(line)[1])

	stop := make(chan struct{})
	counts, wait := load(base, "/whoami", 8, stop)
	time.Sleep(time.Second)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.waitFor(`web\.1 killed by SIGKILL`)
	time.Sleep(2 * time.Second)
	close(stop)
	wait()
	if counts[200] == 0 || len(counts) != 1 {
		t.Errorf("answers by status: %v; want only 200s", counts)
	}
	r.waitFor(`web\.1 is ready`) // restarted
	r.signal(syscall.SIGTERM)
	r.wait(20 * time.Second)
}

// TestSIGTERMUnderLoad: requests in flight when SIGTERM arrives are
// answered before the instances stop.
func TestSIGTERMUnderLoad(t *testing.T) {
	r, base := startDjango(t, "--no-access-log")
	var wg sync.WaitGroup
	var ok, failed atomic.Int32
	for range 4 {
		wg.Go(func() {
			resp, err := http.Get(base + "/slow?ms=1500")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err == nil && resp.StatusCode == 200 {
				ok.Add(1)
			} else {
				failed.Add(1)
			}
		})
	}
	time.Sleep(500 * time.Millisecond) // all four are in flight
	r.signal(syscall.SIGTERM)
	wg.Wait()
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if ok.Load() != 4 {
		t.Errorf("%d of 4 in-flight requests answered, %d failed:\n%s", ok.Load(), failed.Load(), r.output())
	}
}

// TestDjangoReloadUnderLoad: SIGHUP replaces both gunicorn instances under
// load with no failed request.
func TestDjangoReloadUnderLoad(t *testing.T) {
	r, base := startDjango(t, "--no-access-log")
	stop := make(chan struct{})
	counts, wait := load(base, "/whoami", 6, stop)
	time.Sleep(500 * time.Millisecond)
	r.signal(syscall.SIGHUP)
	r.waitFor(`reload: every web instance replaced`)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wait()
	if counts[200] == 0 || len(counts) != 1 {
		t.Errorf("answers by status during the reload: %v; want only 200s", counts)
	}
	r.signal(syscall.SIGTERM)
	if code := r.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d", code)
	}
}
