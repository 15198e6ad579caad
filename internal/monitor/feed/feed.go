// Package feed turns the gateway's finished calls into what watches
// them: audit records, Prometheus metrics and anomaly-detector events.
// Each function returns a gateway.Observer; main wires them.
package feed

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/gateway"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/monitor/anomaly"
	"github.com/wardenproject/warden/internal/monitor/metrics"
)

// Metrics turns every finished call into metrics.
func Metrics(m *metrics.Metrics) gateway.Observer {
	return func(c gateway.Call) {
		var err error
		if c.Code != "" {
			err = &apperr.Error{Code: c.Code}
		}
		m.ObserveRequest(metrics.Request{Route: c.Route, Model: c.Model, Provider: c.Provider, Status: c.Status, Err: err, Duration: c.Duration})
		if c.Usage.Known {
			model := cmp.Or(c.ServedModel, c.Model)
			u := c.Usage
			m.AddTokens(model, u.InputTokens, u.OutputTokens, u.CachedInputTokens)
		}
		if c.Cost > 0 {
			m.AddCost(cmp.Or(c.ServedModel, c.Model), int64(c.Cost))
		}
		for _, v := range c.Verdicts {
			m.GuardVerdict(string(v.Class), v.Type, string(v.Action))
		}
		for range c.Retries {
			m.Retry(c.Provider)
		}
		for range c.Fallbacks {
			m.Fallback(c.Model)
		}
		switch {
		case c.RefusedLimit == "budget":
			m.BudgetRefusal(metrics.Scope(c.RefusedScope))
		case c.RefusedLimit != "":
			m.RateLimitRefusal(metrics.Scope(c.RefusedScope), metrics.Limit(c.RefusedLimit))
		case c.Code == apperr.Unauthenticated:
			m.AuthFailure(metrics.AuthInvalid)
		case c.Code == apperr.RateLimited && c.KeyID == "":
			m.AuthBlock() // refused before authentication: the failed-auth throttle
		}
	}
}

// Anomaly feeds every finished call to the anomaly detector.
func Anomaly(d *anomaly.Detector) gateway.Observer {
	return func(c gateway.Call) {
		ev := anomaly.Event{
			Time: c.Time, KeyID: c.KeyID, Team: c.Team, ClientIP: c.ClientIP, UserAgent: c.UserAgent,
			Status: c.Status, Tokens: c.Usage.InputTokens + c.Usage.OutputTokens, Cost: int64(c.Cost),
			AuthFailed:     c.Code == apperr.Unauthenticated,
			KeyPrefixTried: c.PrefixTried,
			GuardBlocked:   c.Code == apperr.ContentBlocked || c.Code == apperr.PromptInjection,
		}
		for _, v := range c.Verdicts {
			if v.Class == guard.ClassInjection && v.Action != guard.Allow {
				ev.Injection = true
			}
		}
		d.Observe(ev)
	}
}

// maxPayload bounds a stored prompt: the audit log is for accountability,
// not an archive of every document sent.
const maxPayload = 64 << 10

// Audit writes one audit record per finished call. With the block
// policy a full queue makes the request's goroutine wait for room (the
// answer is already written, so backpressure is what block can do here);
// a record that still finds no room is counted and logged by the writer.
//
// With payloads set, the prompt as it went upstream (after the input
// guard's redaction, never before) is stored too, up to maxPayload bytes.
func Audit(w *audit.Writer, log *slog.Logger, payloads bool) gateway.Observer {
	return func(c gateway.Call) {
		rec := audit.Record{
			Time: c.Time, RequestID: c.RequestID, Kind: audit.KindCall, Action: c.Route,
			Principal: audit.Principal{User: c.User, Team: c.Team, Role: c.Role}, KeyID: c.KeyID,
			UserAgent: c.UserAgent, Route: c.Route, Model: cmp.Or(c.ServedModel, c.Model),
			Provider: c.Provider, Deployment: c.Deployment, Status: c.Status, Reason: string(c.Code),
			Latency: c.Duration, TokensIn: c.Usage.InputTokens, TokensOut: c.Usage.OutputTokens,
			Cost: int64(c.Cost), Retries: c.Retries, Fallbacks: c.Fallbacks,
		}
		if c.ClientIP.IsValid() {
			rec.ClientIP = c.ClientIP.String()
		}
		if payloads && len(c.Prompt) > 0 {
			rec.Payload = string(c.Prompt[:min(len(c.Prompt), maxPayload)])
		}
		for _, v := range c.Verdicts {
			rec.Verdicts = append(rec.Verdicts, audit.Verdict{Class: string(v.Class), Type: v.Type, Action: string(v.Action), Count: int64(v.Count)})
		}
		if err := w.Log(context.Background(), rec); err != nil {
			log.Error("audit record not written", "request_id", c.RequestID, "reason", err.Error())
		}
	}
}

// BreakerStates copies the circuit breakers' states into the metrics
// every interval until ctx ends. state returns "closed", "half-open" or
// "open" for a deployment id.
func BreakerStates(ctx context.Context, m *metrics.Metrics, ids []string, state func(id string) string, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for _, id := range ids {
			switch state(id) {
			case "open":
				m.SetBreakerState(id, metrics.BreakerOpen)
			case "half-open":
				m.SetBreakerState(id, metrics.BreakerHalfOpen)
			default:
				m.SetBreakerState(id, metrics.BreakerClosed)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
