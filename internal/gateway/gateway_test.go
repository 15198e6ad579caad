package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/route"
)

func TestAuthentication(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, good := r.key()
	_, narrow := r.key("gpt-4o-mini")
	revokedID, revoked := r.key()
	suspendedID, suspended := r.key()
	if err := r.keys.Revoke(t.Context(), revokedID); err != nil {
		t.Fatal(err)
	}
	if err := r.keys.Suspend(t.Context(), suspendedID); err != nil {
		t.Fatal(err)
	}
	unknown, err := keys.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	stranger := unknown.RevealString()
	pasted := canary("sk-proj-") // a provider key sent where a Warden key belongs
	r.plant(stranger, pasted)

	type dialect struct {
		name, path, model string
		body              func(model string) string
		// auth sends a key the way this dialect's SDK does.
		auth func(key string) []string
	}
	dialects := []dialect{
		{"openai", "/v1/chat/completions", "gpt-4o", func(m string) string { return chatBody(m, false) },
			func(k string) []string { return []string{"Authorization", "Bearer " + k} }},
		{"anthropic", "/v1/messages", "claude-sonnet", func(m string) string { return messagesBody(m, false) },
			func(k string) []string { return []string{"X-Api-Key", k} }},
	}
	tests := []struct {
		name    string
		key     string
		headers []string // instead of key, when set
		model   string   // "" is the dialect's model
		status  int
		param   string
	}{
		{name: "no key", status: 401},
		{name: "unknown key", key: stranger, status: 401},
		{name: "provider key pasted", key: pasted, status: 401},
		{name: "revoked key", key: revoked, status: 401},
		{name: "suspended key", key: suspended, status: 401},
		{name: "two different keys", headers: []string{"Authorization", "Bearer " + good, "X-Api-Key", stranger}, status: 401},
		{name: "model not allowed", key: narrow, status: 403, param: "model"},
		{name: "unknown model", key: good, model: "gpt-9", status: 404, param: "model"},
		{name: "unknown model without a key", model: "gpt-9", status: 401},
		{name: "good key", key: good, status: 200},
	}
	for _, d := range dialects {
		for _, tt := range tests {
			if tt.name == "two different keys" && d.name == "openai" {
				continue // the OpenAI routes look at Authorization only
			}
			t.Run(d.name+"/"+tt.name, func(t *testing.T) {
				model := tt.model
				if model == "" {
					model = d.model
				}
				headers := tt.headers
				if headers == nil && tt.key != "" {
					headers = d.auth(tt.key)
				}
				rep := r.send(r.req(t.Context(), http.MethodPost, d.path, d.body(model), headers...))
				if tt.status == http.StatusOK {
					if rep.status != http.StatusOK {
						t.Fatalf("status %d: %s", rep.status, rep.body)
					}
					return
				}
				var msg string
				if d.name == "anthropic" {
					typ := map[int]string{401: "authentication_error", 403: "permission_error", 404: "not_found_error"}[tt.status]
					msg = wantAnthropicError(t, rep, tt.status, typ).Error.Message
				} else {
					code := map[int]string{401: "invalid_api_key", 403: "permission_denied", 404: "not_found"}[tt.status]
					e := wantOpenAIError(t, rep, tt.status, code)
					msg = e.Error.Message
					if got := paramOf(e); got != tt.param {
						t.Errorf("param = %q, want %q", got, tt.param)
					}
				}
				if tt.key != "" && strings.Contains(msg, tt.key) {
					t.Errorf("the message echoes the key")
				}
			})
		}
	}
	// Only the two good-key calls went upstream.
	if n := len(r.openai.Requests()) + len(r.anthropic.Requests()); n != 2 {
		t.Errorf("%d requests went upstream, want 2 (only the good keys')", n)
	}
}

// paramOf is the error's param, "" when null.
func paramOf(e openAIErr) string {
	if e.Error.Param == nil {
		return ""
	}
	return *e.Error.Param
}

func TestKeyStoreDownFailsClosed(t *testing.T) {
	r := newRig(t, rigOptions{})
	_, vkey := r.key()
	r.store.Fail(errors.New("database is down"))
	rep := r.do(http.MethodPost, "/v1/chat/completions", vkey, chatBody("gpt-4o", false))
	wantOpenAIError(t, rep, http.StatusServiceUnavailable, "service_unavailable")
	if ra := rep.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	if n := len(r.openai.Requests()); n != 0 {
		t.Errorf("a request whose key could not be checked went upstream")
	}
}

