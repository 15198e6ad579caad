package auth_test

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
)

const testAudience = "warden"

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() *keyMaterial {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var km keyMaterial
	var err error
	km.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	km.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	km.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	km.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, km.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return &km
})

type keyMaterial struct {
	rsa, rsa2 *rsa.PrivateKey
	ec, ec384 *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}

// publicKeys is the JWKS the test issuer starts with. "rsa-rs256" is the
// RSA key again, published for RS256 only; "ec-any" is the P-256 key
// again, published without an algorithm, and "ec384-any" a P-384 key.
func (km *keyMaterial) publicKeys() []jose.JSONWebKey {
	return []jose.JSONWebKey{
		{Key: &km.rsa.PublicKey, KeyID: "rsa", Use: "sig"},
		{Key: &km.rsa.PublicKey, KeyID: "rsa-rs256", Use: "sig", Algorithm: "RS256"},
		{Key: &km.ec.PublicKey, KeyID: "ec", Use: "sig", Algorithm: "ES256"},
		{Key: &km.ec.PublicKey, KeyID: "ec-any"},
		{Key: &km.ec384.PublicKey, KeyID: "ec384-any"},
		{Key: km.ed.Public(), KeyID: "ed"},
	}
}

// testIssuer is an OpenID Provider serving discovery and a JWKS, with
// switches to break either.
type testIssuer struct {
	srv                 *httptest.Server
	jwksHits, discHits  atomic.Int32
	mu                  sync.Mutex
	keys                []jose.JSONWebKey
	jwksBody            []byte // served instead of keys when set
	jwksStatus          int
	discStatus          int
	discIssuer, jwksURI string // override the discovery document's fields when set
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	iss := &testIssuer{keys: testKeys().publicKeys()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss.discHits.Add(1)
		iss.mu.Lock()
		defer iss.mu.Unlock()
		if iss.discStatus != 0 {
			w.WriteHeader(iss.discStatus)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer":   cmp.Or(iss.discIssuer, iss.srv.URL),
			"jwks_uri": cmp.Or(iss.jwksURI, iss.srv.URL+"/jwks"),
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		iss.jwksHits.Add(1)
		iss.mu.Lock()
		defer iss.mu.Unlock()
		if iss.jwksStatus != 0 {
			w.WriteHeader(iss.jwksStatus)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if iss.jwksBody != nil {
			_, _ = w.Write(iss.jwksBody)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: iss.keys})
	})
	mux.HandleFunc("GET /redirect-plain", func(w http.ResponseWriter, r *http.Request) {
		// A redirect away from loopback to plain http; the client must
		// refuse it before connecting anywhere.
		http.Redirect(w, r, "http://issuer.invalid/jwks", http.StatusFound)
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

func (iss *testIssuer) set(f func(iss *testIssuer)) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	f(iss)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// oidcFixture is an OIDC authenticator against a test issuer.
type oidcFixture struct {
	iss   *testIssuer
	clock *fakeClock
	logs  *syncBuffer
	a     *auth.OIDC
}

func newOIDCFixture(t testing.TB, opt func(*auth.OIDCOptions)) *oidcFixture {
	t.Helper()
	f := &oidcFixture{
		iss:   newTestIssuer(t),
		clock: &fakeClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		logs:  &syncBuffer{},
	}
	opts := auth.OIDCOptions{
		Issuer:     f.iss.srv.URL,
		Audience:   []string{testAudience},
		HTTPClient: f.iss.srv.Client(),
		Now:        f.clock.Now,
		Logger:     slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if opt != nil {
		opt(&opts)
	}
	a, err := auth.NewOIDC(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

// claims returns valid claims for f's issuer at f's current time.
func (f *oidcFixture) claims() map[string]any {
	now := f.clock.Now()
	return map[string]any{
		"iss":   f.iss.srv.URL,
		"aud":   testAudience,
		"sub":   "user-123",
		"email": "ada@example.com",
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
}

// claimsWith returns f.claims() changed by edit; a nil value deletes.
func (f *oidcFixture) claimsWith(edit map[string]any) map[string]any {
	c := f.claims()
	for k, v := range edit {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// sign returns a compact JWS over payload (JSON-encoded unless already
// []byte), with kid in the header when not empty.
func sign(t testing.TB, alg jose.SignatureAlgorithm, kid string, priv any, payload any) string {
	t.Helper()
	var key any = priv
	if kid != "" {
		key = jose.JSONWebKey{Key: priv, KeyID: kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b, ok := payload.([]byte)
	if !ok {
		if b, err = json.Marshal(payload); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// handMade builds a compact JWS from its parts, for tokens no honest
// library would make.
func handMade(t testing.TB, header, claims any, sig func(signingInput string) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := b64(h) + "." + b64(c)
	return in + "." + b64(sig(in))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func hs256(secret []byte) func(string) []byte {
	return func(in string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return m.Sum(nil)
	}
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// wantRefusal checks err is an apperr with code and message (any message
// when msg is empty) that does not show the token.
func wantRefusal(t *testing.T, err error, code apperr.Code, msg, tok string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want an *apperr.Error %s %q", err, code, msg)
	}
	if ae.Code != code || (msg != "" && ae.Message != msg) {
		t.Fatalf("error = %s %q, want %s %q (cause: %v)", ae.Code, ae.Message, code, msg, ae.Cause)
	}
	if tok != "" && strings.Contains(err.Error(), tok) {
		t.Fatalf("error shows the token: %v", err)
	}
}

func TestOIDCTokens(t *testing.T) {
	km := testKeys()
	pubDER, err := x509.MarshalPKIXPublicKey(&km.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, err := json.Marshal(jose.JSONWebKey{Key: &km.rsa.PublicKey, KeyID: "rsa", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	hsHeader := map[string]string{"alg": "HS256", "typ": "JWT", "kid": "rsa"}

	type tc struct {
		name    string
		token   func(t *testing.T, f *oidcFixture) string
		code    apperr.Code // "" for accepted
		msg     string
		subject string // when accepted
	}
	valid := func(alg jose.SignatureAlgorithm, kid string, priv any) func(*testing.T, *oidcFixture) string {
		return func(t *testing.T, f *oidcFixture) string { return sign(t, alg, kid, priv, f.claims()) }
	}
	withClaims := func(edit map[string]any) func(*testing.T, *oidcFixture) string {
		return func(t *testing.T, f *oidcFixture) string {
			return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(edit))
		}
	}
	at := func(f *oidcFixture, d time.Duration) int64 { return f.clock.Now().Add(d).Unix() }
	const unauth = apperr.Unauthenticated

	cases := []tc{
		{name: "RS256", token: valid(jose.RS256, "rsa", km.rsa), subject: "user-123"},
		{name: "RS256 key published for RS256", token: valid(jose.RS256, "rsa-rs256", km.rsa), subject: "user-123"},
		{name: "PS256", token: valid(jose.PS256, "rsa", km.rsa), subject: "user-123"},
		{name: "RS512", token: valid(jose.RS512, "rsa", km.rsa), subject: "user-123"},
		{name: "ES256", token: valid(jose.ES256, "ec", km.ec), subject: "user-123"},
		{name: "EdDSA", token: valid(jose.EdDSA, "ed", km.ed), subject: "user-123"},
		{name: "EdDSA without kid, one key fits", token: valid(jose.EdDSA, "", km.ed), subject: "user-123"},
		{name: "RS256 without kid, two keys fit", token: valid(jose.RS256, "", km.rsa), code: unauth, msg: "token signing key unknown"},
		{
			name: "expired",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"exp": at(f, -2*time.Minute), "iat": at(f, -time.Hour)}))
			},
			code: unauth, msg: "token expired",
		},
		{
			name: "expired within leeway",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"exp": at(f, -30*time.Second)}))
			},
			subject: "user-123",
		},
		{
			name: "not valid yet",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"nbf": at(f, 5*time.Minute)}))
			},
			code: unauth, msg: "token not valid yet",
		},
		{
			name: "not valid yet, within leeway",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"nbf": at(f, 30*time.Second)}))
			},
			subject: "user-123",
		},
		{
			name: "issued in the future",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"iat": at(f, 5*time.Minute)}))
			},
			code: unauth, msg: "token not valid yet",
		},
		{name: "no expiry", token: withClaims(map[string]any{"exp": nil}), code: unauth, msg: "token has no expiry"},
		{name: "no subject", token: withClaims(map[string]any{"sub": nil}), code: unauth, msg: "token has no subject"},
		{name: "wrong audience", token: withClaims(map[string]any{"aud": "someone-else"}), code: unauth, msg: "token audience not accepted"},
		{name: "no audience", token: withClaims(map[string]any{"aud": nil}), code: unauth, msg: "token audience not accepted"},
		{name: "audience array with ours", token: withClaims(map[string]any{"aud": []string{"other", testAudience}}), subject: "user-123"},
		{name: "audience array without ours", token: withClaims(map[string]any{"aud": []string{"other", "more"}}), code: unauth, msg: "token audience not accepted"},
		{name: "wrong issuer", token: withClaims(map[string]any{"iss": "https://evil.example"}), code: unauth, msg: "token issuer not accepted"},
		{name: "issuer with trailing slash", token: func(t *testing.T, f *oidcFixture) string {
			return sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"iss": f.iss.srv.URL + "/"}))
		}, code: unauth, msg: "token issuer not accepted"},
		{name: "subject not a string", token: withClaims(map[string]any{"sub": 42}), code: unauth, msg: "token malformed"},
		{name: "payload not JSON", token: func(t *testing.T, f *oidcFixture) string {
			return sign(t, jose.RS256, "rsa", km.rsa, []byte("not json"))
		}, code: unauth, msg: "token malformed"},
		{
			name: "payload altered",
			token: func(t *testing.T, f *oidcFixture) string {
				good := strings.Split(sign(t, jose.RS256, "rsa", km.rsa, f.claims()), ".")
				forged, err := json.Marshal(f.claimsWith(map[string]any{"sub": "admin", "roles": "admin"}))
				if err != nil {
					t.Fatal(err)
				}
				return good[0] + "." + b64(forged) + "." + good[2]
			},
			code: unauth, msg: "token signature invalid",
		},
		{
			name: "signature altered",
			token: func(t *testing.T, f *oidcFixture) string {
				parts := strings.Split(sign(t, jose.ES256, "ec", km.ec, f.claims()), ".")
				sig, err := base64.RawURLEncoding.DecodeString(parts[2])
				if err != nil {
					t.Fatal(err)
				}
				sig[10] ^= 0x01
				return parts[0] + "." + parts[1] + "." + b64(sig)
			},
			code: unauth, msg: "token signature invalid",
		},
		{
			name: "signed by a key not in the JWKS",
			token: func(t *testing.T, f *oidcFixture) string {
				return sign(t, jose.RS256, "rsa", km.rsa2, f.claims())
			},
			code: unauth, msg: "token signature invalid",
		},
		{
			name: "alg none",
			token: func(t *testing.T, f *oidcFixture) string {
				return handMade(t, map[string]string{"alg": "none", "typ": "JWT"}, f.claims(), func(string) []byte { return nil })
			},
			code: unauth, msg: "token algorithm not allowed",
		},
		{
			name: "alg None, mixed case",
			token: func(t *testing.T, f *oidcFixture) string {
				return handMade(t, map[string]string{"alg": "None", "kid": "rsa"}, f.claims(), func(string) []byte { return nil })
			},
			code: unauth, msg: "token algorithm not allowed",
		},
		{name: "HS256 keyed with the RSA public key as PEM", token: func(t *testing.T, f *oidcFixture) string {
			return handMade(t, hsHeader, f.claims(), hs256(pubPEM))
		}, code: unauth, msg: "token algorithm not allowed"},
		{name: "HS256 keyed with the RSA public key as DER", token: func(t *testing.T, f *oidcFixture) string {
			return handMade(t, hsHeader, f.claims(), hs256(pubDER))
		}, code: unauth, msg: "token algorithm not allowed"},
		{name: "HS256 keyed with the RSA public JWK", token: func(t *testing.T, f *oidcFixture) string {
			return handMade(t, hsHeader, f.claims(), hs256(pubJWK))
		}, code: unauth, msg: "token algorithm not allowed"},
		{name: "ES256 token naming an RSA key", token: valid(jose.ES256, "rsa", km.ec), code: unauth, msg: "token algorithm not allowed"},
		{name: "RS256 token naming an EC key", token: valid(jose.RS256, "ec", km.rsa), code: unauth, msg: "token algorithm not allowed"},
		{name: "EdDSA token naming an RSA key", token: valid(jose.EdDSA, "rsa", km.ed), code: unauth, msg: "token algorithm not allowed"},
		{name: "ES256 naming a key published without alg", token: valid(jose.ES256, "ec-any", km.ec), subject: "user-123"},
		{name: "ES384", token: valid(jose.ES384, "ec384-any", km.ec384), subject: "user-123"},
		{name: "ES256 token naming a P-384 key", token: valid(jose.ES256, "ec384-any", km.ec), code: unauth, msg: "token algorithm not allowed"},
		{name: "ES384 token naming a P-256 key", token: valid(jose.ES384, "ec-any", km.ec384), code: unauth, msg: "token algorithm not allowed"},
		{name: "PS256 token naming a key published for RS256", token: valid(jose.PS256, "rsa-rs256", km.rsa), code: unauth, msg: "token algorithm not allowed"},
		{name: "unknown kid", token: valid(jose.RS256, "nobody", km.rsa), code: unauth, msg: "token signing key unknown"},
		{name: "too large", token: withClaims(map[string]any{"pad": strings.Repeat("x", 20<<10)}), code: unauth, msg: "token too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newOIDCFixture(t, nil)
			tok := c.token(t, f)
			p, err := f.a.Authenticate(bearer(tok))
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if p.Subject != c.subject || p.Role != auth.RoleUser || p.KeyID != "" || p.Key != nil {
					t.Fatalf("principal = %+v", p)
				}
			} else {
				if p != nil {
					t.Fatalf("accepted: %+v", p)
				}
				wantRefusal(t, err, c.code, c.msg, tok)
			}
			if strings.Contains(f.logs.String(), tok) {
				t.Fatal("the token appears in the logs")
			}
		})
	}
}

