package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// callerHeader is what a hostile or careless caller might send: its own
// Warden key in every credential header, cookies, hop-by-hop and proxy
// headers, next to the harmless headers that must pass.
func callerHeader(callerKey string) http.Header {
	return http.Header{
		"Authorization":       {"Bearer " + callerKey},
		"X-Api-Key":           {callerKey},
		"Api-Key":             {callerKey},
		"X-Goog-Api-Key":      {callerKey},
		"Proxy-Authorization": {"Basic " + callerKey},
		"Cookie":              {"session=" + callerKey},
		"Connection":          {"keep-alive, X-Secret"},
		"X-Secret":            {callerKey},
		"Te":                  {"trailers"},
		"Upgrade":             {"websocket"},
		"Keep-Alive":          {"timeout=5"},
		"X-Forwarded-For":     {"10.0.0.1"},
		"X-Forwarded-Host":    {"internal"},
		"Forwarded":           {"for=10.0.0.1"},
		"Host":                {"warden.local"},
		"Accept-Encoding":     {"br"},
		"Content-Length":      {"999"},
		"Content-Type":        {"text/plain"},
		"Accept":              {"text/event-stream"},
		"Openai-Beta":         {"assistants=v2"},
		"Idempotency-Key":     {"idem-1"},
		"User-Agent":          {"OpenAI/Python 1.50.0"},
		"X-Stainless-Lang":    {"python"},
		"anthropic-beta":      {"prompt-caching-2024-07-31"}, // not canonical on purpose
	}
}

// keyHeaders are every header a provider key could travel in.
var keyHeaders = []string{"Authorization", "Api-Key", "X-Api-Key", "X-Goog-Api-Key"}

func readBody(t *testing.T, req *http.Request) []byte {
	t.Helper()
	if req.Body == nil {
		return nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatalf("reading the request body: %v", err)
	}
	if req.ContentLength != int64(len(b)) {
		t.Fatalf("ContentLength = %d, body has %d bytes", req.ContentLength, len(b))
	}
	if len(b) > 0 {
		rc, err := req.GetBody()
		if err != nil {
			t.Fatalf("GetBody: %v", err)
		}
		again, _ := io.ReadAll(rc)
		if !bytes.Equal(again, b) {
			t.Fatalf("GetBody gives a different body")
		}
	}
	return b
}

