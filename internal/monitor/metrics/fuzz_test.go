package metrics

import (
	"slices"
	"testing"
)

// FuzzLabelsBounded feeds arbitrary strings (caller input: model names,
// error-derived reasons, provider names from a path) to the recording
// methods and checks that every exported label value is from a bounded
// set, and that the gatherer never fails on what they produced.
func FuzzLabelsBounded(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "other", "none", "bad\xff", "/v1/chat/completions", "a\x00b", "ä"} {
		f.Add(s)
	}
	m := New(testOpts)
	allowed := map[string][]string{
		"model":    append([]string{Other, None}, testOpts.Models...),
		"provider": append([]string{Other}, testOpts.Providers...),
		"route":    append([]string{Other}, routes...),
		"reason":   append([]string{Other}, authReasons...),
		"scope":    append([]string{Other}, scopes...),
		"limit":    append([]string{Other}, limits...),
		"class":    append([]string{Other}, guardClasses...),
		"action":   append([]string{Other}, guardActions...),
	}
	f.Fuzz(func(t *testing.T, s string) {
		m.ObserveRequest(Request{Route: s, Model: s, Provider: s, Status: len(s) * 37})
		m.AddTokens(s, 1, 1, 1)
		m.Retry(s)
		m.AuthFailure(AuthReason(s))
		m.RateLimitRefusal(Scope(s), Limit(s))
		m.GuardVerdict(s, s, s)
		m.SetBreakerState(s, BreakerOpen)
		fams, err := m.Gatherer().Gather()
		if err != nil {
			t.Fatalf("gather after %q: %v", s, err)
		}
		for _, fam := range fams {
			for _, series := range fam.GetMetric() {
				for _, lp := range series.GetLabel() {
					if set, ok := allowed[lp.GetName()]; ok && !slices.Contains(set, lp.GetValue()) {
						t.Fatalf("%s{%s=%q} after input %q is outside the bounded set", fam.GetName(), lp.GetName(), lp.GetValue(), s)
					}
					if lp.GetName() == "type" && lp.GetValue() == s && m.guardTypes.index(s) == 0 && s != Other {
						t.Fatalf("guard type %q exported though unknown", s)
					}
					if lp.GetName() == "deployment" && !slices.Contains(testOpts.Deployments, lp.GetValue()) {
						t.Fatalf("deployment %q exported though not configured", lp.GetValue())
					}
				}
			}
		}
	})
}
