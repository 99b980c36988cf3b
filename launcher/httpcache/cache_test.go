package httpcache

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is when the test responses arrive.
var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// clock is a settable clock for a Cache.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// hdr builds a header from "Name: value" lines.
func hdr(lines ...string) http.Header {
	h := http.Header{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ":")
		h.Add(k, strings.TrimSpace(v))
	}
	return h
}

func date(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }

// TestStorable is RFC 9111's rules for storing a response in a shared
// cache (3, 3.5, 4.2.1, 5.2.2), case by case.
func TestStorable(t *testing.T) {
	for _, c := range []struct {
		name     string
		req      http.Header
		status   int
		resp     http.Header
		why      string        // "" : stored
		lifetime time.Duration // when stored
	}{
		{"max-age", nil, 200, hdr("Cache-Control: max-age=60"), "", 60 * time.Second},
		{"s-maxage wins over max-age (5.2.2.10)", nil, 200, hdr("Cache-Control: max-age=60, s-maxage=30"), "", 30 * time.Second},
		{"Expires minus Date (4.2.1)", nil, 200, hdr("Date: "+date(0), "Expires: "+date(100*time.Second)), "", 100 * time.Second},
		{"max-age wins over Expires", nil, 200, hdr("Date: "+date(0), "Expires: "+date(100*time.Second), "Cache-Control: max-age=5"), "", 5 * time.Second},
		{"Expires without Date: from the time received", nil, 200, hdr("Expires: " + date(40*time.Second)), "", 40 * time.Second},
		{"invalid Expires is already expired (5.3), kept for its validator", nil, 200, hdr("Expires: 0", "Etag: \"a\""), "", 0},
		{"invalid Expires and nothing to revalidate with", nil, 200, hdr("Expires: 0"), WhyUseless, 0},
		{"no explicit freshness: no heuristics", nil, 200, hdr("Last-Modified: " + date(-time.Hour)), WhyNoFreshness, 0},
		{"public alone gives no lifetime", nil, 200, hdr("Cache-Control: public"), WhyNoFreshness, 0},
		{"a Django page with default settings", nil, 200, hdr("Content-Type: text/html; charset=utf-8", "X-Frame-Options: DENY", "Vary: Cookie"), WhyNoFreshness, 0},
		{"no-store (5.2.2.5)", nil, 200, hdr("Cache-Control: max-age=60, no-store"), WhyNoStore, 0},
		{"private (5.2.2.7)", nil, 200, hdr("Cache-Control: private, max-age=60"), WhyPrivate, 0},
		{"qualified private", nil, 200, hdr(`Cache-Control: private="Set-Cookie", max-age=60`), WhyPrivate, 0},
		{"Set-Cookie", nil, 200, hdr("Cache-Control: public, max-age=60", "Set-Cookie: a=b"), WhySetCookie, 0},
		{"Authorization (3.5)", hdr("Authorization: Basic x"), 200, hdr("Cache-Control: max-age=60"), WhyAuthorization, 0},
		{"Authorization, public", hdr("Authorization: Basic x"), 200, hdr("Cache-Control: public, max-age=60"), "", 60 * time.Second},
		{"Authorization, s-maxage", hdr("Authorization: Basic x"), 200, hdr("Cache-Control: s-maxage=60"), "", 60 * time.Second},
		{"Authorization, must-revalidate", hdr("Authorization: Basic x"), 200, hdr("Cache-Control: must-revalidate, max-age=60"), "", 60 * time.Second},
		{"Vary: * (4.1)", nil, 200, hdr("Cache-Control: max-age=60", "Vary: Accept, *"), WhyVaryStar, 0},
		{"206", nil, 206, hdr("Cache-Control: max-age=60", "Content-Range: bytes 0-1/10"), WhyStatus, 0},
		{"500", nil, 500, hdr("Cache-Control: max-age=60"), WhyStatus, 0},
		{"404 with max-age", nil, 404, hdr("Cache-Control: max-age=60"), "", 60 * time.Second},
		{"301 with max-age", nil, 301, hdr("Cache-Control: max-age=600", "Location: /x"), "", 600 * time.Second},
		{"no-cache is stored, to revalidate (5.2.2.4)", nil, 200, hdr("Cache-Control: no-cache, max-age=60"), "", 60 * time.Second},
		{"max-age=0 with a validator", nil, 200, hdr("Cache-Control: max-age=0", "Etag: \"v1\""), "", 0},
		{"max-age=0, stale-if-error", nil, 200, hdr("Cache-Control: max-age=0, stale-if-error=60"), "", 0},
		{"max-age=0 and nothing else", nil, 200, hdr("Cache-Control: max-age=0"), WhyUseless, 0},
		{"max-age twice: the smaller (4.2.1)", nil, 200, hdr("Cache-Control: max-age=60", "Cache-Control: max-age=10"), "", 10 * time.Second},
		{"max-age malformed: stale", nil, 200, hdr("Cache-Control: max-age=ten"), WhyUseless, 0},
		{"max-age quoted", nil, 200, hdr(`Cache-Control: max-age="60"`), "", 60 * time.Second},
		{"max-age past 2^31 saturates (1.2.2)", nil, 200, hdr("Cache-Control: max-age=99999999999999999999"), "", (1 << 31) * time.Second},
		{"case does not matter", nil, 200, hdr("Cache-Control: Max-Age=60, PUBLIC"), "", 60 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			if req == nil {
				req = http.Header{}
			}
			p, why := decide(req, c.status, c.resp, t0, t0)
			if why != c.why {
				t.Fatalf("why %q, want %q", why, c.why)
			}
			if why == "" && p.lifetime != c.lifetime {
				t.Errorf("lifetime %v, want %v", p.lifetime, c.lifetime)
			}
		})
	}
}

