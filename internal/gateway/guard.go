package gateway

import (
	"context"
	"net/http"

	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/provider"
)

// Guardrails are what the guard stages apply. Every field is required but
// Validation, whose zero value bounds nothing.
type Guardrails struct {
	// Guard inspects prompts and answers.
	Guard *guard.Guard
	// Policy returns the policy of a call to model by a caller in team
	// with key keyID (empty when unknown): the configured default with its
	// model, team and key overrides merged in.
	Policy func(model, team, keyID string) guard.Policy
	// Validation bounds requests.
	Validation guard.ValidationLimits
}

func (gr *Guardrails) problems() []string {
	switch {
	case gr == nil:
		return []string{"no guardrails"}
	case gr.Guard == nil || gr.Policy == nil:
		return []string{"guardrails incomplete"}
	}
	return nil
}

// validateRequest checks a model request's shape and size before anything
// is spent on it: required fields, types, roles, bounds. It names the
// field at fault.
func (g *Gateway) validateRequest(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sc := ScopeFrom(r.Context())
		if sc.BodyIsJSON {
			if err := guard.Validate(sc.Op, sc.Body, g.o.Guardrails.Validation); err != nil {
				return err
			}
		}
		return next.ServeHTTP(w, r)
	})
}

// guardInput applies the input guardrails: personal data and secrets in
// the prompt are allowed, flagged, masked, redacted, pseudonymized or
// blocked, and a likely prompt injection flagged or blocked, by the
// policy of this model, team and key. The upstream gets the rewritten
// body. It runs on pass-through routes too: a guardrail that a route can
// skip is no guardrail.
func (g *Gateway) guardInput(next Handler) Handler {
	gr := g.o.Guardrails
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		ctx := r.Context()
		sc := ScopeFrom(ctx)
		var team, keyID string
		if p := sc.Principal; p != nil {
			team, keyID = p.Team, p.KeyID
		}
		sc.GuardPolicy = gr.Policy(sc.Model, team, keyID)
		if sc.Op == provider.OpTranscriptions {
			// An audio upload: nothing in it the detectors can read.
			return next.ServeHTTP(w, r)
		}
		res, err := gr.Guard.Input(ctx, sc.Op, sc.Body, sc.GuardPolicy)
		sc.Verdicts = append(sc.Verdicts, res.Verdicts...)
		if err != nil {
			return err
		}
		sc.Body, sc.Pseudonyms, sc.Guarded = res.Body, res.Pseudonyms, true
		return next.ServeHTTP(w, r)
	})
}

// guardOutput applies the output guardrails to a complete JSON answer and
// swaps pseudonyms back.
func (g *Gateway) guardOutput(ctx context.Context, sc *Scope, body []byte) ([]byte, error) {
	res, err := g.o.Guardrails.Guard.Output(ctx, sc.Op, body, sc.GuardPolicy, sc.Pseudonyms)
	sc.Verdicts = append(sc.Verdicts, res.Verdicts...)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}
