package process

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	// Pdeathsig: if corral itself is killed (the OOM killer on a small
	// instance), the shell dies with it instead of holding the app's port.
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// fionread is the ioctl that counts the bytes waiting in a pipe.
const fionread = 0x541b // FIONREAD, also known as TIOCINQ
