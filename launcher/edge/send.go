package edge

import (
	"io"
	"net/http"
	"time"
)

// The send timeout: a client that takes none of a response's bytes for
// SendTimeout is cut off, as nginx's send_timeout cuts it. Without it a
// client that asks for a large response and never reads holds its
// connection, and the response the edge buffered for it, until it leaves.
// The timeout is between two writes that make progress, never for a whole
// response: a slow download that keeps reading is not cut.

// sendPiece is the most one sendfile call of a response sends with one
// deadline: a client must take it within SendTimeout (at 60 s, about
// 5 KB/s), however large the file.
const sendPiece = 256 << 10

// sendWriter writes to a client connection with the send timeout. It is
// what the connection's buffered writer writes to.
type sendWriter struct{ c *conn }

func (w sendWriter) Write(p []byte) (int, error) {
	w.c.sendDeadline()
	return w.c.nc.Write(p)
}

// sendDeadline moves the connection's write deadline SendTimeout ahead
// before a write. A deadline is a timer to move, so it is moved only once
// it has used a quarter of SendTimeout: a write that blocks has between
// three quarters of it and all of it. (Hijack takes an upgraded
// connection's writer off it.)
func (c *conn) sendDeadline() {
	d := c.srv.cfg.SendTimeout
	now := time.Now()
	if now.Sub(c.sendSet) < d/4 {
		return
	}
	c.sendSet = now
	c.nc.SetWriteDeadline(now.Add(d))
}

// sendFile sends what lr holds (a file, or what stands for one) with the
// connection's ReadFrom, which uses sendfile(2), sendPiece at a time so
// that each piece has its own deadline.
func (c *conn) sendFile(rf io.ReaderFrom, lr *io.LimitedReader) (int64, error) {
	var total int64
	piece := &io.LimitedReader{R: lr.R}
	for lr.N > 0 {
		piece.N = min(lr.N, sendPiece)
		c.sendDeadline()
		n, err := rf.ReadFrom(piece)
		total += n
		lr.N -= n
		if err != nil || n == 0 { // n 0: the file is shorter than declared
			return total, err
		}
	}
	return total, nil
}

// streamSend gives an HTTP/2 stream the send timeout. A client that
// grants a stream no flow-control window holds its handler, and the
// response the edge buffered for it, while the connection's own writes
// flow, so that HTTP/2's WriteByteTimeout never fires; nginx times such
// a stream out with send_timeout. The stream's write deadline is set
// for each write and cleared after it: HTTP/2's deadline is a timer that
// would end a stream idle between two events (server-sent events) too.
type streamSend struct {
	http.ResponseWriter
	rc *http.ResponseController
	d  time.Duration
}

func (s *streamSend) Write(p []byte) (int, error) {
	s.rc.SetWriteDeadline(time.Now().Add(s.d))
	defer s.rc.SetWriteDeadline(time.Time{})
	return s.ResponseWriter.Write(p)
}

// FlushError is a Flush that may wait for the client's window too.
func (s *streamSend) FlushError() error {
	s.rc.SetWriteDeadline(time.Now().Add(s.d))
	defer s.rc.SetWriteDeadline(time.Time{})
	return s.rc.Flush()
}

// Unwrap lets http.ResponseController reach the stream's own methods.
func (s *streamSend) Unwrap() http.ResponseWriter { return s.ResponseWriter }
