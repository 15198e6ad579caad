package provider

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// canaries returns one fresh key of every kind Scrub must remove.
func canaries() map[string]string {
	return map[string]string{
		"openai legacy":    canary("sk-", 48),
		"openai project":   canary("sk-proj-", 120),
		"openai svcacct":   canary("sk-svcacct-", 80),
		"openai admin":     canary("sk-admin-", 80),
		"anthropic":        canary("sk-ant-api03-", 93),
		"hugging face":     canary("hf_", 34),
		"google":           canary("AIza", 35),
		"warden":           canary("wdn_", 44),
		"github":           canary("ghp_", 36),
		"github fine":      canary("github_pat_", 82),
		"aws":              "AKIA" + strings.ToUpper(canary("", 16)),
		"aws session":      "ASIA" + strings.ToUpper(canary("", 16)),
		"jwt":              "eyJ" + canary("", 30) + "." + canary("eyJ", 60) + "." + canary("", 43),
		"jwt unsigned":     "eyJ" + canary("", 20) + "." + canary("eyJ", 20) + ".",
		"openai key short": canary("sk-", 20),
	}
}

func TestScrubCanaries(t *testing.T) {
	contexts := []string{
		"%s",
		"Incorrect API key provided: %s. You can find your key at https://platform.openai.com.",
		`{"error":{"message":"invalid x-api-key: %s"}}`,
		"key=%s",
		"prefix_%s_suffix",
		`\n%s\n`,
		"(%s)",
		"tok:%s,next",
	}
	for kind, key := range canaries() {
		for _, c := range contexts {
			in := strings.ReplaceAll(c, "%s", key)
			out := Scrub(in)
			if strings.Contains(out, key) {
				t.Errorf("%s in %q: key survives: %q", kind, c, out)
			}
			if !strings.Contains(out, Redacted) {
				t.Errorf("%s in %q: nothing redacted: %q", kind, c, out)
			}
			if again := Scrub(out); again != out {
				t.Errorf("%s: Scrub is not idempotent: %q -> %q", kind, out, again)
			}
		}
	}
}

