package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces whatever Scrub removes.
const Redacted = "[REDACTED]"

// MaxErrorMessage bounds the length in bytes of what ErrorMessage returns.
const MaxErrorMessage = 500

// scrubRule is one pattern Scrub replaces; repl may refer to the
// pattern's groups to keep the text around the secret.
type scrubRule struct {
	re   *regexp.Regexp
	repl string
}

// The rules run in order. The key patterns have no left word boundary on
// purpose: a key glued to other text ("\nsk-...", "id_sk-...") must go too,
// and an occasional long hyphenated word lost from an error message is the
// cheaper mistake.
var scrubRules = []scrubRule{
	// PEM private keys, to the END line or, if cut off, to the end.
	{regexp.MustCompile(`-----BEGIN[A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----|[\s\S]*)`), Redacted},
	// Credentials in URLs: scheme://user:pass@host.
	{regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@?#]+@`), "${1}" + Redacted + "@"},
	// Bearer tokens (RFC 6750 characters, plus '*' for masked ones).
	{regexp.MustCompile(`(?i)\b(bearer)(\s+)[A-Za-z0-9\-._~+/*]+=*`), "${1}${2}" + Redacted},
	// Header dumps and key=value pairs that name a credential.
	{regexp.MustCompile(`(?i)\b(proxy-authorization|authorization|x-api-key|x-goog-api-key|api-key|api_key|apikey|access_token|refresh_token|id_token|client_secret|secret_key|private_key|password|passwd|set-cookie|cookie)("?\s*[:=]\s*"?)([^\s"'&,;]+)`), "${1}${2}" + Redacted},
	// Credential query parameters.
	{regexp.MustCompile(`(?i)([?&;](?:key|api_key|api-key|apikey|access_token|token|sig|signature|client_secret|password)=)[^&\s#"'<>]+`), "${1}" + Redacted},
	// Masked keys as providers echo them ("sk-abc1****wxyz"): even the
	// visible ends are a fingerprint of the real key.
	{regexp.MustCompile(`(?:sk-|hf_|AIza|wdn_)[A-Za-z0-9_\-]*\*[A-Za-z0-9_\-*]*`), Redacted},
	// OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-).
	{regexp.MustCompile(`sk-[A-Za-z0-9_\-]{20,}`), Redacted},
	// Hugging Face.
	{regexp.MustCompile(`hf_[A-Za-z0-9]{20,}`), Redacted},
	// Google API keys.
	{regexp.MustCompile(`AIza[A-Za-z0-9_\-]{30,}`), Redacted},
	// Warden virtual keys.
	{regexp.MustCompile(`wdn_[A-Za-z0-9]{20,}`), Redacted},
	// GitHub tokens.
	{regexp.MustCompile(`(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`), Redacted},
	// AWS access key ids.
	{regexp.MustCompile(`(?:AKIA|ASIA)[A-Z0-9]{16}`), Redacted},
	// JWTs: three base64url parts, the first two JSON objects.
	{regexp.MustCompile(`eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*`), Redacted},
}

// scrubHint is a cheap test for text that no rule can match; most error
// messages take this path.
func scrubHint(s string) bool {
	for _, h := range []string{"://", "sk-", "hf_", "AIza", "wdn_", "gh", "github_pat_", "AKIA", "ASIA", "eyJ", "-----BEGIN", "=", ":"} {
		if strings.Contains(s, h) {
			return true
		}
	}
	// The header and bearer rules are case-insensitive.
	l := strings.ToLower(s)
	return strings.Contains(l, "bearer")
}

// Scrub replaces anything key-shaped in s with "[REDACTED]": OpenAI keys
// (sk-, sk-proj-, sk-svcacct-, sk-admin-), Anthropic (sk-ant-), Hugging
// Face (hf_), Google (AIza), Warden (wdn_), GitHub and AWS (AKIA, ASIA)
// keys, masked keys as providers echo them, bearer tokens, JWTs, PEM
// private keys, credentials in URLs (scheme://user:pass@host becomes
// scheme://[REDACTED]@host), credential query parameters (?key=, &api_key=,
// ...) and header or key=value dumps of credentials. Scrub(Scrub(s)) ==
// Scrub(s).
//
// Scrub is a safety net for text that may quote a key by accident, not a
// way to make secret-bearing text safe to store.
func Scrub(s string) string {
	if !scrubHint(s) {
		return s
	}
	// One replacement can expose another match (text on either side of a
	// removed key joins up), so repeat to a fixed point; two passes are
	// enough in practice, and FuzzScrub checks that the result is stable.
	for range 4 {
		next := s
		for _, r := range scrubRules {
			next = r.re.ReplaceAllString(next, r.repl)
		}
		if next == s {
			break
		}
		s = next
	}
	return s
}

// ErrorMessage extracts a message that is safe to show the caller and log
// from an upstream error response: the provider's JSON error message if it
// has one ({"error":{"message":...}} for OpenAI, Anthropic and Google,
// {"error":"..."} for Hugging Face, {"message":...} or {"detail":"..."}
// for other servers), otherwise "upstream returned HTTP <status>". The
// message is put on one line (control characters become spaces), scrubbed
// by Scrub and cut to MaxErrorMessage bytes. Anything that looks like HTML
// gives the generic message: proxies' error pages are noise to the caller
// and may reflect request data.
func ErrorMessage(status int, body []byte) string {
	generic := fmt.Sprintf("upstream returned HTTP %d", status)
	msg := oneLine(errorText(body))
	if msg == "" || looksLikeHTML(msg) {
		return generic
	}
	return truncate(Scrub(msg), MaxErrorMessage)
}

// errorText finds the error message in a JSON error body, or "".
func errorText(body []byte) string {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		// Google sometimes wraps the error object in an array.
		var arr []json.RawMessage
		if json.Unmarshal(body, &arr) != nil || len(arr) == 0 {
			return ""
		}
		body = arr[0]
	}
	var doc struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	}
	if len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &doc) != nil {
		return ""
	}
	if s := jsonString(doc.Error); s != "" {
		return s
	}
	var inner struct {
		Message json.RawMessage `json:"message"`
	}
	if len(doc.Error) > 0 && json.Unmarshal(doc.Error, &inner) == nil {
		if s := jsonString(inner.Message); s != "" {
			return s
		}
	}
	if s := jsonString(doc.Message); s != "" {
		return s
	}
	return jsonString(doc.Detail)
}

// jsonString decodes raw if it is a JSON string, else returns "".
func jsonString(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// oneLine makes s valid UTF-8 on one line: control and format characters
// (newlines, bidi overrides) become spaces, runs of spaces one space.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// looksLikeHTML reports whether s contains HTML or XML markup.
func looksLikeHTML(s string) bool {
	l := strings.ToLower(s)
	for _, tag := range []string{"<html", "<!doctype", "<head", "<body", "<script", "<div", "<?xml", "</"} {
		if strings.Contains(l, tag) {
			return true
		}
	}
	return false
}

// truncate cuts s to at most max bytes on a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const mark = "..."
	cut := max - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
