package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestStatusTable(t *testing.T) {
	for code, want := range map[Code]int{
		Invalid: 400, Unauthenticated: 401, Forbidden: 403, NotFound: 404, TooLarge: 413,
		RateLimited: 429, BudgetExceeded: 429, Upstream: 502, Unavailable: 503,
		UpstreamTimeout: 504, Internal: 500, ContentBlocked: 400, PromptInjection: 400,
		Code("made_up"): 500,
	} {
		if got := code.Status(); got != want {
			t.Errorf("%s.Status() = %d, want %d", code, got, want)
		}
	}
	if got := (&Error{Code: Invalid, Status: http.StatusConflict}).HTTPStatus(); got != http.StatusConflict {
		t.Errorf("Status override: %d", got)
	}
}

func TestFromHidesForeignErrors(t *testing.T) {
	secretish := errors.New("dial tcp: lookup db-internal.corp: password=hunter2")
	e := From(fmt.Errorf("wrapped: %w", secretish))
	if e.Code != Internal || strings.Contains(e.Message, "hunter2") || strings.Contains(e.Message, "db-internal") {
		t.Fatalf("From leaked internal detail to the caller: %+v", e)
	}
	if !errors.Is(e, secretish) {
		t.Fatal("the cause is kept for the log")
	}
	own := Wrap(Forbidden, "no", secretish)
	if got := From(fmt.Errorf("ctx: %w", own)); got != own {
		t.Fatal("From did not find the *Error in the chain")
	}
	if CodeOf(fmt.Errorf("x: %w", own)) != Forbidden || CodeOf(secretish) != "" {
		t.Fatal("CodeOf")
	}
}
