package main

import (
	"bytes"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func loadIris(t testing.TB) *dataset {
	t.Helper()
	f, err := data.Open("iris.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := parseCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// trainFresh trains a new model on the training split and returns it with
// the held-out rows.
func trainFresh(t testing.TB) (*model, *dataset) {
	t.Helper()
	trainSet, testSet := loadIris(t).split()
	o := defaultTrainOptions()
	o.Now = fixedNow
	m, err := train(trainSet, o)
	if err != nil {
		t.Fatal(err)
	}
	return m, testSet
}

// shared is the model most tests read. A model is immutable after train,
// so one instance serves them all and the suite trains once, not per test.
var shared struct {
	once sync.Once
	m    *model
	info modelInfo
	err  error
}

func sharedModel(t testing.TB) (*model, modelInfo) {
	t.Helper()
	shared.once.Do(func() { shared.m, shared.info, shared.err = trainEmbedded(fixedNow) })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.m, shared.info
}

// trainIris returns the shared model and the held-out rows.
func trainIris(t testing.TB) (*model, *dataset) {
	t.Helper()
	m, _ := sharedModel(t)
	_, testSet := loadIris(t).split()
	return m, testSet
}

func TestEmbeddedData(t *testing.T) {
	ds := loadIris(t)
	if len(ds.x) != 150 {
		t.Fatalf("rows = %d, want 150", len(ds.x))
	}
	want := []string{"setosa", "versicolor", "virginica"}
	if !reflect.DeepEqual(ds.classes, want) {
		t.Fatalf("classes = %v, want %v", ds.classes, want)
	}
	counts := make([]int, len(ds.classes))
	for _, c := range ds.y {
		counts[c]++
	}
	for c, n := range counts {
		if n != 50 {
			t.Errorf("%s has %d rows, want 50", ds.classes[c], n)
		}
	}
	// The first and last rows of the classic table pin the file's order.
	if got := ds.x[0]; !reflect.DeepEqual(got, []float64{5.1, 3.5, 1.4, 0.2}) {
		t.Errorf("first row = %v", got)
	}
	if got := ds.x[149]; !reflect.DeepEqual(got, []float64{5.9, 3.0, 5.1, 1.8}) {
		t.Errorf("last row = %v", got)
	}
}

func TestParseCSV(t *testing.T) {
	const header = "sepal_length,sepal_width,petal_length,petal_width,species\n"
	two := "5.1,3.5,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginica\n"
	tests := []struct {
		name    string
		in      string
		rows    int
		wantErr string
	}{
		{"ok", header + two, 2, ""},
		{"no trailing newline", header + strings.TrimSuffix(two, "\n"), 2, ""},
		{"empty", "", 0, "header"},
		{"wrong header", "a,b,c,d,species\n" + two, 0, "header"},
		{"reordered header", "sepal_width,sepal_length,petal_length,petal_width,species\n" + two, 0, "header"},
		{"short row", header + "5.1,3.5,1.4,setosa\n" + two, 0, "wrong number of fields"},
		{"long row", header + "5.1,3.5,1.4,0.2,0.1,setosa\n" + two, 0, "wrong number of fields"},
		{"not a number", header + "5.1,abc,1.4,0.2,setosa\n" + two, 0, `line 2: sepal_width is "abc"`},
		{"empty cell", header + "5.1,,1.4,0.2,setosa\n" + two, 0, "sepal_width"},
		{"NaN", header + "NaN,3.5,1.4,0.2,setosa\n" + two, 0, "finite"},
		{"Inf", header + two + "5.1,3.5,Inf,0.2,setosa\n", 0, "line 4: petal_length"},
		{"overflow", header + two + "5.1,3.5,1.4,1e999,setosa\n", 0, "petal_width"},
		{"empty species", header + "5.1,3.5,1.4,0.2,\n" + two, 0, "species is empty"},
		{"one class", header + "5.1,3.5,1.4,0.2,setosa\n", 0, "at least 2"},
		{"bad quoting", header + "5.1,3.5,1.4,0.2,\"setosa\n", 0, "read iris data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := parseCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.x) != tt.rows || len(ds.y) != tt.rows {
				t.Fatalf("rows = %d/%d, want %d", len(ds.x), len(ds.y), tt.rows)
			}
		})
	}
}

func TestSplitIsStratified(t *testing.T) {
	ds := loadIris(t)
	trainSet, testSet := ds.split()
	if len(trainSet.x) != 120 || len(testSet.x) != 30 {
		t.Fatalf("split %d/%d, want 120/30", len(trainSet.x), len(testSet.x))
	}
	per := make([]int, len(ds.classes))
	for _, c := range testSet.y {
		per[c]++
	}
	for c, n := range per {
		if n != 10 {
			t.Errorf("test set has %d %s rows, want 10", n, ds.classes[c])
		}
	}
	// Every row lands in exactly one side: count rows by identity.
	seen := map[*float64]int{}
	for _, part := range []*dataset{trainSet, testSet} {
		for _, x := range part.x {
			seen[&x[0]]++
		}
	}
	if len(seen) != 150 {
		t.Errorf("split covers %d distinct rows, want 150", len(seen))
	}
	for _, n := range seen {
		if n != 1 {
			t.Fatalf("a row appears %d times across the split", n)
		}
	}
}

func TestHeldOutAccuracy(t *testing.T) {
	m, testSet := trainIris(t)
	acc := m.accuracy(testSet)
	t.Logf("held-out accuracy %.4f on %d rows, training loss %.4f", acc, len(testSet.x), m.loss)
	if acc < 0.9 {
		t.Fatalf("held-out accuracy %.4f, want >= 0.9", acc)
	}
}

func TestTrainingIsDeterministic(t *testing.T) {
	a, _ := trainFresh(t)
	b, _ := trainFresh(t)
	if !reflect.DeepEqual(a.weights, b.weights) || !reflect.DeepEqual(a.mean, b.mean) || !reflect.DeepEqual(a.std, b.std) {
		t.Fatal("two trainings on the same data gave different models")
	}
	if !a.trainedAt.Equal(fixedNow()) {
		t.Errorf("trainedAt = %v, want the injected clock's %v", a.trainedAt, fixedNow())
	}
}

func TestPredictKnownRows(t *testing.T) {
	m, _ := trainIris(t)
	tests := []struct {
		name string
		x    []float64
		want string
	}{
		// Rows 1, 51 and 101 of the table, one per class.
		{"setosa row 1", []float64{5.1, 3.5, 1.4, 0.2}, "setosa"},
		{"versicolor row 51", []float64{7.0, 3.2, 4.7, 1.4}, "versicolor"},
		{"virginica row 101", []float64{6.3, 3.3, 6.0, 2.5}, "virginica"},
		{"virginica row 150", []float64{5.9, 3.0, 5.1, 1.8}, "virginica"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, p, err := m.predict(tt.x)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.classes[c]; got != tt.want {
				t.Fatalf("predicted %s, want %s (probabilities %v)", got, tt.want, p)
			}
			checkProbabilities(t, p, c)
		})
	}
}

