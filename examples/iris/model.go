package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"time"
)

// featureNames is the header iris.csv must have, in this order; requests
// send features in the same order.
var featureNames = []string{"sepal_length", "sepal_width", "petal_length", "petal_width"}

// dataset is a labelled table: x[i] has len(featureNames) values and y[i]
// indexes classes.
type dataset struct {
	x       [][]float64
	y       []int
	classes []string
}

// parseCSV reads a table with the header featureNames + "species". Classes
// are numbered in order of first appearance, so the same file always gives
// the same numbering. Every value must be a finite number: one bad cell
// would poison the standardization of a whole column.
func parseCSV(r io.Reader) (*dataset, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(featureNames) + 1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read iris data header: %w", err)
	}
	want := append(slices.Clone(featureNames), "species")
	if !slices.Equal(header, want) {
		return nil, fmt.Errorf("iris data header is %q; want %q", header, want)
	}
	ds := &dataset{}
	index := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read iris data: %w", err)
		}
		line, _ := cr.FieldPos(0)
		row := make([]float64, len(featureNames))
		for j := range featureNames {
			v, err := strconv.ParseFloat(rec[j], 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("iris data line %d: %s is %q; want a finite number", line, featureNames[j], rec[j])
			}
			row[j] = v
		}
		species := rec[len(featureNames)]
		if species == "" {
			return nil, fmt.Errorf("iris data line %d: species is empty", line)
		}
		c, ok := index[species]
		if !ok {
			c = len(ds.classes)
			index[species] = c
			ds.classes = append(ds.classes, species)
		}
		ds.x = append(ds.x, row)
		ds.y = append(ds.y, c)
	}
	if len(ds.classes) < 2 {
		return nil, fmt.Errorf("iris data has %d classes; a classifier needs at least 2", len(ds.classes))
	}
	return ds, nil
}

// holdoutEvery puts every holdoutEvery-th row of each class in the test
// set: a stratified 20% split that needs no random numbers, so the split,
// and with it the reported accuracy, is the same on every run.
const holdoutEvery = 5

// split divides ds into training and test sets, stratified by class.
func (ds *dataset) split() (train, test *dataset) {
	train = &dataset{classes: ds.classes}
	test = &dataset{classes: ds.classes}
	seen := make([]int, len(ds.classes))
	for i, c := range ds.y {
		dst := train
		if seen[c]%holdoutEvery == holdoutEvery-1 {
			dst = test
		}
		seen[c]++
		dst.x = append(dst.x, ds.x[i])
		dst.y = append(dst.y, c)
	}
	return train, test
}

// trainOptions are the knobs of train. The zero value is not usable; see
// defaultTrainOptions.
type trainOptions struct {
	// Epochs is the number of full-batch gradient steps.
	Epochs int
	// LearningRate is the step size. Standardized features keep the loss
	// well conditioned, so a large fixed rate converges without a schedule.
	LearningRate float64
	// L2 is the weight decay. It keeps the weights finite on classes that
	// are linearly separable (setosa), where the unregularized optimum is
	// at infinity.
	L2 float64
	// Now stamps the model; tests fix it.
	Now func() time.Time
}

// defaultTrainOptions are the settings the server trains with.
func defaultTrainOptions() trainOptions {
	return trainOptions{Epochs: 2000, LearningRate: 0.5, L2: 1e-3, Now: time.Now}
}

// model is a multinomial logistic regression on standardized features.
// It is immutable after train, so handlers share it without locks.
type model struct {
	classes []string
	mean    []float64
	std     []float64
	// weights[c] holds one weight per feature followed by the bias.
	weights   [][]float64
	trainedAt time.Time
	trainRows int
	// loss is the final mean cross-entropy on the training set.
	loss float64
}

