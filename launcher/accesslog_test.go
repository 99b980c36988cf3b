package launcher

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/corral-run/corral/internal/logesc"
	"github.com/corral-run/corral/launcher/edge"
	"github.com/corral-run/corral/launcher/output"
)

// FuzzAccessLog: whatever method and target a client sends, the access
// log writes one line per request, in text and JSON, with no raw control
// byte (CR, LF, ESC, BEL…) and nothing that is not UTF-8, the target
// escaped as nginx escapes it; JSON lines are valid JSON.
func FuzzAccessLog(f *testing.F) {
	for _, s := range []string{
		"/", "/x%0d%0acorral%20|%20web.1%20is%20ready", "/x\r\ncorral | web.1 is ready\x1b[2J",
		"/caf\xc3\xa9\xff", "\x1b]0;title\x07", "/\u2028\"\\", "example.com:443",
	} {
		f.Add("GET", s)
	}
	f.Add("TR\nACE", "*")
	f.Fuzz(func(t *testing.T, method, target string) {
		a := edge.Access{Method: method, Target: target, Status: 200, Bytes: 5, Duration: time.Millisecond, Instance: "web.1", RequestID: "abc"}
		for _, format := range []output.Format{output.Text, output.JSON} {
			var buf bytes.Buffer
			accessLog(output.New(&buf, 6, output.Options{Format: format}))(a)
			line := buf.String()
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Fatalf("%s: not one line: %q", format, line)
			}
			for _, c := range []byte(line[:len(line)-1]) {
				if c < ' ' || c == 0x7f {
					t.Fatalf("%s: raw control byte %#x in %q", format, c, line)
				}
			}
			if !utf8.ValidString(line) {
				t.Fatalf("%s: not UTF-8: %q", format, line)
			}
			wantMethod, wantTarget := logesc.String(method), logesc.String(target)
			if format == output.Text {
				if !strings.HasPrefix(line, "edge   | "+wantMethod+" "+wantTarget+" 200 5B ") {
					t.Fatalf("text: %q, want method %q and target %q", line, wantMethod, wantTarget)
				}
				continue
			}
			var o struct{ Method, URI string }
			if err := json.Unmarshal([]byte(line), &o); err != nil {
				t.Fatalf("json: %v: %q", err, line)
			}
			if o.Method != wantMethod || o.URI != wantTarget {
				t.Fatalf("json: method %q, uri %q; want %q, %q", o.Method, o.URI, wantMethod, wantTarget)
			}
		}
	})
}

// TestAccessLogKinds: the access line says what answered: the instance of
// a proxied request ("-" for none), "static" for a file the edge served
// itself; in JSON, a kind field says it for every request. A request the
// response cache took part in says how (cache=hit, miss, stale).
func TestAccessLogKinds(t *testing.T) {
	for _, tt := range []struct {
		name     string
		a        edge.Access
		text     string
		kind     string
		instance string
		cache    string
	}{
		{"app", edge.Access{Kind: edge.KindApp, Instance: "web.2"}, "GET /x 200 5B 1ms web.2 id=abc\n", "app", "web.2", ""},
		{"no instance", edge.Access{Kind: edge.KindApp}, "GET /x 200 5B 1ms - id=abc\n", "app", "", ""},
		{"static", edge.Access{Kind: edge.KindStatic}, "GET /x 200 5B 1ms static id=abc\n", "static", "", ""},
		{"cache hit", edge.Access{Kind: edge.KindApp, Cache: "hit"}, "GET /x 200 5B 1ms - id=abc cache=hit\n", "app", "", "hit"},
		{"cache miss", edge.Access{Kind: edge.KindApp, Instance: "web.1", Cache: "miss"}, "GET /x 200 5B 1ms web.1 id=abc cache=miss\n", "app", "web.1", "miss"},
		{"stale", edge.Access{Kind: edge.KindApp, Cache: "stale"}, "GET /x 200 5B 1ms - id=abc cache=stale\n", "app", "", "stale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			a.Method, a.Target, a.Status, a.Bytes, a.Duration, a.RequestID = "GET", "/x", 200, 5, time.Millisecond, "abc"
			var buf bytes.Buffer
			accessLog(output.New(&buf, 4, output.Options{}))(a)
			if got := buf.String(); got != "edge | "+tt.text {
				t.Errorf("text: %q, want %q", got, "edge | "+tt.text)
			}
			buf.Reset()
			accessLog(output.New(&buf, 4, output.Options{Format: output.JSON}))(a)
			var o struct{ Kind, Instance, Request_ID, Cache string }
			if err := json.Unmarshal(buf.Bytes(), &o); err != nil {
				t.Fatalf("json: %v: %q", err, buf.String())
			}
			if o.Kind != tt.kind || o.Instance != tt.instance || o.Cache != tt.cache {
				t.Errorf("json: kind %q, instance %q, cache %q; want %q, %q, %q: %s", o.Kind, o.Instance, o.Cache, tt.kind, tt.instance, tt.cache, buf.String())
			}
		})
	}
}
