package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/route"
)

// maxJSONResponse bounds a non-streaming JSON response held in memory for
// usage accounting; larger bodies are refused rather than risk the process.
const maxJSONResponse = 64 << 20

// readBody reads the whole request body into the scope, once, so that
// later stages (and retries) see the same bytes.
func (g *Gateway) readBody(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return apperr.New(apperr.TooLarge, fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
			}
			return apperr.Wrap(apperr.Invalid, "could not read the request body", err)
		}
		ScopeFrom(r.Context()).Body = b
		return next.ServeHTTP(w, r)
	})
}

// parseModelRequest reads the body and learns the model and whether the
// caller wants a stream. Everything else in the body is left untouched.
func (g *Gateway) parseModelRequest(next Handler) Handler {
	return g.readBody(HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sc := ScopeFrom(r.Context())
		if sc.Op == provider.OpTranscriptions {
			m, err := multipartModel(r.Header.Get("Content-Type"), sc.Body)
			if err != nil {
				return err
			}
			sc.Model = m
		} else {
			var req struct {
				Model         *string          `json:"model"`
				Stream        *json.RawMessage `json:"stream"`
				StreamOptions json.RawMessage  `json:"stream_options"`
			}
			if err := json.Unmarshal(sc.Body, &req); err != nil {
				return &apperr.Error{Code: apperr.Invalid, Message: "request body is not a valid JSON object: " + jsonProblem(err), Cause: err}
			}
			if req.Model == nil || *req.Model == "" {
				return &apperr.Error{Code: apperr.Invalid, Param: "model", Message: "you must provide a model parameter"}
			}
			sc.Model = *req.Model
			sc.BodyIsJSON = true
			if req.Stream != nil {
				var s bool
				if err := json.Unmarshal(*req.Stream, &s); err != nil {
					return &apperr.Error{Code: apperr.Invalid, Param: "stream", Message: "stream must be true or false"}
				}
				sc.Stream = s
			}
			sc.WantsUsage = wantsUsage(req.StreamOptions)
		}
		if !g.o.Router.Has(sc.Model) {
			return &apperr.Error{Code: apperr.NotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist or is not served by this gateway", sc.Model)}
		}
		return next.ServeHTTP(w, r)
	}))
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q has the wrong type", te.Field)
		}
		return "expected a JSON object"
	}
	return "could not parse"
}

func multipartModel(contentType string, body []byte) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return "", apperr.New(apperr.Invalid, "expected a multipart/form-data body")
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return "", &apperr.Error{Code: apperr.Invalid, Param: "model", Message: "you must provide a model parameter"}
		}
		if p.FormName() == "model" {
			b, err := io.ReadAll(io.LimitReader(p, 256))
			if err != nil || len(b) == 0 {
				return "", &apperr.Error{Code: apperr.Invalid, Param: "model", Message: "invalid model parameter"}
			}
			return string(b), nil
		}
	}
}

// proxyModel sends a model call to the deployments the router picks, with
// retries and fallbacks, and streams or copies the answer back.
func (g *Gateway) proxyModel(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sc := ScopeFrom(ctx)
	// Ask for usage in OpenAI streams so that they can be billed; strip the
	// extra chunk again if the caller did not ask for it.
	includeUsage := sc.Stream && (sc.Op == provider.OpChat || sc.Op == provider.OpCompletions)
	strip := includeUsage && !sc.WantsUsage
	stats, err := g.o.Router.Do(ctx, sc.Model, func(ctx context.Context, d route.Deployment) error {
		up, ok := g.o.Upstreams[d.Provider]
		if !ok {
			return apperr.Wrap(apperr.Internal, "internal error; see the server log with this request id", fmt.Errorf("deployment %s names unknown provider %s", d.ID, d.Provider))
		}
		if !up.Adapter.Supports(sc.Op) {
			return apperr.New(apperr.Invalid, fmt.Sprintf("model %q does not support %s", sc.Model, sc.Op))
		}
		sc.Provider, sc.Deployment = d.Provider, d.ID
		return g.call(ctx, w, up, &provider.Request{
			Op:           sc.Op,
			Method:       r.Method,
			Header:       r.Header,
			Body:         sc.Body,
			BodyIsJSON:   sc.BodyIsJSON,
			Model:        d.Model,
			Stream:       sc.Stream,
			IncludeUsage: includeUsage,
		}, strip)
	})
	sc.Attempts, sc.Retries, sc.Fallbacks, sc.ServedModel = stats.Attempts, stats.Retries, stats.Fallbacks, stats.Model
	if err != nil {
		return routeError(sc, err)
	}
	return nil
}

