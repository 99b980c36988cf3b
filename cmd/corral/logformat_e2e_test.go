package main

// End-to-end tests of --log-format json: every line corral writes to
// stdout is one JSON object, whoever wrote it.

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// logObject is one line of corral's JSON output; Raw is the line.
type logObject struct {
	Time      string   `json:"time"`
	Level     string   `json:"level"`
	Source    string   `json:"source"`
	Type      string   `json:"type"`
	Msg       string   `json:"msg"`
	Method    string   `json:"method"`
	URI       string   `json:"uri"`
	Status    int      `json:"status"`
	Bytes     int64    `json:"bytes"`
	Duration  *float64 `json:"duration_ms"`
	Instance  string   `json:"instance"`
	RequestID string   `json:"request_id"`
	Raw       string   `json:"-"`
}

// parseLogLines parses every line of corral's JSON output, failing the test
// on a line that is not one JSON object with a time.
func parseLogLines(t *testing.T, lines []string) []logObject {
	t.Helper()
	var objs []logObject
	for i, line := range lines {
		var fields map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		if err := dec.Decode(&fields); err != nil || dec.More() {
			t.Fatalf("stdout line %d is not one JSON object (%v): %q", i+1, err, line)
		}
		var o logObject
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("stdout line %d: %v: %q", i+1, err, line)
		}
		if _, err := time.Parse(time.RFC3339Nano, o.Time); err != nil {
			t.Errorf("stdout line %d: time %q: %v", i+1, o.Time, err)
		}
		if o.Source == "" {
			t.Errorf("stdout line %d has no source: %q", i+1, line)
		}
		o.Raw = line
		objs = append(objs, o)
	}
	return objs
}

// TestLogFormatJSON: a run with a web and a worker, two requests and a
// SIGTERM writes only JSON objects: corral's messages, an access-log object
// per request with the request id the client saw, and each process line as
// a string (one that is JSON, one plain, one not UTF-8).
func TestLogFormatJSON(t *testing.T) {
	workerJSON := `{"level":"info","msg":"from the worker","n":1}`
	dir := app(t, map[string]string{"Procfile": "" +
		"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		`worker: printf '%s\n' '` + workerJSON + `' 'a plain worker line'; printf 'bad \377 byte\n'; exec sleep 60` + "\n"})
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	// On a "terminal" with timestamps forced, JSON still has neither
	// colours nor a time prefix.
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--log-format", "json", "--timestamps")
	r.waitFor(`"msg":"web\.1 is ready`)
	r.waitFor(`"source":"worker\.1".*"msg":"bad`)

	var ids []string
	for _, path := range []string{"/", "/two"} {
		resp, body := get(t, base+path, nil)
		if resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
			t.Fatalf("GET %s: %d %q", path, resp.StatusCode, body)
		}
		id := resp.Header.Get("X-Request-Id")
		if id == "" {
			t.Fatalf("GET %s: no X-Request-Id", path)
		}
		ids = append(ids, id)
	}
	r.waitForNth(`"source":"edge"`, 2)
	r.signal(syscall.SIGTERM)
	if code := r.wait(15 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}

	objs := parseLogLines(t, r.lines())
	var corral, access, worker, web []logObject
	for _, o := range objs {
		switch o.Source {
		case "corral":
			corral = append(corral, o)
		case "edge":
			access = append(access, o)
		case "worker.1":
			worker = append(worker, o)
		case "web.1":
			web = append(web, o)
		}
		if strings.Contains(o.Raw, "\x1b[") || strings.Contains(o.Raw, "\\u001b[") {
			t.Errorf("colour in JSON: %s", o.Raw)
		}
	}
	found := func(objs []logObject, msg string) bool {
		for _, o := range objs {
			if strings.Contains(o.Msg, msg) {
				return true
			}
		}
		return false
	}
	for _, msg := range []string{"edge: listening on port " + strconv.Itoa(port), "web.1 is ready", "received SIGTERM"} {
		if !found(corral, msg) {
			t.Errorf("no corral message %q", msg)
		}
	}
	for _, o := range corral {
		if o.Level != "INFO" && o.Level != "WARN" && o.Level != "ERROR" {
			t.Errorf("corral message with level %q: %s", o.Level, o.Raw)
		}
	}

	if len(access) != 2 {
		t.Fatalf("%d access-log objects, want 2:\n%s", len(access), r.output())
	}
	for i, a := range access {
		if a.Level != "INFO" || a.Msg != "request" || a.Method != "GET" || a.URI != []string{"/", "/two"}[i] ||
			a.Status != 200 || a.Bytes != int64(len("hello from web.1\n")) || a.Duration == nil || *a.Duration <= 0 ||
			a.Instance != "web.1" || a.RequestID != ids[i] {
			t.Errorf("access-log object %d: %s; want GET, status 200, request_id %s", i, a.Raw, ids[i])
		}
	}

	wantWorker := []string{workerJSON, "a plain worker line", "bad \uFFFD byte"}
	if len(worker) != len(wantWorker) {
		t.Fatalf("worker.1's lines: %d objects, want %d:\n%s", len(worker), len(wantWorker), r.output())
	}
	for i, o := range worker {
		if o.Msg != wantWorker[i] || o.Type != "worker" {
			t.Errorf("worker.1 line %d: %s; want type worker and msg %q", i, o.Raw, wantWorker[i])
		}
	}
	if !found(web, "listening") || web[0].Type != "web" {
		t.Errorf("web.1's lines: %+v", web)
	}
}

// TestLogFormatErrors: a bad value, from the flag or the variable, is a
// usage error naming both; corral build's own message is JSON too.
func TestLogFormatErrors(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: sleep 60\n"})
	tests := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"start", "--log-format", "xml"}, nil, `corral: log-format "xml": want text or json (from --log-format)`},
		{[]string{"start"}, []string{"CORRAL_LOG_FORMAT=logfmt"}, `corral: log-format "logfmt": want text or json (from $CORRAL_LOG_FORMAT)`},
		{[]string{"build", "--log-format", "JSONL"}, nil, `corral: log-format "JSONL": want text or json (from --log-format)`},
	}
	for _, tt := range tests {
		code, out, errOut := corral(t, dir, tt.env, tt.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("corral %v %v: status %d, stdout %q, stderr %q; want 2 and %q", tt.env, tt.args, code, out, errOut, tt.want)
		}
	}

	// corral build's own message, with no step to run, is JSON too.
	code, out, errOut := corral(t, dir, []string{"CORRAL_LOG_FORMAT=json"}, "build")
	if code != 0 {
		t.Fatalf("build: status %d\n%s", code, errOut)
	}
	objs := parseLogLines(t, strings.Split(out, "\n"))
	if len(objs) != 1 || objs[0].Source != "corral" || objs[0].Level != "INFO" || !strings.Contains(objs[0].Msg, "corral build: nothing to build") {
		t.Errorf("build --log-format json: %q", out)
	}
}

