package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/route"
)

// Options configure a Gateway. Every field without a documented default is
// required: a gateway missing one refuses to start rather than serve with a
// feature quietly off.
type Options struct {
	// Auth authenticates OpenAI-style routes (Authorization: Bearer);
	// AnthropicAuth the Anthropic routes, which also accept x-api-key.
	Auth          auth.Authenticator
	AnthropicAuth auth.Authenticator
	// Router maps public model names to deployments.
	Router *route.Router
	// Upstreams are the configured providers by name.
	Upstreams map[string]*Upstream
	// PublicRoutes names pass-through providers an admin opened to callers
	// without a key. Empty by default: all inference needs a key.
	PublicRoutes map[string]bool
	// MaxBodyBytes bounds request bodies (default 32 MiB).
	MaxBodyBytes int64
	// Policy is what the admission stage enforces: limits, budgets,
	// usage, and the throttle on failed authentication.
	Policy *Policy
	// Guardrails validate requests and inspect prompts and answers.
	Guardrails *Guardrails
	// Observers are told of every finished call (audit, metrics,
	// anomaly detection). Optional.
	Observers []Observer
	// Tracer makes a span per call and per upstream attempt; nil means
	// no tracing.
	Tracer trace.Tracer
	// TrustedProxies are peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	Now            func() time.Time
}

// Gateway is the data plane: the OpenAI- and Anthropic-compatible routes
// and the pass-through routes, each a chain of stages.
type Gateway struct {
	o   Options
	log *slog.Logger
	now func() time.Time
	mux *http.ServeMux
}

// New validates o and builds the routes.
func New(o Options) (*Gateway, error) {
	var problems []string
	if o.Auth == nil || o.AnthropicAuth == nil {
		problems = append(problems, "no authenticator")
	}
	if o.Router == nil {
		problems = append(problems, "no router")
	}
	problems = append(problems, o.Policy.problems()...)
	problems = append(problems, o.Guardrails.problems()...)
	for name, u := range o.Upstreams {
		if u == nil || u.Adapter == nil || u.Client == nil || u.Key == nil {
			problems = append(problems, "upstream "+name+" is incomplete")
		}
	}
	for name, open := range o.PublicRoutes {
		if _, ok := o.Upstreams[name]; open && !ok {
			problems = append(problems, "public route "+name+" names no configured provider")
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("gateway: %s", strings.Join(problems, "; "))
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 32 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	g := &Gateway{o: o, log: o.Logger, now: o.Now, mux: http.NewServeMux()}
	g.routes()
	return g, nil
}

// ServeHTTP serves the data-plane routes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !cleanPath(r.URL.Path) {
		// ServeMux would answer with a redirect to the cleaned path, which
		// may be another route; a gateway refuses instead.
		g.edge(OpenAI, "unknown", HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return &apperr.Error{Code: apperr.Invalid, Param: "path", Message: "the request path must not contain . or .. segments or empty segments (//)"}
		})).ServeHTTP(w, r)
		return
	}
	g.mux.ServeHTTP(w, r)
}

// cleanPath reports whether p, a decoded URL path, has no ".", ".." or
// empty segments (a trailing slash is allowed).
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return p == ""
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "." || seg == ".." || (seg == "" && i < len(segs)-1) {
			return false
		}
	}
	return true
}

