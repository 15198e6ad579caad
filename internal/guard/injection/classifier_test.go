package injection

import (
	"context"
	"flag"
	"fmt"
	"testing"
)

var cvVerbose = flag.Bool("cv.table", false, "print the cross-validation table at every threshold")

// loadTraining reads the embedded training sets.
func loadTraining(t testing.TB) []Example {
	t.Helper()
	var all []Example
	for _, name := range trainingFiles {
		data, err := trainingFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		exs, err := ParseExamples(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		all = append(all, exs...)
	}
	return all
}

type confusion struct{ tp, fp, tn, fn int }

func (c *confusion) add(score, threshold float64, injection bool) {
	switch hit := score >= threshold; {
	case hit && injection:
		c.tp++
	case hit:
		c.fp++
	case injection:
		c.fn++
	default:
		c.tn++
	}
}

func (c confusion) String() string {
	return fmt.Sprintf("precision %.3f recall %.3f (tp %d fp %d tn %d fn %d)", ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn), c.tp, c.fp, c.tn, c.fn)
}

// TestClassifierCrossValidation measures the classifier, alone and combined
// with the heuristic, on examples it was not trained on: five folds of the
// training sets, each scored by a model trained on the other four. (The
// heuristic was tuned on all of them, so the combined figure still
// flatters it; the classifier's own figure does not.)
func TestClassifierCrossValidation(t *testing.T) {
	all := loadTraining(t)
	const folds = 5
	thresholds := []float64{0.5, 0.6, 0.7, 0.8, 0.9}
	alone := make([]confusion, len(thresholds))
	combined := make([]confusion, len(thresholds))
	h := NewHeuristic(Options{})
	for k := range folds {
		var train, test []Example
		for i, ex := range all {
			if i%folds == k {
				test = append(test, ex)
			} else {
				train = append(train, ex)
			}
		}
		c := TrainClassifier(train, TrainOptions{})
		comb := Combined{Heuristic: h, Classifier: c}
		for _, ex := range test {
			p := c.Probability(ex.Text)
			r, err := comb.Score(context.Background(), ex.Text)
			if err != nil {
				t.Fatal(err)
			}
			for i, th := range thresholds {
				alone[i].add(p, th, ex.Injection)
				combined[i].add(r.Score, th, ex.Injection)
			}
		}
	}
	for i, th := range thresholds {
		if *cvVerbose || th == DefaultThreshold {
			t.Logf("threshold %.1f: classifier %v; combined %v", th, alone[i], combined[i])
		}
	}
	at := combined[3] // DefaultThreshold
	if p, r := ratio(at.tp, at.tp+at.fp), ratio(at.tp, at.tp+at.fn); p < 0.95 || r < 0.95 {
		t.Errorf("combined at %.1f: precision %.3f recall %.3f, want both ≥ 0.95", DefaultThreshold, p, r)
	}
}
