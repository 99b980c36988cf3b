// Package process runs one shell command as a supervised child: in its own
// process group, with its output fed line by line to an output.Prefix, and
// with nothing of it left behind once it is done.
//
// The command runs under a shell's -c, as on Heroku, so $VAR expansion,
// pipes and "exec" work as users expect. Because a shell command may start other
// processes (a pipeline, "cmd &", a server's workers), every signal goes to
// the whole process group, and when the command's own process exits the rest
// of its group is stopped too: no grandchild outlives its parent's entry.
package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/corral-run/corral/launcher/output"
	"golang.org/x/sys/unix"
)

// Spec describes a process to start.
type Spec struct {
	Command string   // shell command, run with Shell -c
	Shell   string   // the shell; "" means /bin/sh
	Dir     string   // working directory
	Env     []string // the whole environment, "KEY=value"
	// Grace is how long the rest of the process group gets between SIGTERM
	// and SIGKILL once the command's own process has exited.
	Grace time.Duration
	Out   *output.Prefix // where its stdout and stderr go
	// Reaper, if not nil, is told of the process so that it leaves its
	// reaping to the Proc.
	Reaper *Reaper
}

// drainWait bounds how long output is still read after the process group is
// gone: only a process that left the group (setsid) can hold the pipe open
// that long, and it is not ours to wait for.
const drainWait = 500 * time.Millisecond

// lastWordsWait bounds how long the exit is held back for the output still in
// the pipe when a process exits while others of its group hold the pipe.
const lastWordsWait = 50 * time.Millisecond

// Proc is a running process.
type Proc struct {
	cmd    *exec.Cmd
	pgid   int
	r      *os.File
	grace  time.Duration
	out    *output.Prefix
	exited chan struct{} // closed when the command's own process has exited
	done   chan struct{} // closed when its group is gone and its output read
	status Status        // valid once exited is closed

	reaper   *Reaper
	killOnce sync.Once
	kill     chan struct{} // closed by Kill: skip what grace remains
}

// Start starts the process. Its output is read until it is done; call Wait,
// or receive from Done, to wait for that.
func Start(spec Spec) (*Proc, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating output pipe: %w", err)
	}
	shell := spec.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", spec.Command)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	cmd.Stdout = w // one pipe for both keeps stdout and stderr in order
	cmd.Stderr = w
	cmd.SysProcAttr = sysProcAttr()
	err = spec.Reaper.start(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	})
	w.Close() // the child has its copy; ours would keep EOF from coming
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &Proc{
		cmd:    cmd,
		pgid:   cmd.Process.Pid, // Setpgid makes the child its group's leader
		r:      r,
		grace:  spec.Grace,
		out:    spec.Out,
		exited: make(chan struct{}),
		done:   make(chan struct{}),
		kill:   make(chan struct{}),
		reaper: spec.Reaper,
	}
	go p.run()
	return p, nil
}

// Pid returns the process id of the shell running the command (or of the
// command itself, when the shell execs it), which is also the id of its
// process group.
func (p *Proc) Pid() int { return p.pgid }

// Exited is closed when the command's own process has exited; Status is
// valid from then on. Other processes of its group may still be stopping.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Done is closed when the process, its whole group and its output are
// finished with.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Status returns how the process ended. It is only valid after Exited.
func (p *Proc) Status() Status {
	<-p.exited
	return p.status
}

// Wait waits until the process is done and returns its status.
func (p *Proc) Wait() Status {
	<-p.done
	return p.status
}

// Signal sends sig to the process's whole group.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return os.ErrProcessDone
	default:
	}
	err := syscall.Kill(-p.pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// Kill sends SIGKILL to the process's whole group, and cuts short the wait
// for the rest of the group if the command's own process has already exited.
func (p *Proc) Kill() {
	p.killOnce.Do(func() { close(p.kill) })
	p.Signal(syscall.SIGKILL)
}

// run owns the process: it reaps it, stops what remains of its group, and
// waits for the output reader it starts.
func (p *Proc) run() {
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		p.out.Copy(p.r) // read errors only come from the deadline below
	}()

	p.cmd.Wait()
	p.reaper.forget(p.pgid)
	p.status = statusOf(p.cmd.ProcessState)
	// Give the reader a moment to drain what the process wrote last, so
	// that whoever reports the exit does so after the process's last words.
	select {
	case <-copied:
	case <-time.After(lastWordsWait):
	}
	close(p.exited)

	// Reaping the shell does not free its pid while other members of its
	// group live: Linux and the BSDs keep a process group's id allocated
	// until its last member is gone, so the group cannot be mistaken for a
	// newer one here.
	if groupAlive(p.pgid) {
		syscall.Kill(-p.pgid, syscall.SIGTERM)
		t := time.NewTimer(p.grace)
		select {
		case <-copied: // every member holding the pipe has gone
		case <-t.C:
		case <-p.kill:
		}
		t.Stop()
		syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
	// Every process of the group is gone, yet something may still hold the
	// pipe: a process that left the group (setsid). Read on while the pipe
	// has data, since the reader may just be slow to drain it, then stop.
	for {
		t := time.NewTimer(drainWait)
		select {
		case <-copied:
		case <-t.C:
			if pipeEmpty(p.r) {
				p.r.SetReadDeadline(time.Now())
				<-copied
			}
		}
		t.Stop()
		if chanClosed(copied) {
			break
		}
	}
	p.r.Close()
	p.reaper.groupDone(p.pgid)
	close(p.done)
}

// pipeEmpty reports whether no bytes wait to be read from the pipe r.
func pipeEmpty(r *os.File) bool {
	rc, err := r.SyscallConn() // not r.Fd(), which would turn off deadlines
	if err != nil {
		return true
	}
	n := 0
	rc.Control(func(fd uintptr) {
		n, err = unix.IoctlGetInt(int(fd), fionread)
	})
	return err != nil || n == 0
}

func chanClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Status is how a process ended.
type Status struct {
	Code   int            // exit code, or -1 if killed by a signal
	Signal syscall.Signal // the signal that killed it, if any
}

func statusOf(ps *os.ProcessState) Status {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Status{Code: -1, Signal: ws.Signal()}
	}
	return Status{Code: ps.ExitCode()}
}

// Success reports whether the process exited with code 0.
func (s Status) Success() bool { return s.Code == 0 }

// ExitCode is the status a shell would report: the exit code, or 128 plus
// the number of the signal that killed the process.
func (s Status) ExitCode() int {
	if s.Code < 0 {
		return 128 + int(s.Signal)
	}
	return s.Code
}

func (s Status) String() string {
	switch {
	case s.Code >= 0:
		msg := fmt.Sprintf("exited with code %d", s.Code)
		switch s.Code {
		case 126:
			msg += " (command not executable)"
		case 127:
			msg += " (command not found)"
		}
		return msg
	default:
		name := unix.SignalName(s.Signal)
		if name == "" {
			name = fmt.Sprintf("signal %d", int(s.Signal))
		}
		return "killed by " + name
	}
}
