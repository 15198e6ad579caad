package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The data-plane settings: provider headers, Azure, public routes,
// timeouts, deployments, fallbacks, routing and keys.

func TestDataPlaneValidation(t *testing.T) {
	const p = "providers:\n  o:\n    type: openai\n    api_key: secret://o\n"
	cases := []struct {
		name  string
		yaml  string
		env   []string
		wants []want
	}{
		{"header names", p + `    headers:
      Authorization: x
      X-Api-Key: y
      Ocp-Apim-Subscription-Key: z
      Host: h
      'bad name': v
      Transfer-Encoding: chunked
      cookie: c
      OpenAI-Project: ok
`, nil, []want{
			{"w.yaml:6:7", "providers.o.headers.Authorization", "carries credentials and cannot be set under headers: Warden sends the provider's key itself, from api_key"},
			{"w.yaml:7:7", "providers.o.headers.X-Api-Key", "carries credentials"},
			{"w.yaml:8:7", "providers.o.headers.Ocp-Apim-Subscription-Key", "carries credentials"},
			{"w.yaml:9:7", "providers.o.headers.Host", "set by Warden for each request"},
			{"w.yaml:10:7", "providers.o.headers." + hiddenName, "a header name is 1 to 128 of letters"},
			{"w.yaml:11:7", "providers.o.headers.Transfer-Encoding", "set by Warden"},
			{"w.yaml:12:7", "providers.o.headers.cookie", "carries credentials"},
		}},
		{"every credential header", p + "    headers: {proxy-authorization: a, api-key: b, X-GOOG-API-KEY: c, X-Auth-Token: d}\n", nil, []want{
			{"w.yaml:5:15", "providers.o.headers.proxy-authorization", "carries credentials"},
			{"w.yaml:5:39", "providers.o.headers.api-key", "carries credentials"},
			{"w.yaml:5:51", "providers.o.headers.X-GOOG-API-KEY", "carries credentials"},
			{"w.yaml:5:70", "providers.o.headers.X-Auth-Token", "carries credentials"},
		}},
		{"header values", p + "    headers:\n      X-A: \"a\\r\\nX-Injected: 1\"\n      X-B: secret://b\n      X-C: sk-abcdefghijklmnop1234\n      X-D: " +
			strings.Repeat("v", 4097) + "\n      X-E: ok\n      x-e: again\n      X-F: \"tab\\tis fine\"\n      X-G: ''\n", nil, []want{
			{"w.yaml:6:12", "providers.o.headers.X-A", "must not contain control characters"},
			{"w.yaml:7:12", "providers.o.headers.X-B", "a reference here would not be resolved; credentials belong in api_key"},
			{"w.yaml:8:12", "providers.o.headers.X-C", "this looks like an API key"},
			{"w.yaml:9:12", "providers.o.headers.X-D", "at most 4096 bytes"},
			{"w.yaml:11:12", "providers.o.headers.x-e", "is the same header as X-E (header names ignore case)"},
		}},
		{"headers given a list", p + "    headers: [X-A]\n", nil, []want{
			{"w.yaml:5:14", "providers.o.headers", "must be a mapping of header names to values"},
		}},
		{"empty headers", p + "    headers: {}\n", nil, nil},
		{"azure", `providers:
  az:
    type: openai
    api_key: secret://az
    azure_api_version: 2024-10-21-beta
  an:
    type: anthropic
    api_key: secret://an
    azure_api_version: 2024-10-21
  ok:
    type: openai
    api_key: secret://ok
    base_url: https://example.openai.azure.com
    azure_api_version: "2025-04-01-preview"
`, nil, []want{
			{"w.yaml:5:24", "providers.az.azure_api_version", "must be an Azure OpenAI API version like 2024-10-21"},
			{"w.yaml:2:3", "providers.az.base_url", "is required with azure_api_version: your Azure OpenAI resource's endpoint"},
			{"w.yaml:9:24", "providers.an.azure_api_version", "only applies to type openai (Azure OpenAI)"},
		}},
		{"public", `providers:
  h1: {type: http, base_url: 'http://localhost:1', public: true}
  h2: {type: http, base_url: 'http://localhost:2', public: true, api_key: secret://h2}
  h3: {type: http, base_url: 'http://localhost:3', public: false}
  o: {type: openai, api_key: secret://o, public: true}
`, nil, []want{
			{"w.yaml:3:60", "providers.h2.public", "cannot be combined with api_key or api_keys: anyone could then use this provider's key"},
			{"w.yaml:5:50", "providers.o.public", "only applies to type http"},
		}},
		{"timeouts out of range", p + "    timeouts: {connect: -1s, first_byte: 2h, total: 1m, stream_idle: 1h}\n", nil, []want{
			{"w.yaml:5:25", "providers.o.timeouts.connect", "must not be negative; leave it out (or 0) for the gateway's default"},
			{"w.yaml:5:42", "providers.o.timeouts.first_byte", "must be at most 1h"},
		}},
		{"timeouts longer than total", p + "    timeouts:\n      connect: 2m\n      first_byte: 90s\n      total: 1m\n      stream_idle: 5m\n", nil, []want{
			{"w.yaml:6:16", "providers.o.timeouts.connect", "must not be longer than total"},
			{"w.yaml:7:19", "providers.o.timeouts.first_byte", "must not be longer than total"},
		}},
		{"timeouts without total", p + "    timeouts: {connect: 0s, first_byte: 1h, stream_idle: 10m}\n", nil, nil},
		{"deployments", `providers:
  a: {type: http, base_url: 'http://localhost'}
models:
  m:
    provider: a
    upstream_model: x
    deployments:
      - {provider: a, weight: 0}
      - {provider: b, model: y, weight: 1001}
      - {model: z}
      - {provider: a, model: m}
      - {provider: a, model: "q\nr", weight: -1}
`, nil, []want{
			{"w.yaml:5:15", "models.m.provider", "cannot be combined with deployments"},
			{"w.yaml:6:21", "models.m.upstream_model", "cannot be combined with deployments"},
			{"w.yaml:8:31", "models.m.deployments[0].weight", "must be from 1 to 1000 (leave it out for 1)"},
			{"w.yaml:9:20", "models.m.deployments[1].provider", "must name a configured provider; configured: a"},
			{"w.yaml:9:41", "models.m.deployments[1].weight", "must be from 1 to 1000"},
			{"w.yaml:10:9", "models.m.deployments[2].provider", "is required: the name of an entry under providers"},
			{"w.yaml:11:9", "models.m.deployments[3]", "same provider and model as deployments[0]; list it once and raise its weight instead"},
			{"w.yaml:12:30", "models.m.deployments[4].model", "must not contain control characters"},
			{"w.yaml:12:46", "models.m.deployments[4].weight", "must be from 1 to 1000"},
		}},
		{"empty deployments", "providers:\n  a: {type: http, base_url: 'http://localhost'}\nmodels:\n  m:\n    deployments: []\n", nil, []want{
			{"w.yaml:4:3", "models.m.provider", "is required: the name of an entry under providers (or list deployments instead)"},
		}},
		{"deployment without providers", "models:\n  m:\n    deployments: [{provider: a}]\n", nil, []want{
			{"w.yaml:3:30", "models.m.deployments[0].provider", "no providers are configured"},
		}},
		{"fallbacks", `providers:
  p: {type: http, base_url: 'http://localhost'}
models:
  a: {provider: p, fallbacks: [a, nope, b, b, '']}
  b: {provider: p, fallbacks: [c]}
  c: {provider: p, fallbacks: [b]}
  x: {provider: p, fallbacks: [y]}
  y: {provider: p, fallbacks: [z, a]}
  z: {provider: p, fallbacks: [x]}
`, nil, []want{
			{"w.yaml:4:32", "models.a.fallbacks[0]", "is this model itself"},
			{"w.yaml:4:35", "models.a.fallbacks[1]", "must name a configured model (an entry under models); configured: a, b, c, x, y, z"},
			{"w.yaml:4:44", "models.a.fallbacks[3]", "is the same model as fallbacks[2]"},
			{"w.yaml:4:47", "models.a.fallbacks[4]", "must not be empty"},
			{"w.yaml:6:32", "models.c.fallbacks[0]", "makes a fallback cycle (b -> c -> b); a model's fallbacks must not lead back to it"},
			{"w.yaml:9:32", "models.z.fallbacks[0]", "makes a fallback cycle (x -> y -> z -> x)"},
		}},
		{"fallback chain without cycle", `providers:
  p: {type: http, base_url: 'http://localhost'}
models:
  a: {provider: p, fallbacks: [b, c]}
  b: {provider: p, fallbacks: [c]}
  c: {deployments: [{provider: p}, {provider: p, model: c2, weight: 1000}]}
`, nil, nil},
		{"routing", "routing:\n  max_retries: 11\n  backoff_base: 0s\n  backoff_max: 2h\n  max_total: -1s\n  breaker_failures: 0\n  breaker_cooldown: 0s\n", nil, []want{
			{"w.yaml:2:16", "routing.max_retries", "must be from 0 (no retries) to 10; the default is 2"},
			{"w.yaml:3:17", "routing.backoff_base", "must be longer than 0 and at most 1h; the default is 200ms"},
			{"w.yaml:4:16", "routing.backoff_max", "the default is 5s"},
			{"w.yaml:5:14", "routing.max_total", "the default is 1m"},
			{"w.yaml:6:21", "routing.breaker_failures", "must be from 1 to 1000; the default is 5"},
			{"w.yaml:7:21", "routing.breaker_cooldown", "the default is 30s"},
		}},
		{"backoff max below base", "routing:\n  backoff_base: 1s\n  backoff_max: 500ms\n", nil, []want{
			{"w.yaml:3:16", "routing.backoff_max", "must be at least backoff_base"},
		}},
		{"routing bounds ok", "routing:\n  max_retries: 0\n  breaker_failures: 1000\n  backoff_base: 1h\n  backoff_max: 1h\n", nil, nil},
		{"keys", "keys:\n  poll_interval: 10ms\n  rotate_grace: -1s\n", nil, []want{
			{"w.yaml:2:18", "keys.poll_interval", "must be from 50ms to 5s (it bounds how long a revoked key keeps working on a running server); the default is 250ms"},
			{"w.yaml:3:17", "keys.rotate_grace", "must be from 0 (the old key stops at once) to 720h; the default is 1h"},
		}},
		{"keys upper bounds", "keys:\n  poll_interval: 5001ms\n  rotate_grace: 721h\n", nil, []want{
			{"w.yaml:2:18", "keys.poll_interval", "must be from 50ms to 5s"},
			{"w.yaml:3:17", "keys.rotate_grace", "to 720h"},
		}},
		{"keys bounds ok", "keys:\n  poll_interval: 50ms\n  rotate_grace: 0s\n", nil, nil},
		{"oidc", "auth:\n  oidc:\n    issuer: http://idp.example.com\n    role_claim: ''\n    default_role: root\n    leeway: 10m\n    allowed_models: ['[']\n", nil, []want{
			{"w.yaml:3:13", "auth.oidc.issuer", "must use https; plain http is allowed only for a loopback issuer"},
			{"w.yaml:2:3", "auth.oidc.audience", "must be set"},
			{"w.yaml:4:17", "auth.oidc.role_claim", "must name a token claim"},
			{"w.yaml:5:19", "auth.oidc.default_role", "must be one of admin, manager, user, auditor"},
			{"w.yaml:6:13", "auth.oidc.leeway", "must be from 0 to 5m"},
			{"w.yaml:7:22", "auth.oidc.allowed_models[0]", "must be a model name or a glob"},
		}},
		{"oidc without issuer", "auth:\n  oidc:\n    audience: warden\n", nil, []want{
			{"w.yaml:2:3", "auth.oidc.issuer", "must be set when other auth.oidc settings are"},
		}},
		{"oidc ok", "auth:\n  oidc:\n    issuer: http://127.0.0.1:9999/realm\n    audience: warden\n", nil, nil},
		{"limits and budgets", "limits:\n  auth_failures:\n    slow_after: 0\n    block_after: 3\n    window: 0s\n    block_for: 48h\n    max_delay: 1m\nbudgets:\n  reservation_ttl: 1s\n", nil, []want{
			{"w.yaml:3:17", "limits.auth_failures.slow_after", "must be from 1 to 1000"},
			{"w.yaml:5:13", "limits.auth_failures.window", "must be from 1s to 24h"},
			{"w.yaml:6:16", "limits.auth_failures.block_for", "must be from 1s to 24h"},
			{"w.yaml:7:16", "limits.auth_failures.max_delay", "must be from 0 to 30s"},
			{"w.yaml:9:20", "budgets.reservation_ttl", "must be from 1m to 24h"},
		}},
		{"block below slow", "limits:\n  auth_failures:\n    slow_after: 10\n    block_after: 3\n", nil, []want{
			{"w.yaml:4:18", "limits.auth_failures.block_after", "must be 0 (never block) or more than slow_after"},
		}},
		{"pricing", "pricing:\n  gpt-4o: {input_cost_per_mtok: -1, output_cost_per_mtok: lots}\n", nil, []want{
			{"w.yaml:2:33", "pricing.gpt-4o.input_cost_per_mtok", "must be a price in US dollars per million tokens"},
			{"w.yaml:2:59", "pricing.gpt-4o.output_cost_per_mtok", "must be a price in US dollars per million tokens"},
		}},
		{"pricing ok", "pricing:\n  my-model: {input_cost_per_mtok: 0.15, output_cost_per_mtok: 0.6}\n", nil, nil},
		{"guardrails", "guardrails:\n  pii: {action: shred, types: {email: nope}}\n  injection: {action: redact, threshold: 1.5}\n  output: {secrets: {action: pseudonymize}}\n  validation: {max_messages: -1}\n  teams:\n    ml: {secrets: {action: maybe}}\n", nil, []want{
			{"w.yaml:2:17", "guardrails.pii.action", "must be one of allow, flag, mask, redact, pseudonymize, block"},
			{"w.yaml:2:39", "guardrails.pii.types.email", "must be one of"},
			{"w.yaml:3:23", "guardrails.injection.action", "must be allow, flag or block"},
			{"w.yaml:3:42", "guardrails.injection.threshold", "must be a score from 0 to 1"},
			{"w.yaml:4:30", "guardrails.output.secrets.action", "pseudonymize applies to prompts"},
			{"w.yaml:5:30", "guardrails.validation.max_messages", "must be 0 (no bound) or positive"},
			{"w.yaml:7:28", "guardrails.teams.ml.secrets.action", "must be one of"},
		}},
		{"guardrails threshold not a number", "guardrails:\n  injection: {threshold: high}\n", nil, []want{
			{"w.yaml:2:26", "guardrails.injection.threshold", "must be a number such as 0.8"},
		}},
		{"guardrails ok", "guardrails:\n  pii: {action: pseudonymize, types: {ipv4: allow}}\n  injection: {action: block, threshold: 0.9}\n  models:\n    gpt-4o: {secrets: {action: redact}}\n", nil, nil},
		{"alerts", "alerts:\n  webhooks:\n    - {url: 'http://hooks.example.com/x', secret: plain-text, format: xml}\n  responses: {cost_spike: ban}\n", nil, []want{
			{"w.yaml:3:13", "alerts.webhooks[0].url", "must use https"},
			{"w.yaml:3:51", "alerts.webhooks[0].secret", "must be a reference"},
			{"w.yaml:3:71", "alerts.webhooks[0].format", "must be json or slack"},
			{"w.yaml:4:27", "alerts.responses.cost_spike", "must be alert or suspend"},
		}},
		{"routing and keys from env", "", []string{"WARDEN_ROUTING_MAX_RETRIES=20", "WARDEN_ROUTING_BACKOFF_MAX=1ms", "WARDEN_KEYS_POLL_INTERVAL=1m"}, []want{
			{"WARDEN_ROUTING_MAX_RETRIES", "routing.max_retries", "must be from 0 (no retries) to 10"},
			{"WARDEN_ROUTING_BACKOFF_MAX", "routing.backoff_max", "must be at least backoff_base"},
			{"WARDEN_KEYS_POLL_INTERVAL", "keys.poll_interval", "must be from 50ms to 5s"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", []byte(tc.yaml), tc.env)
			if len(tc.wants) == 0 {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("Validate after Parse:\n%v", err)
				}
				return
			}
			if cfg != nil {
				t.Error("got a Config along with an error")
			}
			checkProblems(t, err, tc.wants)
		})
	}
}

