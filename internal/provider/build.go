package provider

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/secret"
)

// Request is what the gateway hands an adapter.
type Request struct {
	// Op is the operation. It decides the upstream URL and whether the
	// body is JSON.
	Op Op
	// Method is used for OpPassthrough only (empty means GET without a body
	// and POST with one); every other operation is a POST.
	Method string
	// Path is used for OpPassthrough only: the path below the base URL,
	// starting with "/", in its escaped form as on the wire
	// (r.URL.EscapedPath()), without the query.
	Path string
	// RawQuery is used for OpPassthrough only: the caller's query. Any
	// credential parameter (key, api_key, ...) is dropped: Google's ?key=
	// is never forwarded; the provider key goes in a header.
	RawQuery string
	// Header is the caller's headers. Only an allowlist is copied; see
	// Build.
	Header http.Header
	// Body is the request body, sent with its length.
	Body []byte
	// BodyIsJSON says Body is known to be valid JSON (the gateway decoded
	// it already), so the adapter need not scan it again before editing.
	BodyIsJSON bool
	// Model is the upstream model. For operations with JSON bodies it
	// replaces every top-level "model" value, or is added if there is
	// none; for a JSON passthrough body it replaces an existing "model"
	// only, because some APIs (Google's) refuse unknown fields. For a
	// transcription (multipart/form-data) it replaces the "model" field;
	// a form with two of them is refused. For Azure it is also the
	// deployment name in the URL. "" leaves the body alone.
	Model string
	// Stream reports that the caller asked for a streamed answer.
	Stream bool
	// IncludeUsage, on a streamed OpenAI chat or completions request, sets
	// stream_options.include_usage to true (keeping the caller's other
	// stream options), so that the stream ends with a usage chunk.
	IncludeUsage bool
}

// forwardedHeaders are the caller's headers that go upstream, by canonical
// name. Everything else is dropped: credentials (Authorization, X-Api-Key,
// Api-Key, X-Goog-Api-Key, Cookie), hop-by-hop headers, X-Forwarded-*,
// Host, and Accept-Encoding, which Go's transport sets itself so that it
// can decompress the answer transparently.
var forwardedHeaders = map[string]bool{
	"Content-Type":      true,
	"Accept":            true,
	"Openai-Beta":       true,
	"Anthropic-Version": true,
	"Anthropic-Beta":    true,
	"Idempotency-Key":   true,
	"User-Agent":        true,
}

// stainlessPrefix marks the OpenAI and Anthropic SDKs' telemetry headers
// (language, OS, retry count), which carry nothing secret.
const stainlessPrefix = "X-Stainless-"

// credentialParams are query parameters that carry credentials; they are
// never forwarded, whatever their case.
var credentialParams = map[string]bool{
	"key": true, "api_key": true, "api-key": true, "apikey": true,
	"x-api-key": true, "x-goog-api-key": true, "access_token": true,
}

// Build makes the upstream request for r with key in the provider's own
// header: OpenAI and Hugging Face "Authorization: Bearer", Azure
// "api-key", Anthropic "x-api-key" (plus "anthropic-version: 2023-06-01"
// if the caller sent none), Google "x-goog-api-key", and a generic HTTP
// server "Authorization: Bearer" if key is not empty.
//
// Of the caller's headers only Content-Type, Accept, OpenAI-Beta,
// anthropic-version, anthropic-beta,
// Idempotency-Key, User-Agent and X-Stainless-* are copied; the provider's
// static headers are added over them. Operations with JSON bodies are sent
// as application/json whatever the caller said.
//
// A JSON body keeps every byte except the values Model and IncludeUsage
// change; a multipart body keeps every part but the model field (see
// Request). Errors are *apperr.Error: Invalid for a request
// that cannot be sent (unsupported operation, bad body, unsafe path), and
// Internal for a missing or unusable key, which is a configuration fault.
func (a *Adapter) Build(ctx context.Context, r *Request, key secret.Secret) (*http.Request, error) {
	if r == nil {
		return nil, apperr.New(apperr.Internal, "provider: Build called without a request")
	}
	if !a.Supports(r.Op) {
		return nil, apperr.New(apperr.Invalid, fmt.Sprintf("provider %q does not serve %q", a.name, r.Op))
	}
	method, target, err := a.target(r)
	if err != nil {
		return nil, err
	}
	body, err := a.body(r)
	if err != nil {
		return nil, err
	}
	var rd io.Reader = http.NoBody
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		// The URL is built from a validated base and escaped parts, so
		// this is a bug; the error is not passed on because it quotes the
		// URL.
		return nil, apperr.New(apperr.Internal, fmt.Sprintf("provider %q: could not build the upstream request", a.name))
	}
	a.header(req.Header, r)
	if err := a.setKey(req.Header, key); err != nil {
		return nil, err
	}
	return req, nil
}

