package gateway

import (
	"context"
	"encoding/json"
	"github.com/wardenproject/warden/internal/guard"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/providertest"
)

// chunkText is the text a chat stream chunk adds, and whether it is a
// usage-only chunk.
func chunkText(t *testing.T, data string) (text string, usageOnly bool) {
	t.Helper()
	var c struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		t.Fatalf("chunk is not JSON: %q", data)
	}
	for _, ch := range c.Choices {
		text += ch.Delta.Content
	}
	return text, len(c.Choices) == 0 && len(c.Usage) > 0 && string(c.Usage) != "null"
}

func TestChatStream(t *testing.T) {
	tests := []struct {
		name      string
		extra     []string
		wantUsage bool
	}{
		{"caller did not ask for usage", nil, false},
		{"caller asked for usage", []string{`"stream_options":{"include_usage":true}`}, true},
		{"caller said no to usage", []string{`"stream_options":{"include_usage":false}`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			_, vkey := r.key()
			req := r.req(t.Context(), http.MethodPost, "/v1/chat/completions", chatBody("gpt-4o", true, tt.extra...), "Authorization", "Bearer "+vkey)
			resp := r.open(req)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if resp.Header.Get("Content-Length") != "" {
				t.Errorf("a stream has a Content-Length")
			}
			evs, err := r.events(resp.Body).rest()
			if err != nil {
				t.Fatalf("the stream broke: %v", err)
			}
			var text strings.Builder
			usage, done := 0, false
			for i, ev := range evs {
				if ev.data == "[DONE]" {
					done = i == len(evs)-1
					continue
				}
				s, u := chunkText(t, ev.data)
				text.WriteString(s)
				if u {
					usage++
				}
			}
			if want := providertest.ReplyText("gpt-4o-2024-08-06", providertest.DefaultChunks); text.String() != want {
				t.Errorf("streamed text %q, want %q", text.String(), want)
			}
			if !done {
				t.Errorf("the stream does not end with [DONE]")
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantUsage]; usage != want {
				t.Errorf("the caller got %d usage chunks, want %d", usage, want)
			}
			// Upstream, usage was asked for either way, so that the call
			// can be metered.
			rec, _ := r.openai.Last()
			var up struct {
				Stream        bool `json:"stream"`
				StreamOptions struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
			}
			if err := json.Unmarshal(rec.Body, &up); err != nil || !up.Stream || !up.StreamOptions.IncludeUsage {
				t.Errorf("upstream body %s does not ask for usage", rec.Body)
			}
		})
	}
}

func TestAnthropicStream(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	for _, tt := range []struct {
		name string
		auth []string
	}{
		{"x-api-key", []string{"X-Api-Key", vkey}},
		{"bearer", []string{"Authorization", "Bearer " + vkey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.open(r.req(t.Context(), http.MethodPost, "/v1/messages", messagesBody("claude-sonnet", true), tt.auth...))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			evs, err := r.events(resp.Body).rest()
			if err != nil {
				t.Fatalf("the stream broke: %v", err)
			}
			var names []string
			var text strings.Builder
			for _, ev := range evs {
				names = append(names, ev.name)
				var d struct {
					Delta struct {
						Text string `json:"text"`
					} `json:"delta"`
				}
				if ev.name == "content_block_delta" && json.Unmarshal([]byte(ev.data), &d) == nil {
					text.WriteString(d.Delta.Text)
				}
			}
			if len(names) < 2 || names[0] != "message_start" || names[len(names)-1] != "message_stop" {
				t.Errorf("events %q, want message_start … message_stop", names)
			}
			if want := providertest.ReplyText("claude-sonnet-4-5", providertest.DefaultChunks); text.String() != want {
				t.Errorf("streamed text %q, want %q", text.String(), want)
			}
			rec, _ := r.anthropic.Last()
			if strings.Contains(string(rec.Body), "stream_options") {
				t.Errorf("stream_options were sent to Anthropic: %s", rec.Body)
			}
		})
	}
}

// streamCase is a streaming request to one of the rig's providers.
type streamCase struct {
	name   string
	path   string
	body   string
	fake   func(*rig) *providertest.Server
	prefix string // the fake's path for Fail
}

var streamCases = []streamCase{
	{"openai", "/v1/chat/completions", chatBody("gpt-4o", true), func(r *rig) *providertest.Server { return r.openai }, "/v1/chat"},
	{"anthropic", "/v1/messages", messagesBody("claude-sonnet", true), func(r *rig) *providertest.Server { return r.anthropic }, "/v1/messages"},
}

// TestStreamFlushesEachEvent has the upstream send two chunks and then hold
// the stream open: the caller can only read them if the gateway flushed
// each event as it came, not when the upstream finished. The output guard
// is off here: when it inspects answers it holds back a window of text
// (see TestStreamGuardWindow), though the events themselves still flow.
func TestStreamFlushesEachEvent(t *testing.T) {
	noOutput := guard.Default()
	noOutput.Output = guard.OutputPolicy{PII: guard.ClassPolicy{Action: guard.Allow}, Secrets: guard.ClassPolicy{Action: guard.Allow}}
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{Guard: []guard.Policy{noOutput}})
			_, vkey := r.key()
			fake := tc.fake(r)
			fake.Fail(tc.prefix, 1, providertest.Fault{StallAfterChunks: 2})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			resp := r.open(r.req(ctx, http.MethodPost, tc.path, tc.body, "Authorization", "Bearer "+vkey))
			evs := r.events(resp.Body)
			// Both chunks were sent before the upstream went silent, so
			// reading them can only succeed if each was flushed.
			for seen := 0; seen < 2; {
				if tc.content(evs.mustNext(t)) {
					seen++
				}
			}
			cancel()
			waitCanceled(t, fake)
		})
	}
}

