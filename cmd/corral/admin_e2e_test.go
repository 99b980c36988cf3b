package main

// End-to-end tests of --admin: the metrics a Prometheus would scrape and
// the status page a person would open, against a running corral, and the
// page as Chromium renders it.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/sockets"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// webAndWorker is a Procfile with a web app (the test helper) and a
// worker that stays up.
const webAndWorker = "web: CORRAL_TEST_HELPER=http exec %s\nworker: echo worker up; exec sleep 60\n"

// startAdmin starts corral on dir with --admin on a free loopback port and
// waits until web.1 is ready; it returns the session and the public and
// admin base URLs.
func startAdmin(t *testing.T, dir string, args ...string) (r *session, base, admin string) {
	t.Helper()
	ports := freeBase(t, 0, 1)
	base = "http://127.0.0.1:" + strconv.Itoa(ports)
	adminPort := strconv.Itoa(ports + 1)
	r = start(t, dir, nil, append([]string{"start", "-p", strconv.Itoa(ports), "--admin", adminPort, "--no-access-log"}, args...)...)
	r.waitFor(`admin: status page on http://127\.0\.0\.1:` + adminPort + `/`)
	r.waitFor(`web\.1 is ready`)
	return r, base, "http://127.0.0.1:" + adminPort
}

// scrapeMetrics GETs /metrics from the admin listener and parses it.
func scrapeMetrics(t *testing.T, admin string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, admin+"/metrics", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return fams
}

// metric returns the value of the series of family name whose labels
// include those given ("k=v"), summed over the series that match; ok
// says whether any did.
func metric(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for _, kv := range labels {
			k, val, _ := strings.Cut(kv, "=")
			if have[k] != val {
				match = false
			}
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		}
	}
	return v, ok
}

// TestAdminMetrics: the request counters move by exactly the requests
// sent, by kind and status class; the processes are there with their
// memory and requests.
func TestAdminMetrics(t *testing.T) {
	dir := app(t, map[string]string{
		"Procfile":         fmt.Sprintf(webAndWorker, helperBin),
		"public/hello.txt": "static hello\n",
	})
	r, base, admin := startAdmin(t, dir, "--static", "/assets/=public")
	r.waitFor(`worker\.1 +\| worker up`)

	for i := range 7 {
		if resp, _ := get(t, base+"/app/"+strconv.Itoa(i), nil); resp.StatusCode != 200 {
			t.Fatalf("app request: %d", resp.StatusCode)
		}
	}
	for _, p := range []string{"/assets/hello.txt", "/assets/hello.txt", "/assets/missing.txt"} {
		get(t, base+p, nil)
	}
	for range 2 {
		if resp, _ := get(t, base+"/_corral/health", nil); resp.StatusCode != 200 {
			t.Fatalf("health: %d", resp.StatusCode)
		}
	}

	fams := scrapeMetrics(t, admin)
	for _, tt := range []struct {
		kind, code string
		want       float64
	}{
		{"app", "2xx", 7}, {"static", "2xx", 2}, {"static", "4xx", 1}, {"health", "2xx", 2},
	} {
		if got, _ := metric(fams, "corral_http_requests_total", "kind="+tt.kind, "code="+tt.code); got != tt.want {
			t.Errorf("corral_http_requests_total{kind=%s,code=%s} = %v, want %v", tt.kind, tt.code, got, tt.want)
		}
	}
	if got, _ := metric(fams, "corral_http_requests_total"); got != 12 {
		t.Errorf("%v requests in all, want 12 (7 app, 3 static, 2 health)", got)
	}
	for kind, want := range map[string]float64{"app": 7, "static": 3, "health": 2} {
		if got, _ := metric(fams, "corral_http_request_duration_seconds", "kind="+kind); got != want {
			t.Errorf("durations of %s: %v, want %v", kind, got, want)
		}
	}
	for _, tt := range []struct {
		name   string
		labels []string
		want   func(float64) bool
	}{
		{"corral_process_up", []string{"name=web.1", "state=up"}, func(v float64) bool { return v == 1 }},
		{"corral_process_up", []string{"name=worker.1", "state=up"}, func(v float64) bool { return v == 1 }},
		{"corral_process_requests_served_total", []string{"name=web.1"}, func(v float64) bool { return v == 7 }},
		{"corral_process_requests_in_flight", []string{"name=web.1"}, func(v float64) bool { return v == 0 }},
		{"corral_process_resident_memory_bytes", []string{"name=web.1"}, func(v float64) bool { return v > 1e6 }},
		{"corral_process_resident_memory_bytes", []string{"name=worker.1"}, func(v float64) bool { return v > 1e5 }},
		{"corral_upstream_errors_total", nil, func(v float64) bool { return v == 0 }},
		{"corral_boot_gate_waits_total", nil, func(v float64) bool { return v == 0 }},
		{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 1e6 }}, // corral's own
	} {
		if got, ok := metric(fams, tt.name, tt.labels...); !ok || !tt.want(got) {
			t.Errorf("%s%v = %v (present %v)", tt.name, tt.labels, got, ok)
		}
	}
	// The admin listener is not the edge: its requests are not counted,
	// and the edge does not serve /metrics.
	if got, _ := metric(scrapeMetrics(t, admin), "corral_http_requests_total"); got != 12 {
		t.Errorf("after a second scrape: %v requests, want still 12", got)
	}
	if _, body := get(t, base+"/metrics", nil); strings.Contains(string(body), "corral_http_requests_total") {
		t.Error("the public port serves the metrics")
	}
	r.stop()
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(admin, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("the admin listener outlived corral")
	}
}

