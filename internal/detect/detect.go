// Package detect finds personal data and secrets in text. It is shared by
// the guardrails, which redact or block what it finds in prompts and
// answers, and by the secret scanner, which looks for leaked keys in code
// and git history.
//
// Detectors are built for hot paths: each has a cheap keyword or prefix
// pre-filter that rules most text out before any regular expression runs,
// regular expressions are RE2 (linear time), and checksums (Luhn, mod-97,
// CRC32 of Warden keys) confirm a match where a format has one.
package detect

import "sort"

// Class is the family a finding belongs to; policies act per class.
type Class string

// Classes of findings.
const (
	PII    Class = "pii"
	Secret Class = "secret"
)

// Finding is one match in a text.
type Finding struct {
	// Type names what was found, e.g. "email", "credit_card",
	// "openai_key", "aws_access_key_id". Stable: policies, placeholders
	// ([EMAIL_1]) and evaluation labels use it.
	Type  string
	Class Class
	// Start and End are byte offsets into the text: text[Start:End] is
	// the match.
	Start, End int
	// Confidence is how sure the detector is, 0..1.
	Confidence float64
	// Verified is true when a checksum or a structural check confirmed
	// the match (Luhn for cards, mod-97 for IBANs, a Warden key's CRC).
	Verified bool
}

// Detector finds matches of one or more types in a text. Implementations
// are safe for concurrent use and do not keep text.
type Detector interface {
	// Detect appends the findings in text to dst and returns it, so that a
	// caller can reuse one slice across calls.
	Detect(dst []Finding, text string) []Finding
}

// Sort orders findings by start, longer first at the same start.
func Sort(fs []Finding) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Start != fs[j].Start {
			return fs[i].Start < fs[j].Start
		}
		return fs[i].End > fs[j].End
	})
}

// Resolve sorts fs and drops findings that overlap an earlier, longer or
// more confident one, so that every byte belongs to at most one finding
// (what redaction needs). It works in place and returns the kept prefix.
func Resolve(fs []Finding) []Finding {
	Sort(fs)
	out := fs[:0]
	for _, f := range fs {
		if n := len(out); n > 0 && f.Start < out[n-1].End {
			last := &out[n-1]
			// Keep the more certain of two overlapping findings; a
			// verified one beats an unverified one.
			if better(f, *last) {
				*last = f
			}
			continue
		}
		out = append(out, f)
	}
	return out
}

func better(a, b Finding) bool {
	if a.Verified != b.Verified {
		return a.Verified
	}
	if a.Confidence != b.Confidence {
		return a.Confidence > b.Confidence
	}
	return a.End-a.Start > b.End-b.Start
}

// Multi runs several detectors as one.
type Multi []Detector

// Detect implements Detector.
func (m Multi) Detect(dst []Finding, text string) []Finding {
	for _, d := range m {
		dst = d.Detect(dst, text)
	}
	return dst
}
