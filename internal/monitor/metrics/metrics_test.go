package metrics

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/detect"
)

var testOpts = Options{
	Models:      []string{"gpt-4o", "claude-sonnet"},
	Providers:   []string{"openai", "anthropic"},
	Deployments: []string{"openai-east", "anthropic-main"},
	Version:     "1.2.3",
}

func TestObserveRequest(t *testing.T) {
	tests := []struct {
		name string
		req  Request
		want labels
	}{
		{"success", Request{Route: "chat.completions", Model: "gpt-4o", Provider: "openai", Status: 200, Duration: 1500 * time.Millisecond},
			labels{"route": "chat.completions", "model": "gpt-4o", "provider": "openai", "status_class": "2xx", "code": "ok"}},
		{"status defaults to 200", Request{Route: "messages", Model: "claude-sonnet", Provider: "anthropic", Duration: time.Second},
			labels{"route": "messages", "model": "claude-sonnet", "provider": "anthropic", "status_class": "2xx", "code": "ok"}},
		{"refusal takes the status of its code", Request{Route: "chat.completions", Model: "gpt-4o", Err: apperr.New(apperr.RateLimited, "slow down"), Duration: time.Millisecond},
			labels{"route": "chat.completions", "model": "gpt-4o", "provider": Other, "status_class": "4xx", "code": "rate_limit_exceeded"}},
		{"explicit status wins over the code's", Request{Route: "chat.completions", Model: "gpt-4o", Provider: "openai", Status: 404, Err: &apperr.Error{Code: apperr.Upstream, Status: 404}},
			labels{"route": "chat.completions", "model": "gpt-4o", "provider": "openai", "status_class": "4xx", "code": "upstream_error"}},
		{"plain error is internal", Request{Route: "embeddings", Model: "gpt-4o", Provider: "openai", Err: errors.New("boom")},
			labels{"route": "embeddings", "model": "gpt-4o", "provider": "openai", "status_class": "5xx", "code": "internal_error"}},
		{"wrapped apperr keeps its code", Request{Route: "messages", Model: "claude-sonnet", Provider: "anthropic", Err: fmt.Errorf("stage: %w", apperr.New(apperr.UpstreamTimeout, "late"))},
			labels{"route": "messages", "model": "claude-sonnet", "provider": "anthropic", "status_class": "5xx", "code": "upstream_timeout"}},
		{"unknown apperr code is other", Request{Route: "models", Err: apperr.New(apperr.Code("made_up"), "x")},
			labels{"route": "models", "model": None, "provider": Other, "status_class": "5xx", "code": Other}},
		{"no model is none", Request{Route: "models", Status: 200},
			labels{"route": "models", "model": None, "provider": Other, "status_class": "2xx", "code": "ok"}},
		{"unknown model is other", Request{Route: "chat.completions", Model: "gpt-9-preview", Provider: "openai", Status: 200},
			labels{"route": "chat.completions", "model": Other, "provider": "openai", "status_class": "2xx", "code": "ok"}},
		{"raw path is not a route", Request{Route: "/v1/chat/completions", Model: "gpt-4o", Provider: "openai", Status: 200},
			labels{"route": Other, "model": "gpt-4o", "provider": "openai", "status_class": "2xx", "code": "ok"}},
		{"passthrough relays an upstream 5xx", Request{Route: "passthrough", Provider: "openai", Status: 503},
			labels{"route": "passthrough", "model": None, "provider": "openai", "status_class": "5xx", "code": "ok"}},
		{"odd status is other", Request{Route: "chat.completions", Model: "gpt-4o", Provider: "openai", Status: 999},
			labels{"route": "chat.completions", "model": "gpt-4o", "provider": "openai", "status_class": Other, "code": "ok"}},
		{"redirect", Request{Route: "models", Status: 304},
			labels{"route": "models", "model": None, "provider": Other, "status_class": "3xx", "code": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(testOpts)
			m.ObserveRequest(tt.req)
			m.ObserveRequest(tt.req)
			fams := scrape(t, m)
			if got, ok := value(fams, "warden_requests_total", tt.want); !ok || got != 2 {
				t.Fatalf("requests_total%v = %v (found %v), want 2; have %v", tt.want, got, ok, fams["warden_requests_total"])
			}
			if n := len(fams["warden_requests_total"].GetMetric()); n != 1 {
				t.Errorf("requests_total has %d series, want 1", n)
			}
			h := find(fams, "warden_request_duration_seconds", labels{"route": tt.want["route"], "model": tt.want["model"]})
			if h == nil {
				t.Fatal("request_duration_seconds series missing")
			}
			if c, s := h.GetHistogram().GetSampleCount(), h.GetHistogram().GetSampleSum(); c != 2 || math.Abs(s-2*tt.req.Duration.Seconds()) > 1e-9 {
				t.Errorf("duration count %d sum %v, want 2 and %v", c, s, 2*tt.req.Duration.Seconds())
			}
		})
	}
}

