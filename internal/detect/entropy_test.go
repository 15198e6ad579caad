package detect

import (
	"math"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

func TestShannonEntropy(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	tests := []struct {
		s    string
		want float64
	}{
		{"", 0},
		{"a", 0},
		{"aaaaaaaa", 0},
		{"ab", 1},
		{"aabb", 1},
		{"abcd", 2},
		{"0123456789abcdef", 4},
		{"aaab", 0.8112781244591328},
		{string(all), 8},
		{strings.Repeat(string(all), 3), 8},
	}
	for _, tt := range tests {
		if got := ShannonEntropy(tt.s); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ShannonEntropy(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// The figures the rules' thresholds rest on (see ShannonEntropy and
// acceptGeneric): the average entropy of random strings, and how rarely a
// random key falls below its rule's threshold.
func TestShannonEntropyOfRandomStrings(t *testing.T) {
	g := detecttest.NewGen(12)
	tests := []struct {
		alphabet  string
		n         int
		mean      float64 // documented average, ± 0.1
		threshold float64
	}{
		{"A", 20, 4.0, 3.1}, // generic_secret
		{"a", 20, 3.9, 3.1}, // generic_secret
		{"h", 20, 3.4, 2.6}, // generic_secret, hex
		{"h", 32, 3.6, 3.0}, // azure_openai_key
		{"A", 32, 4.5, 3.5}, // mistral_key
		{"A", 40, 4.8, 3.5}, // cohere_key
		{"b", 40, 4.8, 4.0}, // aws_secret_access_key
	}
	const samples = 10000
	for _, tt := range tests {
		sum, below := 0.0, 0
		for range samples {
			h := ShannonEntropy(g.Chars(detecttest.Alphabets()[tt.alphabet], tt.n))
			sum += h
			if h < tt.threshold {
				below++
			}
		}
		mean := sum / samples
		t.Logf("%s×%d: mean %.2f bits, %d in %d below %.1f", tt.alphabet, tt.n, mean, below, samples, tt.threshold)
		if math.Abs(mean-tt.mean) > 0.1 {
			t.Errorf("%s×%d: mean %.2f, documented %.1f", tt.alphabet, tt.n, mean, tt.mean)
		}
		if below > samples/1000 {
			t.Errorf("%s×%d: %d in %d random strings below the threshold %.1f", tt.alphabet, tt.n, below, samples, tt.threshold)
		}
	}
}

func BenchmarkShannonEntropy(b *testing.B) {
	s := detecttest.NewGen(13).Chars(detecttest.Base62, 40)
	for b.Loop() {
		ShannonEntropy(s)
	}
}
