package guard

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/detect"
)

// The tests use small regular-expression detectors of their own, so that
// they exercise the guard and not the real detectors' rules. Keys are
// bounded in length (below the default window) as real ones are; the
// email pattern is not, because bounded repetitions make Go's regexp fall
// back to its slowest engine, and the texts the tests stream hold only
// short addresses.

type reRule struct {
	typ    string
	class  detect.Class
	prefix string // cheap pre-filter, as the real detectors have
	re     *regexp.Regexp
}

type reDetector []reRule

func (d reDetector) Detect(dst []detect.Finding, text string) []detect.Finding {
	for _, r := range d {
		if !strings.Contains(text, r.prefix) {
			continue
		}
		for _, m := range r.re.FindAllStringIndex(text, -1) {
			dst = append(dst, detect.Finding{Type: r.typ, Class: r.class, Start: m[0], End: m[1], Confidence: 0.9})
		}
	}
	return dst
}

var (
	testPII = reDetector{
		{typ: "email", class: detect.PII, prefix: "@", re: regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,10}`)},
		{typ: "phone", class: detect.PII, prefix: "+1", re: regexp.MustCompile(`\+1-555-[0-9]{3}-[0-9]{4}`)},
	}
	testSecrets = reDetector{
		{typ: "openai_key", class: detect.Secret, prefix: "sk-test-", re: regexp.MustCompile(`sk-test-[A-Za-z0-9]{16,48}`)},
	}
)

// testScorer scores a text 0.95 if it asks to ignore previous
// instructions and 0.1 otherwise, and remembers what it was given.
type testScorer struct {
	mu    sync.Mutex
	texts []string
	err   error
}

func (s *testScorer) Score(_ context.Context, text string) (float64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, text)
	if s.err != nil {
		return 0, s.err
	}
	if strings.Contains(strings.ToLower(text), "ignore previous instructions") {
		return 0.95, nil
	}
	return 0.1, nil
}

func (s *testScorer) scored() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

func newTestGuard(t testing.TB) (*Guard, *testScorer) {
	t.Helper()
	sc := &testScorer{}
	g, err := New(Options{PII: testPII, Secrets: testSecrets, Injection: sc})
	if err != nil {
		t.Fatal(err)
	}
	return g, sc
}

// fakeKey builds a test key at run time, so that no key-shaped literal
// sits in the source for scanners to trip over.
func fakeKey(body string) string { return "sk-" + "test-" + body }

func code(err error) apperr.Code { return apperr.CodeOf(err) }

func appErr(t *testing.T, err error) *apperr.Error {
	t.Helper()
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *apperr.Error", err)
	}
	return e
}

// policyWith sets the input actions and lets answers through.
func policyWith(pii, sec Action) Policy {
	return Policy{
		PII:     ClassPolicy{Action: pii},
		Secrets: ClassPolicy{Action: sec},
		Output:  OutputPolicy{PII: ClassPolicy{Action: Allow}, Secrets: ClassPolicy{Action: Allow}},
	}
}
