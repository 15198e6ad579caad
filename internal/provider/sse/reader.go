// Package sse reads server-sent events (text/event-stream) as the WHATWG
// HTML standard defines them, keeping the exact bytes of every event so
// that a proxy can forward a stream unchanged while it watches the events
// go by.
//
// The reader differs from a browser's EventSource in three deliberate ways,
// all of them so that nothing of the stream is lost or invented on the way
// through:
//
//   - Every block that ends in a blank line is returned, including blocks
//     of comments only (": keep-alive") and lone blank lines. A browser
//     would drop them; a proxy must forward them, because keep-alive
//     comments are what stop idle timeouts along the path. [Event.HasData]
//     tells which blocks a browser would have dispatched.
//   - Bytes are not decoded: Data holds the bytes of the data lines as
//     they came, invalid UTF-8 included, where a browser would substitute
//     U+FFFD.
//   - A stream that ends in the middle of an event is an error
//     ([ErrTruncated]) rather than a silent discard, because for a
//     completion it means the answer was cut off.
//
// What holds for a stream read to its end: the concatenation of the Raw
// bytes of all events returned equals the input up to and including the
// blank line that ended the last event. If Next then returns io.EOF, that
// is the whole input; if it returns [ErrTruncated], the bytes after it are
// an incomplete event, which is not returned. The events do not depend on
// how the input is split across reads.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxEventSize is the default bound on the size of one event, Raw bytes
// included. Completion chunks are a few hundred bytes; a megabyte leaves
// room for large tool-call arguments without letting a hostile upstream
// make the reader buffer without end.
const MaxEventSize = 1 << 20

// readChunk is how much the reader asks its source for at a time.
const readChunk = 4096

var (
	// ErrTruncated is returned when the stream ends inside an event, before
	// the blank line that completes it.
	ErrTruncated = errors.New("sse: stream ended inside an event (no closing blank line)")
	// ErrEventTooLarge is returned when an event is larger than the
	// reader's limit. The reader cannot continue after it.
	ErrEventTooLarge = errors.New("sse: event exceeds the size limit")
)

// bom is the UTF-8 byte order mark, which the standard says to skip once
// at the start of a stream.
var bom = []byte{0xEF, 0xBB, 0xBF}

// Event is one server-sent event. Raw is the exact bytes of the event as
// read, including its terminating blank line, so that the gateway can
// forward events byte for byte.
type Event struct {
	// Event is the value of the last "event" field of the block, or "" if
	// there was none (which a browser treats as "message").
	Event string
	// Data is the values of the block's "data" fields joined by "\n".
	Data string
	// ID is the last event ID as the standard defines it: set by an "id"
	// field (one containing NUL is ignored) and kept for the events that
	// follow until another "id" field changes it.
	ID string
	// Retry is the value of the block's last valid "retry" field (ASCII
	// digits only, fitting an int), or -1 if it had none.
	Retry int
	// HasData reports whether the block had at least one "data" field,
	// which is when a browser dispatches it. Blocks without data are
	// comments, keep-alives and lone blank lines.
	HasData bool
	// Raw is the exact bytes of the block, from the end of the previous
	// event through this event's blank line. The first event also carries
	// the stream's byte order mark, if it had one.
	Raw []byte
}

// Reader reads events from a text/event-stream. It buffers at most one
// event plus one read from its source.
//
// Lines end in CRLF, LF or CR. To tell a CRLF from a lone CR the reader
// must see the byte after the CR, so on a stream that uses lone CRs only,
// each event is returned when the first byte of the next one arrives (or
// at the end of the stream). No AI provider sends lone CRs.
type Reader struct {
	src    io.Reader
	max    int
	buf    []byte // bytes read from src; those from off on are not yet returned
	off    int
	srcErr error // the error src returned once buf is drained, sticky
	err    error // the reader's own sticky error
	lastID string
	bomOK  bool   // the start of the stream has been checked for a BOM
	data   []byte // scratch for the data buffer, reused across events
}

// NewReader returns a Reader for r with the [MaxEventSize] limit.
func NewReader(r io.Reader) *Reader { return NewReaderSize(r, MaxEventSize) }

// NewReaderSize returns a Reader for r that refuses events larger than max
// bytes. A max below 1 is taken as [MaxEventSize].
func NewReaderSize(r io.Reader, max int) *Reader {
	if max < 1 {
		max = MaxEventSize
	}
	return &Reader{src: r, max: max}
}

