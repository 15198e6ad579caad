package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The labelled set testdata/pii.jsonl holds one JSON object per line:
// {"text": "...", "spans": [{"start": 5, "end": 25, "type": "email"}]},
// where start and end are byte offsets into the UTF-8 text. It is written
// by TestPIIDataset from a fixed seed: synthetic personal data with valid
// checksums, and hard negatives that look like it. Regenerate with
//
//	go test ./internal/detect -run TestPIIDataset -update
var piiDatasetPath = filepath.Join("testdata", "pii.jsonl")

// Another test file of the package may declare -update as well; whichever
// is first registers it and both read it by name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated test data")
	}
}

func updateTestdata() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

type piiSpan struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Type  string `json:"type"`
}

type piiRecord struct {
	Text  string    `json:"text"`
	Spans []piiSpan `json:"spans"`
}

// recordBuilder assembles a line of text and the spans of its PII parts.
type recordBuilder struct {
	b     strings.Builder
	spans []piiSpan
}

func (r *recordBuilder) text(s string) *recordBuilder {
	r.b.WriteString(s)
	return r
}

func (r *recordBuilder) pii(typ, s string) *recordBuilder {
	start := r.b.Len()
	r.b.WriteString(s)
	r.spans = append(r.spans, piiSpan{Start: start, End: r.b.Len(), Type: typ})
	return r
}

func (r *recordBuilder) record() piiRecord {
	spans := r.spans
	if spans == nil {
		spans = []piiSpan{}
	}
	return piiRecord{Text: r.b.String(), Spans: spans}
}

// sentence builds "before <pii> after".
func piiSentence(before, typ, value, after string) piiRecord {
	var r recordBuilder
	return r.text(before).pii(typ, value).text(after).record()
}

func piiNegative(text string) piiRecord {
	return piiRecord{Text: text, Spans: []piiSpan{}}
}

// piiGen draws synthetic personal data from a seeded generator.
type piiGen struct {
	r *rand.Rand
}

func (g piiGen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g piiGen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

var (
	genFirst   = []string{"anna", "ben", "chloe", "david", "emma", "farid", "grace", "hiro", "ines", "jonas", "kofi", "lena", "mateo", "nora", "omar", "priya"}
	genLast    = []string{"smith", "garcia", "muller", "rossi", "tanaka", "okafor", "dubois", "novak", "silva", "jensen", "kowalski", "haddad"}
	genDomains = []string{"example.com", "example.org", "mail.example.net", "corp.example.co.uk", "example.io", "eu.example.de", "example-mail.fr"}
)

func (g piiGen) email() string {
	local := g.pick(genFirst)
	switch g.r.IntN(5) {
	case 0:
		local += "." + g.pick(genLast)
	case 1:
		local += "_" + g.pick(genLast) + g.digits(2)
	case 2:
		local += "+" + g.pick([]string{"news", "work", "ai"})
	case 3:
		local = strings.ToUpper(local[:1]) + local[1:] + "-" + g.pick(genLast)
	}
	return local + "@" + g.pick(genDomains)
}

// card returns a number that passes Luhn for a random issuer, grouped as
// that issuer prints it or contiguous.
func (g piiGen) card() string {
	type issuer struct {
		prefix func() string
		length int
	}
	issuers := []issuer{
		{func() string { return "4" }, 16},
		{func() string { return "4" }, 13},
		{func() string { return strconv.Itoa(51 + g.r.IntN(5)) }, 16},
		{func() string { return strconv.Itoa(2221 + g.r.IntN(500)) }, 16},
		{func() string { return g.pick([]string{"34", "37"}) }, 15},
		{func() string { return g.pick([]string{"6011", "65", "644", "649"}) }, 16},
		{func() string { return strconv.Itoa(3528 + g.r.IntN(62)) }, 16},
		{func() string { return "36" }, 14},
		{func() string { return "62" }, 16},
	}
	is := issuers[g.r.IntN(len(issuers))]
	p := is.prefix()
	num := cardWithLuhn(p + g.digits(is.length-len(p)-1))
	return groupCard(num, g.r.IntN(3))
}

// groupCard prints a card number contiguous (style 0), or grouped with
// spaces (1) or dashes (2) the way its length is usually printed.
func groupCard(num string, style int) string {
	if style == 0 {
		return num
	}
	sep := " "
	if style == 2 {
		sep = "-"
	}
	var sizes []int
	switch len(num) {
	case 15:
		sizes = []int{4, 6, 5}
	case 14:
		sizes = []int{4, 6, 4}
	default:
		for n := len(num); n > 0; n -= 4 {
			sizes = append(sizes, min(4, n))
		}
	}
	var parts []string
	for _, s := range sizes {
		parts = append(parts, num[:s])
		num = num[s:]
	}
	return strings.Join(parts, sep)
}

// ibanBBAN gives a BBAN layout per country: 'n' a digit, 'a' an upper-case
// letter, 'c' either.
var ibanBBAN = []struct{ cc, layout string }{
	{"DE", "nnnnnnnnnnnnnnnnnn"},
	{"GB", "aaaannnnnnnnnnnnnn"},
	{"FR", "nnnnnnnnnncccccccccccnn"},
	{"NL", "aaaannnnnnnnnn"},
	{"ES", "nnnnnnnnnnnnnnnnnnnn"},
	{"IT", "annnnnnnnnncccccccccccc"},
	{"CH", "nnnnncccccccccccc"},
	{"BE", "nnnnnnnnnnnn"},
	{"AT", "nnnnnnnnnnnnnnnn"},
	{"PL", "nnnnnnnnnnnnnnnnnnnnnnnn"},
	{"NO", "nnnnnnnnnnn"},
	{"SE", "nnnnnnnnnnnnnnnnnnnn"},
}

const upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// iban returns a valid IBAN, and the same with wrong check digits.
func (g piiGen) iban() (valid, bad string) {
	c := ibanBBAN[g.r.IntN(len(ibanBBAN))]
	bban := make([]byte, len(c.layout))
	for i, l := range c.layout {
		switch l {
		case 'n':
			bban[i] = byte('0' + g.r.IntN(10))
		case 'a':
			bban[i] = byte('A' + g.r.IntN(26))
		default:
			bban[i] = upperAlnum[g.r.IntN(len(upperAlnum))]
		}
	}
	check := 98 - ibanMod97([]byte(c.cc+"00"+string(bban)))
	valid = fmt.Sprintf("%s%02d%s", c.cc, check, bban)
	// Check digits run 02..98 and exactly one value is right.
	badCheck := check
	for badCheck == check {
		badCheck = 2 + g.r.IntN(97)
	}
	bad = fmt.Sprintf("%s%02d%s", c.cc, badCheck, bban)
	if g.r.IntN(2) == 0 {
		valid, bad = groupFours(valid), groupFours(bad)
	}
	return valid, bad
}

func groupFours(s string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), " ")
}

