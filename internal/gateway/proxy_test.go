package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/providertest"
	"github.com/wardenproject/warden/internal/route"
	"github.com/wardenproject/warden/internal/secret"
)

// TestUpstreamSeesOnlyTheProviderKey sends each kind of route a request
// loaded with every credential and hop-by-hop header a caller might send,
// and checks what the provider received: its own key in its own header,
// and nothing of the caller's credentials.
func TestUpstreamSeesOnlyTheProviderKey(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	cookie := canary("sk-proj-")
	r.plant(cookie)
	// Headers no provider may see. Connection names X-Hop, making it
	// hop-by-hop too.
	noisy := []string{
		"Cookie", "session=" + cookie,
		"Proxy-Authorization", "Basic " + cookie,
		"Api-Key", vkey,
		"X-Goog-Api-Key", vkey,
		"Connection", "X-Hop",
		"X-Hop", cookie,
		"Keep-Alive", "timeout=5",
		"Te", "trailers",
		"Upgrade", "h2c",
		"X-Forwarded-For", "203.0.113.9",
		"X-Real-Ip", "203.0.113.9",
		"Forwarded", "for=203.0.113.9",
		"Trailer", "X-Whatever",
		"X-Stainless-Lang", "js",
		"OpenAI-Beta", "assistants=v2",
	}
	dropped := []string{"Cookie", "Proxy-Authorization", "Api-Key", "X-Goog-Api-Key", "X-Hop", "Keep-Alive", "Te", "Upgrade",
		"X-Forwarded-For", "X-Real-Ip", "Forwarded", "Trailer", "X-Request-Id"}
	tests := []struct {
		name     string
		path     string
		body     string
		auth     []string // how the caller sends its virtual key
		fake     *providertest.Server
		provider string
		keyHdr   string // the header the provider key must be in
		keyVal   string // its value, with %s for the key
		absent   string // the other credential header, which must be missing
	}{
		{"chat", "/v1/chat/completions", chatBody("gpt-4o", false), []string{"Authorization", "Bearer " + vkey, "X-Api-Key", vkey},
			r.openai, "openai", "Authorization", "Bearer %s", "X-Api-Key"},
		{"messages x-api-key", "/v1/messages", messagesBody("claude-sonnet", false), []string{"X-Api-Key", vkey},
			r.anthropic, "anthropic", "X-Api-Key", "%s", "Authorization"},
		{"messages bearer", "/v1/messages", messagesBody("claude-sonnet", false), []string{"Authorization", "Bearer " + vkey},
			r.anthropic, "anthropic", "X-Api-Key", "%s", "Authorization"},
		{"passthrough openai", "/proxy/openai/chat/completions", chatBody("gpt-4o-mini", false), []string{"Authorization", "Bearer " + vkey, "X-Api-Key", vkey},
			r.openai, "openai", "Authorization", "Bearer %s", "X-Api-Key"},
		{"passthrough anthropic", "/proxy/anthropic/v1/messages", messagesBody("claude-sonnet-4-5", false), []string{"Authorization", "Bearer " + vkey, "X-Api-Key", vkey},
			r.anthropic, "anthropic", "X-Api-Key", "%s", "Authorization"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.fake.Requests())
			headers := append(append([]string(nil), noisy...), tt.auth...)
			rep := r.send(r.req(t.Context(), http.MethodPost, tt.path, tt.body, headers...))
			if rep.status != http.StatusOK {
				t.Fatalf("status %d: %s", rep.status, rep.body)
			}
			recs := tt.fake.Requests()
			if len(recs) != before+1 {
				t.Fatalf("the provider got %d requests, want 1", len(recs)-before)
			}
			got := recs[len(recs)-1].Header
			want := strings.ReplaceAll(tt.keyVal, "%s", r.providerKeys[tt.provider])
			if v := got.Values(tt.keyHdr); len(v) != 1 || v[0] != want {
				t.Errorf("upstream %s = %d values, want exactly the provider key", tt.keyHdr, len(v))
			}
			if v := got.Values(tt.absent); len(v) != 0 {
				t.Errorf("upstream got a %s header; only the provider's own key header may be sent", tt.absent)
			}
			for _, h := range dropped {
				if v := got.Values(h); len(v) != 0 {
					t.Errorf("upstream got the caller's %s header", h)
				}
			}
			if got.Get("X-Stainless-Lang") != "js" {
				t.Errorf("the SDK's X-Stainless-Lang header was not forwarded")
			}
			for _, v := range rep.header {
				for _, s := range v {
					if strings.Contains(s, r.providerKeys[tt.provider]) {
						t.Errorf("a response header carries the provider key")
					}
				}
			}
		})
	}
}