// wantsUsage reports whether the caller's stream_options value sets
// include_usage to true. A malformed value is the upstream's to refuse.
func wantsUsage(opts json.RawMessage) bool {
	if len(opts) == 0 || opts[0] != '{' {
		return false
	}
	var o struct {
		IncludeUsage bool `json:"include_usage"`
	}
	return json.Unmarshal(opts, &o) == nil && o.IncludeUsage
}

// routeError turns the router's final error into what the caller sees.
func routeError(sc *Scope, err error) error {
	switch {
	case errors.Is(err, errClientGone), errors.Is(err, context.Canceled):
		return apperr.Wrap(apperr.Invalid, "client closed the request", err)
	case errors.Is(err, route.ErrUnknownModel):
		return &apperr.Error{Code: apperr.NotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist", sc.Model), Cause: err}
	case errors.Is(err, route.ErrUnavailable):
		retry := 5 * time.Second
		var ue *route.UnavailableError
		if errors.As(err, &ue) && ue.RetryAfter > 0 {
			retry = ue.RetryAfter
		}
		return &apperr.Error{Code: apperr.Unavailable, Message: fmt.Sprintf("every deployment of model %q is failing; try again shortly", sc.Model), RetryAfter: retry, Cause: err}
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apperr.Wrap(apperr.Upstream, "the upstream call failed", err)
}

// call performs one upstream request and, on success, writes the response
// to the caller. Nothing is written to the caller unless the upstream
// answered with success, so a failed attempt can always be retried.
func (g *Gateway) call(ctx context.Context, w http.ResponseWriter, up *Upstream, req *provider.Request, strip bool) (err error) {
	sc := ScopeFrom(ctx)
	name := up.Adapter.Name()
	ctx, span := g.o.Tracer.Start(ctx, "upstream "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("warden.deployment", sc.Deployment), attribute.Bool("warden.stream", req.Stream)))
	defer func() {
		if err != nil {
			span.SetStatus(codes.Error, string(apperr.CodeOf(err)))
		}
		span.End()
	}()
	callerCtx := ctx
	var cancel context.CancelFunc
	if req.Stream {
		ctx, cancel = context.WithCancel(ctx)
	} else {
		total := up.Total
		if total <= 0 {
			total = DefaultTimeouts.Total
		}
		ctx, cancel = context.WithTimeout(ctx, total)
	}
	defer cancel()

	key, err := up.Key(ctx)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, fmt.Sprintf("provider %s has no usable key; an admin must check its configuration", name), err)
	}
	ureq, err := up.Adapter.Build(ctx, req, key)
	if err != nil {
		return err
	}
	resp, err := up.Client.Do(ureq)
	if err != nil {
		if callerCtx.Err() != nil {
			return errClientGone
		}
		if isTimeout(err) {
			return &route.Retryable{Status: http.StatusGatewayTimeout, Err: apperr.Wrap(apperr.UpstreamTimeout, fmt.Sprintf("provider %s did not answer in time", name), err)}
		}
		return &route.Retryable{Err: apperr.Wrap(apperr.Upstream, fmt.Sprintf("could not reach provider %s", name), err)}
	}
	defer resp.Body.Close()

	if resp.StatusCode >= 400 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := upstreamError(name, resp.StatusCode, provider.ErrorMessage(resp.StatusCode, body))
		if route.IsRetryableStatus(resp.StatusCode) {
			e.RetryAfter = route.ParseRetryAfter(resp.Header.Get("Retry-After"), g.now())
			return &route.Retryable{Status: resp.StatusCode, RetryAfter: e.RetryAfter, Err: e}
		}
		return e
	}

	copyResponseHeaders(w.Header(), resp.Header)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case ct == "text/event-stream":
		return g.stream(callerCtx, cancel, w, up, resp, strip)
	case ct == "application/json" && resp.ContentLength <= maxJSONResponse:
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONResponse+1))
		if err != nil {
			if callerCtx.Err() != nil {
				return errClientGone
			}
			if isTimeout(err) || ctx.Err() != nil {
				return &route.Retryable{Status: http.StatusGatewayTimeout, Err: apperr.Wrap(apperr.UpstreamTimeout, fmt.Sprintf("provider %s did not answer in time", name), err)}
			}
			return &route.Retryable{Err: apperr.Wrap(apperr.Upstream, fmt.Sprintf("provider %s broke off its response", name), err)}
		}
		if len(body) > maxJSONResponse {
			return apperr.New(apperr.Upstream, fmt.Sprintf("provider %s sent a response larger than %d bytes", name, maxJSONResponse))
		}
		sc.Usage = up.Adapter.ParseUsage(req.Op, body)
		if body, err = g.guardOutput(ctx, sc, body); err != nil {
			return err
		}
		sc.Status = resp.StatusCode
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(resp.StatusCode)
		sc.Started = true
		_, _ = w.Write(body)
		return nil
	default:
		// Audio, images as bytes, or a self-hosted model's own format:
		// pass it through as it comes.
		sc.Status = resp.StatusCode
		w.WriteHeader(resp.StatusCode)
		sc.Started = true
		rc := http.NewResponseController(w)
		buf := make([]byte, 32<<10)
		for {
			n, rerr := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return errClientGone
				}
				_ = rc.Flush()
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return apperr.Wrap(apperr.Upstream, fmt.Sprintf("provider %s broke off its response", name), rerr)
			}
		}
	}
}