// ssn returns a number that passes the SSA rules.
func (g piiGen) ssn() (area, group, serial int) {
	for {
		area, group, serial = 1+g.r.IntN(899), 1+g.r.IntN(99), 1+g.r.IntN(9999)
		if area != 666 && ssnValid(fmt.Sprintf("%03d%02d%04d", area, group, serial)) {
			return
		}
	}
}

var phoneRegions = []string{"US", "CA", "GB", "DE", "FR", "IN", "AU", "JP", "ES", "IT", "NL", "MX", "BR", "CH", "SE", "PL", "ZA", "SG", "IE", "CN"}

// phone returns a number libphonenumber calls valid, written as a person
// would: international for any region, national forms for the US.
func (g piiGen) phone() string {
	for {
		region := g.pick(phoneRegions)
		typ := phonenumbers.FIXED_LINE
		if g.r.IntN(2) == 0 {
			typ = phonenumbers.MOBILE
		}
		ex := phonenumbers.GetExampleNumberForType(region, typ)
		if ex == nil {
			continue
		}
		nsn := phonenumbers.GetNationalSignificantNumber(ex)
		keep := max(len(nsn)-4, 3)
		num, err := phonenumbers.Parse("+"+strconv.Itoa(int(ex.GetCountryCode()))+nsn[:keep]+g.digits(len(nsn)-keep), region)
		if err != nil || !phonenumbers.IsValidNumber(num) {
			continue
		}
		if region == "US" {
			n := phonenumbers.GetNationalSignificantNumber(num)
			switch g.r.IntN(5) {
			case 0:
				return phonenumbers.Format(num, phonenumbers.NATIONAL)
			case 1:
				return n[:3] + "-" + n[3:6] + "-" + n[6:]
			case 2:
				return n[:3] + "." + n[3:6] + "." + n[6:]
			case 3:
				return "+1 " + n[:3] + " " + n[3:6] + " " + n[6:]
			}
		}
		if g.r.IntN(4) == 0 {
			return phonenumbers.Format(num, phonenumbers.E164)
		}
		return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	}
}

