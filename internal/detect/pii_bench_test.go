package detect

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

var proseWords = strings.Fields(`the a an of to in and or but for with on at by from as into over
after before under between through during without within along across
model request answer system team service cluster budget token policy gateway
report meeting project customer release update review design change plan
quickly carefully often rarely always usually clearly simply mostly fairly
large small new old useful careful simple complex quiet busy early late
runs sends checks keeps builds moves reads writes takes gives shows makes
people engineers teams users readers operators managers partners vendors
because although while when where which that this those these their our
data traffic latency cost usage limit window queue cache index schema`)

// proseNumbers are the harmless numbers of ordinary writing; they make the
// clean benchmark pay for digit handling instead of skipping it.
var proseNumbers = []string{
	"in 2019", "42 percent", "3 times", "at 10:30", "version 1.4.2", "page 12",
	"1,200 people", "$35", "7 days", "Q3", "about 15 minutes", "v2", "24/7", "2.5x",
}

// cleanProse returns about n bytes of deterministic English-like prose with
// no personal data.
func cleanProse(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	b.Grow(n + 64)
	for b.Len() < n {
		words := 8 + r.IntN(12)
		for i := 0; i < words; i++ {
			w := proseWords[r.IntN(len(proseWords))]
			if i == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			} else {
				b.WriteByte(' ')
			}
			if i > 0 && r.IntN(10) == 0 {
				w = proseNumbers[r.IntN(len(proseNumbers))]
			}
			b.WriteString(w)
		}
		b.WriteString(". ")
	}
	return b.String()[:n]
}

// proseSamples is personal data sprinkled into prose for the "pii"
// benchmarks, one kind after another.
var proseSamples = []string{
	"jane.roe@example.com", "(415) 555-2671", "4111 1111 1111 1111",
	"DE89 3704 0044 0532 0130 00", "SSN 536-90-4399", "203.0.113.7",
	"2001:db8::7", "born 1984-07-19", "+44 20 7946 0958",
}

// piiProse returns about n bytes of prose with a sample of personal data
// roughly every 200 bytes.
func piiProse(n int, seed uint64) string {
	clean := cleanProse(n, seed)
	var b strings.Builder
	b.Grow(n + n/4)
	for i, k := 0, 0; i < len(clean); k++ {
		j := min(len(clean), i+200)
		b.WriteString(clean[i:j])
		b.WriteString(" ")
		b.WriteString(proseSamples[k%len(proseSamples)])
		b.WriteString(" ")
		i = j
	}
	return b.String()
}

// emailBaseline is the yardstick of the benchmarks: one pass of a typical
// email regular expression over the same text.
var emailBaseline = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)

// BenchmarkPII measures NewPII on clean and PII-sprinkled prose. Each
// size runs the email-regex baseline first; the detector run then reports
// its time as a multiple of it (x-email-regex).
func BenchmarkPII(b *testing.B) {
	d := NewPII(PIIOptions{Now: piiNow})
	for _, kind := range []string{"clean", "pii"} {
		for _, size := range []int{1 << 10, 10 << 10, 100 << 10} {
			text := cleanProse(size, 7)
			if kind == "pii" {
				text = piiProse(size, 7)
			}
			var baseline float64 // ns per op of the email regex
			name := fmt.Sprintf("%s/%dKB", kind, size>>10)
			b.Run(name+"/email-regex", func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					emailBaseline.MatchString(text)
				}
				baseline = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			})
			b.Run(name+"/detect", func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				b.ReportAllocs()
				dst := make([]Finding, 0, 1024)
				for b.Loop() {
					dst = d.Detect(dst[:0], text)
				}
				if baseline > 0 {
					ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
					b.ReportMetric(ns/baseline, "x-email-regex")
				}
			})
		}
	}
}
