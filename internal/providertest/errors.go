package providertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// provider is the API family a path belongs to; it picks the auth header
// and the error shape.
type provider int

const (
	openAI provider = iota
	azure
	anthropic
	google
	huggingFace
)

func providerFor(path string) provider {
	switch {
	case strings.HasPrefix(path, "/v1/messages"):
		return anthropic
	case strings.HasPrefix(path, "/openai/"):
		return azure
	case strings.HasPrefix(path, "/v1beta/"),
		strings.HasPrefix(path, "/v1/models/") && strings.Contains(path, ":"):
		return google
	case strings.HasPrefix(path, "/models/"):
		return huggingFace
	default:
		return openAI
	}
}

// key returns the credential the request carries in this provider's header,
// and whether it carried one at all.
func (p provider) key(r *http.Request) (string, bool) {
	switch p {
	case anthropic, azure:
		// Anthropic's current SDKs send an API key as a bearer token, older
		// ones and most gateways in x-api-key; Azure takes api-key or an
		// Entra bearer token.
		name := "x-api-key"
		if p == azure {
			name = "api-key"
		}
		if k, ok := headerValue(r, name); ok {
			return k, true
		}
		return bearer(r)
	case google:
		if k, ok := headerValue(r, "x-goog-api-key"); ok {
			return k, true
		}
		if q := r.URL.Query(); q.Has("key") {
			return q.Get("key"), true
		}
		return "", false
	default:
		return bearer(r)
	}
}

func headerValue(r *http.Request, name string) (string, bool) {
	v := r.Header.Values(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

func bearer(r *http.Request) (string, bool) {
	v, ok := headerValue(r, "Authorization")
	if !ok {
		return "", false
	}
	scheme, tok, found := strings.Cut(v, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// maskKey hides a wrong key the way OpenAI's error message does: its first
// three and last four characters survive, the rest are stars.
func maskKey(k string) string {
	if len(k) <= 10 {
		return strings.Repeat("*", len(k))
	}
	return k[:3] + strings.Repeat("*", len(k)-7) + k[len(k)-4:]
}

// authError answers a missing or wrong key the way the provider does.
func (x *exchange) authError(key string, present bool) {
	switch x.prov {
	case openAI:
		msg := "Incorrect API key provided: " + maskKey(key) +
			". You can find your API key at https://platform.openai.com/account/api-keys."
		if !present || key == "" {
			msg = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
			x.writeJSON(http.StatusUnauthorized, openAIErrorBody{Error: openAIError{Message: msg, Type: "invalid_request_error"}})
			return
		}
		x.writeJSON(http.StatusUnauthorized, openAIErrorBody{Error: openAIError{Message: msg, Type: "invalid_request_error", Code: "invalid_api_key"}})
	case azure:
		x.fail(http.StatusUnauthorized, "", "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.")
	case anthropic:
		msg := "invalid x-api-key"
		if !present {
			msg = "x-api-key header is required"
		}
		x.fail(http.StatusUnauthorized, "", msg)
	case google:
		// Gemini answers a missing key with 403 and a wrong one with 400,
		// not 401; a gateway that only watches for 401 must see that.
		if !present {
			x.fail(http.StatusForbidden, "", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")
			return
		}
		x.writeJSON(http.StatusBadRequest, googleErrorBody{Error: googleError{
			Code:    http.StatusBadRequest,
			Message: "API key not valid. Please pass a valid API key.",
			Status:  "INVALID_ARGUMENT",
			Details: []map[string]any{{
				"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
				"reason":   "API_KEY_INVALID",
				"domain":   "googleapis.com",
				"metadata": map[string]string{"service": "generativelanguage.googleapis.com"},
			}},
		}})
	case huggingFace:
		x.fail(http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
	}
}

type openAIErrorBody struct {
	Error openAIError `json:"error"`
}

// openAIError is OpenAI's error object; param and code are null when empty,
// as in the real API.
type openAIError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

func (e openAIError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}{e.Message, e.Type, nilIfEmpty(e.Param), nilIfEmpty(e.Code)})
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type azureErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type anthropicErrorBody struct {
	Type      string         `json:"type"`
	Error     anthropicError `json:"error"`
	RequestID string         `json:"request_id,omitempty"`
}

type anthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type googleErrorBody struct {
	Error googleError `json:"error"`
}

type googleError struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
	Details []map[string]any `json:"details,omitempty"`
}

type hfErrorBody struct {
	Error string `json:"error"`
}

// fail answers with status and an error body in the provider's shape. An
// empty msg takes the provider's stock message for the status; code
// overrides OpenAI's error code.
func (x *exchange) fail(status int, code, msg string) {
	if msg == "" {
		msg = stockMessage(x.prov, status)
	}
	x.setRetryAfter()
	x.writeJSON(status, x.errorBody(status, code, msg))
}

// errorBody builds the provider's error document, also used for in-stream
// error events.
func (x *exchange) errorBody(status int, code, msg string) any {
	switch x.prov {
	case azure:
		var b azureErrorBody
		b.Error.Code = strconv.Itoa(status)
		if code != "" {
			b.Error.Code = code
		}
		b.Error.Message = msg
		return b
	case anthropic:
		return anthropicErrorBody{Type: "error", Error: anthropicError{Type: anthropicErrorType(status), Message: msg}, RequestID: x.requestID()}
	case google:
		return googleErrorBody{Error: googleError{Code: status, Message: msg, Status: googleStatus(status)}}
	case huggingFace:
		return hfErrorBody{Error: msg}
	default:
		typ, stock := openAIErrorType(status)
		if code == "" {
			code = stock
		}
		return openAIErrorBody{Error: openAIError{Message: msg, Type: typ, Code: code}}
	}
}

func openAIErrorType(status int) (typ, code string) {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case status == http.StatusForbidden:
		return "permission_error", ""
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", ""
	default:
		return "invalid_request_error", ""
	}
}

func anthropicErrorType(status int) string {
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
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	default:
		if status < 500 {
			return "invalid_request_error"
		}
		return "api_error"
	}
}

func googleStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	default:
		if status < 500 {
			return "FAILED_PRECONDITION"
		}
		return "INTERNAL"
	}
}

func stockMessage(p provider, status int) string {
	switch status {
	case http.StatusTooManyRequests:
		if p == anthropic {
			return "Number of request tokens has exceeded your per-minute rate limit"
		}
		return "Rate limit reached for requests"
	case http.StatusInternalServerError:
		if p == anthropic {
			return "Internal server error"
		}
		return "The server had an error while processing your request. Sorry about that!"
	case http.StatusServiceUnavailable:
		return "The engine is currently overloaded, please try again later"
	case 529:
		return "Overloaded"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return fmt.Sprintf("Error %d", status)
}

// htmlError is the kind of page a CDN or load balancer in front of a
// provider returns when the provider behind it fails.
func htmlError(status int) string {
	title := fmt.Sprintf("%d %s", status, http.StatusText(status))
	return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
}

// notFound answers an unknown route the way each provider does.
func (x *exchange) notFound() {
	msg := "Invalid URL (" + x.r.Method + " " + x.r.URL.Path + ")"
	switch x.prov {
	case anthropic:
		msg = "Not Found"
	case azure:
		msg = "Resource not found"
	case google, huggingFace:
		msg = "Not Found"
	}
	x.fail(http.StatusNotFound, "", msg)
}

// badRequest answers a request the provider would reject.
func (x *exchange) badRequest(msg string) {
	x.fail(http.StatusBadRequest, "", msg)
}

// requestID is the provider's request id for this exchange.
func (x *exchange) requestID() string {
	return fmt.Sprintf("req_fake%06d", x.seq)
}