func TestOIDCUnknownKidRefreshesOncePerInterval(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, func(o *auth.OIDCOptions) { o.MinRefreshInterval = 30 * time.Second })
	if _, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "rsa", km.rsa, f.claims()))); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		advance  time.Duration
		wantHits int32
	}{
		{0, 2},                // unknown kid: one refresh
		{0, 2},                // again at once: no refresh
		{29 * time.Second, 2}, // still inside the interval
		{2 * time.Second, 3},  // the interval has passed
		{0, 3},                // and is closed again
		{40 * time.Second, 4}, // ...
	}
	for i, s := range steps {
		f.clock.Advance(s.advance)
		tok := sign(t, jose.RS256, "unknown", km.rsa2, f.claims())
		_, err := f.a.Authenticate(bearer(tok))
		wantRefusal(t, err, apperr.Unauthenticated, "token signing key unknown", tok)
		if got := f.iss.jwksHits.Load(); got != s.wantHits {
			t.Fatalf("step %d: JWKS fetched %d times, want %d", i, got, s.wantHits)
		}
	}
	// Known keys keep working, without more fetches.
	if _, err := f.a.Authenticate(bearer(sign(t, jose.ES256, "ec", km.ec, f.claims()))); err != nil {
		t.Fatal(err)
	}
	if got := f.iss.jwksHits.Load(); got != 4 {
		t.Fatalf("JWKS fetched %d times for a known key, want 4", got)
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, nil)
	if _, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "rsa", km.rsa, f.claims()))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: the new key is published, the old one dropped.
	f.iss.set(func(iss *testIssuer) {
		iss.keys = []jose.JSONWebKey{{Key: &km.rsa2.PublicKey, KeyID: "rsa-2026", Use: "sig", Algorithm: "RS256"}}
	})
	p, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "rsa-2026", km.rsa2, f.claims())))
	if err != nil || p.Subject != "user-123" {
		t.Fatalf("token with the new key: %+v, %v", p, err)
	}
	if got := f.iss.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", got)
	}
	// The old key went with the refresh.
	tok := sign(t, jose.RS256, "rsa", km.rsa, f.claims())
	_, err = f.a.Authenticate(bearer(tok))
	wantRefusal(t, err, apperr.Unauthenticated, "token signing key unknown", tok)
}

