package memwatch

import "golang.org/x/sys/unix"

// eventfd makes a non-blocking eventfd.
func eventfd() (int, error) { return unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK) }

// watchModify returns a non-blocking inotify descriptor that is readable
// when the file name is modified.
func watchModify(name string) (int, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return -1, err
	}
	if _, err := unix.InotifyAddWatch(fd, name, unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
