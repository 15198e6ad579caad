package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// piiNow is the clock of every PII test: dates of birth are judged
// against it, never against the machine's clock.
func piiNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// piiWant is an expected finding: its type and the exact text it covers.
// Spans are located in order, so a repeated text needs one entry per
// occurrence.
type piiWant struct {
	typ, text string
}

type piiCase struct {
	name string
	text string
	want []piiWant
}

// wantFindings turns wants into exact spans of text.
func wantFindings(t *testing.T, text string, want []piiWant) []Finding {
	t.Helper()
	var out []Finding
	from := 0
	for _, w := range want {
		i := strings.Index(text[from:], w.text)
		if i < 0 {
			t.Fatalf("bad case: %q not in %q after byte %d", w.text, text, from)
		}
		out = append(out, Finding{Type: w.typ, Start: from + i, End: from + i + len(w.text)})
		from += i + len(w.text)
	}
	return out
}

func spanList(text string, fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s[%d:%d]%q ", f.Type, f.Start, f.End, text[f.Start:f.End])
	}
	return b.String()
}

func runPIICases(t *testing.T, opts PIIOptions, cases []piiCase) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = piiNow
	}
	d := NewPII(opts)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := d.Detect(nil, tc.text)
			want := wantFindings(t, tc.text, tc.want)
			ok := len(got) == len(want)
			for i := 0; ok && i < len(got); i++ {
				ok = got[i].Type == want[i].Type && got[i].Start == want[i].Start && got[i].End == want[i].End
			}
			if !ok {
				t.Errorf("Detect(%q)\n got: %s\nwant: %s", tc.text, spanList(tc.text, got), spanList(tc.text, want))
			}
			for _, f := range got {
				if f.Class != PII || f.Confidence <= 0 || f.Confidence > 1 {
					t.Errorf("finding %+v: want class pii and confidence in (0,1]", f)
				}
			}
		})
	}
}

func TestPIIEmail(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeEmail}}, []piiCase{
		{"plain", "write to john.doe@example.com today", []piiWant{{TypeEmail, "john.doe@example.com"}}},
		{"plus and subdomains", "cc: a+b_c@mail.sub.example.co.uk", []piiWant{{TypeEmail, "a+b_c@mail.sub.example.co.uk"}}},
		{"angle brackets", "From: Bob <bob-smith@ex-ample.org>", []piiWant{{TypeEmail, "bob-smith@ex-ample.org"}}},
		{"mailto", "mailto:z@ex.io?subject=hi", []piiWant{{TypeEmail, "z@ex.io"}}},
		{"sentence end", "Reach me at BOB@EXAMPLE.COM.", []piiWant{{TypeEmail, "BOB@EXAMPLE.COM"}}},
		{"quoted", "'alice@example.net'", []piiWant{{TypeEmail, "alice@example.net"}}},
		{"apostrophe in local part", "(o'brien@example.ie)", []piiWant{{TypeEmail, "o'brien@example.ie"}}},
		{"punycode tld", "x@example.xn--p1ai", []piiWant{{TypeEmail, "x@example.xn--p1ai"}}},
		{"digits in domain", "ops@mail2.example.com, support@example.com", []piiWant{{TypeEmail, "ops@mail2.example.com"}, {TypeEmail, "support@example.com"}}},
		{"handle", "ping @johndoe on chat", nil},
		{"localhost", "user@localhost", nil},
		{"no tld", "a@b", nil},
		{"ip literal", "x@1.2.3.4", nil},
		{"one letter tld", "name@domain.c", nil},
		{"double at", "foo@@bar.com", nil},
		{"double dot", "john..doe@example.com", nil},
		{"dot before at", "john.@example.com", nil},
		{"hyphen edge", "a@-example.com", nil},
		{"decorator", "@Override public void run()", nil},
		{"local part too long", strings.Repeat("a", 65) + "@example.com", nil},
		// A zero-width space cuts the local part: the tail is reported,
		// which still hides the mailbox's domain and most of its name.
		{"zero-width in local part", "jo\u200bhn@example.com", []piiWant{{TypeEmail, "hn@example.com"}}},
		{"zero-width in domain", "john@exa\u200bmple.com", nil},
		{"fullwidth at", "john＠example.com", nil},
	})
}