// fill reads once more from the source into buf. It returns false when
// the source has nothing more to give (its error is kept in srcErr).
func (r *Reader) fill() bool {
	if r.srcErr != nil {
		return false
	}
	if cap(r.buf)-len(r.buf) < readChunk {
		if r.off > 0 {
			// Move the unread bytes to the front rather than after every
			// event, so that many small events in one read cost one copy.
			r.buf = r.buf[:copy(r.buf, r.buf[r.off:])]
			r.off = 0
		}
		if cap(r.buf)-len(r.buf) < readChunk {
			// append's amortised doubling keeps the number of copies
			// logarithmic in the size of a large event.
			r.buf = append(r.buf, make([]byte, readChunk)...)[:len(r.buf)]
		}
	}
	// An io.Reader may return 0, nil; retry a bounded number of times
	// rather than spin forever on a broken source.
	for range 100 {
		n, err := r.src.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if err != nil {
			r.srcErr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	r.srcErr = io.ErrNoProgress
	return false
}

// Next returns the next event. At the end of the stream it returns io.EOF
// if the stream ended on an event boundary and [ErrTruncated] if it ended
// inside an event. An event larger than the limit gives
// [ErrEventTooLarge]; an error from the source is returned wrapped. Every
// error is final: later calls return it again.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	ev, err := r.next()
	if err != nil {
		r.err = err
		r.buf, r.off = nil, 0
	}
	return ev, err
}

func (r *Reader) next() (Event, error) {
	if !r.bomOK {
		for len(r.buf) < len(bom) && r.fill() {
		}
		r.bomOK = true
		if bytes.HasPrefix(r.buf[r.off:], bom) {
			// The BOM stays in buf, so it is part of the first event's Raw,
			// but parsing starts after it.
			return r.parse(len(bom))
		}
	}
	return r.parse(0)
}

// parse reads lines starting at offset start of the unread bytes until a
// blank line completes an event. Offsets are relative to r.off, which fill
// may move.
func (r *Reader) parse(start int) (Event, error) {
	ev := Event{Retry: -1}
	data := r.data[:0]
	hasData := false
	id, idSet := "", false
	line := start // start of the current line
	scan := start // bytes before scan hold no line terminator
	for {
		b := r.buf[r.off:]
		i := bytes.IndexAny(b[scan:], "\r\n")
		if i < 0 {
			scan = len(b)
			if scan > r.max {
				return Event{}, ErrEventTooLarge
			}
			if !r.fill() {
				return Event{}, r.endErr()
			}
			continue
		}
		eol := scan + i
		next := eol + 1
		if b[eol] == '\r' {
			if next == len(b) && r.fill() {
				// Wait for the byte after a CR so that a CRLF split across
				// reads is read as one line ending, whatever the split.
				scan = eol
				continue
			}
			b = r.buf[r.off:]
			if next < len(b) && b[next] == '\n' {
				next++
			}
		}
		if next > r.max {
			return Event{}, ErrEventTooLarge
		}
		if eol == line {
			// A blank line completes the event.
			ev.Raw = bytes.Clone(b[:next])
			r.off += next
			if hasData {
				ev.HasData = true
				ev.Data = string(data[:len(data)-1])
			}
			if cap(data) <= readChunk {
				r.data = data // keep small buffers; let a huge one go
			}
			if idSet {
				r.lastID = id
			}
			ev.ID = r.lastID
			return ev, nil
		}
		hasData = field(b[line:eol], &ev, &data, &id, &idSet) || hasData
		line, scan = next, next
	}
}

// Ready reports whether the bytes already read hold at least one more
// complete event, so that Next will return without reading from the
// source. A relay uses it to flush once per burst of events instead of
// once per event: events that arrived together go out together, and
// nothing waits in a buffer for the upstream to send more.
func (r *Reader) Ready() bool {
	if r.err != nil {
		return false
	}
	b := r.buf[r.off:]
	return bytes.Contains(b, lflf) || bytes.Contains(b, crlfcrlf) || bytes.Contains(b, crcr)
}

var (
	lflf     = []byte("\n\n")
	crlfcrlf = []byte("\r\n\r\n")
	crcr     = []byte("\r\r")
)

// endErr is the error for a source that ended before the event did.
func (r *Reader) endErr() error {
	pending := len(r.buf) - r.off
	if r.srcErr == io.EOF {
		if pending == 0 {
			return io.EOF
		}
		if pending > r.max {
			// So that the error does not depend on where reads split an
			// oversized event.
			return ErrEventTooLarge
		}
		return ErrTruncated
	}
	return fmt.Errorf("sse: reading the stream: %w", r.srcErr)
}

// field applies one non-blank line to the event being built and reports
// whether it was a data field.
func field(ln []byte, ev *Event, data *[]byte, id *string, idSet *bool) bool {
	if ln[0] == ':' {
		return false // a comment
	}
	name, value := ln, []byte(nil)
	if i := bytes.IndexByte(ln, ':'); i >= 0 {
		name, value = ln[:i], ln[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		ev.Event = string(value)
	case "data":
		*data = append(*data, value...)
		*data = append(*data, '\n')
		return true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			*id, *idSet = string(value), true
		}
	case "retry":
		if n, ok := digits(value); ok {
			ev.Retry = n
		}
	}
	return false
}

// digits parses a non-empty run of ASCII digits that fits an int.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(string(b))
	return n, err == nil
}
