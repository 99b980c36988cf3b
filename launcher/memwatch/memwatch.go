// Package memwatch hears what the kernel says about the memory of the
// cgroup corral and the app run in, the moment it says it, so that the
// memory guard need not wait for its next sample: that the OOM killer is
// at work (cgroup v2's memory.events, v1's memory.oom_control), that
// usage crossed a threshold (v1: thresholds on memory.usage_in_bytes
// through cgroup.event_control; v2: memory.events' high and max, counted
// when usage hits memory.high or memory.max), and that the processes
// stall on memory (v2: a PSI trigger on memory.pressure).
//
// A Watch wakes its owner through a channel and keeps what woke it until
// Take, so that a burst of events costs the owner one wake-up; counters
// are read when asked (OOMKills). The cgroup's files are read under a
// root directory, as launcher/limits reads them, so that tests can give
// a fake tree; the parsers are pure functions.
package memwatch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Signal is what woke a Watch's owner: a set of the kinds below.
type Signal uint8

const (
	// OOM: the kernel is out of memory in the cgroup; its OOM killer
	// kills a process, or is about to (v1 says so before the kill).
	OOM Signal = 1 << iota
	// Usage: usage crossed one of the thresholds, either way (v1), or
	// hit memory.high or memory.max (v2).
	Usage
	// Pressure: the processes stalled on memory past the trigger (v2).
	Pressure
)

