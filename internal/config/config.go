// Package config loads Warden's configuration: a YAML file (warden.yaml),
// WARDEN_* environment variables that override it, and built-in defaults.
//
// Precedence, lowest first: Default(), the file, the environment. Only
// data_dir, server.*, log.*, routing.* and keys.* can be set from the
// environment; providers and models are file-only because they are
// structured and because the environment is the wrong place to keep a list
// of upstreams. A variable is
// named WARDEN_ plus the setting's path in upper case with _ for each level
// (WARDEN_SERVER_TLS_CERT_FILE); lists are comma separated; an empty value
// counts as unset. WARDEN_* variables that other parts of Warden read
// (WARDEN_CONFIG, the master key and passphrase variables, WARDEN_KEY,
// WARDEN_TEST_*) are ignored here; any other unknown WARDEN_* name is an
// error, since it is most likely a typo that would otherwise be silently
// ignored.
//
// Checking is strict (DESIGN.md, convention 2): unknown keys, wrong types,
// several YAML documents and unknown WARDEN_* variables are errors, and every
// problem is reported at once as a Problems error. Provider credentials are
// only ever references (secret://NAME in the vault, env://VAR in the
// process environment); a literal key is refused. No error message repeats a
// value from the file or the environment, because a value in the wrong place
// may be a credential.
//
// Components do not import this package: main copies plain fields into
// their constructors.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Config is Warden's whole configuration. Load and Parse return it with
// defaults filled in and validated.
type Config struct {
	// DataDir holds the SQLite database and other local state.
	// Default "./warden-data"; env WARDEN_DATA_DIR.
	DataDir string `yaml:"data_dir"`
	// Server configures the HTTP listener shared by both planes.
	Server Server `yaml:"server"`
	// Log configures Warden's own structured log.
	Log Log `yaml:"log"`
	// Providers are the upstream APIs, by name. The name is how models and
	// the CLI refer to a provider, and the suggested vault secret name for
	// its key. Never nil after Default, Load or Parse.
	Providers map[string]Provider `yaml:"providers"`
	// Models maps the model names clients ask for to where they are
	// served. Never nil after Default, Load or Parse.
	Models map[string]Model `yaml:"models"`
	// Routing tunes retries and circuit breakers for the whole gateway.
	Routing Routing `yaml:"routing"`
	// Keys tunes how virtual keys are checked and rotated.
	Keys Keys `yaml:"keys"`
	// Auth configures how people authenticate with tokens.
	Auth Auth `yaml:"auth"`
	// Limits tunes the defences against guessing keys.
	Limits Limits `yaml:"limits"`
	// Budgets tunes how spending limits are enforced.
	Budgets Budgets `yaml:"budgets"`
	// Pricing overrides the embedded price table, per model name. Prices
	// are US dollars per million tokens. Never nil after Default, Load or
	// Parse.
	Pricing map[string]Price `yaml:"pricing"`
	// Guardrails decide what happens to personal data, secrets and prompt
	// injection in requests and answers.
	Guardrails Guardrails `yaml:"guardrails"`
	// Metrics configures the Prometheus endpoint.
	Metrics Metrics `yaml:"metrics"`
	// Alerts configures anomaly responses and alert delivery.
	Alerts Alerts `yaml:"alerts"`
	// Audit configures the tamper-evident audit log.
	Audit Audit `yaml:"audit"`
}

// Audit configures the audit log.
type Audit struct {
	// QueuePolicy is what happens when records arrive faster than they
	// are written and the queue is full: block (the default; the request
	// waits, and is refused with 503 if room does not come) or drop (the
	// record is counted, logged and alerted on).
	QueuePolicy string `yaml:"queue_policy"`
	// QueueSize bounds the records waiting to be written: 100 to 1000000,
	// default 10000.
	QueueSize int `yaml:"queue_size"`
	// Retention is how long records are kept; warden audit prune removes
	// older ones up to a signed checkpoint. Default 90d.
	Retention time.Duration `yaml:"retention"`
	// Payloads stores each call's prompt as it went upstream, after the
	// guardrails' redaction (never before), up to 64 KiB. Default false.
	Payloads bool `yaml:"payloads"`
}

