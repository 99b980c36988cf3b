package output

import (
	"log/slog"
	"math"
	"strconv"
	"time"
)

// maxPooledEvent is the largest buffer an Event keeps for reuse: the rare
// huge line (a long URL) does not pin its memory for the life of the run.
const maxPooledEvent = 16 << 10

// Event is one structured line in the making: a level, a message and typed
// fields, written as one line from its Prefix's source. In JSON it is the
// object {"time", "level", "msg", "source", fields…}, as Mux.Logger's
// records are; in text, the line "msg key=value…". It is
// built by hand, without reflection or boxing, as the access log writes one
// per request.
//
// Get one from Prefix.Event, add fields, and Write it; an Event must not be
// used after Write, which recycles it.
type Event struct {
	p *Prefix
	b []byte // the line so far; in text, without its prefix
}

// Event starts a line from p's source at level with msg.
func (p *Prefix) Event(level slog.Level, msg string) *Event {
	e, _ := p.m.events.Get().(*Event)
	if e == nil {
		e = &Event{b: make([]byte, 0, 512)}
	}
	e.p = p
	b := e.b[:0]
	if p.m.opts.Format == JSON {
		b = append(b, `{"time":"`...)
		b = p.m.opts.Now().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":`...)
		b = appendJSONString(b, msg)
		b = append(b, `,"source":`...)
		e.b = append(b, p.source...)
		return e
	}
	switch {
	case level >= slog.LevelError:
		b = append(b, "error: "...)
	case level >= slog.LevelWarn:
		b = append(b, "warning: "...)
	}
	e.b = append(b, msg...)
	return e
}

// key appends a field's key: `,"key":` in JSON, " key=" in text.
func (e *Event) key(k string) {
	if e.p.m.opts.Format == JSON {
		e.b = append(appendJSONString(append(e.b, ','), k), ':')
		return
	}
	e.b = append(append(append(e.b, ' '), k...), '=')
}

// Str adds a string field.
func (e *Event) Str(key, v string) *Event {
	e.key(key)
	if e.p.m.opts.Format == JSON {
		e.b = appendJSONString(e.b, v)
	} else {
		e.b = append(e.b, textValue(v)...)
	}
	return e
}

// Int adds an integer field.
func (e *Event) Int(key string, v int64) *Event {
	e.key(key)
	e.b = strconv.AppendInt(e.b, v, 10)
	return e
}

// Bool adds a true or false field.
func (e *Event) Bool(key string, v bool) *Event {
	e.key(key)
	e.b = strconv.AppendBool(e.b, v)
	return e
}

// Float adds a number field, in the shortest form that reads back the
// same; NaN and infinities, which JSON lacks, are null.
func (e *Event) Float(key string, v float64) *Event {
	e.key(key)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		e.b = append(e.b, "null"...)
	} else {
		e.b = strconv.AppendFloat(e.b, v, 'f', -1, 64)
	}
	return e
}

// Write writes the line and recycles e.
func (e *Event) Write() {
	p := e.p
	if p.m.opts.Format == JSON {
		e.b = append(e.b, '}', '\n')
		p.m.write(e.b)
	} else {
		// appendLines splits a message holding newlines into prefixed
		// lines: text is not where the access log's speed matters.
		p.m.write(p.appendLines(nil, append(e.b, '\n')))
	}
	if cap(e.b) <= maxPooledEvent {
		e.p = nil
		p.m.events.Put(e)
	}
}
