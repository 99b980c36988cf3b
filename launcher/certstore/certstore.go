// Package certstore keeps the edge's certificates, keys, ACME account,
// challenge tokens and locks in a shared engine, Redis or Postgres, so that
// several corral hosts serving the same domains share one set of
// certificates: one host obtains or renews a certificate while the others
// wait for its lock and then load the result, and any host answers a
// challenge another one started. It implements certmagic's Storage, with
// its locking, on internal/resp (a small Redis client of corral's own) and
// github.com/jackc/pgx/v5; the file system stays certmagic's own FileStorage.
//
// The existing certmagic modules for these engines (Caddy's community
// storage modules) all import Caddy itself to register as Caddy modules,
// which would pull a whole web server into corral; the part they add to
// the engines' clients is this package's size.
package certstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// DefaultLease is how long a lock outlives the last renewal by its holder:
// the longest another host waits to take over the issuance or renewal of a
// holder that crashed. The holder renews it every third of that, so a
// storage that does not answer for a moment does not cost it the lock.
const DefaultLease = 30 * time.Second

// opTimeout bounds one storage operation: a storage that stopped answering
// fails the operation (which certmagic retries) rather than hang it.
const opTimeout = 15 * time.Second

// Store is certmagic's storage in a shared engine, with locks that a
// crashed holder cannot keep for longer than their lease.
type Store interface {
	certmagic.Storage
	certmagic.TryLocker
	// Ping checks that the engine answers (and, for Postgres, that corral's
	// tables are there, or can be made).
	Ping(ctx context.Context) error
	// Close releases the locks still held and closes the connections.
	Close() error
	// String is the storage's URL with its password hidden.
	String() string
}

// Options tune a Store.
type Options struct {
	// Lease is how long a lock outlives its holder's last renewal;
	// zero is DefaultLease.
	Lease time.Duration
	// Log is told when a held lock is lost (its lease ran out while the
	// engine did not answer).
	Log *slog.Logger
}

// Schemes are the URL schemes Open accepts.
var Schemes = []string{"redis", "rediss", "postgres", "postgresql"}

// Open returns the Store rawURL names: redis://[user:password@]host:port/db
// (rediss:// for TLS) or postgres://[user:password@]host:port/database
// (postgresql:// too). It connects to nothing: the first operation does,
// so a storage that is down at start delays HTTPS, not the start. Its
// errors never hold the URL's password.
func Open(rawURL string, o Options) (Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's error quotes the whole URL: never show it.
		return nil, fmt.Errorf("cannot parse the storage URL (not shown: it may hold a password); want %s", wantedForm)
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &store{shown: Redact(rawURL), secrets: secrets(u), lease: o.Lease, log: o.Log, held: map[string]*held{}}
	switch u.Scheme {
	case "redis", "rediss":
		s.engine, err = openRedis(rawURL)
	case "postgres", "postgresql":
		s.engine, err = openPostgres(rawURL)
	default:
		return nil, fmt.Errorf("storage %s: scheme %q is not one of %s; want %s", s.shown, u.Scheme, strings.Join(Schemes, ", "), wantedForm)
	}
	if err != nil {
		return nil, fmt.Errorf("storage %s: %s", s.shown, s.redact(err.Error()))
	}
	return s, nil
}

const wantedForm = "redis://[user:password@]host:port/db, rediss://…, or postgres://[user:password@]host:port/database"

// Redact returns rawURL with its password, and any query parameter that
// holds one, replaced by xxxxx: the form to show in logs, corral check and
// errors.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(a storage URL that does not parse; not shown, as it may hold a password)"
	}
	q := u.Query()
	hidden := false
	for k := range q {
		if secretParam(k) {
			q[k] = []string{"xxxxx"}
			hidden = true
		}
	}
	if hidden {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// secretParam reports whether a URL query parameter holds a secret
// (pgx reads password and sslpassword from the query).
func secretParam(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "pass") || strings.Contains(n, "secret") || strings.Contains(n, "token")
}