func (g *Gateway) routes() {
	openaiOps := map[string]provider.Op{
		"/v1/chat/completions":      provider.OpChat,
		"/v1/completions":           provider.OpCompletions,
		"/v1/embeddings":            provider.OpEmbeddings,
		"/v1/responses":             provider.OpResponses,
		"/v1/images/generations":    provider.OpImages,
		"/v1/audio/transcriptions":  provider.OpTranscriptions,
		"/v1/audio/speech":          provider.OpSpeech,
		"/v1/moderations":           provider.OpModerations,
		"/v1/messages":              provider.OpMessages,
		"/v1/messages/count_tokens": provider.OpCountTokens,
	}
	for path, op := range openaiOps {
		d := OpenAI
		if op == provider.OpMessages || op == provider.OpCountTokens {
			d = Anthropic
		}
		g.mux.Handle("POST "+path, g.edge(d, op, g.modelChain(d)))
	}
	// Both SDKs list models at /v1/models, so it takes keys the Anthropic
	// way (x-api-key) as well as the OpenAI way.
	g.mux.Handle("GET /v1/models", g.edge(OpenAI, "models", Chain(HandlerFunc(g.listModels), g.stages(Anthropic)...)))
	g.mux.Handle("GET /v1/models/{model...}", g.edge(OpenAI, "models", Chain(HandlerFunc(g.getModel), g.stages(Anthropic)...)))
	g.mux.Handle("/proxy/{provider}/{path...}", g.edge(OpenAI, provider.OpPassthrough, g.passthroughChain()))
	// Anything else under /v1 is an unknown route, in the right shape.
	g.mux.Handle("/v1/", g.edge(OpenAI, "unknown", HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return apperr.New(apperr.NotFound, "unknown route "+r.Method+" "+r.URL.Path)
	})))
}

// stages returns the pre-proxy pipeline shared by every keyed route, in
// the order a request meets them (see DESIGN: size limits, then who is
// calling, then what they may do). The routes append their own parsing
// and authorization, validation, then admit (rate limits, concurrency,
// budgets), which takes resources that only a completed call returns, and
// last the input guard, which may rewrite the prompt.
func (g *Gateway) stages(d Dialect) []Stage {
	authn := g.o.Auth
	if d == Anthropic {
		authn = g.o.AnthropicAuth
	}
	return []Stage{
		g.recoverStage,
		g.limitBody,
		g.throttledAuth(authn),
		authorizeCaller,
	}
}

// modelChain is the pipeline of the model routes: parse the body to learn
// the model, check the caller may use it, then route to a deployment.
func (g *Gateway) modelChain(d Dialect) Handler {
	return Chain(HandlerFunc(g.proxyModel), append(g.stages(d), g.parseModelRequest, authorizeModel, g.validateRequest, g.admit, g.guardInput)...)
}

// passthroughChain is the pipeline of /proxy/{provider}/...: the same
// governance as model routes (a public route skips only authentication,
// and only when an admin configured it so). An unknown provider is
// reported only to authenticated callers, so that provider names cannot
// be probed without a key.
func (g *Gateway) passthroughChain() Handler {
	keyed := Chain(HandlerFunc(g.proxyPassthrough), append(g.stages(OpenAI), authorizePassthrough, g.knownProvider, g.readBody, g.admit, g.guardInput)...)
	public := Chain(HandlerFunc(g.proxyPassthrough), g.recoverStage, g.limitBody, g.knownProvider, g.readBody, g.admit, g.guardInput)
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if g.o.PublicRoutes[r.PathValue("provider")] {
			return public.ServeHTTP(w, r)
		}
		return keyed.ServeHTTP(w, r)
	})
}