// TestAgeAndUse is RFC 9111, 4.2.3's age calculation and 4.2.4's (and
// RFC 5861's) uses of a stale response, over time.
func TestAgeAndUse(t *testing.T) {
	type at struct {
		after           time.Duration // since t0
		age             time.Duration
		fresh, swr, sie bool
	}
	for _, c := range []struct {
		name   string
		sent   time.Duration // request sent at t0-sent
		resp   http.Header
		checks []at
	}{
		{"max-age", 0, hdr("Cache-Control: max-age=60", "Date: "+date(0)), []at{
			{0, 0, true, false, false}, {59 * time.Second, 59 * time.Second, true, false, false}, {60 * time.Second, 60 * time.Second, false, false, false}}},
		{"Age from upstream counts", 0, hdr("Cache-Control: max-age=60", "Age: 50", "Date: "+date(0)), []at{
			{0, 50 * time.Second, true, false, false}, {10 * time.Second, 60 * time.Second, false, false, false}}},
		{"list-valued Age: the first", 0, hdr("Cache-Control: max-age=60", "Age: 50, 10"), []at{
			{0, 50 * time.Second, true, false, false}}},
		{"invalid Age ignored", 0, hdr("Cache-Control: max-age=60", "Age: -3"), []at{
			{0, 0, true, false, false}}},
		{"apparent age from an old Date", 0, hdr("Cache-Control: max-age=60", "Date: "+date(-30*time.Second)), []at{
			{0, 30 * time.Second, true, false, false}, {30 * time.Second, 60 * time.Second, false, false, false}}},
		{"response delay counts", 2 * time.Second, hdr("Cache-Control: max-age=60", "Date: "+date(0)), []at{
			{0, 2 * time.Second, true, false, false}}},
		{"Date in the future: no negative age", 0, hdr("Cache-Control: max-age=60", "Date: "+date(time.Hour)), []at{
			{0, 0, true, false, false}}},
		{"stale-while-revalidate", 0, hdr("Cache-Control: max-age=1, stale-while-revalidate=10"), []at{
			{0, 0, true, false, false}, {5 * time.Second, 5 * time.Second, false, true, false}, {11 * time.Second, 11 * time.Second, false, false, false}}},
		{"stale-if-error", 0, hdr("Cache-Control: max-age=1, stale-if-error=10"), []at{
			{5 * time.Second, 5 * time.Second, false, false, true}, {12 * time.Second, 12 * time.Second, false, false, false}}},
		{"must-revalidate forbids stale use", 0, hdr("Cache-Control: max-age=1, must-revalidate, stale-if-error=10, stale-while-revalidate=10"), []at{
			{5 * time.Second, 5 * time.Second, false, false, false}}},
		{"proxy-revalidate forbids stale use", 0, hdr("Cache-Control: max-age=1, proxy-revalidate, stale-if-error=10"), []at{
			{5 * time.Second, 5 * time.Second, false, false, false}}},
		{"s-maxage with stale-while-revalidate (Vercel's)", 0, hdr("Cache-Control: s-maxage=1, stale-while-revalidate=59"), []at{
			{30 * time.Second, 30 * time.Second, false, true, false}}},
		{"no-cache: never fresh, never stale-served", 0, hdr("Cache-Control: no-cache, max-age=60, stale-if-error=60"), []at{
			{0, 0, false, false, false}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := &clock{now: t0}
			ca := New(Options{MaxBytes: 1 << 20, Now: clk.Now})
			k := ca.Key("http", "example.com", "/")
			if _, why := ca.Store(k, http.Header{}, 200, c.resp, []byte("body"), t0.Add(-c.sent), t0); why != "" {
				t.Fatalf("not stored: %s", why)
			}
			for _, a := range c.checks {
				clk.now = t0.Add(a.after)
				r := ca.Lookup(k, http.Header{})
				if r.Entry == nil {
					t.Fatalf("at +%v: nothing found", a.after)
				}
				if r.Age != a.age || r.Fresh != a.fresh || r.WhileRevalidate != a.swr || r.IfError != a.sie {
					t.Errorf("at +%v: age %v fresh %v swr %v sie %v; want %v %v %v %v",
						a.after, r.Age, r.Fresh, r.WhileRevalidate, r.IfError, a.age, a.fresh, a.swr, a.sie)
				}
				if got := r.Entry.AgeValue(r.Age)[0]; got != strconv.Itoa(int(a.age/time.Second)) {
					t.Errorf("at +%v: Age %q", a.after, got)
				}
			}
		})
	}
}

