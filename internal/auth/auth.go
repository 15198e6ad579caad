// Package auth authenticates requests to the data plane. Authenticators are
// tried in order by Chain: each either recognises the request's credentials
// and decides (a principal or a definite refusal), or says ErrNoCredentials,
// "not mine", and the next one is asked. The first success wins; when no
// authenticator recognises anything the request is refused.
//
// Presented credentials never appear in errors or logs, even invalid ones:
// an invalid "key" is often a real provider key pasted in the wrong place.
package auth

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
)

// Principal is an authenticated caller: an application holding a virtual
// key, or a person holding an OIDC token.
type Principal struct {
	// KeyID and KeyName identify the virtual key that authenticated; empty
	// for people authenticated by a token.
	KeyID, KeyName string
	// Key is the full record of that virtual key, with its policy (routes,
	// IP allowlist, limits, budget); nil for people.
	Key *keys.Key
	// Models are the model names or globs the caller may use; empty means
	// every model.
	Models []string
	// Subject identifies a person authenticated by a token (the "sub"
	// claim); empty for virtual keys.
	Subject string
	// User and Team are who the caller acts as and for, for limits,
	// budgets, usage and audit; empty when unknown.
	User, Team string
	// Role decides what the caller may do on the admin plane.
	Role Role
}

// Role is a caller's role in role-based access control.
type Role string

// Roles, from most to least powerful.
const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleManager manages the keys and budgets of their own team.
	RoleManager Role = "manager"
	// RoleUser calls the data plane and manages their own keys.
	RoleUser Role = "user"
	// RoleAuditor reads usage and audit records, and changes nothing.
	RoleAuditor Role = "auditor"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleAdmin, RoleManager, RoleUser, RoleAuditor}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// AllowsModel reports whether the caller may use model. A nil Principal,
// an unauthenticated caller, may use none.
func (p *Principal) AllowsModel(model string) bool {
	if p == nil {
		return false
	}
	return keys.Key{Models: p.Models}.AllowsModel(model)
}

// Authenticator authenticates a request. It returns a principal, or
// ErrNoCredentials if the request carries nothing it recognises, or any
// other error to refuse the request outright.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// ErrNoCredentials means "not mine": the request has no credentials this
// authenticator recognises, and Chain moves on to the next.
var ErrNoCredentials = errors.New("no credentials")

// Caller-facing messages. They name the fault and never the credential.
const (
	msgMissing     = "missing API key: send Authorization: Bearer wdn_…"
	msgUnrecognise = "invalid API key: Warden keys start with wdn_ (send Authorization: Bearer wdn_…)"
	msgInvalid     = "invalid API key"
	msgExpired     = "API key expired"
	msgSuspended   = "API key suspended"
	msgAmbiguous   = "invalid API key: send one key, in one header"
	msgUnavailable = "cannot check API keys right now; try again shortly"
)

// unavailableRetry is the Retry-After sent when keys cannot be checked:
// the store usually answers again within moments.
const unavailableRetry = time.Second

// VirtualKeys authenticates Warden keys from "Authorization: Bearer wdn_…",
// and from "x-api-key: wdn_…" when AllowXAPIKey is set (the Anthropic
// routes, whose SDKs send the key there). Credentials without the wdn_
// prefix are not its business: it says ErrNoCredentials, so that another
// authenticator (JWT, later) can have them.
type VirtualKeys struct {
	Keys         *keys.Manager
	AllowXAPIKey bool
	// Logger receives refusals with the key id when known (never the
	// key); nil discards.
	Logger *slog.Logger
}

var _ Authenticator = VirtualKeys{}

