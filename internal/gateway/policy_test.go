package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/guard/injection"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/providertest"
	"github.com/wardenproject/warden/internal/store"
)

// noDirectory knows no teams and no users.
type noDirectory struct{}

func (noDirectory) GetTeam(context.Context, string) (keys.Team, error) {
	return keys.Team{}, store.ErrNotFound
}

func (noDirectory) GetUser(context.Context, string) (keys.User, error) {
	return keys.User{}, store.ErrNotFound
}

// testPolicy is a complete Policy on in-memory parts.
func testPolicy(t testing.TB) *Policy {
	t.Helper()
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: meter.NewMemoryLedger()})
	if err != nil {
		t.Fatal(err)
	}
	throttle, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &Policy{
		Directory:    noDirectory{},
		Limiter:      limit.NewMemory(limit.MemoryOptions{}),
		Concurrency:  limit.NewMemoryConcurrency(),
		Pricing:      meter.DefaultTable(),
		Budgets:      budgets,
		Usage:        &usageLog{},
		AuthThrottle: throttle,
	}
}

const miniChat = `{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"Say hello"}]}`

func decodeError(t *testing.T, body []byte) (code, message string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return e.Error.Code, e.Error.Message
}

func TestAdmitRequestRate(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, key := r.keyWith(keys.Spec{Limits: keys.Limits{RPM: 2}})
	for i := range 2 {
		rep := r.do("POST", "/v1/chat/completions", key, miniChat)
		if rep.status != http.StatusOK {
			t.Fatalf("call %d: %d %s", i, rep.status, rep.body)
		}
		if got, want := rep.header.Get("X-Ratelimit-Remaining-Requests"), strconv.Itoa(1-i); got != want {
			t.Errorf("call %d: remaining requests %q, want %q", i, got, want)
		}
		if rep.header.Get("X-Ratelimit-Limit-Requests") != "2" {
			t.Errorf("call %d: limit header %q", i, rep.header.Get("X-Ratelimit-Limit-Requests"))
		}
	}
	rep := r.do("POST", "/v1/chat/completions", key, miniChat)
	if rep.status != http.StatusTooManyRequests {
		t.Fatalf("third call: %d %s", rep.status, rep.body)
	}
	if code, msg := decodeError(t, rep.body); code != "rate_limit_exceeded" || !strings.Contains(msg, "requests per minute") {
		t.Errorf("refusal %q %q", code, msg)
	}
	if ra, err := strconv.Atoi(rep.header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", rep.header.Get("Retry-After"))
	}
	// Another key is not affected.
	_, other := r.key()
	if rep := r.do("POST", "/v1/chat/completions", other, miniChat); rep.status != http.StatusOK {
		t.Errorf("another key: %d", rep.status)
	}
}

func TestAdmitTokenRate(t *testing.T) {
	r := newRig(t, rigOptions{})
	// The estimate of miniChat is a few input tokens plus max_tokens 16.
	_, key := r.keyWith(keys.Spec{Limits: keys.Limits{TPM: 60}})
	ok := 0
	for range 10 {
		rep := r.do("POST", "/v1/chat/completions", key, miniChat)
		if rep.status == http.StatusTooManyRequests {
			if code, msg := decodeError(t, rep.body); code != "rate_limit_exceeded" || !strings.Contains(msg, "tokens per minute") {
				t.Errorf("refusal %q %q", code, msg)
			}
			break
		}
		if rep.status != http.StatusOK {
			t.Fatalf("%d %s", rep.status, rep.body)
		}
		if rep.header.Get("X-Ratelimit-Limit-Tokens") != "60" {
			t.Errorf("limit tokens header %q", rep.header.Get("X-Ratelimit-Limit-Tokens"))
		}
		ok++
	}
	if ok == 0 || ok == 10 {
		t.Fatalf("%d calls passed a 60 tokens/minute limit; want some, then a refusal", ok)
	}
	// A request that could never fit is refused at once as too large.
	big := `{"model":"gpt-4o-mini","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}`
	if rep := r.do("POST", "/v1/chat/completions", key, big); rep.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a request over the token limit: %d %s", rep.status, rep.body)
	}
}

