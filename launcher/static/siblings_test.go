package static

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSiblingsRemembered: which precompressed siblings a file has is
// remembered for the cache's ttl, and seen anew after it; a remembered
// sibling that has gone is not served once the ttl has passed.
func TestSiblingsRemembered(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.css", "plain")
	s := newServer(t, Mount{Prefix: "/s/", Dir: dir})
	const ttl = 100 * time.Millisecond
	s.siblings.ttl = ttl // the disk path's, for files too large to hold
	s.cache.valid = ttl  // the held files'

	get := func(step string, wantEnc, wantBody, wantVary string) {
		t.Helper()
		w := do(s, "GET", "/s/a.css", "Accept-Encoding", "gzip")
		if w.Code != 200 || w.Header().Get("Content-Encoding") != wantEnc || w.Body.String() != wantBody || w.Header().Get("Vary") != wantVary {
			t.Errorf("%s: %d, Content-Encoding %q, Vary %q, body %q; want 200, %q, %q, %q",
				step, w.Code, w.Header().Get("Content-Encoding"), w.Header().Get("Vary"), w.Body.String(), wantEnc, wantVary, wantBody)
		}
	}
	get("no sibling", "", "plain", "")
	write("a.css.gz", "zipped")
	get("a sibling written within the ttl", "", "plain", "") // remembered as absent
	time.Sleep(ttl + 20*time.Millisecond)
	get("after the ttl", "gzip", "zipped", "Accept-Encoding")
	if w := do(s, "GET", "/s/a.css"); w.Body.String() != "plain" || w.Header().Get("Vary") != "Accept-Encoding" {
		t.Errorf("no Accept-Encoding, sibling remembered: body %q, Vary %q; want the plain file and Vary", w.Body.String(), w.Header().Get("Vary"))
	}
	os.Remove(filepath.Join(dir, "a.css.gz"))
	time.Sleep(ttl + 20*time.Millisecond)
	get("a remembered sibling removed, after the ttl", "", "plain", "")

	s.siblings.ttl, s.cache.valid = 0, 0 // nothing remembered: each request looks
	write("a.css.gz", "zipped")
	get("ttl 0", "gzip", "zipped", "Accept-Encoding")
}

func TestSiblingCacheBounded(t *testing.T) {
	c := siblingCache{ttl: time.Hour, max: 3}
	now := time.Now()
	for i, n := range []string{"a", "b", "c", "d"} {
		c.put(siblingKey{name: n}, [2]uint8{siblingAbsent, siblingAbsent}, now)
		if len(c.m) > c.max {
			t.Fatalf("after %d puts: %d entries, want at most %d", i+1, len(c.m), c.max)
		}
	}
	if got := c.get(siblingKey{name: "d"}, now); got != [2]uint8{siblingAbsent, siblingAbsent} {
		t.Errorf("the last entry put: %v", got)
	}
	if got := c.get(siblingKey{name: "d"}, now.Add(time.Hour)); got != [2]uint8{} {
		t.Errorf("an entry as old as the ttl: %v, want unknown", got)
	}
}