// Authenticate implements Authenticator.
func (v VirtualKeys) Authenticate(r *http.Request) (*Principal, error) {
	log := v.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if v.Keys == nil {
		// A wiring mistake; refuse rather than let anyone through.
		return nil, apperr.Wrap(apperr.Unavailable, msgUnavailable, errors.New("virtual keys: no key manager configured"))
	}
	cred, err := v.credential(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	k, err := v.Keys.Authenticate(ctx, cred)
	switch {
	case err == nil:
		// The store refuses unknown roles; should one appear all the
		// same, it gets the default rather than any power it names.
		role := Role(k.Role)
		if !role.Valid() {
			role = RoleUser
		}
		return &Principal{KeyID: k.ID, KeyName: k.Name, Key: &k, Models: k.Models, User: k.User, Team: k.Team, Role: role}, nil
	case errors.Is(err, keys.ErrInvalid):
		log.DebugContext(ctx, "API key refused", "decision", "deny", "reason", "invalid")
		return nil, apperr.Wrap(apperr.Unauthenticated, msgInvalid, keys.ErrInvalid)
	case errors.Is(err, keys.ErrExpired):
		log.InfoContext(ctx, "API key refused", "key_id", k.ID, "decision", "deny", "reason", "expired")
		return nil, apperr.Wrap(apperr.Unauthenticated, msgExpired, err)
	case errors.Is(err, keys.ErrSuspended):
		log.InfoContext(ctx, "API key refused", "key_id", k.ID, "decision", "deny", "reason", "suspended")
		return nil, apperr.Wrap(apperr.Unauthenticated, msgSuspended, err)
	default:
		// The store could not be asked. Fail closed.
		log.WarnContext(ctx, "API key not checked", "decision", "deny", "reason", err.Error())
		return nil, &apperr.Error{Code: apperr.Unavailable, Message: msgUnavailable, RetryAfter: unavailableRetry, Cause: err}
	}
}

// credential finds the Warden key in r's headers. Several Authorization
// headers, or two different Warden keys, are refused outright rather than
// guessed at: a proxy in front may have looked at the other one.
func (v VirtualKeys) credential(r *http.Request) (string, error) {
	ambiguous := apperr.New(apperr.Unauthenticated, msgAmbiguous)
	var bearer, xkey string
	switch hs := r.Header.Values("Authorization"); len(hs) {
	case 0:
	case 1:
		scheme, tok, ok := strings.Cut(strings.TrimSpace(hs[0]), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			bearer = strings.TrimSpace(tok)
		}
	default:
		return "", ambiguous
	}
	if v.AllowXAPIKey {
		switch hs := r.Header.Values("X-Api-Key"); len(hs) {
		case 0:
		case 1:
			xkey = strings.TrimSpace(hs[0])
		default:
			return "", ambiguous
		}
	}
	bearerMine, xMine := strings.HasPrefix(bearer, keys.Prefix), strings.HasPrefix(xkey, keys.Prefix)
	switch {
	case bearerMine && xMine && subtle.ConstantTimeCompare([]byte(bearer), []byte(xkey)) != 1:
		return "", ambiguous
	case bearerMine:
		return bearer, nil
	case xMine:
		return xkey, nil
	}
	return "", ErrNoCredentials
}

// chain is the Authenticator that Chain returns.
type chain []Authenticator

// Chain returns an Authenticator that tries each of a in order. The first
// success wins; ErrNoCredentials moves on to the next. If every one says
// ErrNoCredentials the request is refused as unauthenticated. Any other
// error ends the chain: an *apperr.Error as it is (VirtualKeys returns
// Unavailable when the key store cannot be asked), anything else as
// "invalid API key" with the error kept as the internal cause. An
// authenticator that returns neither a principal nor an error is a bug,
// and refused too.
func Chain(a ...Authenticator) Authenticator {
	return chain(slices.Clone(a))
}

// Authenticate implements Authenticator.
func (c chain) Authenticate(r *http.Request) (*Principal, error) {
	for _, a := range c {
		p, err := a.Authenticate(r)
		switch {
		case err == nil && p != nil:
			return p, nil
		case err == nil:
			return nil, apperr.Wrap(apperr.Internal, "internal error: authentication failed", errors.New("an authenticator returned no principal and no error"))
		case errors.Is(err, ErrNoCredentials):
			continue
		}
		var ae *apperr.Error
		if errors.As(err, &ae) {
			return nil, ae
		}
		return nil, apperr.Wrap(apperr.Unauthenticated, msgInvalid, err)
	}
	if hasCredentials(r) {
		return nil, apperr.New(apperr.Unauthenticated, msgUnrecognise)
	}
	return nil, apperr.New(apperr.Unauthenticated, msgMissing)
}

// hasCredentials reports whether r carries something meant as a
// credential, to tell "no key" from "a key nobody recognised" in the
// message.
func hasCredentials(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != ""
}