// TestVary: the secondary key (RFC 9111, 4.1).
func TestVary(t *testing.T) {
	ca := New(Options{MaxBytes: 1 << 20})
	k := ca.Key("http", "example.com", "/")
	store := func(req http.Header, vary, body string) {
		t.Helper()
		if _, why := ca.Store(k, req, 200, hdr("Cache-Control: max-age=60", "Vary: "+vary), []byte(body), t0, t0); why != "" {
			t.Fatalf("not stored: %s", why)
		}
	}
	find := func(req http.Header) string {
		r := ca.Lookup(k, req)
		if r.Entry == nil {
			return ""
		}
		return string(r.Entry.Body())
	}
	store(hdr("Accept-Language: en"), "Accept-Language", "english")
	store(hdr("Accept-Language: fr"), "Accept-Language", "french")
	store(http.Header{}, "Accept-Language", "none")
	for _, c := range []struct {
		req  http.Header
		want string
	}{
		{hdr("Accept-Language: en"), "english"},
		{hdr("Accept-Language:  en "), "english"}, // whitespace is not part of the value
		{hdr("Accept-Language: fr"), "french"},
		{hdr("Accept-Language: de"), ""},
		{http.Header{}, "none"},
		{hdr("Accept-Language: en", "Accept-Language: fr"), ""},
	} {
		if got := find(c.req); got != c.want {
			t.Errorf("%v: got %q, want %q", c.req, got, c.want)
		}
	}
	store(hdr("Accept-Language: en"), "Accept-Language", "english 2") // replaces its variant
	if got := find(hdr("Accept-Language: en")); got != "english 2" {
		t.Errorf("replaced variant: got %q", got)
	}
	if st := ca.Stats(); st.Entries != 3 {
		t.Errorf("%d entries, want 3", st.Entries)
	}

	// Accept-Encoding: the same preferences in other words select the
	// same response; a refusal does not.
	k2 := ca.Key("http", "example.com", "/page")
	if _, why := ca.Store(k2, hdr("Accept-Encoding: gzip, deflate, br"), 200, hdr("Cache-Control: max-age=60", "Vary: Accept-Encoding"), []byte("gz"), t0, t0); why != "" {
		t.Fatal(why)
	}
	for _, c := range []struct {
		ae   string
		want bool
	}{
		{"gzip, deflate, br", true}, {"br, gzip,deflate", true}, {"gzip;q=1.0, deflate, br, unknown", true}, {"x-gzip, deflate, br", true},
		{"gzip", false}, {"gzip;q=0, deflate, br", false}, {"", false},
	} {
		r := ca.Lookup(k2, hdr("Accept-Encoding: "+c.ae))
		if (r.Entry != nil) != c.want {
			t.Errorf("Accept-Encoding %q: found %v, want %v", c.ae, r.Entry != nil, c.want)
		}
	}
	if r := ca.Lookup(ca.Key("http", "example.com", "/other"), http.Header{}); r.Entry != nil {
		t.Error("another URL found")
	}
	if r := ca.Lookup(ca.Key("https", "example.com", "/"), http.Header{}); r.Entry != nil {
		t.Error("another scheme found")
	}
}

