// # Personal data
//
// [NewPII] finds these types of personal data (the Finding.Type strings):
//
//   - "email": addresses with an ASCII local part and a dotted domain whose
//     last label is alphabetic (user@localhost and IP-literal domains are
//     not reported).
//   - "phone": international numbers (+44 20 7946 0958, 00 44 …) and
//     national numbers in the configured region ((415) 555-2671,
//     030 901820 in DE), read and validated by libphonenumber
//     (github.com/nyaruka/phonenumbers). A bare digit run without grouping
//     or a + is only read as a phone next to a word such as "phone",
//     "call" or "tel".
//   - "us_ssn": AAA-GG-SSSS under the SSA rules (area not 000, 666 or
//     900-999, group not 00, serial not 0000, not a well-known advertising
//     number). The dashed form is reported anywhere; the bare and spaced
//     forms only near "SSN" or "social security".
//   - "credit_card": 13-19 digits, contiguous or grouped by single spaces or
//     dashes (4-4-4-4, 4-6-5, ...), that pass Luhn and start with a known
//     issuer prefix. A Luhn failure or an unknown issuer is never reported.
//   - "iban": country code, check digits and BBAN with the per-country length,
//     contiguous or in groups of four, upper case, mod-97 = 1.
//   - "ipv4", "ipv6": addresses that net/netip accepts, not inside a longer
//     dotted number and not right after a word such as "version".
//   - "date_of_birth": 1990-04-12, 12/04/1990, 12.04.1990, April 12, 1990
//     and 12 April 1990 (English, German and French month names), only
//     within about 40 characters of "born", "birth", "DOB", "geboren", "né"
//     and similar, and only for real calendar dates in the last 120 years.
//
// Verified is set where a check confirms the value itself: libphonenumber
// validity, the SSA rules, Luhn with issuer prefix and length, mod-97,
// net/netip. Email addresses and dates of birth are never Verified: their
// form says nothing about whether they are real. Within one Detect call
// the PII findings do not overlap; the longer reading wins.
//
// Not detected: postal addresses and personal names. Doing either reliably
// needs a trained named-entity model and gazetteers per country; no
// well-kept Go library does it, and pattern rules produce more noise than
// signal, so the package does not pretend to.
//
// Matching is on ASCII digits and the literal text. Fullwidth or other
// non-ASCII digits, and zero-width characters placed inside a number or an
// address, hide it from the detectors; a caller that must resist deliberate
// evasion normalizes text (NFKC, format characters removed) before
// detection and maps the offsets back itself.
//
// Cost: a clean text is one pass over its bytes looking for digits, '@' and
// ':'; digit groups with fewer than seven digits never reach the phone
// library, which is the expensive step (tens of microseconds and a few
// dozen allocations per candidate number).
package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Types of personal data reported by the detector NewPII returns.
const (
	TypeEmail       = "email"
	TypePhone       = "phone"
	TypeUSSSN       = "us_ssn"
	TypeCreditCard  = "credit_card"
	TypeIBAN        = "iban"
	TypeIPv4        = "ipv4"
	TypeIPv6        = "ipv6"
	TypeDateOfBirth = "date_of_birth"
)

// piiTypes is the order of the bits in piiMask.
var piiTypes = [...]string{
	TypeEmail, TypePhone, TypeUSSSN, TypeCreditCard,
	TypeIBAN, TypeIPv4, TypeIPv6, TypeDateOfBirth,
}

type piiMask uint16

const (
	maskEmail piiMask = 1 << iota
	maskPhone
	maskSSN
	maskCard
	maskIBAN
	maskIPv4
	maskIPv6
	maskDOB
)

// PIITypes returns every type NewPII can report, for configuration checks
// and help texts.
func PIITypes() []string {
	return slices.Clone(piiTypes[:])
}

// PIIOptions configures NewPII. The zero value detects every type and
// reads national phone numbers as US numbers.
type PIIOptions struct {
	// Types selects the types to report (TypeEmail, ...); empty means all.
	Types []string
	// PhoneRegion is the ISO 3166-1 alpha-2 region ("US", "DE") used for
	// phone numbers written without a country code. Empty means "US".
	PhoneRegion string
	// Now is the clock that bounds dates of birth (not in the future, not
	// more than 120 years ago). Nil means time.Now.
	Now func() time.Time
}