func TestHistogramBuckets(t *testing.T) {
	m := New(testOpts)
	m.ObserveUpstream("openai", 3*time.Millisecond)
	m.ObserveUpstream("openai", 700*time.Millisecond)
	m.ObserveUpstream("openai", 90*time.Second)
	m.ObserveUpstream("openai", 10*time.Minute)
	m.ObserveUpstream("azure-secret-tenant", time.Second)
	fams := scrape(t, m)
	h := find(fams, "warden_upstream_duration_seconds", labels{"provider": "openai"}).GetHistogram()
	if h.GetSampleCount() != 4 {
		t.Fatalf("sample count %d, want 4", h.GetSampleCount())
	}
	bs := h.GetBucket()
	// The text format adds the +Inf bucket.
	if len(bs) != len(Buckets)+1 || bs[0].GetUpperBound() != 0.005 || bs[len(bs)-2].GetUpperBound() != 120 || !math.IsInf(bs[len(bs)-1].GetUpperBound(), 1) {
		t.Fatalf("buckets %v, want 5ms..120s and +Inf", bs)
	}
	want := map[float64]uint64{0.005: 1, 0.5: 1, 1: 2, 60: 2, 120: 3, math.Inf(1): 4}
	for _, b := range bs {
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if find(fams, "warden_upstream_duration_seconds", labels{"provider": Other}) == nil {
		t.Error("an unconfigured provider should count as other")
	}
}

func TestCounters(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *Metrics)
		metric string
		labels labels
		want   float64
	}{
		{"tokens input", func(m *Metrics) { m.AddTokens("gpt-4o", 100, 20, 30); m.AddTokens("gpt-4o", 1, 2, 0) },
			"warden_tokens_total", labels{"model": "gpt-4o", "kind": "input"}, 101},
		{"tokens output", func(m *Metrics) { m.AddTokens("gpt-4o", 100, 20, 30); m.AddTokens("gpt-4o", 1, 2, 0) },
			"warden_tokens_total", labels{"model": "gpt-4o", "kind": "output"}, 22},
		{"tokens cached", func(m *Metrics) { m.AddTokens("gpt-4o", 100, 20, 30) },
			"warden_tokens_total", labels{"model": "gpt-4o", "kind": "cached"}, 30},
		{"tokens of an unknown model", func(m *Metrics) { m.AddTokens("mystery", 5, 0, 0) },
			"warden_tokens_total", labels{"model": Other, "kind": "input"}, 5},
		{"cost in dollars from nano-dollars", func(m *Metrics) { m.AddCost("claude-sonnet", 1_500_000_000); m.AddCost("claude-sonnet", 250) },
			"warden_cost_usd_total", labels{"model": "claude-sonnet"}, 1.50000025},
		{"rate limit", func(m *Metrics) { m.RateLimitRefusal(ScopeKey, LimitRPM); m.RateLimitRefusal(ScopeKey, LimitRPM) },
			"warden_rate_limit_refusals_total", labels{"scope": "key", "limit": "rpm"}, 2},
		{"rate limit parallel on team", func(m *Metrics) { m.RateLimitRefusal(ScopeTeam, LimitParallel) },
			"warden_rate_limit_refusals_total", labels{"scope": "team", "limit": "parallel"}, 1},
		{"rate limit of unknown kind", func(m *Metrics) { m.RateLimitRefusal(Scope("tenant-42"), Limit("per-fortnight")) },
			"warden_rate_limit_refusals_total", labels{"scope": Other, "limit": Other}, 1},
		{"budget", func(m *Metrics) { m.BudgetRefusal(ScopeUser) },
			"warden_budget_refusals_total", labels{"scope": "user"}, 1},
		{"auth failure", func(m *Metrics) { m.AuthFailure(AuthExpired); m.AuthFailure(AuthExpired) },
			"warden_auth_failures_total", labels{"reason": "expired"}, 2},
		{"auth failure with an error text as reason", func(m *Metrics) { m.AuthFailure(AuthReason("dial tcp 10.0.0.1:5432: refused")) },
			"warden_auth_failures_total", labels{"reason": Other}, 1},
		{"auth block", func(m *Metrics) { m.AuthBlock(); m.AuthBlock(); m.AuthBlock() },
			"warden_auth_blocks_total", labels{}, 3},
		{"guard verdict", func(m *Metrics) { m.GuardVerdict("pii", "email", "redact") },
			"warden_guard_verdicts_total", labels{"class": "pii", "type": "email", "action": "redact"}, 1},
		{"guard verdict of a secret rule", func(m *Metrics) { m.GuardVerdict("secret", "generic_secret", "block") },
			"warden_guard_verdicts_total", labels{"class": "secret", "type": "generic_secret", "action": "block"}, 1},
		{"guard injection", func(m *Metrics) { m.GuardVerdict("injection", "prompt_injection", "allow") },
			"warden_guard_verdicts_total", labels{"class": "injection", "type": "prompt_injection", "action": "allow"}, 1},
		{"guard unknown type", func(m *Metrics) { m.GuardVerdict("pii", "shoe_size", "flag") },
			"warden_guard_verdicts_total", labels{"class": "pii", "type": Other, "action": "flag"}, 1},
		{"guard unknown class and action", func(m *Metrics) { m.GuardVerdict("vibes", "email", "explode") },
			"warden_guard_verdicts_total", labels{"class": Other, "type": "email", "action": Other}, 1},
		{"guard custom type from options", func(m *Metrics) { m.GuardVerdict("secret", "acme_token", "block") },
			"warden_guard_verdicts_total", labels{"class": "secret", "type": "acme_token", "action": "block"}, 1},
		{"retry", func(m *Metrics) { m.Retry("anthropic"); m.Retry("anthropic") },
			"warden_retries_total", labels{"provider": "anthropic"}, 2},
		{"fallback", func(m *Metrics) { m.Fallback("gpt-4o") },
			"warden_fallbacks_total", labels{"model": "gpt-4o"}, 1},
		{"audit drops", func(m *Metrics) { m.AuditDropped(3); m.AuditDropped(4) },
			"warden_audit_dropped_total", labels{}, 7},
		{"negative counts are ignored", func(m *Metrics) { m.AuditDropped(-5); m.AuditDropped(1) },
			"warden_audit_dropped_total", labels{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOpts
			o.GuardTypes = []string{"acme_token"}
			m := New(o)
			tt.record(m)
			got, ok := value(scrape(t, m), tt.metric, tt.labels)
			if !ok || math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("%s%v = %v (found %v), want %v", tt.metric, tt.labels, got, ok, tt.want)
			}
		})
	}
}