// TestNotModified: conditional requests answered from a stored response
// (RFC 9110, 13.1.2, 13.1.3, 13.2.2).
func TestNotModified(t *testing.T) {
	ca := New(Options{MaxBytes: 1 << 20})
	k := ca.Key("http", "h", "/")
	e, why := ca.Store(k, http.Header{}, 200, hdr("Cache-Control: max-age=60", `Etag: "v1"`, "Last-Modified: "+date(-time.Hour), "Content-Type: text/plain"), []byte("x"), t0, t0)
	if why != "" {
		t.Fatal(why)
	}
	for _, c := range []struct {
		req  http.Header
		want bool
	}{
		{hdr(`If-None-Match: "v1"`), true},
		{hdr(`If-None-Match: W/"v1"`), true}, // weak comparison
		{hdr(`If-None-Match: "a", "v1"`), true},
		{hdr(`If-None-Match: "a,b", "v1"`), true},
		{hdr(`If-None-Match: *`), true},
		{hdr(`If-None-Match: "v2"`), false},
		{hdr(`If-None-Match: "v2"`, "If-Modified-Since: "+date(0)), false}, // If-None-Match wins
		{hdr("If-Modified-Since: " + date(0)), true},
		{hdr("If-Modified-Since: " + date(-time.Hour)), true},
		{hdr("If-Modified-Since: " + date(-2*time.Hour)), false},
		{hdr("If-Modified-Since: yesterday"), false},
		{http.Header{}, false},
	} {
		if got := e.NotModified(ConditionsOf(c.req)); got != c.want {
			t.Errorf("%v: %v, want %v", c.req, got, c.want)
		}
	}
	nm := e.NotModifiedHeader()
	if nm.Get("Etag") != `"v1"` || nm.Get("Cache-Control") == "" || nm.Get("Date") == "" || nm.Get("Content-Type") != "" {
		t.Errorf("304 header %v", nm)
	}
}

// TestLRU: the byte bound evicts the least recently used; the per-object
// cap refuses what is too large.
func TestLRU(t *testing.T) {
	body := make([]byte, 1000)
	clk := &clock{now: t0}
	ca := New(Options{MaxBytes: 3 * (1000 + entryOverhead + 200), MaxObject: 2000, Now: clk.Now})
	key := func(i int) Key { return ca.Key("http", "h", "/"+strconv.Itoa(i)) }
	for i := range 3 {
		if _, why := ca.Store(key(i), http.Header{}, 200, hdr("Cache-Control: max-age=60"), body, t0, t0); why != "" {
			t.Fatal(why)
		}
	}
	ca.Lookup(key(0), http.Header{}) // the second it was stored: no move
	clk.now = clk.now.Add(time.Second)
	ca.Lookup(key(0), http.Header{}) // a second later: 1 is now the least recently used
	ca.Store(key(3), http.Header{}, 200, hdr("Cache-Control: max-age=60"), body, t0, t0)
	for i, want := range []bool{true, false, true, true} {
		if got := ca.Lookup(key(i), http.Header{}).Entry != nil; got != want {
			t.Errorf("/%d stored: %v, want %v", i, got, want)
		}
	}
	st := ca.Stats()
	if st.Entries != 3 || st.Evictions != 1 || st.Bytes > st.MaxBytes {
		t.Errorf("stats %+v", st)
	}
	if _, why := ca.Store(key(9), http.Header{}, 200, hdr("Cache-Control: max-age=60"), make([]byte, 3000), t0, t0); why != WhyTooLarge {
		t.Errorf("over the per-object cap: why %q", why)
	}
	ca.Invalidate(key(0))
	if ca.Lookup(key(0), http.Header{}).Entry != nil || ca.Stats().Entries != 2 {
		t.Error("Invalidate left it")
	}
}

