package injection

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

type example struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

func loadExamples(t *testing.T, name string) []example {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("open dataset: %v", err)
	}
	defer f.Close()
	var out []example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var ex example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			t.Fatalf("%s:%d: %v", name, line, err)
		}
		if ex.Label != "injection" && ex.Label != "benign" {
			t.Fatalf("%s:%d: label %q is neither injection nor benign", name, line, ex.Label)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return out
}

type metrics struct {
	tp, fp, tn, fn int
}

func (m metrics) precision() float64 { return ratio(m.tp, m.tp+m.fp) }
func (m metrics) recall() float64    { return ratio(m.tp, m.tp+m.fn) }
func (m metrics) f1() float64 {
	p, r := m.precision(), m.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// evaluate scores every example once and counts outcomes at each
// threshold. If explain is set, misclassifications at DefaultThreshold are
// logged.
func evaluate(t *testing.T, s Scorer, exs []example, thresholds []float64, explain bool) []metrics {
	t.Helper()
	ms := make([]metrics, len(thresholds))
	for _, ex := range exs {
		r, err := s.Score(context.Background(), ex.Text)
		if err != nil {
			t.Fatalf("Score: %v", err)
		}
		want := ex.Label == "injection"
		for k, th := range thresholds {
			got := r.Score >= th
			m := &ms[k]
			switch {
			case got && want:
				m.tp++
			case got && !want:
				m.fp++
			case !got && want:
				m.fn++
			default:
				m.tn++
			}
			if explain && th == DefaultThreshold && got != want {
				t.Logf("misclassified (%s) %.2f %v: %q", ex.Label, r.Score, signalNames(r), ex.Text)
			}
		}
	}
	return ms
}

func signalNames(r Result) []string {
	var out []string
	for _, s := range r.Signals {
		out = append(out, s.Name)
	}
	return out
}

// TestDataset measures precision and recall at DefaultThreshold on the
// labelled prompts. All three files are tuning data: injection.jsonl and
// injection_holdout.jsonl were written first, injection_more.jsonl adds
// paraphrases and hard negatives. The weights and word classes were
// fitted to them, so these figures overstate how the heuristic does on
// text it has never seen; the floors sit just under the figures reached
// and are there to catch regressions. The other thresholds are logged to
// show the trade-off.
func TestDataset(t *testing.T) {
	h := NewHeuristic(Options{})
	thresholds := []float64{0.5, 0.6, 0.7, DefaultThreshold, 0.9}
	for _, tc := range []struct {
		name                    string
		files                   []string
		minPrecision, minRecall float64
		minInj, minBenign       int
	}{
		// Figures when the floors were set: precision 1.000, recall
		// 0.983 (465 of 473).
		{"tuning", []string{"injection.jsonl", "injection_more.jsonl"}, 0.9, 0.95, 450, 600},
		// Precision 1.000, recall 1.000.
		{"holdout", []string{"injection_holdout.jsonl"}, 0.9, 0.97, 50, 90},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var exs []example
			for _, f := range tc.files {
				exs = append(exs, loadExamples(t, f)...)
			}
			inj := 0
			for _, ex := range exs {
				if ex.Label == "injection" {
					inj++
				}
			}
			if inj < tc.minInj || len(exs)-inj < tc.minBenign {
				t.Fatalf("%s has %d injection and %d benign examples, want at least %d and %d",
					tc.name, inj, len(exs)-inj, tc.minInj, tc.minBenign)
			}
			ms := evaluate(t, h, exs, thresholds, true)
			var def metrics
			for k, m := range ms {
				t.Logf("%s threshold %.2f: precision %.3f recall %.3f F1 %.3f (tp %d fp %d tn %d fn %d)",
					tc.name, thresholds[k], m.precision(), m.recall(), m.f1(), m.tp, m.fp, m.tn, m.fn)
				if thresholds[k] == DefaultThreshold {
					def = m
				}
			}
			if def.precision() < tc.minPrecision || def.recall() < tc.minRecall {
				t.Errorf("at the default threshold: precision %.3f recall %.3f, want at least %.2f and %.2f",
					def.precision(), def.recall(), tc.minPrecision, tc.minRecall)
			}
		})
	}
}

// TestBlindSet measures the scorer Warden runs (NewDefault: heuristic and
// classifier) on injection_blind.jsonl, a set written apart from the
// detector, by someone who had not seen its tables or training data, and
// never used to tune or train it. Its first reading, after the heuristic
// was tuned: precision 1.000, recall 0.574 (heuristic alone). After the
// classifier was added, with its settings chosen by cross-validation on
// the training sets only: precision 0.993, recall 0.870; after a faster
// hash of its character 4-grams (no other change): precision 0.986,
// recall 0.870. The floor is the product target. Keep it honest: do not tune on this file; write a new
// blind set when this one has been looked at too often.
func TestBlindSet(t *testing.T) {
	exs := loadExamples(t, "injection_blind.jsonl")
	if len(exs) < 300 {
		t.Fatalf("blind set has %d examples, want at least 300", len(exs))
	}
	ms := evaluate(t, NewDefault(Options{}), exs, []float64{DefaultThreshold}, false)
	m := ms[0]
	t.Logf("blind set at %.2f: precision %.3f recall %.3f F1 %.3f (tp %d fp %d tn %d fn %d)",
		DefaultThreshold, m.precision(), m.recall(), m.f1(), m.tp, m.fp, m.tn, m.fn)
	if m.precision() < 0.9 || m.recall() < 0.8 {
		t.Errorf("blind set: precision %.3f recall %.3f, want at least 0.90 and 0.80", m.precision(), m.recall())
	}
}
