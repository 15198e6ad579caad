package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// want describes one expected problem. Message is matched as a substring
// so that tests pin the important words without freezing every comma.
type want struct {
	source, field, message string
}

// problemsOf returns the Problems inside err, failing the test if err is
// something else.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want problems")
	}
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("error is %T, want Problems: %v", err, err)
	}
	return probs
}

// checkProblems asserts that err holds exactly the wanted problems, in any
// order.
func checkProblems(t *testing.T, err error, wants []want) {
	t.Helper()
	probs := problemsOf(t, err)
	used := make([]bool, len(probs))
	for _, w := range wants {
		found := false
		for i, p := range probs {
			if !used[i] && p.Source == w.source && p.Field == w.field && strings.Contains(p.Message, w.message) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s: %s: ...%s...", w.source, w.field, w.message)
		}
	}
	for i, p := range probs {
		if !used[i] {
			t.Errorf("unexpected problem %q", p.String())
		}
	}
}

func TestDefaults(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		load func() (*Config, error)
	}{
		{"no file", func() (*Config, error) { return Load("", nil) }},
		{"empty file", func() (*Config, error) { return Load(empty, nil) }},
		{"nil data", func() (*Config, error) { return Parse("x.yaml", nil, nil) }},
		{"comments only", func() (*Config, error) { return Parse("x.yaml", []byte("# nothing\n\n# here\n"), nil) }},
		{"bare document marker", func() (*Config, error) { return Parse("x.yaml", []byte("---\n"), nil) }},
		{"null sections", func() (*Config, error) {
			return Parse("x.yaml", []byte("server:\nlog: ~\nproviders:\nmodels: null\ndata_dir:\n"), nil)
		}},
		{"config-only env ignored", func() (*Config, error) {
			return Parse("x.yaml", nil, []string{"WARDEN_CONFIG=/etc/warden.yaml", "WARDEN_MASTER_KEY=abc", "WARDEN_KEY=wdn_x",
				"WARDEN_TEST_ANYTHING=1", "HOME=/root", "WARDEN_DATA_DIR=", "NOT_AN_ASSIGNMENT"})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.load()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg, Default()) {
				t.Errorf("got %+v, want defaults %+v", cfg, Default())
			}
		})
	}
	d := Default()
	if err := d.Validate(); err != nil {
		t.Errorf("Default() does not validate: %v", err)
	}
	if d.DataDir != "./warden-data" || d.Server.Addr != "127.0.0.1:8080" || d.Server.ReadHeaderTimeout != 10*time.Second ||
		d.Server.ReadTimeout != time.Minute || d.Server.IdleTimeout != 2*time.Minute || d.Server.ShutdownTimeout != 30*time.Second ||
		d.Server.MaxHeaderBytes != 64<<10 || d.Server.MaxBodyBytes != 32<<20 || d.Server.TLS.MinVersion != "1.2" ||
		d.Log.Level != "info" || d.Log.Format != "json" || d.Providers == nil || d.Models == nil {
		t.Errorf("defaults differ from the documented ones: %+v", d)
	}
	d.Providers["x"] = Provider{}
	d.Models["x"] = Model{}
	if d2 := Default(); len(d2.Providers) != 0 || len(d2.Models) != 0 {
		t.Error("Default must return fresh maps each time")
	}
}