func (g piiGen) ipv4() string {
	first := g.pick([]string{"10", "172", "192", "203", "198", "8", "45", "81", "100"})
	return fmt.Sprintf("%s.%d.%d.%d", first, g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

func (g piiGen) ipv6() string {
	h := func() string { return strconv.FormatInt(int64(g.r.IntN(0x10000)), 16) }
	switch g.r.IntN(4) {
	case 0:
		return fmt.Sprintf("2001:db8:%s:%s::%d", h(), h(), 1+g.r.IntN(99))
	case 1:
		parts := make([]string, 8)
		for i := range parts {
			parts[i] = fmt.Sprintf("%04x", g.r.IntN(0x10000))
		}
		parts[0] = "2a02"
		return strings.Join(parts, ":")
	case 2:
		return fmt.Sprintf("fe80::%s:%s:%s:%d", h(), h(), h(), 1+g.r.IntN(9))
	}
	return fmt.Sprintf("2600:%s:%s::%s", h(), h(), h())
}

var (
	enMonths = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	frMonths = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}
	deMonths = []string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}
)

// dob returns a birth date sentence.
func (g piiGen) dob() piiRecord {
	y, m := 1930+g.r.IntN(78), 1+g.r.IntN(12)
	d := 1 + g.r.IntN(28)
	switch g.r.IntN(8) {
	case 0:
		return piiSentence(g.pick([]string{"DOB: ", "Date of birth: ", "born "}), TypeDateOfBirth, fmt.Sprintf("%04d-%02d-%02d", y, m, d), g.pick([]string{"", ".", " in Leeds."}))
	case 1:
		return piiSentence(g.pick([]string{"Birth date ", "D.O.B. ", "Patient DOB "}), TypeDateOfBirth, fmt.Sprintf("%02d/%02d/%04d", d, m, y), "")
	case 2:
		return piiSentence("Birthday: ", TypeDateOfBirth, fmt.Sprintf("%02d/%02d/%04d", m, d, y), " (US format)")
	case 3:
		return piiSentence(g.pick([]string{"geboren am ", "Geburtsdatum: "}), TypeDateOfBirth, fmt.Sprintf("%02d.%02d.%04d", d, m, y), "")
	case 4:
		return piiSentence(g.pick([]string{"She was born on ", "He was born ", "born: "}), TypeDateOfBirth, fmt.Sprintf("%s %d, %d", enMonths[m-1], d, y), g.pick([]string{".", " in a small town."}))
	case 5:
		return piiSentence(g.pick([]string{"born ", "Date of birth ", "I was born on "}), TypeDateOfBirth, fmt.Sprintf("%d %s %d", d, enMonths[m-1], y), "")
	case 6:
		return piiSentence("né le ", TypeDateOfBirth, fmt.Sprintf("%d %s %d", d, frMonths[m-1], y), " à Lyon")
	}
	return piiSentence("Geburtsdatum: ", TypeDateOfBirth, fmt.Sprintf("%d. %s %d", d, deMonths[m-1], y), "")
}

