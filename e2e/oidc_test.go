package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// issuer is a minimal OpenID Connect provider: discovery and keys.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// token signs claims for audience warden, valid from now for ttl.
func (is *issuer) token(t *testing.T, ttl time.Duration, claims map[string]any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	std := jwt.Claims{Issuer: is.srv.URL, Audience: jwt.Audience{"warden"}, Subject: "u-1",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(ttl))}
	tok, err := jwt.Signed(sig).Claims(std).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOIDCTokensWithSDK calls Warden with the official Go SDK holding a
// person's OIDC token instead of a key: the token's team brings the team's
// limits, allowed_models bounds the models, and usage names the person.
func TestOIDCTokensWithSDK(t *testing.T) {
	is := newIssuer(t)
	s := startStackConfig(t, "", "auth:\n  oidc:\n    issuer: "+is.srv.URL+"\n    audience: warden\n    allowed_models: [gpt-4o-mini]\n")
	s.warden("", "teams", "create", "ml", "--rpm", "1")
	tok := is.token(t, time.Hour, map[string]any{"email": "ada@example.com", "team": "ml", "roles": []string{"user"}})
	client := openai.NewClient(option.WithAPIKey(tok), option.WithBaseURL(s.url+"/v1"), option.WithMaxRetries(0))
	ctx := context.Background()
	chat := func(c openai.Client, model string) error {
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:    model,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
		})
		return err
	}
	status := func(err error) int {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.StatusCode
		}
		return 0
	}
	message := func(err error) string {
		var apiErr *openai.Error
		if errors.As(err, &apiErr) {
			return apiErr.Message
		}
		return ""
	}
	if err := chat(client, "gpt-4o-mini"); err != nil {
		t.Fatalf("a call with a valid token: %v", err)
	}
	if err := chat(client, "gpt-4o-mini"); status(err) != http.StatusTooManyRequests || !strings.Contains(message(err), `team "ml"`) {
		t.Errorf("second call within the team's one request a minute: %v", err)
	}
	if err := chat(client, "gpt-4o"); status(err) != http.StatusForbidden {
		t.Errorf("a model outside allowed_models: %v", err)
	}
	expired := openai.NewClient(option.WithAPIKey(is.token(t, -10*time.Minute, map[string]any{"email": "ada@example.com"})),
		option.WithBaseURL(s.url+"/v1"), option.WithMaxRetries(0))
	if err := chat(expired, "gpt-4o-mini"); status(err) != http.StatusUnauthorized {
		t.Errorf("an expired token: %v", err)
	}
	forged := tok[:strings.LastIndex(tok, ".")+1] + "AAAA"
	if err := chat(openai.NewClient(option.WithAPIKey(forged), option.WithBaseURL(s.url+"/v1"), option.WithMaxRetries(0)), "gpt-4o-mini"); status(err) != http.StatusUnauthorized {
		t.Errorf("a token with a bad signature: %v", err)
	}

	// Usage is recorded for the person and the team (written in batches).
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := s.warden("", "usage", "--by", "user", "--json")
		if strings.Contains(out, `"group": "ada@example.com"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no usage for the token's user: %s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.assertUpstreamSawOnlyRealKeys()
}