func TestAdmitMaxParallel(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, key := r.keyWith(keys.Spec{Limits: keys.Limits{MaxParallel: 1}})
	r.openai.Fail("/v1/chat/completions", 1, providertest.Fault{StallAfterChunks: 1})
	ctx, cancel := context.WithCancel(t.Context())
	stream := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`
	resp := r.open(r.req(ctx, "POST", "/v1/chat/completions", stream, "Authorization", "Bearer "+key, HeaderRequestID, "held"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first call: %d", resp.StatusCode)
	}
	rep := r.do("POST", "/v1/chat/completions", key, miniChat)
	if rep.status != http.StatusTooManyRequests {
		t.Fatalf("second call while the first is in flight: %d %s", rep.status, rep.body)
	}
	if _, msg := decodeError(t, rep.body); !strings.Contains(msg, "too many calls in flight") {
		t.Errorf("message %q", msg)
	}
	cancel()
	r.waitDone("held")
	if rep := r.do("POST", "/v1/chat/completions", key, miniChat); rep.status != http.StatusOK {
		t.Errorf("after the first call ended: %d %s", rep.status, rep.body)
	}
}

func TestAdmitCallerPolicy(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, elsewhere := r.keyWith(keys.Spec{IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	_, here := r.keyWith(keys.Spec{IPs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	_, embedOnly := r.keyWith(keys.Spec{Routes: []string{"/v1/embeddings"}})
	tests := []struct {
		name, key, path, body string
		want                  int
	}{
		{"address outside the allowlist", elsewhere, "/v1/chat/completions", miniChat, http.StatusForbidden},
		{"address inside the allowlist", here, "/v1/chat/completions", miniChat, http.StatusOK},
		{"route not allowed", embedOnly, "/v1/chat/completions", miniChat, http.StatusForbidden},
		{"models list not allowed", embedOnly, "/v1/models", "", http.StatusForbidden},
		{"route allowed", embedOnly, "/v1/embeddings", `{"model":"text-embedding-3-small","input":"hi"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if tt.body == "" {
				method = "GET"
			}
			if rep := r.do(method, tt.path, tt.key, tt.body); rep.status != tt.want {
				t.Errorf("%d %s, want %d", rep.status, rep.body, tt.want)
			}
		})
	}
}

func TestAdmitBudget(t *testing.T) {
	r := newRig(t, rigOptions{})
	// gpt-4o-mini's estimate for miniChat is far below a thousandth of a
	// cent; a budget of three estimates admits a few calls, then refuses.
	price, ok := meter.DefaultTable().Lookup("gpt-4o-mini")
	if !ok {
		t.Fatal("no price for gpt-4o-mini")
	}
	est := meter.Estimate(provider.OpChat, []byte(miniChat), price)
	id, key := r.keyWith(keys.Spec{Name: "ci", Budget: meter.Budget{Limit: 3 * est.MaxCost, Period: meter.Total}})
	var spent meter.Amount
	calls := 0
	for range 50 {
		rep := r.do("POST", "/v1/chat/completions", key, miniChat, HeaderRequestID, "budget-"+strconv.Itoa(calls))
		if rep.status == http.StatusTooManyRequests {
			code, msg := decodeError(t, rep.body)
			if code != "budget_exceeded" || !strings.Contains(msg, `key "ci"`) {
				t.Errorf("refusal %q %q", code, msg)
			}
			break
		}
		if rep.status != http.StatusOK {
			t.Fatalf("%d %s", rep.status, rep.body)
		}
		rec := r.usage.byRequest(t, "budget-"+strconv.Itoa(calls))
		if rec.Cost <= 0 || rec.KeyID != id || rec.Model != "gpt-4o-mini" || rec.Estimated {
			t.Fatalf("usage record %+v", rec)
		}
		want := price.Cost(meter.Usage{InputTokens: rec.InputTokens - rec.CachedInputTokens, CachedInputTokens: rec.CachedInputTokens, OutputTokens: rec.OutputTokens})
		if rec.Cost != want {
			t.Errorf("cost %s, want %s from the usage", rec.Cost, want)
		}
		spent += rec.Cost
		calls++
	}
	if calls == 0 || calls == 50 {
		t.Fatalf("%d calls passed the budget", calls)
	}
	got, _, err := r.ledger.Spent(context.Background(), meter.Bucket{Account: meter.Account{Kind: meter.KindKey, ID: id}, Period: meter.Total}, time.Now())
	if err != nil || got != spent {
		t.Errorf("ledger spent %s (%v), want the %s the usage records add up to", got, err, spent)
	}
	if spent > 3*est.MaxCost {
		t.Errorf("spent %s over a budget of %s", spent, 3*est.MaxCost)
	}
}

