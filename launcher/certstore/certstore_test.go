package certstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/corral-run/corral/internal/enginetest"
)

// password is the engines' password in these tests: no error may show it.
const password = "s3cret-Pa55word"

// open opens a Store on the engine at u with lease, closed when t ends.
func open(t *testing.T, u string, lease time.Duration) *store {
	t.Helper()
	s, err := Open(u, Options{Lease: lease, Log: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*store)
}

// clear empties the storage of the keys tests write, so that each test
// starts from nothing.
func clear(t *testing.T, s certmagic.Storage) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.List(ctx, "", false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEngines runs every engine test against a Redis and a Postgres
// started for it.
func TestEngines(t *testing.T) {
	for _, kind := range []string{"redis", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			var u string
			var stop, start func()
			switch kind {
			case "redis":
				r := enginetest.StartRedis(t, password)
				u, stop, start = r.URL(), r.Stop, r.Start
			case "postgres":
				p := enginetest.StartPostgres(t, password, "corral")
				u, stop, start = p.URL(), p.Stop, p.Start
			}
			t.Run("like FileStorage", func(t *testing.T) { testLikeFileStorage(t, u) })
			t.Run("locks exclude", func(t *testing.T) { testLocksExclude(t, u) })
			t.Run("lease renewed while held", func(t *testing.T) { testLeaseRenewed(t, u) })
			t.Run("crashed holder's lock expires", func(t *testing.T) { testCrashedHolder(t, u) })
			t.Run("expired holder cannot release the next one's lock", func(t *testing.T) { testStaleRelease(t, u) })
			t.Run("no password in errors", func(t *testing.T) { testNoPasswordInErrors(t, u) })
			t.Run("storage restarted", func(t *testing.T) { testRestarted(t, u, stop, start) })
		})
	}
}