// jsonOp reports whether op sends a JSON body. Transcriptions are
// multipart uploads.
func jsonOp(op Op) bool {
	return op != OpTranscriptions && op != OpPassthrough
}

// target returns the method and URL for r.
func (a *Adapter) target(r *Request) (method, target string, err error) {
	if r.Op == OpPassthrough {
		return a.passthroughTarget(r)
	}
	switch {
	case a.typ == Anthropic && r.Op == OpMessages:
		return http.MethodPost, a.baseStr + "/v1/messages", nil
	case a.typ == Anthropic && r.Op == OpCountTokens:
		return http.MethodPost, a.baseStr + "/v1/messages/count_tokens", nil
	case a.azure != "":
		dep := r.Model
		if dep == "" || dep == "." || dep == ".." || strings.ContainsAny(dep, "/\\") {
			return "", "", apperr.New(apperr.Invalid, fmt.Sprintf("provider %q is Azure OpenAI and needs a deployment name as the upstream model", a.name))
		}
		return http.MethodPost, a.baseStr + "/openai/deployments/" + url.PathEscape(dep) + opPaths[r.Op] + "?api-version=" + a.azure, nil
	default:
		return http.MethodPost, a.baseStr + opPaths[r.Op], nil
	}
}

// passthroughTarget checks the caller's method, path and query and joins
// them to the base URL.
func (a *Adapter) passthroughTarget(r *Request) (method, target string, err error) {
	method = r.Method
	switch {
	case method == "" && len(r.Body) > 0:
		method = http.MethodPost
	case method == "":
		method = http.MethodGet
	case !isToken(method) || method == http.MethodConnect || method == http.MethodTrace:
		return "", "", apperr.New(apperr.Invalid, "this HTTP method cannot be passed through")
	}
	decoded, err := checkPath(r.Path)
	if err != nil {
		return "", "", err
	}
	query, err := filterQuery(r.RawQuery)
	if err != nil {
		return "", "", err
	}
	if a.azure != "" && !hasParam(query, "api-version") {
		if query != "" {
			query += "&"
		}
		query += "api-version=" + a.azure
	}
	u := *a.base
	u.Path = a.base.Path + decoded
	u.RawPath = a.base.EscapedPath() + r.Path
	u.RawQuery = query
	return method, u.String(), nil
}

// checkPath refuses a passthrough path that could leave the base URL's
// path or mean different things to Warden and to the upstream server: dot
// segments (plain or percent-encoded), encoded slashes and backslashes, a
// percent-encoded percent (double-encoding tricks), empty segments,
// backslashes and control characters. It returns the decoded path.
func checkPath(p string) (string, error) {
	bad := func(why string) (string, error) {
		return "", &apperr.Error{Code: apperr.Invalid, Message: "the request path " + why, Param: "path"}
	}
	if !strings.HasPrefix(p, "/") {
		return bad("must start with /")
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < ' ' || c == 0x7f:
			return bad("contains control characters")
		case c == '\\':
			return bad("contains a backslash")
		case c == '?' || c == '#':
			return bad("contains ? or #")
		case c == '%':
			if i+2 < len(p) {
				switch strings.ToLower(p[i+1 : i+3]) {
				case "2f", "5c", "2e", "25":
					return bad("contains an encoded /, \\, . or %")
				}
			}
		}
	}
	decoded, err := url.PathUnescape(p)
	if err != nil {
		return bad("has an invalid percent-encoding")
	}
	for i, seg := range strings.Split(decoded[1:], "/") {
		switch {
		case seg == "." || seg == "..":
			return bad("must not contain . or .. segments")
		case seg == "" && i < strings.Count(decoded, "/")-1:
			return bad("must not contain empty segments (//)")
		case strings.ContainsFunc(seg, func(r rune) bool { return r < ' ' || r == 0x7f }):
			return bad("contains control characters")
		}
	}
	return decoded, nil
}

