package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkGateway measures one call through the whole data plane, fake
// provider and loopback HTTP included; compare it with the same call made
// to the fake directly (the "direct" sub-benchmarks) for Warden's share.
func BenchmarkGateway(b *testing.B) {
	r := newRig(b, rigOptions{})
	_, key := r.key()
	cases := []struct{ name, body string }{
		{"chat", miniChat},
		{"stream", `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`},
	}
	for _, tc := range cases {
		call := func(b *testing.B, url, auth string) {
			req, _ := http.NewRequestWithContext(context.Background(), "POST", url, strings.NewReader(tc.body))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "application/json")
			resp, err := r.client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
		b.Run(tc.name+"/direct", func(b *testing.B) {
			for b.Loop() {
				call(b, r.openai.URL+"/v1/chat/completions", "Bearer "+r.providerKeys["openai"])
			}
		})
		b.Run(tc.name+"/warden", func(b *testing.B) {
			for b.Loop() {
				call(b, r.srv.URL+"/v1/chat/completions", "Bearer "+key)
			}
		})
	}
}
