// Package admin serves Warden's admin REST API under /admin/v1: keys,
// teams, users, providers, usage, the audit log and alerts, for the CLI's remote use, the web UI
// and scripts.
//
// Callers authenticate as on the data plane, with a virtual key or an OIDC
// token in "Authorization: Bearer", and what they may do follows from their
// role alone, through one permission table (see routes.go): for each route
// and role an access level of none, own, team or all. A refused route is a
// 403 that names the role and the action; a record outside the caller's
// reach is a 404, exactly as if it did not exist. Nobody but an admin can
// hand out a role above their own, and an admin key gets no favours on the
// data plane.
//
// Every route is described in openapi.yaml, embedded and served at
// /admin/v1/openapi.yaml; tests hold the code and the file to each other.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/secret"
)

// KeyService creates, reads, changes and ends virtual keys.
// *keys.Manager satisfies it.
type KeyService interface {
	Create(ctx context.Context, s keys.Spec) (keys.Key, secret.Secret, error)
	Get(ctx context.Context, id string) (keys.Key, error)
	List(ctx context.Context) ([]keys.Key, error)
	UpdateKey(ctx context.Context, id string, u keys.KeyUpdate) (keys.Key, error)
	Revoke(ctx context.Context, id string) error
	Suspend(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	Rotate(ctx context.Context, id string, grace time.Duration) (keys.Key, secret.Secret, error)
}

// TeamService manages teams. *keys.Manager satisfies it.
type TeamService interface {
	CreateTeam(ctx context.Context, t keys.Team) (keys.Team, error)
	GetTeam(ctx context.Context, name string) (keys.Team, error)
	ListTeams(ctx context.Context) ([]keys.Team, error)
	UpdateTeam(ctx context.Context, name string, u keys.TeamUpdate) (keys.Team, error)
	DeleteTeam(ctx context.Context, name string) error
}

// UserService manages users. *keys.Manager satisfies it.
type UserService interface {
	CreateUser(ctx context.Context, u keys.User) (keys.User, error)
	GetUser(ctx context.Context, name string) (keys.User, error)
	ListUsers(ctx context.Context) ([]keys.User, error)
	UpdateUser(ctx context.Context, name string, u keys.UserUpdate) (keys.User, error)
	DeleteUser(ctx context.Context, name string) error
}

// UsageQuerier sums recorded usage. Every meter.UsageStore satisfies it.
type UsageQuerier interface {
	UsageSummary(ctx context.Context, q meter.UsageQuery) ([]meter.UsageRow, error)
}

// AuditReader reads the audit log. Every audit.Reader satisfies it.
type AuditReader interface {
	AuditRecords(ctx context.Context, q audit.Query) ([]audit.Record, error)
}

// AlertLister lists stored alerts, newest first. Every alert.Store
// satisfies it.
type AlertLister interface {
	ListAlerts(ctx context.Context, since time.Time, limit int) ([]alert.Alert, error)
}

// AuthThrottle slows down and blocks addresses that keep failing
// authentication. *limit.AuthThrottle satisfies it; the server shares one
// with the data plane, so that guessing keys here counts there too.
type AuthThrottle interface {
	Check(addr netip.Addr) (delay time.Duration, blocked bool, retryAfter time.Duration)
	Failure(addr netip.Addr)
	Success(addr netip.Addr)
}

var (
	_ KeyService   = (*keys.Manager)(nil)
	_ TeamService  = (*keys.Manager)(nil)
	_ UserService  = (*keys.Manager)(nil)
	_ UsageQuerier = meter.UsageStore(nil)
	_ AuditReader  = audit.Reader(nil)
	_ AlertLister  = alert.Store(nil)
)

// ProviderInfo describes a configured upstream provider for
// GET /admin/v1/providers. It has room for nothing secret: no key, no
// credential reference, no URL beyond its host.
type ProviderInfo struct {
	Name string
	// Type is the adapter: openai, anthropic, huggingface, google or http.
	Type string
	// Host is the host (and port) of the provider's base URL.
	Host string
	// Keys is how many API keys are configured for the provider.
	Keys int
	// Models are the public model names served, in part or whole, by the
	// provider.
	Models []string
	// Deployments are the provider's upstream targets, with the state of
	// each one's circuit breaker.
	Deployments []DeploymentInfo
}

// DeploymentInfo is one upstream target of a provider.
type DeploymentInfo struct {
	// ID is the router's deployment id, "provider/model#n".
	ID string
	// Model is the model name sent upstream.
	Model string
	// Breaker is "closed", "open" or "half-open"; "" when unknown.
	Breaker string
}

// Options configure New. Every field but Logger, Now and TrustedProxies is
// required.
type Options struct {
	// Auth authenticates callers: the same chain as the data plane's
	// bearer routes (virtual keys, then OIDC if configured).
	Auth auth.Authenticator
	// Record, if set, receives an audit record for every change made
	// through the API and every refused request (401, 403).
	Record func(audit.Record)
	// AuthThrottle slows down and blocks addresses that keep failing.
	AuthThrottle AuthThrottle
	// Keys, Teams and Users manage the records; usually one *keys.Manager.
	Keys  KeyService
	Teams TeamService
	Users UserService
	// Usage answers usage queries.
	Usage UsageQuerier
	// Audit reads the audit log for GET /admin/v1/audit.
	Audit AuditReader
	// Alerts lists alerts for GET /admin/v1/alerts.
	Alerts AlertLister
	// Providers lists the configured providers; it is called on every
	// GET /admin/v1/providers, so that breaker states are current.
	Providers func() []ProviderInfo
	// TrustedProxies are the peers whose X-Forwarded-For is believed when
	// checking a key's IP allowlist and throttling failures.
	TrustedProxies []netip.Prefix
	// Logger receives refusals and every change made, with the caller's
	// key id or subject, never a key; nil discards.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// MaxBodyBytes bounds a request body: admin requests are small records.
const MaxBodyBytes = 1 << 20

// api is the handler New returns.
type api struct {
	o      Options
	log    *slog.Logger
	now    func() time.Time
	routes []*route
}

// New checks o and returns the admin API's handler, which serves every
// path under /admin/.
func New(o Options) (http.Handler, error) {
	var missing []error
	for _, f := range []struct {
		name   string
		absent bool
	}{
		{"Auth", o.Auth == nil}, {"AuthThrottle", o.AuthThrottle == nil}, {"Keys", o.Keys == nil},
		{"Teams", o.Teams == nil}, {"Users", o.Users == nil}, {"Usage", o.Usage == nil}, {"Audit", o.Audit == nil},
		{"Alerts", o.Alerts == nil}, {"Providers", o.Providers == nil},
	} {
		if f.absent {
			missing = append(missing, errors.New("admin API: no "+f.name+" given"))
		}
	}
	if len(missing) > 0 {
		return nil, errors.Join(missing...)
	}
	a := &api{o: o, log: o.Logger, now: o.Now, routes: compiledRoutes}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}
