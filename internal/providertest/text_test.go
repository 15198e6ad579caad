package providertest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"   ", 0},
		{"one", 1},
		{" one  two\tthree\nfour ", 4},
		{"héllo wörld", 2},
		{"a\u00a0b", 2}, // a no-break space separates words too
	}
	for _, tc := range tests {
		if got := Tokens(tc.in); got != tc.want {
			t.Errorf("Tokens(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestReplyText(t *testing.T) {
	tests := []struct {
		model  string
		chunks int
		want   string
	}{
		{"gpt-4o", 5, "Hello from fake gpt-4o"},
		{"m", 20, "Hello from fake m lorem"},
		{"m", 0, "Hello from fake m"},
	}
	for _, tc := range tests {
		if got := ReplyText(tc.model, tc.chunks); got != tc.want {
			t.Errorf("ReplyText(%q, %d) = %q, want %q", tc.model, tc.chunks, got, tc.want)
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want []string
	}{
		{"", 3, nil},
		{"abcdef", 3, []string{"ab", "cd", "ef"}},
		{"abcdefg", 3, []string{"ab", "cd", "efg"}},
		{"ab", 5, []string{"a", "b"}},
		{"héllo", 2, []string{"hé", "llo"}},
	}
	for _, tc := range tests {
		got := split(tc.in, tc.n)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("split(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func FuzzSplit(f *testing.F) {
	f.Add("Hello from fake gpt-4o", 5)
	f.Add("日本語のテキスト", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if !utf8.ValidString(s) || n < 1 || n > 1000 {
			return
		}
		pieces := split(s, n)
		if strings.Join(pieces, "") != s {
			t.Fatalf("pieces %q do not rejoin to %q", pieces, s)
		}
		if want := min(n, utf8.RuneCountInString(s)); len(pieces) != want {
			t.Fatalf("%d pieces, want %d", len(pieces), want)
		}
		for _, p := range pieces {
			if p == "" || !utf8.ValidString(p) {
				t.Fatalf("bad piece %q in %q", p, pieces)
			}
		}
	})
}

// FuzzPromptInput feeds arbitrary JSON to the parser of prompt and input
// fields.
func FuzzPromptInput(f *testing.F) {
	for _, s := range []string{`"a b"`, `["a","b c"]`, `[1,2,3]`, `[[1],[2,3]]`, `[{"type":"text","text":"x"}]`, `{}`, `[]`, `null`, `[1,"a"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p promptInput
		if err := json.Unmarshal(b, &p); err != nil {
			return
		}
		if len(p.texts) != len(p.tokens) || p.count() < 0 {
			t.Fatalf("inconsistent input %+v from %q", p, b)
		}
	})
}

// FuzzTextOf feeds arbitrary JSON to the parser of message content.
func FuzzTextOf(f *testing.F) {
	for _, s := range []string{`"hi"`, `[{"type":"text","text":"a"},{"type":"image_url"}]`, `[{"type":"tool_result","content":[{"type":"text","text":"b"}]}]`, `42`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := textOf(b)
		var s string
		if json.Unmarshal(b, &s) == nil && got != s {
			t.Fatalf("textOf(%q) = %q, want the string itself", b, got)
		}
	})
}

// FuzzHandler sends arbitrary bodies to every endpoint: the fake must
// answer each with a status and a well-formed body, never panic.
func FuzzHandler(f *testing.F) {
	paths := []string{
		"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses",
		"/v1/images/generations", "/v1/audio/speech", "/v1/moderations", "/v1/messages",
		"/v1/messages/count_tokens", "/v1beta/models/g:generateContent",
		"/v1beta/models/g:streamGenerateContent?alt=sse", "/models/gpt2",
		"/openai/deployments/d/chat/completions?api-version=1",
	}
	for i, b := range []string{chatBody, streamChat, `{"model":"m","input":["a",[1,2]]}`, `{"model":"m","input":"x","stream":true}`, messagesBody, streamMessages, `{"contents":[{"parts":[{"text":"x"}]}]}`, `{"inputs":"x"}`, `{`, `null`, `[]`} {
		f.Add(uint8(i), []byte(b))
	}
	h := NewHandler(Options{Now: fixedNow})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("x-api-key", "k")
		req.Header.Set("x-goog-api-key", "k")
		req.Header.Set("api-key", "k")
		req.Header.Set("anthropic-version", "2023-06-01")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		h.Reset() // keep memory flat over a long fuzz run
		res := rec.Result()
		ct := res.Header.Get("Content-Type")
		out := rec.Body.Bytes()
		switch {
		case res.StatusCode != 200 && res.StatusCode != 400 && res.StatusCode != 404:
			t.Fatalf("%s: status %d for %q", path, res.StatusCode, body)
		case ct == "application/json" && !json.Valid(out):
			t.Fatalf("%s: invalid JSON %q for %q", path, out, body)
		case strings.HasPrefix(ct, "text/event-stream"):
			for _, ev := range parseSSE(t, out) {
				if ev.Data != "[DONE]" && !json.Valid([]byte(ev.Data)) {
					t.Fatalf("%s: invalid event %q for %q", path, ev.Data, body)
				}
			}
		}
	})
}