func TestOIDCIssuerUnreachableWithoutCache(t *testing.T) {
	km := testKeys()
	big := append([]byte(`{"keys":[],"pad":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	big = append(big, `"}`...)
	cases := []struct {
		name   string
		break_ func(iss *testIssuer)
		log    string // a word the log must hold
	}{
		{"JWKS down", func(iss *testIssuer) { iss.jwksStatus = http.StatusServiceUnavailable }, "503"},
		{"discovery down", func(iss *testIssuer) { iss.discStatus = http.StatusInternalServerError }, "discovery"},
		{"discovery names another issuer", func(iss *testIssuer) { iss.discIssuer = "https://evil.example" }, "evil.example"},
		{"jwks_uri not https", func(iss *testIssuer) { iss.jwksURI = "http://issuer.invalid/jwks" }, "https"},
		{"jwks_uri redirects to plain http", func(iss *testIssuer) { iss.jwksURI = iss.srv.URL + "/redirect-plain" }, "redirect"},
		{"JWKS too large", func(iss *testIssuer) { iss.jwksBody = big }, "more than"},
		{"JWKS not JSON", func(iss *testIssuer) { iss.jwksBody = []byte("<html>") }, "JWKS"},
		{"JWKS with no usable key", func(iss *testIssuer) {
			b, _ := json.Marshal(map[string]any{"keys": []any{
				jose.JSONWebKey{Key: km.rsa, KeyID: "rsa"}, // a private key: never used
				map[string]string{"kty": "oct", "kid": "hmac", "k": b64([]byte("a shared secret of 32 bytes....."))},
			}})
			iss.jwksBody = b
		}, "no usable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newOIDCFixture(t, nil)
			f.iss.set(c.break_)
			tok := sign(t, jose.RS256, "rsa", km.rsa, f.claims())
			_, err := f.a.Authenticate(bearer(tok))
			wantRefusal(t, err, apperr.Unavailable, "cannot check tokens right now; try again shortly", tok)
			if ae := apperr.From(err); ae.HTTPStatus() != http.StatusServiceUnavailable || ae.RetryAfter <= 0 {
				t.Fatalf("status %d, Retry-After %v", ae.HTTPStatus(), ae.RetryAfter)
			}
			if !strings.Contains(f.logs.String(), c.log) {
				t.Fatalf("log does not say %q: %s", c.log, f.logs.String())
			}
		})
	}
}

func TestOIDCRecoversAfterRetryInterval(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, nil)
	f.iss.set(func(iss *testIssuer) { iss.jwksStatus = http.StatusBadGateway })
	tok := sign(t, jose.ES256, "ec", km.ec, f.claims())
	for range 3 {
		_, err := f.a.Authenticate(bearer(tok))
		wantRefusal(t, err, apperr.Unavailable, "cannot check tokens right now; try again shortly", tok)
	}
	if got := f.iss.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS asked %d times while down, want 1 per interval", got)
	}
	f.iss.set(func(iss *testIssuer) { iss.jwksStatus = 0 })
	_, err := f.a.Authenticate(bearer(tok))
	wantRefusal(t, err, apperr.Unavailable, "cannot check tokens right now; try again shortly", tok)
	f.clock.Advance(31 * time.Second)
	if _, err := f.a.Authenticate(bearer(tok)); err != nil {
		t.Fatalf("after the issuer came back: %v", err)
	}
	if got := f.iss.jwksHits.Load(); got != 2 {
		t.Fatalf("JWKS asked %d times, want 2", got)
	}
}