func TestPIIPhone(t *testing.T) {
	cases := []piiCase{
		{"us parens", "Call (415) 555-2671 now", []piiWant{{TypePhone, "(415) 555-2671"}}},
		{"us dashes", "office 415-555-2671.", []piiWant{{TypePhone, "415-555-2671"}}},
		{"us dots", "415.555.2671", []piiWant{{TypePhone, "415.555.2671"}}},
		{"us with country code", "+1 415 555 2671", []piiWant{{TypePhone, "+1 415 555 2671"}}},
		{"us trunk prefix", "1-800-555-0199", []piiWant{{TypePhone, "1-800-555-0199"}}},
		{"e164", "wa: +14155552671", []piiWant{{TypePhone, "+14155552671"}}},
		{"uk", "London +44 20 7946 0958", []piiWant{{TypePhone, "+44 20 7946 0958"}}},
		{"germany", "Berlin +49 30 901820", []piiWant{{TypePhone, "+49 30 901820"}}},
		{"france", "Paris: +33 1 42 68 53 00", []piiWant{{TypePhone, "+33 1 42 68 53 00"}}},
		{"india", "+91 98765 43210", []piiWant{{TypePhone, "+91 98765 43210"}}},
		{"bare with context", "phone: 4155552671", []piiWant{{TypePhone, "4155552671"}}},
		{"two numbers", "415-555-2671 415-555-2672", []piiWant{{TypePhone, "415-555-2671"}, {TypePhone, "415-555-2672"}}},
		{"bare without context", "order 4155552671 shipped", nil},
		{"german national in us", "030 901820", nil},
		{"too short", "ext 555-1234", nil},
		{"invalid area code", "serial 123-456-7890", nil},
		{"longer dashed number", "part 415-555-2671-99", nil},
		{"glued to word", "x4155552671", nil},
		{"decimal", "pi is 3.14159265", nil},
		{"iso date", "on 2024-01-15 at noon", nil},
		{"timestamp", "2024-01-15 10:30:45", nil},
		{"slash date", "12/04/1990", nil},
		{"ip address", "192.168.100.200", nil},
		{"isbn", "ISBN 978-3-16-148410-0", nil},
		{"money", "$4155552671", nil},
		{"thousands", "1,415,555,2671", nil},
		{"fullwidth digits", "call ４１５-５５５-２６７１", nil},
		{"zero-width inside", "call 415-555\u200b-2671", nil},
	}
	runPIICases(t, PIIOptions{Types: []string{TypePhone}}, cases)
}

func TestPIIPhoneRegion(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypePhone}, PhoneRegion: "DE"}, []piiCase{
		{"national", "Tel. 030 901820", []piiWant{{TypePhone, "030 901820"}}},
		{"international", "+1 415 555 2671", []piiWant{{TypePhone, "+1 415 555 2671"}}},
	})
}

func TestPIISSN(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeUSSSN}}, []piiCase{
		{"dashed with context", "SSN: 536-90-4399", []piiWant{{TypeUSSSN, "536-90-4399"}}},
		{"dashed without context", "ref 536-90-4399.", []piiWant{{TypeUSSSN, "536-90-4399"}}},
		{"spaced with context", "social security number 536 90 4399", []piiWant{{TypeUSSSN, "536 90 4399"}}},
		{"bare with context", "ssn=536904399", []piiWant{{TypeUSSSN, "536904399"}}},
		{"context after", "536904399 (SSN)", []piiWant{{TypeUSSSN, "536904399"}}},
		{"spaced without context", "code 536 90 4399", nil},
		{"bare without context", "order 536904399", nil},
		{"area 000", "SSN 000-12-3456", nil},
		{"area 666", "SSN 666-12-3456", nil},
		{"area 9xx", "SSN 912-12-3456", nil},
		{"group 00", "SSN 536-00-4399", nil},
		{"serial 0000", "SSN 536-90-0000", nil},
		{"woolworth", "SSN 078-05-1120", nil},
		{"pamphlet", "SSN 219-09-9999", nil},
		{"placeholder", "SSN 123-45-6789", nil},
		{"longer number", "SSN 1536-90-4399", nil},
		{"longer serial", "SSN 536-90-43990", nil},
		{"date", "ssn 2019-04-12", nil},
	})
}