func TestNegativeUsageIgnored(t *testing.T) {
	// A counter panics on a negative add; a refund or a malformed usage
	// report must not take the gateway down.
	m := New(testOpts)
	m.AddTokens("gpt-4o", -1, -2, -3)
	m.AddCost("gpt-4o", -100)
	m.AddCost("gpt-4o", 0)
	fams := scrape(t, m)
	for _, name := range []string{"warden_tokens_total", "warden_cost_usd_total"} {
		if n := len(fams[name].GetMetric()); n != 0 {
			t.Errorf("%s has %d series after only negative adds", name, n)
		}
	}
}

func TestBreakerState(t *testing.T) {
	m := New(testOpts)
	fams := scrape(t, m)
	for _, d := range testOpts.Deployments {
		if v, ok := value(fams, "warden_breaker_state", labels{"deployment": d}); !ok || v != 0 {
			t.Errorf("breaker_state{%s} = %v (found %v) before any change, want 0 (closed)", d, v, ok)
		}
	}
	m.SetBreakerState("openai-east", BreakerOpen)
	m.SetBreakerState("anthropic-main", BreakerHalfOpen)
	m.SetBreakerState("not-configured", BreakerOpen)
	fams = scrape(t, m)
	for d, want := range map[string]float64{"openai-east": 2, "anthropic-main": 1} {
		if v, _ := value(fams, "warden_breaker_state", labels{"deployment": d}); v != want {
			t.Errorf("breaker_state{%s} = %v, want %v", d, v, want)
		}
	}
	if got := labelValues(fams, "warden_breaker_state", "deployment"); !slices.Equal(got, []string{"anthropic-main", "openai-east"}) {
		t.Errorf("deployments %v: an unconfigured one must not appear", got)
	}
	m.SetBreakerState("openai-east", BreakerClosed)
	if v, _ := value(scrape(t, m), "warden_breaker_state", labels{"deployment": "openai-east"}); v != 0 {
		t.Errorf("breaker back to closed reads %v", v)
	}
}

