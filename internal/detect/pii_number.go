package detect

import (
	"net/netip"
	"strings"
)

// maxGroups bounds how many digit groups one cluster holds, so that the
// checks over sub-ranges of a cluster stay cheap on long number tables.
const maxGroups = 16

// numCluster is a run of digit groups joined by short separators
// ("(415) 555-2671", "4111 1111 1111 1111", "10.0.0.1", "1990-04-12").
// Every numeric type is a contiguous range of its groups.
type numCluster struct {
	g [maxGroups]struct{ s, e int }
	n int
	// start is the first byte, a leading '+' or '(' included.
	start int
	plus  bool
	// leftAttached and rightAttached mark a cluster glued to a word or a
	// longer number ("ID4111…", "…1.5", "1,000"); ranges that touch such
	// an edge are not reported.
	leftAttached, rightAttached bool
	// taken marks groups already claimed by a type, bit k for group k.
	taken uint32
}

func (c *numCluster) digitsIn(a, b int) int {
	n := 0
	for k := a; k <= b; k++ {
		n += c.g[k].e - c.g[k].s
	}
	return n
}

func (c *numCluster) glen(k int) int { return c.g[k].e - c.g[k].s }

func (c *numCluster) free(a, b int) bool {
	mask := uint32(1)<<(b+1) - uint32(1)<<a
	return c.taken&mask == 0
}

func (c *numCluster) take(a, b int) {
	c.taken |= uint32(1)<<(b+1) - uint32(1)<<a
}

// sep is the separator between group k and k+1.
func (c *numCluster) sep(text string, k int) string {
	return text[c.g[k].e:c.g[k+1].s]
}

// breaksLeft reports whether a range may start at group a: the cluster
// edge is free, or the separator before a contains a space.
func (c *numCluster) breaksLeft(text string, a int) bool {
	if a == 0 {
		return !c.leftAttached
	}
	return sepHasSpace(c.sep(text, a-1))
}

func (c *numCluster) breaksRight(text string, b int) bool {
	if b == c.n-1 {
		return !c.rightAttached
	}
	return sepHasSpace(c.sep(text, b))
}

// sameSep reports whether groups a..b are joined by one and the same
// separator sep (a single group always is).
func (c *numCluster) sameSep(text string, a, b int, sep string) bool {
	for k := a; k < b; k++ {
		if c.sep(text, k) != sep {
			return false
		}
	}
	return true
}

func sepHasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return true
		}
	}
	return false
}

// numSep accepts the separators written between digit groups.
func numSep(s string) bool {
	switch s {
	case " ", "-", ".", "/", "(", ")", ") ", " (", ")-", " - ", " / ":
		return true
	}
	return false
}

func numSepByte(c byte) bool {
	switch c {
	case ' ', '-', '.', '/', '(', ')':
		return true
	}
	return false
}

// attachedLeft reports whether the byte before p glues the number to a
// word or to a longer number.
func attachedLeft(text string, p int) bool {
	if p == 0 {
		return false
	}
	c := text[p-1]
	if piiAlnum(c) || c == '_' || c == '$' {
		return true
	}
	switch c {
	case '.', '-', '/', ':', ',', '+':
		return p >= 2 && piiDigit(text[p-2])
	}
	return false
}

func attachedRight(text string, e int) bool {
	if e >= len(text) {
		return false
	}
	c := text[e]
	if piiAlnum(c) || c == '_' || c == '%' {
		return true
	}
	switch c {
	case '.', '-', '/', ':', ',':
		return e+1 < len(text) && piiDigit(text[e+1])
	}
	return false
}