func TestDataPlaneTypeErrors(t *testing.T) {
	const p = "providers:\n  a: {type: http, base_url: 'http://localhost'}\n"
	cases := []struct {
		name, yaml string
		wants      []want
	}{
		{"deployments given a mapping", p + "models:\n  m:\n    deployments: {provider: a}\n",
			[]want{{"w.yaml:5:18", "models.m.deployments", "must be a list of entries like {provider: openai, model: gpt-4o, weight: 2}, not a mapping"}}},
		{"deployment given text", p + "models:\n  m:\n    deployments: [a]\n",
			[]want{{"w.yaml:5:19", "models.m.deployments[0]", "must be a mapping of settings, not text"}}},
		{"deployment empty", p + "models:\n  m:\n    deployments: [~, {provider: a}]\n",
			[]want{{"w.yaml:5:19", "models.m.deployments[0]", "must be a mapping of settings, not empty"}}},
		{"deployment provider given a list", p + "models:\n  m:\n    deployments: [{provider: [a]}]\n",
			[]want{{"w.yaml:5:30", "models.m.deployments[0].provider", "must be text, not a list"}}},
		{"weight given text", p + "models:\n  m:\n    deployments: [{provider: a, weight: heavy}]\n",
			[]want{{"w.yaml:5:41", "models.m.deployments[0].weight", "must be a whole number, like 3 (without quotes), not text"}}},
		{"weight out of range", p + "models:\n  m:\n    deployments: [{provider: a, weight: 99999999999999999999}]\n",
			[]want{{"w.yaml:5:41", "models.m.deployments[0].weight", "must be a whole number"}}},
		{"unknown deployment key", p + "models:\n  m:\n    deployments: [{provider: a, modle: x}]\n",
			[]want{{"w.yaml:5:33", "models.m.deployments[0].modle", "unknown key (did you mean model?); allowed here: model, provider, weight"}}},
		{"fallbacks given text", p + "models:\n  m: {provider: a, fallbacks: b}\n",
			[]want{{"w.yaml:4:31", "models.m.fallbacks", "must be a list of model names, like [gpt-4o, claude-sonnet], not text"}}},
		{"fallback given a mapping", p + "models:\n  m: {provider: a, fallbacks: [{b: c}]}\n",
			[]want{{"w.yaml:4:32", "models.m.fallbacks[0]", "must be text, not a mapping"}}},
		{"public given text", "providers:\n  a: {type: http, base_url: 'http://localhost', public: 'yes'}\n",
			[]want{{"w.yaml:2:57", "providers.a.public", "must be true or false"}}},
		{"timeout given a number", "providers:\n  a: {type: http, base_url: 'http://localhost', timeouts: {total: 30}}\n",
			[]want{{"w.yaml:2:67", "providers.a.timeouts.total", "must be a duration like 30s"}}},
		{"unknown timeout", "providers:\n  a: {type: http, base_url: 'http://localhost', timeouts: {read: 1s}}\n",
			[]want{{"w.yaml:2:60", "providers.a.timeouts.read", "unknown key; allowed here: connect, first_byte, stream_idle, total"}}},
		{"header value given a list", "providers:\n  a: {type: http, base_url: 'http://localhost', headers: {X-A: [1]}}\n",
			[]want{{"w.yaml:2:64", "providers.a.headers.X-A", "must be text, not a list"}}},
		{"max_retries quoted", "routing:\n  max_retries: '3'\n",
			[]want{{"w.yaml:2:16", "routing.max_retries", "must be a whole number, like 3 (without quotes), not text"}}},
		{"routing given a list", "routing: [1]\n",
			[]want{{"w.yaml:1:10", "routing", "must be a mapping of settings, not a list"}}},
		{"unknown routing key", "routing:\n  retries: 3\n",
			[]want{{"w.yaml:2:3", "routing.retries", "unknown key; allowed here: backoff_base, backoff_max, breaker_cooldown, breaker_failures, max_retries, max_total"}}},
		{"unknown keys key", "keys:\n  poll: 1s\n",
			[]want{{"w.yaml:2:3", "keys.poll", "unknown key; allowed here: poll_interval, rotate_grace"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tc.yaml), nil)
			checkProblems(t, err, tc.wants)
		})
	}
}