func TestPIICreditCard(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeCreditCard}}, []piiCase{
		{"visa spaced", "card 4111 1111 1111 1111 exp 12/27", []piiWant{{TypeCreditCard, "4111 1111 1111 1111"}}},
		{"visa dashed", "4111-1111-1111-1111", []piiWant{{TypeCreditCard, "4111-1111-1111-1111"}}},
		{"visa contiguous", "pan=4111111111111111&cvv=123", []piiWant{{TypeCreditCard, "4111111111111111"}}},
		{"visa 13", "old visa 4222222222222", []piiWant{{TypeCreditCard, "4222222222222"}}},
		{"mastercard", "5555 5555 5555 4444", []piiWant{{TypeCreditCard, "5555 5555 5555 4444"}}},
		{"mastercard 2-series", "2223 0031 2200 3222", []piiWant{{TypeCreditCard, "2223 0031 2200 3222"}}},
		{"amex grouped", "amex 3782 822463 10005.", []piiWant{{TypeCreditCard, "3782 822463 10005"}}},
		{"amex contiguous", "378282246310005", []piiWant{{TypeCreditCard, "378282246310005"}}},
		{"discover", "6011 1111 1111 1117", []piiWant{{TypeCreditCard, "6011 1111 1111 1117"}}},
		{"jcb", "3530 1113 3330 0000", []piiWant{{TypeCreditCard, "3530 1113 3330 0000"}}},
		{"diners 4-6-4", "3056 930902 5904", []piiWant{{TypeCreditCard, "3056 930902 5904"}}},
		{"unionpay", "6200000000000005", []piiWant{{TypeCreditCard, "6200000000000005"}}},
		{"after a count", "2 cards: 12 4111 1111 1111 1111", []piiWant{{TypeCreditCard, "4111 1111 1111 1111"}}},
		{"luhn failure", "4111 1111 1111 1112", nil},
		{"unknown issuer", "ref " + cardWithLuhn("911111111111111"), nil},
		{"order number", "Order 1234567890123452", nil},
		{"mixed separators", "4111-1111 1111-1111", nil},
		{"odd grouping", "41 11 1111 1111 1111", nil},
		{"glued", "ID4111111111111111", nil},
		{"inside longer number", "4111111111111111111111", nil},
		{"ms timestamp", "1700000000000", nil},
		{"isbn", "978-3-16-148410-0", nil},
		{"fullwidth digits", "４１１１１１１１１１１１１１１１", nil},
		{"zero-width inside", "4111 1111\u200b 1111 1111", nil},
	})
}

// TestPIICardUnverified pins the one unverified card case: a known issuer
// prefix and a good Luhn digit at a length that issuer does not use.
func TestPIICardUnverified(t *testing.T) {
	d := NewPII(PIIOptions{Types: []string{TypeCreditCard}, Now: piiNow})
	text := "number " + cardWithLuhn("3782822463100") // Amex prefix at 14 digits, Amex uses 15
	got := d.Detect(nil, text)
	if len(got) != 1 || got[0].Verified || got[0].Confidence >= 0.9 {
		t.Fatalf("Detect(%q) = %+v, want one unverified low-confidence card", text, got)
	}
	text = "number 4111111111111111"
	if got := d.Detect(nil, text); len(got) != 1 || !got[0].Verified {
		t.Fatalf("Detect(%q) = %+v, want one verified card", text, got)
	}
}

// withLuhn appends the Luhn check digit to digits.
func cardWithLuhn(digits string) string {
	for c := byte('0'); c <= '9'; c++ {
		if s := digits + string(c); cardLuhn(s) {
			return s
		}
	}
	panic("unreachable")
}

func TestPIIIBAN(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeIBAN, TypeCreditCard, TypePhone}}, []piiCase{
		{"de grouped", "IBAN DE89 3704 0044 0532 0130 00.", []piiWant{{TypeIBAN, "DE89 3704 0044 0532 0130 00"}}},
		{"de electronic", "iban=DE89370400440532013000", []piiWant{{TypeIBAN, "DE89370400440532013000"}}},
		{"gb letters in bban", "GB82 WEST 1234 5698 7654 32", []piiWant{{TypeIBAN, "GB82 WEST 1234 5698 7654 32"}}},
		{"fr", "FR14 2004 1010 0505 0001 3M02 606", []piiWant{{TypeIBAN, "FR14 2004 1010 0505 0001 3M02 606"}}},
		{"nl", "(NL91ABNA0417164300)", []piiWant{{TypeIBAN, "NL91ABNA0417164300"}}},
		{"ch", "CH93 0076 2011 6238 5295 7", []piiWant{{TypeIBAN, "CH93 0076 2011 6238 5295 7"}}},
		{"no shortest", "NO9386011117947", []piiWant{{TypeIBAN, "NO9386011117947"}}},
		{"bad check digits", "DE89 3704 0044 0532 0130 01", nil},
		{"check digits 00", "DE00370400440532013000", nil},
		{"too short", "DE89 3704 0044 0532 0130 0", nil},
		{"too long", "DE893704004405320130001", nil},
		{"unknown country", "ZZ89370400440532013000", nil},
		{"glued", "XDE89370400440532013000", nil},
		{"lower case", "de89370400440532013000", nil},
	})
}

