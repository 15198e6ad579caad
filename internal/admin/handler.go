package admin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/gateway"
	"github.com/wardenproject/warden/internal/keys"
)

// Codes for refusals apperr has no code for; each comes with its status.
const (
	codeConflict         apperr.Code = "conflict"
	codeMethodNotAllowed apperr.Code = "method_not_allowed"
)

// call is one request on its way through the API.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	route  *route
	params map[string]string
	addr   netip.Addr
	// p is the authenticated caller; nil on public routes.
	p *auth.Principal
	// access is what the caller's role gets on this route.
	access access
}

// ServeHTTP implements http.Handler.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	rt, params, allow := match(a.routes, r.Method, r.URL.EscapedPath())
	c := &call{w: w, r: r, route: rt, params: params, addr: clientIP(r, a.o.TrustedProxies)}
	if rt == nil {
		if len(allow) > 0 {
			h.Set("Allow", strings.Join(allow, ", "))
			a.fail(c, &apperr.Error{Code: codeMethodNotAllowed, Status: http.StatusMethodNotAllowed,
				Message: r.Method + " is not allowed here; use " + strings.Join(allow, " or ")})
			return
		}
		a.fail(c, apperr.New(apperr.NotFound, "no such admin API route; the routes are described at /admin/v1/openapi.yaml"))
		return
	}
	if !rt.public {
		if err := a.authenticate(c); err != nil {
			a.fail(c, err)
			return
		}
		c.access = rt.grants.of(c.p.Role)
		if c.access == noAccess {
			a.fail(c, refuse(c.p, rt.action))
			return
		}
	}
	if err := rt.serve(a, c); err != nil {
		a.fail(c, err)
	}
}

// authenticate finds the caller, as the data plane does: throttled per
// address, then the authenticator chain, then the key's own restrictions
// on where it may be used from and which paths it may call.
func (a *api) authenticate(c *call) error {
	t := a.o.AuthThrottle
	if delay, blocked, retry := t.Check(c.addr); blocked {
		return &apperr.Error{Code: apperr.RateLimited, RetryAfter: retry,
			Message: "too many failed authentication attempts from your address; try again later"}
	} else if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-c.r.Context().Done():
			timer.Stop()
			return apperr.Wrap(apperr.Invalid, "the request was canceled", c.r.Context().Err())
		case <-timer.C:
		}
	}
	p, err := a.o.Auth.Authenticate(c.r)
	if err == nil && p == nil {
		err = apperr.New(apperr.Unauthenticated, "invalid API key")
	}
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unauthenticated {
			t.Failure(c.addr)
			c.w.Header().Set("WWW-Authenticate", `Bearer realm="warden-admin"`)
		}
		return err
	}
	t.Success(c.addr)
	c.p = p
	if k := p.Key; k != nil {
		if !k.AllowsIP(c.addr) {
			return apperr.New(apperr.Forbidden, "this key may not be used from your address")
		}
		if !k.AllowsRoute(c.r.URL.Path) {
			return apperr.New(apperr.Forbidden, "this key's routes do not include "+c.route.pattern)
		}
	}
	return nil
}

// refuse is the 403 for a caller whose role may not do what they asked.
func refuse(p *auth.Principal, what string) error {
	return apperr.New(apperr.Forbidden, roleNoun(p)+" may not "+what)
}

// roleNoun names the caller's role with its article: "a manager".
func roleNoun(p *auth.Principal) string {
	switch p.Role {
	case auth.RoleAdmin:
		return "an admin"
	case auth.RoleAuditor:
		return "an auditor"
	case auth.RoleManager, auth.RoleUser:
		return "a " + string(p.Role)
	}
	return "a caller without a known role"
}

// fail renders err in the OpenAI error shape and logs it: refusals with
// the decision and reason, internal errors with their cause (never sent).
func (a *api) fail(c *call, err error) {
	e := apperr.From(err)
	status := e.HTTPStatus()
	attrs := []any{"request_id", gateway.RequestIDFrom(c.r.Context()), "method", c.r.Method, "status", status}
	if c.route != nil {
		attrs = append(attrs, "op", c.route.op)
	}
	if c.p != nil {
		attrs = append(attrs, principalAttrs(c.p)...)
	}
	ctx := c.r.Context()
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		a.record(c, "", status, string(e.Code))
	}
	if status >= 500 {
		a.log.ErrorContext(ctx, "admin request failed", append(attrs, "reason", causeOf(e))...)
	} else {
		a.log.InfoContext(ctx, "admin request refused", append(attrs, "decision", "deny", "reason", string(e.Code))...)
	}
	writeError(c.w, e)
}

// causeOf is the internal cause of e for the log.
func causeOf(e *apperr.Error) string {
	if e.Cause != nil {
		return e.Cause.Error()
	}
	return e.Message
}