func TestDataPlaneDefaults(t *testing.T) {
	d := Default()
	wantRouting := Routing{MaxRetries: 2, BackoffBase: 200 * time.Millisecond, BackoffMax: 5 * time.Second, MaxTotal: 60 * time.Second,
		BreakerFailures: 5, BreakerCooldown: 30 * time.Second}
	if d.Routing != wantRouting {
		t.Errorf("routing defaults: got %+v, want %+v", d.Routing, wantRouting)
	}
	if want := (Keys{PollInterval: 250 * time.Millisecond, RotateGrace: time.Hour}); d.Keys != want {
		t.Errorf("keys defaults: got %+v, want %+v", d.Keys, want)
	}
	// Weights and upstream names are filled in by Parse; an empty
	// timeouts mapping is the same as none.
	cfg, err := Parse("w.yaml", []byte(`providers:
  a: {type: http, base_url: 'http://localhost', timeouts: {}, headers: {}}
models:
  m: {deployments: [{provider: a}, {provider: a, model: other, weight: 7}], fallbacks: []}
  n: {provider: a}
routing:
keys: ~
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantModels := map[string]Model{
		"m": {Deployments: []Deployment{{Provider: "a", Model: "m", Weight: 1}, {Provider: "a", Model: "other", Weight: 7}}},
		"n": {Provider: "a", UpstreamModel: "n"},
	}
	if !reflect.DeepEqual(cfg.Models, wantModels) {
		t.Errorf("models: got %+v, want %+v", cfg.Models, wantModels)
	}
	if want := (Provider{Type: "http", BaseURL: "http://localhost"}); !reflect.DeepEqual(cfg.Providers["a"], want) {
		t.Errorf("provider: got %+v, want %+v", cfg.Providers["a"], want)
	}
	if cfg.Routing != wantRouting || cfg.Keys != d.Keys {
		t.Errorf("null sections must keep the defaults: %+v %+v", cfg.Routing, cfg.Keys)
	}
}

func TestResolved(t *testing.T) {
	cases := []struct {
		name  string
		model Model
		want  []Deployment
	}{
		{"shorthand", Model{Provider: "p", UpstreamModel: "up"}, []Deployment{{Provider: "p", Model: "up", Weight: 1}}},
		{"shorthand default name", Model{Provider: "p"}, []Deployment{{Provider: "p", Model: "pub", Weight: 1}}},
		{"deployments", Model{Deployments: []Deployment{{Provider: "a"}, {Provider: "b", Model: "x", Weight: 5}}},
			[]Deployment{{Provider: "a", Model: "pub", Weight: 1}, {Provider: "b", Model: "x", Weight: 5}}},
		{"nothing", Model{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := reflect.ValueOf(tc.model.Deployments).Len()
			got := tc.model.Resolved("pub")
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if len(got) > 0 && len(tc.model.Deployments) > 0 {
				got[0].Model = "changed"
				if tc.model.Deployments[0].Model == "changed" || len(tc.model.Deployments) != before {
					t.Error("Resolved must return a fresh slice")
				}
			}
		})
	}
}

func TestRoutingKeysEnv(t *testing.T) {
	cfg, err := Parse("w.yaml", []byte("routing:\n  max_retries: 1\n  max_total: 10s\nkeys:\n  rotate_grace: 5m\n"), []string{
		"WARDEN_ROUTING_MAX_RETRIES=0",
		"WARDEN_ROUTING_BACKOFF_BASE=50ms",
		"WARDEN_ROUTING_BACKOFF_MAX=1s",
		"WARDEN_ROUTING_BREAKER_FAILURES=9",
		"WARDEN_ROUTING_BREAKER_COOLDOWN=2m",
		"WARDEN_KEYS_POLL_INTERVAL=100ms",
		"WARDEN_KEYS_ROTATE_GRACE=",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantRouting := Routing{MaxRetries: 0, BackoffBase: 50 * time.Millisecond, BackoffMax: time.Second, MaxTotal: 10 * time.Second,
		BreakerFailures: 9, BreakerCooldown: 2 * time.Minute}
	if cfg.Routing != wantRouting {
		t.Errorf("routing: got %+v, want %+v", cfg.Routing, wantRouting)
	}
	if want := (Keys{PollInterval: 100 * time.Millisecond, RotateGrace: 5 * time.Minute}); cfg.Keys != want {
		t.Errorf("keys: got %+v, want %+v", cfg.Keys, want)
	}
	_, err = Parse("", nil, []string{"WARDEN_ROUTING_MAX_RETRIES=three", "WARDEN_KEYS_ROTATE_GRACE=1 day", "WARDEN_ROUTING_RETRIES=1"})
	checkProblems(t, err, []want{
		{"WARDEN_ROUTING_MAX_RETRIES", "routing.max_retries", "must be a whole number, like 3"},
		{"WARDEN_KEYS_ROTATE_GRACE", "keys.rotate_grace", "must be a duration"},
		{"WARDEN_ROUTING_RETRIES", "", "unknown setting; did you mean WARDEN_ROUTING_MAX_RETRIES? Settings outside providers, models"},
	})
}

func TestValidateDataPlane(t *testing.T) {
	// On a Config built in code, zero weights and empty deployment models
	// mean the defaults, as in Resolved; everything else is checked as in
	// Parse.
	cfg := Default()
	cfg.Providers["a"] = Provider{Type: "http", BaseURL: "http://localhost"}
	cfg.Models["m"] = Model{Deployments: []Deployment{{Provider: "a"}}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("zero weight and model must be accepted by Validate: %v", err)
	}
	cfg.Providers["b"] = Provider{Type: "anthropic", APIKey: "secret://b", Public: true, AzureAPIVersion: "2024-10-21",
		Headers: map[string]string{"x-api-key": "k", "X-Ok": "v\n", "x-ok": "w", "bad name": "x"}}
	cfg.Models["m"] = Model{Deployments: []Deployment{{Provider: "a", Weight: 2000}}, Fallbacks: []string{"n"}}
	cfg.Models["n"] = Model{Provider: "a", Fallbacks: []string{"m"}}
	checkProblems(t, cfg.Validate(), []want{
		{"", "providers.b.public", "only applies to type http"},
		{"", "providers.b.azure_api_version", "only applies to type openai"},
		{"", "providers.b.headers.x-api-key", "carries credentials"},
		{"", "providers.b.headers.X-Ok", "must not contain control characters"},
		{"", "providers.b.headers.x-ok", "is the same header as X-Ok"},
		{"", "providers.b.headers." + hiddenName, "a header name is"},
		{"", "models.m.deployments[0].weight", "must be from 1 to 1000"},
		{"", "models.n.fallbacks[0]", "makes a fallback cycle (m -> n -> m)"},
	})
}

func TestRedactedDataPlane(t *testing.T) {
	// A Config changed in code may hold what validation refuses; Redacted
	// must still not print it, and must keep everything else.
	cfg := Default()
	cfg.Providers["o"] = Provider{Type: "openai", APIKey: "secret://o", AzureAPIVersion: canary,
		Headers:  map[string]string{"Authorization": "Bearer plain-bearer-value", "X-Key": canary, canary: "v", "X-Ok": "kept"},
		Timeouts: Timeouts{Total: time.Minute}}
	cfg.Models["m"] = Model{Deployments: []Deployment{{Provider: canary, Model: canary, Weight: 2}, {Provider: "o", Model: "up", Weight: 1}},
		Fallbacks: []string{canary, "other"}}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, string(out))
	if strings.Contains(string(out), "plain-bearer-value") {
		t.Errorf("Redacted printed a credential header:\n%s", out)
	}
	for _, kept := range []string{"X-Ok: kept", "provider: o", "model: up", "- other", "total: 1m0s", "weight: 2"} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("Redacted dropped %q:\n%s", kept, out)
		}
	}
	if cfg.Providers["o"].Headers["X-Key"] != canary || cfg.Models["m"].Fallbacks[0] != canary {
		t.Error("Redacted changed the Config it was called on")
	}
}

func TestRedactedRoundTripNames(t *testing.T) {
	// Valid names that are not printed in messages (a glued "sk-" run, a
	// header name with token punctuation) must still survive Redacted, or
	// a fallback would point at a renamed model.
	cases := []string{
		"providers:\n  p: {type: http, base_url: 'http://localhost'}\nmodels:\n  xsk-abcdefghijklmnopqrstu: {provider: p}\n" +
			"  b: {provider: p, fallbacks: [xsk-abcdefghijklmnopqrstu]}\n",
		"providers:\n  p: {type: http, base_url: 'http://localhost', headers: {'X!A': v, X-B: 'true', X-C: ' padded '}}\n",
		"providers:\n  p: {type: http, base_url: 'http://localhost'}\nmodels:\n  n: {deployments: [{provider: p, model: 'yes'}], fallbacks: ['on']}\n  'on': {provider: p}\n",
	}
	for _, y := range cases {
		cfg, err := Parse("w.yaml", []byte(y), nil)
		if err != nil {
			t.Fatalf("%q: %v", y, err)
		}
		out, err := cfg.Redacted()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("redacted.yaml", out, nil)
		if err != nil {
			t.Fatalf("Redacted output does not parse:\n%s\n%v", out, err)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Errorf("round trip changed the config:\n%s", out)
		}
	}
}
