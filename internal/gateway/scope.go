package gateway

import (
	"context"
	"net/netip"
	"time"

	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/provider"
)

// Dialect is the wire format a route speaks, which decides the shape of
// its error bodies.
type Dialect int

// Dialects.
const (
	OpenAI Dialect = iota
	Anthropic
)

// Scope is the state of one data-plane request that stages share. It is
// the only way they share anything: each stage fills in what it decided,
// and post-hooks (settle, audit) read it on the way out.
type Scope struct {
	RequestID string
	Start     time.Time
	ClientIP  netip.Addr
	Dialect   Dialect
	Op        provider.Op
	// Provider is the pass-through route's provider, or the provider of the
	// deployment that served the call.
	Provider   string
	Deployment string
	Principal  *auth.Principal

	// Body is the request body, read once by the parse stage.
	Body []byte
	// BodyIsJSON says the parse stage decoded Body as a JSON object.
	BodyIsJSON bool
	// Model is the public model name the caller asked for; ServedModel the
	// one that answered (differs after a fallback).
	Model       string
	ServedModel string
	Stream      bool
	// GuardPolicy is the guardrail policy of the call; Pseudonyms the
	// placeholders the input guard put in the prompt, swapped back in the
	// answer; Verdicts what the guards found and did.
	GuardPolicy guard.Policy
	// PrefixTried is the first bytes of a refused credential (see
	// presentedPrefix); empty otherwise.
	PrefixTried string
	// Guarded says Body is what the input guard let through (redacted).
	Guarded    bool
	Pseudonyms *guard.Pseudonyms
	Verdicts   []guard.Verdict
	// RefusedScope and RefusedLimit say which limit refused the call, if
	// one did: scope key, user or team; limit rps, rpm, tpm, parallel or
	// budget.
	RefusedScope, RefusedLimit string
	// WantsUsage is the caller's stream_options.include_usage.
	WantsUsage bool

	Status int
	Usage  provider.Usage
	// Cost is what the call cost, from Usage (or the estimate when the
	// upstream reported none).
	Cost      meter.Amount
	Attempts  int
	Retries   int
	Fallbacks int
	// Started is set once response headers went to the caller; from then
	// on an error can only end the stream, not replace the response.
	Started bool
}

type scopeKey struct{}

// ScopeFrom returns the request's scope. The gateway installs one for every
// data-plane request before any stage runs.
func ScopeFrom(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

func withScope(ctx context.Context, s *Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}