// TestAdminUpstreamErrors: an instance that stops listening while it
// still runs is an upstream error, and each request it failed is sent to
// the other instance: no client sees it.
func TestAdminUpstreamErrors(t *testing.T) {
	// web.2's shell stays, so corral does not see it exit; its server is
	// killed by the test.
	dir := app(t, map[string]string{"Procfile": "web: if [ \"$PS\" = web.2 ]; then CORRAL_TEST_HELPER=http " + helperBin + " & echo $! > web2.pid; wait; exec sleep 60; else CORRAL_TEST_HELPER=http exec " + helperBin + "; fi\n"})
	r, base, admin := startAdmin(t, dir, "-m", "web=2")
	r.waitFor(`web\.2 is ready`)
	for range 4 { // keep-alive connections to both
		get(t, base+"/", nil)
	}
	pid, err := os.ReadFile(filepath.Join(dir, "web2.pid"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	web2 := ps(t, dir)["web.2"]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(web2.Port))
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("web.2 still listens")
		}
		time.Sleep(10 * time.Millisecond)
	}

	for i := range 6 {
		if resp, body := get(t, base+"/", nil); resp.StatusCode != 200 || string(body) != "hello from web.1\n" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	fams := scrapeMetrics(t, admin)
	errs, _ := metric(fams, "corral_upstream_errors_total")
	retries, _ := metric(fams, "corral_upstream_retries_total")
	// Each failure is logged: the metric counts exactly those.
	logged := len(regexp.MustCompile(`edge: (cannot reach web\.2|web\.2 failed|web\.2 broke off)`).FindAllString(r.output(), -1))
	t.Logf("%v upstream errors, %v retries, %d failures logged", errs, retries, logged)
	if errs < 1 || errs != float64(logged) || retries != errs {
		t.Errorf("upstream errors %v, retries %v, failures logged %d: want at least one, each retried and logged\n%s", errs, retries, logged, r.output())
	}
	if got, _ := metric(fams, "corral_http_requests_total", "kind=app", "code=2xx"); got != 10 {
		t.Errorf("%v app 2xx, want 10", got)
	}
	r.stop()
}