func TestAuditQueueDepth(t *testing.T) {
	var mu sync.Mutex
	depth := 7.0
	o := testOpts
	o.AuditQueueDepth = func() float64 { mu.Lock(); defer mu.Unlock(); return depth }
	m := New(o)
	if v, ok := value(scrape(t, m), "warden_audit_queue_depth", labels{}); !ok || v != 7 {
		t.Fatalf("audit_queue_depth = %v (found %v), want 7", v, ok)
	}
	mu.Lock()
	depth = 0
	mu.Unlock()
	if v, _ := value(scrape(t, m), "warden_audit_queue_depth", labels{}); v != 0 {
		t.Errorf("audit_queue_depth = %v after the queue drained, want 0", v)
	}

	if _, ok := scrape(t, New(testOpts))["warden_audit_queue_depth"]; ok {
		t.Error("audit_queue_depth exported without a callback")
	}
}

func TestBuildInfo(t *testing.T) {
	tests := []struct{ version, want string }{
		{"1.2.3", "1.2.3"},
		{"", "unknown"},
		{"bad\xff", "unknown"},
	}
	for _, tt := range tests {
		m := New(Options{Version: tt.version})
		v, ok := value(scrape(t, m), "warden_build_info", labels{"version": tt.want, "go_version": runtime.Version()})
		if !ok || v != 1 {
			t.Errorf("version %q: build_info{version=%q} = %v (found %v), want 1", tt.version, tt.want, v, ok)
		}
	}
}

func TestNamespace(t *testing.T) {
	m := New(Options{Namespace: "gw"})
	m.AuthBlock()
	fams := scrape(t, m)
	if _, ok := fams["gw_auth_blocks_total"]; !ok {
		t.Error("namespace not applied")
	}
	if _, ok := fams["warden_auth_blocks_total"]; ok {
		t.Error("default namespace used despite Options.Namespace")
	}
}