func TestOIDCKeepsCachedKeysWhileJWKSDown(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, func(o *auth.OIDCOptions) { o.JWKSCacheTTL = time.Hour })
	if _, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "rsa", km.rsa, f.claims()))); err != nil {
		t.Fatal(err)
	}
	f.iss.set(func(iss *testIssuer) {
		iss.jwksStatus = http.StatusInternalServerError
		iss.discStatus = http.StatusInternalServerError
	})
	f.clock.Advance(2 * time.Hour) // the cache is stale

	check := func(wantHits int32) {
		t.Helper()
		p, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "rsa", km.rsa, f.claims())))
		if err != nil || p.Subject != "user-123" {
			t.Fatalf("cached key not used while the JWKS is down: %+v, %v", p, err)
		}
		if got := f.iss.jwksHits.Load(); got != wantHits {
			t.Fatalf("JWKS asked %d times, want %d", got, wantHits)
		}
	}
	check(2) // tried, failed, used the cache
	if !strings.Contains(f.logs.String(), "still using the keys fetched before") {
		t.Fatalf("no warning logged: %s", f.logs.String())
	}
	check(2) // not asked again inside the interval
	f.clock.Advance(31 * time.Second)
	check(3)

	// An unknown kid is still refused, not waved through.
	tok := sign(t, jose.RS256, "new", km.rsa2, f.claims())
	_, err := f.a.Authenticate(bearer(tok))
	wantRefusal(t, err, apperr.Unauthenticated, "token signing key unknown", tok)

	// Back up: the next refresh replaces the cache.
	f.iss.set(func(iss *testIssuer) {
		iss.jwksStatus, iss.discStatus = 0, 0
		iss.keys = []jose.JSONWebKey{{Key: &km.rsa2.PublicKey, KeyID: "new", Use: "sig"}}
	})
	f.clock.Advance(31 * time.Second)
	if _, err := f.a.Authenticate(bearer(sign(t, jose.RS256, "new", km.rsa2, f.claims()))); err != nil {
		t.Fatalf("after the JWKS came back: %v", err)
	}
}

