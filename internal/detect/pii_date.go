package detect

import (
	"regexp"
	"strings"
	"time"
)

// monthNames lists English, German and French month names and the usual
// English abbreviations; longer names come first only for readability,
// RE2 tries every alternative.
const monthNames = `january|february|march|april|may|june|july|august|september|october|november|december|` +
	`jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec|` +
	`januar|jänner|februar|märz|maerz|mai|juni|juli|oktober|dezember|` +
	`janvier|février|fevrier|mars|avril|juin|juillet|août|aout|septembre|octobre|novembre|décembre|decembre`

// textDate matches a date written with a month name that ends at the end
// of its input: "April 12, 1990", "12 April 1990", "12. April 1990",
// "12th of April 1990". It only runs on a short window that ends with a
// year near a birth word.
var textDate = regexp.MustCompile(`(?i)(?:\b(` + monthNames + `)\.?\s{1,3}(\d{1,2})(?:st|nd|rd|th)?,?\s{1,3}|` +
	`\b(\d{1,2})(?:st|nd|rd|th|\.)?\s{1,3}(?:of\s{1,3})?(` + monthNames + `)\.?,?\s{1,3})\d{4}$`)

var monthNumber = map[string]time.Month{
	"jan": 1, "january": 1, "januar": 1, "jänner": 1, "janvier": 1,
	"feb": 2, "february": 2, "februar": 2, "février": 2, "fevrier": 2,
	"mar": 3, "march": 3, "märz": 3, "maerz": 3, "mars": 3,
	"apr": 4, "april": 4, "avril": 4,
	"may": 5, "mai": 5,
	"jun": 6, "june": 6, "juni": 6, "juin": 6,
	"jul": 7, "july": 7, "juli": 7, "juillet": 7,
	"aug": 8, "august": 8, "août": 8, "aout": 8,
	"sep": 9, "sept": 9, "september": 9, "septembre": 9,
	"oct": 10, "october": 10, "oktober": 10, "octobre": 10,
	"nov": 11, "november": 11, "novembre": 11,
	"dec": 12, "december": 12, "dezember": 12, "décembre": 12, "decembre": 12,
}

func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// calendarDate reports whether y-m-d exists.
func calendarDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// birthDate reports whether y-m-d exists, is not in the future and is at
// most 120 years old.
func (s *piiScan) birthDate(y, m, d int) bool {
	if !calendarDate(y, m, d) {
		return false
	}
	now := s.clock()
	ny, nm, nd := now.Date()
	if y > ny || (y == ny && (time.Month(m) > nm || (time.Month(m) == nm && d > nd))) {
		return false
	}
	oldest := now.AddDate(-120, 0, 0)
	return !time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Before(
		time.Date(oldest.Year(), oldest.Month(), oldest.Day(), 0, 0, 0, 0, time.UTC))
}

// numericDates claims y-m-d, d/m/y, m/d/y and d.m.y dates, so that no
// other type reads them, and reports the ones near a birth word.
func (s *piiScan) numericDates(c *numCluster) {
	text := s.text
	for a := 0; a+2 < c.n; a++ {
		b := a + 2
		sep := c.sep(text, a)
		if (sep != "-" && sep != "/" && sep != ".") || c.sep(text, a+1) != sep {
			continue
		}
		if !c.free(a, b) || !c.breaksLeft(text, a) || !c.breaksRight(text, b) {
			continue
		}
		l0, l1, l2 := c.glen(a), c.glen(a+1), c.glen(b)
		x0 := atoiDigits(text[c.g[a].s:c.g[a].e])
		x1 := atoiDigits(text[c.g[a+1].s:c.g[a+1].e])
		x2 := atoiDigits(text[c.g[b].s:c.g[b].e])
		// Candidate readings as (year, month, day); d/m/y and m/d/y are
		// both tried because the text does not say which it is.
		var ys, ms, ds [2]int
		switch {
		case l0 == 4 && l1 <= 2 && l2 <= 2:
			ys[0], ms[0], ds[0] = x0, x1, x2
		case l0 <= 2 && l1 <= 2 && l2 == 4:
			ys[0], ms[0], ds[0] = x2, x1, x0
			ys[1], ms[1], ds[1] = x2, x0, x1
		default:
			continue
		}
		if !calendarDate(ys[0], ms[0], ds[0]) && !calendarDate(ys[1], ms[1], ds[1]) {
			continue
		}
		c.take(a, b)
		start, end := c.g[a].s, c.g[b].e
		if s.want(maskDOB) && dobWords.near(text, start, end, 48, 40) &&
			(s.birthDate(ys[0], ms[0], ds[0]) || s.birthDate(ys[1], ms[1], ds[1])) {
			s.add(TypeDateOfBirth, start, end, 0.85, false)
		}
		a = b
	}
}

// textDates reports dates written with a month name that end in one of
// the cluster's four-digit groups, near a birth word.
func (s *piiScan) textDates(c *numCluster) {
	if !s.want(maskDOB) {
		return
	}
	text := s.text
	for k := 0; k < c.n; k++ {
		g := c.g[k]
		if g.e-g.s != 4 || !c.free(k, k) || !c.breaksRight(text, k) {
			continue
		}
		y := atoiDigits(text[g.s:g.e])
		if y < 1800 || y > 2199 {
			continue
		}
		// The date starts at most ~25 bytes before its year; the birth word
		// is within ~40 bytes of the date.
		if !dobWords.in(text[max(0, g.s-88):g.s]) && !dobWords.in(text[g.e:min(len(text), g.e+40)]) {
			continue
		}
		off := max(0, g.s-40)
		m := textDate.FindStringSubmatchIndex(text[off:g.e])
		if m == nil {
			continue
		}
		monthAt, dayAt := 2, 4
		if m[2] < 0 {
			monthAt, dayAt = 8, 6
		}
		month := monthNumber[strings.ToLower(text[off+m[monthAt]:off+m[monthAt+1]])]
		day := atoiDigits(text[off+m[dayAt] : off+m[dayAt+1]])
		start := off + m[0]
		if !dobWords.near(text, start, g.e, 48, 40) || !s.birthDate(y, int(month), day) {
			continue
		}
		for j := 0; j <= k; j++ {
			if c.g[j].s >= start {
				c.take(j, j)
			}
		}
		s.add(TypeDateOfBirth, start, g.e, 0.85, false)
	}
}
