package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	// Admin API changes and refusals are audited too.
	var admin struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(s.warden("", "keys", "create", "--name", "root", "--role", "admin", "--json")), &admin); err != nil {
		t.Fatal(err)
	}
	s.canaries = append(s.canaries, admin.Key)
	for _, c := range []struct {
		key  string
		want int
	}{{admin.Key, http.StatusCreated}, {s.key, http.StatusForbidden}} {
		req, _ := http.NewRequest("POST", s.url+"/admin/v1/teams", strings.NewReader(`{"name":"ml"}`))
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want && !(c.want == http.StatusCreated && resp.StatusCode == http.StatusOK) {
			t.Fatalf("POST /admin/v1/teams: %d, want %d", resp.StatusCode, c.want)
		}
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
	for range 100 {
		if strings.Count(strings.ReplaceAll(out, " ", ""), `"kind":"admin"`) >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
		out = s.warden("", "audit", "tail", "--json", "-n", "50")
	}
	for _, want := range []string{`"request_id":"audit-e2e-a"`, `"reason":"invalid_api_key"`, `"action":"chat.completions"`, `"kind":"admin"`, `"status":403`} {
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

// TestMetricsOnTheirOwnListener serves /metrics on metrics.addr only.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	maddr := l.Addr().String()
	l.Close()
	s := startStackConfig(t, "", "metrics:\n  addr: "+maddr+"\n")
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the main listener: %d, want 404", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + maddr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "warden_build_info") {
				t.Fatalf("/metrics on metrics.addr: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics listener did not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTracesExported points OTEL_EXPORTER_OTLP_ENDPOINT at a local
// collector: a call's spans arrive over OTLP/HTTP (at the latest when the
// server shuts down and flushes its batch).
func TestTracesExported(t *testing.T) {
	var mu sync.Mutex
	var posts int
	var bodies []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts++
			bodies = append(bodies, string(b))
		}
	}))
	var s *stack
	// Registered first, so it runs last: after the server has stopped and
	// flushed its spans.
	t.Cleanup(func() {
		collector.Close()
		mu.Lock()
		defer mu.Unlock()
		if posts == 0 {
			t.Fatal("no spans reached the OTLP collector")
		}
		all := strings.Join(bodies, "")
		for _, want := range []string{"warden chat.completions", "upstream openai"} {
			if !strings.Contains(all, want) {
				t.Errorf("exported spans lack %q", want)
			}
		}
		if strings.Contains(all, s.key) || strings.Contains(all, s.openaiKey) {
			t.Error("a key is in the exported spans")
		}
	})
	s = startStackConfig(t, "", "", func(s *stack) {
		s.env = append(s.env, "OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL)
	})
	req, _ := http.NewRequest("POST", s.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`))
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