// digits handles the digit run starting at i and returns where the scan
// continues.
func (s *piiScan) digits(i int) int {
	text := s.text
	if end, ok := s.iban(i); ok {
		return end
	}
	var c numCluster
	c.start = i
	if i > 0 && (text[i-1] == '+' || text[i-1] == '(') {
		c.plus = text[i-1] == '+'
		c.start = i - 1
	}
	c.leftAttached = attachedLeft(text, c.start)
	j := i
	for {
		k := j
		for k < len(text) && piiDigit(text[k]) {
			k++
		}
		c.g[c.n].s, c.g[c.n].e = j, k
		c.n++
		if c.n == maxGroups {
			// The number goes on: treat the cut as glued so nothing
			// straddling it is reported.
			c.rightAttached = k < len(text) && numSepByte(text[k])
			break
		}
		m := k
		for m < len(text) && m-k < 3 && numSepByte(text[m]) {
			m++
		}
		if m == k || m >= len(text) || !piiDigit(text[m]) || !numSep(text[k:m]) {
			c.rightAttached = attachedRight(text, k)
			break
		}
		j = m
	}
	end := c.g[c.n-1].e

	s.ipv4(&c)
	s.numericDates(&c)
	s.ssn(&c)
	s.cards(&c)
	s.textDates(&c)
	if s.want(maskPhone) {
		s.phones(&c)
	}
	return end
}

// ipv4 claims dotted quads; valid ones are reported.
func (s *piiScan) ipv4(c *numCluster) {
	text := s.text
	for a := 0; a+3 < c.n; a++ {
		b := a + 3
		if !c.sameSep(text, a, b, ".") || c.glen(a) > 3 || c.glen(a+1) > 3 || c.glen(a+2) > 3 || c.glen(b) > 3 {
			continue
		}
		if !c.breaksLeft(text, a) || !ipv4RightOK(text, c, b) {
			continue
		}
		c.take(a, b)
		start, end := c.g[a].s, c.g[b].e
		if afterVersionWord(text, start) {
			continue
		}
		addr, err := netip.ParseAddr(text[start:end])
		if err != nil || !addr.Is4() {
			continue
		}
		if s.want(maskIPv4) {
			s.add(TypeIPv4, start, end, 0.9, true)
		}
		a = b
	}
}

// ipv4RightOK is breaksRight that also lets an address end in a port
// (10.0.0.1:8080) or a CIDR prefix length (10.0.0.0/8).
func ipv4RightOK(text string, c *numCluster, b int) bool {
	if c.breaksRight(text, b) {
		return true
	}
	if b == c.n-1 {
		end := c.g[b].e
		return text[end] == ':'
	}
	return b+1 == c.n-1 && c.sep(text, b) == "/" && c.glen(b+1) <= 2 && !c.rightAttached
}

// afterVersionWord reports whether the word right before p is a version
// marker: "version 10.0.0.1" is a release, not an address.
func afterVersionWord(text string, p int) bool {
	q := p
	for q > 0 && p-q < 2 && (text[q-1] == ' ' || text[q-1] == ':') {
		q--
	}
	w := q
	for w > 0 && q-w < 10 && (piiLetter(text[w-1]) || text[w-1] == '.') {
		w--
	}
	word := strings.TrimSuffix(text[w:q], ".")
	for _, v := range [...]string{"version", "ver", "v", "release", "build", "firmware", "os", "kernel", "rev"} {
		if strings.EqualFold(word, v) {
			return true
		}
	}
	return false
}

// ssn reports US social security numbers.
func (s *piiScan) ssn(c *numCluster) {
	text := s.text
	for a := 0; a < c.n; a++ {
		var b int
		var conf float64
		switch {
		case a+2 < c.n && c.glen(a) == 3 && c.glen(a+1) == 2 && c.glen(a+2) == 4 &&
			(c.sameSep(text, a, a+2, "-") || c.sameSep(text, a, a+2, " ")):
			b = a + 2
			conf = 0.95
		case c.glen(a) == 9:
			b = a
			conf = 0.85
		default:
			continue
		}
		if !c.free(a, b) || !c.breaksLeft(text, a) || !c.breaksRight(text, b) {
			continue
		}
		start, end := c.g[a].s, c.g[b].e
		dashed := b > a && text[c.g[a].e] == '-'
		if !ssnWords.near(text, start, end, 48, 40) {
			if !dashed {
				continue
			}
			conf = 0.75
		}
		if dashed {
			c.take(a, b)
		}
		if !ssnValid(text[start:end]) {
			continue
		}
		c.take(a, b)
		if s.want(maskSSN) {
			s.add(TypeUSSSN, start, end, conf, true)
		}
		a = b
	}
}

