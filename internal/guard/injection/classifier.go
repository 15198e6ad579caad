package injection

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// The labelled sets double as the classifier's training data, embedded so
// that the model is trained from the same bytes the tests read.
//
//go:embed testdata/injection.jsonl testdata/injection_holdout.jsonl testdata/injection_more.jsonl
var trainingFS embed.FS

// trainingFiles are the embedded sets the default classifier learns from.
var trainingFiles = []string{"testdata/injection.jsonl", "testdata/injection_holdout.jsonl", "testdata/injection_more.jsonl"}

// Example is one labelled text.
type Example struct {
	Text      string `json:"text"`
	Injection bool   `json:"-"`
	Label     string `json:"label"`
}

// ParseExamples reads JSON Lines of {"text": ..., "label": "injection" or
// "benign"}.
func ParseExamples(data []byte) ([]Example, error) {
	var out []Example
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ex Example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		switch ex.Label {
		case "injection":
			ex.Injection = true
		case "benign":
		default:
			return nil, fmt.Errorf("line %d: label %q is neither injection nor benign", line, ex.Label)
		}
		out = append(out, ex)
	}
	return out, sc.Err()
}

// classifierBits is the size of the hashed feature space, 2^18 weights:
// large enough that the few tens of thousands of features of the training
// sets rarely share a slot.
const classifierBits = 18

// Classifier is a Scorer that learned from labelled examples: logistic
// regression over hashed features of the normalised text (words, word
// pairs and character 4-grams, which carry inflections and other
// languages' cognates). Where the heuristic needs a phrase in its tables,
// the classifier weighs every word it has seen with either label, so it
// catches paraphrases that share vocabulary with known attacks; it can
// also be fooled by vocabulary alone, so it is meant to be combined with
// the heuristic (see Combined), not used alone.
//
// It is safe for concurrent use.
type Classifier struct {
	w    []float32
	bias float32
}

// TrainOptions tune TrainClassifier. The zero value uses the defaults.
type TrainOptions struct {
	Epochs int     // passes over the data; 0 means 12
	L2     float64 // weight decay per step; 0 means 1e-4
	Rate   float64 // AdaGrad learning rate; 0 means 0.5
	Seed   uint64  // shuffling order
}

// TrainClassifier fits a classifier to examples. Training is
// deterministic for given examples and options.
func TrainClassifier(examples []Example, opts TrainOptions) *Classifier {
	if opts.Epochs == 0 {
		opts.Epochs = 12
	}
	if opts.L2 == 0 {
		opts.L2 = 1e-4
	}
	if opts.Rate == 0 {
		opts.Rate = 0.5
	}
	c := &Classifier{w: make([]float32, 1<<classifierBits)}
	g := make([]float32, len(c.w)) // AdaGrad accumulators
	var gb float32
	docs := make([][]uint32, len(examples))
	for i, ex := range examples {
		docs[i] = c.features(nil, ex.Text)
	}
	order := make([]int, len(examples))
	for i := range order {
		order[i] = i
	}
	rnd := rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15))
	for range opts.Epochs {
		rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			fs := docs[i]
			if len(fs) == 0 {
				continue
			}
			x := float32(1 / math.Sqrt(float64(len(fs))))
			p := sigmoid(c.dot(fs, x))
			y := float32(0)
			if examples[i].Injection {
				y = 1
			}
			grad := p - y
			for _, f := range fs {
				gi := grad*x + float32(opts.L2)*c.w[f]
				g[f] += gi * gi
				c.w[f] -= float32(opts.Rate) * gi / float32(math.Sqrt(float64(g[f]))+1e-8)
			}
			gb += grad * grad
			c.bias -= float32(opts.Rate) * grad / float32(math.Sqrt(float64(gb))+1e-8)
		}
	}
	return c
}

// DefaultClassifier returns the classifier trained on the embedded sets,
// training it on first use (a few hundred milliseconds, once).
var DefaultClassifier = sync.OnceValue(func() *Classifier {
	var all []Example
	for _, name := range trainingFiles {
		data, err := trainingFS.ReadFile(name)
		if err != nil {
			panic("injection: embedded training set: " + err.Error())
		}
		exs, err := ParseExamples(data)
		if err != nil {
			panic("injection: embedded training set " + name + ": " + err.Error())
		}
		all = append(all, exs...)
	}
	return TrainClassifier(all, TrainOptions{})
})

// Score implements Scorer: the probability the model gives the text of
// being an injection.
func (c *Classifier) Score(ctx context.Context, text string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("injection: scoring stopped before it began: %w", err)
	}
	return Result{Score: c.Probability(text)}, nil
}