// secrets are the strings of u that must never be shown, in the forms an
// error could quote them.
func secrets(u *url.URL) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s, url.QueryEscape(s), url.PathEscape(s))
		}
	}
	if p, ok := u.User.Password(); ok {
		add(p)
	}
	for k, vs := range u.Query() {
		if secretParam(k) {
			for _, v := range vs {
				add(v)
			}
		}
	}
	// The longest first, so that a secret inside another goes with it.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// engine is what a store needs of Redis or Postgres: files under keys, and
// leases on lock names. Keys have certmagic's form (a/b/c, no leading or
// trailing slash).
type engine interface {
	put(ctx context.Context, key string, value []byte) error
	get(ctx context.Context, key string) ([]byte, error)                         // fs.ErrNotExist if none
	stat(ctx context.Context, key string) (size int64, mod time.Time, err error) // of a file; fs.ErrNotExist if none
	// under returns, in order, the keys of the files under dir (dir/…),
	// at most limit of them (0: all); every file when dir is "".
	under(ctx context.Context, dir string, limit int) ([]string, error)
	// remove deletes the file key and every file under key/.
	remove(ctx context.Context, key string) error
	acquire(ctx context.Context, name, token string, lease time.Duration) (bool, error)
	extend(ctx context.Context, name, token string, lease time.Duration) (bool, error)
	release(ctx context.Context, name, token string) error
	ping(ctx context.Context) error
	close()
}

// store is a Store on an engine: certmagic's directory semantics over
// the engine's flat files, leased locks, and errors with the secrets
// taken out.
type store struct {
	engine  engine
	shown   string   // the URL, redacted
	secrets []string // what redact hides
	lease   time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	held   map[string]*held // locks held by this process, by name
	renews sync.WaitGroup   // the renewal goroutine of each held lock
}

// held is a lock this process holds.
type held struct {
	token string
	stop  chan struct{} // closed by Unlock or Close: stop renewing
	done  chan struct{} // closed when the renewal goroutine has ended
}

func (s *store) String() string { return s.shown }

// Store puts value at key.
func (s *store) Store(ctx context.Context, key string, value []byte) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.wrap(s.engine.put(ctx, key, value))
}

// Load returns the value at key, or fs.ErrNotExist.
func (s *store) Load(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	v, err := s.engine.get(ctx, key)
	return v, s.wrap(err)
}

// Delete removes key and, if it is a directory, everything under it; a
// key that is not there is no error.
func (s *store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("certificate storage: refusing to delete every key")
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.wrap(s.engine.remove(ctx, key))
}

// Exists reports whether key is a file or a directory (the prefix of one).
func (s *store) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// Stat describes key: a file, with its size and time, or a directory.
func (s *store) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	size, mod, err := s.engine.stat(ctx, key)
	if err == nil {
		return certmagic.KeyInfo{Key: key, Modified: mod, Size: size, IsTerminal: true}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return certmagic.KeyInfo{}, s.wrap(err)
	}
	files, err := s.engine.under(ctx, key, 1)
	if err != nil {
		return certmagic.KeyInfo{}, s.wrap(err)
	}
	if len(files) == 0 {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

// List returns the keys under dir, as FileStorage does: its files and
// directories, and with recursive those at every depth.
func (s *store) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	files, err := s.engine.under(ctx, dir, 0)
	if err != nil {
		return nil, s.wrap(err)
	}
	if len(files) == 0 {
		if _, _, err := s.engine.stat(ctx, dir); err != nil {
			return nil, s.wrap(err) // fs.ErrNotExist when it is no file either
		}
		return nil, nil // a file has nothing under it
	}
	return listed(dir, files, recursive), nil
}

