package gateway

import (
	"net/netip"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/provider"
)

// Call is what the gateway reports about every finished request, refused
// ones included: the audit log, the metrics and the anomaly detector are
// built from it. It never holds a key or a prompt.
type Call struct {
	Time      time.Time
	Duration  time.Duration
	RequestID string
	// Route is the operation ("chat.completions", "messages",
	// "passthrough", "models"), never a raw path.
	Route string
	// Model is what the caller asked for; ServedModel what answered.
	Model, ServedModel   string
	Provider, Deployment string
	// Status is the HTTP status the caller got; Code the error code of a
	// refusal ("" for success).
	Status int
	Code   apperr.Code
	// Who called, from where.
	KeyID, User, Team, Role string
	ClientIP                netip.Addr
	UserAgent               string
	Stream                  bool
	Usage                   provider.Usage
	Cost                    meter.Amount
	Retries, Fallbacks      int
	Verdicts                []guard.Verdict
	// RefusedScope and RefusedLimit say which limit refused the call:
	// scope key, user or team; limit rps, rpm, tpm, parallel or budget.
	RefusedScope, RefusedLimit string
	// PrefixTried is the first 8 bytes of the credential a refused call
	// presented, for the anomaly detector only; never log or store it.
	PrefixTried string
	// Prompt is the request body as it went upstream, after the input
	// guard's redaction; nil if the call never got that far. Observers
	// must not keep it unless configured to (audit.payloads).
	Prompt []byte
}

// Observer is told of every finished call, after the answer was written.
// It runs on the request's goroutine and must not block for long.
type Observer func(Call)

// observe reports a finished request to every observer.
func (g *Gateway) observe(sc *Scope, userAgent string, e *apperr.Error) {
	if len(g.o.Observers) == 0 {
		return
	}
	c := Call{
		Time: sc.Start, Duration: g.now().Sub(sc.Start), RequestID: sc.RequestID, Route: string(sc.Op),
		Model: sc.Model, ServedModel: sc.ServedModel, Provider: sc.Provider, Deployment: sc.Deployment,
		Status: sc.Status, ClientIP: sc.ClientIP, UserAgent: userAgent, Stream: sc.Stream,
		Usage: sc.Usage, Cost: sc.Cost, Retries: sc.Retries, Fallbacks: sc.Fallbacks, Verdicts: sc.Verdicts,
		RefusedScope: sc.RefusedScope, RefusedLimit: sc.RefusedLimit, PrefixTried: sc.PrefixTried,
	}
	if sc.Guarded {
		c.Prompt = sc.Body // only ever the redacted body
	}
	if e != nil {
		c.Code = e.Code
	}
	if c.Status == 0 {
		c.Status = 200
	}
	if p := sc.Principal; p != nil {
		c.KeyID, c.User, c.Team, c.Role = p.KeyID, p.User, p.Team, string(p.Role)
	}
	for _, o := range g.o.Observers {
		o(c)
	}
}
