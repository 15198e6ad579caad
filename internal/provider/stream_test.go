package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider/sse"
)

const openaiChunk = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"%s"},"finish_reason":null}],"usage":null}` + "\n\n"

// openaiStream is a chat completion stream as OpenAI sends it with
// include_usage: content chunks with "usage":null, a usage-only chunk
// with empty choices, and [DONE].
var openaiStream = "" +
	`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}` + "\n\n" +
	fmt.Sprintf(openaiChunk, "Hello") +
	": keep-alive\n\n" +
	fmt.Sprintf(openaiChunk, " world") +
	`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}` + "\n\n"

const openaiUsageChunk = `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":3}}}` + "\r\n\r\n"

const done = "data: [DONE]\n\n"

// anthropicStream is a Messages API stream. message_delta's usage is
// cumulative and includes the input counts, as the API now sends them.
const anthropicStream = "event: message_start\n" +
	`data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}` + "\n\n" +
	"event: content_block_start\n" +
	`data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}` + "\n\n" +
	"event: ping\n" + `data: {"type": "ping"}` + "\n\n" +
	"event: content_block_delta\n" +
	`data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"usage\" message"}}` + "\n\n" +
	"event: content_block_stop\n" + `data: {"type":"content_block_stop","index":0}` + "\n\n" +
	"event: message_delta\n" +
	`data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}` + "\n\n" +
	"event: message_stop\n" + `data: {"type":"message_stop"}` + "\n\n"

// flushLog records, at each flush, how many bytes had been written, so a
// test can check that every event was flushed as soon as it was written.
type flushLog struct {
	out     bytes.Buffer
	flushes []int
}

func (f *flushLog) flush() { f.flushes = append(f.flushes, f.out.Len()) }

// eventEnds returns the cumulative byte offsets at which the events of a
// stream end.
func eventEnds(t *testing.T, stream string) []int {
	t.Helper()
	rd := sse.NewReader(strings.NewReader(stream))
	var ends []int
	total := 0
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return ends
		}
		if err != nil {
			t.Fatalf("test stream is malformed: %v", err)
		}
		total += len(ev.Raw)
		ends = append(ends, total)
	}
}