// generatePIIDataset builds the labelled set from a fixed seed.
func generatePIIDataset() []piiRecord {
	g := piiGen{r: rand.New(rand.NewPCG(20250601, 42))}
	var out []piiRecord
	add := func(r piiRecord) { out = append(out, r) }

	emailCtx := [][2]string{{"Contact me at ", "."}, {"Email: <", ">"}, {"send the report to ", ", thanks"}, {"", " wrote:"}, {"cc ", " and the team"}}
	phoneCtx := [][2]string{{"Call me on ", "."}, {"phone: ", ""}, {"my cell is ", " after six"}, {"Reach the office at ", " today."}, {"Tel ", " (mobile)"}}
	cardCtx := [][2]string{{"card number ", ""}, {"Paid with ", " exp 09/28"}, {"PAN: ", "."}, {"Please charge ", " for the order"}}
	ibanCtx := [][2]string{{"IBAN: ", ""}, {"Transfer to ", " by Friday."}, {"account ", " (savings)"}, {"Bankverbindung ", ""}}
	ipv4Ctx := [][2]string{{"request from ", " was blocked"}, {"server at ", ":8080"}, {"ssh admin@", ""}, {"client IP ", "."}, {"allow ", "/32"}}
	ipv6Ctx := [][2]string{{"from ", " yesterday"}, {"ip6 ", ""}, {"http://[", "]:80/"}, {"peer ", " timed out."}}

	for i := 0; i < 45; i++ {
		c := emailCtx[i%len(emailCtx)]
		add(piiSentence(c[0], TypeEmail, g.email(), c[1]))
	}
	for i := 0; i < 45; i++ {
		c := phoneCtx[i%len(phoneCtx)]
		add(piiSentence(c[0], TypePhone, g.phone(), c[1]))
	}
	for i := 0; i < 45; i++ {
		c := cardCtx[i%len(cardCtx)]
		add(piiSentence(c[0], TypeCreditCard, g.card(), c[1]))
	}
	for i := 0; i < 40; i++ {
		c := ibanCtx[i%len(ibanCtx)]
		v, _ := g.iban()
		add(piiSentence(c[0], TypeIBAN, v, c[1]))
	}
	for i := 0; i < 40; i++ {
		a, gr, s := g.ssn()
		switch i % 4 {
		case 0:
			add(piiSentence("SSN: ", TypeUSSSN, fmt.Sprintf("%03d-%02d-%04d", a, gr, s), ""))
		case 1:
			add(piiSentence("Employee record ", TypeUSSSN, fmt.Sprintf("%03d-%02d-%04d", a, gr, s), " on file."))
		case 2:
			add(piiSentence("social security number ", TypeUSSSN, fmt.Sprintf("%03d %02d %04d", a, gr, s), ""))
		default:
			add(piiSentence("ssn=", TypeUSSSN, fmt.Sprintf("%03d%02d%04d", a, gr, s), "&plan=basic"))
		}
	}
	for i := 0; i < 25; i++ {
		c := ipv4Ctx[i%len(ipv4Ctx)]
		add(piiSentence(c[0], TypeIPv4, g.ipv4(), c[1]))
	}
	for i := 0; i < 25; i++ {
		c := ipv6Ctx[i%len(ipv6Ctx)]
		add(piiSentence(c[0], TypeIPv6, g.ipv6(), c[1]))
	}
	for i := 0; i < 40; i++ {
		add(g.dob())
	}
	// Lines with several kinds at once.
	for i := 0; i < 30; i++ {
		var r recordBuilder
		r.text("Customer ").text(g.pick(genFirst)).text(", mail ").pii(TypeEmail, g.email())
		switch i % 3 {
		case 0:
			r.text(", phone ").pii(TypePhone, g.phone()).text(".")
		case 1:
			v, _ := g.iban()
			r.text("; refund to ").pii(TypeIBAN, v).text(" from ").pii(TypeIPv4, g.ipv4())
		default:
			a, gr, s := g.ssn()
			r.text(" SSN ").pii(TypeUSSSN, fmt.Sprintf("%03d-%02d-%04d", a, gr, s)).text(", card ").pii(TypeCreditCard, g.card())
		}
		add(r.record())
	}

	// Hand-written lines in formats the generators do not produce.
	hand := func(parts ...string) {
		var r recordBuilder
		for i := 0; i < len(parts); i += 2 {
			if parts[i] == "" {
				r.text(parts[i+1])
			} else {
				r.pii(parts[i], parts[i+1])
			}
		}
		add(r.record())
	}
	hand("", "Zentrale ", TypePhone, "+49 (0)30 901820")
	hand("", "London office: ", TypePhone, "+44 (0) 20 7946 0958", "", ".")
	hand("", "<a href=\"tel:", TypePhone, "+1-415-555-2671", "", "\">call</a>")
	hand("", "Call ", TypePhone, "+1 (415) 555-2671", "", " or ", TypePhone, "1 (800) 555-0199")
	hand("", "call ", TypePhone, "415 555 2671", "", " or ", TypePhone, "415 555 2672")
	hand("", "fax ", TypePhone, "+1.415.555.2671")
	hand("", "WhatsApp ", TypePhone, "+91 98765 43210", "", " (evenings)")
	hand("", "{\"ssn\":\"", TypeUSSSN, "536-90-4399", "", "\",\"card\":\"", TypeCreditCard, "4111111111111111", "", "\"}")
	hand("", "DOB ", TypeDateOfBirth, "4/7/1985")
	hand("", "IBAN:", TypeIBAN, "DE89370400440532013000")
	hand("", "[mail us](mailto:", TypeEmail, "ops@example.com", "", ")")
	hand("", "", TypeIPv4, "127.0.0.1", "", ` - - [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 200 2326`)
	hand("", "client [", TypeIPv6, "2001:db8:85a3::8a2e:370:7334", "", "] connected")
	hand("", "X-Forwarded-For: ", TypeIPv4, "203.0.113.9", "", ", ", TypeIPv4, "10.0.0.2")

	// Hard negatives: each looks like one of the types and is not.
	for i := 0; i < 20; i++ {
		// A card with its check digit changed fails Luhn.
		num := piiOnlyDigits(g.card())
		last := (int(num[len(num)-1]-'0') + 1 + g.r.IntN(9)) % 10
		add(piiNegative("card number " + groupCard(num[:len(num)-1]+strconv.Itoa(last), i%3)))
	}
	for i := 0; i < 10; i++ {
		// Luhn-valid, but no issuer starts with 1, 7, 8 or 9.
		add(piiNegative("Order " + cardWithLuhn(g.pick([]string{"1", "7", "8", "9"})+g.digits(14)) + " has shipped"))
	}
	for i := 0; i < 15; i++ {
		_, bad := g.iban()
		add(piiNegative("IBAN " + bad))
	}
	for i := 0; i < 5; i++ {
		v, _ := g.iban()
		v = strings.ReplaceAll(v, " ", "")
		add(piiNegative("IBAN " + v[:len(v)-1] + " (truncated)"))
	}
	for i := 0; i < 20; i++ {
		a, gr, s := g.ssn()
		var bad string
		switch i % 6 {
		case 0:
			bad = fmt.Sprintf("000-%02d-%04d", gr, s)
		case 1:
			bad = fmt.Sprintf("666-%02d-%04d", gr, s)
		case 2:
			bad = fmt.Sprintf("%03d-%02d-%04d", 900+g.r.IntN(100), gr, s)
		case 3:
			bad = fmt.Sprintf("%03d-00-%04d", a, s)
		case 4:
			bad = fmt.Sprintf("%03d-%02d-0000", a, gr)
		default:
			bad = g.pick([]string{"078-05-1120", "219-09-9999", "457-55-5462", "123-45-6789"})
		}
		add(piiNegative("SSN: " + bad))
	}
	for i := 0; i < 5; i++ {
		a, gr, s := g.ssn()
		add(piiNegative(fmt.Sprintf("Invoice %03d%02d%04d paid", a, gr, s)))
	}
	for _, s := range []string{
		"born 1990-02-30", "DOB 31/04/1985", "date of birth 13/13/1990", "born 2031-05-05",
		"born 12 April 1850", "He was born in 1990.", "Birthday party on Friday at 7.",
		"The release shipped on 2021-03-04.", "Meeting moved to 12/04/2024 at 10:00.",
		"On April 12, 1990 the plant opened.", "Invoice date 2019-11-30, due 2019-12-30.",
		"Sales grew 12.04.2023 compared to last year.",
	} {
		add(piiNegative(s))
	}
	for _, s := range []string{
		"Upgrade to 1.2.3 before Friday.", "This needs version 10.0.0.1 or later.",
		"Tested on v2.14.7.1 only.", "libfoo 3.4.5-beta fixes it", "OID 1.3.6.1.4.1.343 is assigned",
		"Build 20240115.3 passed", "See section 4.2.1.3.5 of the spec.", "Python 3.12.1 and Go 1.22.3",
		"Value 999.10.10.10 is out of range.", "Pi is about 3.14159265358979.",
	} {
		add(piiNegative(s))
	}
	for _, s := range []string{
		"Order #48213355 shipped", "Invoice 2023-000451 is overdue", "tracking 1Z999AA10123456784",
		"ref 4155552671 in the ledger", "PO 1234567890", "SN 123-456-7890", "dial 555-0100 for help",
		"ISBN 978-0-306-40615-7", "ISBN-13: 978-3-16-148410-0", "timestamp 2024-01-15T10:30:45Z",
		"epoch 1700000000 seconds", "epoch ms 1700000000000", "log id 20240115103045",
		"Serial 2024-1234-5678", "Part no. 4011-223-90", "batch 12345678 of 12345690",
		"Room 1204, floor 12, ext 4412", "Population 1,234,567 in 2020", "price $1,299.99 (save 15%)",
		"Ratio 16:9 at 1920x1080", "sum of 1 2 3 4 5 6 7 8 9 is 45",
	} {
		add(piiNegative(s))
	}
	for _, s := range []string{
		"MAC 00:1a:2b:3c:4d:5e on eth0", "at 10:30:45 sharp", "std::vector<int> v;",
		"use a::b::c paths", "Ratio 3:2:1 by weight", "dead::beef is not an address",
		"user@localhost can log in", "ping @maria on chat", "a@b", "john..doe@example.com bounced",
		"@Override protected void run()", "name@domain.c", "email me at john at example dot com",
		"commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39", "id 550e8400-e29b-41d4-a716-446655440000",
		"at 37.7749, -122.4194", "Chrome 120.0.6099.109", "Call 911 now", "1-800-FLOWERS",
	} {
		add(piiNegative(s))
	}
	return out
}

func piiOnlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func encodePIIDataset(recs []piiRecord) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

// TestPIIDataset keeps testdata/pii.jsonl in step with its generator
// (-update rewrites it) and checks the labels against the text.
func TestPIIDataset(t *testing.T) {
	recs := generatePIIDataset()
	want := encodePIIDataset(recs)
	if updateTestdata() {
		if err := os.WriteFile(piiDatasetPath, want, 0o644); err != nil {
			t.Fatalf("write %s: %v", piiDatasetPath, err)
		}
	}
	got, err := os.ReadFile(piiDatasetPath)
	if err != nil {
		t.Fatalf("read %s: %v (regenerate it with -update)", piiDatasetPath, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with its generator: run go test -run TestPIIDataset -update", piiDatasetPath)
	}
	if len(recs) < 300 {
		t.Fatalf("labelled set has %d lines, want at least 300", len(recs))
	}
	for i, r := range recs {
		for _, s := range r.Spans {
			if s.Start < 0 || s.End > len(r.Text) || s.Start >= s.End || !slices.Contains(piiTypes[:], s.Type) {
				t.Errorf("line %d: bad span %+v", i+1, s)
			}
		}
	}
}

type prCount struct{ tp, fp, fn int }

func (c prCount) precision() float64 {
	if c.tp+c.fp == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fp)
}