func TestChatCompletion(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false), HeaderRequestID, "chat-1")
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	if ct := rep.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if id := rep.header.Get(HeaderRequestID); id != "chat-1" {
		t.Errorf("%s = %q, want the caller's chat-1", HeaderRequestID, id)
	}
	var resp struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(rep.body, &resp); err != nil {
		t.Fatalf("response is not JSON: %v", err)
	}
	if want := providertest.ReplyText("gpt-4o-2024-08-06", providertest.DefaultChunks); len(resp.Choices) != 1 || resp.Choices[0].Message.Content != want {
		t.Errorf("choices = %+v, want one with %q", resp.Choices, want)
	}
	if resp.Usage.PromptTokens != 2 {
		t.Errorf("usage.prompt_tokens = %d, want 2", resp.Usage.PromptTokens)
	}
	rec, _ := r.openai.Last()
	if rec.Path != "/v1/chat/completions" || rec.Method != http.MethodPost {
		t.Errorf("upstream got %s %s", rec.Method, rec.Path)
	}
	var up struct {
		Model         string          `json:"model"`
		StreamOptions json.RawMessage `json:"stream_options"`
	}
	if err := json.Unmarshal(rec.Body, &up); err != nil {
		t.Fatal(err)
	}
	if up.Model != "gpt-4o-2024-08-06" {
		t.Errorf("upstream model = %q, want the deployment's gpt-4o-2024-08-06", up.Model)
	}
	if up.StreamOptions != nil {
		t.Errorf("stream_options were added to a request that does not stream: %s", up.StreamOptions)
	}
}