func TestCopyStream(t *testing.T) {
	openai := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	anthropic := mustNew(t, Config{Name: "a", Type: Anthropic, BaseURL: "https://x"})
	google := mustNew(t, Config{Name: "g", Type: Google, BaseURL: "https://x"})

	tests := []struct {
		name      string
		a         *Adapter
		in        string
		strip     bool
		wantOut   string
		wantUsage Usage
	}{
		{"openai with usage chunk", openai, openaiStream + openaiUsageChunk + done, false,
			openaiStream + openaiUsageChunk + done, Usage{InputTokens: 19, OutputTokens: 10, CachedInputTokens: 3, Known: true}},
		{"openai usage chunk stripped", openai, openaiStream + openaiUsageChunk + done, true,
			openaiStream + done, Usage{InputTokens: 19, OutputTokens: 10, CachedInputTokens: 3, Known: true}},
		{"openai without usage chunk", openai, openaiStream + done, false, openaiStream + done, Usage{}},
		{"openai without usage chunk, strip on", openai, openaiStream + done, true, openaiStream + done, Usage{}},
		{"anthropic", anthropic, anthropicStream, false, anthropicStream,
			Usage{InputTokens: 30, OutputTokens: 15, CachedInputTokens: 5, Known: true}},
		{"anthropic is never stripped", anthropic, anthropicStream, true, anthropicStream,
			Usage{InputTokens: 30, OutputTokens: 15, CachedInputTokens: 5, Known: true}},
		{"anthropic cumulative delta with input counts", anthropic,
			"event: message_start\n" + `data: {"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}` + "\n\n" +
				"event: message_delta\n" + `data: {"type":"message_delta","usage":{"output_tokens":7}}` + "\n\n" +
				"event: message_delta\n" + `data: {"type":"message_delta","usage":{"input_tokens":40,"cache_creation_input_tokens":100,"output_tokens":20}}` + "\n\n",
			false, "", Usage{InputTokens: 140, OutputTokens: 20, CacheWriteInputTokens: 100, Known: true}},
		{"responses API", openai,
			"event: response.created\n" + `data: {"type":"response.created","response":{"id":"r","usage":null}}` + "\n\n" +
				"event: response.output_text.delta\n" + `data: {"type":"response.output_text.delta","delta":"hi"}` + "\n\n" +
				"event: response.completed\n" + `data: {"type":"response.completed","response":{"id":"r","usage":{"input_tokens":11,"input_tokens_details":{"cached_tokens":0},"output_tokens":2}}}` + "\n\n",
			true, "", Usage{InputTokens: 11, OutputTokens: 2, Known: true}},
		{"gemini", google,
			`data: {"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":1}}` + "\r\n\r\n" +
				`data: {"candidates":[{"content":{"parts":[{"text":"b"}]}}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6}}` + "\r\n\r\n",
			false, "", Usage{InputTokens: 8, OutputTokens: 6, Known: true}},
		{"malformed chunk forwarded, no usage", openai, `data: {"usage":{"prompt_tokens":` + "\n\n" + done, true,
			`data: {"usage":{"prompt_tokens":` + "\n\n" + done, Usage{}},
		{"empty stream", openai, "", false, "", Usage{}},
	}
	for _, tt := range tests {
		if tt.wantOut == "" {
			tt.wantOut = tt.in
		}
		wantEvents := len(eventEnds(t, tt.wantOut))
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(tt.in) },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tt.in)) },
			"halves":   func() io.Reader { return &splitReader{data: []byte(tt.in), cut: len(tt.in) / 2} },
		}
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				var f flushLog
				u, n, err := tt.a.CopyStream(context.Background(), &f.out, f.flush, mk(), tt.strip, nil)
				if err != nil {
					t.Fatalf("CopyStream: %v", err)
				}
				if got := f.out.String(); got != tt.wantOut {
					t.Fatalf("forwarded:\n%q\nwant\n%q", got, tt.wantOut)
				}
				if u != tt.wantUsage {
					t.Fatalf("usage = %+v, want %+v", u, tt.wantUsage)
				}
				if n != wantEvents {
					t.Fatalf("forwarded %d events, want %d", n, wantEvents)
				}
				checkFlushes(t, rname, f.flushes, eventEnds(t, tt.wantOut), len(tt.wantOut))
			})
		}
	}
}

// checkFlushes checks that flushes happened once per burst of events read
// together: after every event when the source gives one byte at a time,
// once at the end when it gives everything at once, and, for two reads, at
// an event end and at the end. Nothing written may stay unflushed.
func checkFlushes(t *testing.T, reader string, flushes, ends []int, size int) {
	t.Helper()
	if len(ends) == 0 {
		if len(flushes) != 0 {
			t.Fatalf("flushed at %v with nothing written", flushes)
		}
		return
	}
	if len(flushes) == 0 || flushes[len(flushes)-1] != size {
		t.Fatalf("flushed at %v; the last flush must come after all %d bytes", flushes, size)
	}
	for _, f := range flushes {
		if !slices.Contains(ends, f) {
			t.Fatalf("flushed at %v: %d is not the end of an event (%v)", flushes, f, ends)
		}
	}
	switch reader {
	case "one byte":
		if !slices.Equal(flushes, ends) {
			t.Fatalf("flushed at %v, want after each event at %v", flushes, ends)
		}
	case "whole":
		if len(flushes) != 1 {
			t.Fatalf("flushed at %v, want once for a stream read at once", flushes)
		}
	case "halves":
		if len(flushes) > 2 {
			t.Fatalf("flushed at %v, want at most once per read", flushes)
		}
	}
}

// splitReader returns data in two reads split at cut, then EOF.
type splitReader struct {
	data []byte
	cut  int
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(s.data)
	if s.cut > 0 {
		n, s.cut = s.cut, 0
	}
	n = copy(p, s.data[:min(n, len(s.data))])
	s.data = s.data[n:]
	return n, nil
}

