package auth

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
)

// Defaults for OIDCOptions.
const (
	defaultLeeway       = 60 * time.Second
	defaultHTTPTimeout  = 10 * time.Second
	defaultJWKSCacheTTL = time.Hour
	defaultMinRefresh   = 30 * time.Second
	defaultRoleClaim    = "roles"
	defaultTeamClaim    = "team"
	defaultUserClaim    = "email"
)

// maxTokenLen bounds a bearer token: real ID and access tokens are a few
// kilobytes, and a longer one would only cost parsing time.
const maxTokenLen = 16 << 10

// maxHeaderSegment bounds the encoded JOSE header looked at to decide
// whether a bearer string is a token at all.
const maxHeaderSegment = 4 << 10

// defaultAlgorithms are the signature algorithms OIDC accepts unless told
// otherwise: every asymmetric JWS algorithm, and nothing else.
var defaultAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// OIDCOptions configures NewOIDC. Issuer and Audience are required; every
// other field has a default.
type OIDCOptions struct {
	// Issuer is the OpenID Provider's issuer URL, exactly as its tokens
	// and its discovery document name it. Its metadata is read from
	// Issuer + "/.well-known/openid-configuration". It must be https, or
	// http on a loopback host.
	Issuer string
	// Audience lists the "aud" values accepted; a token must name at
	// least one. Usually the client id Warden is registered under.
	Audience []string
	// RoleClaim names the claim that carries roles (a string or an array
	// of strings); default "roles". The most powerful role among its
	// values wins.
	RoleClaim string
	// RoleMap maps claim values to roles, e.g. {"warden-admins": admin}.
	// When it is set, only mapped values count: an unrelated group that
	// happens to be called "admin" grants nothing. When it is empty, the
	// values are read as role names.
	RoleMap map[string]Role
	// DefaultRole is the role of a token with no known role; default
	// RoleUser.
	DefaultRole Role
	// TeamClaim names the claim that carries the team (a string, or the
	// first of an array of strings); default "team".
	TeamClaim string
	// UserClaim names the claim that identifies the user for limits,
	// budgets and audit; default "email". Without it the subject is used.
	UserClaim string
	// AllowedModels are the models people with tokens may use, names or
	// globs; empty means every model.
	AllowedModels []string
	// Algorithms lists the accepted JWS algorithms; default RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA. "none" and the HMAC algorithms (HS256, HS384,
	// HS512) are refused: with a public JWKS, an HMAC "secret" is public
	// too, and anyone could forge tokens with it.
	Algorithms []string
	// Leeway is the clock skew allowed for exp, nbf and iat; zero means
	// 60s.
	Leeway time.Duration
	// HTTPClient fetches discovery and JWKS documents; default a client
	// with a 10s timeout. Redirects to plain-http URLs are refused.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// JWKSCacheTTL is how long fetched keys (and the discovery document)
	// are used before they are fetched again; default 1h.
	JWKSCacheTTL time.Duration
	// MinRefreshInterval is the least time between two fetches caused by
	// tokens with unknown key ids, and between a failed fetch and the
	// next try; default 30s.
	MinRefreshInterval time.Duration
	// Logger receives refusals and key-fetch problems, never tokens; nil
	// discards.
	Logger *slog.Logger
}

// OIDC authenticates people by the JWTs their OpenID Provider issues, from
// "Authorization: Bearer <token>". Bearer strings that are not compact
// JWS (a Warden key, say) are not its business: it says ErrNoCredentials.
// The provider's keys are fetched on first use and cached; when they
// cannot be had at all, tokens are refused as unavailable (fail closed).
// An OIDC is safe for concurrent use.
type OIDC struct {
	issuer, discoveryURL string
	audience             []string
	algs                 []jose.SignatureAlgorithm
	roleClaim, teamClaim string
	userClaim            string
	roleMap              map[string]Role
	defaultRole          Role
	models               []string
	leeway               time.Duration
	client               *http.Client
	now                  func() time.Time
	ttl, minRefresh      time.Duration
	log                  *slog.Logger

	mu    sync.Mutex
	cache keyCache
}

var _ Authenticator = (*OIDC)(nil)