// filterQuery drops credential parameters from a raw query and keeps the
// rest exactly as sent.
func filterQuery(q string) (string, error) {
	if q == "" {
		return "", nil
	}
	if strings.Contains(q, ";") {
		// Some servers split on ';' as well as '&', so "a=1;key=..." could
		// smuggle a parameter past the filter.
		return "", &apperr.Error{Code: apperr.Invalid, Message: "the query must not contain ';'; separate parameters with '&'", Param: "query"}
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, part := range parts {
		name, _, _ := strings.Cut(part, "=")
		n, err := url.QueryUnescape(name)
		if err != nil {
			return "", &apperr.Error{Code: apperr.Invalid, Message: "the query has an invalid percent-encoding", Param: "query"}
		}
		if credentialParams[strings.ToLower(strings.TrimSpace(n))] {
			continue
		}
		kept = append(kept, part)
	}
	return strings.Join(kept, "&"), nil
}

// hasParam reports whether the raw query has a parameter called name.
func hasParam(q, name string) bool {
	for part := range strings.SplitSeq(q, "&") {
		if n, _, _ := strings.Cut(part, "="); n == name {
			return true
		}
	}
	return false
}

// body returns the body to send upstream.
func (a *Adapter) body(r *Request) ([]byte, error) {
	switch {
	case jsonOp(r.Op):
		usage := r.IncludeUsage && r.Stream && a.typ == OpenAI && (r.Op == OpChat || r.Op == OpCompletions)
		return rewriteBody(r.Body, r.Model, true, usage, r.BodyIsJSON)
	case r.Op == OpTranscriptions && r.Model != "":
		return rewriteMultipart(r.Body, r.Header.Get("Content-Type"), r.Model)
	case r.Op == OpPassthrough && isJSON(r.Header.Get("Content-Type")):
		return rewriteBody(r.Body, r.Model, false, false, r.BodyIsJSON)
	}
	return r.Body, nil
}

// isJSON reports whether a Content-Type is JSON (application/json or a
// +json type).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// header fills h, the upstream request's headers, from the caller's
// allowlisted headers and the provider's static ones.
func (a *Adapter) header(h http.Header, r *Request) {
	for k, vs := range r.Header {
		ck := http.CanonicalHeaderKey(k)
		if forwardedHeaders[ck] || strings.HasPrefix(ck, stainlessPrefix) {
			h[ck] = append(h[ck], vs...)
		}
	}
	if jsonOp(r.Op) {
		h.Set("Content-Type", "application/json")
	}
	for k, vs := range a.headers {
		h[k] = append([]string(nil), vs...)
	}
	if a.typ == Anthropic && h.Get("Anthropic-Version") == "" {
		h.Set("Anthropic-Version", AnthropicVersion)
	}
}

// setKey puts the provider key in the provider's header.
func (a *Adapter) setKey(h http.Header, key secret.Secret) error {
	k := key.Reveal()
	if len(k) == 0 {
		if a.typ == HTTP {
			return nil
		}
		return apperr.New(apperr.Internal, fmt.Sprintf("provider %q has no key; check its key reference with warden doctor", a.name))
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f {
			return apperr.New(apperr.Internal, fmt.Sprintf("provider %q: its key contains spaces or control characters (a newline pasted with it?); store it again", a.name))
		}
	}
	switch {
	case a.azure != "":
		h["Api-Key"] = []string{string(k)}
	case a.typ == Anthropic:
		h["X-Api-Key"] = []string{string(k)}
	case a.typ == Google:
		h["X-Goog-Api-Key"] = []string{string(k)}
	default:
		h["Authorization"] = []string{"Bearer " + string(k)}
	}
	return nil
}