func TestBuild(t *testing.T) {
	callerKey := canary("wdn_", 44)
	providerKey := canary("sk-proj-", 48)

	openai := Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1/"}
	azure := Config{Name: "azure", Type: OpenAI, BaseURL: "https://res.openai.azure.com", AzureAPIVersion: "2024-10-21"}
	anthropic := Config{Name: "anthropic", Type: Anthropic, BaseURL: "https://api.anthropic.com"}
	google := Config{Name: "google", Type: Google, BaseURL: "https://generativelanguage.googleapis.com"}
	hf := Config{Name: "hf", Type: HuggingFace, BaseURL: "https://api-inference.huggingface.co"}
	local := Config{Name: "local", Type: HTTP, BaseURL: "http://127.0.0.1:9000/api"}
	withHeaders := Config{Name: "openai-org", Type: OpenAI, BaseURL: "https://api.openai.com/v1",
		Headers: map[string]string{"OpenAI-Organization": "org-configured", "X-Team": "ml"}}

	const chat = `{"model": "gpt-4o",  "messages":[{"role":"user","content":"<b>hi</b> & \u00e9"}],"seed":12345678901234567890123,"temperature":0.70,"x_unknown":{"a":[1,2,{}]},"stream":true}`

	tests := []struct {
		name       string
		cfg        Config
		req        Request
		noKey      bool
		wantMethod string
		wantURL    string
		wantKey    [2]string         // header and exact value; "" header means none
		wantHeader map[string]string // exact values; "" means absent
		wantBody   string            // exact; "=" means the request body unchanged
		wantErr    apperr.Code
	}{
		{
			name:       "openai chat with usage",
			cfg:        openai,
			req:        Request{Op: OpChat, Body: []byte(chat), Model: "gpt-4o-2024-08-06", Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey: [2]string{"Authorization", "Bearer " + providerKey},
			wantHeader: map[string]string{
				"Content-Type": "application/json", "Accept": "text/event-stream", "Openai-Beta": "assistants=v2",
				"Idempotency-Key": "idem-1", "User-Agent": "OpenAI/Python 1.50.0", "X-Stainless-Lang": "python",
				"Anthropic-Beta": "prompt-caching-2024-07-31",
			},
			wantBody: `{"model": "gpt-4o-2024-08-06",  "messages":[{"role":"user","content":"<b>hi</b> & \u00e9"}],"seed":12345678901234567890123,"temperature":0.70,"x_unknown":{"a":[1,2,{}]},"stream":true,"stream_options":{"include_usage":true}}`,
		},
		{
			name:       "include usage ignored without stream",
			cfg:        openai,
			req:        Request{Op: OpChat, Body: []byte(`{"model":"a"}`), Model: "b", IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"b"}`,
		},
		{
			name:       "stream_options merged",
			cfg:        openai,
			req:        Request{Op: OpCompletions, Body: []byte(`{"model":"a","stream_options":{ "include_obfuscation" : false ,"include_usage":false}}`), Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/completions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"a","stream_options":{ "include_obfuscation" : false ,"include_usage":true}}`,
		},
		{
			name:       "stream_options extended",
			cfg:        openai,
			req:        Request{Op: OpChat, Body: []byte(`{"stream_options":{"x":1}, "model":"a"}`), Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"stream_options":{"x":1,"include_usage":true}, "model":"a"}`,
		},
		{
			name:       "stream_options null and empty object",
			cfg:        openai,
			req:        Request{Op: OpChat, Body: []byte(`{"stream_options":null,"model":"a"}`), Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"stream_options":{"include_usage":true},"model":"a"}`,
		},
		{
			name:    "stream_options of the wrong type",
			cfg:     openai,
			req:     Request{Op: OpChat, Body: []byte(`{"stream_options":[true]}`), Stream: true, IncludeUsage: true},
			wantErr: apperr.Invalid,
		},
		{
			name:       "model inserted when absent",
			cfg:        openai,
			req:        Request{Op: OpEmbeddings, Body: []byte(`{ "input" : [1e400, -0.0] }`), Model: "text-embedding-3-small"},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/embeddings",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{ "input" : [1e400, -0.0] ,"model":"text-embedding-3-small"}`,
		},
		{
			name:       "model inserted in empty object",
			cfg:        openai,
			req:        Request{Op: OpModerations, Body: []byte(`{}`), Model: "omni-moderation-latest"},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/moderations",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"omni-moderation-latest"}`,
		},
		{
			name:       "duplicate and escaped model keys all replaced",
			cfg:        openai,
			req:        Request{Op: OpResponses, Body: []byte(`{"model":"cheap","mod\u0065l":"expensive","Model":"kept"}`), Model: "routed"},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/responses",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"routed","mod\u0065l":"routed","Model":"kept"}`,
		},
		{
			name:       "model needing escapes",
			cfg:        openai,
			req:        Request{Op: OpImages, Body: []byte(`{"model":"x","prompt":"a cat"}`), Model: "we\"ird\n<model>"},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/images/generations",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"we\"ird\u000a<model>","prompt":"a cat"}`,
		},
		{
			name:       "no model leaves the body byte-identical",
			cfg:        openai,
			req:        Request{Op: OpSpeech, Body: []byte("{\n  \"model\": \"tts-1\",\n  \"input\": \"hello\"\n}\n")},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/audio/speech",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: "=",
		},
		{
			name:    "body not JSON",
			cfg:     openai,
			req:     Request{Op: OpChat, Body: []byte(`{"model":"a",}`), Model: "b"},
			wantErr: apperr.Invalid,
		},
		{
			name:    "body not an object",
			cfg:     openai,
			req:     Request{Op: OpChat, Body: []byte(`["model"]`), Model: "b"},
			wantErr: apperr.Invalid,
		},
		{
			name: "transcription model field replaced",
			cfg:  openai,
			req: Request{Op: OpTranscriptions, Body: []byte("--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n--b--\r\n"),
				Model: "whisper-1", Header: http.Header{"Content-Type": {"multipart/form-data; boundary=b"}}},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/audio/transcriptions",
			wantKey:    [2]string{"Authorization", "Bearer " + providerKey},
			wantHeader: map[string]string{"Content-Type": "multipart/form-data; boundary=b"},
			wantBody:   "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n--b--\r\n",
		},
		{
			name: "transcription without a model unchanged",
			cfg:  openai,
			req: Request{Op: OpTranscriptions, Body: []byte("not even multipart"),
				Header: http.Header{"Content-Type": {"multipart/form-data; boundary=b"}}},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/audio/transcriptions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: "=",
		},
		{
			name:       "caller cannot choose the organisation",
			cfg:        Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1"},
			req:        Request{Op: OpChat, Body: []byte(`{"model":"a"}`), Header: http.Header{"Openai-Organization": {"org-caller"}, "Openai-Project": {"proj-caller"}}},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey:    [2]string{"Authorization", "Bearer " + providerKey},
			wantHeader: map[string]string{"Openai-Organization": "", "Openai-Project": ""},
			wantBody:   "=",
		},
		{
			name:       "static headers win over the caller's",
			cfg:        withHeaders,
			req:        Request{Op: OpChat, Body: []byte(`{"model":"a"}`), Header: http.Header{"Openai-Organization": {"org-caller"}}},
			wantMethod: "POST", wantURL: "https://api.openai.com/v1/chat/completions",
			wantKey:    [2]string{"Authorization", "Bearer " + providerKey},
			wantHeader: map[string]string{"Openai-Organization": "org-configured", "X-Team": "ml"},
			wantBody:   "=",
		},
		{
			name:       "azure chat",
			cfg:        azure,
			req:        Request{Op: OpChat, Body: []byte(`{"model":"gpt-4o","messages":[]}`), Model: "prod gpt4o", Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://res.openai.azure.com/openai/deployments/prod%20gpt4o/chat/completions?api-version=2024-10-21",
			wantKey:  [2]string{"Api-Key", providerKey},
			wantBody: `{"model":"prod gpt4o","messages":[],"stream_options":{"include_usage":true}}`,
		},
		{
			name:       "azure embeddings",
			cfg:        azure,
			req:        Request{Op: OpEmbeddings, Body: []byte(`{"input":"x"}`), Model: "emb"},
			wantMethod: "POST", wantURL: "https://res.openai.azure.com/openai/deployments/emb/embeddings?api-version=2024-10-21",
			wantKey:  [2]string{"Api-Key", providerKey},
			wantBody: `{"input":"x","model":"emb"}`,
		},
		{
			name:    "azure without a deployment",
			cfg:     azure,
			req:     Request{Op: OpChat, Body: []byte(`{"model":"gpt-4o"}`)},
			wantErr: apperr.Invalid,
		},
		{
			name:    "azure deployment with a slash",
			cfg:     azure,
			req:     Request{Op: OpChat, Body: []byte(`{}`), Model: "../admin"},
			wantErr: apperr.Invalid,
		},
		{
			name:       "azure passthrough gets the api-version",
			cfg:        azure,
			req:        Request{Op: OpPassthrough, Method: "GET", Path: "/openai/models"},
			wantMethod: "GET", wantURL: "https://res.openai.azure.com/openai/models?api-version=2024-10-21",
			wantKey: [2]string{"Api-Key", providerKey},
		},
		{
			name:       "anthropic messages",
			cfg:        anthropic,
			req:        Request{Op: OpMessages, Body: []byte(`{"model":"claude","max_tokens":10,"messages":[]}`), Model: "claude-sonnet-4-5", Stream: true, IncludeUsage: true},
			wantMethod: "POST", wantURL: "https://api.anthropic.com/v1/messages",
			wantKey:    [2]string{"X-Api-Key", providerKey},
			wantHeader: map[string]string{"Anthropic-Version": AnthropicVersion, "Anthropic-Beta": "prompt-caching-2024-07-31"},
			wantBody:   `{"model":"claude-sonnet-4-5","max_tokens":10,"messages":[]}`,
		},
		{
			name:       "anthropic keeps the caller's version",
			cfg:        anthropic,
			req:        Request{Op: OpCountTokens, Body: []byte(`{"model":"c","messages":[]}`), Header: http.Header{"Anthropic-Version": {"2024-01-01"}}},
			wantMethod: "POST", wantURL: "https://api.anthropic.com/v1/messages/count_tokens",
			wantKey:    [2]string{"X-Api-Key", providerKey},
			wantHeader: map[string]string{"Anthropic-Version": "2024-01-01"},
			wantBody:   "=",
		},
		{
			name:    "anthropic does not serve chat completions",
			cfg:     anthropic,
			req:     Request{Op: OpChat, Body: []byte(`{}`)},
			wantErr: apperr.Invalid,
		},
		{
			name: "google passthrough strips ?key=",
			cfg:  google,
			req: Request{Op: OpPassthrough, Method: "POST", Path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
				RawQuery: "key=" + callerKey + "&alt=sse&KEY=x&%6Bey=y&api_key=z", Body: []byte(`{"contents":[]}`),
				Header: http.Header{"Content-Type": {"application/json"}}, Model: "gemini-2.0-flash"},
			wantMethod: "POST", wantURL: "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
			wantKey:  [2]string{"X-Goog-Api-Key", providerKey},
			wantBody: "=", // passthrough never adds a model field
		},
		{
			name:    "google does not serve chat",
			cfg:     google,
			req:     Request{Op: OpChat, Body: []byte(`{}`)},
			wantErr: apperr.Invalid,
		},
		{
			name: "hugging face passthrough replaces an existing model",
			cfg:  hf,
			req: Request{Op: OpPassthrough, Method: "POST", Path: "/v1/chat/completions", Body: []byte(`{"model":"x","messages":[]}`),
				Header: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, Model: "meta-llama/Llama-3.1-8B-Instruct"},
			wantMethod: "POST", wantURL: "https://api-inference.huggingface.co/v1/chat/completions",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: `{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[]}`,
		},
		{
			name:       "http passthrough with a key",
			cfg:        local,
			req:        Request{Op: OpPassthrough, Path: "/predict/a%20b", RawQuery: "v=1", Body: []byte("raw bytes")},
			wantMethod: "POST", wantURL: "http://127.0.0.1:9000/api/predict/a%20b?v=1",
			wantKey:  [2]string{"Authorization", "Bearer " + providerKey},
			wantBody: "=",
		},
		{
			name:       "http passthrough without a key",
			cfg:        local,
			req:        Request{Op: OpPassthrough, Path: "/health"},
			noKey:      true,
			wantMethod: "GET", wantURL: "http://127.0.0.1:9000/api/health",
		},
		{
			name:    "openai without a key",
			cfg:     openai,
			req:     Request{Op: OpChat, Body: []byte(`{}`)},
			noKey:   true,
			wantErr: apperr.Internal,
		},
		{
			name:    "passthrough method refused",
			cfg:     local,
			req:     Request{Op: OpPassthrough, Method: "CONNECT", Path: "/x"},
			wantErr: apperr.Invalid,
		},
		{
			name:    "passthrough query with semicolons",
			cfg:     google,
			req:     Request{Op: OpPassthrough, Path: "/x", RawQuery: "a=1;key=" + callerKey},
			wantErr: apperr.Invalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, tt.cfg)
			r := tt.req
			if r.Header == nil {
				r.Header = callerHeader(callerKey)
			} else {
				h := callerHeader(callerKey)
				for k, v := range r.Header {
					h.Del(k)
					h[k] = v
				}
				r.Header = h
			}
			key := secret.FromString(providerKey)
			if tt.noKey {
				key = secret.Secret{}
			}
			req, err := a.Build(context.Background(), &r, key)
			if tt.wantErr != "" {
				if apperr.CodeOf(err) != tt.wantErr {
					t.Fatalf("error = %v, want code %s", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), providerKey) || strings.Contains(err.Error(), callerKey) {
					t.Fatalf("error quotes a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if req.Method != tt.wantMethod || req.URL.String() != tt.wantURL {
				t.Fatalf("request = %s %s, want %s %s", req.Method, req.URL, tt.wantMethod, tt.wantURL)
			}
			for _, h := range keyHeaders {
				got, want := req.Header.Values(h), []string(nil)
				if h == tt.wantKey[0] {
					want = []string{tt.wantKey[1]}
				}
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("header %s = %q, want %q", h, got, want)
				}
			}
			for k, want := range tt.wantHeader {
				if want == "" {
					if got := req.Header.Values(k); len(got) != 0 {
						t.Errorf("header %s = %q, want it absent", k, got)
					}
					continue
				}
				if got := req.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			for _, h := range []string{"Cookie", "Proxy-Authorization", "Connection", "X-Secret", "Te", "Upgrade",
				"Keep-Alive", "X-Forwarded-For", "X-Forwarded-Host", "Forwarded", "Host", "Accept-Encoding", "Content-Length"} {
				if v := req.Header.Values(h); v != nil {
					t.Errorf("header %s reached upstream: %q", h, v)
				}
			}
			if req.Host != "" && req.Host != req.URL.Host {
				t.Errorf("Host = %q", req.Host)
			}
			body := readBody(t, req)
			want := tt.wantBody
			if want == "=" {
				want = string(tt.req.Body)
			}
			if string(body) != want {
				t.Errorf("body:\n got %s\nwant %s", body, want)
			}
			var dump bytes.Buffer
			_ = req.Header.Write(&dump)
			dump.WriteString(req.URL.String())
			dump.Write(body)
			if strings.Contains(dump.String(), callerKey) {
				t.Errorf("the caller's key reached upstream:\n%s", dump.String())
			}
			if tt.wantKey[0] == "" && strings.Contains(dump.String(), providerKey) {
				t.Errorf("the provider key was sent without being asked for")
			}
		})
	}
}

func TestBuildBadKey(t *testing.T) {
	a := mustNew(t, Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1"})
	k := canary("sk-", 48)
	for _, bad := range []string{k + "\n", " " + k, k + "\x00"} {
		_, err := a.Build(context.Background(), &Request{Op: OpChat, Body: []byte(`{}`)}, secret.FromString(bad))
		if apperr.CodeOf(err) != apperr.Internal {
			t.Fatalf("error = %v, want Internal", err)
		}
		if strings.Contains(err.Error(), k) {
			t.Fatalf("error quotes the key: %v", err)
		}
	}
}

func TestPassthroughPaths(t *testing.T) {
	a := mustNew(t, Config{Name: "local", Type: HTTP, BaseURL: "http://127.0.0.1:9000/base/"})
	ok := map[string]string{
		"/":                           "http://127.0.0.1:9000/base/",
		"/v1/models":                  "http://127.0.0.1:9000/base/v1/models",
		"/v1/models/":                 "http://127.0.0.1:9000/base/v1/models/",
		"/models/gemini:generate":     "http://127.0.0.1:9000/base/models/gemini:generate",
		"/models/a%3Ab":               "http://127.0.0.1:9000/base/models/a%3Ab",
		"/x/a..b/.c/d.":               "http://127.0.0.1:9000/base/x/a..b/.c/d.",
		"/caf%C3%A9":                  "http://127.0.0.1:9000/base/caf%C3%A9",
		"/space here":                 "http://127.0.0.1:9000/base/space%20here",
		"/v1/chat/completions%20copy": "http://127.0.0.1:9000/base/v1/chat/completions%20copy",
	}
	for p, want := range ok {
		req, err := a.Build(context.Background(), &Request{Op: OpPassthrough, Path: p}, secret.Secret{})
		if err != nil {
			t.Errorf("path %q: %v", p, err)
			continue
		}
		if req.URL.String() != want {
			t.Errorf("path %q: URL %s, want %s", p, req.URL, want)
		}
	}
	bad := []string{
		"", "relative", "/..", "/../etc/passwd", "/a/../../b", "/a/..", "/.", "/a/./b",
		"/%2e%2e/x", "/%2E%2E/x", "/.%2e/x", "/a%2fb", "/a%2F..%2Fb", "/a%5cb", "/a\\..\\b",
		"//evil.example/x", "/a//b", "/%252e%252e/x", "/a%00b", "/a\x00b", "/a\nb", "/a?b", "/a#b",
		"/%zz", "/a%2", "/a%",
	}
	for _, p := range bad {
		_, err := a.Build(context.Background(), &Request{Op: OpPassthrough, Path: p}, secret.Secret{})
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("path %q: error %v, want Invalid", p, err)
		}
	}
}

func TestFilterQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"alt=sse", "alt=sse"},
		{"key=abc", ""},
		{"key=abc&alt=sse", "alt=sse"},
		{"alt=sse&key=abc&b=%20x", "alt=sse&b=%20x"},
		{"Key=a&API_KEY=b&api-key=c&apikey=d&access_token=e&x-goog-api-key=f&keep=1", "keep=1"},
		{"%6bey=a&k%65y=b&+key=c", ""},
		{"keyword=1&monkey=2", "keyword=1&monkey=2"},
		{"a&&b=", "a&&b="},
	}
	for _, tt := range tests {
		got, err := filterQuery(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("filterQuery(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"a=1;key=2", "%zz=1"} {
		if _, err := filterQuery(bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("filterQuery(%q) error = %v, want Invalid", bad, err)
		}
	}
}

// TestBuildGolden rewrites a realistic chat request and compares the
// whole body with a golden file, so that any change to bytes outside the
// model and stream_options shows up in review.
func TestBuildGolden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "chat_request.json"))
	if err != nil {
		t.Fatal(err)
	}
	a := mustNew(t, Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1"})
	req, err := a.Build(context.Background(), &Request{Op: OpChat, Body: in, Model: "gpt-4o-2024-11-20", Stream: true, IncludeUsage: true}, secret.FromString(canary("sk-", 48)))
	if err != nil {
		t.Fatal(err)
	}
	got := readBody(t, req)
	golden := filepath.Join("testdata", "chat_request.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("body differs from %s:\n got %s\nwant %s", golden, got, want)
	}
	if !json.Valid(got) {
		t.Fatalf("rewritten body is not valid JSON")
	}
}

// FuzzBuildBody feeds arbitrary bodies to the rewrite. It must never
// panic; for a JSON object the result is valid JSON whose every "model"
// is the new model and whose other top-level members keep their exact
// bytes.
func FuzzBuildBody(f *testing.F) {
	for _, s := range []string{
		`{"model":"a","messages":[{"role":"user","content":"hi"}]}`,
		`{}`, ` { "a" : 1 } `, `{"model":1,"model":{"x":[1,"}"]}}`, `{"mod\u0065l":"x"}`,
		`{"stream_options":{"include_usage":false},"n":12345678901234567890}`,
		`{"stream_options":null}`, `{"stream_options":"x"}`, `[1]`, `"model"`, `{"a":"\"}"}`, `{`, ``,
	} {
		f.Add([]byte(s), "gpt-4o", true)
	}
	a, err := New(Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1"})
	if err != nil {
		f.Fatal(err)
	}
	key := secret.FromString("sk-fuzz-0123456789abcdefghij")
	f.Fuzz(func(t *testing.T, body []byte, model string, usage bool) {
		req, err := a.Build(context.Background(), &Request{Op: OpChat, Body: body, Model: model, Stream: true, IncludeUsage: usage}, key)
		var orig map[string]json.RawMessage
		isObject := json.Valid(body) && json.Unmarshal(body, &orig) == nil && orig != nil
		if err != nil {
			if isObject && apperr.CodeOf(err) == apperr.Invalid && usage {
				return // stream_options of the wrong type
			}
			if !isObject && (model != "" || usage) {
				return // a body that needs rewriting must be an object
			}
			t.Fatalf("Build(%q): %v", body, err)
		}
		got := readBody(t, req)
		if !isObject {
			if !bytes.Equal(got, body) {
				t.Fatalf("a body that needed no rewrite was changed")
			}
			return
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(got, &out); err != nil {
			t.Fatalf("result is not a JSON object: %v\n%s", err, got)
		}
		for k, v := range orig {
			switch {
			case k == "model" && model != "":
				// encoding/json replaces each invalid UTF-8 byte with U+FFFD;
				// the rewrite must agree with it.
				enc, _ := json.Marshal(model)
				var m, want string
				_ = json.Unmarshal(enc, &want)
				if err := json.Unmarshal(out[k], &m); err != nil || m != want {
					t.Fatalf("model = %s, want %q", out[k], model)
				}
			case k == "stream_options" && usage:
				var so map[string]json.RawMessage
				if err := json.Unmarshal(out[k], &so); err != nil || string(so["include_usage"]) != "true" {
					t.Fatalf("stream_options = %s", out[k])
				}
			default:
				if !bytes.Equal(out[k], v) {
					t.Fatalf("member %q changed: %s -> %s", k, v, out[k])
				}
			}
		}
		want := len(orig)
		if _, ok := orig["model"]; !ok && model != "" {
			want++
		}
		if _, ok := orig["stream_options"]; !ok && usage {
			want++
		}
		if len(out) != want {
			t.Fatalf("result has %d members, want %d: %s", len(out), want, got)
		}
	})
}

func BenchmarkBuild(b *testing.B) {
	var msgs []string
	for i := 0; len(strings.Join(msgs, ",")) < 1900; i++ {
		msgs = append(msgs, `{"role":"user","content":"Summarise the following paragraph in one sentence, please."}`)
	}
	body := []byte(`{"model":"gpt-4o","stream":true,"temperature":0.2,"messages":[` + strings.Join(msgs, ",") + `]}`)
	a, err := New(Config{Name: "openai", Type: OpenAI, BaseURL: "https://api.openai.com/v1"})
	if err != nil {
		b.Fatal(err)
	}
	key := secret.FromString(canary("sk-proj-", 48))
	h := callerHeader(canary("wdn_", 44))
	ctx := context.Background()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := a.Build(ctx, &Request{Op: OpChat, Header: h, Body: body, Model: "gpt-4o-2024-11-20", Stream: true, IncludeUsage: true}, key); err != nil {
			b.Fatal(err)
		}
	}
}
