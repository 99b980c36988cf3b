// Package sockets finds the TCP ports a process group actually listens on.
//
// The edge gives each web instance a port in $PORT, but a common mistake is a
// web command that ignores it and binds a fixed port
// (`gunicorn --bind=0.0.0.0:8000 app.wsgi`). Asking the kernel which sockets
// the instance's processes hold in the LISTEN state lets corral find the port
// that is really in use instead of waiting forever on the one it handed out.
package sockets

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Listener is a TCP socket in the LISTEN state. Pid says which process of the
// group holds it, so a caller can tell the user which command ignored $PORT.
type Listener struct {
	Addr netip.AddrPort
	Pid  int
}

// tcpListen is the kernel's TCP_LISTEN state as /proc/net/tcp prints it (0A).
const tcpListen = 0x0A

// procNetEntry is the part of one socket line of /proc/net/tcp or
// /proc/net/tcp6 that GroupListeners needs.
type procNetEntry struct {
	Local netip.AddrPort
	State uint8
	Inode uint64
}

var errNotSocketLine = errors.New("sockets: not a /proc/net/tcp socket line")

// parseProcNetTCP parses one line of /proc/net/tcp or /proc/net/tcp6, e.g.
//
//	0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 123456 1 ...
//
// The kernel prints each 32-bit word of the address with %08X of the word as
// the host holds it, so order is the host's byte order (binary.NativeEndian;
// tests pass binary.LittleEndian). The port is printed in plain hex. The
// header line and anything malformed give an error; it never panics, whatever
// the input.
func parseProcNetTCP(line string, order binary.ByteOrder) (procNetEntry, error) {
	var e procNetEntry
	sl, rest := nextField(line)
	if len(sl) < 2 || sl[len(sl)-1] != ':' {
		return e, errNotSocketLine
	}
	if _, err := strconv.ParseUint(sl[:len(sl)-1], 10, 64); err != nil {
		return e, errNotSocketLine
	}
	local, rest := nextField(rest)
	_, rest = nextField(rest) // remote address
	state, rest := nextField(rest)
	// tx_queue:rx_queue, tr:tm->when, retrnsmt, uid, timeout
	for range 5 {
		_, rest = nextField(rest)
	}
	inode, _ := nextField(rest)
	if inode == "" {
		return e, errNotSocketLine
	}

	ap, err := parseHexAddrPort(local, order)
	if err != nil {
		return e, err
	}
	st, err := strconv.ParseUint(state, 16, 8)
	if err != nil || len(state) != 2 {
		return e, errors.New("sockets: bad socket state " + strconv.Quote(state))
	}
	ino, err := strconv.ParseUint(inode, 10, 64)
	if err != nil {
		return e, errors.New("sockets: bad socket inode " + strconv.Quote(inode))
	}
	return procNetEntry{Local: ap, State: uint8(st), Inode: ino}, nil
}

// parseHexAddrPort parses "0100007F:1F40" (IPv4, 8 hex digits) or a 32-hex-digit
// IPv6 address followed by ":PORT".
func parseHexAddrPort(s string, order binary.ByteOrder) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok || len(hexPort) != 4 || (len(hexAddr) != 8 && len(hexAddr) != 32) {
		return netip.AddrPort{}, errors.New("sockets: bad socket address " + strconv.Quote(s))
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, errors.New("sockets: bad socket port " + strconv.Quote(s))
	}
	var raw, ip [16]byte
	n, err := hex.Decode(raw[:], []byte(hexAddr))
	if err != nil {
		return netip.AddrPort{}, errors.New("sockets: bad socket address " + strconv.Quote(s))
	}
	for i := 0; i < n; i += 4 {
		binary.BigEndian.PutUint32(ip[i:], order.Uint32(raw[i:]))
	}
	var addr netip.Addr
	if n == 4 {
		addr = netip.AddrFrom4([4]byte(ip[:4]))
	} else {
		addr = netip.AddrFrom16(ip)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// listenLine reports whether the state field (the fourth) of a table line
// reads 0A, i.e. whether the line is worth parsing.
func listenLine(line []byte) bool {
	field := 0
	for i := 0; i < len(line); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		start := i
		for i < len(line) && line[i] != ' ' && line[i] != '\t' {
			i++
		}
		if start == i {
			return false
		}
		if field == 3 {
			return bytes.EqualFold(line[start:i], []byte("0A"))
		}
		field++
	}
	return false
}

// nextField returns the first space-separated field of s and what follows it,
// without allocating (the tables can hold tens of thousands of lines).
func nextField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// parseSocketLink returns the inode of an fd link target "socket:[INODE]".
func parseSocketLink(target string) (uint64, bool) {
	s, ok := strings.CutPrefix(target, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}
