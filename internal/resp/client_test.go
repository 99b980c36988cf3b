package resp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/corral-run/corral/internal/enginetest"
)

const password = "s3cret-Pa55word"

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // fmt of Options without TLS, plus " tls=name" for TLS; or "error: …"
	}{
		{"redis://:" + password + "@10.0.0.9:6379/0", `10.0.0.9:6379 user="" pass="` + password + `" db=0`},
		{"redis://app:" + password + "@h:6380/2", `h:6380 user="app" pass="` + password + `" db=2`},
		{"redis://h", `h:6379 user="" pass="" db=0`},
		{"redis://h/", `h:6379 user="" pass="" db=0`},
		{"redis://", `localhost:6379 user="" pass="" db=0`},
		{"redis://[::1]:7000/15", `[::1]:7000 user="" pass="" db=15`},
		{"redis://:p%40ss@h/1", `h:6379 user="" pass="p@ss" db=1`},
		{"rediss://:" + password + "@redis.example.com:6380/0", `redis.example.com:6380 user="" pass="` + password + `" db=0 tls=redis.example.com`},
		{"redis://:" + password + "@h:6379/zero", `error: invalid database number: "zero"`},
		{"redis://:" + password + "@h:6379/-1", `error: invalid database number: "-1"`},
		{"redis://:" + password + "@h:6379/0/1", `error: invalid URL path "/0/1"`},
		{"redis://:" + password + "@h:6379/0?frobnicate=1", "error: unexpected option: frobnicate"},
		{"redis://:" + password + "@h:port/0", "error: does not parse"},
		{"redis:" + password, "error: with the slashes"},
		{"unix:///run/redis.sock", `error: URL scheme "unix", want redis or rediss`},
	} {
		o, err := ParseURL(c.in)
		got := fmt.Sprintf("%s user=%q pass=%q db=%d", o.Addr, o.Username, o.Password, o.DB)
		if o.TLS != nil {
			got += " tls=" + o.TLS.ServerName
		}
		if err != nil {
			got = "error: " + err.Error()
			if strings.Contains(got, password) {
				t.Errorf("ParseURL(%q): %q shows the password", c.in, got)
			}
		}
		if strings.HasPrefix(c.want, "error: ") && strings.Contains(got, strings.TrimPrefix(c.want, "error: ")) {
			continue
		}
		if got != c.want {
			t.Errorf("ParseURL(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// server starts a Redis that wants a password.
func server(t *testing.T) *enginetest.Redis {
	t.Helper()
	return enginetest.StartRedis(t, password)
}

// client is a Client of r with o (r's address, and its password unless
// o has one), closed when t ends.
func client(t *testing.T, r *enginetest.Redis, o Options) *Client {
	t.Helper()
	o.Addr = r.Addr()
	if o.Password == "" {
		o.Password = r.Password
	}
	c := New(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// want fails t unless v shows as s (see show) and err is nil.
func want(t *testing.T, what string, v Value, err error, s string) {
	t.Helper()
	if err != nil || show(v) != s {
		t.Errorf("%s: %s, %v; want %s", what, show(v), err, s)
	}
}

// TestClient runs each command form corral uses against a real Redis.
func TestClient(t *testing.T) {
	r := server(t)
	ctx := context.Background()
	c := client(t, r, Options{})

	v, err := c.Do(ctx, "PING")
	want(t, "PING", v, err, "+PONG")
	v, err = c.Do(ctx, "HGET", "nothing", "v")
	want(t, "HGET of no key", v, err, "nil")

	_, err = c.Do(ctx, "NOSUCHCOMMAND", "x")
	var re *Error
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "unknown command") {
		t.Errorf("an unknown command: %v, want an *Error with Redis's message", err)
	}
	v, err = c.Do(ctx, "PING") // the connection is still in step
	want(t, "PING after an error reply", v, err, "+PONG")

	vs, err := c.Tx(ctx, []any{"HSET", "f", "v", []byte("value"), "m", int64(12)}, []any{"ZADD", "idx", 0, "f"})
	want(t, "MULTI HSET ZADD EXEC", Value{Kind: Array, Elems: vs}, err, "[:2 :1]")
	vs, err = c.Pipeline(ctx, []any{"HSTRLEN", "f", "v"}, []any{"HGET", "f", "m"}, []any{"HGET", "f", "none"})
	want(t, "pipeline HSTRLEN HGET HGET", Value{Kind: Array, Elems: vs}, err, `[:5 $"12" nil]`)
	vs, err = c.Pipeline(ctx, []any{"PING"}, []any{"HGET", "idx", "v"}, []any{"PING"})
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "WRONGTYPE") || show(Value{Kind: Array, Elems: vs}) != "[+PONG -"+re.Msg+" +PONG]" {
		t.Errorf("a pipeline with an error reply in the middle: %s, %v; want every reply, and the error", show(Value{Kind: Array, Elems: vs}), err)
	}
	_, err = c.Tx(ctx, []any{"ZADD", "f", 0, "x"}, []any{"HSET", "f", "v", "w"})
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "WRONGTYPE") {
		t.Errorf("a transaction whose command fails in EXEC: %v, want its WRONGTYPE", err)
	}
	v, err = c.Do(ctx, "HGET", "f", "v")
	want(t, "HGET after a failed EXEC (the other command ran: Redis does not roll back)", v, err, `$"w"`)
	v, err = c.Do(ctx, "ZRANGEBYLEX", "idx", "-", "+", "LIMIT", 0, 1)
	want(t, "ZRANGEBYLEX LIMIT", v, err, `[$"f"]`)
	v, err = c.Do(ctx, "SET", "lock", "t1", "NX", "PX", int64(60000))
	want(t, "SET NX PX", v, err, "+OK")
	v, err = c.Do(ctx, "SET", "lock", "t2", "NX", "PX", int64(60000))
	want(t, "SET NX PX of a set key", v, err, "nil")
}

// TestScript: a script the server does not know runs by EVAL, which
// loads it; then by EVALSHA.
func TestScript(t *testing.T) {
	r := server(t)
	ctx := context.Background()
	c := client(t, r, Options{})
	s := NewScript("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}")
	for i := range 2 {
		exists, err := c.Do(ctx, "SCRIPT", "EXISTS", s.sha)
		want(t, "SCRIPT EXISTS", exists, err, fmt.Sprintf("[:%d]", i))
		v, err := c.Run(ctx, s, []string{"k"}, "a", 41)
		want(t, fmt.Sprintf("run %d", i), v, err, `[$"k" $"a" :42]`)
	}
	_, err := c.Run(ctx, NewScript("return redis.call('NOSUCHCOMMAND')"), nil)
	var re *Error
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "nknown") {
		t.Errorf("a script that fails: %v, want Redis's error", err)
	}
}

// TestLogin: AUTH with a username (an ACL user), AUTH refused, SELECT.
func TestLogin(t *testing.T) {
	r := server(t)
	ctx := context.Background()
	admin := client(t, r, Options{})
	if _, err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">app-"+password, "~*", "&*", "+@all"); err != nil {
		t.Fatal(err)
	}
	app := client(t, r, Options{Username: "app", Password: "app-" + password})
	v, err := app.Do(ctx, "ACL", "WHOAMI")
	want(t, "ACL WHOAMI with a username", v, err, `$"app"`)

	wrong := client(t, r, Options{Username: "app", Password: "wrong-" + password})
	_, err = wrong.Do(ctx, "PING")
	var re *Error
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "WRONGPASS") || strings.Contains(err.Error(), password) {
		t.Errorf("a wrong password: %v, want Redis's WRONGPASS, without the password", err)
	}

	// A username without a password (redis://app@h) sends no AUTH.
	nopw := New(Options{Addr: r.Addr(), Username: "app"})
	defer nopw.Close()
	_, err = nopw.Do(ctx, "PING")
	if !errors.As(err, &re) || !strings.HasPrefix(re.Msg, "NOAUTH") {
		t.Errorf("a username without a password: %v, want Redis's NOAUTH (no AUTH sent)", err)
	}

	db3 := client(t, r, Options{DB: 3})
	if _, err := db3.Do(ctx, "SET", "where", "db3"); err != nil {
		t.Fatal(err)
	}
	v, err = admin.Do(ctx, "GET", "where")
	want(t, "GET on database 0 of a key set on 3", v, err, "nil")
	v, err = db3.Do(ctx, "GET", "where")
	want(t, "GET on database 3", v, err, `$"db3"`)
	_, err = client(t, r, Options{DB: 99}).Do(ctx, "PING")
	if err == nil || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Errorf("SELECT 99: %v, want Redis's error", err)
	}
}