// Alerts configures what happens when the anomaly detector sees misuse.
type Alerts struct {
	// Webhooks receive every alert as JSON signed with HMAC-SHA256 (see
	// docs/monitoring.md), or as a Slack-compatible message.
	Webhooks []Webhook `yaml:"webhooks"`
	// Responses maps a rule (request_spike, token_spike, cost_spike,
	// error_spike, new_ip_range, new_user_agent, guard_blocks,
	// injection_attempts, off_hours, ...) to alert (the default) or
	// suspend, which suspends the key until an admin resumes it. Never nil
	// after Default, Load or Parse.
	Responses map[string]string `yaml:"responses"`
}

// Webhook is one alert receiver.
type Webhook struct {
	// URL must be https, or http to a loopback address.
	URL string `yaml:"url"`
	// Secret signs the body: a reference, env://VAR or secret://NAME.
	Secret string `yaml:"secret"`
	// Format is json (default) or slack.
	Format string `yaml:"format"`
}

// Metrics configures /metrics on the main listener.
type Metrics struct {
	// Enabled serves /metrics. Default true.
	Enabled bool `yaml:"enabled"`
	// Token, if set, is required as "Authorization: Bearer <token>". It
	// is a reference like provider keys: env://VAR or secret://NAME.
	Token string `yaml:"token"`
	// Addr, if set, serves /metrics on a listener of its own (host:port)
	// instead of the main one.
	Addr string `yaml:"addr"`
}

// Guard actions, from least to most intrusive.
var guardActions = []string{"allow", "flag", "mask", "redact", "pseudonymize", "block"}

// Guardrails configures the input and output guards. The top level is the
// default; Models, Teams and Keys override it for calls to a model, from
// a team or with a key (a key's override beats its team's, which beats
// the model's).
type Guardrails struct {
	// PII, Secrets, Injection and Output are the defaults; see
	// GuardPolicy.
	PII       GuardClass     `yaml:"pii"`
	Secrets   GuardClass     `yaml:"secrets"`
	Injection GuardInjection `yaml:"injection"`
	Output    GuardOutput    `yaml:"output"`
	// Validation bounds requests before anything else looks at them.
	Validation Validation `yaml:"validation"`
	// Models, Teams and Keys hold overrides by model name, team name and
	// key id. Never nil after Default, Load or Parse.
	Models map[string]GuardPolicy `yaml:"models"`
	Teams  map[string]GuardPolicy `yaml:"teams"`
	Keys   map[string]GuardPolicy `yaml:"keys"`
}

// Defaults returns the top-level policy.
func (g Guardrails) Defaults() GuardPolicy {
	return GuardPolicy{PII: g.PII, Secrets: g.Secrets, Injection: g.Injection, Output: g.Output}
}

// GuardPolicy says what to do with each class of finding. Empty fields
// keep the value of the level above.
type GuardPolicy struct {
	// PII is personal data in prompts: email, phone, us_ssn, credit_card,
	// iban, ipv4, ipv6, date_of_birth. Default redact.
	PII GuardClass `yaml:"pii"`
	// Secrets are keys and credentials in prompts. Default block.
	Secrets GuardClass `yaml:"secrets"`
	// Injection is the prompt-injection score. Default flag at 0.8.
	Injection GuardInjection `yaml:"injection"`
	// Output is what to do with findings in answers. Default: secrets
	// redacted, personal data flagged.
	Output GuardOutput `yaml:"output"`
}

// GuardClass is the action for one class of finding, with exceptions by
// type (e.g. types: {email: allow}).
type GuardClass struct {
	// Action is allow, flag, mask, redact, pseudonymize or block.
	Action string            `yaml:"action"`
	Types  map[string]string `yaml:"types"`
}

// GuardInjection is the prompt-injection check.
type GuardInjection struct {
	// Action is allow, flag or block.
	Action string `yaml:"action"`
	// Threshold is the score, 0 to 1, from which a prompt counts as an
	// injection. Default 0.8.
	Threshold float64 `yaml:"threshold"`
}

// GuardOutput is the action per class on answers. Pseudonyms placed in
// the prompt are always restored in the answer.
type GuardOutput struct {
	PII     GuardClass `yaml:"pii"`
	Secrets GuardClass `yaml:"secrets"`
}

// Validation bounds requests. Zero means no bound.
type Validation struct {
	// MaxMessages bounds the messages of a chat or messages request.
	MaxMessages int `yaml:"max_messages"`
	// MaxChars bounds the characters of all prompt text together.
	MaxChars int `yaml:"max_chars"`
	// MaxTokens bounds max_tokens and its variants.
	MaxTokens int `yaml:"max_tokens"`
}