// testLikeFileStorage runs the same operations on the engine and on
// certmagic's FileStorage, and wants the same answers: certmagic was
// written against the file system's semantics.
func testLikeFileStorage(t *testing.T, u string) {
	ctx := context.Background()
	s := open(t, u, 0)
	clear(t, s)
	ref := &certmagic.FileStorage{Path: t.TempDir()}
	files := map[string]string{
		"certificates/acme/a.test/a.test.crt":  "cert",
		"certificates/acme/a.test/a.test.key":  "key",
		"certificates/acme/a.test/a.test.json": "{}",
		"certificates/acme/b.test/b.test.crt":  "cert b",
		"certificates/acme_x/c.test/c.crt":     "not under acme/", // a LIKE wildcard would match acme_x
		"certificates/acme-2/d.crt":            "nor this",        // '-' sorts before '/'
		"certificates/acme.2/e.crt":            "nor this",        // '.' too
		"certificates/acmeZ/f.crt":             "nor this",        // 'Z' after '0'
		"acme/ca/users/x@y.test/x.key":         "account key",
		"top":                                  "a file at the root",
	}
	for k, v := range files {
		for _, st := range []certmagic.Storage{s, ref} {
			if err := st.Store(ctx, k, []byte(v)); err != nil {
				t.Fatalf("%T: Store(%q): %v", st, k, err)
			}
		}
	}
	// Overwriting keeps one key.
	for _, st := range []certmagic.Storage{s, ref} {
		if err := st.Store(ctx, "top", []byte("rewritten")); err != nil {
			t.Fatal(err)
		}
	}

	same := func(what string, got, want any) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, FileStorage says %v", what, got, want)
		}
	}
	notExist := func(err error) string {
		if err == nil {
			return "nil"
		}
		if errors.Is(err, fs.ErrNotExist) {
			return "ErrNotExist"
		}
		return "other error: " + err.Error()
	}
	for _, k := range []string{"top", "certificates/acme/a.test/a.test.key", "certificates/acme/a.test", "certificates/acme/nope", "certificates"} {
		gv, gerr := s.Load(ctx, k)
		wv, werr := ref.Load(ctx, k)
		if werr == nil || errors.Is(werr, fs.ErrNotExist) { // FileStorage's error on a directory is EISDIR: any error will do
			same("Load("+k+")", fmt.Sprintf("%q %s", gv, notExist(gerr)), fmt.Sprintf("%q %s", wv, notExist(werr)))
		} else if gerr == nil {
			t.Errorf("Load(%q), a directory: %q, want an error", k, gv)
		}
	}
	for _, k := range []string{"top", "certificates", "certificates/acme", "certificates/acme/a.test/a.test.crt", "certificates/acm", "certificates/acme/a.test/a", "nope", "acme/ca/users/x@y.test"} {
		same("Exists("+k+")", s.Exists(ctx, k), ref.Exists(ctx, k))
		gi, gerr := s.Stat(ctx, k)
		wi, werr := ref.Stat(ctx, k)
		same("Stat("+k+") error", notExist(gerr), notExist(werr))
		if gerr == nil && werr == nil {
			same("Stat("+k+").Key", gi.Key, wi.Key)
			same("Stat("+k+").IsTerminal", gi.IsTerminal, wi.IsTerminal)
			if wi.IsTerminal {
				same("Stat("+k+").Size", gi.Size, wi.Size)
				if d := time.Since(gi.Modified); d < -time.Minute || d > time.Minute {
					t.Errorf("Stat(%q).Modified %v, want about now", k, gi.Modified)
				}
			}
		}
	}
	for _, k := range []string{"certificates", "certificates/acme", "certificates/acme/a.test", "acme", "certificates/acme/a.test/a.test.crt", "nope", "certificates/acm"} {
		for _, rec := range []bool{false, true} {
			gl, gerr := s.List(ctx, k, rec)
			wl, werr := ref.List(ctx, k, rec)
			slices.Sort(gl)
			slices.Sort(wl)
			same(fmt.Sprintf("List(%q, %v)", k, rec), fmt.Sprintf("%q %s", gl, notExist(gerr)), fmt.Sprintf("%q %s", wl, notExist(werr)))
		}
	}
	// Delete takes a directory with everything under it, and nothing else.
	for _, k := range []string{"certificates/acme", "nope", "top"} {
		same("Delete("+k+")", notExist(s.Delete(ctx, k)), notExist(ref.Delete(ctx, k)))
	}
	for _, rec := range []bool{false, true} {
		gl, gerr := s.List(ctx, "certificates", rec)
		wl, werr := ref.List(ctx, "certificates", rec)
		slices.Sort(gl)
		slices.Sort(wl)
		same(fmt.Sprintf("after Delete: List(certificates, %v)", rec), fmt.Sprintf("%q %s", gl, notExist(gerr)), fmt.Sprintf("%q %s", wl, notExist(werr)))
	}
	same("after Delete: Exists(certificates/acme/a.test/a.test.key)", s.Exists(ctx, "certificates/acme/a.test/a.test.key"), false)
}