// TestContext: an operation ends when its context does, and the
// connection it cut short is not used again.
func TestContext(t *testing.T) {
	r := server(t)
	c := client(t, r, Options{})
	for _, cut := range []error{context.DeadlineExceeded, context.Canceled} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if cut == context.Canceled {
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(200*time.Millisecond, cancel)
		}
		began := time.Now()
		_, err := c.Do(ctx, "BLPOP", "never", 10) // blocks 10 s
		cancel()
		if !errors.Is(err, cut) || time.Since(began) > 5*time.Second {
			t.Errorf("BLPOP cut by %v: %v after %v; want that error, at once", cut, err, time.Since(began))
		}
		// Were the connection used again, this would read BLPOP's reply.
		v, err := c.Do(context.Background(), "ECHO", "next")
		want(t, "ECHO after a cut", v, err, `$"next"`)
	}
}

// TestServerClosedConnections: operations on pooled connections that the
// server closed (a restart, CLIENT KILL) succeed, on new connections.
func TestServerClosedConnections(t *testing.T) {
	r := server(t)
	ctx := context.Background()
	c := client(t, r, Options{})
	fill := func() {
		t.Helper()
		var wg sync.WaitGroup // several connections in the pool
		for range 4 {
			wg.Go(func() {
				if _, err := c.Do(ctx, "PING"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	fill()
	killer := client(t, r, Options{})
	if _, err := killer.Do(ctx, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"); err != nil {
		t.Fatal(err)
	}
	v, err := c.Do(ctx, "ECHO", "after CLIENT KILL")
	want(t, "after CLIENT KILL", v, err, `$"after CLIENT KILL"`)

	// A Redis that has just started answers LOADING while it reads its
	// append-only file: wait for it with another client.
	ready := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, err := killer.Do(ctx, "PING")
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Redis does not answer after a start: %v", err)
			}
		}
	}
	fill()
	r.Stop()
	_, err = c.Do(ctx, "PING")
	if err == nil {
		t.Error("PING with Redis stopped succeeded")
	}
	r.Start()
	ready()
	fill()
	r.Stop()
	r.Start()
	ready()
	v, err = c.Do(ctx, "ECHO", "after a restart")
	want(t, "after a restart", v, err, `$"after a restart"`)
}

// TestPool: many goroutines share at most maxConns connections.
func TestPool(t *testing.T) {
	r := server(t)
	ctx := context.Background()
	c := client(t, r, Options{})
	var wg sync.WaitGroup
	var most int64
	var mu sync.Mutex
	for range 40 {
		wg.Go(func() {
			for range 25 {
				if _, err := c.Do(ctx, "INCR", "n"); err != nil {
					t.Error(err)
					return
				}
			}
			v, err := c.Do(ctx, "CLIENT", "LIST", "TYPE", "normal")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			most = max(most, int64(strings.Count(string(v.Str), "\n")))
			mu.Unlock()
		})
	}
	wg.Wait()
	v, err := c.Do(ctx, "GET", "n")
	want(t, "GET n", v, err, `$"1000"`)
	if most > maxConns {
		t.Errorf("%d connections at once, want at most %d", most, maxConns)
	}
	c.Close()
	if _, err := c.Do(ctx, "PING"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("PING after Close: %v, want an error", err)
	}
}

// TestTLS: rediss:// verifies the server's certificate for the URL's
// host, against the system's roots unless told others.
func TestTLS(t *testing.T) {
	r := enginetest.StartRedisTLS(t, password)
	ctx := context.Background()
	o, err := ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || o.TLS.ServerName != "127.0.0.1" {
		t.Fatalf("ParseURL(%q): TLS %+v, want one for 127.0.0.1", r.URL(), o.TLS)
	}
	_, err = client(t, r, o).Do(ctx, "PING")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("PING to a server whose certificate the system does not trust: %v, want x509.UnknownAuthorityError", err)
	}
	o.TLS.RootCAs = r.Roots
	c := client(t, r, o)
	v, err := c.Do(ctx, "PING")
	want(t, "PING over TLS", v, err, "+PONG")
	v, err = c.Do(ctx, "CLIENT", "INFO")
	if err != nil || !strings.Contains(string(v.Str), "id=") {
		t.Errorf("CLIENT INFO over TLS: %s, %v", show(v), err)
	}
	// A TLS server may wait for a handshake that never comes: bound it.
	plain := client(t, r, Options{})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err = plain.Do(pctx, "PING"); err == nil {
		t.Error("PING in plain TCP to a TLS port succeeded")
	}
}
