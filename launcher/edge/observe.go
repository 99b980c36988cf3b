package edge

import "time"

// Kind says what answered a request at the edge, for an Observer.
type Kind uint8

// The kinds of request the edge answers.
const (
	KindApp    Kind = iota // proxied to a web instance (or refused by the proxy: 413, 502, 503…)
	KindStatic             // a static file the edge served itself
	KindHealth             // the edge's own health path
	// NumKinds counts the kinds, so that an observer can keep one slot
	// per kind in an array instead of a map.
	NumKinds
)

// String names the kind as a metric label would.
func (k Kind) String() string {
	switch k {
	case KindApp:
		return "app"
	case KindStatic:
		return "static"
	case KindHealth:
		return "health"
	}
	return "unknown"
}

// Observer is told what the edge does, for metrics. Its methods are
// called on the request path, concurrently: they must be cheap, must not
// block and must not allocate. A nil Observer costs the edge a nil check.
type Observer interface {
	// Request is called once per request the edge answers, with the
	// status sent (499 when the client left first, 101 for an upgrade)
	// and how long the answer took.
	Request(kind Kind, status int, d time.Duration)
	// UpstreamError is called when an instance could not answer a
	// request: the connection was refused or reset, or it timed out.
	UpstreamError()
	// Retry is called when a request is sent again, to another instance.
	Retry()
	// GateWait is called once for a request that waited at the boot gate
	// for a ready instance, with how long it waited in all.
	GateWait(d time.Duration)
}
