package detect

import (
	"slices"
	"testing"
)

// FuzzPII checks the invariants every caller relies on: no panic, spans
// inside the text, non-empty, sorted and not overlapping, known types.
func FuzzPII(f *testing.F) {
	for _, s := range []string{
		"", "@", ":", "::", "+", "(", "0", "a@b.co", "x@" + string(make([]byte, 300)),
		"Call (415) 555-2671 or +44 20 7946 0958", "4111 1111 1111 1111",
		"DE89 3704 0044 0532 0130 00", "SSN 536-90-4399", "192.168.1.1:80",
		"2001:db8::1%eth0", "born April 12, 1990", "geboren am 12.04.1990",
		"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23",
		"1.2.3.4.5.6.7.8", "::ffff:1.2.3.4", "née le 3 août 1950", "DE89",
		"\xff\xfe@\xc3", "a@b.c\x00m", "+1-(", "12/12/1212/12",
	} {
		f.Add(s)
	}
	d := NewPII(PIIOptions{Now: piiNow})
	f.Fuzz(func(t *testing.T, text string) {
		fs := d.Detect(nil, text)
		for i, x := range fs {
			if x.Start < 0 || x.End > len(text) || x.Start >= x.End {
				t.Fatalf("finding %d %+v out of bounds for %d bytes", i, x, len(text))
			}
			if i > 0 && x.Start < fs[i-1].End {
				t.Fatalf("finding %d %+v overlaps or precedes %+v", i, x, fs[i-1])
			}
			if x.Class != PII || !slices.Contains(piiTypes[:], x.Type) || x.Confidence <= 0 || x.Confidence > 1 {
				t.Fatalf("finding %d %+v: bad class, type or confidence", i, x)
			}
		}
	})
}
