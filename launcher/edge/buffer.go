package edge

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
)

// spill holds a body read from one side of the proxy before it is sent to
// the other: in memory up to a bound, then in a temporary file, as nginx's
// client_body_buffer_size and proxy_buffers do. Reading the whole body first
// is what keeps a slow client from holding an app worker.
type spill struct {
	mem     *bytes.Buffer
	memMax  int
	file    *os.File
	size    int64
	tempDir string
	pool    *sync.Pool
	buf     []byte // read buffer once the body spills to the file
	rd      bytes.Reader
}

// errTooLarge is returned by fill when the body exceeds its limit.
var errTooLarge = errors.New("body too large")

// newSpill takes a spill from pool, whose New is newPooledSpill.
func newSpill(pool *sync.Pool, memMax int, tempDir string) *spill {
	s := pool.Get().(*spill)
	s.mem.Reset()
	s.memMax, s.tempDir, s.pool, s.size = memMax, tempDir, pool, 0
	return s
}

// newPooledSpill is the New of a pool of spills: with their memory
// buffers, they are reused from one request to the next.
func newPooledSpill() any { return &spill{mem: new(bytes.Buffer)} }

// storeError is a failure to hold a body (the temporary file could not be
// written), as opposed to a failure to read it.
type storeError struct{ err error }

func (e *storeError) Error() string { return "buffering a body: " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// fill reads r to EOF, failing with errTooLarge past limit bytes (no limit
// if limit < 0), with a *storeError if the body cannot be held, or with
// the read error.
func (s *spill) fill(r io.Reader, limit int64) error {
	for {
		var n int
		var err error
		if s.file == nil && s.mem.Len() < s.memMax {
			// Read straight into the memory buffer: no chunk to allocate
			// or copy for the small bodies most requests have.
			s.mem.Grow(min(4096, s.memMax-s.mem.Len()))
			room := s.mem.AvailableBuffer()
			room = room[:min(cap(room), s.memMax-s.mem.Len())]
			n, err = r.Read(room)
			s.mem.Write(room[:n]) // appends in place
			s.size += int64(n)
		} else {
			chunk := s.chunk()
			n, err = r.Read(chunk)
			if n > 0 {
				s.size += int64(n)
				if limit < 0 || s.size <= limit {
					if werr := s.write(chunk[:n]); werr != nil {
						return &storeError{werr}
					}
				}
			}
		}
		if n > 0 && limit >= 0 && s.size > limit {
			return errTooLarge
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Write appends p to the body, so a spill can be the destination of a
// copy (a compressed response).
func (s *spill) Write(p []byte) (int, error) {
	if err := s.write(p); err != nil {
		return 0, &storeError{err}
	}
	s.size += int64(len(p))
	return len(p), nil
}

// chunk returns the spill's buffer for reads that go to the file.
func (s *spill) chunk() []byte {
	if s.buf == nil {
		s.buf = make([]byte, 32<<10)
	}
	return s.buf
}

func (s *spill) write(p []byte) error {
	if s.file == nil && s.mem.Len()+len(p) <= s.memMax {
		s.mem.Write(p)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.tempDir, "corral-body-")
		if err != nil {
			return err
		}
		os.Remove(f.Name()) // unlinked: gone with the descriptor, even after a crash
		s.file = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return err
		}
	}
	_, err := s.file.Write(p)
	return err
}

// Len is the body's size in bytes.
func (s *spill) Len() int64 { return s.size }

// reader returns a reader over the whole body, from the start; each call
// starts over, so a request can be sent again to another instance. A
// reader from an earlier call must not be read after a new one is made.
func (s *spill) reader() io.Reader {
	if s.file == nil {
		s.rd.Reset(s.mem.Bytes())
		return &s.rd
	}
	return io.NewSectionReader(s.file, 0, s.size)
}

// release gives the spill back to its pool and removes the file; s must
// not be used after. (The upstream client reads a request body only
// within its round trip.)
func (s *spill) release() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.buf = nil // only a body that reached a file needed it
	s.rd.Reset(nil)
	if s.mem.Cap() <= 4*s.memMax { // don't pool a buffer a huge body grew
		s.pool.Put(s)
	}
}