func TestRegistriesAreIsolated(t *testing.T) {
	a, b := New(testOpts), New(testOpts)
	a.AuthBlock()
	if v, _ := value(scrape(t, b), "warden_auth_blocks_total", labels{}); v != 0 {
		t.Errorf("a count in one Metrics showed in another: %v", v)
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *Metrics
	m.ObserveRequest(Request{Route: "messages"})
	m.ObserveUpstream("openai", time.Second)
	m.AddTokens("gpt-4o", 1, 1, 1)
	m.AddCost("gpt-4o", 1)
	m.RateLimitRefusal(ScopeKey, LimitRPS)
	m.BudgetRefusal(ScopeKey)
	m.AuthFailure(AuthInvalid)
	m.AuthBlock()
	m.GuardVerdict("pii", "email", "redact")
	m.Retry("openai")
	m.Fallback("gpt-4o")
	m.SetBreakerState("openai-east", BreakerOpen)
	m.AuditDropped(1)
	rec := newRecorder(m.Handler(""), "")
	if rec.Code != 404 {
		t.Errorf("nil Metrics handler answered %d, want 404", rec.Code)
	}
}

func TestModelLabelBounded(t *testing.T) {
	m := New(testOpts)
	for i := range 10_000 {
		model := fmt.Sprintf("model-%d", i)
		m.ObserveRequest(Request{Route: "chat.completions", Model: model, Provider: "openai", Status: 200})
		m.AddTokens(model, 1, 1, 1)
		m.AddCost(model, 1)
		m.Fallback(model)
	}
	for _, model := range testOpts.Models {
		m.ObserveRequest(Request{Route: "chat.completions", Model: model, Provider: "openai", Status: 200})
	}
	fams := scrape(t, m)
	limit := len(testOpts.Models) + 1
	for _, name := range []string{"warden_requests_total", "warden_request_duration_seconds", "warden_tokens_total", "warden_cost_usd_total", "warden_fallbacks_total"} {
		got := labelValues(fams, name, "model")
		if len(got) > limit {
			t.Errorf("%s has %d model values, want at most %d (allowlist + other)", name, len(got), limit)
		}
		for _, v := range got {
			if v != Other && !slices.Contains(testOpts.Models, v) {
				t.Errorf("%s has model %q outside the allowlist", name, v)
			}
		}
	}
	if v, _ := value(fams, "warden_requests_total", labels{"route": "chat.completions", "model": Other, "provider": "openai", "status_class": "2xx", "code": "ok"}); v != 10_000 {
		t.Errorf("other counted %v calls, want 10000", v)
	}
	if n := len(fams["warden_requests_total"].GetMetric()); n != limit {
		t.Errorf("requests_total has %d series, want %d", n, limit)
	}
}

func TestAllowlistHygiene(t *testing.T) {
	// Empty, invalid, overlong and duplicate names are left out of the
	// allowlist; they would be rejected by the client library or are more
	// likely mistakes than model names.
	long := string(make([]byte, maxLabelLen+1))
	m := New(Options{Models: []string{"", "ok-model", "ok-model", "bad\xffname", long}})
	if got, want := m.models.values, []string{Other, None, "ok-model"}; !slices.Equal(got, want) {
		t.Errorf("model label set %q, want %q", got, want)
	}
	for _, v := range []string{"", "bad\xffname", long} {
		m.Fallback(v)
	}
	got := labelValues(scrape(t, m), "warden_fallbacks_total", "model")
	if !slices.Equal(got, []string{None, Other}) {
		t.Errorf("fallback models %q", got)
	}
}

func TestBuiltinGuardTypes(t *testing.T) {
	m := New(Options{})
	want := detect.PIITypes()
	for _, r := range detect.Rules() {
		want = append(want, r.ID)
	}
	want = append(want, injectionType)
	for _, typ := range want {
		if m.guardTypes.index(typ) == 0 {
			t.Errorf("detector type %q is not in the guard type set", typ)
		}
	}
	if m.guardTypes.index("not_a_detector") != 0 {
		t.Error("an unknown type must map to other")
	}
}

func TestConcurrentRecording(t *testing.T) {
	// Many goroutines racing to create the same and different series: the
	// copy-on-write cache must neither lose a count nor a series.
	m := New(testOpts)
	const workers, each = 8, 500
	models := []string{"gpt-4o", "claude-sonnet", "unknown-a", "unknown-b"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				model := models[(w+i)%len(models)]
				m.ObserveRequest(Request{Route: "chat.completions", Model: model, Provider: "openai", Status: 200 + 100*(i%4)})
				m.AddTokens(model, 1, 0, 0)
				m.GuardVerdict("pii", "email", guardActions[i%len(guardActions)])
			}
		})
	}
	wg.Wait()
	fams := scrape(t, m)
	var total float64
	for _, s := range fams["warden_requests_total"].GetMetric() {
		total += s.GetCounter().GetValue()
	}
	if total != workers*each {
		t.Errorf("requests_total sums to %v, want %d", total, workers*each)
	}
	if n := len(fams["warden_requests_total"].GetMetric()); n != 3*4 {
		t.Errorf("requests_total has %d series, want 12 (3 model values x 4 status classes)", n)
	}
	var tokens float64
	for _, s := range fams["warden_tokens_total"].GetMetric() {
		tokens += s.GetCounter().GetValue()
	}
	if tokens != workers*each {
		t.Errorf("tokens_total sums to %v, want %d", tokens, workers*each)
	}
}
