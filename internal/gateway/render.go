package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/wardenproject/warden/internal/apperr"
)

// openAIError is the OpenAI error body: {"error":{...}}.
type openAIError struct {
	Error openAIErrorBody `json:"error"`
}

type openAIErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// anthropicError is the Anthropic error body.
type anthropicError struct {
	Type  string             `json:"type"`
	Error anthropicErrorBody `json:"error"`
}

type anthropicErrorBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// openAIType is the error "type" OpenAI uses for a status.
func openAIType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// anthropicType is the error "type" Anthropic uses for a status.
func anthropicType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// writeError renders e in the dialect's shape. Only e's safe fields are
// used: the cause stays in the log.
func writeError(w http.ResponseWriter, d Dialect, e *apperr.Error) {
	status := e.HTTPStatus()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + 999_999_999) / 1_000_000_000)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody(d, e))
}

// writeStreamError ends a stream that already started with an error event
// in the dialect's stream format, so that SDKs raise an error instead of
// taking a cut-off answer for a complete one: OpenAI's SDKs raise on a
// data chunk carrying "error", Anthropic's on an "error" event.
func writeStreamError(w http.ResponseWriter, d Dialect, e *apperr.Error) {
	b, err := json.Marshal(errorBody(d, e))
	if err != nil {
		return
	}
	if d == Anthropic {
		_, _ = w.Write([]byte("event: error\n"))
	}
	_, _ = w.Write([]byte("data: "))
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n\n"))
	_ = http.NewResponseController(w).Flush()
}

// errorBody is e in the dialect's error shape.
func errorBody(d Dialect, e *apperr.Error) any {
	status := e.HTTPStatus()
	if d == Anthropic {
		return anthropicError{Type: "error", Error: anthropicErrorBody{Type: anthropicType(status), Message: e.Message}}
	}
	b := openAIErrorBody{Message: e.Message, Type: openAIType(status), Code: string(e.Code)}
	if e.Param != "" {
		p := e.Param
		b.Param = &p
	}
	return openAIError{Error: b}
}