// TestAdminOff: without --admin nothing more listens than the edge, and
// corral check says so.
func TestAdminOff(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": fmt.Sprintf(webAndWorker, helperBin)})
	_, out, _ := corral(t, dir, nil, "check")
	if !strings.Contains(out, "admin:    off") {
		t.Errorf("check without --admin:\n%s", out)
	}
	_, out, _ = corral(t, dir, nil, "check", "--admin", "9100")
	if !strings.Contains(out, "admin:    http://127.0.0.1:9100/") {
		t.Errorf("check with --admin 9100:\n%s", out)
	}

	port := freePort(t)
	r := start(t, dir, nil, "start", "-p", strconv.Itoa(port))
	r.waitFor(`web\.1 is ready`)
	ls, err := sockets.ProcessListeners(r.cmd.Process.Pid)
	if err != nil {
		t.Skipf("cannot list corral's sockets: %v", err)
	}
	var ports []string
	for _, l := range ls {
		ports = append(ports, strconv.Itoa(int(l.Addr.Port())))
	}
	if len(ports) != 1 || ports[0] != strconv.Itoa(port) {
		t.Errorf("corral listens on %v, want only the public port %d", ports, port)
	}
	if strings.Contains(r.output(), "admin:") {
		t.Errorf("an admin line without --admin:\n%s", r.output())
	}
	r.stop()
}

// TestAdminBadValue: a bad --admin (or $CORRAL_ADMIN) is an error naming
// it and its value, before anything starts.
func TestAdminBadValue(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "web: echo started > started; exec sleep 60\n"})
	for _, tt := range []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"--admin", "abc"}, nil, 2, `admin "abc": want a port from 1 to 65535`},
		{[]string{"--admin", "70000"}, nil, 2, `admin "70000": want a port`},
		{[]string{"--admin", "example.com:9100"}, nil, 2, `admin "example.com:9100": "example.com" is not an IP address`},
		{[]string{"--admin", "127.0.0.1:x"}, nil, 2, `admin "127.0.0.1:x": port "x" is not a number`},
		{nil, []string{"CORRAL_ADMIN=[::1]"}, 2, `admin "[::1]": want a port`},
		{nil, []string{"CORRAL_ADMIN=nope"}, 2, `(from $CORRAL_ADMIN)`},
		{[]string{"--admin", "5555", "-p", "5555"}, nil, 1, `--admin "127.0.0.1:5555": port 5555 is the public port`},
	} {
		code, out, errOut := corral(t, dir, tt.env, append([]string{"start"}, tt.args...)...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v %v: status %d, stderr %q; want %d and %q", tt.args, tt.env, code, errOut, tt.code, tt.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil || out != "" {
			t.Fatalf("%v %v: started anyway: %q", tt.args, tt.env, out)
		}
	}

	// A busy admin port: the error names it, and nothing starts.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	code, _, errOut := corral(t, dir, nil, "start", "-p", strconv.Itoa(freePort(t)), "--admin", busy)
	if code != 1 || !strings.Contains(errOut, "--admin 127.0.0.1:"+busy+": cannot listen (address already in use)") {
		t.Errorf("busy admin port: status %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
		t.Error("web started with the admin port busy")
	}
}

// TestAdminRestarts: a worker that crashes twice with --restart: both
// restarts are counted, and the status page lists them with their exit
// status.
func TestAdminRestarts(t *testing.T) {
	dir := app(t, map[string]string{"Procfile": "" +
		"web: CORRAL_TEST_HELPER=http exec " + helperBin + "\n" +
		"worker: n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo run $n; [ $n -ge 3 ] && exec sleep 60; exit 3\n"})
	r, _, admin := startAdmin(t, dir, "--restart")
	r.waitFor(`worker\.1 +\| run 3`)

	fams := scrapeMetrics(t, admin)
	if got, _ := metric(fams, "corral_instance_restarts_total", "type=worker", "reason=crash"); got != 2 {
		t.Errorf("worker crash restarts: %v, want 2", got)
	}
	if got, ok := metric(fams, "corral_instance_restarts_total", "type=web", "reason=crash"); !ok || got != 0 {
		t.Errorf("web crash restarts: %v (present %v), want a 0", got, ok)
	}
	_, body := get(t, admin+"/", nil)
	rows := regexp.MustCompile(`<tr><td class="mono">\d\d:\d\d:\d\d</td><td class="mono">worker\.1</td><td>crash</td><td class="why">exited with code 3</td></tr>`).FindAllString(string(body), -1)
	if len(rows) != 2 {
		t.Errorf("%d restart rows for worker.1, want 2:\n%s", len(rows), body)
	}
	// Its row says 2 restarts (the sixth column).
	if !regexp.MustCompile(`<tr data-name="worker\.1">(<td[^>]*>.*?</td>){5}<td class="n">2</td>`).Match(body) {
		t.Errorf("worker.1's row does not say 2 restarts:\n%s", body)
	}
	r.stop()
}

