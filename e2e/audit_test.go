package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAuditTrail makes calls through a running server and checks that each
// is in the audit log, that the chain verifies, and that no key is in it.
func TestAuditTrail(t *testing.T) {
	s := startStack(t)
	for i, key := range []string{s.key, s.key, "wdn_" + strings.Repeat("b", 40)} {
		req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("X-Request-Id", "audit-e2e-"+string(rune('a'+i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	var out string
	for {
		out = s.warden("", "audit", "tail", "--json", "-n", "50")
		if strings.Contains(out, "audit-e2e-c") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the calls are not in the audit log: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{`"request_id":"audit-e2e-a"`, `"reason":"invalid_api_key"`, `"action":"chat.completions"`} {
		if !strings.Contains(strings.ReplaceAll(out, " ", ""), want) {
			t.Errorf("audit tail lacks %s", want)
		}
	}
	if strings.Contains(out, s.key) {
		t.Error("the audit log holds a virtual key")
	}
	s.outputs = append(s.outputs, out)
	if v := s.warden("", "audit", "verify"); !strings.Contains(v, "ok") {
		t.Errorf("audit verify: %s", v)
	}
	s.assertNoLeaks()
}
