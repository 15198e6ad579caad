package detect

// ibanLength is the IBAN length per country (SWIFT IBAN registry),
// indexed by the two letters of the country code.
var ibanLength = func() (t [26 * 26]uint8) {
	for cc, n := range map[string]uint8{
		"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16,
		"BG": 22, "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22,
		"CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20,
		"EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22,
		"GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28,
		"IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30,
		"KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
		"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
		"MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
		"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
		"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
		"SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29,
		"VA": 22, "VG": 24, "XK": 20, "YE": 30,
	} {
		t[int(cc[0]-'A')*26+int(cc[1]-'A')] = n
	}
	return t
}()

// maxIBAN is the longest IBAN in the registry.
const maxIBAN = 34

// iban reads an IBAN whose check digits start at i (the country code is
// the two letters before). It reports the end of anything shaped like an
// IBAN, valid or not, so that the digits are not read as other types.
func (s *piiScan) iban(i int) (int, bool) {
	text := s.text
	if i < 2 || !piiIs(text[i-2], clsUpper) || !piiIs(text[i-1], clsUpper) ||
		(i >= 3 && (piiAlnum(text[i-3]) || text[i-3] == '_')) {
		return 0, false
	}
	want := int(ibanLength[int(text[i-2]-'A')*26+int(text[i-1]-'A')])
	if want == 0 {
		return 0, false
	}
	// Collect the characters, allowing one space after every four (the
	// printed form) or none (the electronic form).
	var buf [maxIBAN]byte
	n, k := 0, i-2
	for k < len(text) && n < want {
		c := text[k]
		if c == ' ' && n%4 == 0 && k+1 < len(text) && piiIs(text[k+1], clsUpper|clsDigit) {
			k++
			continue
		}
		if !piiIs(c, clsUpper|clsDigit) {
			break
		}
		buf[n] = c
		n++
		k++
	}
	if n < want || (k < len(text) && (piiAlnum(text[k]) || text[k] == '_')) {
		return 0, false
	}
	if !piiDigit(buf[2]) || !piiDigit(buf[3]) {
		return 0, false
	}
	if check := int(buf[2]-'0')*10 + int(buf[3]-'0'); check < 2 || check > 98 || ibanMod97(buf[:n]) != 1 {
		// Shaped like an IBAN of that country but failing the checksum:
		// a typo or a made-up number, which is no card or phone either.
		return k, true
	}
	if s.want(maskIBAN) {
		s.add(TypeIBAN, i-2, k, 0.99, true)
	}
	return k, true
}

// ibanMod97 computes ISO 7064 mod 97-10 over the IBAN with its first four
// characters moved to the end and letters read as 10..35.
func ibanMod97(b []byte) int {
	r := 0
	step := func(c byte) {
		if piiDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range b[4:] {
		step(c)
	}
	for _, c := range b[:4] {
		step(c)
	}
	return r
}