// TestStatusPageChromium: Chromium renders the status page of a running
// web + worker: its DOM has a row for each, and its screenshot a filled
// table, where a page with no rows has none.
func TestStatusPageChromium(t *testing.T) {
	notUnderRace(t)
	needTool(t, "chromium")
	began := time.Now()
	dir := app(t, map[string]string{"Procfile": fmt.Sprintf(webAndWorker, helperBin)})
	r, base, admin := startAdmin(t, dir)
	r.waitFor(`worker\.1 +\| worker up`)
	for range 25 {
		get(t, base+"/", nil)
	}
	waitForCharts(t, admin)
	shots := t.TempDir()

	dom := chromium(t, shots, "--dump-dom", admin+"/")
	for _, name := range []string{"web.1", "worker.1"} {
		row := regexp.MustCompile(`<tr data-name="` + regexp.QuoteMeta(name) + `"><td class="mono">` + regexp.QuoteMeta(name) + `</td>`)
		if !row.MatchString(dom) {
			t.Errorf("the DOM has no row for %s:\n%s", name, dom)
		}
	}
	if !strings.Contains(dom, `<td class="n">25</td>`) {
		t.Errorf("the DOM does not show web.1's 25 requests served:\n%s", dom)
	}
	// The charts: an SVG each, labelled with its numbers, with lines.
	for _, c := range []struct{ id, title, series string }{
		{"rate", `Requests per second, a point every 5 s over the last 15 minutes: \d+\.\d/s at \d\d:\d\d:\d\d, the latest; peak \d+\.\d/s`, "requests/s"},
		{"latency", `99th percentile of the time to answer a request, a point every 5 s over the last 15 minutes: [\d.]+ ms at`, "p99"},
		{"memory", `Resident memory of each process .*; the latest: web\.1 \d+ MiB, worker\.1 \d+ MiB, all together \d+ MiB`, "web.1"},
	} {
		svg := regexp.MustCompile(`<svg viewBox="0 0 \d+ \d+" role="img" aria-labelledby="` + c.id + `-title">\s*<title id="` + c.id + `-title">` + c.title)
		line := regexp.MustCompile(`<polyline class="line c\d" data-series="` + regexp.QuoteMeta(c.series) + `" points="[\d.]+,[\d.]+( [\d.]+,[\d.]+)+"`)
		if !svg.MatchString(dom) || !line.MatchString(dom) {
			t.Errorf("the DOM has no chart %s with a %s line:\n%s", c.id, c.series, dom)
		}
	}

	full := filepath.Join(shots, "status.png")
	chromium(t, shots, "--screenshot="+full, admin+"/")
	box, ink := tableInk(t, full)

	// The same page with its rows taken out: the check must fail on it.
	emptyPNG := filepath.Join(shots, "empty.png")
	chromium(t, shots, "--screenshot="+emptyPNG, "file://"+pageCopy(t, shots, "empty.html", regexp.MustCompile(`(?s)<tr data-name=.*?</tr>`).ReplaceAllString(dom, "")))
	emptyBox, emptyInk := tableInk(t, emptyPNG)

	// The same page without the charts' lines: the check of their ink
	// must fail on it.
	noLinesPNG := filepath.Join(shots, "nolines.png")
	chromium(t, shots, "--screenshot="+noLinesPNG, "file://"+pageCopy(t, shots, "nolines.html", regexp.MustCompile(`<polyline [^>]*>`).ReplaceAllString(dom, "")))
	// The legend's swatches are of the same colours: the lines' pixels
	// are those beyond the page's without them.
	withLines, noLinesInk := chartInk(t, full), chartInk(t, noLinesPNG)
	lines := withLines - noLinesInk

	t.Logf("table %v with %d ink pixels; without rows %v with %d; the charts' lines %d pixels; %v in all",
		box, ink, emptyBox, emptyInk, lines, time.Since(began).Round(time.Millisecond))
	// A few seconds of samples in a 15-minute chart are dots and short
	// lines: a dot of 2.5 units is some 5 pixels, fewer where two series'
	// dots overlap (all processes' memory on web.1's) or anti-aliasing
	// blends one into the grid. Five series: at least 10 pixels (17 seen
	// on a loaded machine, where 20 failed); the page without polylines
	// has none beyond the legend's.
	const minLines = 10
	if lines < minLines || noLinesInk == 0 {
		t.Errorf("the screenshot's charts have %d pixels of their lines' colours beyond the legend's %d, want at least %d (screenshot %s)", lines, noLinesInk, minLines, full)
	}
	const minInk = 400 // two rows of text in ten columns leave thousands
	if ink < minInk || box.Dx() < 600 || box.Dy() < 60 {
		t.Errorf("the screenshot's table %v has %d ink pixels in its rows, want a table over 600×60 with at least %d (screenshot %s)", box, ink, minInk, full)
	}
	if emptyInk >= minInk {
		t.Errorf("the page with no rows passes the check: %d ink pixels in %v", emptyInk, emptyBox)
	}
	r.stop()
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "corral-status-"+strconv.Itoa(os.Getpid())+".png")
		if b, err := os.ReadFile(full); err == nil && os.WriteFile(keep, b, 0o644) == nil {
			t.Logf("screenshot kept in %s", keep)
		}
	}
}

