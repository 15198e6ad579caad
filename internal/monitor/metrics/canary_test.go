package metrics

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

// fakeSecret returns a random string shaped like a credential with the
// given prefix, made at run time so that no key-like literal is in the repo.
func fakeSecret(prefix string, n int) string {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = base62[int(b[i])%len(base62)]
	}
	return prefix + string(b)
}

func TestCanarySecretsNeverExported(t *testing.T) {
	canaries := []string{
		fakeSecret("wdn_", 40),
		fakeSecret("sk-proj-", 48),
		fakeSecret("sk-ant-api03-", 64),
		fakeSecret("hf_", 34),
		fakeSecret("AKIA", 16),
	}
	m := New(testOpts)
	for _, c := range canaries {
		// Every string a caller or an upstream could control, in every
		// place a method takes one.
		m.ObserveRequest(Request{Route: c, Model: c, Provider: c, Status: 401, Err: apperr.Wrap(apperr.Unauthenticated, "bad key "+c, errors.New(c)), Duration: time.Millisecond})
		m.ObserveRequest(Request{Route: "chat.completions", Model: "gpt-4o", Provider: "openai", Err: errors.New("upstream said " + c)})
		m.ObserveUpstream(c, time.Second)
		m.AddTokens(c, 1, 2, 3)
		m.AddCost(c, 10)
		m.RateLimitRefusal(Scope(c), Limit(c))
		m.BudgetRefusal(Scope(c))
		m.AuthFailure(AuthReason(c))
		m.GuardVerdict(c, c, c)
		m.GuardVerdict("secret", c, "block")
		m.Retry(c)
		m.Fallback(c)
		m.SetBreakerState(c, BreakerOpen)
	}
	out := scrapeText(t, m.Handler(""), "")
	if !strings.Contains(out, `model="other"`) {
		t.Fatal("the canaries were not recorded at all; the test proves nothing")
	}
	for _, c := range canaries {
		for _, probe := range []string{c, c[len(c)-12:]} {
			if strings.Contains(out, probe) {
				t.Errorf("scrape output holds a planted secret (%d chars)", len(c))
			}
		}
	}
	parse(t, out) // and the output is still valid
}
