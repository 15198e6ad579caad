package detect

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers are found in two steps. The scanner proposes candidates
// from digit clusters (the Go port of libphonenumber has no working
// PhoneNumberMatcher: NewPhoneNumberMatcher is a stub in v1.8.1), and the
// library decides: phonenumbers.Parse, then the VALID leniency (a valid
// number for its region, national prefix present where required), and for
// numbers without a country code the library's grouping as well. Parse
// is the expensive step, so candidates are first checked against the
// lengths the default region allows, and each cluster gets a small budget
// of Parse calls.

// phoneBudget bounds the Parse calls per digit cluster; real text has one
// or two numbers per cluster, a table of digits would otherwise cost one
// call per sub-range.
const phoneBudget = 4

// phoneLengths is what the scanner knows about national numbers of the
// default region before asking the library.
type phoneLengths struct {
	// lens has bit n set when a national significant number may have n
	// digits.
	lens uint32
	// np is the national (trunk) prefix, "0" or "1", when plain digits.
	np string
	// intl is the international call prefix ("00", "011") when plain
	// digits; intlPattern is set when the region writes it as a pattern.
	intl        string
	intlPattern bool
	// unknown is set when the metadata could not be read; every
	// candidate then goes to the library.
	unknown bool
}

func newPhoneLengths(region string) phoneLengths {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return phoneLengths{unknown: true}
	}
	for _, m := range coll.GetMetadata() {
		if m.GetId() != region {
			continue
		}
		var p phoneLengths
		for _, n := range m.GetGeneralDesc().GetPossibleLength() {
			if n > 0 && n < 32 {
				p.lens |= 1 << n
			}
		}
		np, npp := m.GetNationalPrefix(), m.GetNationalPrefixForParsing()
		if npp != "" && npp != np {
			// A prefix given as a pattern (AR, BR, ...): lengths alone
			// cannot tell.
			return phoneLengths{unknown: true}
		}
		p.np = np
		if ip := m.GetInternationalPrefix(); plainDigits(ip) {
			p.intl = ip
		} else {
			p.intlPattern = true
		}
		return p
	}
	return phoneLengths{unknown: true}
}

func plainDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !piiDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// mayBe reports whether a national-format candidate of nd digits that
// starts with lead could be a number of the region, so that Parse is
// worth its cost.
func (p *phoneLengths) mayBe(nd int, lead []byte) bool {
	switch {
	case p.unknown, nd < 32 && p.lens&(1<<nd) != 0:
		return true
	case p.np != "" && hasDigitPrefix(lead, p.np) && nd-len(p.np) < 32 && p.lens&(1<<(nd-len(p.np))) != 0:
		return true
	case p.intl != "" && hasDigitPrefix(lead, p.intl) && nd-len(p.intl) >= 7:
		return true
	case p.intlPattern && hasDigitPrefix(lead, "0") && nd >= 9:
		return true
	}
	return false
}

// phones reports phone numbers among the cluster's free groups.
func (s *piiScan) phones(c *numCluster) {
	text := s.text
	budget := phoneBudget
	for a := 0; a < c.n; a++ {
		if !c.free(a, a) || !c.breaksLeft(text, a) {
			continue
		}
		// The farthest end: free groups, at most 17 digits (15 for E.164
		// plus an international call prefix).
		b, nd := a, c.glen(a)
		for b+1 < c.n && c.free(b+1, b+1) && nd+c.glen(b+1) <= 17 {
			b++
			nd += c.glen(b)
		}
		for ; b >= a && nd >= 7; b-- {
			ndb := nd
			nd -= c.glen(b)
			if !c.breaksRight(text, b) {
				continue
			}
			start, end := c.g[a].s, c.g[b].e
			plus := a == 0 && c.plus
			switch {
			case a == 0:
				start = c.start
			case strings.HasSuffix(c.sep(text, a-1), "("):
				start--
			}
			shape, conf := s.phoneShape(c, a, b, start, plus)
			if !shape {
				continue
			}
			var lead [4]byte
			if !plus && !s.d.phone.mayBe(ndb, leadDigits(&lead, text[c.g[a].s:end])) {
				continue
			}
			if budget == 0 {
				return
			}
			budget--
			if !phoneValid(text[start:end], s.d.region, plus) {
				continue
			}
			c.take(a, b)
			s.add(TypePhone, start, end, conf, true)
			a = b
			break
		}
	}
}