// TestStatusPageLayout: at 1280 px the page, the restarts table
// included, fits the window, even with a memory guard's long reason (it
// overflowed, unwrapped); on a phone the page fits too, a wide table
// scrolling in its own box.
func TestStatusPageLayout(t *testing.T) {
	needTool(t, "chromium")
	dir := app(t, map[string]string{"Procfile": fmt.Sprintf(webAndWorker, helperBin)})
	// A guard at 1% of 1 GiB: corral's own memory is over it, so it
	// recycles web.1 as soon as it is ready, and says why at length.
	r, _, admin := startAdmin(t, dir, "--memory-limit", "1GiB", "--memory-guard", "1")
	r.waitFor(`memory guard: the app's processes use .* recycling web\.1`)
	_, body := get(t, admin+"/", nil)
	if !regexp.MustCompile(`<td>memory_guard</td><td[^>]*>the app&#39;s processes use .{100,}</td>`).Match(body) {
		t.Fatalf("no restart row with the memory guard's reason:\n%s", body)
	}
	// The page as served, with a script that measures it: by how many
	// pixels the page, and each box of a wide table, are wider than
	// their window.
	measure := `<script>
var d = document.documentElement, out = ["page " + (d.scrollWidth - d.clientWidth)];
document.querySelectorAll("table").forEach(function (t) {
	var box = t.parentElement.classList.contains("wide") ? t.parentElement : t;
	out.push(t.id + " " + (box.scrollWidth - box.clientWidth) + (box === t ? "" : " in its box"));
});
document.body.setAttribute("data-overflow", out.join(", "));
</script>`
	shots := t.TempDir()
	file := pageCopy(t, shots, "status.html", strings.Replace(string(body), "</body>", measure+"</body>", 1))
	overflow := regexp.MustCompile(`data-overflow="([^"]*)"`)
	for _, tt := range []struct {
		size string
		want *regexp.Regexp
	}{
		{"1280,800", regexp.MustCompile(`^page 0, formation 0( in its box)?, restarts 0( in its box)?$`)},
		{"390,800", regexp.MustCompile(`^page 0, formation \d+ in its box, restarts \d+ in its box$`)},
	} {
		m := overflow.FindStringSubmatch(chromiumAt(t, tt.size, shots, "--dump-dom", "file://"+file))
		if m == nil {
			t.Fatalf("at %s: nothing measured", tt.size)
		}
		t.Logf("at %s: %s", tt.size, m[1])
		if !tt.want.MatchString(m[1]) {
			t.Errorf("at %s the page overflows: %s, want %s", tt.size, m[1], tt.want)
		}
	}
	r.stop()
}

