package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary files and environments to Parse. Parse must
// not panic; an accepted config must validate again and survive a round
// trip through Redacted; and no error may repeat the canary, which the
// fuzzer can place anywhere by writing CANARY.
func FuzzParse(f *testing.F) {
	full, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		f.Fatal(err)
	}
	// The seed drops full.yaml's comment lines: they add nothing to
	// coverage, and large inputs make the fuzzer's minimization slow.
	var seed []string
	for line := range strings.Lines(string(full)) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			seed = append(seed, line)
		}
	}
	f.Add([]byte(strings.Join(seed, "")), "")
	f.Add([]byte(""), "WARDEN_SERVER_ADDR=:1\nWARDEN_LOG_LEVEL=CANARY")
	f.Add([]byte(""), "WARDEN_ROUTING_MAX_RETRIES=CANARY\nWARDEN_KEYS_POLL_INTERVAL=1s\nWARDEN_ROUTING_BACKOFF_BASE=CANARY")
	for _, seed := range []string{
		"server:\n  read_timeout: CANARY\n",
		"providers:\n  openai:\n    type: openai\n    api_key: CANARY\n",
		"providers:\n  p: {type: http, base_url: 'https://u:CANARY@h/?k=CANARY#CANARY'}\n",
		"CANARY: {CANARY: CANARY}\n",
		"providers:\n  a: &a {type: openai, api_key: secret://a}\n  b: {<<: *a}\nmodels:\n  m: {provider: b}\n",
		"server: &s\n  <<: *s\n",
		"x: &a [*a, *a]\n",
		"server:\n  trusted_proxies: [CANARY, 10.0.0.0/8]\n  max_header_bytes: 0x1000\n",
		"a: 1\n---\nCANARY\n",
		"data_dir: !CANARY x\n",
		"data_dir: *CANARY\n",
		"models:\n  'a/b:c@d': {provider: p, upstream_model: \"\\u0000\"}\nproviders:\n  p: {type: http, base_url: 'http://[::1]:9'}\n",
		"providers:\n  p: {type: http, base_url: 'http://localhost', public: true, headers: {X-A: CANARY, Authorization: b}, timeouts: {total: 1m, connect: 2m}}\n" +
			"models:\n  a: {deployments: [{provider: p, weight: 3}, {provider: p, model: x}], fallbacks: [b]}\n  b: {provider: p, fallbacks: [a]}\n",
		"providers:\n  o: {type: openai, api_key: secret://o, base_url: 'https://r.example', azure_api_version: 2024-10-21}\n" +
			"models:\n  m: {deployments: [~, CANARY, {provider: o, model: CANARY, weight: 0}]}\nrouting: {max_retries: 0, backoff_max: 1s}\nkeys: {poll_interval: 1s}\n",
	} {
		f.Add([]byte(seed), "")
	}
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		data = bytes.ReplaceAll(data, []byte("CANARY"), []byte(canary))
		var environ []string
		if env != "" {
			environ = strings.Split(strings.ReplaceAll(env, "CANARY", canary), "\n")
		}
		cfg, err := Parse("fuzz.yaml", data, environ)
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned a Config with an error")
			}
			if len(problemsOf(t, err)) == 0 {
				t.Fatal("empty Problems")
			}
			assertNoCanary(t, err.Error())
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate refuses:\n%v", err)
		}
		out, err := cfg.Redacted()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse("redacted.yaml", out, nil)
		if err != nil {
			t.Fatalf("Redacted output does not parse back:\n%s\n%v", out, err)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip through Redacted changed the config:\n%#v\n%#v", cfg, back)
		}
	})
}