// Auth configures authentication of people (virtual keys need none).
type Auth struct {
	// OIDC accepts bearer tokens from an OpenID Connect issuer. Off while
	// Issuer is empty.
	OIDC OIDC `yaml:"oidc"`
}

// OIDC configures bearer tokens from an OpenID Connect issuer.
type OIDC struct {
	// Issuer is the issuer URL; its discovery document and keys are
	// fetched from it. It must be https (http only for loopback hosts).
	Issuer string `yaml:"issuer"`
	// Audience is the "aud" a token must carry for Warden. Required with
	// Issuer.
	Audience string `yaml:"audience"`
	// RoleClaim names the claim holding the caller's role or roles
	// (admin, manager, user, auditor). Default "roles".
	RoleClaim string `yaml:"role_claim"`
	// TeamClaim names the claim holding the caller's team. Default "team".
	TeamClaim string `yaml:"team_claim"`
	// UserClaim names the claim identifying the caller. Default "email";
	// tokens without it fall back to "sub".
	UserClaim string `yaml:"user_claim"`
	// DefaultRole is the role of a token whose claim names no known role.
	// Default "user".
	DefaultRole string `yaml:"default_role"`
	// AllowedModels are the models people with tokens may call (names or
	// globs); empty means every model.
	AllowedModels []string `yaml:"allowed_models"`
	// Leeway is the clock skew allowed on exp, nbf and iat: 0 to 5m,
	// default 60s.
	Leeway time.Duration `yaml:"leeway"`
}

// Limits tunes Warden's own defences. Per-key, per-user and per-team
// request and token limits are set on those, not here.
type Limits struct {
	// AuthFailures slows down, then blocks, an address that keeps
	// presenting bad credentials. Blocks are per address, never per key,
	// so an attacker cannot lock a legitimate key out.
	AuthFailures AuthFailures `yaml:"auth_failures"`
}

// AuthFailures configures the failed-authentication throttle.
type AuthFailures struct {
	// SlowAfter failures within Window, answers to that address are
	// delayed, more with each failure, up to MaxDelay. Default 5.
	SlowAfter int `yaml:"slow_after"`
	// BlockAfter failures within Window, the address is refused for
	// BlockFor. Default 20; 0 turns blocking off.
	BlockAfter int `yaml:"block_after"`
	// Window is how long a failure counts. Default 1m.
	Window time.Duration `yaml:"window"`
	// BlockFor is how long a block lasts. Default 5m.
	BlockFor time.Duration `yaml:"block_for"`
	// MaxDelay caps the slow-down. Default 2s.
	MaxDelay time.Duration `yaml:"max_delay"`
}

// Budgets tunes budget enforcement.
type Budgets struct {
	// ReservationTTL is how long the estimated cost of a call in flight
	// counts against budgets if the call never settles (the process
	// died). At least the longest call; default 15m.
	ReservationTTL time.Duration `yaml:"reservation_ttl"`
}

// Price overrides one model's prices, in US dollars. Fields left out keep
// the embedded table's value; a model missing from the table needs at
// least the input and output prices.
type Price struct {
	InputCostPerMTok       string `yaml:"input_cost_per_mtok"`
	OutputCostPerMTok      string `yaml:"output_cost_per_mtok"`
	CachedInputCostPerMTok string `yaml:"cached_input_cost_per_mtok"`
	CacheWriteCostPerMTok  string `yaml:"cache_write_cost_per_mtok"`
}

// Server configures the HTTP server.
type Server struct {
	// Addr is the listen address, host:port. An empty host listens on all
	// interfaces; port 0 picks a free port. Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// ReadHeaderTimeout bounds reading request headers (slowloris).
	// Default 10s; must be > 0.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	// Default 60s; must be > 0.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout bounds keep-alive connections waiting for the next
	// request. Default 120s; must be > 0 (net/http would otherwise fall
	// back to ReadTimeout, which surprises people).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long a graceful shutdown waits for in-flight
	// requests. Default 30s. Zero is allowed and means "do not wait": close
	// connections at once, which is what some orchestrators want when they
	// already drained traffic.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxHeaderBytes caps request header size. Default 64 KiB; allowed
	// 4 KiB to 1 MiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes caps request body size. Default 32 MiB (audio uploads to
	// OpenAI go up to 25 MB); allowed 1 KiB to 1 GiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TrustedProxies are the peers (IP addresses or CIDR prefixes) whose
	// X-Forwarded-For header is believed. Empty by default: the client IP is
	// the connection's. Env WARDEN_SERVER_TRUSTED_PROXIES, comma separated.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLS configures HTTPS on the listener.
	TLS TLS `yaml:"tls"`
}

