package static

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The open-file cache's defaults, nginx's open_file_cache with the files'
// bytes held too. A small file costs the kernel more to find, open, stat
// and send (and the edge a second write for its head) than to copy from
// memory: held, it is answered with no system call but the one write of
// the whole response.
const (
	// cacheValid is how long what the disk said of a file is trusted
	// before it is asked again (a stat per file and sibling). nginx's
	// open_file_cache_valid is 60 s; a deploy that rewrites files in
	// place (collectstatic, rsync, a bundler's watch mode) would serve
	// the old bytes for that long. A second is as long as a client could
	// tell apart from "at once", and keeps the checks to one per file
	// per second however busy the file is.
	cacheValid = time.Second
	// cacheMaxFile is the largest file (or precompressed sibling) held in
	// memory. Larger ones are sent from disk with sendfile, which costs no
	// copy and whose syscalls matter less against the bytes sent.
	cacheMaxFile = 32 << 10
	// cacheMaxBytes bounds the memory of the cache: the held bytes and an
	// estimate of each entry's bookkeeping (entryOverhead). Fixed and
	// small rather than a share of the memory limit: a site's small CSS,
	// JS, icons and fonts fit many times over (Django's admin, all of its
	// static files, is under 1 MiB), and corral's whole heap is budgeted
	// at 32 MiB on the smallest machines (sizing.GoMemLimit).
	cacheMaxBytes = 4 << 20
	// entryOverhead is what an entry costs besides its held bytes: the
	// structs, header strings and map slot, rounded up.
	entryOverhead = 512
)

// Variant slots of an entry: the file, then its precompressed siblings in
// the order of encodings.
const (
	identity = iota
	brotli
	gzipped
	variants
)

// siblingEncodings are the precompressed siblings the server looks for,
// in the order preferred when the client accepts both equally.
func siblingEncodings() [2]encoding {
	return [2]encoding{{"br", ".br", "-br", 0}, {"gzip", ".gz", "-gz", 1}}
}

// fileCache remembers, for each file served, what the disk said of it and
// its precompressed siblings, and holds the bytes of the small ones, with
// the header values they are answered with formatted once. An entry is
// trusted for valid; then a stat of each name through the mount's os.Root
// (which confines symlinks to the root as the first open did) says
// whether it still stands, and if anything changed (size, time, identity,
// a sibling come or gone, a name now escaping the root) the file is opened
// and read again, or the entry dropped. It is safe for concurrent use.
type fileCache struct {
	valid    time.Duration // 0: every request checks the disk
	maxFile  int64         // largest body held
	maxBytes int64         // the budget: held bytes plus entryOverhead each
	epoch    time.Time     // times are kept as monotonic offsets from it

	mu      sync.RWMutex
	entries map[fileKey]*entry
	bytes   int64 // counted against maxBytes
	closed  atomic.Bool

	hits, loads, evictions atomic.Uint64
}

// fileKey is a file of a mount.
type fileKey struct {
	m    *mount
	name string
}

// entry is what is known of one file: immutable once made, but for when
// it was last checked.
type entry struct {
	checked atomic.Int64 // when the disk last agreed, as an offset from the cache's epoch
	vars    [variants]*variant
	size    int64    // counted against the budget
	ctype   []string // Content-Type, from the name
	cc      []string // Cache-Control, from the name
}

// variant is the file or one precompressed sibling as last found.
type variant struct {
	fi   fs.FileInfo
	body []byte // nil: larger than maxFile (or changing while read): sent from disk

	// Header values, each a slice of one, shared by every response: the
	// header map gets the slice itself. Their capacity is their length, so
	// an append by anyone after makes a copy rather than write here.
	etag, lastModified, length []string
}

// newFileCache returns a cache with the package defaults.
func newFileCache() *fileCache {
	return &fileCache{valid: cacheValid, maxFile: cacheMaxFile, maxBytes: cacheMaxBytes, epoch: time.Now(), entries: make(map[fileKey]*entry)}
}

// CacheStats counts the open-file cache's work, for metrics.
type CacheStats struct {
	Entries   int    // files known
	Bytes     int64  // memory counted against the budget
	Hits      uint64 // requests answered with no look at the disk
	Loads     uint64 // files opened (and read, if small) anew
	Evictions uint64 // entries dropped to stay within the budget
}

// CacheStats reports the open-file cache's size and counters.
func (s *Server) CacheStats() CacheStats {
	c := s.cache
	c.mu.RLock()
	n, b := len(c.entries), c.bytes
	c.mu.RUnlock()
	return CacheStats{Entries: n, Bytes: b, Hits: c.hits.Load(), Loads: c.loads.Load(), Evictions: c.evictions.Load()}
}

