package metrics

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/provider"
)

var update = flag.Bool("update", false, "rewrite testdata/families.golden")

// exercised returns Metrics on which every method has been called once, so
// that every family has a series and shows its labels.
func exercised() *Metrics {
	o := testOpts
	o.AuditQueueDepth = func() float64 { return 1 }
	m := New(o)
	m.ObserveRequest(Request{Route: "messages", Model: "claude-sonnet", Provider: "anthropic", Status: 200, Duration: time.Second})
	m.ObserveUpstream("anthropic", time.Second)
	m.AddTokens("claude-sonnet", 1, 1, 1)
	m.AddCost("claude-sonnet", 1)
	m.RateLimitRefusal(ScopeKey, LimitTPM)
	m.BudgetRefusal(ScopeTeam)
	m.AuthFailure(AuthInvalid)
	m.AuthBlock()
	m.GuardVerdict("pii", "email", "redact")
	m.Retry("anthropic")
	m.Fallback("claude-sonnet")
	m.AuditDropped(1)
	return m
}

// TestFamiliesGolden pins every Warden metric's name, type, labels and
// help, so that a rename (which breaks dashboards and alerts) shows up in
// review as a change to the golden file.
func TestFamiliesGolden(t *testing.T) {
	fams := scrape(t, exercised())
	var lines []string
	for name, f := range fams {
		if !strings.HasPrefix(name, DefaultNamespace+"_") {
			continue
		}
		var names []string
		for _, lp := range f.GetMetric()[0].GetLabel() {
			names = append(names, lp.GetName())
		}
		lines = append(lines, fmt.Sprintf("%s %s {%s} %s", name, strings.ToLower(f.GetType().String()), strings.Join(names, ","), f.GetHelp()))
	}
	slices.Sort(lines)
	got := strings.Join(lines, "\n") + "\n"
	path := filepath.Join("testdata", "families.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("metric families changed; if on purpose, run go test -update and update docs/metrics.md\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestDocsListEveryMetric keeps docs/metrics.md in step with the code.
func TestDocsListEveryMetric(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatalf("read docs/metrics.md: %v", err)
	}
	fams := scrape(t, exercised())
	n := 0
	for name := range fams {
		if strings.HasPrefix(name, DefaultNamespace+"_") {
			n++
			if !strings.Contains(string(doc), "`"+name+"`") {
				t.Errorf("docs/metrics.md does not list %s", name)
			}
		}
	}
	if n < 16 {
		t.Errorf("only %d warden families exported", n)
	}
}

// TestBoundedSetsMatchTheirPackages checks the label sets kept here
// against the packages that own the names, so that a rename there does not
// silently turn a label into "other".
func TestBoundedSetsMatchTheirPackages(t *testing.T) {
	ops := []provider.Op{
		provider.OpChat, provider.OpCompletions, provider.OpEmbeddings, provider.OpResponses,
		provider.OpImages, provider.OpTranscriptions, provider.OpSpeech, provider.OpModerations,
		provider.OpMessages, provider.OpCountTokens, provider.OpPassthrough,
	}
	for _, op := range ops {
		if !slices.Contains(routes, string(op)) {
			t.Errorf("route %q (provider.Op) is not in the route set", op)
		}
	}
	classes := []detect.Class{detect.PII, detect.Secret, guard.ClassInjection}
	for _, c := range classes {
		if !slices.Contains(guardClasses, string(c)) {
			t.Errorf("guard class %q is not in the class set", c)
		}
	}
	if len(guardClasses) != len(classes) {
		t.Errorf("class set %v has entries no package defines", guardClasses)
	}
	actions := []guard.Action{guard.Allow, guard.Flag, guard.Redact, guard.Mask, guard.Pseudonymize, guard.Block}
	for _, a := range actions {
		if !slices.Contains(guardActions, string(a)) {
			t.Errorf("guard action %q is not in the action set", a)
		}
	}
	if len(guardActions) != len(actions) {
		t.Errorf("action set %v has entries the guard does not define", guardActions)
	}
	if injectionType != guard.TypeInjection {
		t.Errorf("injection type %q, guard says %q", injectionType, guard.TypeInjection)
	}
}