// Validate reports every unknown type and an unsupported region at once,
// so that a configuration can be checked before NewPII is called.
func (o PIIOptions) Validate() error {
	var problems []string
	for _, t := range o.Types {
		if !slices.Contains(piiTypes[:], t) {
			problems = append(problems, fmt.Sprintf("unknown PII type %q (use one of %s)", t, strings.Join(piiTypes[:], ", ")))
		}
	}
	if r := o.PhoneRegion; r != "" && !phonenumbers.GetSupportedRegions()[r] {
		problems = append(problems, fmt.Sprintf("unsupported phone region %q (use an upper-case ISO 3166-1 alpha-2 code such as US or DE)", r))
	}
	if len(problems) > 0 {
		return fmt.Errorf("detect: invalid PII options: %s", strings.Join(problems, "; "))
	}
	return nil
}

// NewPII returns a detector for personal data; see the package
// documentation for what each type covers. It panics if opts.Validate
// fails: options come from configuration that is checked at start.
func NewPII(opts PIIOptions) Detector {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	d := &piiDetector{now: opts.Now, region: opts.PhoneRegion}
	if d.now == nil {
		d.now = time.Now
	}
	if d.region == "" {
		d.region = "US"
	}
	if len(opts.Types) == 0 {
		d.mask = 1<<len(piiTypes) - 1
	}
	for _, t := range opts.Types {
		d.mask |= piiMask(1) << slices.Index(piiTypes[:], t)
	}
	d.phone = newPhoneLengths(d.region)
	return d
}

// piiDetector is immutable after NewPII; all per-call state lives in a
// piiScan on the caller's stack.
type piiDetector struct {
	mask   piiMask
	region string
	now    func() time.Time
	phone  phoneLengths
}

var _ Detector = (*piiDetector)(nil)

// Trigger bytes: everything else is skipped by one table lookup per byte.
const (
	trigDigit = 1 + iota
	trigAt
	trigColon
)

var piiTrigger = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = trigDigit
	}
	t['@'] = trigAt
	t[':'] = trigColon
	return t
}()

// Detect implements Detector. The findings it appends are sorted by start
// and do not overlap each other: where two readings of the same bytes
// compete (a phone inside an email), the longer one is kept.
func (d *piiDetector) Detect(dst []Finding, text string) []Finding {
	n0 := len(dst)
	s := piiScan{d: d, text: text, dst: dst}
	for i := 0; i < len(text); {
		c := piiTrigger[text[i]]
		if c == 0 {
			i++
			continue
		}
		switch c {
		case trigDigit:
			i = s.digits(i)
		case trigAt:
			i = s.email(i)
		default:
			i = s.colon(i)
		}
	}
	return resolveOwn(s.dst, n0)
}

// piiScan is the state of one Detect call.
type piiScan struct {
	d    *piiDetector
	text string
	dst  []Finding
	// v6End is the end of the last colon run read as a possible IPv6
	// address, so that its other colons are not read again.
	v6End int
	// now is d.now(), read once per call when a date needs it.
	now    time.Time
	nowSet bool
}

func (s *piiScan) want(m piiMask) bool { return s.d.mask&m != 0 }

func (s *piiScan) add(typ string, start, end int, conf float64, verified bool) {
	s.dst = append(s.dst, Finding{Type: typ, Class: PII, Start: start, End: end, Confidence: conf, Verified: verified})
}

func (s *piiScan) clock() time.Time {
	if !s.nowSet {
		s.now, s.nowSet = s.d.now(), true
	}
	return s.now
}

// resolveOwn sorts dst[n0:] and drops findings that overlap a longer one
// (or an equally long, more confident one), in place.
func resolveOwn(dst []Finding, n0 int) []Finding {
	own := dst[n0:]
	if len(own) < 2 {
		return dst
	}
	slices.SortFunc(own, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	out := own[:1]
	for _, f := range own[1:] {
		last := &out[len(out)-1]
		if f.Start < last.End {
			fl, ll := f.End-f.Start, last.End-last.Start
			if fl > ll || (fl == ll && f.Confidence > last.Confidence) {
				*last = f
			}
			continue
		}
		out = append(out, f)
	}
	return dst[:n0+len(out)]
}
