package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/guard"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/provider"
	"github.com/wardenproject/warden/internal/providertest"
	"github.com/wardenproject/warden/internal/route"
	"github.com/wardenproject/warden/internal/secret"
)

// clientTimeout bounds every wait in these tests. It guards against hangs, never an
// assertion on time: a passing test never comes near it.
const clientTimeout = 20 * time.Second

// rigOptions tune the gateway a rig builds. Zero values give a gateway as
// `warden serve` would build it, except for instant backoff and breakers
// that stay shut unless a test asks for them.
type rigOptions struct {
	MaxRetries      int           // route.Options.MaxRetries; 0 means the router's default (2)
	BreakerFailures int           // 0: high enough never to open
	Total           time.Duration // per-provider Total; 0 leaves the gateway's default
	StreamIdle      time.Duration // per-provider StreamIdle; 0: the default
	MaxBodyBytes    int64
	Public          []string // pass-through providers open without a key
	TrustedProxies  []netip.Prefix
	// AuthSlowAfter and AuthBlockAfter tune the failed-authentication
	// throttle; 0 leaves it too lax to matter (most tests fail on purpose).
	AuthSlowAfter, AuthBlockAfter int
	// Guard, if given, is the guardrail policy of every call; the default
	// policy otherwise.
	Guard []guard.Policy
	// Reply, if set, is every fake's reply (see providertest.Options).
	Reply func(model, lastUser string) string
	// Observers are passed to the gateway.
	Observers []Observer
}

// rig is a real Gateway wired as internal/cli/dataplane.go wires it, with
// fake providers behind it and an HTTP server in front of it.
//
// Providers: "openai" and "backup" (type openai), "anthropic", and "local"
// (a self-hosted model server, type http), each on its own fake with its
// own generated key. Public models:
//
//	gpt-4o                  → openai/gpt-4o-2024-08-06
//	gpt-4o-mini             → openai/gpt-4o-mini
//	text-embedding-3-small  → openai/text-embedding-3-small
//	claude-sonnet           → anthropic/claude-sonnet-4-5
//	primary                 → openai/gpt-4.1, falling back to secondary
//	secondary               → backup/gpt-4o-mini
//
// Every secret the rig makes or is given (provider keys, virtual keys,
// planted canaries) is checked, when the test ends, against the gateway's
// whole log, every response the test read through the rig, and every
// request the fakes received (virtual keys must never go upstream).
type rig struct {
	t      testing.TB
	srv    *httptest.Server
	client *http.Client
	gw     *Gateway
	keys   *keys.Manager
	store  *keystest.Memory
	logs   *logSink
	// ledger keeps budget spend; usage gets a record per call.
	ledger *meter.MemoryLedger
	usage  *usageLog

	openai, backup, anthropic, local *providertest.Server
	// providerKeys are the real keys by provider name.
	providerKeys map[string]string

	mu       sync.Mutex
	secrets  []string // must appear nowhere the caller or the log can see
	virtual  []string // must also never reach a provider
	sleeps   []time.Duration
	seenText []string // everything responses showed the caller
}