func TestRequestErrors(t *testing.T) {
	r := newRig(t, rigOptions{MaxBodyBytes: 1024})
	_, vkey := r.key()
	// A word planted in bad bodies: an error must not quote the input.
	const marker = "zebracanary"
	r.plant(marker)
	big := chatBody("gpt-4o", false, `"pad":"`+strings.Repeat("x", 2048)+`"`)
	tests := []struct {
		name    string
		path    string
		body    string
		chunked bool // send without Content-Length
		noKey   bool
		status  int
		code    string
		param   string
	}{
		{name: "body too large", path: "/v1/chat/completions", body: big, status: 413, code: "request_too_large"},
		{name: "body too large, before the key is checked", path: "/v1/chat/completions", body: big, noKey: true, status: 413, code: "request_too_large"},
		{name: "body too large, chunked", path: "/v1/chat/completions", body: big, chunked: true, status: 413, code: "request_too_large"},
		{name: "pass-through body too large, chunked", path: "/proxy/openai/chat/completions", body: big, chunked: true, status: 413, code: "request_too_large"},
		{name: "malformed JSON", path: "/v1/chat/completions", body: `{"model":"gpt-4o","messages":[` + marker, status: 400, code: "invalid_request"},
		{name: "truncated JSON", path: "/v1/chat/completions", body: `{"model":"` + marker, status: 400, code: "invalid_request"},
		{name: "not an object", path: "/v1/chat/completions", body: `["` + marker + `"]`, status: 400, code: "invalid_request"},
		{name: "model of the wrong type", path: "/v1/chat/completions", body: `{"model":{"` + marker + `":1}}`, status: 400, code: "invalid_request"},
		{name: "missing model", path: "/v1/chat/completions", body: `{"messages":[{"role":"user","content":"` + marker + `"}]}`, status: 400, code: "invalid_request", param: "model"},
		{name: "empty model", path: "/v1/embeddings", body: `{"model":"","input":"` + marker + `"}`, status: 400, code: "invalid_request", param: "model"},
		{name: "null body", path: "/v1/chat/completions", body: `null`, status: 400, code: "invalid_request", param: "model"},
		{name: "stream not a boolean", path: "/v1/chat/completions", body: `{"model":"gpt-4o","stream":"` + marker + `"}`, status: 400, code: "invalid_request", param: "stream"},
		{name: "unknown route", path: "/v1/nothing-here", body: `{}`, status: 404, code: "not_found"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "req-errors-" + string(rune('a'+i))
			req := r.req(t.Context(), http.MethodPost, tt.path, tt.body, HeaderRequestID, id)
			if tt.chunked {
				req.Body = io.NopCloser(strings.NewReader(tt.body))
				req.ContentLength = -1
			}
			if !tt.noKey {
				req.Header.Set("Authorization", "Bearer "+vkey)
			}
			rep := r.send(req)
			e := wantOpenAIError(t, rep, tt.status, tt.code)
			if got := paramOf(e); got != tt.param {
				t.Errorf("param = %q, want %q", got, tt.param)
			}
			if got := rep.header.Get(HeaderRequestID); got != id {
				t.Errorf("%s = %q, want %q", HeaderRequestID, got, id)
			}
			for h, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
				if got := rep.header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if strings.Contains(e.Error.Message, marker) {
				t.Errorf("the message quotes the request body: %q", e.Error.Message)
			}
			refused := r.logs.waitFor(t, "refusing "+id, func(m map[string]any) bool {
				return m["msg"] == "request refused" && m["request_id"] == id
			})
			if refused["code"] != tt.code {
				t.Errorf("the log says code %v, want %s", refused["code"], tt.code)
			}
		})
	}
	if n := len(r.openai.Requests()); n != 0 {
		t.Errorf("%d refused requests went upstream", n)
	}
}

// testGateway is a Gateway for unit tests of its stages; it has no
// upstreams and no models.
func testGateway(t *testing.T, log *slog.Logger) *Gateway {
	t.Helper()
	router, err := route.New(nil, route.Options{})
	if err != nil {
		t.Fatal(err)
	}
	none := auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) { return nil, auth.ErrNoCredentials })
	g, err := New(Options{Auth: none, AnthropicAuth: none, Router: router, Logger: log, Policy: testPolicy(t), Guardrails: testGuardrails(t)})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// traceStage records its pre- and post-hooks in trace.
func traceStage(name string, trace *[]string) Stage {
	return func(next Handler) Handler {
		return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			*trace = append(*trace, name+" in")
			err := next.ServeHTTP(w, r)
			*trace = append(*trace, name+" out")
			return err
		})
	}
}