// train fits a model to ds by full-batch gradient descent from zero
// weights. There is no randomness and the sums run in a fixed order, so
// the same data and options give bit-identical weights.
func train(ds *dataset, o trainOptions) (*model, error) {
	if len(ds.x) == 0 {
		return nil, errors.New("train: no rows")
	}
	if o.Epochs <= 0 || !(o.LearningRate > 0) || o.L2 < 0 || o.Now == nil {
		return nil, fmt.Errorf("train: invalid options (epochs %d, learning rate %g, l2 %g, clock set %t)",
			o.Epochs, o.LearningRate, o.L2, o.Now != nil)
	}
	d, k, n := len(featureNames), len(ds.classes), len(ds.x)
	m := &model{
		classes:   ds.classes,
		mean:      make([]float64, d),
		std:       make([]float64, d),
		weights:   make([][]float64, k),
		trainRows: n,
	}
	for _, row := range ds.x {
		for j, v := range row {
			m.mean[j] += v
		}
	}
	for j := range m.mean {
		m.mean[j] /= float64(n)
	}
	for _, row := range ds.x {
		for j, v := range row {
			m.std[j] += (v - m.mean[j]) * (v - m.mean[j])
		}
	}
	for j := range m.std {
		m.std[j] = math.Sqrt(m.std[j] / float64(n))
		if m.std[j] == 0 {
			// A constant column carries no information; dividing by 1
			// leaves it at zero instead of producing NaN.
			m.std[j] = 1
		}
	}
	z := make([][]float64, n)
	for i, row := range ds.x {
		z[i] = m.standardize(row)
	}
	for c := range m.weights {
		m.weights[c] = make([]float64, d+1)
	}
	grad := make([][]float64, k)
	for c := range grad {
		grad[c] = make([]float64, d+1)
	}
	p := make([]float64, k)
	for epoch := range o.Epochs {
		for c := range grad {
			clear(grad[c])
		}
		m.loss = 0
		for i, zi := range z {
			if !m.softmax(zi, p) {
				return nil, fmt.Errorf("train: scores overflowed at epoch %d; lower the learning rate", epoch)
			}
			m.loss -= math.Log(max(p[ds.y[i]], 1e-300))
			for c := range p {
				e := p[c]
				if c == ds.y[i] {
					e--
				}
				for j, v := range zi {
					grad[c][j] += e * v
				}
				grad[c][d] += e
			}
		}
		m.loss /= float64(n)
		for c, w := range m.weights {
			for j := range w {
				g := grad[c][j] / float64(n)
				if j < d {
					g += o.L2 * w[j]
				}
				w[j] -= o.LearningRate * g
			}
		}
	}
	m.trainedAt = o.Now().UTC()
	return m, nil
}

// standardize returns x scaled with the training mean and deviation.
func (m *model) standardize(x []float64) []float64 {
	z := make([]float64, len(x))
	for j, v := range x {
		z[j] = (v - m.mean[j]) / m.std[j]
	}
	return z
}

// softmax writes the class probabilities of standardized z into p. It
// reports false when a score overflows, which only inputs many orders of
// magnitude outside the training range can cause.
func (m *model) softmax(z, p []float64) bool {
	d := len(z)
	top := math.Inf(-1)
	for c, w := range m.weights {
		s := w[d]
		for j, v := range z {
			s += w[j] * v
		}
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return false
		}
		p[c] = s
		top = max(top, s)
	}
	// Subtracting the largest score keeps exp from overflowing on inputs
	// far outside the training range.
	var sum float64
	for c := range p {
		p[c] = math.Exp(p[c] - top)
		sum += p[c]
	}
	for c := range p {
		p[c] /= sum
	}
	return true
}

// Errors of predict. The server checks shape before calling it, with the
// position of the bad value; these are the model's own guard.
var (
	errFeatures   = fmt.Errorf("want %d finite numbers (%v)", len(featureNames), featureNames)
	errOutOfRange = errors.New("features are too far outside the range of the training data to score")
)

// predict returns the most probable class of x and every class's
// probability, indexed like m.classes.
func (m *model) predict(x []float64) (int, []float64, error) {
	if len(x) != len(featureNames) {
		return 0, nil, errFeatures
	}
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, nil, errFeatures
		}
	}
	p := make([]float64, len(m.classes))
	if !m.softmax(m.standardize(x), p) {
		return 0, nil, errOutOfRange
	}
	best := 0
	for c := range p {
		if p[c] > p[best] {
			best = c
		}
	}
	return best, p, nil
}

// accuracy is the share of ds that m classifies correctly.
func (m *model) accuracy(ds *dataset) float64 {
	if len(ds.x) == 0 {
		return 0
	}
	right := 0
	for i, x := range ds.x {
		c, _, err := m.predict(x)
		if err == nil && c == ds.y[i] {
			right++
		}
	}
	return float64(right) / float64(len(ds.x))
}