// content reports whether ev carries a piece of the reply.
func (tc streamCase) content(ev sseEvent) bool {
	if tc.name == "anthropic" {
		return ev.name == "content_block_delta"
	}
	return strings.Contains(ev.data, `"content":"`) && !strings.Contains(ev.data, `"content":""`)
}

// TestClientDisconnectCancelsUpstream reads a couple of events, hangs up,
// and waits for the fake to see its request canceled. The gateway must
// neither retry nor answer again.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			_, vkey := r.key()
			fake := tc.fake(r)
			fake.Fail(tc.prefix, 1, providertest.Fault{StallAfterChunks: 3})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			id := "disconnect-" + tc.name
			resp := r.open(r.req(ctx, http.MethodPost, tc.path, tc.body, "Authorization", "Bearer "+vkey, HeaderRequestID, id))
			evs := r.events(resp.Body)
			evs.mustNext(t)
			evs.mustNext(t)
			cancel()
			rec := waitCanceled(t, fake)
			if !strings.HasPrefix(rec.Path, tc.prefix) {
				t.Errorf("canceled request was %s", rec.Path)
			}
			r.waitDone(id)
			if n := requestsTo(fake, tc.prefix); n != 1 {
				t.Errorf("upstream got %d requests after the caller left, want 1 (no retry)", n)
			}
		})
	}
}

// TestTruncatedStreamEnds has the upstream drop the connection mid-stream:
// the caller's stream ends after what was relayed with one error event in
// the caller's stream format (so SDKs raise instead of taking the cut-off
// answer as complete), never a clean end, and the call is not repeated.
func TestTruncatedStreamEnds(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			_, vkey := r.key()
			fake := tc.fake(r)
			fake.Fail(tc.prefix, 1, providertest.Fault{TruncateAfterChunks: 2})
			id := "truncated-" + tc.name
			resp := r.open(r.req(t.Context(), http.MethodPost, tc.path, tc.body, "Authorization", "Bearer "+vkey, HeaderRequestID, id))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			evs, _ := r.events(resp.Body).rest()
			if len(evs) < 3 {
				t.Fatalf("got %d events, want those relayed before the cut and an error", len(evs))
			}
			for _, ev := range evs[:len(evs)-1] {
				if ev.data == "[DONE]" || ev.name == "message_stop" || strings.Contains(ev.data, `"error"`) {
					t.Errorf("a truncated stream got a clean end or an early error: %q", ev.raw)
				}
			}
			last := evs[len(evs)-1]
			var e struct {
				Type  string `json:"type"`
				Error struct {
					Type, Message, Code string
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(last.data), &e); err != nil || e.Error.Message == "" {
				t.Fatalf("last event %q is not an error event", last.raw)
			}
			if tc.name == "anthropic" && (last.name != "error" || e.Type != "error") {
				t.Errorf("anthropic stream error event %q, want event: error with type error", last.raw)
			}
			if tc.name == "openai" && e.Error.Code != "upstream_error" {
				t.Errorf("openai stream error %q, want code upstream_error", last.raw)
			}
			rec := r.waitDone(id)
			if rec["status"] != float64(http.StatusOK) {
				t.Errorf("access log status %v, want the 200 that was sent", rec["status"])
			}
			if n := requestsTo(fake, tc.prefix); n != 1 {
				t.Errorf("upstream got %d requests, want 1: a started stream is never retried", n)
			}
		})
	}
}

// TestStreamIdleTimeout has the upstream go silent mid-stream; after
// StreamIdle the gateway gives up on it, cancels it and ends the caller's
// stream.
func TestStreamIdleTimeout(t *testing.T) {
	r := newRig(t, rigOptions{StreamIdle: 200 * time.Millisecond})
	_, vkey := r.key()
	r.openai.Fail("/v1/chat", 1, providertest.Fault{StallAfterChunks: 1})
	resp := r.open(r.req(t.Context(), http.MethodPost, "/v1/chat/completions", chatBody("gpt-4o", true), "Authorization", "Bearer "+vkey))
	evs, _ := r.events(resp.Body).rest()
	if len(evs) == 0 {
		t.Errorf("no events were relayed before the stall")
	}
	for _, ev := range evs {
		if ev.data == "[DONE]" {
			t.Errorf("a stalled stream ended with [DONE]")
		}
	}
	waitCanceled(t, r.openai)
}

// TestStreamRetriedBeforeItStarts: a stream whose upstream fails before
// sending anything is retried like any call, and the caller sees one clean
// stream.
func TestStreamRetriedBeforeItStarts(t *testing.T) {
	for _, tc := range streamCases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			_, vkey := r.key()
			fake := tc.fake(r)
			fake.Fail(tc.prefix, 1, providertest.Fault{Status: 503})
			resp := r.open(r.req(t.Context(), http.MethodPost, tc.path, tc.body, "Authorization", "Bearer "+vkey))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			evs, err := r.events(resp.Body).rest()
			if err != nil || len(evs) == 0 {
				t.Fatalf("stream: %d events, %v", len(evs), err)
			}
			last := evs[len(evs)-1]
			if last.data != "[DONE]" && last.name != "message_stop" {
				t.Errorf("the stream did not end cleanly: %q", last.raw)
			}
			if n := requestsTo(fake, tc.prefix); n != 2 {
				t.Errorf("upstream got %d requests, want 2", n)
			}
		})
	}
}