func TestChain(t *testing.T) {
	stop := apperr.New(apperr.Forbidden, "stopped")
	tests := []struct {
		name      string
		failAt    string // the stage that returns stop instead of calling next
		wantTrace string
		wantErr   error
	}{
		{"in order, post-hooks reversed", "", "a in, b in, c in, handler, c out, b out, a out", nil},
		{"an error ends the chain", "b", "a in, b in, a out", stop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trace []string
			stage := func(name string) Stage {
				if name == tt.failAt {
					return func(Handler) Handler {
						return HandlerFunc(func(http.ResponseWriter, *http.Request) error {
							trace = append(trace, name+" in")
							return stop
						})
					}
				}
				return traceStage(name, &trace)
			}
			h := Chain(HandlerFunc(func(http.ResponseWriter, *http.Request) error {
				trace = append(trace, "handler")
				return nil
			}), stage("a"), stage("b"), stage("c"))
			err := h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
			if got := strings.Join(trace, ", "); got != tt.wantTrace {
				t.Errorf("trace %q, want %q", got, tt.wantTrace)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestEdge(t *testing.T) {
	planted := canary("sk-proj-")
	tests := []struct {
		name    string
		dialect Dialect
		h       Handler
		status  int
		body    string // the whole body, when set
		code    string
	}{
		{"panic in a stage", OpenAI, Chain(HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil }),
			func(Handler) Handler {
				return HandlerFunc(func(http.ResponseWriter, *http.Request) error { panic("stage blew up holding " + planted) })
			}), 500, "", "internal_error"},
		{"panic with an error value", Anthropic, HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			panic(errors.New("boom " + planted))
		}), 500, "", ""},
		{"an error that is not an apperr", OpenAI, HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			return errors.New("dial tcp 10.0.0.1:443: key " + planted)
		}), 500, "", "internal_error"},
		{"an error after the response started", OpenAI, HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "data: partial\n\n")
			ScopeFrom(r.Context()).Started = true
			return apperr.Wrap(apperr.Upstream, "the stream broke", errors.New("read: connection reset"))
		}), 200, "data: partial\n\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := newLogSink()
			g := testGateway(t, slog.New(slog.NewJSONHandler(logs, nil)))
			h := RequestID(g.edge(tt.dialect, "test", Chain(tt.h, g.recoverStage)))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodPost, "/v1/test", nil)
			req.Header.Set(HeaderRequestID, "edge-1")
			h.ServeHTTP(rec, req)
			rep := reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			switch {
			case tt.body != "":
				if rep.status != tt.status || string(rep.body) != tt.body {
					t.Errorf("got %d %q, want %d %q: nothing may follow a started response", rep.status, rep.body, tt.status, tt.body)
				}
			case tt.dialect == Anthropic:
				wantAnthropicError(t, rep, tt.status, "api_error")
			default:
				wantOpenAIError(t, rep, tt.status, tt.code)
			}
			for _, bad := range []string{planted, "goroutine", ".go:", "panic", "blew up", "10.0.0.1"} {
				if bytes.Contains(rep.body, []byte(bad)) {
					t.Errorf("the body shows %q: %s", bad, rep.body)
				}
			}
			if strings.Contains(logs.String(), planted) {
				t.Errorf("the log has the planted key")
			}
			logs.waitFor(t, "about the failure", func(m map[string]any) bool {
				return (m["msg"] == "request refused" || m["msg"] == "panic in data plane") && m["request_id"] == "edge-1"
			})
		})
	}
}

