// Package provider holds Warden's upstream adapters: for each kind of
// provider (OpenAI and Azure OpenAI, Anthropic, Hugging Face, Google, a
// generic HTTP model server) it knows how to build the upstream request
// with the real key in the provider's own header, where a call's token
// usage is reported, and how to relay a streamed answer event by event.
//
// The adapter builds requests and reads responses; it does not send
// anything. The gateway owns the http.Client, the retries and the time
// limits.
package provider

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Op names a data-plane operation.
type Op string

// The operations the gateway routes. OpPassthrough forwards a request to a
// path below the provider's base URL as it is.
const (
	OpChat           Op = "chat.completions"
	OpCompletions    Op = "completions"
	OpEmbeddings     Op = "embeddings"
	OpResponses      Op = "responses"
	OpImages         Op = "images.generations"
	OpTranscriptions Op = "audio.transcriptions"
	OpSpeech         Op = "audio.speech"
	OpModerations    Op = "moderations"
	OpMessages       Op = "messages"
	OpCountTokens    Op = "messages.count_tokens"
	OpPassthrough    Op = "passthrough"
)

// Types of provider.
const (
	OpenAI      = "openai"
	Anthropic   = "anthropic"
	HuggingFace = "huggingface"
	Google      = "google"
	HTTP        = "http"
)

// AnthropicVersion is sent as anthropic-version when the caller sent none;
// the Messages API refuses requests without it.
const AnthropicVersion = "2023-06-01"

// Config is one configured provider. Its fields are plain: main fills them
// from the configuration.
type Config struct {
	// Name identifies the provider in routes, logs and errors.
	Name string
	// Type is one of the provider type constants.
	Type string
	// BaseURL is where the provider's API lives, e.g.
	// https://api.openai.com/v1, https://api.anthropic.com,
	// https://api-inference.huggingface.co,
	// https://generativelanguage.googleapis.com or http://127.0.0.1:9000.
	BaseURL string
	// Headers are static extra headers sent upstream. They must not carry
	// credentials (those come from the vault), and they take precedence
	// over the caller's headers of the same name.
	Headers map[string]string
	// AzureAPIVersion, when set, makes an OpenAI provider an Azure OpenAI
	// resource: the key goes in the "api-key" header and operation URLs
	// are {base}/openai/deployments/{model}/{op path}?api-version=...
	AzureAPIVersion string
}

// Adapter shapes requests for one configured provider and reads its
// responses. It is immutable and safe for concurrent use.
type Adapter struct {
	name    string
	typ     string
	base    *url.URL
	baseStr string // base URL without a trailing slash
	headers http.Header
	azure   string
}

// opPaths are the OpenAI API paths below a base URL that ends in /v1.
var opPaths = map[Op]string{
	OpChat:           "/chat/completions",
	OpCompletions:    "/completions",
	OpEmbeddings:     "/embeddings",
	OpResponses:      "/responses",
	OpImages:         "/images/generations",
	OpTranscriptions: "/audio/transcriptions",
	OpSpeech:         "/audio/speech",
	OpModerations:    "/moderations",
}

// azureOps are the operations an Azure OpenAI deployment serves under
// /openai/deployments/{deployment}/. Azure has no moderations endpoint, and
// its Responses API lives elsewhere (/openai/v1/responses, reachable by
// passthrough).
var azureOps = map[Op]bool{
	OpChat: true, OpCompletions: true, OpEmbeddings: true, OpImages: true,
	OpTranscriptions: true, OpSpeech: true,
}

// refusedStaticHeaders may not be configured as static headers: the
// credential headers, because a key in a config file bypasses the vault,
// and the headers the transport or this package must control.
var refusedStaticHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "X-Api-Key": true,
	"Api-Key": true, "X-Goog-Api-Key": true, "Cookie": true,
	"Host": true, "Content-Length": true, "Transfer-Encoding": true,
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Upgrade": true, "Proxy-Connection": true, "Content-Encoding": true,
}

// New validates c and returns its adapter.
func New(c Config) (*Adapter, error) {
	if c.Name == "" {
		return nil, fmt.Errorf("provider: a provider needs a name")
	}
	switch c.Type {
	case OpenAI, Anthropic, HuggingFace, Google, HTTP:
	default:
		return nil, fmt.Errorf("provider %q: unknown type %q; use one of openai, anthropic, huggingface, google, http", c.Name, c.Type)
	}
	base, err := parseBaseURL(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("provider %q: base URL: %w", c.Name, err)
	}
	if c.AzureAPIVersion != "" {
		if c.Type != OpenAI {
			return nil, fmt.Errorf("provider %q: azure_api_version applies only to type openai", c.Name)
		}
		if !isVersion(c.AzureAPIVersion) {
			return nil, fmt.Errorf("provider %q: azure_api_version %q is not a version string like 2024-10-21", c.Name, c.AzureAPIVersion)
		}
	}
	h := make(http.Header, len(c.Headers))
	for k, v := range c.Headers {
		ck := http.CanonicalHeaderKey(k)
		if !isToken(k) {
			return nil, fmt.Errorf("provider %q: header name %q is not valid", c.Name, k)
		}
		if refusedStaticHeaders[ck] {
			return nil, fmt.Errorf("provider %q: header %q cannot be set statically; provider keys come from the vault (secret:// or env:// references), and transport headers are set by Warden", c.Name, k)
		}
		if !validHeaderValue(v) {
			// The value is not echoed: it may be a misplaced secret.
			return nil, fmt.Errorf("provider %q: header %q has a value with control characters", c.Name, k)
		}
		h.Set(ck, v)
	}
	return &Adapter{
		name:    c.Name,
		typ:     c.Type,
		base:    base,
		baseStr: base.String(),
		headers: h,
		azure:   c.AzureAPIVersion,
	}, nil
}

// parseBaseURL accepts an absolute http(s) URL without credentials, query
// or fragment, and drops a trailing slash so that paths can be appended.
func parseBaseURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("it is empty; set it to the provider's API root, e.g. https://api.openai.com/v1")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse quotes its input, which could hold credentials.
		return nil, fmt.Errorf("it is not a valid URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("the scheme must be http or https")
	case u.Host == "":
		return nil, fmt.Errorf("it has no host")
	case u.User != nil:
		return nil, fmt.Errorf("it must not contain credentials; put the key in the vault")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, fmt.Errorf("it must not have a query (a key in ?key= belongs in the vault)")
	case u.Fragment != "":
		return nil, fmt.Errorf("it must not have a fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// Name returns the provider's configured name.
func (a *Adapter) Name() string { return a.name }

// Type returns the provider's type.
func (a *Adapter) Type() string { return a.typ }

// Supports reports whether the adapter can build requests for op: an
// OpenAI provider serves every OpenAI operation (an Azure one all but
// moderations and responses), Anthropic serves messages and token
// counting, and every provider serves passthrough.
func (a *Adapter) Supports(op Op) bool {
	if op == OpPassthrough {
		return true
	}
	switch a.typ {
	case OpenAI:
		if a.azure != "" {
			return azureOps[op]
		}
		_, ok := opPaths[op]
		return ok
	case Anthropic:
		return op == OpMessages || op == OpCountTokens
	}
	return false
}

// isVersion reports whether s looks like an API version (2024-10-21,
// 2025-04-01-preview): letters, digits, dots, dashes and underscores, so
// that it is safe unescaped in a query.
func isVersion(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be sent as a header value: no
// control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
