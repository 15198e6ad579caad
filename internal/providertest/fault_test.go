package providertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const streamChat = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

var streamMessages = strings.Replace(messagesBody, `"max_tokens":64`, `"max_tokens":64,"stream":true`, 1)

func TestAuthFailures(t *testing.T) {
	const wrong = "sk-wrong-key-9876543210abcdef"
	tests := []struct {
		name       string
		path       string
		header     map[string]string
		body       string
		wantStatus int
		wantShape  string // a fragment of the provider's error shape
	}{
		{"openai missing", "/v1/chat/completions", map[string]string{}, chatBody, 401, `"type":"invalid_request_error"`},
		{"openai wrong", "/v1/chat/completions", openAIAuth(wrong), chatBody, 401, `"code":"invalid_api_key"`},
		{"openai not bearer", "/v1/chat/completions", map[string]string{"Authorization": "Basic " + testKey}, chatBody, 401, `"error":{`},
		{"openai key in anthropic header", "/v1/chat/completions", anthropicAuth(testKey), chatBody, 401, `"error":{`},
		{"azure wrong", "/openai/deployments/d/chat/completions?api-version=2024-10-21", azureAuth(wrong), chatBody, 401, `"code":"401"`},
		{"anthropic missing", "/v1/messages", map[string]string{"anthropic-version": "2023-06-01"}, messagesBody, 401, `"type":"authentication_error"`},
		{"anthropic wrong", "/v1/messages", anthropicAuth(wrong), messagesBody, 401, `"message":"invalid x-api-key"`},
		{"anthropic wrong bearer", "/v1/messages", map[string]string{"Authorization": "Bearer " + wrong, "anthropic-version": "2023-06-01"}, messagesBody, 401, `"type":"authentication_error"`},
		{"google missing", "/v1beta/models/g:generateContent", map[string]string{}, `{"contents":[{"parts":[{"text":"x"}]}]}`, 403, `"status":"PERMISSION_DENIED"`},
		{"google wrong", "/v1beta/models/g:generateContent", googleAuth(wrong), `{"contents":[{"parts":[{"text":"x"}]}]}`, 400, `"reason":"API_KEY_INVALID"`},
		{"hugging face wrong", "/models/gpt2", openAIAuth(wrong), `{"inputs":"x"}`, 401, `{"error":"Invalid credentials in Authorization header"}`},
	}
	s := newServer(t, Options{Key: testKey})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := do(t, s, call{path: tc.path, header: tc.header, body: tc.body})
			if resp.StatusCode != tc.wantStatus || !strings.Contains(string(raw), tc.wantShape) {
				t.Fatalf("got %d %s, want %d with %s", resp.StatusCode, raw, tc.wantStatus, tc.wantShape)
			}
			// Like the real APIs, the fake never echoes a key in full.
			if strings.Contains(string(raw), wrong) || strings.Contains(string(raw), testKey) {
				t.Errorf("error body echoes a key: %s", raw)
			}
		})
	}
	t.Run("anthropic key as bearer", func(t *testing.T) {
		// What the current official Anthropic SDKs send.
		resp, raw := do(t, s, call{path: "/v1/messages", header: map[string]string{"Authorization": "Bearer " + testKey, "anthropic-version": "2023-06-01"}, body: messagesBody})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, raw)
		}
	})
	t.Run("empty Key accepts anything", func(t *testing.T) {
		open := newServer(t, Options{})
		resp, raw := do(t, open, call{path: "/v1/chat/completions", body: chatBody})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", resp.StatusCode, raw)
		}
	})
}

func TestMaskKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"short", "*****"},
		{"sk-abcdefghij1234", "sk-**********1234"},
	}
	for _, tc := range tests {
		if got := maskKey(tc.in); got != tc.want {
			t.Errorf("maskKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestStatusFaults checks that error faults come in each provider's shape
// with Retry-After, and that Message is sent verbatim.
func TestStatusFaults(t *testing.T) {
	const planted = "upstream said: bad key sk-planted-canary-0000000000000000"
	tests := []struct {
		name      string
		call      call
		fault     Fault
		wantCT    string
		wantParts []string
	}{
		{"openai 429", call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: chatBody},
			Fault{Status: 429, RetryAfter: "1"}, "application/json",
			[]string{`"type":"requests"`, `"code":"rate_limit_exceeded"`}},
		{"openai 500 with planted key", call{path: "/v1/embeddings", header: openAIAuth(testKey), body: `{"model":"m","input":"x"}`},
			Fault{Status: 500, Message: planted}, "application/json",
			[]string{`"type":"server_error"`, planted}},
		{"anthropic 529", call{path: "/v1/messages", header: anthropicAuth(testKey), body: messagesBody},
			Fault{Status: 529, RetryAfter: "3"}, "application/json",
			[]string{`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}`}},
		{"anthropic 429 on a stream", call{path: "/v1/messages", header: anthropicAuth(testKey), body: streamMessages},
			Fault{Status: 429, RetryAfter: "2"}, "application/json",
			[]string{`"type":"rate_limit_error"`}},
		{"google 503", call{path: "/v1beta/models/g:generateContent", header: googleAuth(testKey), body: `{"contents":[{"parts":[{"text":"x"}]}]}`},
			Fault{Status: 503}, "application/json",
			[]string{`"code":503`, `"status":"UNAVAILABLE"`}},
		{"hugging face 503", call{path: "/models/gpt2", header: openAIAuth(testKey), body: `{"inputs":"x"}`},
			Fault{Status: 503, Message: "Model gpt2 is currently loading"}, "application/json",
			[]string{`{"error":"Model gpt2 is currently loading"}`}},
		{"azure 429", call{path: "/openai/deployments/d/embeddings?api-version=1", header: azureAuth(testKey), body: `{"input":"x"}`},
			Fault{Status: 429, RetryAfter: "5"}, "application/json",
			[]string{`"code":"429"`}},
		{"html 502 by default", call{path: "/v1/chat/completions", header: openAIAuth(testKey), body: streamChat},
			Fault{HTML: true}, "text/html; charset=utf-8",
			[]string{"<html>", "502 Bad Gateway"}},
		{"html 503", call{path: "/v1/messages", header: anthropicAuth(testKey), body: messagesBody},
			Fault{HTML: true, Status: 503, RetryAfter: "7"}, "text/html; charset=utf-8",
			[]string{"503 Service Unavailable"}},
		{"fault before auth", call{path: "/v1/chat/completions", body: chatBody},
			Fault{Status: 500}, "application/json",
			[]string{`"server_error"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Key: testKey})
			s.Fail("", 1, tc.fault)
			resp, raw := do(t, s, tc.call)
			want := tc.fault.Status
			if want == 0 {
				want = http.StatusBadGateway
			}
			if resp.StatusCode != want || resp.Header.Get("Content-Type") != tc.wantCT {
				t.Fatalf("got %d %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), want, tc.wantCT, raw)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.fault.RetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.fault.RetryAfter)
			}
			for _, p := range tc.wantParts {
				if !strings.Contains(string(raw), p) {
					t.Errorf("body %s lacks %s", raw, p)
				}
			}
			if !tc.fault.HTML && !json.Valid(raw) {
				t.Errorf("error body is not JSON: %s", raw)
			}
			// The fault is spent: the next request succeeds (or fails only
			// on auth when it carries no key).
			resp, raw = do(t, s, tc.call)
			if resp.StatusCode == want && resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("fault applied twice: %d %s", resp.StatusCode, raw)
			}
		})
	}
}

func TestFailMatching(t *testing.T) {
	s := newServer(t, Options{})
	s.Fail("/v1/embeddings", 2, Fault{Status: 503})
	s.Fail("", 1, Fault{Status: 429})
	embed := call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m","input":"x"}`}
	chat := call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}
	steps := []struct {
		call call
		want int
	}{
		{chat, 429},  // the catch-all fault
		{chat, 200},  // spent
		{embed, 503}, // first of two
		{embed, 503},
		{embed, 200},
	}
	for i, st := range steps {
		resp, raw := do(t, s, st.call)
		if resp.StatusCode != st.want {
			t.Fatalf("step %d %s: %d, want %d: %s", i, st.call.path, resp.StatusCode, st.want, raw)
		}
	}

	s.Fail("/v1/chat", -1, Fault{Status: 500})
	for i := range 3 {
		if resp, _ := do(t, s, chat); resp.StatusCode != 500 {
			t.Fatalf("request %d to a provider that is down: %d", i, resp.StatusCode)
		}
	}
	s.Fail("", 0, Fault{Status: 418}) // n == 0 queues nothing
	s.Reset()
	if resp, raw := do(t, s, chat); resp.StatusCode != 200 {
		t.Errorf("after Reset: %d %s", resp.StatusCode, raw)
	}
	if n := len(s.Requests()); n != 1 {
		t.Errorf("Reset kept requests: %d recorded", n)
	}
}

func TestResetFault(t *testing.T) {
	for _, body := range []string{chatBody, streamChat} {
		s := newServer(t, Options{})
		s.Fail("", 1, Fault{Reset: true})
		req := call{path: "/v1/chat/completions", header: openAIAuth("k"), body: body}.request(context.Background(), t, s.URL)
		resp, err := s.Client().Do(req)
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a reset connection gave a response: %d", resp.StatusCode)
		}
		if n := len(s.Requests()); n != 1 {
			t.Errorf("%d requests recorded, want 1", n)
		}
	}
}

// TestStallCanceled checks that a stalled request ends when its client
// leaves, and that the departure is reported on Canceled.
func TestStallCanceled(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		fault Fault
	}{
		{"stall", Options{}, Fault{Stall: true}},
		{"latency", Options{Latency: time.Hour}, Fault{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tc.opts.OnRequest = func(Recorded) { cancel() }
			s := newServer(t, tc.opts)
			s.Fail("", 1, tc.fault)
			req := call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}.request(ctx, t, s.URL)
			resp, err := s.Client().Do(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("stalled request answered %d", resp.StatusCode)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("client error = %v, want context.Canceled", err)
			}
			rec := <-s.Canceled()
			if rec.Path != "/v1/chat/completions" || string(rec.Body) != streamChat {
				t.Errorf("canceled report = %s %s", rec.Path, rec.Body)
			}
		})
	}
}