// stream forwards a server-sent event stream event by event. A stream has
// no total deadline, only an idle one: the upstream call is cancelled when
// no bytes arrive for StreamIdle.
func (g *Gateway) stream(callerCtx context.Context, cancel context.CancelFunc, w http.ResponseWriter, up *Upstream, resp *http.Response, strip bool) error {
	sc := ScopeFrom(callerCtx)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	h.Del("Content-Length")
	sc.Status = resp.StatusCode
	w.WriteHeader(resp.StatusCode)
	sc.Started = true
	rc := http.NewResponseController(w)
	_ = rc.Flush()

	idle := up.StreamIdle
	if idle <= 0 {
		idle = DefaultTimeouts.StreamIdle
	}
	timer := time.AfterFunc(idle, cancel)
	defer timer.Stop()
	body := &idleReader{r: resp.Body, t: timer, d: idle}

	filter := g.o.Guardrails.Guard.OutputStream(sc.Op, sc.GuardPolicy, sc.Pseudonyms)
	usage, _, err := up.Adapter.CopyStream(callerCtx, w, func() { _ = rc.Flush() }, body, strip, filter)
	sc.Usage = usage
	sc.Verdicts = append(sc.Verdicts, filter.Verdicts()...)
	if err != nil {
		if callerCtx.Err() != nil {
			return errClientGone
		}
		return apperr.Wrap(apperr.Upstream, fmt.Sprintf("provider %s broke off the stream", up.Adapter.Name()), err)
	}
	return nil
}

// idleReader pushes back a deadline timer on every read.
type idleReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (i *idleReader) Read(p []byte) (int, error) {
	n, err := i.r.Read(p)
	if n > 0 {
		i.t.Reset(i.d)
	}
	return n, err
}

// responseHeaders are the upstream response headers a caller may see.
// Provider rate-limit headers describe Warden's provider account, not the
// caller's limits, so they stay behind.
var responseHeaders = []string{"Content-Type", "Content-Disposition", "Openai-Processing-Ms", "Openai-Version"}

