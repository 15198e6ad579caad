package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider/sse"
)

// CopyStream forwards an upstream SSE body to w event by event, calling
// flush (if not nil) after each event, and returns the usage it saw:
// OpenAI's usage chunk, the Responses API's response.completed usage,
// Anthropic's message_start usage updated by message_delta (whose counts
// are cumulative, so the latest value of each count is the total) and
// Gemini's last usageMetadata. Events are forwarded byte for byte,
// keep-alive comments included. flush is called whenever no further
// complete event is already at hand, so events that arrived together are
// flushed together and none waits for the upstream to send more.
//
// If stripUsage is true (the gateway asked for usage but the caller did
// not), an OpenAI usage-only chunk (empty "choices" and a non-null
// "usage") is read but not forwarded.
//
// It returns the number of events forwarded and why it stopped: nil when
// the upstream stream ended cleanly; an *apperr.Error (Upstream) when it
// broke: a read error, an event cut off by the end of the stream, or an
// event over sse.MaxEventSize; ctx's error (DeadlineExceeded as an
// UpstreamTimeout *apperr.Error) when ctx ended; or the error of w. In
// every case the caller has already received what was forwarded, and the
// usage is what was seen up to then.
//
// If filter is not nil, every event that would be forwarded goes through
// it (after its usage was read), and what it returns is written instead;
// at the clean end of the stream what filter.Close returns is written
// last. An error from the filter ends the stream with that error.
//
// When ctx ends, body is closed if it is an io.Closer (an http.Response
// body is), so that a read blocked on a silent upstream returns at once;
// any other reader is checked between events.
func (a *Adapter) CopyStream(ctx context.Context, w io.Writer, flush func(), body io.Reader, stripUsage bool, filter EventFilter) (Usage, int, error) {
	if c, ok := body.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		defer stop()
	}
	rd := sse.NewReader(body)
	t := usageTracker{anthropic: a.typ == Anthropic}
	n := 0
	unflushed := false // events written since the last flush
	for {
		if err := ctx.Err(); err != nil {
			return t.usage(), n, ctxError(err)
		}
		ev, err := rd.Next()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return t.usage(), n, ctxError(cerr)
			}
			if err == io.EOF {
				if filter != nil {
					out, ferr := filter.Close()
					if werr := writeOut(w, out); werr != nil {
						return t.usage(), n, werr
					}
					if flush != nil && len(out) > 0 {
						flush()
					}
					if ferr != nil {
						return t.usage(), n, ferr
					}
				}
				return t.usage(), n, nil
			}
			return t.usage(), n, streamError(err)
		}
		if usageOnly := t.observe(ev); !usageOnly || !stripUsage {
			out := ev.Raw
			if filter != nil {
				var ferr error
				if out, ferr = filter.Event(ev); ferr != nil {
					return t.usage(), n, ferr
				}
			}
			if err := writeOut(w, out); err != nil {
				return t.usage(), n, err
			}
			n++
			unflushed = unflushed || len(out) > 0
		}
		// A stripped event may end a burst too: what was written before
		// it must not wait for the upstream's next event.
		if unflushed && flush != nil && !rd.Ready() {
			flush()
			unflushed = false
		}
	}
}

// EventFilter rewrites a stream's events on their way to the caller (the
// output guardrails do). Event returns the bytes to send for ev (maybe
// none yet, maybe ev.Raw unchanged); Close returns what it still holds
// when the stream ends.
type EventFilter interface {
	Event(ev sse.Event) ([]byte, error)
	Close() ([]byte, error)
}

func writeOut(w io.Writer, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("provider: writing the stream to the caller: %w", err)
	}
	return nil
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.UpstreamTimeout, "the upstream stream did not finish in time", err)
	}
	return fmt.Errorf("provider: stream stopped: %w", err)
}

func streamError(err error) error {
	switch {
	case errors.Is(err, sse.ErrTruncated):
		return apperr.Wrap(apperr.Upstream, "the upstream stream ended in the middle of an event", err)
	case errors.Is(err, sse.ErrEventTooLarge):
		return apperr.Wrap(apperr.Upstream, "the upstream stream sent an event larger than the limit", err)
	}
	return apperr.Wrap(apperr.Upstream, "reading the upstream stream failed", err)
}

// usageTracker accumulates the usage reported along a stream.
type usageTracker struct {
	anthropic bool // Anthropic semantics for input_tokens
	wire      wireUsage
	sawWire   bool
	google    googleUsage
	sawGoogle bool
}

// streamChunk is the part of an event's data that carries usage, in any
// of the providers' stream formats.
type streamChunk struct {
	Type          string          `json:"type"`
	Choices       json.RawMessage `json:"choices"`
	Usage         *wireUsage      `json:"usage"`
	Message       *usageHolder    `json:"message"`  // Anthropic message_start
	Response      *usageHolder    `json:"response"` // OpenAI Responses API
	UsageMetadata *googleUsage    `json:"usageMetadata"`
}

type usageHolder struct {
	Usage *wireUsage `json:"usage"`
}

// observe records the usage in ev and reports whether ev is an OpenAI
// usage-only chunk.
func (t *usageTracker) observe(ev sse.Event) (usageOnly bool) {
	d := ev.Data
	if !ev.HasData || len(d) == 0 || d[0] != '{' || !hasUsage(d) {
		return false
	}
	var c streamChunk
	if json.Unmarshal([]byte(d), &c) != nil {
		// A malformed chunk is still forwarded; the caller may cope with
		// it, and it reports no usage.
		return false
	}
	if c.Type == "message_start" || c.Type == "message_delta" {
		t.anthropic = true
	}
	if c.Usage != nil {
		t.wire.merge(c.Usage)
		t.sawWire = true
	}
	if c.Message != nil && c.Message.Usage != nil && c.Type == "message_start" {
		t.wire.merge(c.Message.Usage)
		t.sawWire = true
	}
	if c.Response != nil && c.Response.Usage != nil {
		t.wire.merge(c.Response.Usage)
		t.sawWire = true
	}
	if c.UsageMetadata != nil {
		t.google = *c.UsageMetadata
		t.sawGoogle = true
	}
	return c.Usage != nil && emptyArray(c.Choices)
}

// hasUsage reports whether the JSON text d may carry a usage report: a
// "usageMetadata" key, or a "usage" key whose value is not null. OpenAI
// puts "usage":null in every chunk of a stream that asked for usage, and
// decoding all of those would be most of the cost of relaying. A false
// positive only costs a decode.
func hasUsage(d string) bool {
	const key = `"usage`
	for {
		i := strings.Index(d, key)
		if i < 0 {
			return false
		}
		d = d[i+len(key):]
		if strings.HasPrefix(d, `Metadata"`) {
			return true
		}
		if !strings.HasPrefix(d, `"`) {
			continue // a longer key, or text inside a string
		}
		rest := strings.TrimLeft(d[1:], " \t\r\n")
		if !strings.HasPrefix(rest, ":") {
			continue // "usage" as a value
		}
		if rest = strings.TrimLeft(rest[1:], " \t\r\n"); !strings.HasPrefix(rest, "null") {
			return true
		}
	}
}

// emptyArray reports whether raw is the JSON array [].
func emptyArray(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return len(s) >= 2 && s[0] == '[' && strings.TrimSpace(s[1:len(s)-1]) == ""
}

func (t *usageTracker) usage() Usage {
	switch {
	case t.sawWire:
		return t.wire.usage(t.anthropic)
	case t.sawGoogle:
		return t.google.usage()
	}
	return Usage{}
}