// TestCopyStreamEveryOffset splits the stream in two at every byte offset:
// the forwarded bytes and the usage must not depend on where reads end.
func TestCopyStreamEveryOffset(t *testing.T) {
	openai := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	anthropic := mustNew(t, Config{Name: "a", Type: Anthropic, BaseURL: "https://x"})
	for _, c := range []struct {
		a       *Adapter
		in, out string
		usage   Usage
	}{
		{openai, openaiStream + openaiUsageChunk + done, openaiStream + done, Usage{InputTokens: 19, OutputTokens: 10, CachedInputTokens: 3, Known: true}},
		{anthropic, anthropicStream, anthropicStream, Usage{InputTokens: 30, OutputTokens: 15, CachedInputTokens: 5, Known: true}},
	} {
		for cut := 1; cut < len(c.in); cut++ {
			var out bytes.Buffer
			u, _, err := c.a.CopyStream(context.Background(), &out, nil, &splitReader{data: []byte(c.in), cut: cut}, true, nil)
			if err != nil || out.String() != c.out || u != c.usage {
				t.Fatalf("%s split at %d: usage %+v, error %v, output equal: %v", c.a.Type(), cut, u, err, out.String() == c.out)
			}
		}
	}
}

func TestCopyStreamTruncated(t *testing.T) {
	a := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	complete := fmt.Sprintf(openaiChunk, "Hel") + fmt.Sprintf(openaiChunk, "lo")
	tests := []struct {
		name string
		body io.Reader
	}{
		{"ends inside an event", strings.NewReader(complete + `data: {"id":"chatcmpl-1","choi`)},
		{"ends after a line", strings.NewReader(complete + "data: [DONE]\n")},
		{"read error", io.MultiReader(strings.NewReader(complete), iotest.ErrReader(io.ErrUnexpectedEOF))},
		{"read error mid-event", io.MultiReader(strings.NewReader(complete+"data: {"), iotest.ErrReader(errors.New("connection reset")))},
		{"event too large", strings.NewReader(complete + "data: " + strings.Repeat("x", sse.MaxEventSize) + "\n\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f flushLog
			_, n, err := a.CopyStream(context.Background(), &f.out, f.flush, tt.body, false, nil)
			if apperr.CodeOf(err) != apperr.Upstream {
				t.Fatalf("error = %v, want an Upstream error", err)
			}
			if f.out.String() != complete || n != 2 || len(f.flushes) == 0 || f.flushes[len(f.flushes)-1] != len(complete) {
				t.Fatalf("forwarded %d events (flushes at %v): %q; want the 2 complete ones, flushed", n, f.flushes, f.out.String())
			}
		})
	}
}

// signalWriter reports each write on a channel.
type signalWriter struct {
	bytes.Buffer
	wrote chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	n, err := s.Buffer.Write(p)
	s.wrote <- struct{}{}
	return n, err
}

func TestCopyStreamCancel(t *testing.T) {
	a := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	w := &signalWriter{wrote: make(chan struct{}, 8)}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, n, err := a.CopyStream(ctx, w, nil, pr, false, nil)
		done <- result{n, err}
	}()
	// The upstream sends two events and then goes silent, the read
	// blocked; only the cancel can end it.
	go func() {
		_, _ = io.WriteString(pw, fmt.Sprintf(openaiChunk, "a")+fmt.Sprintf(openaiChunk, "b"))
	}()
	<-w.wrote
	<-w.wrote
	cancel()
	res := <-done
	if !errors.Is(res.err, context.Canceled) || res.n != 2 {
		t.Fatalf("CopyStream = %d events, %v; want 2 and context.Canceled", res.n, res.err)
	}
	if _, err := pw.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("the upstream body was not closed: write error %v", err)
	}
}