// TLS configures HTTPS. With none of cert_file, key_file and self_signed
// set, the server speaks plain HTTP.
type TLS struct {
	// CertFile is a PEM certificate chain; set together with KeyFile.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key for CertFile.
	KeyFile string `yaml:"key_file"`
	// SelfSigned makes Warden generate a throwaway certificate at start.
	// It cannot be combined with CertFile/KeyFile.
	SelfSigned bool `yaml:"self_signed"`
	// MinVersion is the lowest TLS version accepted: "1.2" (default) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
}

// MinVersionID returns MinVersion as a crypto/tls constant. Anything other
// than "1.3" gives TLS 1.2, the default and the lowest Warden will speak.
func (t TLS) MinVersionID() uint16 {
	if t.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// Log configures Warden's log output.
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// Provider is one upstream API and how to authenticate to it.
type Provider struct {
	// Type selects the adapter: openai, anthropic, huggingface, google or
	// http (a generic or self-hosted server).
	Type string `yaml:"type"`
	// BaseURL is where requests go: an absolute http(s) URL without
	// credentials or query. https is required unless the host is loopback
	// or AllowInsecureHTTP is set. Required for type http; for the other
	// types empty means the adapter's public endpoint.
	BaseURL string `yaml:"base_url,omitempty"`
	// APIKey is a credential reference, secret://NAME or env://VAR. Required
	// (or APIKeys) for every type but http.
	APIKey string `yaml:"api_key,omitempty"`
	// APIKeys are several credential references for the same provider,
	// spread across by the router. Exclusive with APIKey.
	APIKeys []string `yaml:"api_keys,omitempty"`
	// AllowInsecureHTTP permits a plain-http BaseURL on a non-loopback host,
	// e.g. a model server on a private network.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty"`
	// Headers are static extra headers sent upstream with every request,
	// such as OpenAI-Organization or anthropic-beta. They are sent as
	// written: credentials do not belong here (headers that carry them are
	// refused) but in APIKey, where they are references into the vault.
	Headers map[string]string `yaml:"headers,omitempty"`
	// AzureAPIVersion marks an openai-type provider as Azure OpenAI and is
	// sent as its api-version, e.g. "2024-10-21". BaseURL is then required:
	// the resource's endpoint.
	AzureAPIVersion string `yaml:"azure_api_version,omitempty"`
	// Public opens /proxy/NAME/... to callers without a Warden key. Only
	// for type http, never together with an API key (anyone could then
	// spend it), and off by default: a public route has no per-key limits,
	// budget or owner in the audit log.
	Public bool `yaml:"public,omitempty"`
	// Timeouts bound upstream calls to this provider; zero fields take the
	// gateway's defaults.
	Timeouts Timeouts `yaml:"timeouts,omitempty"`
}

// MaxProviderTimeout bounds every field of Timeouts: a longer upstream wait
// is a stuck connection, not a slow model.
const MaxProviderTimeout = time.Hour

// Timeouts bound the phases of one upstream call. Each is optional: 0
// means the gateway's default; set, it must be from 1ns to
// MaxProviderTimeout.
type Timeouts struct {
	// Connect bounds dialing and the TLS handshake.
	Connect time.Duration `yaml:"connect,omitempty"`
	// FirstByte bounds the wait for the response headers after the request
	// was sent: how long a model may think before answering.
	FirstByte time.Duration `yaml:"first_byte,omitempty"`
	// Total bounds the whole call, body included.
	Total time.Duration `yaml:"total,omitempty"`
	// StreamIdle bounds the gap between two chunks of a streamed response,
	// so a stalled stream is cut without limiting a long healthy one.
	StreamIdle time.Duration `yaml:"stream_idle,omitempty"`
}

// Model says where a client-facing model name is served: either one
// provider (Provider and UpstreamModel, the shorthand) or a list of
// Deployments, plus the models to fall back to when all of them fail.
type Model struct {
	// Provider names an entry of Config.Providers. Exclusive with
	// Deployments.
	Provider string `yaml:"provider,omitempty"`
	// UpstreamModel is the model name sent to the provider. Defaults to the
	// model's own name. Only with Provider.
	UpstreamModel string `yaml:"upstream_model,omitempty"`
	// Deployments are several places the model is served, picked by
	// weight. Exclusive with Provider/UpstreamModel.
	Deployments []Deployment `yaml:"deployments,omitempty"`
	// Fallbacks are other model names tried in order once every deployment
	// of this one failed. They must exist and must not lead back to this
	// model.
	Fallbacks []string `yaml:"fallbacks,omitempty"`
}

// MaxWeight bounds Deployment.Weight.
const MaxWeight = 1000

// Deployment is one place a model is served.
type Deployment struct {
	// Provider names an entry of Config.Providers.
	Provider string `yaml:"provider"`
	// Model is the model name sent upstream (for Azure OpenAI, the
	// deployment name). Defaults to the public model name.
	Model string `yaml:"model"`
	// Weight is this deployment's share of requests relative to the
	// model's other deployments: 1 to MaxWeight, default 1.
	Weight int `yaml:"weight"`
}

// Resolved returns the model's deployments with defaults filled in: the
// shorthand {provider, upstream_model} becomes one deployment, an empty
// upstream name becomes name (the public model name) and a zero weight 1.
// The result is a fresh slice; nil if the model names no provider at all.
func (m Model) Resolved(name string) []Deployment {
	if len(m.Deployments) == 0 {
		if m.Provider == "" {
			return nil
		}
		up := m.UpstreamModel
		if up == "" {
			up = name
		}
		return []Deployment{{Provider: m.Provider, Model: up, Weight: 1}}
	}
	out := make([]Deployment, len(m.Deployments))
	for i, d := range m.Deployments {
		if d.Model == "" {
			d.Model = name
		}
		if d.Weight == 0 {
			d.Weight = 1
		}
		out[i] = d
	}
	return out
}

// Routing tunes how the gateway retries a failed upstream call and keeps
// away from a failing deployment. Every field has a default; the
// environment can set them as WARDEN_ROUTING_*.
type Routing struct {
	// MaxRetries is how often a failed call is repeated on the same
	// deployment before the next one is tried: 0 to 10, default 2.
	MaxRetries int `yaml:"max_retries"`
	// BackoffBase is the first retry's delay ceiling; it doubles per retry
	// up to BackoffMax, with full jitter. Default 200ms.
	BackoffBase time.Duration `yaml:"backoff_base"`
	// BackoffMax caps one backoff delay. Default 5s; at least BackoffBase.
	BackoffMax time.Duration `yaml:"backoff_max"`
	// MaxTotal bounds the retrying and failing over of one request: no new
	// attempt starts after it. Default 60s.
	MaxTotal time.Duration `yaml:"max_total"`
	// BreakerFailures is how many consecutive failures of a deployment open
	// its circuit breaker: 1 to 1000, default 5.
	BreakerFailures int `yaml:"breaker_failures"`
	// BreakerCooldown is how long an open breaker keeps traffic away
	// before one trial call is let through. Default 30s.
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
}

// Keys tunes virtual keys. The environment can set it as WARDEN_KEYS_*.
type Keys struct {
	// PollInterval is how often a running server looks for revoked,
	// suspended or changed keys in the store, so it bounds how long a
	// revocation takes to reach it: 50ms to 5s, default 250ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// RotateGrace is how long the old key keeps working after a rotation,
	// so clients can switch over: 0 (stops at once) to 720h, default 1h.
	RotateGrace time.Duration `yaml:"rotate_grace"`
}

// Provider types Warden has adapters for.
var providerTypes = []string{"openai", "anthropic", "huggingface", "google", "http"}

// Default returns the configuration used when nothing is configured:
// loopback HTTP on 127.0.0.1:8080, data in ./warden-data, JSON logs at
// info, no providers, the routing and key defaults documented on Routing
// and Keys. It is valid as it stands, so `warden serve` works with no
// file.
func Default() *Config {
	return &Config{
		DataDir: "./warden-data",
		Server: Server{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   30 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      32 << 20,
			TLS:               TLS{MinVersion: "1.2"},
		},
		Log:       Log{Level: "info", Format: "json"},
		Providers: map[string]Provider{},
		Models:    map[string]Model{},
		Routing: Routing{
			MaxRetries:      2,
			BackoffBase:     200 * time.Millisecond,
			BackoffMax:      5 * time.Second,
			MaxTotal:        60 * time.Second,
			BreakerFailures: 5,
			BreakerCooldown: 30 * time.Second,
		},
		Keys: Keys{PollInterval: 250 * time.Millisecond, RotateGrace: time.Hour},
		Auth: Auth{OIDC: OIDC{RoleClaim: "roles", TeamClaim: "team", UserClaim: "email", DefaultRole: "user", Leeway: time.Minute}},
		Limits: Limits{AuthFailures: AuthFailures{
			SlowAfter: 5, BlockAfter: 20, Window: time.Minute, BlockFor: 5 * time.Minute, MaxDelay: 2 * time.Second,
		}},
		Budgets: Budgets{ReservationTTL: 15 * time.Minute},
		Pricing: map[string]Price{},
		Metrics: Metrics{Enabled: true},
		Alerts:  Alerts{Responses: map[string]string{}},
		Audit:   Audit{QueuePolicy: "block", QueueSize: 10000, Retention: 90 * 24 * time.Hour},
		Guardrails: Guardrails{
			PII:       GuardClass{Action: "redact"},
			Secrets:   GuardClass{Action: "block"},
			Injection: GuardInjection{Action: "flag", Threshold: 0.8},
			Output:    GuardOutput{PII: GuardClass{Action: "flag"}, Secrets: GuardClass{Action: "redact"}},
			Models:    map[string]GuardPolicy{},
			Teams:     map[string]GuardPolicy{},
			Keys:      map[string]GuardPolicy{},
		},
	}
}

// TrustedPrefixes returns TrustedProxies parsed as prefixes; a bare address
// becomes a single-address prefix, host bits are masked off and
// IPv4-mapped IPv6 forms are turned into plain IPv4, so that a match against
// a connection's (unmapped) peer address works. It parses on every call
// rather than caching, so it cannot go stale when main edits
// TrustedProxies; entries that do not parse are skipped, which only happens
// on a Config that did not pass Validate.
func (s Server) TrustedPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.TrustedProxies))
	for _, p := range s.TrustedProxies {
		if pfx, err := parseProxy(p); err == nil {
			out = append(out, pfx)
		}
	}
	return out
}