// readEvents reads n data events from a live stream.
func readEvents(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading event %d: %v", len(out), err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, strings.TrimSpace(d))
		}
	}
	return out
}

func TestStallAfterChunks(t *testing.T) {
	tests := []struct {
		name  string
		call  call
		first int // events to read before the stall: the preamble plus 2 content chunks
	}{
		{"openai", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, 1 + 2},
		{"anthropic", call{path: "/v1/messages", header: anthropicAuth("k"), body: streamMessages}, 3 + 2},
		{"responses", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m","input":"x","stream":true}`}, 4 + 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			s.Fail("", 1, Fault{StallAfterChunks: 2})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := s.Client().Do(tc.call.request(ctx, t, s.URL))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			events := readEvents(t, bufio.NewReader(resp.Body), tc.first)
			if last := events[len(events)-1]; strings.Contains(last, "stop") || strings.Contains(last, "completed") {
				t.Errorf("stream went past the stall point: %s", last)
			}
			cancel()
			rec := <-s.Canceled()
			if rec.Path != tc.call.path {
				t.Errorf("canceled %s, want %s", rec.Path, tc.call.path)
			}
		})
	}
}

func TestTruncateAfterChunks(t *testing.T) {
	tests := []struct {
		name      string
		call      call
		at        int
		wantDelta int
		forbidden []string
	}{
		{"openai", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, 2, 2, []string{"[DONE]", `"finish_reason":"stop"`, `"usage":{`}},
		{"openai past the end", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, 99, DefaultChunks, []string{"[DONE]", `"finish_reason":"stop"`}},
		{"anthropic", call{path: "/v1/messages", header: anthropicAuth("k"), body: streamMessages}, 3, 3, []string{"message_stop", "message_delta"}},
		{"responses", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m","input":"x","stream":true}`}, 1, 1, []string{"response.completed"}},
		{"gemini", call{path: "/v1beta/models/g:streamGenerateContent?alt=sse", header: googleAuth("k"), body: `{"contents":[{"parts":[{"text":"x"}]}]}`}, 4, 4, []string{"STOP"}},
		{"completions", call{path: "/v1/completions", header: openAIAuth("k"), body: `{"model":"m","prompt":"x","stream":true}`}, 1, 1, []string{"[DONE]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			s.Fail("", 1, Fault{TruncateAfterChunks: tc.at})
			resp, err := s.Client().Do(tc.call.request(context.Background(), t, s.URL))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err == nil {
				t.Errorf("a truncated stream read to a clean end")
			}
			for _, f := range tc.forbidden {
				if strings.Contains(string(raw), f) {
					t.Errorf("truncated stream contains %s:\n%s", f, raw)
				}
			}
			deltas := 0
			for _, ev := range parseSSE(t, raw) {
				if strings.Contains(ev.Data, `"content":"`) && !strings.Contains(ev.Data, `"content":""`) ||
					strings.Contains(ev.Data, "text_delta") || strings.Contains(ev.Data, "output_text.delta") ||
					strings.Contains(ev.Data, `"candidates"`) || strings.Contains(ev.Data, `"text_completion"`) {
					deltas++
				}
			}
			if deltas != tc.wantDelta {
				t.Errorf("%d content chunks before the cut, want %d:\n%s", deltas, tc.wantDelta, raw)
			}
		})
	}
}

func TestTruncateAndStallNonStream(t *testing.T) {
	t.Run("truncate", func(t *testing.T) {
		s := newServer(t, Options{})
		s.Fail("", 1, Fault{TruncateAfterChunks: 1})
		resp, err := s.Client().Do(call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}.request(context.Background(), t, s.URL))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) || json.Valid(raw) || len(raw) == 0 {
			t.Errorf("read %q, %v; want half a body and io.ErrUnexpectedEOF", raw, err)
		}
	})
	t.Run("stall", func(t *testing.T) {
		s := newServer(t, Options{})
		s.Fail("", 1, Fault{StallAfterChunks: 1})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp, err := s.Client().Do(call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}.request(ctx, t, s.URL))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
			t.Fatalf("reading the first half: %v", err)
		}
		cancel()
		<-s.Canceled()
	})
}

