package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGuardEval runs warden guard eval on the shipped datasets and holds
// the detectors to the acceptance targets.
func TestGuardEval(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		dataset, detectors, class string
		rot13                     bool
		minPrecision, minRecall   float64
	}{
		{"../detect/testdata/pii.jsonl", "pii", "pii", false, 0.95, 0.95},
		{"../detect/testdata/secrets.jsonl", "secrets+generic", "secret", true, 0.95, 0.95},
		{"../guard/injection/testdata/injection.jsonl", "pii", "injection", false, 0.9, 0.8},
	} {
		t.Run(filepath.Base(tc.dataset), func(t *testing.T) {
			args := []string{"guard", "eval", "--dataset", tc.dataset, "--detectors", tc.detectors, "--json"}
			if tc.rot13 {
				args = append(args, "--rot13")
			}
			out := h.must("", args...).stdout
			var rep struct {
				Examples int `json:"examples"`
				Classes  []struct {
					Name              string
					Precision, Recall float64
				} `json:"classes"`
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Examples == 0 {
				t.Fatalf("report %q: %v", out, err)
			}
			found := false
			for _, c := range rep.Classes {
				if c.Name != tc.class {
					continue
				}
				found = true
				t.Logf("%s: precision %.3f recall %.3f", c.Name, c.Precision, c.Recall)
				if c.Precision < tc.minPrecision || c.Recall < tc.minRecall {
					t.Errorf("%s: precision %.3f recall %.3f, want at least %.2f and %.2f", c.Name, c.Precision, c.Recall, tc.minPrecision, tc.minRecall)
				}
			}
			if !found {
				t.Errorf("no %s row in %s", tc.class, out)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"text":"x","label":"perhaps"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := h.run("", "guard", "eval", "--dataset", bad); r.code == 0 || !strings.Contains(r.stderr, "line 1") {
		t.Errorf("a bad dataset: exit %d %s", r.code, r.stderr)
	}
}