func copyResponseHeaders(dst, src http.Header) {
	for _, k := range responseHeaders {
		if v := src.Values(k); len(v) > 0 {
			dst[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
		}
	}
}

// upstreamError maps an upstream's error status to what the caller sees.
// The upstream's own 4xx pass through (the request was at fault), except
// 401/403, which mean Warden's provider key is wrong: telling the caller
// "invalid API key" would blame their Warden key.
func upstreamError(name string, status int, msg string) *apperr.Error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &apperr.Error{Code: apperr.Upstream, Message: fmt.Sprintf("provider %s refused Warden's credentials; an admin must check the provider key", name), Cause: fmt.Errorf("upstream HTTP %d: %s", status, msg)}
	case status == http.StatusTooManyRequests:
		return &apperr.Error{Code: apperr.RateLimited, Message: fmt.Sprintf("provider %s is rate limiting: %s", name, msg)}
	case status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout:
		return &apperr.Error{Code: apperr.UpstreamTimeout, Message: fmt.Sprintf("provider %s timed out: %s", name, msg)}
	case status == http.StatusServiceUnavailable:
		return &apperr.Error{Code: apperr.Unavailable, Message: fmt.Sprintf("provider %s is unavailable: %s", name, msg)}
	case status >= 500:
		return &apperr.Error{Code: apperr.Upstream, Message: fmt.Sprintf("provider %s failed with HTTP %d: %s", name, status, msg)}
	case status == http.StatusNotFound:
		return &apperr.Error{Code: apperr.NotFound, Message: msg}
	case status == http.StatusRequestEntityTooLarge:
		return &apperr.Error{Code: apperr.TooLarge, Message: msg}
	}
	return &apperr.Error{Code: apperr.Invalid, Status: status, Message: msg}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// proxyPassthrough forwards /proxy/{provider}/{path...} to the provider's
// base URL, with the same authentication (unless public), body limits and
// logging as model routes. It is tried once: an arbitrary POST is not
// known to be safe to repeat.
func (g *Gateway) proxyPassthrough(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	sc := ScopeFrom(ctx)
	name := r.PathValue("provider")
	up := g.o.Upstreams[name]
	sc.Provider = name
	err := g.call(ctx, w, up, &provider.Request{
		Op:     provider.OpPassthrough,
		Method: r.Method,
		// The escaped path, so that %2F and %25 reach the adapter's checks
		// as sent instead of decoded once here and again upstream.
		Path:     strings.TrimPrefix(r.URL.EscapedPath(), "/proxy/"+name),
		RawQuery: r.URL.RawQuery,
		Header:   r.Header,
		Body:     sc.Body,
	}, false)
	sc.Attempts = 1
	if err == nil {
		return nil
	}
	if errors.Is(err, errClientGone) {
		return apperr.Wrap(apperr.Invalid, "client closed the request", err)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return apperr.Wrap(apperr.Upstream, "the upstream call failed", err)
}

// It carries the fields of both APIs' model objects (OpenAI: object,
// created, owned_by; Anthropic: type, display_name, created_at), so that
// either SDK can list models through Warden.
type modelObject struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func newModelObject(id string) modelObject {
	return modelObject{ID: id, Object: "model", OwnedBy: "warden", Type: "model", DisplayName: id, CreatedAt: "1970-01-01T00:00:00Z"}
}

// listModels answers /v1/models from configuration: only the models this
// caller may use.
func (g *Gateway) listModels(w http.ResponseWriter, r *http.Request) error {
	sc := ScopeFrom(r.Context())
	data := []modelObject{}
	for _, m := range g.o.Router.Models() {
		if sc.Principal.AllowsModel(m) {
			data = append(data, newModelObject(m))
		}
	}
	sort.Slice(data, func(i, j int) bool { return data[i].ID < data[j].ID })
	list := map[string]any{"object": "list", "data": data, "has_more": false, "first_id": nil, "last_id": nil}
	if len(data) > 0 {
		list["first_id"], list["last_id"] = data[0].ID, data[len(data)-1].ID
	}
	return writeJSON(w, http.StatusOK, list)
}

func (g *Gateway) getModel(w http.ResponseWriter, r *http.Request) error {
	sc := ScopeFrom(r.Context())
	m := r.PathValue("model")
	if !g.o.Router.Has(m) || !sc.Principal.AllowsModel(m) {
		return &apperr.Error{Code: apperr.NotFound, Param: "model", Message: fmt.Sprintf("the model %q does not exist", m)}
	}
	return writeJSON(w, http.StatusOK, newModelObject(m))
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "internal error", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}