// TestFreshen: a 304 to a revalidation updates the stored response (RFC
// 9111, 4.3.4), or removes it when it now forbids storing.
func TestFreshen(t *testing.T) {
	clk := &clock{now: t0}
	ca := New(Options{MaxBytes: 1 << 20, Now: clk.Now})
	k := ca.Key("http", "h", "/")
	old, _ := ca.Store(k, http.Header{}, 200, hdr("Cache-Control: max-age=10", `Etag: W/"v1"`, "Content-Encoding: gzip", "Date: "+date(0), "X-Version: 1"), []byte("zz"), t0, t0)
	clk.now = t0.Add(time.Minute)
	if r := ca.Lookup(k, http.Header{}); r.Fresh {
		t.Fatal("fresh after a minute")
	}
	e, why := ca.Freshen(k, old, http.Header{}, hdr("Cache-Control: max-age=30", `Etag: "v1"`, "Date: "+date(time.Minute), "X-Version: 2"), clk.now, clk.now)
	if why != "" {
		t.Fatal(why)
	}
	r := ca.Lookup(k, http.Header{})
	if r.Entry != e || !r.Fresh || string(e.Body()) != "zz" {
		t.Fatalf("after the 304: %+v", r)
	}
	if e.Header().Get("X-Version") != "2" || e.Header().Get("Etag") != `W/"v1"` || e.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("freshened header %v", e.Header())
	}
	if _, why := ca.Freshen(k, e, http.Header{}, hdr("Cache-Control: no-store"), clk.now, clk.now); why != WhyNoStore {
		t.Errorf("304 with no-store: why %q", why)
	}
	if ca.Lookup(k, http.Header{}).Entry != nil {
		t.Error("still stored after a 304 with no-store")
	}
}

// TestJoin: one leader per key; the others wait for it to land.
func TestJoin(t *testing.T) {
	ca := New(Options{MaxBytes: 1 << 20})
	k := ca.Key("http", "h", "/")
	f, leader := ca.Join(k)
	g, second := ca.Join(k)
	if !leader || second || f != g {
		t.Fatalf("leader %v, second %v, same %v", leader, second, f == g)
	}
	if _, other := ca.Join(ca.Key("http", "h", "/x")); !other {
		t.Error("another key joined the flight")
	}
	select {
	case <-g.Landed():
		t.Fatal("landed before Land")
	default:
	}
	ca.Land(k, f)
	<-g.Landed()
	if _, again := ca.Join(k); !again {
		t.Error("no new flight after landing")
	}
}

// TestStatusFormat: Cache-Status members as RFC 9211 writes them.
func TestStatusFormat(t *testing.T) {
	for _, c := range []struct {
		s    Status
		want string
	}{
		{Status{Hit: true}, "corral; hit"},
		{Status{Fwd: "uri-miss", Stored: true}, "corral; fwd=uri-miss; stored"},
		{Status{Fwd: "uri-miss", Detail: WhySetCookie}, "corral; fwd=uri-miss; detail=set-cookie"},
		{Status{Fwd: "stale", FwdStatus: 304}, "corral; fwd=stale; fwd-status=304"},
		{Status{Hit: true, HasTTL: true, TTL: -5, Detail: "stale-if-error"}, "corral; hit; ttl=-5; detail=stale-if-error"},
		{Status{Fwd: "uri-miss", Collapsed: true}, "corral; fwd=uri-miss; collapsed"},
	} {
		if got := c.s.Format("corral"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.s, got, c.want)
		}
	}
}

// BenchmarkLookup is a hit's lookup: it must not allocate.
func BenchmarkLookup(b *testing.B) {
	ca := New(Options{MaxBytes: 1 << 20})
	req := hdr("Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: en")
	k := ca.Key("http", "example.com", "/page")
	ca.Store(k, req, 200, hdr("Cache-Control: max-age=600", "Vary: Accept-Encoding, Accept-Language"), []byte("page"), time.Now(), time.Now())
	b.ReportAllocs()
	for b.Loop() {
		r := ca.Lookup(ca.Key("http", "example.com", "/page"), req)
		if r.Entry == nil || !r.Fresh {
			b.Fatal("miss")
		}
		r.Entry.AgeValue(r.Age)
	}
}

// TestJoinCollision: flights of two keys with one hash are kept apart.
func TestJoinCollision(t *testing.T) {
	ca := New(Options{MaxBytes: 1 << 20})
	a, b := Key{hash: 7, keyText: keyText{"http", "h", "/a"}}, Key{hash: 7, keyText: keyText{"http", "h", "/b"}}
	fa, la := ca.Join(a)
	fb, lb := ca.Join(b)
	if !la || !lb || fa == fb {
		t.Fatal("one flight for two keys")
	}
	ga, _ := ca.Join(a)
	ca.Land(b, fb)
	if g, leader := ca.Join(a); leader || g != fa {
		t.Error("landing b ended a's flight")
	}
	ca.Land(a, fa)
	<-ga.Landed()
	if len(ca.flights) != 0 {
		t.Errorf("flights left: %v", ca.flights)
	}
}
