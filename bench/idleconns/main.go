// Command idleconns is the client of bench/idle.sh: it opens -n
// connections to -addr, sends one keep-alive request on each (GET -path
// HTTP/1.1) and reads its response, then holds them all open, idle, until
// it gets SIGTERM or SIGINT. Standard library only.
//
// When it has opened them it prints one line on stdout:
//
//	opened=... answered=... failed=... seconds=...
//
// (answered: a whole response came; failed: the dial, the write or the
// read failed, or no whole response came within -timeout). After -stop
// failures it opens no more. When it is stopped it prints
//
//	closed_by_server=...
//
// the connections the server closed while they were held.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	addr     = flag.String("addr", "", "host:port to connect to")
	n        = flag.Int("n", 10000, "connections to open")
	path     = flag.String("path", "/", "the path of each connection's request")
	send     = flag.Bool("request", true, "send one request on each connection before it idles (false: connect only)")
	parallel = flag.Int("parallel", 16, "connections opened at once")
	timeout  = flag.Duration("timeout", 2*time.Second, "for each connection's dial and response")
	stopAt   = flag.Int("stop", 64, "open no more connections after this many failures")
)

func main() {
	flag.Parse()
	if *addr == "" || *n < 1 || *parallel < 1 {
		fmt.Fprintln(os.Stderr, "idleconns: -addr is required; -n and -parallel must be positive")
		os.Exit(2)
	}
	var (
		next, answered, failed, closed atomic.Int64
		wg                             sync.WaitGroup
		mu                             sync.Mutex
		held                           []net.Conn
	)
	start := time.Now()
	for range *parallel {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) && failed.Load() < int64(*stopAt) {
				c, err := open()
				if err != nil {
					failed.Add(1)
					continue
				}
				answered.Add(1)
				mu.Lock()
				held = append(held, c)
				mu.Unlock()
				// The server may close it (an idle timeout, or to make
				// room): count it, and close our end too.
				go func() {
					if _, err := c.Read(make([]byte, 1)); err != nil {
						closed.Add(1)
					}
					c.Close()
				}()
			}
		})
	}
	wg.Wait()
	fmt.Printf("opened=%d answered=%d failed=%d seconds=%.1f\n", answered.Load()+failed.Load(), answered.Load(), failed.Load(), time.Since(start).Seconds())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	fmt.Printf("closed_by_server=%d\n", closed.Load())
	mu.Lock()
	for _, c := range held {
		c.Close()
	}
	mu.Unlock()
}

// open dials addr and, with -request, sends the request and reads its
// whole response.
func open() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return nil, err
	}
	if !*send {
		return c, nil
	}
	c.SetDeadline(time.Now().Add(*timeout))
	if _, err := io.WriteString(c, "GET "+*path+" HTTP/1.1\r\nHost: idleconns\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	// A small reader: the response is small, and the client's memory is
	// not what is measured, but it should not be silly.
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err == nil && br.Buffered() > 0 {
		err = fmt.Errorf("%d bytes after the response", br.Buffered())
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
