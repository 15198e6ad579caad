package detect

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// expansions is how many random fillings of each example template the
// table tests try.
const expansions = 25

// seedFor gives every template its own reproducible random stream.
func seedFor(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$`)

func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		t.Run(r.ID, func(t *testing.T) {
			if !snakeCase.MatchString(r.ID) || seen[r.ID] {
				t.Errorf("ID %q is not snake_case or is repeated", r.ID)
			}
			seen[r.ID] = true
			if r.Description == "" || r.Regexp == nil || len(r.Keywords) == 0 {
				t.Errorf("description, regexp and keywords are required")
			}
			if r.Confidence <= 0 || r.Confidence > VerifiedConfidence {
				t.Errorf("confidence %v outside (0, %v]", r.Confidence, VerifiedConfidence)
			}
			if r.ID != GenericSecret && r.Confidence <= ruleByID(GenericSecret).Confidence {
				t.Errorf("confidence %v is not above generic_secret's", r.Confidence)
			}
			if r.Regexp.SubexpIndex("secret") < 0 {
				t.Errorf("regexp %s has no group named secret", r.Regexp)
			}
			for _, k := range r.Keywords {
				if k != strings.ToLower(k) {
					t.Errorf("keyword %q is not lower case", k)
				}
			}
			if len(r.Positives) == 0 || len(r.Negatives) == 0 {
				t.Errorf("%d positive and %d negative examples; want at least one of each", len(r.Positives), len(r.Negatives))
			}
			// An anchored rule's keyword is the start of the secret, so
			// the secret's own alphabet must not be able to precede it.
			if r.anchored && r.before != 0 {
				t.Errorf("anchored rule with before = %d", r.before)
			}
		})
	}
	if got := Rules(); got[len(got)-1].ID != GenericSecret {
		t.Errorf("last rule is %s, want %s", got[len(got)-1].ID, GenericSecret)
	}
}

// Rules returns copies: changing them changes nothing in the detector.
func TestRulesReadOnly(t *testing.T) {
	rs := Rules()
	rs[0].Keywords[0] = "changed"
	rs[0].Positives = nil
	if again := Rules(); again[0].Keywords[0] == "changed" || len(again[0].Positives) == 0 {
		t.Fatal("Rules returned the table's own slices")
	}
}

// Every positive example is found, by the full detector and by the rule
// alone, with exactly the marked span.
func TestRulePositives(t *testing.T) {
	all := NewSecrets(SecretsOptions{Generic: true})
	for _, r := range Rules() {
		alone := NewSecrets(SecretsOptions{Rules: []string{r.ID}})
		for i, tmpl := range r.Positives {
			t.Run(fmt.Sprintf("%s/%d", r.ID, i), func(t *testing.T) {
				g := detecttest.NewGen(seedFor(r.ID, "positive", tmpl))
				for range expansions {
					text, spans := g.Expand(t, tmpl)
					if len(spans) != 1 {
						t.Fatalf("template marks %d secrets, want 1", len(spans))
					}
					want := spans[0]
					if !hasFinding(all.Detect(nil, text), r.ID, want) {
						t.Fatalf("all rules: no %s at [%d:%d] in %q; found %s", r.ID, want.Start, want.End, text, describe(all.Detect(nil, text), text))
					}
					got := alone.Detect(nil, text)
					if len(got) != 1 || !hasFinding(got, r.ID, want) {
						t.Fatalf("rule alone: want one %s at [%d:%d] in %q; found %s", r.ID, want.Start, want.End, text, describe(got, text))
					}
				}
			})
		}
	}
}

// Nothing at all is found in a negative example, by any rule.
func TestRuleNegatives(t *testing.T) {
	all := NewSecrets(SecretsOptions{Generic: true})
	for _, r := range Rules() {
		for i, tmpl := range r.Negatives {
			t.Run(fmt.Sprintf("%s/%d", r.ID, i), func(t *testing.T) {
				g := detecttest.NewGen(seedFor(r.ID, "negative", tmpl))
				for range expansions {
					text, spans := g.Expand(t, tmpl)
					if len(spans) != 0 {
						t.Fatalf("negative template marks a secret")
					}
					if got := all.Detect(nil, text); len(got) != 0 {
						t.Fatalf("found %s in %q", describe(got, text), text)
					}
				}
			})
		}
	}
}

func hasFinding(fs []Finding, typ string, s detecttest.Span) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool {
		return f.Type == typ && f.Start == s.Start && f.End == s.End
	})
}

// describe lists findings for a failure message. Test secrets are fake,
// so printing them is harmless and helps the reader.
func describe(fs []Finding, text string) string {
	if len(fs) == 0 {
		return "nothing"
	}
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s[%d:%d]=%q (%.2f, verified %v) ", f.Type, f.Start, f.End, text[f.Start:f.End], f.Confidence, f.Verified)
	}
	return b.String()
}

func TestIsIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"RequireAndVerifyClientCert", true},
		{"kernelThreadName+pid+tid", true},
		{"testRSAPSS2048PrivateKey", true},
		{"authenticationMiddlewareHandler2", true},
		{"production-database-password", true},
		{"zIiCvcmueHqe2vwagiozajWP", false}, // random: words too short
		{"qQljbHP4UHwyhII4hvxAXeZKnCK63rmamk5e8DWo", false},
		{"1f64851ef58813471b97b7e0059759a885152135", false}, // hex
		{"ThisIsMyPassword12Secret34", false},               // two digit groups
		{"BcdfghJklmnpQrstvw", false},                       // no vowels
		{"ab", false},
	} {
		if got := isIdentifiers(tc.s); got != tc.want {
			t.Errorf("isIdentifiers(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestIsEmail(t *testing.T) {
	for s, want := range map[string]bool{
		"dev@example.com":            true,
		"user@localhost":             false,
		"abc@def+ghi/jkl.example":    false,
		"noatsign.example.com":       false,
		"@example.com":               false,
		"first.last@mail.example.io": true,
	} {
		if got := isEmail(s); got != want {
			t.Errorf("isEmail(%q) = %v, want %v", s, got, want)
		}
	}
}