// errZone is returned for addresses with an IPv6 zone, which cannot be
// matched against a peer address reliably.
var errZone = errors.New("IPv6 zones are not allowed")

// parseProxy parses one trusted_proxies entry. Its errors say what is
// wrong without quoting the entry.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if strings.Contains(s, "%") {
				return netip.Prefix{}, errZone
			}
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		pfx = p
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not an IP address or CIDR prefix")
		}
		if a.Zone() != "" {
			return netip.Prefix{}, errZone
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() {
		bits := pfx.Bits() - 96
		if bits < 0 {
			return netip.Prefix{}, errors.New("an IPv4-mapped IPv6 prefix must be /96 or longer")
		}
		pfx = netip.PrefixFrom(a.Unmap(), bits)
	}
	return pfx.Masked(), nil
}

// Ref is a parsed credential reference, the only form in which a provider
// key may appear in the configuration.
type Ref struct {
	// Scheme is "secret" (a vault entry) or "env" (a process environment
	// variable).
	Scheme string
	// Name is the vault secret name or the environment variable name.
	Name string
}

// String returns the reference in its written form, scheme://name.
func (r Ref) String() string { return r.Scheme + "://" + r.Name }

// ErrInvalidRef is wrapped by every ParseRef error.
var ErrInvalidRef = errors.New("invalid credential reference")

var (
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)
	envVarRE     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// ParseRef parses secret://NAME (NAME: 1-128 of A-Z a-z 0-9 _ . -) or
// env://VAR (VAR: a letter or underscore, then letters, digits,
// underscores). Errors wrap ErrInvalidRef and never quote s, which may be a
// pasted key.
func ParseRef(s string) (Ref, error) {
	scheme, name, ok := strings.Cut(s, "://")
	if !ok {
		return Ref{}, fmt.Errorf("%w: expected secret://NAME or env://VAR", ErrInvalidRef)
	}
	switch scheme {
	case "secret":
		if !secretNameRE.MatchString(name) {
			return Ref{}, fmt.Errorf("%w: a secret name is 1 to 128 of A-Z a-z 0-9 _ . -", ErrInvalidRef)
		}
	case "env":
		if !envVarRE.MatchString(name) {
			return Ref{}, fmt.Errorf("%w: an environment variable name is a letter or _ followed by letters, digits or _", ErrInvalidRef)
		}
	default:
		return Ref{}, fmt.Errorf("%w: the scheme must be secret:// or env://", ErrInvalidRef)
	}
	return Ref{Scheme: scheme, Name: name}, nil
}