func TestFullFile(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := &Config{
		DataDir: "/var/lib/warden",
		Server: Server{
			Addr:              "0.0.0.0:8443",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       2 * time.Minute,
			IdleTimeout:       90 * time.Second,
			ShutdownTimeout:   45 * time.Second,
			MaxHeaderBytes:    32768,
			MaxBodyBytes:      64 << 20,
			TrustedProxies:    []string{"10.0.0.0/8", "192.168.1.10", "fd00::/8"},
			TLS:               TLS{CertFile: "/etc/warden/tls/cert.pem", KeyFile: "/etc/warden/tls/key.pem", MinVersion: "1.3"},
		},
		Log: Log{Level: "debug", Format: "text"},
		Providers: map[string]Provider{
			"openai": {Type: "openai", APIKeys: []string{"secret://openai", "secret://openai-2"},
				Headers:  map[string]string{"OpenAI-Organization": "org-example"},
				Timeouts: Timeouts{Connect: 5 * time.Second, FirstByte: 2 * time.Minute, Total: 10 * time.Minute, StreamIdle: 30 * time.Second}},
			"azure": {Type: "openai", BaseURL: "https://example-eastus.openai.azure.com", AzureAPIVersion: "2024-10-21",
				APIKey: "secret://azure-openai"},
			"anthropic": {Type: "anthropic", BaseURL: "https://api.anthropic.com", APIKeys: []string{"secret://anthropic", "secret://anthropic-2"},
				Headers: map[string]string{"anthropic-beta": "prompt-caching-2024-07-31"}},
			"hf":     {Type: "huggingface", APIKey: "env://HF_TOKEN"},
			"gemini": {Type: "google", APIKey: "secret://google"},
			"classifier": {Type: "http", BaseURL: "http://10.1.2.3:9000/v1", AllowInsecureHTTP: true,
				Timeouts: Timeouts{FirstByte: 10 * time.Second}},
		},
		Models: map[string]Model{
			"gpt-4o": {Provider: "openai", UpstreamModel: "gpt-4o"},
			"fast":   {Provider: "openai", UpstreamModel: "gpt-4o-mini"},
			"smart": {Deployments: []Deployment{{Provider: "openai", Model: "gpt-4o", Weight: 3}, {Provider: "azure", Model: "gpt-4o-prod", Weight: 1}},
				Fallbacks: []string{"claude-sonnet"}},
			"claude-sonnet":                    {Provider: "anthropic", UpstreamModel: "claude-sonnet-4-5"},
			"meta-llama/Llama-3.1-8B-Instruct": {Provider: "hf", UpstreamModel: "meta-llama/Llama-3.1-8B-Instruct"},
			"gemini-2.5-flash":                 {Provider: "gemini", UpstreamModel: "gemini-2.5-flash"},
			"spam-classifier":                  {Provider: "classifier", UpstreamModel: "spam-v3"},
		},
		Routing: Routing{MaxRetries: 3, BackoffBase: 100 * time.Millisecond, BackoffMax: 2 * time.Second, MaxTotal: 90 * time.Second,
			BreakerFailures: 3, BreakerCooldown: time.Minute},
		Keys: Keys{PollInterval: 500 * time.Millisecond, RotateGrace: 24 * time.Hour},
		Auth: Auth{OIDC: OIDC{Issuer: "https://login.example.com/realms/main", Audience: "warden", RoleClaim: "groups",
			TeamClaim: "department", UserClaim: "preferred_username", DefaultRole: "auditor",
			AllowedModels: []string{"gpt-4o*", "claude-*"}, Leeway: 30 * time.Second}},
		Limits:  Limits{AuthFailures: AuthFailures{SlowAfter: 10, BlockAfter: 50, Window: 2 * time.Minute, BlockFor: 10 * time.Minute, MaxDelay: time.Second}},
		Budgets: Budgets{ReservationTTL: 30 * time.Minute},
		Pricing: map[string]Price{
			"gpt-4o":        {InputCostPerMTok: "2.25", OutputCostPerMTok: "9", CachedInputCostPerMTok: "1.125"},
			"claude-sonnet": {InputCostPerMTok: "3", OutputCostPerMTok: "15", CacheWriteCostPerMTok: "3.75"},
		},
		Guardrails: Guardrails{
			PII:        GuardClass{Action: "redact", Types: map[string]string{"ipv4": "allow", "email": "pseudonymize"}},
			Secrets:    GuardClass{Action: "block"},
			Injection:  GuardInjection{Action: "block", Threshold: 0.85},
			Output:     GuardOutput{PII: GuardClass{Action: "mask"}, Secrets: GuardClass{Action: "redact"}},
			Validation: Validation{MaxMessages: 500, MaxChars: 400000, MaxTokens: 16384},
			Models:     map[string]GuardPolicy{"claude-sonnet": {PII: GuardClass{Action: "block"}}},
			Teams:      map[string]GuardPolicy{"research": {Injection: GuardInjection{Action: "flag"}, Output: GuardOutput{PII: GuardClass{Action: "allow"}}}},
			Keys:       map[string]GuardPolicy{"key_0123456789abcdef": {Secrets: GuardClass{Action: "redact"}}},
		},
		Metrics: Metrics{Enabled: true, Token: "env://METRICS_TOKEN", Addr: "127.0.0.1:9090"},
		Alerts: Alerts{
			Webhooks:  []Webhook{{URL: "https://hooks.example.com/warden", Secret: "secret://alert-webhook", Format: "json"}},
			Responses: map[string]string{"injection_attempts": "suspend", "cost_spike": "alert"},
		},
		Audit: Audit{QueuePolicy: "drop", QueueSize: 50000, Retention: 30 * 24 * time.Hour, Payloads: true},
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, wantCfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate after Load: %v", err)
	}
	if got := cfg.Server.TLS.MinVersionID(); got != tls.VersionTLS13 {
		t.Errorf("MinVersionID = %x, want TLS 1.3", got)
	}
}

func TestEveryEnvSettingIsDocumented(t *testing.T) {
	// full.yaml doubles as the reference; every setting must appear in it.
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range EnvNames() {
		s := envSettings[name]
		key := s.path[strings.LastIndex(s.path, ".")+1:]
		if !strings.Contains(string(data), key+":") {
			t.Errorf("%s (%s) is not shown in testdata/full.yaml", name, s.path)
		}
	}
	if len(EnvNames()) != 53 {
		t.Errorf("got %d env settings, want 53: %v", len(EnvNames()), EnvNames())
	}
}