func (c prCount) recall() float64 {
	if c.tp+c.fn == 0 {
		return 1
	}
	return float64(c.tp) / float64(c.tp+c.fn)
}

// TestPIIPrecisionRecall scores the detector on the labelled set: a
// finding counts only with the exact type and span.
func TestPIIPrecisionRecall(t *testing.T) {
	f, err := os.Open(piiDatasetPath)
	if err != nil {
		t.Fatalf("open %s: %v", piiDatasetPath, err)
	}
	defer f.Close()
	d := NewPII(PIIOptions{Now: piiNow})
	counts := map[string]*prCount{}
	count := func(typ string) *prCount {
		if counts[typ] == nil {
			counts[typ] = &prCount{}
		}
		return counts[typ]
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var dst []Finding
	lines := 0
	for sc.Scan() {
		lines++
		var r piiRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		dst = d.Detect(dst[:0], r.Text)
		want := map[piiSpan]bool{}
		for _, s := range r.Spans {
			want[s] = true
		}
		for _, x := range dst {
			s := piiSpan{Start: x.Start, End: x.End, Type: x.Type}
			if want[s] {
				count(x.Type).tp++
				delete(want, s)
				continue
			}
			count(x.Type).fp++
			t.Logf("line %d: false positive %s %q in %q", lines, x.Type, r.Text[x.Start:x.End], r.Text)
		}
		for s := range want {
			count(s.Type).fn++
			t.Logf("line %d: missed %s %q in %q", lines, s.Type, r.Text[s.Start:s.End], r.Text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", piiDatasetPath, err)
	}
	ip := prCount{}
	for _, typ := range []string{TypeIPv4, TypeIPv6} {
		if c := counts[typ]; c != nil {
			ip.tp, ip.fp, ip.fn = ip.tp+c.tp, ip.fp+c.fp, ip.fn+c.fn
		}
	}
	counts["ip"] = &ip
	t.Logf("%d lines", lines)
	t.Logf("%-14s %5s %5s %5s %9s %7s", "type", "tp", "fp", "fn", "precision", "recall")
	for _, typ := range append(PIITypes(), "ip") {
		c := count(typ)
		t.Logf("%-14s %5d %5d %5d %9.3f %7.3f", typ, c.tp, c.fp, c.fn, c.precision(), c.recall())
	}
	for _, typ := range []string{TypeEmail, TypeCreditCard, TypeIBAN, TypeUSSSN, TypePhone, "ip", TypeDateOfBirth} {
		c := count(typ)
		if c.tp == 0 {
			t.Errorf("%s: no true positives; the labelled set must cover it", typ)
		}
		if p, r := c.precision(), c.recall(); p < 0.95 || r < 0.95 {
			t.Errorf("%s: precision %.3f, recall %.3f; want both >= 0.95", typ, p, r)
		}
	}
}