// TestAdmitBudgetRace fires concurrent calls at one budget: overspend is
// bounded by one call's estimate.
func TestAdmitBudgetRace(t *testing.T) {
	r := newRig(t, rigOptions{})
	price, _ := meter.DefaultTable().Lookup("gpt-4o-mini")
	est := meter.Estimate(provider.OpChat, []byte(miniChat), price)
	limit := 5 * est.MaxCost
	id, key := r.keyWith(keys.Spec{Budget: meter.Budget{Limit: limit, Period: meter.Day}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 40 {
		wg.Go(func() {
			req := r.req(context.Background(), "POST", "/v1/chat/completions", miniChat, "Authorization", "Bearer "+key)
			resp, err := r.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 || codes[http.StatusOK]+codes[http.StatusTooManyRequests] != 40 {
		t.Fatalf("status counts %v; want some admitted and the rest refused", codes)
	}
	spent, reserved, err := r.ledger.Spent(context.Background(), meter.Bucket{Account: meter.Account{Kind: meter.KindKey, ID: id}, Period: meter.Day, Start: meter.PeriodStart(meter.Day, time.Now())}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if reserved != 0 {
		t.Errorf("%s still reserved after every call ended", reserved)
	}
	if spent > limit+est.MaxCost {
		t.Errorf("spent %s; the budget %s may be passed by one estimate (%s) at most", spent, limit, est.MaxCost)
	}
}

func TestAdmitTeamAndUser(t *testing.T) {
	r := newRig(t, rigOptions{})
	ctx := context.Background()
	if _, err := r.keys.CreateTeam(ctx, keys.Team{Name: "ml", Models: []string{"gpt-4o*"}, Limits: keys.Limits{RPM: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.keys.CreateUser(ctx, keys.User{Name: "ada@example.com", Team: "ml"}); err != nil {
		t.Fatal(err)
	}
	_, k1 := r.keyWith(keys.Spec{Team: "ml"})
	_, k2 := r.keyWith(keys.Spec{User: "ada@example.com"})
	claude := `{"model":"claude-sonnet","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`
	if rep := r.do("POST", "/v1/messages", k1, claude); rep.status != http.StatusForbidden {
		t.Errorf("a model outside the team's cap: %d %s", rep.status, rep.body)
	}
	if rep := r.do("POST", "/v1/chat/completions", k1, miniChat); rep.status != http.StatusOK {
		t.Fatalf("first call of the team: %d %s", rep.status, rep.body)
	}
	// The team's one request a minute is shared by every key of the team,
	// including the user's key that joined it through the user.
	rep := r.do("POST", "/v1/chat/completions", k2, miniChat)
	if rep.status != http.StatusTooManyRequests {
		t.Fatalf("second call of the team, other key: %d %s", rep.status, rep.body)
	}
	if _, msg := decodeError(t, rep.body); !strings.Contains(msg, `team "ml"`) {
		t.Errorf("message %q does not name the team", msg)
	}
}

func TestAdmitUnpricedModelWithBudget(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, key := r.keyWith(keys.Spec{Budget: meter.Budget{Limit: meter.USD, Period: meter.Month}})
	body := `{"model":"primary","messages":[{"role":"user","content":"hi"}]}`
	rep := r.do("POST", "/v1/chat/completions", key, body)
	if rep.status != http.StatusOK {
		// primary is served by gpt-4.1, which the table prices.
		t.Fatalf("a model priced through its deployment: %d %s", rep.status, rep.body)
	}
	_, free := r.key()
	if rep := r.do("GET", "/proxy/local/v1/models", free, ""); rep.status != http.StatusOK {
		t.Fatalf("pass-through without a budget: %d %s", rep.status, rep.body)
	}
	if rep := r.do("GET", "/proxy/local/v1/models", key, ""); rep.status != http.StatusForbidden {
		t.Errorf("pass-through with a budget (nothing to price it by): %d %s", rep.status, rep.body)
	}
}

func TestAdmitStreamBilledFromUsage(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, key := r.key()
	stream := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`
	resp := r.open(r.req(t.Context(), "POST", "/v1/chat/completions", stream, "Authorization", "Bearer "+key, HeaderRequestID, "streamed"))
	if _, err := r.events(resp.Body).rest(); err != nil {
		t.Fatal(err)
	}
	rec := r.usage.byRequest(t, "streamed")
	if !rec.Stream || rec.Estimated || rec.InputTokens == 0 || rec.OutputTokens == 0 || rec.Cost <= 0 {
		t.Errorf("stream usage record %+v; want tokens and cost from the usage chunk", rec)
	}

	// Without a usage report the call is billed at its estimate, never as free.
	r.openai.Fail("/v1/chat/completions", 1, providertest.Fault{NoUsage: true})
	resp = r.open(r.req(t.Context(), "POST", "/v1/chat/completions", stream, "Authorization", "Bearer "+key, HeaderRequestID, "no-usage"))
	if _, err := r.events(resp.Body).rest(); err != nil {
		t.Fatal(err)
	}
	rec = r.usage.byRequest(t, "no-usage")
	if !rec.Estimated || rec.Cost <= 0 {
		t.Errorf("record without usage %+v; want an estimated, non-zero cost", rec)
	}
}

func TestAuthThrottle(t *testing.T) {
	r := newRig(t, rigOptions{AuthSlowAfter: 2, AuthBlockAfter: 4, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	_, good := r.key()
	bad := "wdn_" + strings.Repeat("x", 40)
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for i := range 4 {
		if rep := r.do("POST", "/v1/chat/completions", bad, miniChat, from("203.0.113.7")...); rep.status != http.StatusUnauthorized {
			t.Fatalf("bad key %d: %d", i, rep.status)
		}
	}
	rep := r.do("POST", "/v1/chat/completions", good, miniChat, from("203.0.113.7")...)
	if rep.status != http.StatusTooManyRequests || rep.header.Get("Retry-After") == "" {
		t.Fatalf("the blocked address, even with a good key: %d %s", rep.status, rep.body)
	}
	// The attacker's failures do not lock the key out for its owner.
	if rep := r.do("POST", "/v1/chat/completions", good, miniChat, from("198.51.100.2")...); rep.status != http.StatusOK {
		t.Errorf("the key's owner from another address: %d %s", rep.status, rep.body)
	}
}

// countingDirectory counts lookups and fails on demand.
type countingDirectory struct {
	calls int
	err   error
}

func (c *countingDirectory) GetTeam(_ context.Context, name string) (keys.Team, error) {
	c.calls++
	return keys.Team{Name: name}, c.err
}

func (c *countingDirectory) GetUser(_ context.Context, name string) (keys.User, error) {
	c.calls++
	return keys.User{Name: name}, c.err
}

func TestCachedDirectory(t *testing.T) {
	now := time.Unix(1000, 0)
	inner := &countingDirectory{}
	d := CachedDirectory(inner, time.Second, func() time.Time { return now })
	ctx := context.Background()
	for range 3 {
		if tm, err := d.GetTeam(ctx, "ml"); err != nil || tm.Name != "ml" {
			t.Fatalf("GetTeam = %v, %v", tm, err)
		}
	}
	if inner.calls != 1 {
		t.Errorf("%d lookups for three calls within the ttl, want 1", inner.calls)
	}
	now = now.Add(time.Second)
	_, _ = d.GetTeam(ctx, "ml")
	if inner.calls != 2 {
		t.Errorf("%d lookups after the ttl, want 2", inner.calls)
	}
	// Store errors are not cached; not found is.
	inner.err = errors.New("store down")
	for range 2 {
		if _, err := d.GetUser(ctx, "ada"); err == nil {
			t.Fatal("a store error was swallowed")
		}
	}
	if inner.calls != 4 {
		t.Errorf("%d lookups, want every failed one repeated (4)", inner.calls)
	}
	inner.err = store.ErrNotFound
	_, _ = d.GetUser(ctx, "bob")
	if _, err := d.GetUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) || inner.calls != 5 {
		t.Errorf("not found: %v after %d lookups, want it cached after 5", err, inner.calls)
	}
}

// TestAdmitSharedBudgets checks that a user's and a team's budgets are
// shared by all their keys, and that the refusal names the budget.
func TestAdmitSharedBudgets(t *testing.T) {
	price, _ := meter.DefaultTable().Lookup("gpt-4o-mini")
	est := meter.Estimate(provider.OpChat, []byte(miniChat), price)
	for _, tc := range []struct {
		name, label string
		setup       func(r *rig) (k1, k2 string)
	}{
		{"team", `team "ml"`, func(r *rig) (string, string) {
			if _, err := r.keys.CreateTeam(context.Background(), keys.Team{Name: "ml", Budget: meter.Budget{Limit: 2 * est.MaxCost, Period: meter.Month}}); err != nil {
				t.Fatal(err)
			}
			_, a := r.keyWith(keys.Spec{Team: "ml"})
			_, b := r.keyWith(keys.Spec{Team: "ml"})
			return a, b
		}},
		{"user", `user "ada"`, func(r *rig) (string, string) {
			if _, err := r.keys.CreateUser(context.Background(), keys.User{Name: "ada", Budget: meter.Budget{Limit: 2 * est.MaxCost, Period: meter.Day}}); err != nil {
				t.Fatal(err)
			}
			_, a := r.keyWith(keys.Spec{User: "ada"})
			_, b := r.keyWith(keys.Spec{User: "ada"})
			return a, b
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			k1, k2 := tc.setup(r)
			refused := false
			for i := range 20 {
				key := k1
				if i%2 == 1 {
					key = k2
				}
				rep := r.do("POST", "/v1/chat/completions", key, miniChat)
				if rep.status == http.StatusTooManyRequests {
					code, msg := decodeError(t, rep.body)
					if code != "budget_exceeded" || !strings.Contains(msg, tc.label) {
						t.Errorf("refusal %q %q, want budget_exceeded naming %s", code, msg, tc.label)
					}
					if i < 2 {
						t.Errorf("refused after %d calls; the budget holds at least two estimates", i)
					}
					refused = true
					break
				}
				if rep.status != http.StatusOK {
					t.Fatalf("%d %s", rep.status, rep.body)
				}
			}
			if !refused {
				t.Error("twenty calls from two keys passed a budget of two estimates")
			}
		})
	}
}

func TestAdmitRequestsPerSecond(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, key := r.keyWith(keys.Spec{Limits: keys.Limits{RPS: 1}})
	if rep := r.do("POST", "/v1/chat/completions", key, miniChat); rep.status != http.StatusOK {
		t.Fatalf("first call: %d %s", rep.status, rep.body)
	}
	rep := r.do("POST", "/v1/chat/completions", key, miniChat)
	if rep.status != http.StatusTooManyRequests {
		t.Fatalf("second call within the second: %d %s", rep.status, rep.body)
	}
	if _, msg := decodeError(t, rep.body); !strings.Contains(msg, "requests per second") {
		t.Errorf("message %q", msg)
	}
	if rep.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", rep.header.Get("Retry-After"))
	}
}

// testGuardrails are the guardrails with the real detectors and the
// heuristic injection scorer, and the default policy (or p, if given).
func testGuardrails(t testing.TB, p ...guard.Policy) *Guardrails {
	t.Helper()
	h := injection.NewHeuristic(injection.Options{})
	g, err := guard.New(guard.Options{
		PII:     detect.NewPII(detect.PIIOptions{}),
		Secrets: detect.NewSecrets(detect.SecretsOptions{}),
		Injection: guard.ScorerFunc(func(ctx context.Context, text string) (float64, error) {
			r, err := h.Score(ctx, text)
			return r.Score, err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	pol := guard.Default()
	if len(p) > 0 {
		pol = p[0]
	}
	return &Guardrails{Guard: g, Policy: func(string, string, string) guard.Policy { return pol }}
}