func TestEverySettingIsDocumented(t *testing.T) {
	// Every key of the schema, file-only ones included, must be shown in
	// full.yaml, set to a value.
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string) []string
	walk = func(typ reflect.Type, path string) []string {
		var out []string
		switch typ.Kind() {
		case reflect.Map, reflect.Slice:
			return walk(typ.Elem(), path+"[]")
		case reflect.Struct:
			if typ == durationType || seen[typ] {
				return nil
			}
			seen[typ] = true
			for i := range typ.NumField() {
				if name := yamlName(typ.Field(i)); name != "" {
					out = append(out, join(path, name))
					out = append(out, walk(typ.Field(i).Type, join(path, name))...)
				}
			}
		}
		return out
	}
	settings := walk(reflect.TypeFor[Config](), "")
	for _, s := range settings {
		key := s[strings.LastIndex(s, ".")+1:]
		found := false
		for line := range strings.Lines(string(data)) {
			trimmed := strings.TrimLeft(line, " -")
			if !strings.HasPrefix(strings.TrimSpace(line), "#") && strings.HasPrefix(trimmed, key+":") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s is not set in testdata/full.yaml", s)
		}
	}
	if len(settings) < 50 {
		t.Errorf("the walk found only %d settings: %v", len(settings), settings)
	}
}

