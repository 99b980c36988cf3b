package resp

import (
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options say which server to reach and how to log in.
type Options struct {
	Addr     string      // host:port
	Username string      // for AUTH user pass (Redis 6 ACLs); "" for AUTH pass
	Password string      // "" for no AUTH
	DB       int         // SELECTed on each new connection
	TLS      *tls.Config // nil for plain TCP
}

// ParseURL reads redis://[user:password@]host:port/db, or rediss://… for
// TLS (verified against the system's roots, for the URL's host name). The
// port defaults to 6379, the host to localhost, the database to 0. Its
// errors never quote the password.
func ParseURL(raw string) (Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL, password and all.
		return Options{}, errors.New("redis: the URL does not parse")
	}
	var o Options
	switch u.Scheme {
	case "redis":
	case "rediss":
		o.TLS = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	default:
		return Options{}, fmt.Errorf("redis: URL scheme %q, want redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return Options{}, errors.New("redis: want redis://host…, with the slashes")
	}
	if len(u.Query()) > 0 {
		keys := make([]string, 0, len(u.Query()))
		for k := range u.Query() {
			keys = append(keys, k)
		}
		return Options{}, fmt.Errorf("redis: unexpected option: %s (the URL takes none)", strings.Join(keys, ", "))
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "6379"
	}
	o.Addr = net.JoinHostPort(host, port)
	switch f := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' }); len(f) {
	case 0:
	case 1:
		if o.DB, err = strconv.Atoi(f[0]); err != nil || o.DB < 0 {
			return Options{}, fmt.Errorf("redis: invalid database number: %q", f[0])
		}
	default:
		return Options{}, fmt.Errorf("redis: invalid URL path %q, want /db", u.Path)
	}
	return o, nil
}

// Pool sizes. certmagic calls the storage from a few goroutines at once
// (the lock renewals, the handshakes of a new name, maintenance): a few
// connections serve them; more wait for one.
const (
	maxConns = 8
	// maxIdle is how long a pooled connection is trusted: one idle longer
	// is closed rather than used, since a firewall or NAT between may have
	// forgotten it without a word (a reset would only come on use).
	maxIdle = 5 * time.Minute
)

// Client is a pool of connections to one Redis server. It is safe for
// concurrent use.
type Client struct {
	o     Options
	slots chan struct{} // one per connection in use or being dialled

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// conn is one connection, idle in the pool or in use by one operation.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	used time.Time // when last put back in the pool
}

// New returns a Client for o. It dials nothing until the first operation.
func New(o Options) *Client {
	return &Client{o: o, slots: make(chan struct{}, maxConns)}
}

// Close closes the idle connections, and those in use as they come back.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
	}
	return nil
}

// Do sends one command and returns its reply. An error reply is returned
// as an *Error; a nil reply is a Value of kind Nil.
func (c *Client) Do(ctx context.Context, args ...any) (Value, error) {
	vs, err := c.Pipeline(ctx, args)
	if err != nil {
		return Value{}, err
	}
	return vs[0], nil
}

// Pipeline sends the commands in one write and reads their replies, one
// each. Its error is an I/O or protocol error, or the first error reply
// (the others are in the Values, of kind Err).
func (c *Client) Pipeline(ctx context.Context, cmds ...[]any) ([]Value, error) {
	vs, err := c.roundTrip(ctx, cmds)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Kind == Err {
			return vs, &Error{Msg: string(v.Str)}
		}
	}
	return vs, nil
}

// Tx runs the commands in MULTI/EXEC, at once with respect to every other
// client, and returns their replies.
func (c *Client) Tx(ctx context.Context, cmds ...[]any) ([]Value, error) {
	all := make([][]any, 0, len(cmds)+2)
	all = append(all, []any{"MULTI"})
	all = append(all, cmds...)
	all = append(all, []any{"EXEC"})
	vs, err := c.Pipeline(ctx, all...)
	if err != nil {
		return nil, err
	}
	exec := vs[len(vs)-1]
	if exec.Kind != Array || len(exec.Elems) != len(cmds) {
		return nil, fmt.Errorf("redis: EXEC of %d commands answered with %d replies (kind %d)", len(cmds), len(exec.Elems), exec.Kind)
	}
	for _, v := range exec.Elems {
		if v.Kind == Err {
			return exec.Elems, &Error{Msg: string(v.Str)}
		}
	}
	return exec.Elems, nil
}

// Script is a Lua script, run by its SHA-1 so that its text crosses the
// network only when the server does not have it yet.
type Script struct {
	src, sha string
}

// NewScript works out src's SHA-1 once.
func NewScript(src string) *Script {
	h := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(h[:])}
}

// Run runs s with keys and args: EVALSHA, then EVAL if the server does
// not know the script (NOSCRIPT: it restarted, or never saw it), which
// also loads it for the next time.
func (c *Client) Run(ctx context.Context, s *Script, keys []string, args ...any) (Value, error) {
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, "EVALSHA", s.sha, len(keys))
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	cmd = append(cmd, args...)
	v, err := c.Do(ctx, cmd...)
	if e := (*Error)(nil); errors.As(err, &e) && strings.HasPrefix(e.Msg, "NOSCRIPT") {
		cmd[0], cmd[1] = "EVAL", s.src
		v, err = c.Do(ctx, cmd...)
	}
	return v, err
}

