package config

import (
	"crypto/rand"
	"strings"
	"testing"
)

// canary is a fake provider key, different on every run, so that a test
// cannot pass by a message happening to leave out one fixed string.
var canary = "sk-proj-" + rand.Text() + rand.Text()

// plant replaces the CANARY placeholder with the canary.
func plant(s string) string { return strings.ReplaceAll(s, "CANARY", canary) }

// assertNoCanary fails if text contains the canary or its random body.
func assertNoCanary(t *testing.T, text string) {
	t.Helper()
	if strings.Contains(text, canary) || strings.Contains(text, canary[len("sk-proj-"):]) {
		t.Errorf("the canary leaked into:\n%s", text)
	}
}

// TestCanaryNeverEchoed plants a key-shaped value in every kind of wrong
// place and checks that the resulting problems point at the right field
// without ever repeating the value.
func TestCanaryNeverEchoed(t *testing.T) {
	provider := "providers:\n  openai:\n    type: openai\n"
	cases := []struct {
		name  string
		yaml  string
		env   []string
		field string // a problem with this field must be reported
	}{
		// Wrong types.
		{"duration", "server:\n  read_timeout: CANARY\n", nil, "server.read_timeout"},
		{"integer", "server:\n  max_header_bytes: CANARY\n", nil, "server.max_header_bytes"},
		{"bool", "server:\n  tls:\n    self_signed: CANARY\n", nil, "server.tls.self_signed"},
		{"section", "log: CANARY\n", nil, "log"},
		{"list", "server:\n  trusted_proxies: CANARY\n", nil, "server.trusted_proxies"},
		{"providers scalar", "providers: CANARY\n", nil, "providers"},
		{"top level scalar", "CANARY\n", nil, ""},
		{"tagged", "data_dir: !!binary CANARY\n", nil, "data_dir"},
		{"int tag", "server:\n  max_body_bytes: !!int CANARY\n", nil, "server.max_body_bytes"},
		// Unknown keys, with the canary as value and as the key itself.
		{"unknown key value", "server:\n  apikey: CANARY\n", nil, "server.apikey"},
		{"unknown key name", "CANARY: 1\n", nil, hiddenName},
		{"unknown nested key name", "server:\n  tls:\n    CANARY: x\n", nil, "server.tls." + hiddenName},
		{"glued key name", "xCANARY: 1\n", nil, hiddenName},
		{"provider name", "providers:\n  CANARY:\n    type: openai\n    api_key: secret://x\n", nil, "providers." + hiddenName},
		{"model name", provider + "    api_key: secret://x\nmodels:\n  CANARY: {provider: openai}\n", nil, "models." + hiddenName},
		{"duplicate key name", "server:\n  CANARY: 1\n  CANARY: 2\n", nil, "server." + hiddenName},
		// Literal and malformed credentials.
		{"literal api_key", provider + "    api_key: CANARY\n", nil, "providers.openai.api_key"},
		{"bearer api_key", provider + "    api_key: Bearer CANARY\n", nil, "providers.openai.api_key"},
		{"literal in api_keys", provider + "    api_keys: [secret://a, CANARY]\n", nil, "providers.openai.api_keys[1]"},
		{"secret ref to key", provider + "    api_key: secret://CANARY\n", nil, "providers.openai.api_key"},
		{"unknown scheme", provider + "    api_key: vault://CANARY\n", nil, "providers.openai.api_key"},
		{"bad secret name", provider + "    api_key: 'secret://CANARY!'\n", nil, "providers.openai.api_key"},
		// Base URLs.
		{"userinfo", provider + "    api_key: secret://x\n    base_url: https://user:CANARY@api.example\n", nil, "providers.openai.base_url"},
		{"query", provider + "    api_key: secret://x\n    base_url: https://api.example/?key=CANARY\n", nil, "providers.openai.base_url"},
		{"http", provider + "    api_key: secret://x\n    base_url: http://api.example/CANARY\n", nil, "providers.openai.base_url"},
		{"not a url", provider + "    api_key: secret://x\n    base_url: '%%CANARY'\n", nil, "providers.openai.base_url"},
		{"fragment", provider + "    api_key: secret://x\n    base_url: 'https://api.example/#CANARY'\n", nil, "providers.openai.base_url"},
		// Other string settings.
		{"data_dir", "data_dir: CANARY\n", nil, "data_dir"},
		{"addr", "server:\n  addr: CANARY\n", nil, "server.addr"},
		{"log level", "log:\n  level: CANARY\n", nil, "log.level"},
		{"proxy", "server:\n  trusted_proxies: [CANARY]\n", nil, "server.trusted_proxies[0]"},
		{"provider type", "providers:\n  p:\n    type: CANARY\n", nil, "providers.p.type"},
		{"model provider", "models:\n  m: {provider: CANARY}\n", nil, "models.m.provider"},
		{"upstream model", provider + "    api_key: secret://x\nmodels:\n  m: {provider: openai, upstream_model: CANARY}\n", nil, "models.m.upstream_model"},
		// Data-plane settings.
		{"header value", provider + "    api_key: secret://x\n    headers:\n      X-Custom: CANARY\n", nil, "providers.openai.headers.X-Custom"},
		{"bearer header value", provider + "    api_key: secret://x\n    headers:\n      Authorization: Bearer CANARY\n", nil, "providers.openai.headers.Authorization"},
		{"header value in a list", provider + "    api_key: secret://x\n    headers: {X-A: [CANARY]}\n", nil, "providers.openai.headers.X-A"},
		{"header name", provider + "    api_key: secret://x\n    headers:\n      CANARY: v\n", nil, "providers.openai.headers." + hiddenName},
		{"glued header name", provider + "    api_key: secret://x\n    headers:\n      X-CANARY: v\n", nil, "providers.openai.headers." + hiddenName},
		{"headers scalar", provider + "    api_key: secret://x\n    headers: CANARY\n", nil, "providers.openai.headers"},
		{"azure version", provider + "    api_key: secret://x\n    azure_api_version: CANARY\n", nil, "providers.openai.azure_api_version"},
		{"azure version on anthropic", "providers:\n  a: {type: anthropic, api_key: secret://a, azure_api_version: CANARY}\n", nil, "providers.a.azure_api_version"},
		{"public", "providers:\n  h: {type: http, base_url: 'http://localhost', public: CANARY}\n", nil, "providers.h.public"},
		{"timeout", "providers:\n  h: {type: http, base_url: 'http://localhost', timeouts: {total: CANARY}}\n", nil, "providers.h.timeouts.total"},
		{"deployment model", provider + "    api_key: secret://x\nmodels:\n  m:\n    deployments: [{provider: openai, model: CANARY}]\n", nil, "models.m.deployments[0].model"},
		{"deployment provider", provider + "    api_key: secret://x\nmodels:\n  m:\n    deployments: [{provider: CANARY}]\n", nil, "models.m.deployments[0].provider"},
		{"deployment weight", provider + "    api_key: secret://x\nmodels:\n  m:\n    deployments: [{provider: openai, weight: CANARY}]\n", nil, "models.m.deployments[0].weight"},
		{"deployment scalar", provider + "    api_key: secret://x\nmodels:\n  m:\n    deployments: [CANARY]\n", nil, "models.m.deployments[0]"},
		{"deployment key", provider + "    api_key: secret://x\nmodels:\n  m:\n    deployments: [{provider: openai, CANARY: 1}]\n", nil, "models.m.deployments[0]." + hiddenName},
		{"fallback", provider + "    api_key: secret://x\nmodels:\n  m: {provider: openai, fallbacks: [CANARY]}\n", nil, "models.m.fallbacks[0]"},
		{"glued fallback", provider + "    api_key: secret://x\nmodels:\n  m: {provider: openai, fallbacks: [xCANARY]}\n", nil, "models.m.fallbacks[0]"},
		{"routing value", "routing:\n  backoff_max: CANARY\n", nil, "routing.backoff_max"},
		{"keys value", "keys:\n  poll_interval: CANARY\n", nil, "keys.poll_interval"},
		// YAML syntax errors around the canary.
		{"unknown anchor", "data_dir: *CANARY\n", nil, ""},
		{"unknown anchor with quote", "data_dir: *a'CANARY\n", nil, ""},
		{"custom tag", "data_dir: !CANARY x\n", nil, "data_dir"},
		{"unterminated quote", "data_dir: 'CANARY\n", nil, ""},
		{"bad escape", "data_dir: \"\\qCANARY\"\n", nil, ""},
		{"second document", "data_dir: x\n---\nCANARY\n", nil, ""},
		// Environment overrides with bad values.
		{"env duration", "", []string{"WARDEN_SERVER_READ_TIMEOUT=CANARY"}, "server.read_timeout"},
		{"env integer", "", []string{"WARDEN_SERVER_MAX_BODY_BYTES=CANARY"}, "server.max_body_bytes"},
		{"env bool", "", []string{"WARDEN_SERVER_TLS_SELF_SIGNED=CANARY"}, "server.tls.self_signed"},
		{"env string", "", []string{"WARDEN_DATA_DIR=CANARY"}, "data_dir"},
		{"env addr", "", []string{"WARDEN_SERVER_ADDR=CANARY"}, "server.addr"},
		{"env level", "", []string{"WARDEN_LOG_LEVEL=CANARY"}, "log.level"},
		{"env list", "", []string{"WARDEN_SERVER_TRUSTED_PROXIES=10.0.0.1,CANARY"}, "server.trusted_proxies[1]"},
		{"env unknown", "", []string{"WARDEN_SERVER_API_KEY=CANARY"}, ""},
		{"env routing integer", "", []string{"WARDEN_ROUTING_MAX_RETRIES=CANARY"}, "routing.max_retries"},
		{"env routing failures", "", []string{"WARDEN_ROUTING_BREAKER_FAILURES=CANARY"}, "routing.breaker_failures"},
		{"env routing duration", "", []string{"WARDEN_ROUTING_BACKOFF_BASE=CANARY"}, "routing.backoff_base"},
		{"env routing max", "", []string{"WARDEN_ROUTING_BACKOFF_MAX=CANARY"}, "routing.backoff_max"},
		{"env routing total", "", []string{"WARDEN_ROUTING_MAX_TOTAL=CANARY"}, "routing.max_total"},
		{"env routing cooldown", "", []string{"WARDEN_ROUTING_BREAKER_COOLDOWN=CANARY"}, "routing.breaker_cooldown"},
		{"env keys poll", "", []string{"WARDEN_KEYS_POLL_INTERVAL=CANARY"}, "keys.poll_interval"},
		{"env keys grace", "", []string{"WARDEN_KEYS_ROTATE_GRACE=CANARY"}, "keys.rotate_grace"},
		{"env unknown routing", "", []string{"WARDEN_ROUTING_API_KEY=CANARY"}, ""},
		{"env name", "", []string{"WARDEN_CANARY=1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var env []string
			for _, e := range tc.env {
				env = append(env, plant(e))
			}
			data := plant(tc.yaml)
			if !strings.Contains(data, canary) && !strings.Contains(strings.Join(env, "\n"), canary) {
				t.Fatal("test case does not plant the canary")
			}
			cfg, err := Parse("w.yaml", []byte(data), env)
			if err == nil {
				t.Fatalf("accepted: %+v", cfg)
			}
			assertNoCanary(t, err.Error())
			found := false
			for _, p := range problemsOf(t, err) {
				assertNoCanary(t, p.Source+p.Field+p.Message)
				found = found || p.Field == tc.field
			}
			if !found {
				t.Errorf("no problem for field %q in:\n%v", tc.field, err)
			}
		})
	}
}