// NewOIDC checks opts and returns an OIDC authenticator. It does not
// contact the issuer: keys are fetched on first use, so that Warden starts
// while the provider is down (and refuses tokens until it is back).
func NewOIDC(opts OIDCOptions) (*OIDC, error) {
	var errs []error
	o := &OIDC{
		issuer:      opts.Issuer,
		audience:    slices.Clone(opts.Audience),
		roleClaim:   cmp.Or(opts.RoleClaim, defaultRoleClaim),
		teamClaim:   cmp.Or(opts.TeamClaim, defaultTeamClaim),
		userClaim:   cmp.Or(opts.UserClaim, defaultUserClaim),
		defaultRole: cmp.Or(opts.DefaultRole, RoleUser),
		models:      slices.Clone(opts.AllowedModels),
		leeway:      cmp.Or(opts.Leeway, defaultLeeway),
		now:         opts.Now,
		ttl:         cmp.Or(opts.JWKSCacheTTL, defaultJWKSCacheTTL),
		minRefresh:  cmp.Or(opts.MinRefreshInterval, defaultMinRefresh),
		log:         opts.Logger,
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultHTTPTimeout}
	}
	o.client = httpClient(client)

	if opts.Issuer == "" {
		errs = append(errs, errors.New("issuer is required: the OpenID Provider's issuer URL"))
	} else if u, err := url.Parse(opts.Issuer); err != nil {
		errs = append(errs, fmt.Errorf("issuer is not a URL: %w", err))
	} else if err := checkFetchURL(u); err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("issuer must not have a query or fragment"))
	} else {
		o.discoveryURL = strings.TrimSuffix(opts.Issuer, "/") + "/.well-known/openid-configuration"
	}
	if len(o.audience) == 0 || slices.Contains(o.audience, "") {
		errs = append(errs, errors.New("audience is required: the non-empty aud values Warden accepts, usually its client id"))
	}
	algs := opts.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms
	}
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none"):
			errs = append(errs, errors.New(`algorithm "none" is refused: unsigned tokens prove nothing`))
		case strings.HasPrefix(strings.ToUpper(a), "HS"):
			errs = append(errs, fmt.Errorf("algorithm %q is refused: HMAC tokens could be forged by anyone holding the issuer's public key", a))
		case !slices.Contains(defaultAlgorithms, a):
			errs = append(errs, fmt.Errorf("algorithm %q is not supported; use some of %v", a, defaultAlgorithms))
		case !slices.Contains(o.algs, jose.SignatureAlgorithm(a)):
			o.algs = append(o.algs, jose.SignatureAlgorithm(a))
		}
	}
	if !o.defaultRole.Valid() {
		errs = append(errs, fmt.Errorf("default role %q is not one of %v", o.defaultRole, Roles))
	}
	if len(opts.RoleMap) > 0 {
		o.roleMap = make(map[string]Role, len(opts.RoleMap))
		for v, r := range opts.RoleMap {
			if !r.Valid() {
				errs = append(errs, fmt.Errorf("role map: %q maps to %q, which is not one of %v", v, r, Roles))
			}
			o.roleMap[v] = r
		}
	}
	if opts.Leeway < 0 || opts.JWKSCacheTTL < 0 || opts.MinRefreshInterval < 0 {
		errs = append(errs, errors.New("leeway, JWKS cache TTL and minimum refresh interval must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("OIDC authenticator: %w", err)
	}
	return o, nil
}

// Caller-facing messages for tokens. They say what is wrong in general
// terms and never show the token.
const (
	msgTokenUnavailable = "cannot check tokens right now; try again shortly"
	msgTokenMalformed   = "token malformed"
	msgTokenTooLarge    = "token too large"
	msgTokenAmbiguous   = "invalid token: send one token, in one header"
	msgTokenAlgorithm   = "token algorithm not allowed"
	msgTokenUnknownKey  = "token signing key unknown"
	msgTokenSignature   = "token signature invalid"
	msgTokenIssuer      = "token issuer not accepted"
	msgTokenAudience    = "token audience not accepted"
	msgTokenExpired     = "token expired"
	msgTokenNoExpiry    = "token has no expiry"
	msgTokenNotYet      = "token not valid yet"
	msgTokenNoSubject   = "token has no subject"
)

// Authenticate implements Authenticator.
func (o *OIDC) Authenticate(r *http.Request) (*Principal, error) {
	ctx := r.Context()
	tok, err := bearerJWS(r)
	if err != nil {
		return nil, err
	}
	if len(tok) > maxTokenLen {
		return nil, o.refuse(ctx, slog.LevelDebug, "too_large", msgTokenTooLarge, nil)
	}

	jws, err := jose.ParseSignedCompact(tok, o.algs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return nil, o.refuse(ctx, slog.LevelDebug, "algorithm", msgTokenAlgorithm, err)
		}
		return nil, o.refuse(ctx, slog.LevelDebug, "malformed", msgTokenMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, o.refuse(ctx, slog.LevelDebug, "malformed", msgTokenMalformed, errors.New("not exactly one signature"))
	}
	hdr := jws.Signatures[0].Header
	k, err := o.key(ctx, hdr.KeyID, jose.SignatureAlgorithm(hdr.Algorithm))
	switch {
	case errors.Is(err, errAlgMismatch):
		return nil, o.refuse(ctx, slog.LevelDebug, "algorithm", msgTokenAlgorithm, err)
	case errors.Is(err, errUnknownKey), errors.Is(err, errKeyAmbiguous):
		return nil, o.refuse(ctx, slog.LevelDebug, "unknown_key", msgTokenUnknownKey, err)
	case err != nil:
		return nil, err
	}
	payload, err := jws.Verify(k.Key)
	if err != nil {
		return nil, o.refuse(ctx, slog.LevelDebug, "signature", msgTokenSignature, err)
	}
	return o.principal(ctx, payload)
}

// principal checks the claims of a token whose signature is good, and
// maps them to a Principal.
func (o *OIDC) principal(ctx context.Context, payload []byte) (*Principal, error) {
	var std jwt.Claims
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &std); err != nil {
		return nil, o.refuse(ctx, slog.LevelInfo, "malformed", msgTokenMalformed, fmt.Errorf("token claims: %w", err))
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, o.refuse(ctx, slog.LevelInfo, "malformed", msgTokenMalformed, fmt.Errorf("token claims: %w", err))
	}
	err := std.ValidateWithLeeway(jwt.Expected{Issuer: o.issuer, AnyAudience: o.audience, Time: o.now()}, o.leeway)
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, o.refuse(ctx, slog.LevelInfo, "issuer", msgTokenIssuer, err)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, o.refuse(ctx, slog.LevelInfo, "audience", msgTokenAudience, err)
	case errors.Is(err, jwt.ErrExpired):
		return nil, o.refuse(ctx, slog.LevelInfo, "expired", msgTokenExpired, err)
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return nil, o.refuse(ctx, slog.LevelInfo, "not_yet_valid", msgTokenNotYet, err)
	case err != nil:
		return nil, o.refuse(ctx, slog.LevelInfo, "malformed", msgTokenMalformed, err)
	case std.Expiry == nil:
		return nil, o.refuse(ctx, slog.LevelInfo, "no_expiry", msgTokenNoExpiry, errors.New("token has no exp claim"))
	case std.Subject == "":
		return nil, o.refuse(ctx, slog.LevelInfo, "no_subject", msgTokenNoSubject, errors.New("token has no sub claim"))
	}
	p := &Principal{
		Subject: std.Subject,
		User:    cmp.Or(first(claimStrings(raw[o.userClaim])), std.Subject),
		Team:    first(claimStrings(raw[o.teamClaim])),
		Role:    o.role(claimStrings(raw[o.roleClaim])),
		Models:  slices.Clone(o.models),
	}
	return p, nil
}

