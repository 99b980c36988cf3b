package launcher

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corral-run/corral/launcher/sockets"
)

func TestPortOwners(t *testing.T) {
	var logged bytes.Buffer
	o := newPortOwners(slog.New(slog.NewTextHandler(&logged, nil)))
	o.grace = 150 * time.Millisecond
	listening := map[int][]int{} // pgid -> ports
	fail := false
	o.leader = func(pid int) ([]sockets.Listener, error) {
		return nil, nil // the leader is a shell; its child listens
	}
	o.group = func(pgid int) ([]sockets.Listener, error) {
		if fail {
			return nil, errors.New("no /proc")
		}
		var ls []sockets.Listener
		for _, p := range listening[pgid] {
			ls = append(ls, sockets.Listener{Addr: netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(p)), Pid: pgid + 1})
		}
		return ls, nil
	}

	if !o.owned("127.0.0.1:1") {
		t.Error("an address nobody expects is not routed to")
	}

	o.expect("web.1", "127.0.0.1:4001", 100, 4001)
	listening[100] = []int{4001}
	if !o.owned("127.0.0.1:4001") {
		t.Error("the instance's own listener is not routed to")
	}

	// Another program answers on web.2's port: not routed to, until grace.
	o.expect("web.2", "127.0.0.1:4002", 200, 4002)
	listening[200] = []int{9999} // it listens elsewhere (or not at all)
	if o.owned("127.0.0.1:4002") {
		t.Fatal("a port answered by a stranger is routed to at once")
	}
	time.Sleep(o.grace + 10*time.Millisecond)
	if !o.owned("127.0.0.1:4002") {
		t.Error("after grace, a port answered from outside the group (a proxy) is still refused")
	}
	if !o.owned("127.0.0.1:4002") || strings.Count(logged.String(), "none of web.2's processes listens there") != 1 {
		t.Errorf("warning not given exactly once:\n%s", logged.String())
	}

	// Once forgotten (the instance exited), the address is not checked.
	o.forget("127.0.0.1:4002")
	listening[200] = nil
	if !o.owned("127.0.0.1:4002") {
		t.Error("a forgotten address is still checked")
	}

	// Where sockets cannot be read, the connect is believed.
	o.expect("web.3", "127.0.0.1:4003", 300, 4003)
	fail = true
	if !o.owned("127.0.0.1:4003") {
		t.Error("with no /proc, the connect is not believed")
	}
}