func TestPIIIP(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeIPv4, TypeIPv6}}, []piiCase{
		{"v4", "host 192.168.1.10 is down", []piiWant{{TypeIPv4, "192.168.1.10"}}},
		{"v4 port", "10.0.0.1:8080", []piiWant{{TypeIPv4, "10.0.0.1"}}},
		{"v4 sentence end", "ping 8.8.8.8.", []piiWant{{TypeIPv4, "8.8.8.8"}}},
		{"v4 cidr", "allow 10.0.0.0/8", []piiWant{{TypeIPv4, "10.0.0.0"}}},
		{"v4 parens", "(172.16.254.1)", []piiWant{{TypeIPv4, "172.16.254.1"}}},
		{"v4 list", "1.1.1.1, 9.9.9.9", []piiWant{{TypeIPv4, "1.1.1.1"}, {TypeIPv4, "9.9.9.9"}}},
		{"version triple", "release 1.2.3", nil},
		{"longer dotted number", "oid 1.2.3.4.5", nil},
		{"v-prefixed", "v1.2.3.4", nil},
		{"version word", "version 10.0.0.1", nil},
		{"octet too big", "256.1.1.1", nil},
		{"leading zeros", "01.02.03.04", nil},
		{"glued", "1.2.3.4a", nil},
		{"v6 short", "2001:db8::1", []piiWant{{TypeIPv6, "2001:db8::1"}}},
		{"v6 full", "2001:0db8:85a3:0000:0000:8a2e:0370:7334", []piiWant{{TypeIPv6, "2001:0db8:85a3:0000:0000:8a2e:0370:7334"}}},
		{"v6 zone", "fe80::1%eth0", []piiWant{{TypeIPv6, "fe80::1"}}},
		{"v6 loopback", "bind ::1 only", []piiWant{{TypeIPv6, "::1"}}},
		{"v6 bracketed", "https://[2001:db8::2]:443/", []piiWant{{TypeIPv6, "2001:db8::2"}}},
		{"v6 mapped v4", "::ffff:192.0.2.128", []piiWant{{TypeIPv6, "::ffff:192.0.2.128"}}},
		{"v6 after label", "ip:2001:db8::3", []piiWant{{TypeIPv6, "2001:db8::3"}}},
		{"v6 sentence end", "use 2001:db8::4.", []piiWant{{TypeIPv6, "2001:db8::4"}}},
		{"cpp scope", "std::vector<int>", nil},
		{"time", "at 12:30:45", nil},
		{"mac", "00:1A:2B:3C:4D:5E", nil},
		{"no digit", "dead::beef", nil},
		{"too many groups", "1:2:3:4:5:6:7:8:9", nil},
	})
}

func TestPIIDateOfBirth(t *testing.T) {
	runPIICases(t, PIIOptions{Types: []string{TypeDateOfBirth}}, []piiCase{
		{"iso", "DOB: 1990-04-12", []piiWant{{TypeDateOfBirth, "1990-04-12"}}},
		{"day first", "date of birth 12/04/1990", []piiWant{{TypeDateOfBirth, "12/04/1990"}}},
		{"month first", "Birthdate: 04/25/1979", []piiWant{{TypeDateOfBirth, "04/25/1979"}}},
		{"dotted", "geboren am 12.04.1990", []piiWant{{TypeDateOfBirth, "12.04.1990"}}},
		{"month name", "She was born on April 12, 1990 in Ohio", []piiWant{{TypeDateOfBirth, "April 12, 1990"}}},
		{"day month", "born 12 April 1990", []piiWant{{TypeDateOfBirth, "12 April 1990"}}},
		{"abbreviated", "b. day: Sept. 3rd, 1961 (birthday)", []piiWant{{TypeDateOfBirth, "Sept. 3rd, 1961"}}},
		{"german", "Geburtsdatum: 3. März 1950", []piiWant{{TypeDateOfBirth, "3. März 1950"}}},
		{"french", "né le 3 mars 1950", []piiWant{{TypeDateOfBirth, "3 mars 1950"}}},
		{"context after", "1985-02-28 is my date of birth", []piiWant{{TypeDateOfBirth, "1985-02-28"}}},
		{"no context", "The meeting on 1990-04-12 went well", nil},
		{"no context month name", "On April 12, 1990 the plant opened", nil},
		{"context too far", "born in a small town by the sea, and much later, on 1990-04-12, moved", nil},
		{"future", "born 2030-01-01", nil},
		{"too old", "born 12 April 1890", nil},
		{"not a date", "born 1990-02-30", nil},
		{"month 13", "DOB 13/13/1990", nil},
		{"word inside word", "stubborn since 1990-04-12", nil},
	})
}