func TestValidation(t *testing.T) {
	const f = "w.yaml"
	cases := []struct {
		name  string
		yaml  string
		env   []string
		wants []want
	}{
		{"addr without port", "server:\n  addr: localhost\n", nil,
			[]want{{"w.yaml:2:9", "server.addr", "must be host:port"}}},
		{"addr port too big", "server:\n  addr: ':65536'\n", nil,
			[]want{{"w.yaml:2:9", "server.addr", "port must be a number from 0 to 65535"}}},
		{"addr named port", "server:\n  addr: 'localhost:http'\n", nil,
			[]want{{"w.yaml:2:9", "server.addr", "port must be a number"}}},
		{"addr bad host", "server:\n  addr: 'a b:80'\n", nil,
			[]want{{"w.yaml:2:9", "server.addr", "host must be an IP address or a host name"}}},
		{"addr ok forms", "server:\n  addr: '[::1]:0'\n", nil, nil},
		{"zero timeouts", "server:\n  read_header_timeout: 0s\n  read_timeout: 0s\n  idle_timeout: -1s\n  shutdown_timeout: 0s\n", nil,
			[]want{
				{"w.yaml:2:24", "server.read_header_timeout", "must be longer than 0"},
				{"w.yaml:3:17", "server.read_timeout", "must be longer than 0"},
				{"w.yaml:4:17", "server.idle_timeout", "must be longer than 0"},
			}},
		{"negative shutdown", "server:\n  shutdown_timeout: -5s\n", nil,
			[]want{{"w.yaml:2:21", "server.shutdown_timeout", "must not be negative"}}},
		{"header bytes too small", "server:\n  max_header_bytes: 4095\n", nil,
			[]want{{"w.yaml:2:21", "server.max_header_bytes", "from 4096 (4 KiB) to 1048576 (1 MiB)"}}},
		{"header bytes too big", "server:\n  max_header_bytes: 1048577\n", nil,
			[]want{{"w.yaml:2:21", "server.max_header_bytes", "from 4096"}}},
		{"header bytes bounds ok", "server:\n  max_header_bytes: 4096\n  max_body_bytes: 0x40000000\n", nil, nil},
		{"body bytes", "server:\n  max_body_bytes: 1023\n", nil,
			[]want{{"w.yaml:2:19", "server.max_body_bytes", "from 1024 (1 KiB) to 1073741824 (1 GiB)"}}},
		{"trusted proxies", "server:\n  trusted_proxies: [10.0.0.0/8, 'not-an-ip', '10.0.0.0/33', 'fe80::1%eth0', '::ffff:1.2.3.4']\n", nil,
			[]want{
				{"w.yaml:2:33", "server.trusted_proxies[1]", "not an IP address or CIDR prefix"},
				{"w.yaml:2:46", "server.trusted_proxies[2]", "not an IP address or CIDR prefix"},
				{"w.yaml:2:61", "server.trusted_proxies[3]", "IPv6 zones are not allowed"},
			}},
		{"cert without key", "server:\n  tls:\n    cert_file: c.pem\n", nil,
			[]want{{"w.yaml:2:3", "server.tls.key_file", "must be set together with cert_file"}}},
		{"key without cert", "server:\n  tls:\n    key_file: k.pem\n", nil,
			[]want{{"w.yaml:2:3", "server.tls.cert_file", "must be set together with key_file"}}},
		{"self-signed with cert", "server:\n  tls:\n    self_signed: true\n    cert_file: c.pem\n    key_file: k.pem\n", nil,
			[]want{{"w.yaml:4:16", "server.tls.cert_file", "cannot be combined with self_signed"}}},
		{"min version", "server:\n  tls:\n    min_version: 1.1\n", nil,
			[]want{{"w.yaml:3:18", "server.tls.min_version", `must be "1.2" (the default) or "1.3"`}}},
		{"log", "log:\n  level: verbose\n  format: xml\n", nil,
			[]want{
				{"w.yaml:2:10", "log.level", "must be one of debug, info (the default), warn, error"},
				{"w.yaml:3:11", "log.format", "must be json (the default) or text"},
			}},
		{"empty data dir", "data_dir: ''\n", nil,
			[]want{{"w.yaml:1:11", "data_dir", "must not be empty"}}},
		{"provider type missing and unknown", "providers:\n  a:\n    api_key: secret://a\n  b:\n    type: azure\n    api_key: secret://b\n", nil,
			[]want{
				{"w.yaml:2:3", "providers.a.type", "is required: one of openai, anthropic, huggingface, google, http"},
				{"w.yaml:5:11", "providers.b.type", "must be one of openai, anthropic, huggingface, google, http"},
			}},
		{"null provider", "providers:\n  openai:\n", nil,
			[]want{{"w.yaml:2:3", "providers.openai.type", "is required"}}},
		{"api key required", "providers:\n  openai:\n    type: openai\n", nil,
			[]want{{"w.yaml:2:3", "providers.openai.api_key", `is required for type openai: store the key with "warden secrets set openai" and write api_key: secret://openai`}}},
		{"http needs no key but a url", "providers:\n  local:\n    type: http\n", nil,
			[]want{{"w.yaml:2:3", "providers.local.base_url", "is required for type http"}}},
		{"literal api key", "providers:\n  openai:\n    type: openai\n    api_key: abc123\n", nil,
			[]want{{"w.yaml:4:14", "providers.openai.api_key",
				`literal keys are not allowed in the config; store it with "warden secrets set openai" and write api_key: secret://openai`}}},
		{"literal in api_keys", "providers:\n  openai:\n    type: openai\n    api_keys: [secret://a, plainkey]\n", nil,
			[]want{{"w.yaml:4:28", "providers.openai.api_keys[1]", `store it with "warden secrets set openai-2" and list secret://openai-2 under api_keys`}}},
		{"bad references", "providers:\n  o:\n    type: openai\n    api_keys: ['secret://', 'env://1X', 'vault://x', 'secret://a b', '']\n", nil,
			[]want{
				{"w.yaml:4:16", "providers.o.api_keys[0]", "a secret name is 1 to 128"},
				{"w.yaml:4:29", "providers.o.api_keys[1]", "an environment variable name is"},
				{"w.yaml:4:41", "providers.o.api_keys[2]", "the scheme must be secret:// or env://"},
				{"w.yaml:4:54", "providers.o.api_keys[3]", "a secret name is 1 to 128"},
				{"w.yaml:4:70", "providers.o.api_keys[4]", "must not be empty"},
			}},
		{"duplicate api_keys", "providers:\n  o:\n    type: openai\n    api_keys: [secret://a, env://A, secret://a]\n", nil,
			[]want{{"w.yaml:4:37", "providers.o.api_keys[2]", "same reference as api_keys[0]"}}},
		{"api_key and api_keys", "providers:\n  o:\n    type: openai\n    api_key: secret://a\n    api_keys: [secret://b]\n", nil,
			[]want{{"w.yaml:5:15", "providers.o.api_keys", "cannot be combined with api_key"}}},
		{"env ref to warden variable", "providers:\n  o:\n    type: openai\n    api_key: env://WARDEN_MASTER_KEY\n", nil,
			[]want{{"w.yaml:4:14", "providers.o.api_key", "cannot name a WARDEN_* variable"}}},
		{"base url forms", `providers:
  a: {type: http, base_url: 'ftp://x'}
  b: {type: http, base_url: '/v1'}
  c: {type: http, base_url: 'https://u:p@x.example'}
  d: {type: http, base_url: 'https://x.example/v1?key=1'}
  e: {type: http, base_url: 'https://x.example/v1#frag'}
  f: {type: http, base_url: 'http://x.example/v1'}
  g: {type: http, base_url: 'https://x.example:0'}
  h: {type: http, base_url: "https://x.example/%zz"}
  ok1: {type: http, base_url: 'http://localhost:9000'}
  ok2: {type: http, base_url: 'http://127.0.0.2/v1'}
  ok3: {type: http, base_url: 'http://[::1]:1/v1'}
  ok4: {type: http, base_url: 'http://10.0.0.1', allow_insecure_http: true}
`, nil,
			[]want{
				{"w.yaml:2:29", "providers.a.base_url", "must be an absolute http or https URL"},
				{"w.yaml:3:29", "providers.b.base_url", "must be an absolute http or https URL"},
				{"w.yaml:4:29", "providers.c.base_url", "credentials in a URL are refused"},
				{"w.yaml:5:29", "providers.d.base_url", "must not have a query"},
				{"w.yaml:6:29", "providers.e.base_url", "must not have a fragment"},
				{"w.yaml:7:29", "providers.f.base_url", "must use https; plain http is allowed only for loopback hosts"},
				{"w.yaml:8:29", "providers.g.base_url", "the port must be a number from 1 to 65535"},
				{"w.yaml:9:29", "providers.h.base_url", "must be an absolute http or https URL"},
			}},
		{"bad names", "providers:\n  'bad name':\n    type: http\n    base_url: http://localhost\nmodels:\n  '-x':\n    provider: p\n", nil,
			[]want{
				{"w.yaml:2:3", "providers.<name not shown>", "a provider name is 1 to 64"},
				{"w.yaml:6:3", "models.<name not shown>", "a model name is 1 to 128"},
			}},
		{"model provider", "providers:\n  p: {type: http, base_url: 'http://localhost'}\nmodels:\n  a: {provider: q}\n  b: {upstream_model: x}\n  c:\n    provider: p\n    upstream_model: \"x\\ny\"\n", nil,
			[]want{
				{"w.yaml:4:17", "models.a.provider", "must name a configured provider; configured: p"},
				{"w.yaml:5:3", "models.b.provider", "is required: the name of an entry under providers"},
				{"w.yaml:8:21", "models.c.upstream_model", "must not contain control characters"},
			}},
		{"model without providers", "models:\n  a: {provider: q}\n", nil,
			[]want{{"w.yaml:2:17", "models.a.provider", "no providers are configured"}}},
		{"key-shaped values anywhere", "data_dir: /x/sk-abcdefghijklmnop1234\nlog:\n  level: hf_abcdefghijklmnopqrstu\n", nil,
			[]want{
				{"w.yaml:1:11", "data_dir", `this looks like an API key, and keys must not be written in the config; store it with "warden secrets set NAME"`},
				{"w.yaml:3:10", "log.level", "this looks like an API key"},
			}},
		{"words containing sk- are not keys", "data_dir: /home/me/task-runner-data-directory\n", nil, nil},
		{"secret ref naming a key", "providers:\n  o:\n    type: openai\n    api_key: secret://sk-proj-abcdefghijklmnopqrstuvwx\n", nil,
			[]want{{"w.yaml:4:14", "providers.o.api_key", "literal keys are not allowed"}}},
		{"env value validated with env source", "", []string{"WARDEN_SERVER_READ_TIMEOUT=-1s", "WARDEN_SERVER_MAX_HEADER_BYTES=1"},
			[]want{
				{"WARDEN_SERVER_READ_TIMEOUT", "server.read_timeout", "must be longer than 0"},
				{"WARDEN_SERVER_MAX_HEADER_BYTES", "server.max_header_bytes", "from 4096"},
			}},
		{"many problems at once", "server:\n  addr: x\n  read_timeout: 0s\nlog:\n  level: loud\n", []string{"WARDEN_LOG_FORMAT=yaml"},
			[]want{
				{"w.yaml:2:9", "server.addr", "host:port"},
				{"w.yaml:3:17", "server.read_timeout", "longer than 0"},
				{"w.yaml:5:10", "log.level", "must be one of"},
				{"WARDEN_LOG_FORMAT", "log.format", "must be json"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(f, []byte(tc.yaml), tc.env)
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

func TestTypeErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		wants      []want
	}{
		{"duration", "server:\n  read_timeout: 30\n", []want{{"w.yaml:2:17", "server.read_timeout", "must be a duration like 30s"}}},
		{"duration list", "server:\n  read_timeout: [1s]\n", []want{{"w.yaml:2:17", "server.read_timeout", "must be a duration"}}},
		{"integer quoted", "server:\n  max_header_bytes: '65536'\n", []want{{"w.yaml:2:21", "server.max_header_bytes", "must be an integer number of bytes, like 65536 (without quotes), not text"}}},
		{"integer float", "server:\n  max_body_bytes: 1.5\n", []want{{"w.yaml:2:19", "server.max_body_bytes", "must be an integer"}}},
		{"integer overflow", "server:\n  max_body_bytes: 99999999999999999999\n", []want{{"w.yaml:2:19", "server.max_body_bytes", "must be an integer"}}},
		{"integer tag garbage", "server:\n  max_body_bytes: !!int abc\n", []want{{"w.yaml:2:19", "server.max_body_bytes", "must be an integer number of bytes"}}},
		{"int too big for int64", "server:\n  max_body_bytes: 18446744073709551615\n", []want{{"w.yaml:2:19", "server.max_body_bytes", "out of range"}}},
		{"bool", "server:\n  tls:\n    self_signed: yes\n", []want{{"w.yaml:3:18", "server.tls.self_signed", "must be true or false (without quotes), not text"}}},
		{"bool quoted", "server:\n  tls:\n    self_signed: 'true'\n", []want{{"w.yaml:3:18", "server.tls.self_signed", "must be true or false"}}},
		{"string given bool", "data_dir: true\n", []want{{"w.yaml:1:11", "data_dir", "must be text; put true/false in quotes"}}},
		{"string given mapping", "data_dir: {a: b}\n", []want{{"w.yaml:1:11", "data_dir", "must be text, not a mapping"}}},
		{"list given scalar", "server:\n  trusted_proxies: 10.0.0.1\n", []want{{"w.yaml:2:20", "server.trusted_proxies", "must be a list"}}},
		{"list with null", "server:\n  trusted_proxies: [~]\n", []want{{"w.yaml:2:21", "server.trusted_proxies[0]", "must be text, not empty"}}},
		{"section given scalar", "server: fast\n", []want{{"w.yaml:1:9", "server", "must be a mapping of settings, not text"}}},
		{"top level list", "- a\n", []want{{"w.yaml:1:1", "", "must be a mapping of top-level settings"}}},
		{"providers given list", "providers: [openai]\n", []want{{"w.yaml:1:12", "providers", "must be a mapping of names to settings, not a list"}}},
		{"custom tag", "data_dir: !path /x\n", []want{{"w.yaml:1:11", "data_dir", "custom YAML tags are not supported"}}},
		{"non-scalar key", "server:\n  ? [a]\n  : 1\n", []want{{"w.yaml:2:5", "server", "keys must be plain names, not a list"}}},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", []want{{"w.yaml:3:3", "log.level", "set twice (first at line 2)"}}},
		{"duplicate provider", "providers:\n  a: {type: http, base_url: 'http://localhost'}\n  a: {type: http}\n", []want{{"w.yaml:3:3", "providers.a", "set twice (first at line 2)"}}},
		{"several documents", "log: {level: info}\n---\nlog: {level: debug}\n", []want{{"w.yaml:2:1", "", "more than one YAML document"}}},
		{"syntax", "server:\n  addr: [\n", []want{{"w.yaml:2", "", "invalid YAML: did not find expected node content"}}},
		{"unknown anchor", "data_dir: *nowhere\n", []want{{"w.yaml", "", "invalid YAML: an alias (*name) refers to an anchor (&name) that is not defined before it"}}},
		{"tab indentation", "server:\n\taddr: x\n", []want{{"w.yaml:2", "", "invalid YAML: found character that cannot start any token"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tc.yaml), nil)
			checkProblems(t, err, tc.wants)
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	yaml := `data_dir: ./d
serverr:
  addr: x
server:
  adr: ':1'
  tls:
    certfile: c.pem
    min_version: "1.2"
log:
  colour: true
providers:
  openai:
    type: openai
    apikey: secret://openai
    api_key: secret://openai
models:
  gpt:
    provider: openai
    upstream: gpt-4o
    whatever_this_is: 1
`
	_, err := Parse("w.yaml", []byte(yaml), nil)
	checkProblems(t, err, []want{
		{"w.yaml:2:1", "serverr", "unknown key (did you mean server?); allowed here: alerts, audit, auth, budgets, data_dir, guardrails, keys, limits, log, metrics, models, pricing, providers, routing, server"},
		{"w.yaml:5:3", "server.adr", "unknown key (did you mean addr?)"},
		{"w.yaml:7:5", "server.tls.certfile", "unknown key (did you mean cert_file?); allowed here: cert_file, key_file, min_version, self_signed"},
		{"w.yaml:10:3", "log.colour", "unknown key; allowed here: format, level"},
		{"w.yaml:14:5", "providers.openai.apikey", "unknown key (did you mean api_key?)"},
		{"w.yaml:19:5", "models.gpt.upstream", "unknown key; allowed here: deployments, fallbacks, provider, upstream_model"},
		{"w.yaml:20:5", "models.gpt.whatever_this_is", "unknown key; allowed here: deployments, fallbacks, provider, upstream_model"},
	})
}

func TestMergeKeys(t *testing.T) {
	yaml := `providers:
  base: &base
    type: openai
    base_url: https://proxy.example/v1
    api_key: secret://base
  a:
    <<: *base
    api_key: secret://a
  b:
    <<: [*base]
models:
  m: {provider: a}
`
	cfg, err := Parse("w.yaml", []byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Providers["a"]; got.APIKey != "secret://a" || got.BaseURL != "https://proxy.example/v1" || got.Type != "openai" {
		t.Errorf("merge with override: got %+v", got)
	}
	if got := cfg.Providers["b"]; got.APIKey != "secret://base" {
		t.Errorf("merge from list: got %+v", got)
	}
	for _, bad := range []string{
		"server: &s\n  <<: *s\n",
		"server:\n  <<: 5\n",
		"server:\n  <<: [[a]]\n",
	} {
		if _, err := Parse("w.yaml", []byte(bad), nil); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	file := "data_dir: /file\nserver:\n  addr: 127.0.0.1:9000\n  read_timeout: 5s\n  trusted_proxies: [10.0.0.1]\nlog:\n  level: warn\n"
	env := []string{
		"WARDEN_DATA_DIR=/env",
		"WARDEN_SERVER_ADDR=:7000",
		"WARDEN_SERVER_ADDR=:7001", // the first occurrence wins, as with os.Getenv
		"WARDEN_SERVER_READ_HEADER_TIMEOUT=3s",
		"WARDEN_SERVER_IDLE_TIMEOUT=1m",
		"WARDEN_SERVER_SHUTDOWN_TIMEOUT=0s",
		"WARDEN_SERVER_MAX_HEADER_BYTES=8192",
		"WARDEN_SERVER_MAX_BODY_BYTES=2048",
		"WARDEN_SERVER_TRUSTED_PROXIES= 10.0.0.0/8, ,192.168.0.0/16 ",
		"WARDEN_SERVER_TLS_SELF_SIGNED=true",
		"WARDEN_SERVER_TLS_MIN_VERSION=1.3",
		"WARDEN_LOG_FORMAT=text",
		"WARDEN_LOG_LEVEL=", // empty counts as unset: the file's warn stays
	}
	cfg, err := Parse("w.yaml", []byte(file), env)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Server
	if cfg.DataDir != "/env" || got.Addr != ":7000" || got.ReadHeaderTimeout != 3*time.Second || got.ReadTimeout != 5*time.Second ||
		got.IdleTimeout != time.Minute || got.ShutdownTimeout != 0 || got.MaxHeaderBytes != 8192 || got.MaxBodyBytes != 2048 ||
		!reflect.DeepEqual(got.TrustedProxies, []string{"10.0.0.0/8", "192.168.0.0/16"}) || !got.TLS.SelfSigned ||
		got.TLS.MinVersion != "1.3" || cfg.Log.Level != "warn" || cfg.Log.Format != "text" {
		t.Errorf("env did not override as expected: %+v", cfg)
	}
	// TLS cert and key from the environment, with no file at all.
	cfg, err = Load("", []string{"WARDEN_SERVER_TLS_CERT_FILE=/c.pem", "WARDEN_SERVER_TLS_KEY_FILE=/k.pem"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.TLS.CertFile != "/c.pem" || cfg.Server.TLS.KeyFile != "/k.pem" {
		t.Errorf("TLS from env: %+v", cfg.Server.TLS)
	}
	// An env override fixes an invalid file value for validation, but a file
	// value of the wrong type is still reported: the file is wrong either way.
	_, err = Parse("w.yaml", []byte("server:\n  addr: nope\n  read_timeout: soon\n"),
		[]string{"WARDEN_SERVER_ADDR=:1", "WARDEN_SERVER_READ_TIMEOUT=1s"})
	checkProblems(t, err, []want{{"w.yaml:3:17", "server.read_timeout", "must be a duration"}})
}

func TestEnvTypeErrors(t *testing.T) {
	_, err := Parse("", nil, []string{
		"WARDEN_SERVER_READ_TIMEOUT=30",
		"WARDEN_SERVER_MAX_HEADER_BYTES=64k",
		"WARDEN_SERVER_MAX_BODY_BYTES=99999999999999999999",
		"WARDEN_SERVER_TLS_SELF_SIGNED=yes",
		"WARDEN_SERVER_TRUSTED_PROXIES=10.0.0.1,nonsense",
	})
	checkProblems(t, err, []want{
		{"WARDEN_SERVER_READ_TIMEOUT", "server.read_timeout", "must be a duration like 30s"},
		{"WARDEN_SERVER_MAX_HEADER_BYTES", "server.max_header_bytes", "must be an integer"},
		{"WARDEN_SERVER_MAX_BODY_BYTES", "server.max_body_bytes", "out of range"},
		{"WARDEN_SERVER_TLS_SELF_SIGNED", "server.tls.self_signed", "must be true or false"},
		{"WARDEN_SERVER_TRUSTED_PROXIES", "server.trusted_proxies[1]", "not an IP address or CIDR prefix"},
	})
}

func TestUnknownEnv(t *testing.T) {
	cases := []struct{ name, suggestion string }{
		{"WARDEN_SERVR_ADDR", "WARDEN_SERVER_ADDR"},
		{"WARDEN_DATADIR", "WARDEN_DATA_DIR"},
		{"WARDEN_LOG_LEVL", "WARDEN_LOG_LEVEL"},
		{"WARDEN_SERVER_TLS_CERT", "WARDEN_SERVER_TLS_CERT_FILE"},
		{"WARDEN_server_addr", "WARDEN_SERVER_ADDR"},
		{"WARDEN_SERVER_TRUSTED_PROXY", "WARDEN_SERVER_TRUSTED_PROXIES"},
		{"WARDEN_PROVIDERS_OPENAI_API_KEY", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", []string{tc.name + "=1"})
			probs := problemsOf(t, err)
			if len(probs) != 1 || probs[0].Source != tc.name || probs[0].Field != "" ||
				!strings.HasPrefix(probs[0].Message, "unknown setting; did you mean WARDEN_") {
				t.Fatalf("got %v", probs)
			}
			if tc.suggestion != "" && !strings.Contains(probs[0].Message, "did you mean "+tc.suggestion+"?") {
				t.Errorf("got %q, want a suggestion of %s", probs[0].Message, tc.suggestion)
			}
		})
	}
	for _, name := range []string{"WARDEN_CONFIG", "WARDEN_MASTER_KEY", "WARDEN_MASTER_KEY_FILE", "WARDEN_PASSPHRASE",
		"WARDEN_NEW_MASTER_KEY", "WARDEN_NEW_MASTER_KEY_FILE", "WARDEN_NEW_PASSPHRASE", "WARDEN_KEY", "WARDEN_TEST_X", "WARDEN_TEST_"} {
		if _, err := Load("", []string{name + "=whatever"}); err != nil {
			t.Errorf("%s must be ignored: %v", name, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	good := map[string]Ref{
		"secret://openai":                      {"secret", "openai"},
		"secret://a.b-c_D9":                    {"secret", "a.b-c_D9"},
		"env://OPENAI_API_KEY":                 {"env", "OPENAI_API_KEY"},
		"env://_x":                             {"env", "_x"},
		"secret://" + strings.Repeat("a", 128): {"secret", strings.Repeat("a", 128)},
	}
	for s, wantRef := range good {
		r, err := ParseRef(s)
		if err != nil || r != wantRef || r.String() != s {
			t.Errorf("ParseRef(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "openai", "secret://", "secret:openai", "Secret://x", "env://", "env://9X", "env://A-B",
		"file://x", "secret://a/b", "secret://" + strings.Repeat("a", 129), "secret://a b", "://x"} {
		_, err := ParseRef(s)
		if !errors.Is(err, ErrInvalidRef) {
			t.Errorf("ParseRef(%q): got %v, want ErrInvalidRef", s, err)
		}
	}
}

func TestTrustedPrefixes(t *testing.T) {
	s := Server{TrustedProxies: []string{"10.1.2.3", "10.0.0.1/8", "fd00::/8", "::1", "::ffff:192.168.1.1", "::ffff:10.0.0.0/104", "junk"}}
	got := s.TrustedPrefixes()
	wantP := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.168.1.1/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
	}
	if !reflect.DeepEqual(got, wantP) {
		t.Errorf("got %v, want %v", got, wantP)
	}
	if !got[0].Contains(netip.MustParseAddr("10.1.2.3")) || got[0].Contains(netip.MustParseAddr("10.1.2.4")) {
		t.Error("single address prefix matches wrongly")
	}
}

func TestMinVersionID(t *testing.T) {
	for v, id := range map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13, "": tls.VersionTLS12} {
		if got := (TLS{MinVersion: v}).MinVersionID(); got != id {
			t.Errorf("MinVersionID(%q) = %x, want %x", v, got, id)
		}
	}
}

func TestValidateAfterChange(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "nonsense"
	cfg.Server.TLS.SelfSigned = true
	cfg.Models["x"] = Model{Provider: "missing"}
	checkProblems(t, cfg.Validate(), []want{
		{"", "server.addr", "must be host:port"},
		{"", "server.tls.cert_file", "cannot be combined with self_signed"},
		{"", "models.x.provider", "must name a configured provider; configured: anthropic, azure, classifier, gemini, hf, openai"},
	})
}

func TestRedacted(t *testing.T) {
	cfg, err := Load("testdata/full.yaml", []string{"WARDEN_LOG_LEVEL=error"})
	if err != nil {
		t.Fatal(err)
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
	if !strings.Contains(string(out), "level: error") {
		t.Error("Redacted must show the effective (env) value")
	}

	// A Config changed in code may hold things Validate would refuse;
	// Redacted still must not print them.
	canary := "sk-proj-" + strings.Repeat("Xy7", 15)
	cfg.DataDir = canary
	cfg.Providers["openai"] = Provider{Type: "openai", APIKey: "plain-literal-key", BaseURL: "https://user:" + "pw@api.example/v1?key=q1w2e3#f"}
	cfg.Providers[canary] = Provider{Type: "openai", APIKeys: []string{"secret://ok", canary}}
	cfg.Models["m"] = Model{Provider: canary, UpstreamModel: canary}
	out, err = cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{canary, "plain-literal-key", "pw@", "q1w2e3"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("Redacted output contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "base_url: https://api.example/v1") || !strings.Contains(string(out), "secret://ok") {
		t.Errorf("Redacted dropped more than the secret parts:\n%s", out)
	}
}

func TestLoadErrors(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(big, nil)
	checkProblems(t, err, []want{{big, "", "larger than"}})
}

func TestProblemsError(t *testing.T) {
	p := Problems{
		{Source: "w.yaml:1:2", Field: "server.addr", Message: "bad"},
		{Source: "WARDEN_X", Message: "unknown setting"},
		{Field: "log.level", Message: "worse"},
	}
	wantText := "w.yaml:1:2: server.addr: bad\nWARDEN_X: unknown setting\nlog.level: worse"
	if got := p.Error(); got != wantText {
		t.Errorf("got %q, want %q", got, wantText)
	}
	var err error = p
	var back Problems
	if !errors.As(err, &back) || len(back) != 3 {
		t.Error("errors.As does not recover Problems")
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"addr", "adr", 1}, {"abc", "abc", 0}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

func TestAliasExpansionIsBounded(t *testing.T) {
	// Each level merges the previous one twice: 2^30 expansions if followed
	// naively.
	var dag strings.Builder
	dag.WriteString("anchors:\n  - &m0 {addr: ':1'}\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&dag, "  - &m%d {<<: *m%d, <<: *m%d}\n", i, i-1, i-1)
	}
	dag.WriteString("server:\n  <<: *m30\n")
	_, err := Parse("w.yaml", []byte(dag.String()), nil)
	checkProblems(t, err, []want{{"w.yaml:1:1", "anchors", "unknown key"}})

	// Many references to one large mapping: a "billion laughs" shape.
	var bomb strings.Builder
	bomb.WriteString("models:\n  base: &b\n")
	for i := range 2000 {
		fmt.Fprintf(&bomb, "    k%d: 1\n", i)
	}
	for i := range 2000 {
		fmt.Fprintf(&bomb, "  m%d: *b\n", i)
	}
	_, err = Parse("w.yaml", []byte(bomb.String()), nil)
	probs := problemsOf(t, err)
	if len(probs) > maxProblems+2 {
		t.Errorf("got %d problems, want the list capped", len(probs))
	}
	if !strings.Contains(err.Error(), "aliases (*name) or merge keys (<<) so heavily") {
		t.Errorf("want the expansion stopped, got:\n%v", err)
	}
}

func TestProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	for i := range 3 * maxProblems {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	_, err := Parse("w.yaml", []byte(b.String()), nil)
	probs := problemsOf(t, err)
	if len(probs) != maxProblems+1 || !strings.Contains(probs[maxProblems].Message, "more problems not shown") {
		t.Errorf("got %d problems, last %q", len(probs), probs[len(probs)-1])
	}
}