// newRig builds and starts a rig; everything is closed when the test ends.
func newRig(t testing.TB, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, logs: newLogSink(), providerKeys: map[string]string{}}
	logger := slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Registered first, so that it runs last: after the servers are shut
	// and nothing can log any more.
	t.Cleanup(r.checkNoLeaks)

	fake := func(name string) *providertest.Server {
		k := canary("sk-proj-")
		if name == "anthropic" {
			k = canary("sk-ant-api03-")
		}
		r.providerKeys[name] = k
		r.secrets = append(r.secrets, k)
		s := providertest.New(providertest.Options{Key: k, Reply: o.Reply})
		return s
	}
	r.openai, r.backup, r.anthropic, r.local = fake("openai"), fake("backup"), fake("anthropic"), fake("local")

	type prov struct {
		typ, base string
	}
	provs := map[string]prov{
		"openai":    {provider.OpenAI, r.openai.URL + "/v1"},
		"backup":    {provider.OpenAI, r.backup.URL + "/v1"},
		"anthropic": {provider.Anthropic, r.anthropic.URL},
		"local":     {provider.HTTP, r.local.URL},
	}
	upstreams := map[string]*Upstream{}
	for name, p := range provs {
		ad, err := provider.New(provider.Config{Name: name, Type: p.typ, BaseURL: p.base})
		if err != nil {
			t.Fatalf("provider %s: %v", name, err)
		}
		key := secret.FromString(r.providerKeys[name])
		upstreams[name] = &Upstream{
			Adapter: ad,
			Key:     func(context.Context) (secret.Secret, error) { return key, nil },
			Client:  NewClient(Timeouts{Total: o.Total, StreamIdle: o.StreamIdle}),
			// Zero unless a test sets it, which must mean the default.
			Total:      o.Total,
			StreamIdle: o.StreamIdle,
		}
	}
	dep := func(p, m string) []route.Deployment { return []route.Deployment{{Provider: p, Model: m}} }
	models := map[string]route.Model{
		"gpt-4o":                 {Deployments: dep("openai", "gpt-4o-2024-08-06")},
		"gpt-4o-mini":            {Deployments: dep("openai", "gpt-4o-mini")},
		"text-embedding-3-small": {Deployments: dep("openai", "text-embedding-3-small")},
		"claude-sonnet":          {Deployments: dep("anthropic", "claude-sonnet-4-5")},
		"primary":                {Deployments: dep("openai", "gpt-4.1"), Fallbacks: []string{"secondary"}},
		"secondary":              {Deployments: dep("backup", "gpt-4o-mini")},
	}
	breaker := o.BreakerFailures
	if breaker == 0 {
		breaker = 1 << 20
	}
	router, err := route.New(models, route.Options{
		MaxRetries:      o.MaxRetries,
		BaseDelay:       time.Millisecond,
		MaxDelay:        time.Millisecond,
		BreakerFailures: breaker,
		BreakerCooldown: time.Hour,
		// The router's waits are recorded instead of slept, so that a test
		// can see Retry-After honoured without waiting for it.
		Sleep: func(ctx context.Context, d time.Duration) error {
			r.mu.Lock()
			r.sleeps = append(r.sleeps, d)
			r.mu.Unlock()
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	r.store = keystest.NewMemory()
	pepper := make([]byte, keys.MinPepperLen)
	if _, err := rand.Read(pepper); err != nil {
		t.Fatal(err)
	}
	r.keys, err = keys.NewManager(keys.Options{Store: r.store, Pepper: secret.New(pepper), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	r.ledger, r.usage = meter.NewMemoryLedger(), &usageLog{}
	budgets, err := meter.NewBudgets(meter.BudgetsOptions{Ledger: r.ledger})
	if err != nil {
		t.Fatal(err)
	}
	slow, block := o.AuthSlowAfter, o.AuthBlockAfter
	if slow == 0 {
		slow, block = 1_000_000, 2_000_000
	}
	throttle, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{SlowAfter: slow, BlockAfter: block, MaxDelay: 10 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	public := map[string]bool{}
	for _, p := range o.Public {
		public[p] = true
	}
	r.gw, err = New(Options{
		Auth:           auth.Chain(auth.VirtualKeys{Keys: r.keys, Logger: logger}),
		AnthropicAuth:  auth.Chain(auth.VirtualKeys{Keys: r.keys, AllowXAPIKey: true, Logger: logger}),
		Router:         router,
		Upstreams:      upstreams,
		PublicRoutes:   public,
		MaxBodyBytes:   o.MaxBodyBytes,
		TrustedProxies: o.TrustedProxies,
		Logger:         logger,
		Guardrails:     testGuardrails(t, o.Guard...),
		Observers:      o.Observers,
		Policy: &Policy{
			Directory:    r.keys,
			Limiter:      limit.NewMemory(limit.MemoryOptions{}),
			Concurrency:  limit.NewMemoryConcurrency(),
			Pricing:      meter.DefaultTable(),
			Budgets:      budgets,
			Usage:        r.usage,
			AuthThrottle: throttle,
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	r.srv = httptest.NewUnstartedServer(RequestID(AccessLog(logger)(r.gw)))
	// net/http's own complaints (a second WriteHeader, a panic it caught)
	// land in the same log, where checkNoLeaks looks for them.
	r.srv.Config.ErrorLog = log.New(r.logs, "net/http: ", 0)
	r.srv.Start()
	r.client = r.srv.Client()
	r.client.Timeout = clientTimeout
	r.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	// Cleanups run last-registered first: the gateway goes after the fakes,
	// whose Close releases any request they hold stalled, so that the
	// gateway's handlers can finish.
	t.Cleanup(func() {
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	for _, f := range []*providertest.Server{r.openai, r.backup, r.anthropic, r.local} {
		t.Cleanup(f.Close)
	}
	return r
}

// canary returns prefix followed by 32 random base62 characters: shaped
// like a real key, so that the scrubbers treat it as one, and unique, so
// that finding it anywhere is proof of a leak.
func canary(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

// plant registers extra secrets that must not leak, e.g. a key planted in
// an upstream error message.
func (r *rig) plant(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, s...)
}

// key creates a virtual key allowed the given models (none: every model)
// and returns its id and the key.
func (r *rig) key(models ...string) (id, key string) {
	r.t.Helper()
	k, sec, err := r.keys.Create(context.Background(), keys.Spec{Name: "test", Models: models})
	if err != nil {
		r.t.Fatal(err)
	}
	key = sec.RevealString()
	r.mu.Lock()
	r.secrets = append(r.secrets, key)
	r.virtual = append(r.virtual, key)
	r.mu.Unlock()
	return k.ID, key
}

// keyWith creates a key with a policy and returns its id and secret.
func (r *rig) keyWith(spec keys.Spec) (id, key string) {
	r.t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	k, sec, err := r.keys.Create(context.Background(), spec)
	if err != nil {
		r.t.Fatal(err)
	}
	key = sec.RevealString()
	r.mu.Lock()
	r.secrets = append(r.secrets, key)
	r.virtual = append(r.virtual, key)
	r.mu.Unlock()
	return k.ID, key
}

// usageLog is a UsageRecorder that keeps every record in memory.
type usageLog struct {
	mu      sync.Mutex
	records []meter.Record
}

func (u *usageLog) Record(rec meter.Record) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.records = append(u.records, rec)
}

// byRequest returns the record of one request id, waiting briefly: the
// record is made after the response is written.
func (u *usageLog) byRequest(t testing.TB, id string) meter.Record {
	t.Helper()
	for range 200 {
		u.mu.Lock()
		for _, rec := range u.records {
			if rec.RequestID == id {
				u.mu.Unlock()
				return rec
			}
		}
		u.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no usage record for request %s", id)
	return meter.Record{}
}

// sleptFor returns the waits the router asked for so far.
func (r *rig) sleptFor() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...)
}

// reply is a response read to its end.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// req builds a request to the gateway. headers are name, value pairs.
func (r *rig) req(ctx context.Context, method, path, body string, headers ...string) *http.Request {
	r.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return req
}

// send sends req and reads the whole response.
func (r *rig) send(req *http.Request) reply {
	r.t.Helper()
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("%s %s: reading the response: %v", req.Method, req.URL.Path, err)
	}
	r.saw(resp.Header, b)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// do sends a request with key (if not empty) as a bearer token.
func (r *rig) do(method, path, key, body string, headers ...string) reply {
	r.t.Helper()
	if key != "" {
		headers = append(headers, "Authorization", "Bearer "+key)
	}
	return r.send(r.req(context.Background(), method, path, body, headers...))
}

// open sends req and returns the response with its body unread, for
// streams; the events read through events() are checked for leaks.
func (r *rig) open(req *http.Request) *http.Response {
	r.t.Helper()
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	r.t.Cleanup(func() { resp.Body.Close() })
	r.saw(resp.Header, nil)
	return resp
}

// saw records what the caller was shown, for checkNoLeaks.
func (r *rig) saw(h http.Header, body []byte) {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
	}
	b.Write(body)
	r.mu.Lock()
	r.seenText = append(r.seenText, b.String())
	r.mu.Unlock()
}

// checkNoLeaks is the canary check: no secret in the log or in anything a
// caller saw, no virtual key upstream, and no second response written
// after a first.
func (r *rig) checkNoLeaks() {
	t := r.t
	logs := r.logs.String()
	r.mu.Lock()
	seen := strings.Join(r.seenText, "\n")
	secrets := append([]string(nil), r.secrets...)
	virtual := append([]string(nil), r.virtual...)
	r.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a secret (%.4s…) appears in the gateway log", s)
		}
		if strings.Contains(seen, s) {
			t.Errorf("a secret (%.4s…) was shown to a caller", s)
		}
	}
	for name, f := range map[string]*providertest.Server{"openai": r.openai, "backup": r.backup, "anthropic": r.anthropic, "local": r.local} {
		for _, rec := range f.Requests() {
			var b strings.Builder
			b.WriteString(rec.Path + "?" + rec.RawQuery + "\n")
			for k, vs := range rec.Header {
				b.WriteString(k + ": " + strings.Join(vs, ", ") + "\n")
			}
			b.Write(rec.Body)
			for _, v := range virtual {
				if strings.Contains(b.String(), v) {
					t.Errorf("a virtual key reached provider %s in %s %s", name, rec.Method, rec.Path)
				}
			}
		}
	}
	for _, bad := range []string{"superfluous response.WriteHeader", "panic serving"} {
		if strings.Contains(logs, bad) {
			t.Errorf("net/http logged %q: a handler wrote twice or panicked", bad)
		}
	}
	if t.Failed() {
		for _, s := range secrets {
			logs = strings.ReplaceAll(logs, s, "[CANARY]")
		}
		t.Logf("gateway log (canaries masked):\n%s", logs)
	}
}

// logSink collects the log and lets a test wait for a line to appear.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return n, err
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// drain checks the log gathered so far for the rig's secrets and forgets
// it, so that a long fuzzing run does not hold every line in memory.
func (r *rig) drain(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	secrets := append([]string(nil), r.secrets...)
	r.seenText = nil
	r.mu.Unlock()
	r.logs.mu.Lock()
	logs := r.logs.buf.String()
	r.logs.buf.Reset()
	r.logs.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Fatalf("a secret (%.4s…) appears in the gateway log", s)
		}
	}
}

// records returns the JSON log records.
func (s *logSink) records() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(s.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// waitFor blocks until a record satisfies match, and returns it.
func (s *logSink) waitFor(t testing.TB, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.NewTimer(clientTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		for _, rec := range s.records() {
			if match(rec) {
				return rec
			}
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no log record %s appeared", what)
		}
	}
}

// waitDone blocks until the access log has the line for request id, that
// is until the gateway's handler for it has returned.
func (r *rig) waitDone(id string) map[string]any {
	r.t.Helper()
	return r.logs.waitFor(r.t, "for request "+id, func(m map[string]any) bool {
		return m["msg"] == "request" && m["request_id"] == id
	})
}

// openAIErr is the OpenAI error body.
type openAIErr struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

// anthropicErr is the Anthropic error body.
type anthropicErr struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantOpenAIError checks that rep is an OpenAI-shaped error with status
// and code, and returns it.
func wantOpenAIError(t testing.TB, rep reply, status int, code string) openAIErr {
	t.Helper()
	var e openAIErr
	if rep.status != status {
		t.Errorf("status = %d, want %d; body %s", rep.status, status, rep.body)
	}
	if ct := rep.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := json.Unmarshal(rep.body, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("body is not an OpenAI error (%v): %s", err, rep.body)
	}
	if e.Error.Code != code {
		t.Errorf("code = %q, want %q; body %s", e.Error.Code, code, rep.body)
	}
	if rep.header.Get(HeaderRequestID) == "" {
		t.Errorf("error response has no %s header", HeaderRequestID)
	}
	return e
}

// wantAnthropicError checks that rep is an Anthropic-shaped error with
// status and error type, and returns it.
func wantAnthropicError(t testing.TB, rep reply, status int, typ string) anthropicErr {
	t.Helper()
	var e anthropicErr
	if rep.status != status {
		t.Errorf("status = %d, want %d; body %s", rep.status, status, rep.body)
	}
	if err := json.Unmarshal(rep.body, &e); err != nil || e.Type != "error" || e.Error.Message == "" {
		t.Fatalf("body is not an Anthropic error (%v): %s", err, rep.body)
	}
	if e.Error.Type != typ {
		t.Errorf("error type = %q, want %q; body %s", e.Error.Type, typ, rep.body)
	}
	if rep.header.Get(HeaderRequestID) == "" {
		t.Errorf("error response has no %s header", HeaderRequestID)
	}
	return e
}

// sseEvent is one server-sent event as the caller received it.
type sseEvent struct {
	raw, name, data string
}

// sseReader reads a gateway stream event by event.
type sseReader struct {
	r  *rig
	br *bufio.Reader
}

func (r *rig) events(body io.Reader) *sseReader {
	return &sseReader{r: r, br: bufio.NewReader(body)}
}

// next returns the next event, or io.EOF at a clean end between events.
func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var raw strings.Builder
	for {
		line, err := s.br.ReadString('\n')
		raw.WriteString(line)
		if err != nil {
			s.r.saw(nil, []byte(raw.String()))
			if err == io.EOF && raw.Len() == 0 {
				return ev, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == "":
			if raw.Len() == len(line) {
				raw.Reset() // a stray blank line
				continue
			}
			ev.raw = raw.String()
			s.r.saw(nil, []byte(ev.raw))
			return ev, nil
		case strings.HasPrefix(trimmed, "event:"):
			ev.name = strings.TrimSpace(strings.TrimPrefix(trimmed, "event:"))
		case strings.HasPrefix(trimmed, "data:"):
			if ev.data != "" {
				ev.data += "\n"
			}
			ev.data += strings.TrimPrefix(strings.TrimPrefix(trimmed, "data:"), " ")
		}
	}
}

// mustNext returns the next event or fails the test.
func (s *sseReader) mustNext(t testing.TB) sseEvent {
	t.Helper()
	ev, err := s.next()
	if err != nil {
		t.Fatalf("reading the next event: %v", err)
	}
	return ev
}

// rest reads the remaining events until the stream ends, and the error
// that ended it (nil for a clean end).
func (s *sseReader) rest() ([]sseEvent, error) {
	var evs []sseEvent
	for {
		ev, err := s.next()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// chatBody is a chat completion request for model.
func chatBody(model string, stream bool, extra ...string) string {
	s := `{"model":` + quote(model) + `,"messages":[{"role":"user","content":"say hello"}]`
	if stream {
		s += `,"stream":true`
	}
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// messagesBody is an Anthropic messages request for model.
func messagesBody(model string, stream bool) string {
	s := `{"model":` + quote(model) + `,"max_tokens":64,"messages":[{"role":"user","content":"say hello"}]`
	if stream {
		s += `,"stream":true`
	}
	return s + "}"
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// requestsTo counts the requests a fake received whose path starts with
// prefix.
func requestsTo(f *providertest.Server, prefix string) int {
	n := 0
	for _, rec := range f.Requests() {
		if strings.HasPrefix(rec.Path, prefix) {
			n++
		}
	}
	return n
}

// waitCanceled waits for the fake to report a request its client
// abandoned, and returns it.
func waitCanceled(t testing.TB, f *providertest.Server) providertest.Recorded {
	t.Helper()
	select {
	case rec := <-f.Canceled():
		return rec
	case <-time.After(clientTimeout):
		t.Fatal("the upstream request was never canceled")
		return providertest.Recorded{}
	}
}
