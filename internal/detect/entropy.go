package detect

import "math"

// ShannonEntropy returns the Shannon entropy of s in bits per byte, computed
// from the frequencies of the bytes in s itself (its empirical entropy).
//
// The figure is bounded by the alphabet a string is drawn from (4 bits for
// hex, about 5.95 for base62, 6 for base64) and by its length: a string of n
// bytes cannot exceed log2(n) bits, since at most n distinct bytes occur.
// Random 20-character base62 strings average about 4.0 bits, random
// 32-character hex strings about 3.6 and 40-character base64 strings about
// 4.8, while placeholders made of few distinct or repeated characters
// score lower; thresholds in the rules are chosen with both bounds in
// mind, so that about one random key in ten thousand or fewer falls below
// its rule's.
func ShannonEntropy(s string) float64 {
	if len(s) == 0 {
		return 0
	}
	var counts [256]uint32
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	// H = log2(n) - (1/n) * Σ c·log2(c), which needs one logarithm per
	// distinct byte rather than a division per byte.
	n := float64(len(s))
	var sum float64
	for _, c := range counts {
		if c > 1 {
			f := float64(c)
			sum += f * math.Log2(f)
		}
	}
	h := math.Log2(n) - sum/n
	if h < 0 {
		// Rounding can leave -0 or -1e-16 for a single repeated byte.
		return 0
	}
	return h
}