func TestScrub(t *testing.T) {
	tok := canary("", 32)
	tests := []struct{ in, want string }{
		{"rate limit reached for gpt-4o", "rate limit reached for gpt-4o"},
		{"max_tokens must be <= 4096: got 5000", "max_tokens must be <= 4096: got 5000"},
		{"the model `claude-3-5-sonnet` does not exist", "the model `claude-3-5-sonnet` does not exist"},
		{"ask-questions about risk-management", "ask-questions about risk-management"},
		{"Authorization: Bearer " + tok, "Authorization: " + Redacted + " " + Redacted},
		{"got bearer " + tok + " from header", "got bearer " + Redacted + " from header"},
		{"x-api-key: " + tok, "x-api-key: " + Redacted},
		{`{"api_key": "` + tok + `"}`, `{"api_key": "` + Redacted + `"}`},
		{"password=" + tok + "&user=bob", "password=" + Redacted + "&user=bob"},
		{"GET https://g.example/v1/models?alt=sse&key=" + tok + "&x=1", "GET https://g.example/v1/models?alt=sse&key=" + Redacted + "&x=1"},
		{"dial https://admin:" + tok + "@db.internal:5432/x failed", "dial https://" + Redacted + "@db.internal:5432/x failed"},
		{"redis://:" + tok + "@cache:6379", "redis://" + Redacted + "@cache:6379"},
		{"mail me at bob@example.com", "mail me at bob@example.com"},
		{"see https://example.com/a?email=bob@example.com", "see https://example.com/a?email=bob@example.com"},
		{"Incorrect API key provided: sk-proj-abcd************************wxyz.", "Incorrect API key provided: " + Redacted + "."},
		{"key sk-ab***yz", "key " + Redacted},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIE" + tok + "\n-----END RSA PRIVATE KEY-----\nafter", Redacted + "\nafter"},
		{"-----BEGIN PRIVATE KEY-----\nMIIE" + tok, Redacted},
	}
	for _, tt := range tests {
		if got := Scrub(tt.in); got != tt.want {
			t.Errorf("Scrub(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	key := canary("sk-proj-", 64)
	long := strings.Repeat("é", 400)
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"openai", 401, `{"error":{"message":"Incorrect API key provided: ` + key + `.","type":"invalid_request_error","code":"invalid_api_key"}}`,
			"Incorrect API key provided: " + Redacted + "."},
		{"anthropic", 400, `{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`,
			"max_tokens: Field required"},
		{"google", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}`,
			"API key not valid. Please pass a valid API key."},
		{"google array", 429, `[{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}]`,
			"Resource has been exhausted"},
		{"hugging face string", 503, `{"error":"Model is currently loading","estimated_time":20.0}`, "Model is currently loading"},
		{"top-level message", 500, `{"message":"internal failure"}`, "internal failure"},
		{"fastapi detail", 422, `{"detail":"bad input"}`, "bad input"},
		{"fastapi detail list", 422, `{"detail":[{"msg":"field required"}]}`, "upstream returned HTTP 422"},
		{"html", 502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", "upstream returned HTTP 502"},
		{"html inside JSON", 502, `{"error":{"message":"<!DOCTYPE html><html>proxy page</html>"}}`, "upstream returned HTTP 502"},
		{"garbage", 500, "\x00\xff\xfe garbage", "upstream returned HTTP 500"},
		{"empty", 504, "", "upstream returned HTTP 504"},
		{"empty message", 500, `{"error":{"message":""}}`, "upstream returned HTTP 500"},
		{"message not a string", 500, `{"error":{"message":{"x":1}}}`, "upstream returned HTTP 500"},
		{"truncated JSON", 500, `{"error":{"message":"cut`, "upstream returned HTTP 500"},
		{"newlines and bidi controls", 400, `{"error":{"message":"line one\nline two\r\n\u202eevil\tend"}}`, "line one line two evil end"},
		{"invalid UTF-8 inside", 400, "{\"error\":{\"message\":\"bad \xff byte\"}}", "bad \uFFFD byte"},
		{"long", 400, `{"error":{"message":"` + long + `"}}`, strings.Repeat("é", (MaxErrorMessage-3)/2) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorMessage(tt.status, []byte(tt.body))
			if got != tt.want {
				t.Fatalf("ErrorMessage = %q, want %q", got, tt.want)
			}
			if len(got) > MaxErrorMessage || !utf8.ValidString(got) {
				t.Fatalf("result has %d bytes or is not valid UTF-8", len(got))
			}
			if strings.Contains(got, key) {
				t.Fatalf("the key leaked")
			}
		})
	}
}

func FuzzScrub(f *testing.F) {
	for _, s := range []string{
		"", "plain text", "Bearer x", "https://u:p@h/", "?key=a&key=b", "sk-", "eyJ.eyJ.", "-----BEGIN PRIVATE KEY-----",
		"authorization=\"x\"", "key=[REDACTED]x", "]Bearer x", "api-key: : x",
	} {
		f.Add(s, s, uint8(0))
	}
	kinds := canaries()
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	slices.Sort(names) // the same input must pick the same kind in every worker
	f.Fuzz(func(t *testing.T, before, after string, sel uint8) {
		key := kinds[names[int(sel)%len(names)]]
		for _, in := range []string{before, before + " " + key + " " + after, before + "\n" + key + "\n" + after} {
			out := Scrub(in)
			if in != before && strings.Contains(out, key) {
				t.Fatalf("planted key survives: %q -> %q", in, out)
			}
			if again := Scrub(out); again != out {
				t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
			}
		}
		msg := ErrorMessage(500, []byte(before))
		if len(msg) > MaxErrorMessage || !utf8.ValidString(msg) || strings.ContainsAny(msg, "\r\n") {
			t.Fatalf("ErrorMessage(%q) = %q", before, msg)
		}
	})
}