// lookup returns the entry for name in m, checking the disk if the entry
// is older than valid and loading it if it is missing or changed. The
// error is openRegular's when name opens no regular file; the entry is
// then gone.
func (c *fileCache) lookup(m *mount, name string) (*entry, error) {
	if c.closed.Load() {
		return nil, os.ErrClosed // the server's roots are closed: nothing is served
	}
	k := fileKey{m, name}
	now := int64(time.Since(c.epoch))
	c.mu.RLock()
	e := c.entries[k]
	c.mu.RUnlock()
	if e != nil {
		if now-e.checked.Load() < int64(c.valid) {
			c.hits.Add(1)
			return e, nil
		}
		if c.unchanged(m, name, e) {
			e.checked.Store(now)
			return e, nil
		}
	}
	e, err := c.load(m, name)
	if err != nil {
		c.forget(k)
		return nil, err
	}
	e.checked.Store(now)
	c.put(k, e)
	return e, nil
}

// known reports, without a look at the disk, whether name in m is a
// regular file the cache knows and checked within valid.
func (c *fileCache) known(m *mount, name string) bool {
	c.mu.RLock()
	e := c.entries[fileKey{m, name}]
	c.mu.RUnlock()
	return e != nil && int64(time.Since(c.epoch))-e.checked.Load() < int64(c.valid)
}

// unchanged reports whether the disk still says of name and its siblings
// what e says: each a regular file, or not, of the same identity, size,
// modification time and mode. os.Root.Stat follows symlinks only within the root,
// so a name swapped for a link that escapes it is an error here, and the
// entry goes.
func (c *fileCache) unchanged(m *mount, name string, e *entry) bool {
	for i, v := range e.vars {
		n := name
		if i > identity {
			n += siblingEncodings()[i-1].ext
		}
		fi, err := m.root.Stat(n)
		if err != nil || !fi.Mode().IsRegular() {
			if v != nil {
				return false
			}
			continue
		}
		if v == nil || !sameVersion(v.fi, fi) {
			return false
		}
	}
	return true
}

// sameVersion reports whether a and b describe the same file unchanged.
// The mode is compared too, so that a file made unreadable is opened
// again, and refused, as it would be uncached.
func sameVersion(a, b fs.FileInfo) bool {
	return a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode() && os.SameFile(a, b)
}

// load opens name in m through openRegular, as an uncached request would,
// and its siblings, and reads those small enough to hold.
func (c *fileCache) load(m *mount, name string) (*entry, error) {
	c.loads.Add(1)
	f, fi, err := openRegular(m.root, name)
	if err != nil {
		return nil, err
	}
	e := &entry{ctype: one(contentType(name)), cc: one(cacheControl(name)), size: entryOverhead + int64(len(name))}
	e.vars[identity] = c.variant(f, fi, "")
	f.Close()
	for _, enc := range siblingEncodings() {
		vf, vfi, err := openRegular(m.root, name+enc.ext)
		if err != nil {
			continue // absent, or nothing to send: as serve decides
		}
		e.vars[enc.index+1] = c.variant(vf, vfi, enc.tag)
		vf.Close()
	}
	for _, v := range e.vars {
		if v != nil {
			e.size += int64(len(v.body))
		}
	}
	return e, nil
}

// variant makes the variant of f (fi its stat; tag its ETag suffix),
// reading it if it is small enough. A file that changes while it is read
// is not held: the next check sees the change and loads it again.
func (c *fileCache) variant(f *os.File, fi fs.FileInfo, tag string) *variant {
	v := &variant{fi: fi, etag: one(etag(fi, tag)), length: one(strconv.FormatInt(fi.Size(), 10))}
	if t := fi.ModTime(); !t.IsZero() && !t.Equal(time.Unix(0, 0)) { // as ServeContent skips it
		v.lastModified = one(t.UTC().Format(http.TimeFormat))
	}
	if fi.Size() > c.maxFile {
		return v
	}
	body := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, body); err != nil {
		return v
	}
	var extra [1]byte
	if n, err := f.Read(extra[:]); n > 0 || !errors.Is(err, io.EOF) {
		return v // grown, or failing
	}
	if now, err := f.Stat(); err != nil || !sameVersion(fi, now) {
		return v
	}
	v.body = body
	return v
}

// put stores e, evicting entries picked at random (Go's map order) until
// the budget holds it: cheap, with no list to keep per request, and what
// is requested often comes back at once.
func (c *fileCache) put(k fileKey, e *entry) {
	if e.size > c.maxBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.bytes -= old.size
		delete(c.entries, k)
	}
	for c.bytes+e.size > c.maxBytes {
		for vk, ve := range c.entries {
			delete(c.entries, vk)
			c.bytes -= ve.size
			c.evictions.Add(1)
			break
		}
	}
	c.entries[k] = e
	c.bytes += e.size
}

// close forgets every entry, and makes lookups fail from now on.
func (c *fileCache) close() {
	c.closed.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
	c.bytes = 0
}

// forget drops k's entry, if any. Most names forgotten never had one
// (the app's routes under a Fallthrough mount, missing files): they are
// turned away under the read lock.
func (c *fileCache) forget(k fileKey) {
	c.mu.RLock()
	_, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.bytes -= old.size
		delete(c.entries, k)
	}
}

// one makes a header value slice whose capacity is its length (see
// variant).
func one(v string) []string { return []string{v}[:1:1] }
