//go:build !linux

package process

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// fionread is the ioctl that counts the bytes waiting in a pipe:
// _IOR('f', 127, int) on the BSDs and macOS.
const fionread = 0x4004667f
