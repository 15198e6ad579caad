package config

import (
	"regexp"
	"strings"
)

// isHeaderMap reports whether the mapping at path is a provider's headers.
// Provider names may contain dots, so the test is on both ends of the path.
func isHeaderMap(path string) bool {
	return strings.HasPrefix(path, "providers.") && strings.HasSuffix(path, ".headers")
}

// headerNameRE is an HTTP field name (RFC 9110 token), length-bounded.
var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$")

// credentialHeaders are the headers providers take keys in. Warden sets the
// right one itself from api_key; configured as a static header, the key
// would sit in the file in plain text.
var credentialHeaders = map[string]bool{
	"authorization":       true,
	"proxy-authorization": true,
	"x-api-key":           true,
	"api-key":             true,
	"x-goog-api-key":      true,
	"cookie":              true,
}

// credentialWords mark other header names as carrying credentials (for
// example X-Auth-Token or Ocp-Apim-Subscription-Key). A false alarm costs a
// clear error; a miss puts a key in the file.
var credentialWords = []string{"auth", "token", "secret", "password", "passwd", "cookie", "apikey", "api-key", "api_key", "subscription-key"}

// managedHeaders are set by Warden or the HTTP stack for each request, or
// describe one connection only; a static value would break the exchange.
var managedHeaders = map[string]bool{
	"host":              true,
	"content-length":    true,
	"content-encoding":  true,
	"transfer-encoding": true,
	"connection":        true,
	"keep-alive":        true,
	"proxy-connection":  true,
	"upgrade":           true,
	"te":                true,
	"trailer":           true,
}

// checkHeaderName checks the name of a configured upstream header and
// returns what is wrong with it, or "".
func checkHeaderName(name string) string {
	if looksLikeKey(name) {
		return `this header name looks like an API key; keys must not be written in the config: store it with "warden secrets set NAME" and refer to it as secret://NAME in the provider's api_key`
	}
	if !headerNameRE.MatchString(name) {
		return "a header name is 1 to 128 of letters, digits and ! # $ % & ' * + - . ^ _ ` | ~"
	}
	lower := strings.ToLower(name)
	if credentialHeaders[lower] || containsAny(lower, credentialWords) {
		return `this header carries credentials and cannot be set under headers: Warden sends the provider's key itself, from api_key; store the key with "warden secrets set NAME" and write api_key: secret://NAME`
	}
	if managedHeaders[lower] {
		return "this header is set by Warden for each request, or applies to one connection only; it cannot be configured"
	}
	return ""
}

// containsAny reports whether s contains any of words.
func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