func TestOIDCSkipsUnusableJWKSKeys(t *testing.T) {
	km := testKeys()
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	f := newOIDCFixture(t, nil)
	privJWK, err := json.Marshal(jose.JSONWebKey{Key: km.rsa2, KeyID: "leaked", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	f.iss.set(func(iss *testIssuer) {
		b, err := json.Marshal(map[string]any{"keys": []any{
			jose.JSONWebKey{Key: &km.ec.PublicKey, KeyID: "ec", Use: "sig"},
			json.RawMessage(privJWK),
			jose.JSONWebKey{Key: &short.PublicKey, KeyID: "short", Use: "sig"},
			jose.JSONWebKey{Key: &km.rsa.PublicKey, KeyID: "enc", Use: "enc"},
			map[string]string{"kty": "oct", "kid": "hmac", "k": b64(bytes.Repeat([]byte("k"), 32))},
			map[string]string{"kty": "XYZ", "kid": "odd"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		iss.jwksBody = b
	})
	if _, err := f.a.Authenticate(bearer(sign(t, jose.ES256, "ec", km.ec, f.claims()))); err != nil {
		t.Fatalf("the usable key was not used: %v", err)
	}
	for _, c := range []struct {
		kid  string
		alg  jose.SignatureAlgorithm
		priv any
	}{
		{"leaked", jose.RS256, km.rsa2},
		{"short", jose.RS256, short},
		{"enc", jose.RS256, km.rsa},
	} {
		tok := sign(t, c.alg, c.kid, c.priv, f.claims())
		_, err := f.a.Authenticate(bearer(tok))
		wantRefusal(t, err, apperr.Unauthenticated, "token signing key unknown", tok)
	}
	tok := handMade(t, map[string]string{"alg": "HS256", "kid": "hmac"}, f.claims(), hs256(bytes.Repeat([]byte("k"), 32)))
	_, err = f.a.Authenticate(bearer(tok))
	wantRefusal(t, err, apperr.Unauthenticated, "token algorithm not allowed", tok)
	if logs := f.logs.String(); strings.Contains(logs, b64(km.rsa2.D.Bytes())) || !strings.Contains(logs, "key 1: carries private or symmetric key material") {
		t.Fatalf("log should name the skipped private key without its material: %s", logs)
	}
}

func TestOIDCClaimsMapping(t *testing.T) {
	km := testKeys()
	cases := []struct {
		name   string
		opt    func(*auth.OIDCOptions)
		claims map[string]any
		want   auth.Principal
	}{
		{
			name:   "defaults",
			claims: map[string]any{},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser},
		},
		{
			name:   "role string",
			claims: map[string]any{"roles": "admin", "team": "ml"},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Team: "ml", Role: auth.RoleAdmin},
		},
		{
			name:   "role array, most powerful wins",
			claims: map[string]any{"roles": []any{"auditor", "manager", "user", 7}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleManager},
		},
		{
			name:   "unknown roles get the default",
			claims: map[string]any{"roles": []string{"superuser", "Admin"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser},
		},
		{
			name:   "role of the wrong type gets the default",
			claims: map[string]any{"roles": map[string]string{"role": "admin"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser},
		},
		{
			name:   "configured default role",
			opt:    func(o *auth.OIDCOptions) { o.DefaultRole = auth.RoleAuditor },
			claims: map[string]any{"roles": "nothing-known"},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleAuditor},
		},
		{
			name: "role map",
			opt: func(o *auth.OIDCOptions) {
				o.RoleClaim = "groups"
				o.RoleMap = map[string]auth.Role{"warden-admins": auth.RoleAdmin, "warden-audit": auth.RoleAuditor}
			},
			claims: map[string]any{"groups": []string{"everyone", "warden-audit", "warden-admins"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleAdmin},
		},
		{
			name:   "role map set: raw role names grant nothing",
			opt:    func(o *auth.OIDCOptions) { o.RoleMap = map[string]auth.Role{"warden-admins": auth.RoleAdmin} },
			claims: map[string]any{"roles": []string{"admin"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser},
		},
		{
			name:   "team array takes the first",
			claims: map[string]any{"team": []string{"research", "platform"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Team: "research", Role: auth.RoleUser},
		},
		{
			name:   "custom team claim",
			opt:    func(o *auth.OIDCOptions) { o.TeamClaim = "dept" },
			claims: map[string]any{"dept": "finance", "team": "ignored"},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Team: "finance", Role: auth.RoleUser},
		},
		{
			name:   "user falls back to the subject",
			claims: map[string]any{"email": nil},
			want:   auth.Principal{Subject: "user-123", User: "user-123", Role: auth.RoleUser},
		},
		{
			name:   "custom user claim",
			opt:    func(o *auth.OIDCOptions) { o.UserClaim = "preferred_username" },
			claims: map[string]any{"preferred_username": "ada"},
			want:   auth.Principal{Subject: "user-123", User: "ada", Role: auth.RoleUser},
		},
		{
			name:   "allowed models",
			opt:    func(o *auth.OIDCOptions) { o.AllowedModels = []string{"gpt-4o-mini", "claude-*"} },
			claims: map[string]any{},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser, Models: []string{"gpt-4o-mini", "claude-*"}},
		},
		{
			name:   "several audiences accepted",
			opt:    func(o *auth.OIDCOptions) { o.Audience = []string{"other-client", "second"} },
			claims: map[string]any{"aud": []string{"x", "second"}},
			want:   auth.Principal{Subject: "user-123", User: "ada@example.com", Role: auth.RoleUser},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newOIDCFixture(t, c.opt)
			p, err := f.a.Authenticate(bearer(sign(t, jose.ES256, "ec", km.ec, f.claimsWith(c.claims))))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != c.want.Subject || p.User != c.want.User || p.Team != c.want.Team || p.Role != c.want.Role ||
				!slices.Equal(p.Models, c.want.Models) || p.KeyID != "" || p.Key != nil {
				t.Fatalf("principal = %+v, want %+v", *p, c.want)
			}
			if len(c.want.Models) > 0 && (!p.AllowsModel("claude-3-haiku") || p.AllowsModel("gpt-4o")) {
				t.Fatal("allowed models not applied")
			}
		})
	}
}

func TestOIDCNotMine(t *testing.T) {
	f := newOIDCFixture(t, nil)
	hdr := func(h ...string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
		for _, v := range h {
			r.Header.Add("Authorization", v)
		}
		return r
	}
	jsonSeg := func(v string) string { return b64([]byte(v)) }
	cases := map[string]*http.Request{
		"no header":                    hdr(),
		"basic":                        hdr("Basic dXNlcjpwYXNz"),
		"warden key":                   hdr("Bearer wdn_" + strings.Repeat("a", 40)),
		"warden key shaped like a JWS": hdr("Bearer wdn_" + jsonSeg(`{"alg":"RS256"}`) + ".e30.c2ln"),
		"provider key":                 hdr("Bearer sk-proj-abcdefghijklmnop"),
		"two parts":                    hdr("Bearer " + jsonSeg(`{"alg":"RS256"}`) + ".e30"),
		"four parts":                   hdr("Bearer " + jsonSeg(`{"alg":"RS256"}`) + ".e30.c2ln.eHh4"),
		"JWE (five parts)":             hdr("Bearer " + jsonSeg(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d"),
		"header not JSON":              hdr("Bearer " + jsonSeg(`not json`) + ".e30.c2ln"),
		"header without alg":           hdr("Bearer " + jsonSeg(`{"typ":"JWT"}`) + ".e30.c2ln"),
		"alg not a string":             hdr("Bearer " + jsonSeg(`{"alg":256}`) + ".e30.c2ln"),
		"padded base64":                hdr("Bearer " + base64.URLEncoding.EncodeToString([]byte(`{"alg": "RS256"}`)) + ".e30.c2ln"),
		"empty bearer":                 hdr("Bearer "),
		"dots only":                    hdr("Bearer .."),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := f.a.Authenticate(r)
			if p != nil || !errors.Is(err, auth.ErrNoCredentials) {
				t.Fatalf("got %+v, %v; want ErrNoCredentials", p, err)
			}
		})
	}
	if got := f.iss.jwksHits.Load() + f.iss.discHits.Load(); got != 0 {
		t.Fatalf("the issuer was asked %d times for credentials that are not tokens", got)
	}
}

func TestOIDCTwoTokensRefused(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, nil)
	tok := sign(t, jose.RS256, "rsa", km.rsa, f.claims())
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	r.Header.Add("Authorization", "Bearer "+tok)
	r.Header.Add("Authorization", "Bearer wdn_"+strings.Repeat("b", 40))
	p, err := f.a.Authenticate(r)
	if p != nil {
		t.Fatalf("accepted: %+v", p)
	}
	wantRefusal(t, err, apperr.Unauthenticated, "invalid token: send one token, in one header", tok)
}

func TestOIDCInChain(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, nil)
	var fakeCalls atomic.Int32
	// fake stands in for the virtual-key authenticator: it knows wdn_
	// keys only.
	fake := auth.AuthenticatorFunc(func(r *http.Request) (*auth.Principal, error) {
		fakeCalls.Add(1)
		if strings.HasPrefix(r.Header.Get("Authorization"), "Bearer wdn_") {
			return &auth.Principal{KeyID: "key-1", Role: auth.RoleUser}, nil
		}
		return nil, auth.ErrNoCredentials
	})
	valid := sign(t, jose.RS256, "rsa", km.rsa, f.claims())
	expired := sign(t, jose.RS256, "rsa", km.rsa, f.claimsWith(map[string]any{"exp": f.clock.Now().Add(-time.Hour).Unix(), "iat": f.clock.Now().Add(-2 * time.Hour).Unix()}))
	for _, order := range []string{"oidc first", "keys first"} {
		chain := auth.Chain(f.a, fake)
		if order == "keys first" {
			chain = auth.Chain(fake, f.a)
		}
		cases := []struct {
			name    string
			tok     string
			subject string
			keyID   string
			code    apperr.Code
			msg     string
		}{
			{name: "token", tok: valid, subject: "user-123"},
			{name: "warden key", tok: "wdn_" + strings.Repeat("c", 40), keyID: "key-1"},
			{name: "expired token", tok: expired, code: apperr.Unauthenticated, msg: "token expired"},
			{name: "neither", tok: "sk-something-else", code: apperr.Unauthenticated},
		}
		for _, c := range cases {
			t.Run(order+"/"+c.name, func(t *testing.T) {
				p, err := chain.Authenticate(bearer(c.tok))
				if c.code != "" {
					if p != nil {
						t.Fatalf("accepted: %+v", p)
					}
					wantRefusal(t, err, c.code, c.msg, c.tok)
					return
				}
				if err != nil || p.Subject != c.subject || p.KeyID != c.keyID {
					t.Fatalf("got %+v, %v", p, err)
				}
			})
		}
	}
	if fakeCalls.Load() == 0 {
		t.Fatal("the virtual-key authenticator was never asked")
	}
}

func TestOIDCConcurrentFirstUse(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, nil)
	toks := []string{
		sign(t, jose.RS256, "rsa", km.rsa, f.claims()),
		sign(t, jose.ES256, "ec", km.ec, f.claims()),
		sign(t, jose.EdDSA, "ed", km.ed, f.claims()),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Go(func() {
			_, err := f.a.Authenticate(bearer(toks[i%len(toks)]))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if j, d := f.iss.jwksHits.Load(), f.iss.discHits.Load(); j != 1 || d != 1 {
		t.Fatalf("concurrent first use fetched JWKS %d and discovery %d times, want once each", j, d)
	}
}

func TestOIDCRefreshesAfterTTL(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, func(o *auth.OIDCOptions) { o.JWKSCacheTTL = 10 * time.Minute })
	tok := func() string { return sign(t, jose.EdDSA, "ed", km.ed, f.claims()) }
	for i, s := range []struct {
		advance        time.Duration
		jwks, discover int32
	}{
		{0, 1, 1},
		{9 * time.Minute, 1, 1},
		{2 * time.Minute, 2, 2},
		{time.Minute, 2, 2},
	} {
		f.clock.Advance(s.advance)
		if _, err := f.a.Authenticate(bearer(tok())); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if j, d := f.iss.jwksHits.Load(), f.iss.discHits.Load(); j != s.jwks || d != s.discover {
			t.Fatalf("step %d: JWKS %d, discovery %d; want %d, %d", i, j, d, s.jwks, s.discover)
		}
	}
}

func TestNewOIDCValidation(t *testing.T) {
	ok := auth.OIDCOptions{Issuer: "https://login.example.com/realms/ml", Audience: []string{"warden"}}
	if _, err := auth.NewOIDC(ok); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	for _, c := range []struct {
		name string
		edit func(*auth.OIDCOptions)
		want string
	}{
		{"no issuer", func(o *auth.OIDCOptions) { o.Issuer = "" }, "issuer is required"},
		{"plain http issuer", func(o *auth.OIDCOptions) { o.Issuer = "http://login.example.com" }, "https"},
		{"relative issuer", func(o *auth.OIDCOptions) { o.Issuer = "login.example.com" }, "absolute"},
		{"issuer with query", func(o *auth.OIDCOptions) { o.Issuer = "https://login.example.com/?x=1" }, "query"},
		{"no audience", func(o *auth.OIDCOptions) { o.Audience = nil }, "audience is required"},
		{"empty audience", func(o *auth.OIDCOptions) { o.Audience = []string{""} }, "audience is required"},
		{"HS256", func(o *auth.OIDCOptions) { o.Algorithms = []string{"RS256", "HS256"} }, "HMAC"},
		{"hs512", func(o *auth.OIDCOptions) { o.Algorithms = []string{"hs512"} }, "HMAC"},
		{"none", func(o *auth.OIDCOptions) { o.Algorithms = []string{"none"} }, "none"},
		{"unknown algorithm", func(o *auth.OIDCOptions) { o.Algorithms = []string{"RS1"} }, "not supported"},
		{"bad default role", func(o *auth.OIDCOptions) { o.DefaultRole = "root" }, "default role"},
		{"bad role map", func(o *auth.OIDCOptions) { o.RoleMap = map[string]auth.Role{"g": "root"} }, "role map"},
		{"negative leeway", func(o *auth.OIDCOptions) { o.Leeway = -time.Second }, "negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.edit(&o)
			a, err := auth.NewOIDC(o)
			if err == nil || a != nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewOIDC = %v, %v; want an error about %q", a, err, c.want)
			}
		})
	}
	// Every problem is reported at once.
	_, err := auth.NewOIDC(auth.OIDCOptions{Algorithms: []string{"HS256"}})
	if err == nil || !strings.Contains(err.Error(), "issuer") || !strings.Contains(err.Error(), "audience") || !strings.Contains(err.Error(), "HMAC") {
		t.Fatalf("not every problem reported: %v", err)
	}
}

func TestOIDCAlgorithmAllowlist(t *testing.T) {
	km := testKeys()
	f := newOIDCFixture(t, func(o *auth.OIDCOptions) { o.Algorithms = []string{"ES256"} })
	if _, err := f.a.Authenticate(bearer(sign(t, jose.ES256, "ec", km.ec, f.claims()))); err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jose.RS256, "rsa", km.rsa, f.claims())
	_, err := f.a.Authenticate(bearer(tok))
	wantRefusal(t, err, apperr.Unauthenticated, "token algorithm not allowed", tok)
}

func FuzzOIDCAuthenticate(f *testing.F) {
	km := testKeys()
	fx := newOIDCFixture(f, nil)
	claims := fx.claimsWith(map[string]any{"sub": "fuzz-subject"})
	validPayload, err := json.Marshal(claims)
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{}
	for _, tok := range []string{
		sign(f, jose.RS256, "rsa", km.rsa, validPayload),
		sign(f, jose.ES256, "ec", km.ec, validPayload),
		sign(f, jose.EdDSA, "ed", km.ed, validPayload),
	} {
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(sign(f, jose.RS256, "nobody", km.rsa, validPayload))
	f.Add(sign(f, jose.ES256, "rsa", km.ec, validPayload))
	f.Add(handMade(f, map[string]string{"alg": "none"}, claims, func(string) []byte { return nil }))
	f.Add(handMade(f, map[string]string{"alg": "HS256", "kid": "rsa"}, claims, hs256([]byte("secret"))))
	f.Add("wdn_" + strings.Repeat("z", 40))
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.")
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + s}
		p, err := fx.a.Authenticate(r)
		if err == nil {
			// Only the very claims that were signed may get in; the
			// encoding around them may vary (spaces, unused base64 bits).
			parts := strings.Split(strings.TrimSpace(s), ".")
			if len(parts) != 3 || p == nil || p.Subject != "fuzz-subject" {
				t.Fatalf("accepted %q as %+v", s, p)
			}
			got, derr := base64.RawURLEncoding.DecodeString(parts[1])
			if derr != nil || !bytes.Equal(got, validPayload) {
				t.Fatalf("accepted %q with claims that were never signed", s)
			}
			return
		}
		if p != nil {
			t.Fatalf("principal with an error: %+v, %v", p, err)
		}
		if errors.Is(err, auth.ErrNoCredentials) {
			return
		}
		ae := apperr.From(err)
		if ae.Code != apperr.Unauthenticated {
			t.Fatalf("refusal %s (%v), want %s", ae.Code, err, apperr.Unauthenticated)
		}
		if len(strings.TrimSpace(s)) >= 16 && strings.Contains(err.Error(), strings.TrimSpace(s)) {
			t.Fatalf("error shows the token: %v", err)
		}
	})
}

func BenchmarkOIDCAuthenticate(b *testing.B) {
	km := testKeys()
	for _, c := range []struct {
		alg  jose.SignatureAlgorithm
		kid  string
		priv any
	}{
		{jose.RS256, "rsa", km.rsa},
		{jose.ES256, "ec", km.ec},
		{jose.EdDSA, "ed", km.ed},
	} {
		b.Run(string(c.alg), func(b *testing.B) {
			f := newOIDCFixture(b, nil)
			r := bearer(sign(b, c.alg, c.kid, c.priv, f.claims()))
			if _, err := f.a.Authenticate(r); err != nil { // fills the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
