package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The fake sits under every gateway benchmark; these show its own cost so
// that it can be told apart from the gateway's.
func BenchmarkHandler(b *testing.B) {
	cases := []struct {
		name, path, body string
		header           map[string]string
	}{
		{"chat", "/v1/chat/completions", chatBody, openAIAuth(testKey)},
		{"chat_stream", "/v1/chat/completions", streamChat, openAIAuth(testKey)},
		{"messages_stream", "/v1/messages", streamMessages, anthropicAuth(testKey)},
		{"embeddings", "/v1/embeddings", `{"model":"m","input":["one two","three"]}`, openAIAuth(testKey)},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			h := NewHandler(Options{Key: testKey})
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				req := httptest.NewRequest(http.MethodPost, bc.path, strings.NewReader(bc.body))
				for k, v := range bc.header {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				if i%1024 == 0 {
					h.Reset() // the record grows with every request
				}
			}
		})
	}
}
