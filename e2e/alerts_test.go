package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// TestAlertWebhook has one address fail authentication again and again:
// the anomaly detector raises an alert, which reaches a webhook signed
// with the configured secret, and is listed by warden alerts list.
func TestAlertWebhook(t *testing.T) {
	hookSecret := canary(t, "whsec_")
	var mu sync.Mutex
	var got []map[string]any
	var bodies []string
	var badSignatures int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := alert.Verify([]byte(hookSecret), r.Header.Get("X-Warden-Timestamp"), r.Header.Get("X-Warden-Signature"), body, time.Now(), time.Minute)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			badSignatures++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a map[string]any
		_ = json.Unmarshal(body, &a)
		got = append(got, a)
		bodies = append(bodies, string(body))
	}))
	defer hook.Close()

	s := startStackConfig(t, "", `limits:
  auth_failures: {slow_after: 1000, block_after: 0}
alerts:
  webhooks:
    - {url: `+hook.URL+`, secret: secret://alert-hook}
`, func(s *stack) {
		s.canaries = append(s.canaries, hookSecret)
		s.warden(hookSecret+"\n", "secrets", "set", "alert-hook")
	})
	for range 25 {
		req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[]}`))
		req.Header.Set("Authorization", "Bearer wdn_"+strings.Repeat("a", 40))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad key: %d", resp.StatusCode)
		}
	}
	// 25 failures from one address with one key prefix: both the
	// per-address and the per-prefix burst rules fire.
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		rules, bad := map[any]bool{}, badSignatures
		for _, a := range got {
			rules[a["rule"]] = true
		}
		mu.Unlock()
		if bad > 0 {
			t.Fatalf("%d webhook deliveries had a bad signature", bad)
		}
		if rules["auth_failures_ip"] && rules["auth_failures_key_prefix"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alerts received for %v; want auth_failures_ip and auth_failures_key_prefix", rules)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		out := s.warden("", "alerts", "list", "--json")
		if strings.Contains(out, "auth_failures_ip") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("warden alerts list does not show the alert: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// No key or secret in what the webhook received.
	mu.Lock()
	s.outputs = append(s.outputs, bodies...)
	mu.Unlock()
	for _, b := range bodies {
		if strings.Contains(b, hookSecret) || strings.Contains(b, s.key) {
			t.Error("an alert body holds a secret")
		}
	}
	s.assertNoLeaks()
}
