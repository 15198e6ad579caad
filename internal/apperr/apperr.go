// Package apperr is Warden's one application error type: a machine code, a
// message that is safe to show to the caller, and an internal cause that is
// only ever logged. Every package that refuses a request returns one; the
// gateway renders it in the caller's wire format with the status from the
// code table below.
package apperr

import (
	"errors"
	"net/http"
	"time"
)

// Code is a machine-readable error code. Callers match on it, never on
// message text.
type Code string

// Codes, each with one HTTP status (see Status).
const (
	Invalid         Code = "invalid_request"     // 400
	Unauthenticated Code = "invalid_api_key"     // 401
	Forbidden       Code = "permission_denied"   // 403
	NotFound        Code = "not_found"           // 404
	TooLarge        Code = "request_too_large"   // 413
	RateLimited     Code = "rate_limit_exceeded" // 429
	BudgetExceeded  Code = "budget_exceeded"     // 429
	Upstream        Code = "upstream_error"      // 502
	Unavailable     Code = "service_unavailable" // 503
	UpstreamTimeout Code = "upstream_timeout"    // 504
	Internal        Code = "internal_error"      // 500
	// ContentBlocked refuses a prompt (or answer) that holds something a
	// guardrail policy blocks, such as a secret.
	ContentBlocked Code = "content_blocked" // 400
	// PromptInjection refuses a prompt that scored as a likely injection.
	PromptInjection Code = "prompt_injection" // 400
)

var statusByCode = map[Code]int{
	Invalid:         http.StatusBadRequest,
	Unauthenticated: http.StatusUnauthorized,
	Forbidden:       http.StatusForbidden,
	NotFound:        http.StatusNotFound,
	TooLarge:        http.StatusRequestEntityTooLarge,
	RateLimited:     http.StatusTooManyRequests,
	BudgetExceeded:  http.StatusTooManyRequests,
	Upstream:        http.StatusBadGateway,
	Unavailable:     http.StatusServiceUnavailable,
	UpstreamTimeout: http.StatusGatewayTimeout,
	Internal:        http.StatusInternalServerError,
	ContentBlocked:  http.StatusBadRequest,
	PromptInjection: http.StatusBadRequest,
}

// Status returns the HTTP status for a code; unknown codes are 500.
func (c Code) Status() int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is an application error. Message and Param are shown to the caller;
// Cause is not.
type Error struct {
	Code    Code
	Message string // safe for the caller: no keys, no internal addresses
	Param   string // the request field at fault, if any
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
	// Status overrides the code's status (used to pass an upstream's own
	// 4xx through unchanged). Zero means Code.Status().
	Status int
	// Cause is the internal error, for logs only.
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Cause.Error()
	}
	return string(e.Code) + ": " + e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// HTTPStatus is the status to send.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return e.Code.Status()
}

// New returns an Error with a caller-safe message.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap returns an Error whose internal cause is err.
func Wrap(code Code, msg string, err error) *Error {
	return &Error{Code: code, Message: msg, Cause: err}
}

// From returns the *Error in err's chain, or an Internal error that hides
// err's text from the caller.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error; see the server log with this request id", Cause: err}
}

// CodeOf returns the code of err, or "" if err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