// testLocksExclude: of hosts (Stores) contending for one lock, one holds
// it at a time, and a waiting host gets it when the holder unlocks.
func testLocksExclude(t *testing.T, u string) {
	ctx := context.Background()
	hosts := []*store{open(t, u, 2*time.Second), open(t, u, 2*time.Second), open(t, u, 2*time.Second)}
	if err := hosts[0].Lock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	if ok, err := hosts[1].TryLock(ctx, "issue_cert_a.test"); ok || err != nil {
		t.Fatalf("TryLock of a held lock: %v, %v; want false, nil", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err := hosts[1].Lock(wctx, "issue_cert_a.test")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held lock, with a deadline: %v, want context.DeadlineExceeded", err)
	}
	if ok, err := hosts[1].TryLock(ctx, "issue_cert_b.test"); !ok || err != nil {
		t.Fatalf("TryLock of another name: %v, %v; want true", ok, err)
	}
	got := make(chan error, 1)
	go func() { got <- hosts[2].Lock(ctx, "issue_cert_a.test") }()
	if err := hosts[0].Unlock(ctx, "issue_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting Lock did not get the lock within 10s of its Unlock")
	}
	for _, h := range hosts[1:] {
		h.Close() // releases what each holds
	}

	// Many goroutines on three hosts: never two inside at once.
	var inside, overlaps, entered atomic.Int32
	var wg sync.WaitGroup
	for range 12 {
		h := open(t, u, 2*time.Second)
		wg.Go(func() {
			for range 3 {
				if err := h.Lock(ctx, "contended"); err != nil {
					t.Error(err)
					return
				}
				if inside.Add(1) != 1 {
					overlaps.Add(1)
				}
				entered.Add(1)
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				if err := h.Unlock(ctx, "contended"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if overlaps.Load() != 0 || entered.Load() != 36 {
		t.Errorf("%d of %d entries found another holder inside, want 0 of 36", overlaps.Load(), entered.Load())
	}
}

// testLeaseRenewed: a lock held for several leases stays held.
func testLeaseRenewed(t *testing.T, u string) {
	ctx := context.Background()
	lease := time.Second
	a, b := open(t, u, lease), open(t, u, lease)
	if err := a.Lock(ctx, "renew_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	for began := time.Now(); time.Since(began) < 3*lease; time.Sleep(lease / 4) {
		if ok, err := b.TryLock(ctx, "renew_cert_a.test"); ok || err != nil {
			t.Fatalf("another host took a lock held (and renewed) for %v with a %v lease: %v, %v", time.Since(began), lease, ok, err)
		}
	}
	if err := a.Unlock(ctx, "renew_cert_a.test"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, "renew_cert_a.test"); !ok || err != nil {
		t.Fatalf("TryLock after Unlock: %v, %v", ok, err)
	}
}

// abandon stops renewing every lock s holds and drops its connections,
// without releasing anything: what a SIGKILL does to a host.
func (s *store) abandon() {
	s.mu.Lock()
	for n, h := range s.held {
		close(h.stop)
		<-h.done
		delete(s.held, n)
	}
	s.mu.Unlock()
	s.engine.close()
}

// testCrashedHolder: the lock of a holder that stops renewing (crashed)
// goes to a waiting host within a lease, and not before the lease ends.
func testCrashedHolder(t *testing.T, u string) {
	ctx := context.Background()
	lease := time.Second
	a, b := open(t, u, lease), open(t, u, lease)
	if err := a.Lock(ctx, "issue_cert_crash.test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease / 2) // a renewal or so
	crashed := time.Now()
	a.abandon()
	if ok, err := b.TryLock(ctx, "issue_cert_crash.test"); ok || err != nil {
		t.Fatalf("the crashed holder's lock was free at once: %v, %v; want held until its lease ends", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*lease)
	defer cancel()
	if err := b.Lock(wctx, "issue_cert_crash.test"); err != nil {
		t.Fatalf("the crashed holder's lock was not taken over within %v: %v", 10*lease, err)
	}
	t.Logf("taken over %v after the holder stopped (lease %v)", time.Since(crashed).Round(time.Millisecond), lease)
}

// testStaleRelease: a holder whose lease ran out (it lost the storage for
// longer than that) and whose lock another took cannot release or extend
// the new holder's lock.
func testStaleRelease(t *testing.T, u string) {
	ctx := context.Background()
	lease := 500 * time.Millisecond
	a, b, c := open(t, u, lease), open(t, u, lease), open(t, u, lease)
	if err := a.Lock(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	h := a.held["stale"]
	delete(a.held, "stale")
	a.mu.Unlock()
	close(h.stop) // a stops renewing, as if it could not reach the storage
	<-h.done
	if err := b.Lock(ctx, "stale"); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.engine.extend(ctx, "stale", h.token, time.Minute); ok || err != nil {
		t.Errorf("the old holder extended the new holder's lock: %v, %v", ok, err)
	}
	if err := a.engine.release(ctx, "stale", h.token); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.TryLock(ctx, "stale"); ok || err != nil {
		t.Errorf("after the old holder's release, the lock is free (%v, %v): it released the new holder's", ok, err)
	}
}

// testNoPasswordInErrors: errors name the storage with its password
// hidden, whatever fails: a wrong password, a refused connection.
func testNoPasswordInErrors(t *testing.T, u string) {
	ctx := context.Background()
	good, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	wrong := *good
	wrong.User = url.UserPassword(good.User.Username(), password+"-wrong")
	refused := *good
	refused.Host = "127.0.0.1:1"
	for name, raw := range map[string]string{"wrong password": wrong.String(), "refused": refused.String()} {
		s := open(t, raw, 0)
		var errs []error
		errs = append(errs, s.Ping(ctx), s.Store(ctx, "k", []byte("v")))
		_, err := s.Load(ctx, "k")
		errs = append(errs, err)
		_, err = s.List(ctx, "k", true)
		errs = append(errs, err)
		_, err = s.TryLock(ctx, "k")
		errs = append(errs, err, s.Lock(ctx, "k"))
		for i, err := range errs {
			if err == nil {
				t.Errorf("%s: operation %d succeeded, want an error", name, i)
				continue
			}
			if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, "xxxxx") {
				t.Errorf("%s: operation %d: %q: want the URL shown with its password as xxxxx", name, i, msg)
			}
		}
		t.Logf("%s: %v", name, errs[0])
	}
}

// testRestarted: while the engine is down, operations fail (at once, and
// without the password); once it is back, the same Store works again, on
// new connections, and the data is still there.
func testRestarted(t *testing.T, u string, stop, start func()) {
	ctx := context.Background()
	s := open(t, u, 0)
	if err := s.Store(ctx, "kept", []byte("across the restart")); err != nil {
		t.Fatal(err)
	}
	stop()
	began := time.Now()
	_, err := s.Load(ctx, "kept")
	if err == nil || errors.Is(err, fs.ErrNotExist) || strings.Contains(err.Error(), password) {
		t.Errorf("Load with the engine down: %v; want an error, without the password", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("Load with the engine down took %v to fail, want it at once", d)
	}
	t.Logf("down: %v after %v", err, time.Since(began).Round(time.Millisecond))
	start()
	var v []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if v, err = s.Load(ctx, "kept"); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || string(v) != "across the restart" {
		t.Errorf("Load after the restart: %q, %v; want the value stored before", v, err)
	}
}

// TestRedact: the form shown never has the password, in the URL or in a
// query parameter, and a URL that does not parse is not shown at all.
func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"redis://:" + password + "@10.0.0.5:6379/0", "redis://:xxxxx@10.0.0.5:6379/0"},
		{"redis://app:" + password + "@h:6379/2", "redis://app:xxxxx@h:6379/2"},
		{"redis://h:6379/0", "redis://h:6379/0"},
		{"postgres://corral:" + password + "@db.internal:5432/app?sslmode=require", "postgres://corral:xxxxx@db.internal:5432/app?sslmode=require"},
		{"postgres://corral@db/app?password=" + password + "&sslmode=disable", "postgres://corral@db/app?password=xxxxx&sslmode=disable"},
		{"redis://:" + password + "@h:port/0", "(a storage URL that does not parse; not shown, as it may hold a password)"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpenErrors: a bad URL is refused at once, with an error that says
// what is wanted and never shows the password.
func TestOpenErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"redis://:" + password + "@h:port/0", "cannot parse the storage URL"},
		{"mysql://u:" + password + "@h/db", `scheme "mysql" is not one of redis, rediss, postgres, postgresql`},
		{"redis://:" + password + "@h:6379/zero", "storage redis://:xxxxx@h:6379/zero: redis: invalid database number"},
		{"redis://:" + password + "@h:6379/0?frobnicate=1", "unexpected option"},
		{"postgres://u:" + password + "@h/db?sslmode=sometimes", "storage postgres://u:xxxxx@h/db?sslmode=sometimes: "},
		{"/var/lib/certs", "scheme \"\" is not one of"},
	} {
		s, err := Open(c.in, Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error with %q", c.in, c.want)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || strings.Contains(msg, password) {
			t.Errorf("Open(%q): %q, want %q in it and no password", c.in, msg, c.want)
		}
	}
}

// FuzzRedact: whatever the URL, neither Redact nor Open's error shows a
// password url.Parse finds in it.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:6379/0", "postgres://u:pw@h/db?password=pw2", "rediss://u:p%40w@h/1", "redis://:pw@h:x/0", "postgresql://u:p w@h/db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			if got := Redact(raw); strings.Contains(got, raw) && raw != "" {
				t.Fatalf("Redact of an unparsable URL shows it: %q", got)
			}
			return
		}
		var secrets []string
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
		for k, vs := range u.Query() {
			if secretParam(k) {
				secrets = append(secrets, vs...)
			}
		}
		shown := Redact(raw)
		// What Redact shows parses back with every secret as xxxxx.
		if su, err := url.Parse(shown); err != nil {
			t.Fatalf("Redact(%q) = %q, which does not parse: %v", raw, shown, err)
		} else {
			if p, ok := su.User.Password(); ok && p != "xxxxx" {
				t.Fatalf("Redact(%q) = %q shows the password %q", raw, shown, p)
			}
			for k, vs := range su.Query() {
				if secretParam(k) && slices.ContainsFunc(vs, func(v string) bool { return v != "xxxxx" }) {
					t.Fatalf("Redact(%q) = %q shows %s=%q", raw, shown, k, vs)
				}
			}
		}
		// The URL's other parts, which Redact shows as they are: its
		// user, host, path, the names of its parameters.
		others := *u
		if u.User != nil {
			others.User = url.User(u.User.Username())
		}
		q := u.Query()
		for k := range q {
			if secretParam(k) {
				q[k] = []string{""}
			}
		}
		others.RawQuery = q.Encode()
		openErr := openError(raw)
		for _, sec := range secrets {
			// A secret that is also the rest of the URL's text (a password
			// "6379" beside port 6379, or "0000" as the path) cannot be
			// told apart: skip those.
			if len(sec) < 4 || strings.Contains(strings.ReplaceAll(raw, sec, ""), sec) || strings.Contains("xxxxx", sec) ||
				strings.Contains(others.String(), sec) || strings.Contains(Redact(others.String()), sec) {
				continue
			}
			rest := strings.ReplaceAll(raw, sec, "")
			if strings.Contains(shown, sec) && !strings.Contains(rest, sec) && !strings.Contains(Redact(rest), sec) {
				t.Fatalf("Redact(%q) = %q shows the secret %q", raw, shown, sec)
			}
			// Open's error quotes the URL as Redact shows it: what that
			// holds was checked above. Its own words ("storage", the
			// schemes it names) may hold the secret's text by chance,
			// and do as well for the URL without the secret.
			outside := strings.ReplaceAll(openErr, shown, "\x00")
			if strings.Contains(outside, sec) && !strings.Contains(Redact(rest), sec) && !strings.Contains(openError(rest), sec) {
				t.Fatalf("Open(%q): %q shows the secret %q", raw, openErr, sec)
			}
		}
	})
}

// openError is the text of Open's error for raw; "" if it opens.
func openError(raw string) string {
	s, err := Open(raw, Options{})
	if err != nil {
		return err.Error()
	}
	s.Close()
	return ""
}

// TestRedisTLS: a rediss:// storage checks the server's certificate
// against the system's roots, and says why it refuses one, without the
// password.
func TestRedisTLS(t *testing.T) {
	r := enginetest.StartRedisTLS(t, password)
	s := open(t, r.URL(), 0)
	err := s.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "rediss://:xxxxx@") || strings.Contains(err.Error(), password) {
		t.Errorf("Ping of a Redis whose certificate no root signed: %v; want the certificate refused, the password hidden", err)
	}
	t.Log(err)
}