func checkProbabilities(t *testing.T, p []float64, best int) {
	t.Helper()
	var sum float64
	for c, v := range p {
		if !(v >= 0 && v <= 1) {
			t.Fatalf("probability %d = %v, want in [0,1]", c, v)
		}
		if v > p[best] {
			t.Fatalf("class %d has probability %v above the predicted class's %v", c, v, p[best])
		}
		sum += v
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("probabilities sum to %v, want 1", sum)
	}
}

func TestPredictRejects(t *testing.T) {
	m, _ := trainIris(t)
	tests := []struct {
		name string
		x    []float64
		want error
	}{
		{"none", nil, errFeatures},
		{"three", []float64{5.1, 3.5, 1.4}, errFeatures},
		{"five", []float64{5.1, 3.5, 1.4, 0.2, 1}, errFeatures},
		{"NaN", []float64{5.1, math.NaN(), 1.4, 0.2}, errFeatures},
		{"Inf", []float64{5.1, 3.5, math.Inf(-1), 0.2}, errFeatures},
		{"overflowing scores", []float64{1e308, -1e308, 1e308, -1e308}, errOutOfRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := m.predict(tt.x); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestTrainRejectsBadOptions(t *testing.T) {
	ds := loadIris(t)
	good := defaultTrainOptions()
	tests := []struct {
		name string
		ds   *dataset
		edit func(*trainOptions)
	}{
		{"no rows", &dataset{classes: ds.classes}, func(*trainOptions) {}},
		{"no epochs", ds, func(o *trainOptions) { o.Epochs = 0 }},
		{"zero rate", ds, func(o *trainOptions) { o.LearningRate = 0 }},
		{"NaN rate", ds, func(o *trainOptions) { o.LearningRate = math.NaN() }},
		{"negative l2", ds, func(o *trainOptions) { o.L2 = -1 }},
		{"no clock", ds, func(o *trainOptions) { o.Now = nil }},
		{"diverging rate", ds, func(o *trainOptions) { o.LearningRate = 1e300 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.edit(&o)
			if m, err := train(tt.ds, o); err == nil {
				t.Fatalf("train succeeded (loss %v), want an error", m.loss)
			}
		})
	}
}

func TestConstantColumnDoesNotPoison(t *testing.T) {
	// A feature with zero spread must not turn every score into NaN.
	ds := &dataset{
		x:       [][]float64{{1, 0, 0, 7}, {1, 0, 1, 7}, {2, 1, 0, 7}, {2, 1, 1, 7}},
		y:       []int{0, 0, 1, 1},
		classes: []string{"a", "b"},
	}
	o := defaultTrainOptions()
	o.Now = fixedNow
	m, err := train(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.accuracy(ds); got != 1 {
		t.Fatalf("accuracy on a separable toy set = %v, want 1", got)
	}
}

func FuzzParseCSV(f *testing.F) {
	iris, err := os.ReadFile("iris.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(iris)
	f.Add([]byte("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,a\n5,6,7,8,b\n"))
	f.Add([]byte("sepal_length,sepal_width,petal_length,petal_width,species\n1,2,3,4,\"a\nb\"\n0x1p3,2,3,4,b\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, in []byte) {
		ds, err := parseCSV(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(ds.x) != len(ds.y) || len(ds.classes) < 2 {
			t.Fatalf("inconsistent dataset: %d rows, %d labels, %d classes", len(ds.x), len(ds.y), len(ds.classes))
		}
		for i, x := range ds.x {
			if len(x) != len(featureNames) || ds.y[i] < 0 || ds.y[i] >= len(ds.classes) {
				t.Fatalf("row %d malformed: %v label %d", i, x, ds.y[i])
			}
			for _, v := range x {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("row %d has non-finite %v", i, v)
				}
			}
		}
	})
}

func FuzzPredict(f *testing.F) {
	m, _ := trainIris(f)
	f.Add(5.1, 3.5, 1.4, 0.2)
	f.Add(1e308, -1e308, 1e308, -1e308)
	f.Add(-1e200, 0.0, 3.0, 1e-300)
	f.Fuzz(func(t *testing.T, a, b, c, d float64) {
		best, p, err := m.predict([]float64{a, b, c, d})
		if err != nil {
			if !errors.Is(err, errFeatures) && !errors.Is(err, errOutOfRange) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		checkProbabilities(t, p, best)
	})
}