// edge turns a Handler into an http.Handler: it installs the request scope
// and renders any returned error in the dialect's shape. It is the only
// place that writes errors.
func (g *Gateway) edge(d Dialect, op provider.Op, h Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := &Scope{
			RequestID: RequestIDFrom(r.Context()),
			Start:     g.now(),
			ClientIP:  clientIP(r, g.o.TrustedProxies),
			Dialect:   d,
			Op:        op,
		}
		ctx, span := g.o.Tracer.Start(r.Context(), "warden "+string(op), trace.WithSpanKind(trace.SpanKindServer))
		defer func() {
			span.SetAttributes(attribute.String("warden.request_id", sc.RequestID), attribute.String("warden.model", sc.Model),
				attribute.String("warden.provider", sc.Provider), attribute.Int("http.response.status_code", sc.Status))
			if sc.Principal != nil {
				span.SetAttributes(attribute.String("warden.key_id", sc.Principal.KeyID))
			}
			span.End()
		}()
		r = r.WithContext(withScope(ctx, sc))
		err := h.ServeHTTP(w, r)
		if err == nil {
			g.observe(sc, r.UserAgent(), nil)
			return
		}
		e := apperr.From(err)
		if !sc.Started {
			sc.Status = e.HTTPStatus()
		}
		defer g.observe(sc, r.UserAgent(), e)
		level := slog.LevelInfo
		if sc.Status >= 500 {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String("request_id", sc.RequestID),
			slog.String("code", string(e.Code)),
			slog.Int("status", e.HTTPStatus()),
		}
		if sc.Principal != nil {
			attrs = append(attrs, slog.String("key_id", sc.Principal.KeyID))
		}
		if e.Cause != nil {
			attrs = append(attrs, slog.String("reason", provider.Scrub(e.Cause.Error())))
		}
		g.log.LogAttrs(r.Context(), level, "request refused", attrs...)
		if sc.Started {
			// Headers are gone. A stream still can, and must, say that it
			// broke off; a caller that left hears nothing anyway.
			if sc.Stream && !errors.Is(err, errClientGone) {
				writeStreamError(w, d, e)
			}
			return
		}
		writeError(w, d, e)
	})
}

// recoverStage turns a panic into a 500 without letting its text or stack
// reach the caller; the stack goes to the log.
func (g *Gateway) recoverStage(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				g.log.Error("panic in data plane", "request_id", RequestIDFrom(r.Context()), "stack", provider.Scrub(string(debug.Stack())))
				err = apperr.New(apperr.Internal, "internal error; see the server log with this request id")
			}
		}()
		return next.ServeHTTP(w, r)
	})
}

// limitBody bounds the request body; reading past the bound fails with 413.
func (g *Gateway) limitBody(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if r.ContentLength > g.o.MaxBodyBytes {
			return apperr.New(apperr.TooLarge, fmt.Sprintf("request body is larger than %d bytes", g.o.MaxBodyBytes))
		}
		r.Body = http.MaxBytesReader(w, r.Body, g.o.MaxBodyBytes)
		return next.ServeHTTP(w, r)
	})
}

// authorizeModel refuses models outside the key's scope. It runs after
// parseModelRequest, which already answered 404 for unknown models.
func authorizeModel(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		sc := ScopeFrom(r.Context())
		if sc.Principal == nil || !sc.Principal.AllowsModel(sc.Model) {
			return &apperr.Error{Code: apperr.Forbidden, Param: "model",
				Message: fmt.Sprintf("this key may not use model %q", sc.Model)}
		}
		return next.ServeHTTP(w, r)
	})
}

// authorizePassthrough refuses keys limited to some models: a
// pass-through request can name any model, in its body or in its path, so
// only a key allowed every model may use one.
func authorizePassthrough(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if p := ScopeFrom(r.Context()).Principal; p == nil || len(p.Models) > 0 {
			return apperr.New(apperr.Forbidden, "this key is limited to some models; pass-through routes can reach any model, so they need a key without a model restriction")
		}
		return next.ServeHTTP(w, r)
	})
}

// knownProvider answers 404 for a pass-through to a provider that is not
// configured.
func (g *Gateway) knownProvider(next Handler) Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if name := r.PathValue("provider"); g.o.Upstreams[name] == nil {
			return apperr.New(apperr.NotFound, "unknown provider "+name)
		}
		return next.ServeHTTP(w, r)
	})
}

// clientIP is the peer address, or the nearest untrusted address in
// X-Forwarded-For when the peer is a trusted proxy.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !isTrusted(peer, trusted) {
		return peer
	}
	xff := r.Header.Values("X-Forwarded-For")
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	// Walk from the right: the last hop was added by our trusted peer.
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return peer
		}
		a = a.Unmap()
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

// errClientGone marks a request whose caller went away.
var errClientGone = errors.New("client closed the request")
