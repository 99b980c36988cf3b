// Package httpcache is a shared HTTP cache (RFC 9111) held in memory: it
// decides which responses may be stored and for how long, keeps them in a
// byte-bounded LRU, selects the stored response a request may get (Vary),
// answers conditional requests, tells fresh from stale and which stale
// uses the response allows (stale-while-revalidate, stale-if-error), and
// lets concurrent misses for one URL wait for one request to the origin.
//
// It stores only what the origin marked for shared caches: an explicit
// freshness lifetime (s-maxage, max-age, Expires); never heuristic
// freshness. Request Cache-Control and Pragma are not read: as nginx's
// proxy_cache and Varnish do by default, one client's no-cache cannot make
// the origin (on a small machine, the app's one CPU) answer for everyone.
//
// The package knows nothing of the proxy in front of it: the caller says
// what to store, and writes what it finds.
package httpcache

import (
	"hash/maphash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Cache.
type Options struct {
	// MaxBytes bounds the bodies and headers held, in all; past it the
	// least recently used responses go.
	MaxBytes int64
	// MaxObject bounds one response (body and header); larger ones are
	// not stored. 0 is MaxBytes/8.
	MaxObject int64
	// Now is the clock; nil is time.Now. Tests set it.
	Now func() time.Time
}

// maxVariants bounds the responses stored for one URL (one per
// combination of the fields it Varies on): a response that varies on a
// field with endless values (User-Agent) must not fill the cache with one
// URL, nor make its lookup slow.
const maxVariants = 8

// entryOverhead is what one stored response costs besides its body and
// fields: the Entry, its map and slices, the LRU and map slots.
const entryOverhead = 512

// Cache is a shared HTTP cache. It is safe for concurrent use.
type Cache struct {
	opts Options
	seed maphash.Seed

	// mu guards the maps and the LRU; a hit takes it only to read, and
	// moves its entry up the LRU at most once a second (touched).
	mu      sync.RWMutex
	buckets map[uint64][]*bucket // by Key.hash
	flights map[uint64]*Flight   // by Key.hash, chained by next
	head    Entry                // the LRU's sentinel: head.next is the most recent
	bytes   int64
	entries int

	hits, misses, stale, revalidated atomic.Int64
	stores, evictions                atomic.Int64
}

// bucket holds the stored responses of one URL.
type bucket struct {
	k        keyText
	variants []*Entry
}

// keyText is a primary key's text, owned by the cache.
type keyText struct{ scheme, host, target string }

// Key is a request's primary cache key: its scheme, host and target
// (RFC 9111, 4: the target URI). It refers to the caller's strings; the
// cache copies them when it stores.
type Key struct {
	hash uint64
	keyText
}

// New returns an empty cache.
func New(opts Options) *Cache {
	if opts.MaxObject <= 0 {
		opts.MaxObject = opts.MaxBytes / 8
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	c := &Cache{
		opts:    opts,
		seed:    maphash.MakeSeed(),
		buckets: make(map[uint64][]*bucket),
		flights: make(map[uint64]*Flight),
	}
	c.head.next, c.head.prev = &c.head, &c.head
	return c
}

// MaxObject is the largest response the cache stores, header and body.
func (c *Cache) MaxObject() int64 { return c.opts.MaxObject }

// Now is the cache's clock.
func (c *Cache) Now() time.Time { return c.opts.Now() }

// Key returns the primary key of a request for target (its request-target,
// as sent) on host over scheme. It does not allocate.
func (c *Cache) Key(scheme, host, target string) Key {
	h := maphash.String(c.seed, target)
	h = h*31 ^ maphash.String(c.seed, host)
	h = h*31 ^ maphash.String(c.seed, scheme)
	return Key{hash: h, keyText: keyText{scheme, host, target}}
}

// Entry is one stored response. It never changes once stored (a
// revalidation stores a new one), so it may be written to clients while
// the cache evicts or replaces it.
type Entry struct {
	status      int
	header      http.Header
	body        []byte
	notModified http.Header
	policy
	vary []varyField
	size int64

	b          *bucket
	prev, next *Entry       // the LRU, under Cache.mu
	touched    atomic.Int64 // the Unix second the entry last moved up the LRU
	age        atomic.Pointer[ageText]
}

// Status is the response's status code.
func (e *Entry) Status() int { return e.status }

// Header is the response's header as stored: read it, never change it.
// It has no Age: the caller adds AgeValue.
func (e *Entry) Header() http.Header { return e.header }

// Body is the response's body: read it, never change it.
func (e *Entry) Body() []byte { return e.body }

// NotModifiedHeader is the header of a 304 made from the entry (RFC 9110,
// 15.4.5: the fields a 200 would have had that describe the
// representation and its caching): read it, never change it.
func (e *Entry) NotModifiedHeader() http.Header { return e.notModified }

// ageText keeps the text of an entry's Age for the second it was made
// in, so that a hit does not format it again.
type ageText struct {
	sec int64
	v   [1]string
}

// AgeValue returns the Age field's value as a one-element slice, for
// current age age: shared by the hits of the same second, so that a hit
// allocates nothing. Read it, never change it.
func (e *Entry) AgeValue(age time.Duration) []string {
	sec := int64(age / time.Second)
	if t := e.age.Load(); t != nil && t.sec == sec {
		return t.v[:]
	}
	t := &ageText{sec: sec}
	t.v[0] = strconv.FormatInt(sec, 10)
	e.age.Store(t)
	return t.v[:]
}

// Result is what a lookup found.
type Result struct {
	Entry *Entry // nil: nothing stored matches the request
	Age   time.Duration
	// Fresh says the entry may be served as it is.
	Fresh bool
	// WhileRevalidate says a stale entry may be served while one
	// request revalidates it (stale-while-revalidate); IfError, that a
	// stale entry may be served when the origin errs or cannot be
	// reached (stale-if-error).
	WhileRevalidate, IfError bool
	// Variants says, when Entry is nil, that responses are stored for
	// the URL, for other values of the fields they vary on.
	Variants bool
}

// TTL is the entry's remaining freshness in whole seconds, negative once
// stale (RFC 9211's ttl): its lifetime less the Age it is sent with, and
// -1 for a response stale by less than the second Age rounds away.
func (r Result) TTL() int64 {
	ttl := int64(r.Entry.lifetime/time.Second) - int64(r.Age/time.Second)
	if !r.Fresh && ttl >= 0 {
		return -1
	}
	return ttl
}

// Validators are the entry's ETag and Last-Modified, for a conditional
// request that revalidates it ("" for none).
func (e *Entry) Validators() (etag, lastModified string) {
	if lm := e.header["Last-Modified"]; len(lm) == 1 && !e.lastModified.IsZero() {
		lastModified = lm[0]
	}
	return e.etag, lastModified
}

// Lookup finds the stored response for a request with key k and header h,
// and how it may be used now.
func (c *Cache) Lookup(k Key, h http.Header) Result {
	now := c.opts.Now()
	c.mu.RLock()
	var e *Entry
	variants := false
	if b := c.bucketOf(k); b != nil {
		variants = len(b.variants) > 0
		for _, v := range b.variants {
			if matches(v.vary, h) {
				e = v
				break
			}
		}
	}
	c.mu.RUnlock()
	if e == nil {
		return Result{Variants: variants}
	}
	if sec := now.Unix(); e.touched.Load() != sec {
		// Up the LRU, once a second: the hits of a popular page do not
		// queue for the write lock, and the order is right to the second.
		e.touched.Store(sec)
		c.mu.Lock()
		if e.b != nil { // not evicted meanwhile
			c.touch(e)
		}
		c.mu.Unlock()
	}
	return e.At(now)
}

// At is how e may be used at now.
func (e *Entry) At(now time.Time) Result {
	r := Result{Entry: e, Age: e.initialAge + max(now.Sub(e.responseTime), 0)}
	r.Fresh = r.Age < e.lifetime && !e.cc.NoCache
	if r.Fresh {
		return r
	}
	// no-cache, must-revalidate and proxy-revalidate forbid stale use
	// (RFC 9111, 4.2.4). s-maxage implies proxy-revalidate for a shared
	// cache, but an explicit stale-while-revalidate or stale-if-error next
	// to it (Vercel's "s-maxage=1, stale-while-revalidate=59") is the
	// app's more precise word, and wins.
	stale := r.Age - e.lifetime
	if e.cc.NoCache || e.cc.MustRevalidate || e.cc.ProxyRevalidate {
		return r
	}
	r.WhileRevalidate = e.cc.StaleWhileRevalidate > 0 && stale < time.Duration(e.cc.StaleWhileRevalidate)*time.Second
	r.IfError = e.cc.StaleIfError > 0 && stale < time.Duration(e.cc.StaleIfError)*time.Second
	return r
}

// bucketOf returns k's bucket, or nil. c.mu is held.
func (c *Cache) bucketOf(k Key) *bucket {
	for _, b := range c.buckets[k.hash] {
		if b.k == k.keyText {
			return b
		}
	}
	return nil
}

// Store stores the response to a GET with key k and header reqHeader, if
// RFC 9111 allows it and it is not over the per-object cap: status,
// header and body, which the cache owns from now on (header without
// hop-by-hop fields, and whatever the caller adds per response). The
// exchange with the origin began at requestTime and its response came at
// responseTime. It returns the stored entry, or nil and why not (a Why
// constant).
func (c *Cache) Store(k Key, reqHeader http.Header, status int, header http.Header, body []byte, requestTime, responseTime time.Time) (*Entry, string) {
	p, why := decide(reqHeader, status, header, requestTime, responseTime)
	if why != "" {
		return nil, why
	}
	if _, ok := header["Date"]; !ok {
		// RFC 9110, 6.6.1: a cache records when a response without a Date
		// came, and says so downstream.
		header["Date"] = []string{responseTime.UTC().Format(http.TimeFormat)}
	}
	e := &Entry{status: status, header: header, body: body, policy: p, vary: varyFields(header["Vary"], reqHeader)}
	e.notModified = notModifiedHeader(header)
	e.size = int64(len(body)) + headerSize(header) + entryOverhead
	if e.size > c.opts.MaxObject {
		return nil, WhyTooLarge
	}
	c.insert(k, e)
	c.stores.Add(1)
	return e, ""
}

// Storable returns why a response to a GET with header reqHeader, with
// status and header, would not be stored ("" if it would be, body
// permitting): for a caller that decides before the body comes whether
// to hold it.
func (c *Cache) Storable(reqHeader http.Header, status int, header http.Header) string {
	now := c.opts.Now()
	_, why := decide(reqHeader, status, header, now, now)
	return why
}

// Freshen updates a stored response with the 304 a revalidation got
// (RFC 9111, 4.3.4): its fields replace the stored ones, but for those
// the stored body depends on. It returns the entry now stored, and ""; or
// the stored response updated for this one use, not stored any more, and
// why (the 304 made it one the cache must not keep).
func (c *Cache) Freshen(k Key, old *Entry, reqHeader http.Header, header304 http.Header, requestTime, responseTime time.Time) (*Entry, string) {
	h := old.header.Clone()
	for name, vs := range header304 {
		switch name {
		case "Content-Length", "Content-Encoding", "Etag", "Vary", "Content-Range":
			// The stored body's own, perhaps recoded by the caller (a
			// compressed variant with its weak ETag): the 304 speaks of
			// the origin's.
			continue
		}
		h[name] = vs
	}
	if _, ok := header304["Date"]; !ok {
		h["Date"] = []string{responseTime.UTC().Format(http.TimeFormat)}
	}
	if _, ok := header304["Age"]; !ok {
		delete(h, "Age") // the stored Age was the old response's
	}
	p, why := decide(reqHeader, old.status, h, requestTime, responseTime)
	e := &Entry{status: old.status, header: h, body: old.body, policy: p, vary: old.vary}
	e.notModified = notModifiedHeader(h)
	e.size = int64(len(old.body)) + headerSize(h) + entryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if why != "" || e.size > c.opts.MaxObject {
		if old.b != nil {
			c.remove(old)
		}
		if why == "" {
			why = WhyTooLarge
		}
		return e, why
	}
	c.insertLocked(k, e)
	return e, ""
}

// insert stores e under k, replacing the variant with the same
// secondary key, and evicts what the bound asks.
func (c *Cache) insert(k Key, e *Entry) {
	c.mu.Lock()
	c.insertLocked(k, e)
	c.mu.Unlock()
}

func (c *Cache) insertLocked(k Key, e *Entry) {
	b := c.bucketOf(k)
	if b == nil {
		b = &bucket{k: keyText{strings.Clone(k.scheme), strings.Clone(k.host), strings.Clone(k.target)}}
		c.buckets[k.hash] = append(c.buckets[k.hash], b)
	}
	for _, v := range b.variants {
		if sameSelection(v.vary, e.vary) {
			c.remove(v)
			break
		}
	}
	if b.variants == nil {
		// remove dropped the bucket with its last variant.
		if c.bucketOf(k) == nil {
			c.buckets[k.hash] = append(c.buckets[k.hash], b)
		}
	}
	if len(b.variants) >= maxVariants {
		c.remove(b.variants[0]) // the oldest stored
	}
	e.b = b
	b.variants = append(b.variants, e)
	c.link(e)
	e.touched.Store(c.opts.Now().Unix())
	c.bytes += e.size
	c.entries++
	for c.bytes > c.opts.MaxBytes && c.head.prev != &c.head {
		c.remove(c.head.prev)
		c.evictions.Add(1)
	}
}

// sameSelection reports whether two responses were selected by the same
// request field values: a new one replaces the old.
func sameSelection(a, b []varyField) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Invalidate drops every response stored for k: an unsafe request to
// the URL succeeded (RFC 9111, 4.4), so they may be out of date.
func (c *Cache) Invalidate(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.bucketOf(k); b != nil {
		for len(b.variants) > 0 {
			c.remove(b.variants[0])
		}
	}
}

// remove unlinks e and drops it from its bucket (and the bucket, once
// empty). c.mu is held.
func (c *Cache) remove(e *Entry) {
	b := e.b
	if b == nil {
		return
	}
	for i, v := range b.variants {
		if v == e {
			b.variants = append(b.variants[:i:i], b.variants[i+1:]...)
			break
		}
	}
	if len(b.variants) == 0 {
		b.variants = nil
		h := c.Key(b.k.scheme, b.k.host, b.k.target).hash
		list := c.buckets[h]
		for i, x := range list {
			if x == b {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(c.buckets, h)
		} else {
			c.buckets[h] = list
		}
	}
	e.b = nil
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	c.bytes -= e.size
	c.entries--
}

// link puts e first in the LRU. c.mu is held.
func (c *Cache) link(e *Entry) {
	e.prev, e.next = &c.head, c.head.next
	c.head.next.prev = e
	c.head.next = e
}

// touch makes e the most recently used. c.mu is held.
func (c *Cache) touch(e *Entry) {
	if c.head.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	c.link(e)
}

// headerSize estimates what a header costs to hold.
func headerSize(h http.Header) int64 {
	n := int64(0)
	for k, vs := range h {
		n += int64(len(k)) + 16
		for _, v := range vs {
			n += int64(len(v)) + 16
		}
	}
	return n
}

// notModifiedHeader is the header of a 304 for a stored response with
// header h: the fields RFC 9110, 15.4.5 asks a 304 to repeat, and
// Last-Modified, which browsers keep.
func notModifiedHeader(h http.Header) http.Header {
	nm := make(http.Header, 8)
	for _, k := range [...]string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Vary", "Last-Modified"} {
		if vs, ok := h[k]; ok {
			nm[k] = vs
		}
	}
	return nm
}