// phoneShape rules out digit ranges that are written like something else,
// and tells how sure the shape alone makes the reading.
func (s *piiScan) phoneShape(c *numCluster, a, b, start int, plus bool) (bool, float64) {
	text := s.text
	slashes, dots := 0, 0
	for k := a; k < b; k++ {
		sep := c.sep(text, k)
		slashes += strings.Count(sep, "/")
		dots += strings.Count(sep, ".")
	}
	switch {
	case slashes > 1:
		// Two slashes are a date or a path, never a phone.
		return false, 0
	case dots > 0 && b-a == 1:
		// 12.345678 is a decimal number.
		return false, 0
	case plus:
		return true, 0.9
	case phoneWords.in(text[max(0, start-32):start]):
		return true, 0.9
	case a == b:
		// A bare digit run is an order number as often as a phone.
		return false, 0
	}
	return true, 0.8
}

// leadDigits copies up to the first four digits of s into buf.
func leadDigits(buf *[4]byte, s string) []byte {
	n := 0
	for i := 0; i < len(s) && n < len(buf); i++ {
		if piiDigit(s[i]) {
			buf[n] = s[i]
			n++
		}
	}
	return buf[:n]
}

func hasDigitPrefix(lead []byte, p string) bool {
	return len(lead) >= len(p) && string(lead[:len(p)]) == p
}

// phoneValid asks libphonenumber whether s is a valid number. A number
// written without a country code must also keep the library's grouping.
func phoneValid(s, region string, international bool) bool {
	num, err := phonenumbers.Parse(s, region)
	if err != nil || !phonenumbers.VALID.Verify(num, s) {
		return false
	}
	return international || groupingKept(num, s)
}

// groupingKept is libphonenumber's STRICT_GROUPING test, whose Go port is
// a stub (CheckNumberGroupingIsValid returns false): the digit groups of
// the candidate may join the groups of the number's standard format but
// never split one. "202-300-0451" is a phone; "2023-000451", the same
// digits, is an invoice number.
func groupingKept(num *phonenumbers.PhoneNumber, cand string) bool {
	f := phonenumbers.Format(num, phonenumbers.RFC3966)
	f = strings.TrimPrefix(f, "tel:")
	if i := strings.IndexByte(f, ';'); i >= 0 {
		f = f[:i]
	}
	nsn := phonenumbers.GetNationalSignificantNumber(num)
	// The standard groups of the national significant number, as bits:
	// bit k set when a group starts at digit k.
	var starts uint64
	at, first := 0, true
	for part := range strings.SplitSeq(f, "-") {
		if first { // the +country code
			first = false
			continue
		}
		if at < 64 {
			starts |= 1 << at
		}
		at += len(part)
	}
	if at != len(nsn) {
		return true // a format this check does not understand
	}
	var digits [32]byte
	var bounds [32]int
	nd, nb := 0, 0
	for i := 0; i < len(cand) && nd < len(digits); i++ {
		if !piiDigit(cand[i]) {
			continue
		}
		if nd > 0 && !piiDigit(cand[i-1]) && nb < len(bounds) {
			bounds[nb] = nd
			nb++
		}
		digits[nd] = cand[i]
		nd++
	}
	off := nd - len(nsn)
	if off < 0 || string(digits[off:nd]) != nsn {
		return true
	}
	for _, b := range bounds[:nb] {
		if rel := b - off; rel > 0 && (rel >= 64 || starts&(1<<rel) == 0) {
			return false
		}
	}
	return true
}