// roundTrip sends cmds on a connection and reads a reply to each. An
// operation that fails on a pooled connection the server has closed (it
// restarted, or killed the idle connection) is tried once more on a new
// connection, as go-redis did: a connection closed while idle never
// received the command.
func (c *Client) roundTrip(ctx context.Context, cmds [][]any) ([]Value, error) {
	var wbuf []byte
	for _, cmd := range cmds {
		var err error
		if wbuf, err = AppendCommand(wbuf, cmd...); err != nil {
			return nil, err
		}
	}
	for try := 0; ; try++ {
		cn, pooled, err := c.get(ctx, try > 0)
		if err != nil {
			return nil, c.because(ctx, err)
		}
		vs, err := c.exchange(ctx, cn, wbuf, len(cmds))
		if err == nil || !pooled || try > 0 || !closedByPeer(err) {
			return vs, c.because(ctx, err)
		}
		// The other idle connections date from before the restart too.
		c.dropIdle()
	}
}

// because makes an error that ctx caused (a deadline on the connection,
// a dial cut short) say so: errors.Is(err, context.DeadlineExceeded).
func (c *Client) because(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cause := ctx.Err()
	if cause == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is ctx's, and may pass a moment
		// before ctx says so.
		cause = context.DeadlineExceeded
	}
	if cause == nil || errors.Is(err, cause) {
		return err
	}
	return fmt.Errorf("redis %s: %w (%v)", c.o.Addr, cause, err)
}

// closedByPeer reports whether err says the server closed the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// exchange sends wbuf on cn and reads n replies, within ctx. cn goes
// back to the pool if it is still in step, else it is closed.
func (c *Client) exchange(ctx context.Context, cn *conn, wbuf []byte, n int) ([]Value, error) {
	stop := watch(ctx, cn.nc)
	vs, err := cn.send(wbuf, n)
	// A connection whose deadline ctx cut short, or that failed, may hold
	// half a reply: it is not used again.
	c.put(cn, stop() && err == nil)
	return vs, err
}

// send writes wbuf and reads n replies.
func (cn *conn) send(wbuf []byte, n int) ([]Value, error) {
	if _, err := cn.nc.Write(wbuf); err != nil {
		return nil, err
	}
	vs := make([]Value, n)
	for i := range vs {
		var err error
		if vs[i], err = ReadReply(cn.br); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// watch bounds nc's reads and writes by ctx: its deadline, and its
// cancellation, which sets a deadline in the past. stop reports false if
// ctx was cancelled meanwhile.
func watch(ctx context.Context, nc net.Conn) (stop func() bool) {
	d, _ := ctx.Deadline() // the zero time, none, if ctx has no deadline
	nc.SetDeadline(d)
	return context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
}

// get takes a slot and a connection: a pooled one unless fresh, or a new
// one. pooled says which.
func (c *Client) get(ctx context.Context, fresh bool) (cn *conn, pooled bool, err error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, false, fmt.Errorf("redis %s: waiting for a connection: %w", c.o.Addr, ctx.Err())
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.slots
		return nil, false, fmt.Errorf("redis %s: client closed", c.o.Addr)
	}
	for !fresh && len(c.idle) > 0 {
		cn = c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if time.Since(cn.used) < maxIdle {
			c.mu.Unlock()
			return cn, true, nil
		}
		cn.nc.Close()
	}
	c.mu.Unlock()
	cn, err = c.dial(ctx)
	if err != nil {
		<-c.slots
		return nil, false, err
	}
	return cn, false, nil
}

// put gives back cn's slot, and cn to the pool if ok, else closes it.
func (c *Client) put(cn *conn, ok bool) {
	c.mu.Lock()
	if ok && !c.closed {
		cn.used = time.Now()
		c.idle = append(c.idle, cn)
	} else {
		cn.nc.Close()
	}
	c.mu.Unlock()
	<-c.slots
}

// dropIdle closes every idle connection.
func (c *Client) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
	}
}

// dial connects, within ctx, and logs in: TLS, AUTH, SELECT.
func (c *Client) dial(ctx context.Context) (*conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", c.o.Addr)
	if err != nil {
		return nil, err
	}
	if c.o.TLS != nil {
		tc := tls.Client(nc, c.o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("redis %s: TLS: %w", c.o.Addr, err)
		}
		nc = tc
	}
	cn := &conn{nc: nc, br: bufio.NewReader(nc)}
	// A user with no password (redis://user@host) logs in as no one, as
	// with go-redis: the default user, when it needs no password.
	var hello [][]any
	switch {
	case c.o.Password != "" && c.o.Username != "":
		hello = append(hello, []any{"AUTH", c.o.Username, c.o.Password})
	case c.o.Password != "":
		hello = append(hello, []any{"AUTH", c.o.Password})
	}
	if c.o.DB != 0 {
		hello = append(hello, []any{"SELECT", c.o.DB})
	}
	if len(hello) == 0 {
		return cn, nil
	}
	var wbuf []byte
	for _, cmd := range hello {
		wbuf, _ = AppendCommand(wbuf, cmd...) // strings and ints only
	}
	stop := watch(ctx, nc)
	vs, err := cn.send(wbuf, len(hello))
	for _, v := range vs {
		if err == nil && v.Kind == Err {
			err = &Error{Msg: string(v.Str)}
		}
	}
	if cut := !stop(); cut && err == nil {
		err = ctx.Err() // the reply came, but ctx may have cut the deadline
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("redis %s: logging in: %w", c.o.Addr, c.because(ctx, err))
	}
	return cn, nil
}