// TestCanaryValidate covers the Validate path, where values were put into
// a Config by code rather than read from a file.
func TestCanaryValidate(t *testing.T) {
	cfg := Default()
	cfg.DataDir = canary
	cfg.Server.TrustedProxies = []string{canary}
	cfg.Providers[canary] = Provider{Type: canary, BaseURL: canary, APIKey: canary}
	cfg.Providers["p"] = Provider{Type: "openai", APIKeys: []string{canary, "x" + canary}}
	cfg.Models[canary] = Model{Provider: canary, UpstreamModel: canary}
	cfg.Providers["q"] = Provider{Type: "openai", APIKey: "secret://q", AzureAPIVersion: canary,
		Headers: map[string]string{canary: "v", "X-" + canary: "v", "X-A": canary, "Authorization": "Bearer " + canary, "X-B": canary + "\n"}}
	cfg.Models["d"] = Model{Deployments: []Deployment{{Provider: canary, Model: canary}, {Provider: "q", Model: "x" + canary + "\n"}},
		Fallbacks: []string{canary, "y" + canary}}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted canaries")
	}
	assertNoCanary(t, err.Error())
	if n := len(problemsOf(t, err)); n < 18 {
		t.Errorf("got %d problems, want at least 18:\n%v", n, err)
	}
}
