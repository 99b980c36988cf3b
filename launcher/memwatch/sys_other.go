//go:build !linux

package memwatch

import "errors"

// Cgroups, eventfd and inotify are Linux's: elsewhere (corral on a Mac)
// there is nothing to watch, and Open says so.

func eventfd() (int, error) { return -1, errors.ErrUnsupported }

func watchModify(string) (int, error) { return -1, errors.ErrUnsupported }