func TestEmbeddings(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	rep := r.do(http.MethodPost, "/v1/embeddings", vkey, `{"model":"text-embedding-3-small","input":"hello world"}`)
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	var resp struct {
		Data []struct {
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(rep.body, &resp); err != nil || len(resp.Data) != 1 || len(resp.Data[0].Embedding) == 0 {
		t.Fatalf("not an embedding response (%v): %.200s", err, rep.body)
	}
	if resp.Usage.PromptTokens != 2 {
		t.Errorf("usage.prompt_tokens = %d, want 2", resp.Usage.PromptTokens)
	}
	if rec, _ := r.openai.Last(); rec.Path != "/v1/embeddings" {
		t.Errorf("upstream path = %q", rec.Path)
	}
}

func TestAnthropicMessages(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	for _, tt := range []struct {
		name string
		auth []string
	}{
		{"x-api-key", []string{"X-Api-Key", vkey}},
		{"bearer", []string{"Authorization", "Bearer " + vkey}},
		{"both, the same key", []string{"Authorization", "Bearer " + vkey, "X-Api-Key", vkey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			headers := append([]string{"Anthropic-Version", "2023-06-01"}, tt.auth...)
			rep := r.send(r.req(t.Context(), http.MethodPost, "/v1/messages", messagesBody("claude-sonnet", false), headers...))
			if rep.status != http.StatusOK {
				t.Fatalf("status %d: %s", rep.status, rep.body)
			}
			var msg struct {
				Type    string `json:"type"`
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			}
			if err := json.Unmarshal(rep.body, &msg); err != nil || msg.Type != "message" || len(msg.Content) != 1 {
				t.Fatalf("not a message (%v): %s", err, rep.body)
			}
			if want := providertest.ReplyText("claude-sonnet-4-5", providertest.DefaultChunks); msg.Content[0].Text != want {
				t.Errorf("text = %q, want %q", msg.Content[0].Text, want)
			}
			rec, _ := r.anthropic.Last()
			if rec.Path != "/v1/messages" || rec.Header.Get("Anthropic-Version") != "2023-06-01" {
				t.Errorf("upstream got %s with anthropic-version %q", rec.Path, rec.Header.Get("Anthropic-Version"))
			}
		})
	}
}

func TestModels(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, all := r.key()
	_, some := r.key("gpt-4o-mini", "claude-*")
	list := func(key string) []string {
		t.Helper()
		rep := r.do(http.MethodGet, "/v1/models", key, "")
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		var l struct {
			Object string `json:"object"`
			Data   []struct {
				ID     string `json:"id"`
				Object string `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(rep.body, &l); err != nil || l.Object != "list" {
			t.Fatalf("not a model list (%v): %s", err, rep.body)
		}
		var ids []string
		for _, m := range l.Data {
			if m.Object != "model" {
				t.Errorf("entry %q has object %q", m.ID, m.Object)
			}
			ids = append(ids, m.ID)
		}
		return ids
	}
	if got, want := list(all), []string{"claude-sonnet", "gpt-4o", "gpt-4o-mini", "primary", "secondary", "text-embedding-3-small"}; !slices.Equal(got, want) {
		t.Errorf("unrestricted key lists %q, want %q", got, want)
	}
	if got, want := list(some), []string{"claude-sonnet", "gpt-4o-mini"}; !slices.Equal(got, want) {
		t.Errorf("restricted key lists %q, want %q", got, want)
	}

	tests := []struct {
		name, key, path string
		status          int
		code            string
	}{
		{"allowed", some, "/v1/models/gpt-4o-mini", http.StatusOK, ""},
		{"glob", some, "/v1/models/claude-sonnet", http.StatusOK, ""},
		{"not allowed looks unknown", some, "/v1/models/gpt-4o", http.StatusNotFound, "not_found"},
		{"unknown", all, "/v1/models/gpt-9", http.StatusNotFound, "not_found"},
		{"no key, list", "", "/v1/models", http.StatusUnauthorized, "invalid_api_key"},
		{"no key, one", "", "/v1/models/gpt-4o", http.StatusUnauthorized, "invalid_api_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := r.do(http.MethodGet, tt.path, tt.key, "")
			if tt.status != http.StatusOK {
				e := wantOpenAIError(t, rep, tt.status, tt.code)
				if tt.status == http.StatusNotFound && (e.Error.Param == nil || *e.Error.Param != "model") {
					t.Errorf("param = %v, want model", e.Error.Param)
				}
				return
			}
			var m struct{ ID, Object string }
			if rep.status != http.StatusOK || json.Unmarshal(rep.body, &m) != nil || m.ID != strings.TrimPrefix(tt.path, "/v1/models/") || m.Object != "model" {
				t.Errorf("got %d %s", rep.status, rep.body)
			}
		})
	}
	for _, f := range []*providertest.Server{r.openai, r.anthropic} {
		if n := len(f.Requests()); n != 0 {
			t.Errorf("listing models sent %d requests upstream; it is answered from configuration", n)
		}
	}
}

func TestPassthroughGovernance(t *testing.T) {
	r := newRig(t, rigOptions{Public: []string{"local"}})
	_, vkey := r.key()
	_, narrow := r.key("gpt-4o-mini")

	t.Run("no key", func(t *testing.T) {
		wantOpenAIError(t, r.do(http.MethodGet, "/proxy/openai/models", "", ""), http.StatusUnauthorized, "invalid_api_key")
	})
	t.Run("a key restricted to models", func(t *testing.T) {
		// A pass-through route forwards whatever model the body names, so
		// a key limited to some models must not use it.
		rep := r.do(http.MethodPost, "/proxy/openai/chat/completions", narrow, chatBody("gpt-4o", false))
		wantOpenAIError(t, rep, http.StatusForbidden, "permission_denied")
	})
	t.Run("unknown provider", func(t *testing.T) {
		wantOpenAIError(t, r.do(http.MethodGet, "/proxy/nope/models", vkey, ""), http.StatusNotFound, "not_found")
		// Without a key, the caller learns nothing about which providers
		// exist.
		wantOpenAIError(t, r.do(http.MethodGet, "/proxy/nope/models", "", ""), http.StatusUnauthorized, "invalid_api_key")
	})
	if t.Failed() {
		return
	}
	if n := len(r.openai.Requests()); n != 0 {
		t.Fatalf("refused requests reached the provider: %d", n)
	}

	t.Run("GET with a query", func(t *testing.T) {
		rep := r.do(http.MethodGet, "/proxy/openai/models?limit=2&key=abc&API_KEY=def&order=asc", vkey, "")
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		rec, _ := r.openai.Last()
		if rec.Method != http.MethodGet || rec.Path != "/v1/models" || rec.RawQuery != "limit=2&order=asc" || len(rec.Body) != 0 {
			t.Errorf("upstream got %s %s?%s with %d body bytes", rec.Method, rec.Path, rec.RawQuery, len(rec.Body))
		}
	})
	t.Run("POST keeps the body byte for byte", func(t *testing.T) {
		body := "{ \"model\" : \"gpt-4o-mini\",\n  \"messages\":[{\"role\":\"user\",\"content\":\"<b>&amp; \\u00e9\"}] ,\"n\":1.50e0}"
		rep := r.do(http.MethodPost, "/proxy/openai/chat/completions", vkey, body)
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		rec, _ := r.openai.Last()
		if rec.Method != http.MethodPost || rec.Path != "/v1/chat/completions" || string(rec.Body) != body {
			t.Errorf("upstream got %s %s with body %q, want %q", rec.Method, rec.Path, rec.Body, body)
		}
	})
	t.Run("other methods", func(t *testing.T) {
		rep := r.do(http.MethodDelete, "/proxy/openai/files/file-abc", vkey, "")
		// The fake has no such route: its 404 comes back as a 404.
		wantOpenAIError(t, rep, http.StatusNotFound, "not_found")
		rec, _ := r.openai.Last()
		if rec.Method != http.MethodDelete || rec.Path != "/v1/files/file-abc" {
			t.Errorf("upstream got %s %s", rec.Method, rec.Path)
		}
	})
	t.Run("public provider needs no key", func(t *testing.T) {
		rep := r.do(http.MethodGet, "/proxy/local/v1/models", "", "")
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.body)
		}
		rec, _ := r.local.Last()
		if rec.Path != "/v1/models" || rec.Header.Get("Authorization") != "Bearer "+r.providerKeys["local"] {
			t.Errorf("upstream got %s without its own key", rec.Path)
		}
	})
}

func TestPassthroughNotPublicByDefault(t *testing.T) {
	r := newRig(t, rigOptions{})
	wantOpenAIError(t, r.do(http.MethodGet, "/proxy/local/v1/models", "", ""), http.StatusUnauthorized, "invalid_api_key")
	if n := len(r.local.Requests()); n != 0 {
		t.Errorf("the request reached the provider")
	}
}

func TestPassthroughRefusesPathTricks(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	paths := []string{
		"/proxy/openai/%2e%2e/admin",
		"/proxy/openai/%2E%2E/%2E%2E/etc/passwd",
		"/proxy/openai/models/%2e%2e/%2e%2e/x",
		"/proxy/openai/models/..%2fsecret",
		"/proxy/openai/models/%2fsecret",
		"/proxy/openai/models%5c..%5csecret",
		"/proxy/openai/%252e%252e/admin",
		"/proxy/openai/models/../../admin",
		"/proxy/openai/../admin",
		"/proxy/openai/./models",
		"/proxy/openai/models//x",
		"/proxy/openai/models/%00",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			// Refused outright, never redirected to the cleaned path: that
			// may be another route.
			e := wantOpenAIError(t, r.do(http.MethodGet, p, vkey, ""), http.StatusBadRequest, "invalid_request")
			if got := paramOf(e); got != "path" {
				t.Errorf("param = %q, want path", got)
			}
		})
	}
	t.Run("model routes too", func(t *testing.T) {
		wantOpenAIError(t, r.do(http.MethodPost, "/v1/embeddings/../chat/completions", vkey, chatBody("gpt-4o", false)), http.StatusBadRequest, "invalid_request")
	})
	if recs := r.openai.Requests(); len(recs) != 0 {
		t.Errorf("%d tricky paths reached the provider, the first as %s", len(recs), recs[0].Path)
	}
}

func TestUpstreamErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    providertest.Fault
		n        int // how many requests fail; -1 all
		status   int
		code     string
		typ      string
		attempts int
		retry    string // the Retry-After the caller must see
		mustSay  string // the message must contain this
	}{
		{"400 passes through", providertest.Fault{Status: 400, Message: "Invalid 'messages[0]' %s"}, -1,
			400, "invalid_request", "invalid_request_error", 1, "", "Invalid 'messages[0]'"},
		{"422 keeps its status", providertest.Fault{Status: 422, Message: "unprocessable %s"}, -1,
			422, "invalid_request", "invalid_request_error", 1, "", "unprocessable"},
		{"404 passes through", providertest.Fault{Status: 404, Message: "The model does not exist %s"}, -1,
			404, "not_found", "invalid_request_error", 1, "", "does not exist"},
		{"401 blames Warden's key, not the caller's", providertest.Fault{Status: 401, Message: "Incorrect API key provided: %s"}, -1,
			502, "upstream_error", "api_error", 1, "", "refused Warden's credentials"},
		{"403 likewise", providertest.Fault{Status: 403, Message: "forbidden %s"}, -1,
			502, "upstream_error", "api_error", 1, "", "refused Warden's credentials"},
		{"500 JSON is scrubbed", providertest.Fault{Status: 500, Message: "internal error near key %s"}, -1,
			502, "upstream_error", "api_error", 3, "", "[REDACTED]"},
		{"502 HTML loses its markup", providertest.Fault{Status: 502, HTML: true}, -1,
			502, "upstream_error", "api_error", 3, "", "upstream returned HTTP 502"},
		{"503 HTML", providertest.Fault{Status: 503, HTML: true}, -1,
			503, "service_unavailable", "api_error", 3, "", "upstream returned HTTP 503"},
		{"504", providertest.Fault{Status: 504, Message: "timeout %s"}, -1,
			504, "upstream_timeout", "api_error", 3, "", "timed out"},
		{"429 to the end keeps Retry-After", providertest.Fault{Status: 429, RetryAfter: "7", Message: "slow down %s"}, -1,
			429, "rate_limit_exceeded", "rate_limit_error", 3, "7", "rate limiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			_, vkey := r.key()
			planted := canary("sk-proj-")
			r.plant(planted)
			f := tt.fault
			f.Message = strings.ReplaceAll(f.Message, "%s", planted+" for "+vkey)
			r.openai.Fail("/v1/chat", tt.n, f)
			rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
			e := wantOpenAIError(t, rep, tt.status, tt.code)
			if e.Error.Type != tt.typ {
				t.Errorf("type = %q, want %q", e.Error.Type, tt.typ)
			}
			if !strings.Contains(e.Error.Message, tt.mustSay) {
				t.Errorf("message %q does not say %q", e.Error.Message, tt.mustSay)
			}
			if strings.ContainsAny(e.Error.Message, "<>") {
				t.Errorf("message carries markup: %q", e.Error.Message)
			}
			if got := rep.header.Get("Retry-After"); got != tt.retry {
				t.Errorf("Retry-After = %q, want %q", got, tt.retry)
			}
			if got := requestsTo(r.openai, "/v1/chat"); got != tt.attempts {
				t.Errorf("upstream got %d requests, want %d", got, tt.attempts)
			}
		})
	}
}

func TestAnthropicUpstreamErrorShape(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	planted := canary("sk-ant-api03-")
	r.plant(planted)
	r.anthropic.Fail("/v1/messages", 1, providertest.Fault{Status: 400, Message: "max_tokens: too large; key " + planted})
	rep := r.send(r.req(t.Context(), http.MethodPost, "/v1/messages", messagesBody("claude-sonnet", false), "X-Api-Key", vkey))
	e := wantAnthropicError(t, rep, http.StatusBadRequest, "invalid_request_error")
	if !strings.Contains(e.Error.Message, "max_tokens: too large") {
		t.Errorf("message = %q", e.Error.Message)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	r.openai.Fail("/v1/chat", 1, providertest.Fault{Status: 429, RetryAfter: "1"})
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	if n := requestsTo(r.openai, "/v1/chat"); n != 2 {
		t.Errorf("upstream got %d requests, want 2 (one 429, one retry)", n)
	}
	if got := r.sleptFor(); !slices.Equal(got, []time.Duration{time.Second}) {
		t.Errorf("the router waited %v before retrying, want the upstream's Retry-After of 1s", got)
	}
}

func TestConnectionResetIsRetried(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	r.openai.Fail("/v1/chat", 1, providertest.Fault{Reset: true})
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	if n := requestsTo(r.openai, "/v1/chat"); n != 2 {
		t.Errorf("upstream got %d requests, want 2", n)
	}
}

func TestFallbackToSecondModel(t *testing.T) {
	r := newRig(t, rigOptions{MaxRetries: 1})
	_, vkey := r.key()
	r.openai.Fail("/v1/chat", -1, providertest.Fault{Status: 503})
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("primary", false))
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.body)
	}
	if !strings.Contains(string(rep.body), providertest.ReplyText("gpt-4o-mini", providertest.DefaultChunks)) {
		t.Errorf("the answer did not come from the fallback: %s", rep.body)
	}
	if n := requestsTo(r.openai, "/v1/chat"); n != 2 {
		t.Errorf("the primary got %d requests, want 2 (a try and a retry)", n)
	}
	if n := requestsTo(r.backup, "/v1/chat"); n != 1 {
		t.Errorf("the fallback got %d requests, want 1", n)
	}
}

func TestBreakerOpens(t *testing.T) {
	t.Run("no fallback: 503 without calling", func(t *testing.T) {
		r := newRig(t, rigOptions{MaxRetries: route.NoRetries, BreakerFailures: 2})
		_, vkey := r.key()
		r.openai.Fail("/v1/chat", -1, providertest.Fault{Status: 500})
		for i := range 2 {
			rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
			if rep.status != http.StatusBadGateway {
				t.Fatalf("call %d: status %d, want 502", i+1, rep.status)
			}
		}
		rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
		wantOpenAIError(t, rep, http.StatusServiceUnavailable, "service_unavailable")
		if ra := rep.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q, want the breaker's cooldown", ra)
		}
		if n := requestsTo(r.openai, "/v1/chat"); n != 2 {
			t.Errorf("upstream got %d requests, want 2: the third must skip the open breaker", n)
		}
	})
	t.Run("with a fallback: straight to it", func(t *testing.T) {
		r := newRig(t, rigOptions{MaxRetries: route.NoRetries, BreakerFailures: 2})
		_, vkey := r.key()
		r.openai.Fail("/v1/chat", -1, providertest.Fault{Status: 500})
		for i := range 3 {
			rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("primary", false))
			if rep.status != http.StatusOK {
				t.Fatalf("call %d: status %d: %s", i+1, rep.status, rep.body)
			}
		}
		if n := requestsTo(r.openai, "/v1/chat"); n != 2 {
			t.Errorf("the primary got %d requests, want 2", n)
		}
		if n := requestsTo(r.backup, "/v1/chat"); n != 3 {
			t.Errorf("the fallback got %d requests, want 3", n)
		}
	})
}

func TestNonStreamStallTimesOut(t *testing.T) {
	for _, tt := range []struct {
		name  string
		fault providertest.Fault
	}{
		{"before the headers", providertest.Fault{Stall: true}},
		{"in the body", providertest.Fault{StallAfterChunks: 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{MaxRetries: route.NoRetries, Total: 200 * time.Millisecond})
			_, vkey := r.key()
			r.openai.Fail("/v1/chat", 1, tt.fault)
			rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
			wantOpenAIError(t, rep, http.StatusGatewayTimeout, "upstream_timeout")
			waitCanceled(t, r.openai)
		})
	}
}

func TestWrongProviderKeyIsNotEchoed(t *testing.T) {
	// The fake answers a wrong key by echoing it masked, as OpenAI does.
	// Give the gateway a key the fake does not expect: the caller gets a
	// 502 that names no key, and the log has no trace of either.
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	wrong := canary("sk-proj-")
	r.plant(wrong)
	r.gw.o.Upstreams["openai"].Key = func(context.Context) (secret.Secret, error) { return secret.FromString(wrong), nil }
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
	e := wantOpenAIError(t, rep, http.StatusBadGateway, "upstream_error")
	if strings.Contains(e.Error.Message, "sk-") {
		t.Errorf("message names a key: %q", e.Error.Message)
	}
	if n := requestsTo(r.openai, "/v1/chat"); n != 1 {
		t.Errorf("a refused provider key was retried: %d requests", n)
	}
}