// Probability returns the model's probability that text is an injection.
func (c *Classifier) Probability(text string) float64 {
	fp := featurePool.Get().(*[]uint32)
	fs := c.features((*fp)[:0], text)
	p := 0.0
	if len(fs) > 0 {
		p = float64(sigmoid(c.dot(fs, float32(1/math.Sqrt(float64(len(fs)))))))
	} else {
		p = float64(sigmoid(c.bias))
	}
	*fp = fs
	featurePool.Put(fp)
	return p
}

var featurePool = sync.Pool{New: func() any { s := make([]uint32, 0, 1024); return &s }}

func (c *Classifier) dot(fs []uint32, x float32) float32 {
	s := c.bias
	for _, f := range fs {
		s += c.w[f] * x
	}
	return s
}

func sigmoid(z float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(z))))
}

// maxFeatureText bounds the text a classifier reads: the first and last
// parts of a long document, where instructions to a model usually sit.
const maxFeatureText = 16 << 10

// features appends the hashed features of text to dst: every word, every
// pair of adjacent words, and every character 4-gram of the normalised
// text. A feature may repeat; repeats count.
func (c *Classifier) features(dst []uint32, text string) []uint32 {
	if len(text) > 2*maxFeatureText {
		dst = c.features(dst, text[:maxFeatureText])
		return c.features(dst, text[len(text)-maxFeatureText:])
	}
	nb := normPool.Get().(*[]byte)
	norm, _ := normalize((*nb)[:0], text, nil, nil)
	defer func() { *nb = norm; normPool.Put(nb) }()
	// FNV-1a: fixed, so that a model trained in one process scores alike
	// in another.
	const mask = 1<<classifierBits - 1
	hash := func(kind byte, a, b []byte) uint32 {
		h := uint32(2166136261)
		h = (h ^ uint32(kind)) * 16777619
		for _, c := range a {
			h = (h ^ uint32(c)) * 16777619
		}
		if b != nil {
			h = (h ^ ' ') * 16777619
			for _, c := range b {
				h = (h ^ uint32(c)) * 16777619
			}
		}
		return (h ^ h>>15) & mask
	}
	var prev []byte
	for i := 0; i < len(norm); {
		for i < len(norm) && !isFeatureWordByte(norm[i]) {
			i++
		}
		j := i
		for j < len(norm) && isFeatureWordByte(norm[j]) {
			j++
		}
		if j == i {
			break
		}
		word := norm[i:j]
		dst = append(dst, hash('w', word, nil))
		if prev != nil {
			dst = append(dst, hash('p', prev, word))
		}
		prev = word
		i = j
	}
	for i := 0; i+4 <= len(norm); i++ {
		// A 4-gram is a 32-bit number: one multiplication mixes it.
		g := uint32(norm[i]) | uint32(norm[i+1])<<8 | uint32(norm[i+2])<<16 | uint32(norm[i+3])<<24
		g *= 0x9e3779b1
		dst = append(dst, (g^g>>15)&mask)
	}
	return dst
}

var normPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// isFeatureWordByte reports whether c belongs to a word of the normalised text:
// ASCII letters and digits, the apostrophe, and the bytes of non-ASCII
// letters.
func isFeatureWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '\'' || c >= 0x80
}

// Combined scores a text with a heuristic and a classifier and keeps the
// higher of the two, the classifier's scaled by ClassifierWeight (and
// capped at 1): the heuristic's signals explain its verdicts, and the
// classifier catches paraphrases the heuristic's tables miss.
type Combined struct {
	Heuristic  *Heuristic
	Classifier *Classifier
	// ClassifierWeight scales the classifier's probability; 0 means
	// DefaultClassifierWeight.
	ClassifierWeight float64
}

// DefaultClassifierWeight maps the classifier's probability onto the
// heuristic's scale: a probability of 0.6 reaches DefaultThreshold. At 0.6
// the classifier alone, cross-validated on the training sets, has
// precision 0.97 and recall 0.89 (TestClassifierCrossValidation).
const DefaultClassifierWeight = 0.8 / 0.6

// Score implements Scorer. The result carries the heuristic's signals and,
// when the classifier decided, a "classifier" signal with its score.
func (s Combined) Score(ctx context.Context, text string) (Result, error) {
	r, err := s.Heuristic.Score(ctx, text)
	if err != nil {
		return r, err
	}
	k := s.ClassifierWeight
	if k == 0 {
		k = DefaultClassifierWeight
	}
	if p := min(1, k*s.Classifier.Probability(text)); p > r.Score {
		r.Score = p
		r.Signals = append(r.Signals, Signal{Name: "classifier", Category: CategoryClassifier, Weight: p, End: len(text)})
	}
	return r, nil
}

// CategoryClassifier is the category of the classifier's signal.
const CategoryClassifier = "classifier"

// NewDefault returns the scorer Warden uses: the heuristic combined with
// the classifier trained on the embedded sets.
func NewDefault(opts Options) Combined {
	return Combined{Heuristic: NewHeuristic(opts), Classifier: DefaultClassifier()}
}
