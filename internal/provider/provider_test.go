package provider

import (
	"crypto/rand"
	"strings"
	"testing"
)

// canary returns a random key-shaped string: prefix and n base62
// characters. Tests plant canaries and assert they appear nowhere they
// must not.
func canary(prefix string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

func mustNew(t testing.TB, c Config) *Adapter {
	t.Helper()
	a, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return a
}

func TestNew(t *testing.T) {
	secretInURL := canary("sk-", 40)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; "" means success
	}{
		{"openai", Config{Name: "oa", Type: OpenAI, BaseURL: "https://api.openai.com/v1/"}, ""},
		{"anthropic", Config{Name: "an", Type: Anthropic, BaseURL: "https://api.anthropic.com"}, ""},
		{"http with port and path", Config{Name: "local", Type: HTTP, BaseURL: "http://127.0.0.1:9000/api"}, ""},
		{"azure", Config{Name: "az", Type: OpenAI, BaseURL: "https://r.openai.azure.com", AzureAPIVersion: "2024-10-21"}, ""},
		{"static header", Config{Name: "h", Type: HTTP, BaseURL: "http://x", Headers: map[string]string{"X-Team": "ml"}}, ""},
		{"no name", Config{Type: OpenAI, BaseURL: "https://api.openai.com/v1"}, "needs a name"},
		{"unknown type", Config{Name: "x", Type: "bedrock", BaseURL: "https://x"}, "unknown type"},
		{"empty URL", Config{Name: "x", Type: OpenAI}, "empty"},
		{"relative URL", Config{Name: "x", Type: OpenAI, BaseURL: "/v1"}, "scheme"},
		{"ftp", Config{Name: "x", Type: OpenAI, BaseURL: "ftp://x/v1"}, "scheme"},
		{"no host", Config{Name: "x", Type: OpenAI, BaseURL: "https:///v1"}, "no host"},
		{"userinfo", Config{Name: "x", Type: HTTP, BaseURL: "https://u:" + secretInURL + "@x/v1"}, "credentials"},
		{"query", Config{Name: "x", Type: Google, BaseURL: "https://g/?key=" + secretInURL}, "query"},
		{"fragment", Config{Name: "x", Type: HTTP, BaseURL: "https://x/#a"}, "fragment"},
		{"unparsable URL", Config{Name: "x", Type: HTTP, BaseURL: "http://x/%zz" + secretInURL}, "not a valid URL"},
		{"azure on anthropic", Config{Name: "x", Type: Anthropic, BaseURL: "https://x", AzureAPIVersion: "2024-10-21"}, "only to type openai"},
		{"azure version injection", Config{Name: "x", Type: OpenAI, BaseURL: "https://x", AzureAPIVersion: "1&key=2"}, "version"},
		{"credential header", Config{Name: "x", Type: HTTP, BaseURL: "https://x", Headers: map[string]string{"authorization": "Bearer " + secretInURL}}, "cannot be set statically"},
		{"x-api-key header", Config{Name: "x", Type: HTTP, BaseURL: "https://x", Headers: map[string]string{"X-API-Key": secretInURL}}, "cannot be set statically"},
		{"host header", Config{Name: "x", Type: HTTP, BaseURL: "https://x", Headers: map[string]string{"Host": "y"}}, "cannot be set statically"},
		{"bad header name", Config{Name: "x", Type: HTTP, BaseURL: "https://x", Headers: map[string]string{"X Bad": "y"}}, "not valid"},
		{"bad header value", Config{Name: "x", Type: HTTP, BaseURL: "https://x", Headers: map[string]string{"X-Ok": secretInURL + "\r\nX-Evil: 1"}}, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if a.Name() != tt.cfg.Name || a.Type() != tt.cfg.Type {
					t.Fatalf("Name, Type = %q, %q", a.Name(), a.Type())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), secretInURL) {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}

func TestSupports(t *testing.T) {
	allOps := []Op{OpChat, OpCompletions, OpEmbeddings, OpResponses, OpImages, OpTranscriptions,
		OpSpeech, OpModerations, OpMessages, OpCountTokens, OpPassthrough, Op("bogus")}
	tests := []struct {
		cfg  Config
		want []Op
	}{
		{Config{Name: "o", Type: OpenAI, BaseURL: "https://x/v1"},
			[]Op{OpChat, OpCompletions, OpEmbeddings, OpResponses, OpImages, OpTranscriptions, OpSpeech, OpModerations, OpPassthrough}},
		{Config{Name: "az", Type: OpenAI, BaseURL: "https://x", AzureAPIVersion: "2024-10-21"},
			[]Op{OpChat, OpCompletions, OpEmbeddings, OpImages, OpTranscriptions, OpSpeech, OpPassthrough}},
		{Config{Name: "a", Type: Anthropic, BaseURL: "https://x"}, []Op{OpMessages, OpCountTokens, OpPassthrough}},
		{Config{Name: "h", Type: HuggingFace, BaseURL: "https://x"}, []Op{OpPassthrough}},
		{Config{Name: "g", Type: Google, BaseURL: "https://x"}, []Op{OpPassthrough}},
		{Config{Name: "l", Type: HTTP, BaseURL: "https://x"}, []Op{OpPassthrough}},
	}
	for _, tt := range tests {
		a := mustNew(t, tt.cfg)
		want := map[Op]bool{}
		for _, op := range tt.want {
			want[op] = true
		}
		for _, op := range allOps {
			if got := a.Supports(op); got != want[op] {
				t.Errorf("%s.Supports(%s) = %v, want %v", tt.cfg.Name, op, got, want[op])
			}
		}
	}
}