// TestAccessLogInjection: a request target with encoded line ends and
// escapes, or raw bytes past ASCII, is logged as the client sent it,
// those bytes escaped as nginx escapes them (\xHH): one access line per
// request, never a forged line nor a terminal escape, in text and JSON.
func TestAccessLogInjection(t *testing.T) {
	const forged = "/x%0d%0acorral%20|%20web.1%20is%20ready%1b[2J?q=%0a%1b]0;title%07"
	const rawBytes = "/caf\xc3\xa9/\xff\"\\"
	const rawEscaped = `/caf\xC3\xA9/\xFF\x22\x5C`
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := app(t, map[string]string{"Procfile": "web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n"})
			port := freePort(t)
			r := start(t, dir, nil, "start", "-p", strconv.Itoa(port), "--log-format", format)
			r.waitFor(`web\.1 is ready`)
			for _, target := range []string{forged, rawBytes} {
				c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				c.Close()
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("GET %q: %v %v", target, resp, err)
				}
			}
			r.waitForNth(`(edge|"source":"edge").*(GET|"method":"GET")`, 2)
			r.signal(syscall.SIGTERM)
			r.wait(15 * time.Second)
			lines := r.lines()
			ready := 0
			for _, l := range lines {
				if strings.ContainsAny(l, "\r\x1b\x07\x7f") || !utf8.ValidString(l) {
					t.Errorf("raw control bytes in a log line: %q", l)
				}
				if strings.Contains(l, "web.1 is ready") {
					ready++
				}
			}
			if ready != 1 {
				t.Errorf("%d lines say web.1 is ready, want 1:\n%s", ready, strings.Join(lines, "\n"))
			}
			var access []string
			if format == "json" {
				for _, o := range parseLogLines(t, lines) {
					if o.Source == "edge" {
						access = append(access, o.URI)
					}
				}
			} else {
				for _, l := range lines {
					if _, rest, ok := strings.Cut(l, "| GET "); ok && strings.HasPrefix(l, "edge") {
						access = append(access, strings.Fields(rest)[0])
					}
				}
			}
			if want := []string{forged, rawEscaped}; !slices.Equal(access, want) {
				t.Errorf("logged targets %q, want %q:\n%s", access, want, strings.Join(lines, "\n"))
			}
		})
	}
}
