package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeAdminAPI runs `warden serve` with providers whose keys are
// canaries, in the vault and in the environment, and walks the admin API
// with an admin key made by the CLI: every route answers, the providers
// are described without a trace of their keys, no response holds a key
// but the one it created or rotated, and the gateway keeps every path
// outside /admin/.
func TestServeAdminAPI(t *testing.T) {
	vaultKey := fakeProviderKey(t, "sk-proj-")
	envKey := fakeProviderKey(t, "sk-ant-api03-")
	h := newHarness(t, "ANTHROPIC_KEY="+envKey)
	h.must(vaultKey+"\n", "secrets", "set", "openai")
	cfgPath := filepath.Join(t.TempDir(), "warden.yaml")
	cfg := `providers:
  openai:
    type: openai
    api_key: secret://openai
  anthropic:
    type: anthropic
    api_key: env://ANTHROPIC_KEY
  local:
    type: http
    base_url: http://127.0.0.1:9/model
models:
  gpt-4o:
    provider: openai
  claude:
    provider: anthropic
    upstream_model: claude-sonnet-4
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h.environ = append(h.environ, "WARDEN_CONFIG="+cfgPath)

	var root createdOut
	decodeStrict(t, h.mustSecret("keys", "create", "--name", "root", "--role", "admin", "--json").stdout, &root)

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- h.runCtx(ctx, "", "serve", "--addr", addr) }()
	stopped := false
	stop := func() result {
		cancel()
		r := <-done
		stopped = true
		return r
	}
	defer func() {
		if !stopped {
			stop()
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case r := <-done:
			stopped = true
			t.Fatalf("warden serve exited %d before it was ready: %s", r.code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not become ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Every admin response, with the one key it may show.
	type seenResp struct {
		what, body, shows string
	}
	var seen []seenResp
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, base+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+root.Secret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
		}
		var m map[string]any
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(b) > 0 {
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		shows, _ := m["key"].(string)
		seen = append(seen, seenResp{method + " " + path, string(b), shows})
		return m
	}

	me := call("GET", "/admin/v1/me", "", 200)
	if me["role"] != "admin" || me["key_id"] != root.ID {
		t.Fatalf("me: %v", me)
	}
	call("POST", "/admin/v1/teams", `{"name":"ml","budget":{"limit_usd":"100","period":"month"}}`, 201)
	call("PATCH", "/admin/v1/teams/ml", `{"limits":{"rpm":600}}`, 200)
	call("POST", "/admin/v1/users", `{"name":"uma","team":"ml"}`, 201)
	call("PATCH", "/admin/v1/users/uma", `{"budget":{"limit_usd":"5"}}`, 200)
	created := call("POST", "/admin/v1/keys", `{"name":"ci","user":"uma","models":["gpt-4o"]}`, 201)
	id, _ := created["id"].(string)
	if id == "" || created["team"] != "ml" {
		t.Fatalf("created: %v", created)
	}
	call("GET", "/admin/v1/keys", "", 200)
	call("GET", "/admin/v1/keys/"+id, "", 200)
	call("PATCH", "/admin/v1/keys/"+id, `{"tags":["ci"]}`, 200)
	call("POST", "/admin/v1/keys/"+id+"/rotate", `{"grace":"1m"}`, 200)
	call("POST", "/admin/v1/keys/"+id+"/suspend", "", 200)
	call("POST", "/admin/v1/keys/"+id+"/resume", "", 200)
	call("POST", "/admin/v1/keys/"+id+"/revoke", "", 200)
	call("GET", "/admin/v1/teams", "", 200)
	call("GET", "/admin/v1/teams/ml", "", 200)
	call("GET", "/admin/v1/users", "", 200)
	call("GET", "/admin/v1/users/uma", "", 200)
	call("GET", "/admin/v1/usage?by=key", "", 200)
	call("DELETE", "/admin/v1/users/uma", "", 204)
	call("DELETE", "/admin/v1/teams/ml", "", 204)
	call("GET", "/admin/v1/openapi.yaml", "", 200)
	call("GET", "/admin/v1/nothing", "", 404)

	provs := call("GET", "/admin/v1/providers", "", 200)
	data, _ := provs["data"].([]any)
	byName := map[string]map[string]any{}
	for _, p := range data {
		m, _ := p.(map[string]any)
		name, _ := m["name"].(string)
		byName[name] = m
	}
	for name, want := range map[string]struct {
		host   string
		keys   float64
		models string
		dep    string
	}{
		"openai":    {"api.openai.com", 1, "gpt-4o", "openai/gpt-4o#0"},
		"anthropic": {"api.anthropic.com", 1, "claude", "anthropic/claude-sonnet-4#0"},
		"local":     {"127.0.0.1:9", 0, "", ""},
	} {
		p := byName[name]
		if p == nil || p["host"] != want.host || p["keys"] != want.keys {
			t.Errorf("provider %s: %v", name, p)
			continue
		}
		models, _ := p["models"].([]any)
		deps, _ := p["deployments"].([]any)
		if want.models == "" {
			if len(models) != 0 || len(deps) != 0 {
				t.Errorf("provider %s: %v", name, p)
			}
			continue
		}
		if len(models) != 1 || models[0] != want.models || len(deps) != 1 {
			t.Errorf("provider %s: %v", name, p)
			continue
		}
		d, _ := deps[0].(map[string]any)
		if d["id"] != want.dep || d["breaker"] != "closed" {
			t.Errorf("provider %s deployment: %v", name, d)
		}
	}

	// The gateway keeps its paths, with the same key.
	req, _ := http.NewRequest("GET", base+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+root.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "gpt-4o") {
		t.Fatalf("gateway /v1/models: %d %s", resp.StatusCode, b)
	}

	// No response holds a provider key, the admin key, or a key it did
	// not create.
	var shown []string
	for _, s := range seen {
		if s.shows != "" {
			shown = append(shown, s.shows)
		}
	}
	if len(shown) != 2 {
		t.Fatalf("%d responses showed a key, want 2 (create and rotate)", len(shown))
	}
	for _, s := range seen {
		for _, secret := range append([]string{vaultKey, envKey, root.Secret}, shown...) {
			if secret != s.shows && strings.Contains(s.body, secret[4:24]) {
				t.Errorf("%s holds a key it should not:\n%s", s.what, s.body)
			}
		}
	}

	if r := stop(); r.code != 0 {
		t.Fatalf("serve exited %d: %s", r.code, r.stderr)
	}
	// The server's log, every other output and the data directory hold
	// neither provider key.
	h.assertNowhere(vaultKey)
	h.assertNowhere(envKey)
}
