package scan

import (
	"testing"

	"github.com/wardenproject/warden/internal/detect"
)

func TestEveryRuleHasAdvice(t *testing.T) {
	ids := map[string]bool{}
	for _, r := range detect.Rules() {
		ids[r.ID] = true
		if _, ok := advice[r.ID]; !ok {
			t.Errorf("rule %s has no advice", r.ID)
		}
	}
	for id := range advice {
		if !ids[id] {
			t.Errorf("advice for %s, which is no rule", id)
		}
	}
}