// listed turns the files under dir into what List returns: the entries
// right under dir or, with recursive, every directory and file below it;
// sorted, each once.
func listed(dir string, files []string, recursive bool) []string {
	var out []string
	for _, f := range files {
		rest := f
		if dir != "" {
			rest = strings.TrimPrefix(f, dir+"/")
		}
		parts := strings.Split(rest, "/")
		if !recursive {
			parts = parts[:1]
		}
		for i := range parts {
			out = append(out, path.Join(dir, path.Join(parts[:i+1]...)))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Lock takes the lock name, waiting while another holds it and its lease
// runs. A holder that crashed stops renewing, so its lock is taken over at
// most a lease after its last renewal.
func (s *store) Lock(ctx context.Context, name string) error {
	poll := min(max(s.lease/10, 100*time.Millisecond), time.Second)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		ok, err := s.TryLock(ctx, name)
		if ok || err != nil {
			return err
		}
		t.Reset(poll)
	}
}

// TryLock takes the lock name if no one holds it, and keeps renewing its
// lease until Unlock.
func (s *store) TryLock(ctx context.Context, name string) (bool, error) {
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	actx, cancel := context.WithTimeout(ctx, opTimeout)
	ok, err := s.engine.acquire(actx, name, token, s.lease)
	cancel()
	if !ok || err != nil {
		return false, s.wrap(err)
	}
	h := &held{token: token, stop: make(chan struct{}), done: make(chan struct{})}
	s.mu.Lock()
	s.held[name] = h
	s.mu.Unlock()
	s.renews.Go(func() { s.renew(name, h) })
	return true, nil
}

// renew extends h's lease every third of it until h is released. An
// engine that does not answer is tried again, until the lease has run out
// since the last renewal: only then is the lock lost.
func (s *store) renew(name string, h *held) {
	defer close(h.done)
	every := s.lease / 3
	t := time.NewTimer(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithDeadline(context.Background(), last.Add(s.lease))
		ok, err := s.engine.extend(ctx, name, h.token, s.lease)
		cancel()
		switch {
		case ok:
			last = time.Now()
			t.Reset(every)
		case err == nil || time.Since(last) >= s.lease:
			why := "another host took it"
			if err != nil {
				why = "the storage did not answer: " + s.redact(err.Error())
			}
			s.log.Warn(fmt.Sprintf("https: lock %s in the certificate storage %s lost %v after its last renewal (%s); another host may take over", name, s.shown, time.Since(last).Round(time.Millisecond), why))
			return
		default:
			t.Reset(every / 4)
		}
	}
}

// Unlock releases the lock name, which this process holds.
func (s *store) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certificate storage: unlocking %s, which this process does not hold", name)
	}
	close(h.stop)
	<-h.done
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.wrap(s.engine.release(ctx, name, h.token))
}

// Ping checks that the engine answers.
func (s *store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	return s.wrap(s.engine.ping(ctx))
}

// Close releases the locks still held (a stopping host should not make
// the others wait out its leases) and closes the connections.
func (s *store) Close() error {
	s.mu.Lock()
	names := make([]string, 0, len(s.held))
	for n := range s.held {
		names = append(names, n)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, n := range names {
		if err := s.Unlock(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	s.renews.Wait()
	s.engine.close()
	return errors.Join(errs...)
}

// wrap returns err with the storage named and its secrets hidden;
// fs.ErrNotExist, which certmagic tests for, stays as it is.
func (s *store) wrap(err error) error {
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return &storageError{msg: fmt.Sprintf("certificate storage %s: %s", s.shown, s.redact(err.Error())), err: err}
}

// redact hides the URL's secrets in msg.
func (s *store) redact(msg string) string {
	for _, sec := range s.secrets {
		msg = strings.ReplaceAll(msg, sec, "xxxxx")
	}
	return msg
}

// storageError is an engine's error with its message redacted. It does not
// unwrap, so that nothing can reach the engine's own message; errors.Is
// still sees through it (context.Canceled, for certmagic).
type storageError struct {
	msg string
	err error
}

func (e *storageError) Error() string        { return e.msg }
func (e *storageError) Is(target error) bool { return errors.Is(e.err, target) }