func TestCopyStreamDone(t *testing.T) {
	a := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	body := fmt.Sprintf(openaiChunk, "a")

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	_, n, err := a.CopyStream(canceled, &out, nil, strings.NewReader(body), false, nil)
	if !errors.Is(err, context.Canceled) || n != 0 || out.Len() != 0 {
		t.Fatalf("canceled: %d events, %v, %q", n, err, out.String())
	}

	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel2()
	_, _, err = a.CopyStream(expired, &out, nil, strings.NewReader(body), false, nil)
	if apperr.CodeOf(err) != apperr.UpstreamTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired: error %v, want UpstreamTimeout wrapping DeadlineExceeded", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestCopyStreamWriteError(t *testing.T) {
	a := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	gone := errors.New("client went away")
	flushed := 0
	_, n, err := a.CopyStream(context.Background(), failWriter{gone}, func() { flushed++ }, strings.NewReader(openaiStream), false, nil)
	if !errors.Is(err, gone) || n != 0 || flushed != 0 {
		t.Fatalf("CopyStream = %d events, %d flushes, %v; want 0, 0, %v", n, flushed, err, gone)
	}
}

func BenchmarkCopyStream(b *testing.B) {
	a, err := New(Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for i := range 198 {
		sb.WriteString(fmt.Sprintf(openaiChunk, fmt.Sprintf("token%d", i)))
	}
	sb.WriteString(openaiUsageChunk)
	sb.WriteString(done)
	stream := sb.String()
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		u, n, err := a.CopyStream(context.Background(), io.Discard, func() {}, strings.NewReader(stream), true, nil)
		if err != nil || n != 199 || !u.Known {
			b.Fatalf("CopyStream = %+v, %d, %v", u, n, err)
		}
	}
}

func TestHasUsage(t *testing.T) {
	tests := []struct {
		d    string
		want bool
	}{
		{`{"choices":[],"usage":null}`, false},
		{`{"usage" : null ,"x":1}`, false},
		{`{"usage":{"prompt_tokens":1}}`, true},
		{`{"usage" :{"prompt_tokens":1}}`, true},
		{`{"usage":null,"message":{"usage":{"input_tokens":1}}}`, true},
		{`{"usageMetadata":{"promptTokenCount":1}}`, true},
		{`{"text":"the \"usage\": {} here"}`, false},
		{`{"kind":"usage"}`, false},
		{`{"usage_report":{}}`, false},
		{`{"choices":[]}`, false},
	}
	for _, tt := range tests {
		if got := hasUsage(tt.d); got != tt.want {
			t.Errorf("hasUsage(%s) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

// upperFilter upper-cases every event and appends a last one at the end,
// or fails on an event containing "boom".
type upperFilter struct{ closed bool }

func (f *upperFilter) Event(ev sse.Event) ([]byte, error) {
	if strings.Contains(ev.Data, "boom") {
		return nil, errors.New("filter refused")
	}
	return bytes.ToUpper(ev.Raw), nil
}

func (f *upperFilter) Close() ([]byte, error) {
	f.closed = true
	return []byte("data: tail\n\n"), nil
}

func TestCopyStreamFilter(t *testing.T) {
	a := mustNew(t, Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"})
	var out bytes.Buffer
	f := &upperFilter{}
	_, n, err := a.CopyStream(context.Background(), &out, nil, strings.NewReader("data: a\n\ndata: b\n\n"), false, f)
	if err != nil || n != 2 {
		t.Fatalf("CopyStream = %d, %v", n, err)
	}
	if got := out.String(); got != "DATA: A\n\nDATA: B\n\ndata: tail\n\n" || !f.closed {
		t.Errorf("forwarded %q (closed %v)", got, f.closed)
	}
	out.Reset()
	_, _, err = a.CopyStream(context.Background(), &out, nil, strings.NewReader("data: a\n\ndata: boom\n\ndata: c\n\n"), false, &upperFilter{})
	if err == nil || out.String() != "DATA: A\n\n" {
		t.Errorf("a refusing filter: forwarded %q, err %v", out.String(), err)
	}
}