// ssnValid applies the SSA rules to nine digits, separators skipped.
func ssnValid(s string) bool {
	var d [9]byte
	n := 0
	for i := 0; i < len(s); i++ {
		if piiDigit(s[i]) {
			if n == 9 {
				return false
			}
			d[n] = s[i] - '0'
			n++
		}
	}
	if n != 9 {
		return false
	}
	area := int(d[0])*100 + int(d[1])*10 + int(d[2])
	group := int(d[3])*10 + int(d[4])
	serial := int(d[5])*1000 + int(d[6])*100 + int(d[7])*10 + int(d[8])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	switch string(d[:]) {
	case "\x00\x07\x08\x00\x05\x01\x01\x02\x00", // 078-05-1120, the Woolworth wallet card
		"\x02\x01\x09\x00\x09\x09\x09\x09\x09", // 219-09-9999, an SSA pamphlet
		"\x04\x05\x07\x05\x05\x05\x04\x06\x02", // 457-55-5462, an identity-theft advert
		"\x01\x02\x03\x04\x05\x06\x07\x08\x09": // 123-45-6789, the usual placeholder
		return false
	}
	return true
}

// cards reports payment card numbers.
func (s *piiScan) cards(c *numCluster) {
	text := s.text
	for a := 0; a < c.n; a++ {
		if !c.breaksLeft(text, a) {
			continue
		}
		for b := min(a+4, c.n-1); b >= a; b-- {
			if !c.free(a, b) || !c.breaksRight(text, b) {
				continue
			}
			nd := c.digitsIn(a, b)
			if nd < 13 || nd > 19 || !cardGrouping(text, c, a, b) {
				continue
			}
			start, end := c.g[a].s, c.g[b].e
			lengthOK, issuer := cardIssuer(text[start:end], nd)
			if !issuer || !cardLuhn(text[start:end]) {
				if b > a {
					// Printed in card groups: whatever it is, no other
					// type may read a part of it.
					c.take(a, b)
					a = b
					break
				}
				continue
			}
			c.take(a, b)
			if s.want(maskCard) {
				if lengthOK {
					s.add(TypeCreditCard, start, end, 0.95, true)
				} else {
					s.add(TypeCreditCard, start, end, 0.5, false)
				}
			}
			a = b
			break
		}
	}
}

// cardGrouping accepts the ways card numbers are printed: contiguous, in
// fours with a shorter last group, 4-6-5 (Amex) and 4-6-4 (Diners).
func cardGrouping(text string, c *numCluster, a, b int) bool {
	if a == b {
		return true
	}
	sep := c.sep(text, a)
	if (sep != " " && sep != "-") || !c.sameSep(text, a, b, sep) {
		return false
	}
	if b-a == 2 && c.glen(a) == 4 && c.glen(a+1) == 6 && (c.glen(b) == 5 || c.glen(b) == 4) {
		return true
	}
	if b-a < 3 {
		return false
	}
	for k := a; k < b; k++ {
		if c.glen(k) != 4 {
			return false
		}
	}
	return c.glen(b) >= 1 && c.glen(b) <= 4
}

// luhn checks the Luhn digit of the digits in s, separators skipped.
func cardLuhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		ch := s[i]
		if !piiDigit(ch) {
			continue
		}
		d := int(ch - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// cardIssuer reports whether the number starts with a known issuer prefix
// and whether its length nd is one that issuer uses.
func cardIssuer(s string, nd int) (lengthOK, known bool) {
	p := 0 // the first six digits
	for i, n := 0, 0; i < len(s) && n < 6; i++ {
		if piiDigit(s[i]) {
			p = p*10 + int(s[i]-'0')
			n++
		}
	}
	p1, p2, p3, p4 := p/100000, p/10000, p/1000, p/100
	in := func(lo, hi int) bool { return nd >= lo && nd <= hi }
	switch {
	case p1 == 4: // Visa
		return nd == 13 || nd == 16 || nd == 19, true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return nd == 16, true
	case p2 == 34 || p2 == 37: // American Express
		return nd == 15, true
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p >= 622126 && p <= 622925: // Discover
		return in(16, 19), true
	case p4 >= 3528 && p4 <= 3589: // JCB
		return in(16, 19), true
	case p3 >= 300 && p3 <= 305, p4 == 3095, p2 == 36, p2 == 38, p2 == 39: // Diners Club
		return in(14, 19), true
	case p2 == 62: // UnionPay
		return in(16, 19), true
	}
	return false, false
}