func TestRecoverKeepsAbortHandler(t *testing.T) {
	g := testGateway(t, slog.New(slog.DiscardHandler))
	h := g.edge(OpenAI, "test", Chain(HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		panic(http.ErrAbortHandler)
	}), g.recoverStage))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler passed on to net/http", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	t.Errorf("the abort was swallowed")
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxy", "203.0.113.7:5000", nil, nil, "203.0.113.7"},
		{"spoofed header, no trusted proxies", "203.0.113.7:5000", []string{"1.2.3.4"}, nil, "203.0.113.7"},
		{"spoofed header from an untrusted peer", "203.0.113.7:5000", []string{"1.2.3.4"}, trusted, "203.0.113.7"},
		{"trusted proxy", "10.1.2.3:5000", []string{"198.51.100.4"}, trusted, "198.51.100.4"},
		{"trusted chain, nearest untrusted hop wins", "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.4, 10.9.9.9"}, trusted, "198.51.100.4"},
		{"several headers", "10.1.2.3:5000", []string{"6.6.6.6", "198.51.100.4"}, trusted, "198.51.100.4"},
		{"trusted proxy, no header", "10.1.2.3:5000", nil, trusted, "10.1.2.3"},
		{"garbage hop", "10.1.2.3:5000", []string{"6.6.6.6, not-an-ip"}, trusted, "10.1.2.3"},
		{"every hop trusted", "10.1.2.3:5000", []string{"10.4.4.4"}, trusted, "10.1.2.3"},
		{"IPv6 trusted proxy", "[fd00::1]:5000", []string{"2001:db8::5"}, trusted, "2001:db8::5"},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:5000", []string{"198.51.100.4"}, trusted, "198.51.100.4"},
		{"IPv4-mapped hop", "10.1.2.3:5000", []string{"::ffff:198.51.100.4"}, trusted, "198.51.100.4"},
		{"no port", "203.0.113.7", nil, nil, "203.0.113.7"},
		{"unparseable peer", "somewhere", []string{"1.2.3.4"}, trusted, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tt.trusted).String(); got != tt.want {
				t.Errorf("clientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	router, err := route.New(nil, route.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) { return nil, auth.ErrNoCredentials })
	ad, err := provider.New(provider.Config{Name: "p", Type: provider.OpenAI, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"nothing", Options{}, []string{"no authenticator", "no router", "no policy", "no guardrails"}},
		{"policy without parts", Options{Auth: a, AnthropicAuth: a, Router: router, Policy: &Policy{}}, []string{"no directory", "no limiter", "no budgets", "no usage recorder", "no auth throttle", "no pricing", "no concurrency limiter"}},
		{"incomplete upstream", Options{Auth: a, AnthropicAuth: a, Router: router, Policy: testPolicy(t), Guardrails: testGuardrails(t), Upstreams: map[string]*Upstream{"p": {Adapter: ad}}}, []string{"upstream p is incomplete"}},
		{"nil upstream", Options{Auth: a, AnthropicAuth: a, Router: router, Upstreams: map[string]*Upstream{"q": nil}}, []string{"upstream q is incomplete"}},
		{"public route without a provider", Options{Auth: a, AnthropicAuth: a, Router: router, PublicRoutes: map[string]bool{"ghost": true}}, []string{"public route ghost names no configured provider"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil {
				t.Fatal("New accepted incomplete options")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// FuzzParseModelRequest sends arbitrary bodies to the chat route with a
// valid key: the gateway must never panic, and whatever it answers that is
// not a success is an OpenAI error body.
func FuzzParseModelRequest(f *testing.F) {
	r := newRig(f, rigOptions{MaxBodyBytes: 1 << 16})
	_, vkey := r.key()
	for _, s := range []string{
		chatBody("gpt-4o", false),
		chatBody("gpt-4o", true),
		chatBody("gpt-4o", true, `"stream_options":{"include_usage":true}`),
		`{"model":"gpt-4o"}`,
		`{"model":"gpt-9","messages":[]}`,
		`{"model":"gpt-4o","model":"gpt-9"}`,
		`{"mod\u0065l":"gpt-4o","stream":1}`,
		`{"model":null}`,
		`{"model":"gpt-4o","stream":null,"stream_options":"x"}`,
		`[]`, `null`, `""`, `{`, `{"model":"\ud800"}`, "\xff\xfe", "",
	} {
		f.Add([]byte(s))
	}
	h := RequestID(r.gw)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+vkey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		r.drain(t)
		switch {
		case rec.Code >= 200 && rec.Code < 300:
			return
		case rec.Code < 400 || rec.Code > 599:
			t.Fatalf("status %d", rec.Code)
		}
		rep := reply{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		wantOpenAIError(t, rep, rec.Code, string(codeOfStatus(rec.Code, rep)))
	})
}

// codeOfStatus is the code an error body with status should carry; for a
// 400 from the gateway or passed through from upstream, either is fine, so
// it is read back from the body after checking it is one of the codes.
func codeOfStatus(status int, rep reply) apperr.Code {
	for _, c := range []apperr.Code{apperr.Invalid, apperr.Unauthenticated, apperr.Forbidden, apperr.NotFound, apperr.TooLarge,
		apperr.RateLimited, apperr.BudgetExceeded, apperr.Upstream, apperr.Unavailable, apperr.UpstreamTimeout, apperr.Internal} {
		if bytes.Contains(rep.body, []byte(`"code":"`+string(c)+`"`)) && (c.Status() == status || c == apperr.Invalid) {
			return c
		}
	}
	return "no known code"
}