func TestErrorAfterChunks(t *testing.T) {
	tests := []struct {
		name  string
		call  call
		fault Fault
		want  string
	}{
		{"openai", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, Fault{ErrorAfterChunks: 2, Message: "boom"},
			`data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}`},
		{"anthropic overloaded", call{path: "/v1/messages", header: anthropicAuth("k"), body: streamMessages}, Fault{ErrorAfterChunks: 1},
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}"},
		{"responses", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m","input":"x","stream":true}`}, Fault{ErrorAfterChunks: 1, Status: 429},
			`"type":"error","sequence_number":5,"code":"rate_limit_exceeded"`},
		{"not streamed: the whole request fails", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}, Fault{ErrorAfterChunks: 1, Status: 503},
			`{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			s.Fail("", 1, tc.fault)
			_, raw := do(t, s, tc.call)
			if !strings.Contains(string(raw), tc.want) {
				t.Errorf("body lacks %s:\n%s", tc.want, raw)
			}
			if strings.Contains(string(raw), "[DONE]") || strings.Contains(string(raw), "message_stop") || strings.Contains(string(raw), "response.completed") {
				t.Errorf("stream finished after its error:\n%s", raw)
			}
		})
	}
}

func TestUsageFaults(t *testing.T) {
	tests := []struct {
		name   string
		call   call
		fault  Fault
		want   []string
		absent []string
	}{
		{"chat no usage", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}, Fault{NoUsage: true},
			[]string{`"finish_reason":"stop"`}, []string{`"usage"`}},
		{"chat stream no usage", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, Fault{NoUsage: true},
			[]string{"[DONE]"}, []string{`"prompt_tokens"`}},
		{"chat bad usage", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}, Fault{BadUsage: true},
			[]string{`"prompt_tokens":"6"`, `"cached_tokens":"0"`}, []string{`"prompt_tokens":6`}},
		{"chat stream bad usage", call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}, Fault{BadUsage: true},
			[]string{`"completion_tokens":"4"`, "[DONE]"}, nil},
		{"anthropic no usage", call{path: "/v1/messages", header: anthropicAuth("k"), body: messagesBody}, Fault{NoUsage: true},
			[]string{`"end_turn"`}, []string{`"usage"`}},
		{"anthropic stream bad usage", call{path: "/v1/messages", header: anthropicAuth("k"), body: streamMessages}, Fault{BadUsage: true},
			[]string{`"input_tokens":"6"`, `"output_tokens":"4"`, "message_stop"}, []string{`"output_tokens":4`}},
		{"responses no usage", call{path: "/v1/responses", header: openAIAuth("k"), body: `{"model":"m","input":"x"}`}, Fault{NoUsage: true},
			[]string{`"usage":null`}, []string{`"input_tokens"`}},
		{"embeddings bad usage", call{path: "/v1/embeddings", header: openAIAuth("k"), body: `{"model":"m","input":"a b"}`}, Fault{BadUsage: true},
			[]string{`"usage":{"prompt_tokens":"2","total_tokens":"2"}`}, nil},
		{"gemini no usage", call{path: "/v1beta/models/g:generateContent", header: googleAuth("k"), body: `{"contents":[{"parts":[{"text":"x"}]}]}`}, Fault{NoUsage: true},
			[]string{`"STOP"`}, []string{`usageMetadata`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			s.Fail("", 1, tc.fault)
			resp, raw := do(t, s, tc.call)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(raw), w) {
					t.Errorf("body lacks %s:\n%s", w, raw)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(string(raw), a) {
					t.Errorf("body contains %s:\n%s", a, raw)
				}
			}
		})
	}
}

func TestRetryAfterOnSuccess(t *testing.T) {
	s := newServer(t, Options{})
	s.Fail("", 1, Fault{RetryAfter: "9"})
	resp, _ := do(t, s, call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Retry-After") != "9" {
		t.Errorf("got %d with Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestRequestsRecorded(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	if _, ok := s.Last(); ok {
		t.Fatal("Last reports a request before any was sent")
	}
	calls := []call{
		{path: "/v1/chat/completions", header: openAIAuth(testKey), body: chatBody},
		{method: http.MethodGet, path: "/v1/models?limit=2", header: openAIAuth("sk-wrong-1234567890")},
		{path: "/v1/messages", header: anthropicAuth(testKey), body: messagesBody},
	}
	for _, c := range calls {
		do(t, s, c)
	}
	got := s.Requests()
	if len(got) != len(calls) {
		t.Fatalf("%d requests recorded, want %d", len(got), len(calls))
	}
	want := []struct{ method, path, query, auth, body string }{
		{"POST", "/v1/chat/completions", "", "Bearer " + testKey, chatBody},
		{"GET", "/v1/models", "limit=2", "Bearer sk-wrong-1234567890", ""},
		{"POST", "/v1/messages", "", "", messagesBody},
	}
	for i, w := range want {
		r := got[i]
		if r.Method != w.method || r.Path != w.path || r.RawQuery != w.query || r.Header.Get("Authorization") != w.auth ||
			string(r.Body) != w.body || !r.Time.Equal(fixedNow()) {
			t.Errorf("request %d = %s %s ?%s auth %q body %q at %v", i, r.Method, r.Path, r.RawQuery, r.Header.Get("Authorization"), r.Body, r.Time)
		}
	}
	if got[2].Header.Get("x-api-key") != testKey {
		t.Errorf("anthropic key not recorded: %v", got[2].Header)
	}
	// Requests returns a copy: appending to it does not change the record.
	_ = append(got[:1], Recorded{Path: "/changed"})
	if s.Requests()[1].Path != "/v1/models" {
		t.Error("Requests exposes its backing array")
	}
	if last, ok := s.Last(); !ok || last.Path != "/v1/messages" {
		t.Errorf("Last = %v %v", last.Path, ok)
	}
}

// TestConcurrent runs many clients at once against queued faults; under
// -race it also checks the locking.
func TestConcurrent(t *testing.T) {
	s := newServer(t, Options{Key: testKey})
	const clients, faults = 40, 10
	s.Fail("", faults, Fault{Status: 429})
	calls := []call{
		{path: "/v1/chat/completions", header: openAIAuth(testKey), body: streamChat},
		{path: "/v1/chat/completions", header: openAIAuth(testKey), body: chatBody},
		{path: "/v1/messages", header: anthropicAuth(testKey), body: streamMessages},
		{path: "/v1/embeddings", header: openAIAuth(testKey), body: `{"model":"m","input":"x"}`},
	}
	var wg sync.WaitGroup
	statuses := make(chan int, clients)
	for i := range clients {
		wg.Go(func() {
			c := calls[i%len(calls)]
			resp, err := s.Client().Do(c.request(context.Background(), t, s.URL))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Error(err)
			}
			statuses <- resp.StatusCode
		})
		if i%7 == 0 {
			go func() { _ = s.Requests() }()
		}
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[429] != faults || count[200] != clients-faults {
		t.Errorf("statuses %v, want %d×429 and %d×200", count, faults, clients-faults)
	}
	if n := len(s.Requests()); n != clients {
		t.Errorf("%d requests recorded, want %d", n, clients)
	}
}

// TestCloseReleasesStalls checks that a server can shut down while a client
// that never leaves holds a stalled request.
func TestCloseReleasesStalls(t *testing.T) {
	received := make(chan struct{})
	s := New(Options{OnRequest: func(Recorded) { close(received) }})
	s.Fail("", 1, Fault{Stall: true})
	errc := make(chan error, 1)
	go func() {
		resp, err := s.Client().Do(call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}.request(context.Background(), t, s.URL))
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("stalled request answered %d", resp.StatusCode)
		}
		errc <- err
	}()
	<-received
	s.Close()
	if err := <-errc; err == nil {
		t.Error("the client of a stalled request saw no error after Close")
	}
	s.Close() // a second Close is harmless
}

func TestChunkInterval(t *testing.T) {
	// A stream paced by ChunkInterval ends when its client leaves in the
	// middle, and the departure is reported.
	s := newServer(t, Options{ChunkInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := s.Client().Do(call{path: "/v1/chat/completions", header: openAIAuth("k"), body: streamChat}.request(ctx, t, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	readEvents(t, bufio.NewReader(resp.Body), 2) // role chunk and first content chunk
	cancel()
	<-s.Canceled()
}

// TestHandlerCloseDropsStalled checks that Handler.Close, as the
// fakeprovider command calls it on shutdown, fails stalled and waiting
// requests instead of answering them with an empty success.
func TestHandlerCloseDropsStalled(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		fault Fault
	}{
		{"stall", Options{}, Fault{Stall: true}},
		{"latency", Options{Latency: time.Hour}, Fault{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			received := make(chan struct{})
			tc.opts.OnRequest = func(Recorded) { close(received) }
			h := NewHandler(tc.opts)
			h.Fail("", 1, tc.fault)
			ts := httptest.NewServer(h)
			defer ts.Close()
			errc := make(chan error, 1)
			go func() {
				resp, err := ts.Client().Do(call{path: "/v1/chat/completions", header: openAIAuth("k"), body: chatBody}.request(context.Background(), t, ts.URL))
				if err == nil {
					resp.Body.Close()
					err = fmt.Errorf("answered %d", resp.StatusCode)
				}
				errc <- err
			}()
			<-received
			h.Close()
			if err := <-errc; err == nil || strings.HasPrefix(err.Error(), "answered") {
				t.Errorf("client of a released request: %v, want a connection error", err)
			}
		})
	}
}