// principalAttrs identifies the caller in logs: key id or subject, never
// a key or token.
func principalAttrs(p *auth.Principal) []any {
	out := []any{"role", string(p.Role)}
	if p.KeyID != "" {
		out = append(out, "key_id", p.KeyID)
	}
	if p.Subject != "" {
		out = append(out, "subject", p.Subject)
	}
	return out
}

// audit records a change that was made, in the server log and the audit
// log.
func (a *api) audit(c *call, target string) {
	attrs := []any{"request_id", gateway.RequestIDFrom(c.r.Context()), "op", c.route.op, "target", target, "decision", "allow"}
	attrs = append(attrs, principalAttrs(c.p)...)
	a.log.InfoContext(c.r.Context(), "admin action", attrs...)
	a.record(c, target, http.StatusOK, "")
}

// record hands one admin request to the audit log, if one is wired.
func (a *api) record(c *call, target string, status int, reason string) {
	if a.o.Record == nil {
		return
	}
	rec := audit.Record{
		Time: time.Now(), RequestID: gateway.RequestIDFrom(c.r.Context()), Kind: audit.KindAdmin,
		Action: c.r.Method + " " + c.r.URL.Path, Target: target, Status: status, Reason: reason,
		UserAgent: c.r.UserAgent(), Route: c.r.URL.Path,
	}
	if c.route != nil {
		rec.Action = c.route.op
	}
	if c.addr.IsValid() {
		rec.ClientIP = c.addr.String()
	}
	if p := c.p; p != nil {
		rec.KeyID = p.KeyID
		rec.Principal = audit.Principal{User: cmp.Or(p.User, p.Subject), Team: p.Team, Role: string(p.Role)}
	}
	a.o.Record(rec)
}

// errorBody is the OpenAI error shape the data plane uses too.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

func writeError(w http.ResponseWriter, e *apperr.Error) {
	status := e.HTTPStatus()
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	d := errorDetail{Message: e.Message, Type: errorType(status), Code: string(e.Code)}
	if e.Param != "" {
		p := e.Param
		d.Param = &p
	}
	writeJSON(w, status, errorBody{Error: d})
}

// errorType is the error "type" OpenAI uses for a status.
func errorType(status int) string {
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here; say so without detail.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"message":"internal error: cannot encode the response","type":"api_error","param":null,"code":"internal_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func (c *call) reply(status int, v any) error {
	writeJSON(c.w, status, v)
	return nil
}

// decode reads c's JSON body into v: at most MaxBodyBytes, one JSON value,
// no fields v does not have. An empty body decodes as {} when emptyOK.
func (c *call) decode(v any, emptyOK bool) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return apperr.New(apperr.TooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes))
		}
		return apperr.Wrap(apperr.Invalid, "cannot read the request body", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			body = []byte("{}")
		} else {
			return apperr.New(apperr.Invalid, "the request needs a JSON body")
		}
	}
	return decodeJSON(body, v)
}

// decodeJSON decodes one JSON value strictly into v, with errors that
// name the field at fault.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "the request body holds more than one JSON value")
	}
	return nil
}

// bodyError explains a JSON decoding error. Values are not repeated: a
// key pasted in the wrong field must not come back in an error.
func bodyError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var fe *keys.FieldError
	switch {
	case errors.As(err, &fe):
		return &apperr.Error{Code: apperr.Invalid, Message: fe.Field + ": " + fe.Problem, Param: fe.Field, Cause: err}
	case errors.As(err, &syn):
		return apperr.Wrap(apperr.Invalid, fmt.Sprintf("the request body is not valid JSON (at byte %d)", syn.Offset), err)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return apperr.Wrap(apperr.Invalid, "the request body must be a JSON object", err)
		}
		return &apperr.Error{Code: apperr.Invalid, Message: fmt.Sprintf("%s: expected %s, got a JSON %s", field, jsonKind(typ.Type.String()), typ.Value),
			Param: field, Cause: err}
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return apperr.Wrap(apperr.Invalid, "the request body ends before its JSON value does", err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(name); uerr == nil {
			if len(name) > 64 || strings.Contains(name, keys.Prefix) {
				return apperr.Wrap(apperr.Invalid, "the request body has an unknown field", err)
			}
			return &apperr.Error{Code: apperr.Invalid, Message: fmt.Sprintf("unknown field %q; see /admin/v1/openapi.yaml for this request's fields", name),
				Param: name, Cause: err}
		}
	}
	return apperr.Wrap(apperr.Invalid, "the request body is not valid for this request", err)
}

// jsonKind names a Go type the way a JSON writer thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	}
	return "an object"
}

// clientIP is the peer address, or the nearest untrusted address in
// X-Forwarded-For when the peer is a trusted proxy: the same rule as the
// data plane's, so that a key's IP allowlist means the same on both.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap().WithZone("")
	if !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for h := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	// From the right: the last hop was added by the trusted peer.
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer
		}
		a = a.Unmap().WithZone("")
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return peer
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