func TestPIIMixed(t *testing.T) {
	text := "Name: Jane Roe, born 1984-07-19, SSN 536-90-4399, card 4111 1111 1111 1111, " +
		"mail jane.roe@example.com, phone +1 415 555 2671, IBAN DE89 3704 0044 0532 0130 00, " +
		"last login from 203.0.113.7 and 2001:db8::7."
	runPIICases(t, PIIOptions{}, []piiCase{{"all types", text, []piiWant{
		{TypeDateOfBirth, "1984-07-19"},
		{TypeUSSSN, "536-90-4399"},
		{TypeCreditCard, "4111 1111 1111 1111"},
		{TypeEmail, "jane.roe@example.com"},
		{TypePhone, "+1 415 555 2671"},
		{TypeIBAN, "DE89 3704 0044 0532 0130 00"},
		{TypeIPv4, "203.0.113.7"},
		{TypeIPv6, "2001:db8::7"},
	}}})
}

// TestPIIOverlap checks that one stretch of text is reported once, as the
// longest reading.
func TestPIIOverlap(t *testing.T) {
	runPIICases(t, PIIOptions{}, []piiCase{
		{"phone inside email", "mail 4155552671@example.com", []piiWant{{TypeEmail, "4155552671@example.com"}}},
		{"phone-looking local part with context", "call +14155552671@example.com", []piiWant{{TypeEmail, "+14155552671@example.com"}}},
	})
}

func TestPIIOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    PIIOptions
		wantErr string
	}{
		{"zero", PIIOptions{}, ""},
		{"types and region", PIIOptions{Types: []string{TypeEmail, TypePhone}, PhoneRegion: "DE"}, ""},
		{"unknown type", PIIOptions{Types: []string{"name"}}, `unknown PII type "name"`},
		{"lower-case region", PIIOptions{PhoneRegion: "de"}, `unsupported phone region "de"`},
		{"both", PIIOptions{Types: []string{"address"}, PhoneRegion: "XX"}, `unknown PII type "address" (use one of email, phone, us_ssn, credit_card, iban, ipv4, ipv6, date_of_birth); unsupported phone region "XX"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.wantErr)
			}
			defer func() {
				if recover() == nil {
					t.Error("NewPII did not panic on invalid options")
				}
			}()
			NewPII(tt.opts)
		})
	}
	if got := PIITypes(); len(got) != 8 || got[0] != TypeEmail {
		t.Errorf("PIITypes() = %v", got)
	}
}

func TestPIITypeSelection(t *testing.T) {
	text := "a@example.com 192.168.0.1 4111 1111 1111 1111"
	for _, typ := range PIITypes() {
		d := NewPII(PIIOptions{Types: []string{typ}, Now: piiNow})
		for _, f := range d.Detect(nil, text) {
			if f.Type != typ {
				t.Errorf("with Types=[%s], got a %s finding", typ, f.Type)
			}
		}
	}
}

// TestPIIAppends checks the dst contract: existing findings are kept and
// the new ones follow them.
func TestPIIAppends(t *testing.T) {
	d := NewPII(PIIOptions{Now: piiNow})
	prior := Finding{Type: "openai_key", Class: Secret, Start: 100, End: 120, Confidence: 1}
	dst := d.Detect([]Finding{prior}, "mail a@example.com and b@example.com")
	if len(dst) != 3 || dst[0] != prior || dst[1].Type != TypeEmail || dst[2].Start <= dst[1].Start {
		t.Fatalf("Detect(prior, …) = %+v", dst)
	}
}

// TestPIINoAllocClean checks that text without personal data costs no
// allocation, which is what keeps the guard cheap on ordinary prompts.
func TestPIINoAllocClean(t *testing.T) {
	d := NewPII(PIIOptions{Now: piiNow})
	text := cleanProse(4096, 1)
	dst := make([]Finding, 0, 8)
	allocs := testing.AllocsPerRun(50, func() {
		dst = d.Detect(dst[:0], text)
	})
	if len(dst) != 0 {
		t.Fatalf("clean prose produced findings: %s", spanList(text, dst))
	}
	if allocs != 0 {
		t.Errorf("Detect on clean prose: %v allocations per call, want 0", allocs)
	}
}