// pageCopy writes a copy of a status page, html, as dir/name, without
// its refresh (a screenshot of a copy must not turn into one of the
// page), and returns its path.
func pageCopy(t *testing.T, dir, name, html string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	html = strings.Replace(html, `<meta http-equiv="refresh" content="2">`, "", 1)
	if err := os.WriteFile(path, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// chromium runs headless Chromium at 1200×800 with args and returns its
// stdout (the DOM, for --dump-dom).
func chromium(t *testing.T, profile string, args ...string) string {
	t.Helper()
	return chromiumAt(t, "1200,800", profile, args...)
}

// chromiumAt is chromium with a window of size ("W,H").
func chromiumAt(t *testing.T, size, profile string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--window-size=" + size, "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(profile, "profile"), "--no-first-run", "--disable-extensions"}
	cmd := exec.CommandContext(ctx, "chromium", append(base, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// The status page's formation table: a 2 px border of formationBorder,
// a header row of formationHead, white rows.
var (
	formationBorder = color.RGBA{0x1f, 0x6f, 0xeb, 0xff}
	formationHead   = color.RGBA{0xdb, 0xe6, 0xfb, 0xff}
	white           = color.RGBA{0xff, 0xff, 0xff, 0xff}
)

// tableInk finds the formation table in the PNG at path by its border
// and counts the pixels below its header row that are not its white
// background: the text and rules of its rows.
func tableInk(t *testing.T, path string) (box image.Rectangle, ink int) {
	t.Helper()
	img := readPNG(t, path)
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 800 {
		t.Errorf("screenshot %v, want 1200×800", b)
	}
	b := img.Bounds()
	box = image.Rectangle{Min: b.Max, Max: b.Min}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if near(img.At(x, y), formationBorder) {
				box = box.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	if box.Empty() {
		t.Fatalf("%s: no formation table (no pixel of its border colour)", path)
	}
	// Below the header row: from the first line, inside the border, that
	// is no longer the header's colour.
	x0, x1 := box.Min.X+2, box.Max.X-2
	y := box.Min.Y + 2
	for y < box.Max.Y-2 && near(img.At(x0+1, y), formationHead) {
		y++
	}
	for ; y < box.Max.Y-2; y++ {
		for x := x0; x < x1; x++ {
			if !near(img.At(x, y), white) {
				ink++
			}
		}
	}
	return box, ink
}

// The colours of the charts' first two lines (page.html's c0 and c1):
// requests/s and web.1, p99 and worker.1.
var (
	chartLine0 = color.RGBA{0x0e, 0x7c, 0x86, 0xff}
	chartLine1 = color.RGBA{0xc2, 0x41, 0x0c, 0xff}
)

// chartInk counts the pixels of the PNG at path that are of the charts'
// lines' colours, or close: a line 2 pixels wide is mostly its
// anti-aliased edges.
func chartInk(t *testing.T, path string) (n int) {
	t.Helper()
	img := readPNG(t, path)
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if c := img.At(x, y); within(c, chartLine0, 48) || within(c, chartLine1, 48) {
				n++
			}
		}
	}
	return n
}

// readPNG decodes the PNG at path.
func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// waitForCharts waits until the status page at admin has drawn a line
// of the request rate and of web.1's memory: two samples, 5 s apart.
// (Viewing the page changes nothing of what it shows.)
func waitForCharts(t *testing.T, admin string) {
	t.Helper()
	drawn := regexp.MustCompile(`data-series="requests/s" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get(t, admin+"/", nil)
		if drawn.Match(body) && strings.Contains(string(body), `data-series="web.1"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the status page has drawn no line in 30 s:\n%s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// near reports whether c is within a small distance of want in every
// channel (colour management may shift a value or two).
func near(c color.Color, want color.RGBA) bool { return within(c, want, 6) }

// within reports whether c is within dist of want in every channel.
func within(c color.Color, want color.RGBA, dist int) bool {
	r, g, b, _ := c.RGBA()
	d := func(v uint32, w uint8) bool {
		x := int(v>>8) - int(w)
		return x >= -dist && x <= dist
	}
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}
