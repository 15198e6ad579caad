package providertest

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// writeJSON sends v as the response body. A successful body is cut in half
// by the StallAfterChunks and TruncateAfterChunks faults.
func (x *exchange) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every body is one of this package's own types; failing to encode
		// one is a bug here, not a condition a test should see as a reply.
		panic("providertest: encoding response: " + err.Error())
	}
	x.writeBody(status, "application/json", b)
}

func (x *exchange) writeBody(status int, contentType string, b []byte) {
	h := x.w.Header()
	f := x.fault
	if status < 300 && f.ErrorAfterChunks > 0 {
		// A response that is not streamed fails as a whole.
		st, msg := x.streamErrorStatus()
		x.writeJSON(st, x.errorBody(st, "", msg))
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.setRequestID()
	x.setRetryAfter()
	x.w.WriteHeader(status)
	if status >= 300 || (f.StallAfterChunks <= 0 && f.TruncateAfterChunks <= 0) {
		_, _ = x.w.Write(b)
		return
	}
	_, _ = x.w.Write(b[:len(b)/2])
	_ = http.NewResponseController(x.w).Flush()
	if f.StallAfterChunks > 0 {
		// Returning short of Content-Length makes the server drop the
		// connection once the stall ends.
		x.stall()
		return
	}
	x.abort(false)
}

func (x *exchange) setRequestID() {
	switch x.prov {
	case anthropic:
		x.w.Header().Set("request-id", x.requestID())
	case openAI, azure, huggingFace:
		x.w.Header().Set("x-request-id", x.requestID())
	}
}

// sseWriter writes server-sent events, flushing each one on its own.
type sseWriter struct {
	x   *exchange
	rc  *http.ResponseController
	buf []byte
	sep string
}

// startSSE sends the headers of a successful event stream.
func (x *exchange) startSSE() *sseWriter {
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	x.setRequestID()
	x.setRetryAfter()
	x.w.WriteHeader(http.StatusOK)
	s := &sseWriter{x: x, rc: http.NewResponseController(x.w), sep: "\n"}
	if x.prov == google {
		// Gemini separates its events with CRLF; parsers must accept both.
		s.sep = "\r\n"
	}
	_ = s.rc.Flush()
	return s
}

// event writes one event (name "" writes a data-only event) and reports
// whether the client is still there.
func (s *sseWriter) event(name string, v any) bool {
	data, err := json.Marshal(v)
	if err != nil {
		panic("providertest: encoding event: " + err.Error())
	}
	return s.raw(name, data)
}

func (s *sseWriter) raw(name string, data []byte) bool {
	s.buf = s.buf[:0]
	if name != "" {
		s.buf = append(s.buf, "event: "...)
		s.buf = append(s.buf, name...)
		s.buf = append(s.buf, s.sep...)
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, s.sep...)
	s.buf = append(s.buf, s.sep...)
	if _, err := s.x.w.Write(s.buf); err != nil {
		s.x.markGone()
		return false
	}
	if err := s.rc.Flush(); err != nil {
		s.x.markGone()
		return false
	}
	return !s.x.clientGone()
}

// content sends the reply pieces through send, waiting ChunkInterval
// between them, and applies the stream faults; errEvent writes the
// provider's in-stream error. It reports whether the stream should go on to
// its closing events.
func (s *sseWriter) content(pieces []string, send func(i int, piece string) bool, errEvent func()) bool {
	if !s.checkpoint(0, len(pieces) == 0, errEvent) {
		return false
	}
	for i, p := range pieces {
		if i > 0 && !s.x.wait(s.x.h.opts.ChunkInterval) {
			return false
		}
		if !send(i, p) {
			return false
		}
		if !s.checkpoint(i+1, i+1 == len(pieces), errEvent) {
			return false
		}
	}
	return true
}

// checkpoint applies a stream fault due after n content chunks; a fault
// counted past the last chunk fires after it, before the closing events.
func (s *sseWriter) checkpoint(n int, last bool, errEvent func()) bool {
	f := s.x.fault
	due := func(at int) bool { return at > 0 && (at == n || (last && at > n)) }
	switch {
	case due(f.StallAfterChunks):
		s.x.stall()
	case due(f.TruncateAfterChunks):
		s.x.abort(false)
	case due(f.ErrorAfterChunks):
		errEvent()
	default:
		return true
	}
	return false
}

// streamErrorStatus is the status whose error type an in-stream error
// event carries.
func (x *exchange) streamErrorStatus() (int, string) {
	status := x.fault.Status
	if status < 400 {
		status = http.StatusInternalServerError
		if x.prov == anthropic {
			status = 529
		}
	}
	msg := x.fault.Message
	if msg == "" {
		msg = stockMessage(x.prov, status)
	}
	return status, msg
}
