package feed

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/gateway"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/anomaly"
	"github.com/wardenproject/warden/internal/monitor/metrics"
	"github.com/wardenproject/warden/internal/provider"
)

func call() gateway.Call {
	return gateway.Call{
		Time: time.Unix(1_700_000_000, 0), Duration: 120 * time.Millisecond, RequestID: "req-1", Route: "chat.completions",
		Model: "gpt-4o-mini", Provider: "openai", Deployment: "openai/gpt-4o-mini", Status: 200,
		KeyID: "key_0123456789abcdef", User: "ada", Team: "ml", Role: "user", ClientIP: netip.MustParseAddr("192.0.2.7"), UserAgent: "sdk/1",
		Usage: provider.Usage{InputTokens: 12, OutputTokens: 30, Known: true}, Cost: 42 * meter.MicroUSD,
		Verdicts: []guard.Verdict{{Class: "pii", Type: "email", Action: guard.Redact, Count: 1}},
		Prompt:   []byte(`{"messages":[{"role":"user","content":"mail [EMAIL_1]"}]}`),
	}
}

func TestAudit(t *testing.T) {
	store := audit.NewMemoryStore()
	signer, err := audit.NewEd25519Signer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(audit.WriterOptions{Store: store, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	refused := call()
	refused.RequestID, refused.Status, refused.Code, refused.KeyID = "req-2", 401, apperr.Unauthenticated, ""
	obs := Audit(w, slog.New(slog.DiscardHandler), true)
	obs(call())
	obs(refused)
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := store.AuditRecords(context.Background(), audit.Query{})
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	r := recs[0]
	if r.Kind != audit.KindCall || r.Action != "chat.completions" || r.KeyID != "key_0123456789abcdef" || r.ClientIP != "192.0.2.7" ||
		r.TokensIn != 12 || r.TokensOut != 30 || r.Cost != int64(42*meter.MicroUSD) || r.Principal.Team != "ml" ||
		len(r.Verdicts) != 1 || r.Verdicts[0].Type != "email" || r.Latency != 120*time.Millisecond {
		t.Errorf("record %+v", r)
	}
	if !strings.Contains(r.Payload, "[EMAIL_1]") {
		t.Errorf("payload %q, want the redacted prompt", r.Payload)
	}
	if recs[1].Status != 401 || recs[1].Reason != "invalid_api_key" {
		t.Errorf("refusal record %+v", recs[1])
	}
}

func TestMetrics(t *testing.T) {
	m := metrics.New(metrics.Options{Models: []string{"gpt-4o-mini"}, Providers: []string{"openai"}})
	obs := Metrics(m)
	obs(call())
	limited := call()
	limited.Status, limited.Code, limited.RefusedScope, limited.RefusedLimit = 429, apperr.RateLimited, "team", "rpm"
	limited.Usage = provider.Usage{}
	obs(limited)
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`warden_requests_total{code="ok",model="gpt-4o-mini",provider="openai",route="chat.completions",status_class="2xx"} 1`,
		`warden_tokens_total{kind="input",model="gpt-4o-mini"} 12`,
		`warden_rate_limit_refusals_total{limit="rpm",scope="team"} 1`,
		`warden_guard_verdicts_total{action="redact",class="pii",type="email"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type sink struct {
	mu     sync.Mutex
	alerts []alert.Alert
}

func (s *sink) Send(a alert.Alert) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a)
}

func TestAnomaly(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := &sink{}
	d, err := anomaly.New(anomaly.Config{Sink: s, Now: func() time.Time { return now }, GuardBlocks: anomaly.Burst{Count: 3, Window: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	obs := Anomaly(d)
	for i := range 3 {
		c := call()
		c.Time = now.Add(time.Duration(i) * time.Second)
		c.Status, c.Code = 400, apperr.ContentBlocked
		obs(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.alerts) != 1 || s.alerts[0].Rule != string(anomaly.RuleGuardBlocks) {
		t.Errorf("alerts %+v, want one guard_blocks alert", s.alerts)
	}
}

func TestBreakerStates(t *testing.T) {
	m := metrics.New(metrics.Options{Deployments: []string{"a", "b", "c"}})
	states := map[string]string{"a": "open", "b": "half-open", "c": "closed"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // one pass, then stop
	BreakerStates(ctx, m, []string{"a", "b", "c"}, func(id string) string { return states[id] }, time.Hour)
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`warden_breaker_state{deployment="a"} 2`, `warden_breaker_state{deployment="b"} 1`, `warden_breaker_state{deployment="c"} 0`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