// String names the kinds in s, e.g. "oom+usage".
func (s Signal) String() string {
	var names []string
	for _, k := range []struct {
		s    Signal
		name string
	}{{OOM, "oom"}, {Usage, "usage"}, {Pressure, "pressure"}} {
		if s&k.s != 0 {
			names = append(names, k.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "+")
}

// Options says what to watch.
type Options struct {
	Root    string // where the cgroup filesystem is read: "/" in production
	Dir     string // the cgroup's directory inside Root (limits.Limits.MemoryCgroup)
	Version int    // 1 or 2
	// Thresholds are the usages, in bytes, whose crossing wakes the
	// owner; cgroup v1 only: v2 has no such notification, but wakes it
	// at memory.high and memory.max, and on pressure.
	Thresholds []int64
	// Pressure asks for a PSI trigger on v2's memory.pressure
	// (pressureTrigger).
	Pressure bool
}

// pressureTrigger wakes the owner when some of the cgroup's processes
// have stalled on memory (reclaiming it, or waiting for it) for 100 ms
// within 2 s: a cgroup near its limit reclaims before the OOM killer
// runs. A window of 2 s is the shortest an unprivileged process may ask
// for (Linux 6.4's unprivileged PSI triggers want a multiple of 2 s).
const pressureTrigger = "some 100000 2000000"

// maxFile bounds what is read of a cgroup file: they are a few hundred
// bytes, and a fake tree's mistake (a link to /dev/zero) must not eat
// memory.
const maxFile = 64 << 10

// Watch watches one cgroup. Its methods are safe for concurrent use.
type Watch struct {
	dir     string // the cgroup's directory, as the OS sees it
	version int
	notes   []string

	c       chan struct{} // buffered: one wake-up waits at most
	mu      sync.Mutex
	pending Signal

	stop    int // an eventfd: written, it ends run
	sources []source
	done    chan struct{} // closed when run has returned
	close   sync.Once
}

// source is one file descriptor run polls.
type source struct {
	fd    int
	poll  int16    // unix.POLLIN or unix.POLLPRI
	kind  Signal   // what it signals (for v2's memory.events: decided by the counters)
	file  *os.File // the file registered or watched, kept open with it; may be nil
	name  string   // for notes
	owned bool     // fd is an eventfd or inotify fd of the Watch's own, to close

	events bool   // an inotify watch on v2's memory.events
	last   Events // its counters when last read
}

// Open starts watching the cgroup. What cannot be watched (a kernel
// without the file, a PSI trigger refused) is left out, and Notes says
// so; Open fails only when nothing can be.
func Open(o Options) (*Watch, error) {
	w := &Watch{
		dir:     filepath.Join(o.Root, filepath.FromSlash(path.Clean("/"+o.Dir))),
		version: o.Version,
		c:       make(chan struct{}, 1),
		done:    make(chan struct{}),
		stop:    -1,
	}
	switch o.Version {
	case 1:
		w.openV1(o.Thresholds)
	case 2:
		w.openV2(o.Pressure)
	default:
		return nil, fmt.Errorf("cgroup version %d: want 1 or 2", o.Version)
	}
	if len(w.sources) == 0 {
		return nil, fmt.Errorf("nothing to watch in %s: %s", o.Dir, strings.Join(w.notes, "; "))
	}
	stop, err := eventfd()
	if err != nil {
		w.closeSources()
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	w.stop = stop
	go w.run()
	return w, nil
}

// openV1 registers, through cgroup.event_control, an eventfd for the
// cgroup's OOMs and one for its usage crossing the thresholds.
func (w *Watch) openV1(thresholds []int64) {
	if err := w.registerV1("memory.oom_control", OOM, nil); err != nil {
		w.notes = append(w.notes, "OOM notifications: "+err.Error())
	}
	if len(thresholds) > 0 {
		if err := w.registerV1("memory.usage_in_bytes", Usage, thresholds); err != nil {
			w.notes = append(w.notes, "usage thresholds: "+err.Error())
		}
	}
}

// registerV1 makes an eventfd the kernel signals about the file name of
// the cgroup: an OOM (memory.oom_control), or usage crossing each of
// thresholds (memory.usage_in_bytes).
func (w *Watch) registerV1(name string, kind Signal, thresholds []int64) error {
	f, err := os.Open(filepath.Join(w.dir, name))
	if err != nil {
		return unwrapPath(err)
	}
	efd, err := eventfd()
	if err != nil {
		f.Close()
		return fmt.Errorf("eventfd: %w", err)
	}
	lines := []string{fmt.Sprintf("%d %d", efd, f.Fd())}
	if thresholds != nil {
		lines = lines[:0]
		for _, t := range thresholds {
			lines = append(lines, fmt.Sprintf("%d %d %d", efd, f.Fd(), t))
		}
	}
	for _, l := range lines {
		// One registration per write: the kernel parses one line.
		if err := os.WriteFile(filepath.Join(w.dir, "cgroup.event_control"), []byte(l), 0); err != nil {
			unix.Close(efd)
			f.Close()
			return fmt.Errorf("cgroup.event_control: %w", unwrapPath(err))
		}
	}
	w.sources = append(w.sources, source{fd: efd, poll: unix.POLLIN, kind: kind, file: f, name: name, owned: true})
	return nil
}

// openV2 watches memory.events for changes (the kernel notifies them as
// modifications, which inotify sees), and sets a PSI trigger on
// memory.pressure.
func (w *Watch) openV2(pressure bool) {
	if err := w.watchEvents(); err != nil {
		w.notes = append(w.notes, "memory.events: "+err.Error())
	}
	if !pressure {
		return
	}
	name := filepath.Join(w.dir, "memory.pressure")
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err == nil {
		// The kernel wants the trigger's terminating NUL.
		_, err = f.Write([]byte(pressureTrigger + "\x00"))
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		w.notes = append(w.notes, fmt.Sprintf("memory.pressure: no PSI trigger %q: %v", pressureTrigger, unwrapPath(err)))
		return
	}
	w.sources = append(w.sources, source{fd: int(f.Fd()), poll: unix.POLLPRI, kind: Pressure, file: f, name: "memory.pressure"})
}

// watchEvents adds an inotify watch on memory.events.
func (w *Watch) watchEvents() error {
	last, err := parseFile(w.dir, "memory.events", ParseEvents)
	if err != nil {
		return err
	}
	name := filepath.Join(w.dir, "memory.events")
	fd, err := watchModify(name)
	if err != nil {
		return fmt.Errorf("inotify: %w", err)
	}
	w.sources = append(w.sources, source{fd: fd, poll: unix.POLLIN, name: "memory.events", owned: true, events: true, last: last})
	return nil
}

// Notes says what could not be watched, and why.
func (w *Watch) Notes() []string { return w.notes }

// C returns the channel on which the Watch wakes its owner; Take says
// why.
func (w *Watch) C() <-chan struct{} { return w.c }

// Take returns what woke the owner since the last Take, and forgets it.
func (w *Watch) Take() Signal {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.pending
	w.pending = 0
	return s
}

// wake keeps s for Take and wakes the owner, unless a wake-up already
// waits.
func (w *Watch) wake(s Signal) {
	w.mu.Lock()
	w.pending |= s
	w.mu.Unlock()
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// run polls the sources until Close.
func (w *Watch) run() {
	defer close(w.done)
	fds := []unix.PollFd{{Fd: int32(w.stop), Events: unix.POLLIN}}
	for _, s := range w.sources {
		fds = append(fds, unix.PollFd{Fd: int32(s.fd), Events: s.poll})
	}
	buf := make([]byte, 4096)
	for {
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return // EFAULT, ENOMEM: nothing to do but stop watching
		}
		if fds[0].Revents != 0 {
			return
		}
		var got Signal
		for i := range w.sources {
			pf := &fds[i+1]
			if pf.Revents == 0 {
				continue
			}
			// An error on a kernfs file means its cgroup is gone; poll
			// skips a negative fd, so it stops reporting it at once.
			if pf.Revents&(unix.POLLERR|unix.POLLNVAL|unix.POLLHUP) != 0 {
				pf.Fd = -1
				continue
			}
			got |= w.sources[i].drain(w.dir, buf)
		}
		if got != 0 {
			w.wake(got)
		}
	}
}

// drain reads what made s ready, so that it is not ready again until the
// kernel says something new, and returns what it signals.
func (s *source) drain(dir string, buf []byte) Signal {
	switch {
	case s.poll == unix.POLLPRI:
		return s.kind // a PSI trigger: poll itself consumes the event
	case !s.events:
		unix.Read(s.fd, buf[:8]) // an eventfd: reading resets it
		return s.kind
	}
	for {
		if _, err := unix.Read(s.fd, buf); err != nil {
			break // EAGAIN: read them all
		}
	}
	e, err := parseFile(dir, "memory.events", ParseEvents)
	if err != nil {
		return OOM | Usage // cannot tell which: let the owner look
	}
	var sig Signal
	if e.OOM != s.last.OOM || e.OOMKill != s.last.OOMKill || e.OOMGroupKill != s.last.OOMGroupKill {
		sig |= OOM
	}
	if e.High != s.last.High || e.Max != s.last.Max {
		sig |= Usage
	}
	s.last = e
	return sig
}

// OOMKills returns how many processes the OOM killer has killed in the
// cgroup since it was made (v2: in it and its descendants).
func (w *Watch) OOMKills() (uint64, error) {
	if w.version == 1 {
		c, err := parseFile(w.dir, "memory.oom_control", ParseOOMControl)
		if err == nil && !c.HasOOMKill {
			err = errors.New("memory.oom_control has no oom_kill count (Linux 4.13 and later have)")
		}
		return c.OOMKill, err
	}
	e, err := parseFile(w.dir, "memory.events", ParseEvents)
	return e.OOMKill, err
}

// Pressure returns the cgroup's memory pressure (v2 only).
func (w *Watch) Pressure() (PSI, error) {
	if w.version != 2 {
		return PSI{}, errors.New("cgroup v1 has no memory.pressure")
	}
	return parseFile(w.dir, "memory.pressure", ParsePressure)
}

// Close stops watching and waits for the watcher's goroutine. Closing
// the eventfds unregisters v1's notifications, and closing
// memory.pressure removes the PSI trigger.
func (w *Watch) Close() {
	w.close.Do(func() {
		var one [8]byte
		one[0] = 1 // eventfd counts in native byte order; any non-zero value will do
		unix.Write(w.stop, one[:])
		<-w.done
		unix.Close(w.stop)
		w.closeSources()
	})
}

// closeSources closes the sources' descriptors and files.
func (w *Watch) closeSources() {
	for _, s := range w.sources {
		if s.owned {
			unix.Close(s.fd)
		}
		if s.file != nil {
			s.file.Close()
		}
	}
}

// parseFile reads the cgroup file name in dir and parses it; an error
// names the file.
func parseFile[T any](dir, name string, parse func([]byte) (T, error)) (T, error) {
	b, err := readFile(filepath.Join(dir, name))
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := parse(b)
	if err != nil {
		return v, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// readFile reads a cgroup file, bounded.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, unwrapPath(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(name), unwrapPath(err))
	}
	return b, nil
}

// unwrapPath names the file by its base name only: the notes and errors
// are about one cgroup, whose directory the caller names.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", filepath.Base(pe.Path), pe.Err)
	}
	return err
}
