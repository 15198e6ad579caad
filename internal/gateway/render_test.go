package gateway

import (
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRenderGolden renders every apperr code in both dialects and compares
// the status, the headers writeError sets and the body with
// testdata/render/<dialect>_<code>.golden. Run with -update to rewrite them.
func TestRenderGolden(t *testing.T) {
	secretCause := errors.New("dial tcp: Authorization: Bearer " + canary("sk-proj-"))
	cases := []struct {
		name string
		err  *apperr.Error
	}{
		{"invalid_request", &apperr.Error{Code: apperr.Invalid, Message: "you must provide a model parameter", Param: "model"}},
		{"invalid_request_upstream_422", &apperr.Error{Code: apperr.Invalid, Status: 422, Message: "unprocessable entity"}},
		{"invalid_api_key", &apperr.Error{Code: apperr.Unauthenticated, Message: "invalid API key"}},
		{"permission_denied", &apperr.Error{Code: apperr.Forbidden, Message: `this key may not use model "gpt-4o"`, Param: "model"}},
		{"not_found", &apperr.Error{Code: apperr.NotFound, Message: `the model "gpt-9" does not exist`, Param: "model"}},
		{"request_too_large", &apperr.Error{Code: apperr.TooLarge, Message: "request body is larger than 1024 bytes"}},
		{"rate_limit_exceeded", &apperr.Error{Code: apperr.RateLimited, Message: "rate limit reached", RetryAfter: 1500 * time.Millisecond}},
		{"budget_exceeded", &apperr.Error{Code: apperr.BudgetExceeded, Message: "monthly budget spent", RetryAfter: time.Hour}},
		{"upstream_error", &apperr.Error{Code: apperr.Upstream, Message: "provider openai failed with HTTP 500: [REDACTED]", Cause: secretCause}},
		{"service_unavailable", &apperr.Error{Code: apperr.Unavailable, Message: "every deployment is failing; try again shortly", RetryAfter: 5 * time.Second}},
		{"upstream_timeout", &apperr.Error{Code: apperr.UpstreamTimeout, Message: "provider openai did not answer in time"}},
		{"internal_error", &apperr.Error{Code: apperr.Internal, Message: "internal error; see the server log with this request id", Cause: secretCause}},
		{"unknown_code", &apperr.Error{Code: apperr.Code("made_up"), Message: "odd"}},
		{"html_in_message", &apperr.Error{Code: apperr.Invalid, Message: `<script>alert("x")</script> & co`}},
	}
	for _, d := range []struct {
		name string
		d    Dialect
	}{{"openai", OpenAI}, {"anthropic", Anthropic}} {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				rec := httptest.NewRecorder()
				writeError(rec, d.d, c.err)
				var b strings.Builder
				fmt.Fprintf(&b, "HTTP %d\n", rec.Code)
				names := make([]string, 0, len(rec.Header()))
				for k := range rec.Header() {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(rec.Header()[k], ", "))
				}
				b.WriteString("\n")
				b.Write(rec.Body.Bytes())
				got := b.String()
				if c.err.Cause != nil && strings.Contains(got, "sk-proj-") {
					t.Fatalf("the internal cause reached the body:\n%s", got)
				}
				path := filepath.Join("testdata", "render", d.name+"_"+c.name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if got != string(want) {
					t.Errorf("rendered error differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
				}
			})
		}
	}
}