// role returns the most powerful role named by vals, or the default.
func (o *OIDC) role(vals []string) Role {
	best := -1
	for _, v := range vals {
		var r Role
		if o.roleMap != nil {
			r = o.roleMap[v]
		} else {
			r = Role(v)
		}
		if i := slices.Index(Roles, r); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return o.defaultRole
	}
	return Roles[best]
}

// claimStrings reads a claim that is a string or an array of strings;
// anything else, and non-string array members, read as nothing.
func claimStrings(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) != nil {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, m := range arr {
		if json.Unmarshal(m, &s) == nil && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// refuse logs a refused token (never the token) and returns the
// caller-facing error.
func (o *OIDC) refuse(ctx context.Context, level slog.Level, reason, msg string, cause error) error {
	o.log.Log(ctx, level, "token refused", "decision", "deny", "reason", reason)
	if cause == nil {
		cause = errors.New(msg)
	}
	return apperr.Wrap(apperr.Unauthenticated, msg, cause)
}

// unavailable is the refusal when the issuer's keys cannot be had.
func (o *OIDC) unavailable(cause error, retry time.Duration) error {
	return &apperr.Error{Code: apperr.Unavailable, Message: msgTokenUnavailable, RetryAfter: max(retry, time.Second), Cause: cause}
}

// bearerJWS returns the compact JWS in r's Authorization header, or
// ErrNoCredentials when there is none: no header, another scheme, a
// Warden key, or a string that is not shaped like a JWS.
func bearerJWS(r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	var tok string
	found := 0
	for _, h := range hs {
		scheme, t, ok := strings.Cut(strings.TrimSpace(h), " ")
		t = strings.TrimSpace(t)
		if ok && strings.EqualFold(scheme, "Bearer") && !strings.HasPrefix(t, keys.Prefix) && looksLikeJWS(t) {
			tok = t
			found++
		}
	}
	switch {
	case found == 0:
		return "", ErrNoCredentials
	case len(hs) > 1:
		// A proxy in front may have looked at the other header.
		return "", apperr.New(apperr.Unauthenticated, msgTokenAmbiguous)
	}
	return tok, nil
}

// looksLikeJWS reports whether s is shaped like a compact JWS: three
// base64url parts whose first decodes to a JSON object with a string
// "alg". It decides only whose business s is, and proves nothing.
func looksLikeJWS(s string) bool {
	h, rest, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	p, sig, ok := strings.Cut(rest, ".")
	if !ok || h == "" || len(h) > maxHeaderSegment || !isBase64URL(p) || !isBase64URL(sig) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return false
	}
	var hdr struct {
		Alg *string `json:"alg"`
	}
	return json.Unmarshal(b, &hdr) == nil && hdr.Alg != nil
}

// isBase64URL reports whether s uses only the unpadded base64url
// alphabet (so, among other things, has no '.').
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
