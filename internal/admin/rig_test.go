package admin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/alert/alerttest"
	"github.com/wardenproject/warden/internal/secret"
)

// t0 is the rig's starting time; tests move the clock from there.
var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// clock is a settable clock, safe for the server's goroutines.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// spec is the OpenAPI document, loaded and validated once.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPISpec)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	return doc, nil
})

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spec()
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// rig is an admin API over the real key manager and usage store, both in
// memory, with one key per role:
//
//	teams: ml, ops, spare (empty)
//	users: ann (admin), aud (auditor), mia (manager, ml), uma (user, ml),
//	       una (user, ml, no keys), max (admin, ml, no keys),
//	       oscar (user, ops), olga (user, ops, no keys)
//	keys:  admin (ann), auditor (aud), manager (mia, ml), user (uma, ml),
//	       uma-admin (uma, ml, role admin), ml-svc (ml, no user),
//	       ops-user (oscar, ops)
//	audit: a1..a5 an hour ago, made by uma, mia, oscar, ann and ml-svc;
//	       a6 by uma, 90 days ago (see newRigWith)
//	alerts: about team ml, key user, key ops-user, an address, team ops
//
// Every response goes through the OpenAPI document's validator, and is
// kept for the secret checks in checkSecrets.
type rig struct {
	t      *testing.T
	clock  *clock
	store  *keystest.Memory
	km     *keys.Manager
	usage  *meter.MemoryUsageStore
	audit  *audit.MemoryStore
	alerts *alerttest.Memory
	pepper []byte
	h      http.Handler
	// Providers is what GET /admin/v1/providers reports.
	providers []ProviderInfo

	mu      sync.Mutex
	ids     map[string]string // key name → id
	secrets map[string]string // key name → key
	seen    []seen            // every response
}

// seen is one response and the key it may hold: the one it created or
// rotated, shown once.
type seen struct {
	what  string
	body  []byte
	shows string
}

type rigOptions struct {
	auth     func(km *keys.Manager) auth.Authenticator
	throttle AuthThrottle
	trusted  []netip.Prefix
}

func newRig(t *testing.T) *rig { return newRigWith(t, rigOptions{}) }

func newRigWith(t *testing.T, o rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, clock: newClock(), store: keystest.NewMemory(), usage: meter.NewMemoryUsageStore(),
		audit: audit.NewMemoryStore(), alerts: alerttest.NewMemory(),
		ids: map[string]string{}, secrets: map[string]string{}}
	r.pepper = bytes.Repeat([]byte("pepper-for-admin-tests-"), 2)
	var err error
	r.km, err = keys.NewManager(keys.Options{Store: r.store, Pepper: secret.New(r.pepper), Now: r.clock.Now, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{"ml", "ops", "spare"} {
		if _, err := r.km.CreateTeam(ctx, keys.Team{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []keys.User{
		{Name: "ann", Role: keys.RoleAdmin}, {Name: "aud", Role: keys.RoleAuditor},
		{Name: "mia", Team: "ml", Role: keys.RoleManager}, {Name: "uma", Team: "ml"}, {Name: "una", Team: "ml"},
		{Name: "max", Team: "ml", Role: keys.RoleAdmin}, {Name: "oscar", Team: "ops"}, {Name: "olga", Team: "ops"},
	} {
		if _, err := r.km.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []keys.Spec{
		{Name: "admin", User: "ann", Role: keys.RoleAdmin},
		{Name: "auditor", User: "aud", Role: keys.RoleAuditor},
		{Name: "manager", User: "mia", Role: keys.RoleManager},
		{Name: "user", User: "uma"},
		{Name: "uma-admin", User: "uma", Role: keys.RoleAdmin},
		{Name: "ml-svc", Team: "ml"},
		{Name: "ops-user", User: "oscar"},
	} {
		r.addKey(s)
	}
	if err := r.usage.RecordUsage(ctx, []meter.Record{
		{Time: t0.Add(-time.Hour), RequestID: "r1", KeyID: r.ids["user"], User: "uma", Team: "ml", Model: "gpt-4o", Status: 200, InputTokens: 10, OutputTokens: 5, Cost: 3 * meter.MicroUSD},
		{Time: t0.Add(-time.Hour), RequestID: "r2", KeyID: r.ids["manager"], User: "mia", Team: "ml", Model: "gpt-4o", Status: 200, InputTokens: 20, OutputTokens: 5, Cost: 5 * meter.MicroUSD},
		{Time: t0.Add(-time.Hour), RequestID: "r3", KeyID: r.ids["ops-user"], User: "oscar", Team: "ops", Model: "claude", Status: 200, InputTokens: 7, OutputTokens: 1, Cost: meter.USD},
		{Time: t0.Add(-time.Hour), RequestID: "r4", KeyID: r.ids["admin"], User: "ann", Model: "claude", Status: 200, InputTokens: 1, OutputTokens: 1, Cost: 1},
		{Time: t0.Add(-90 * 24 * time.Hour), RequestID: "old", KeyID: r.ids["user"], User: "uma", Team: "ml", Model: "gpt-4o", Status: 200, InputTokens: 1000},
	}); err != nil {
		t.Fatal(err)
	}
	hour := t0.Add(-time.Hour)
	r.appendAudit(
		audit.Record{Time: hour, RequestID: "a1", Kind: audit.KindCall, Action: "chat.completions", KeyID: r.ids["user"],
			Principal: audit.Principal{User: "uma", Team: "ml", Role: "user"}, Status: 200, Model: "gpt-4o"},
		audit.Record{Time: hour, RequestID: "a2", Kind: audit.KindCall, Action: "chat.completions", KeyID: r.ids["manager"],
			Principal: audit.Principal{User: "mia", Team: "ml", Role: "manager"}, Status: 200},
		audit.Record{Time: hour, RequestID: "a3", Kind: audit.KindCall, Action: "chat.completions", KeyID: r.ids["ops-user"],
			Principal: audit.Principal{User: "oscar", Team: "ops", Role: "user"}, Status: 429, Reason: "rate_limit_exceeded"},
		audit.Record{Time: hour, RequestID: "a4", Kind: audit.KindAdmin, Action: "key.create", KeyID: r.ids["admin"],
			Principal: audit.Principal{User: "ann", Role: "admin"}, Status: 201, Target: r.ids["ml-svc"]},
		audit.Record{Time: hour, RequestID: "a5", Kind: audit.KindCall, Action: "embeddings", KeyID: r.ids["ml-svc"],
			Principal: audit.Principal{Team: "ml", Role: "user"}, Status: 200},
	)
	// Appended last but older: seq order is not time order.
	r.appendAudit(audit.Record{Time: t0.Add(-90 * 24 * time.Hour), RequestID: "a6", Kind: audit.KindCall, Action: "chat.completions",
		KeyID: r.ids["user"], Principal: audit.Principal{User: "uma", Team: "ml", Role: "user"}, Status: 200})
	for _, al := range []alert.Alert{
		{ID: "ml-team", Subject: alert.Subject{Kind: alert.SubjectTeam, ID: "ml"}},
		{ID: "uma-key", Subject: alert.Subject{Kind: alert.SubjectKey, ID: r.ids["user"]}},
		{ID: "ops-key", Subject: alert.Subject{Kind: alert.SubjectKey, ID: r.ids["ops-user"]}},
		{ID: "address", Subject: alert.Subject{Kind: alert.SubjectIP, ID: "203.0.113.9"}},
		{ID: "ops-team", Subject: alert.Subject{Kind: alert.SubjectTeam, ID: "ops"}},
	} {
		r.saveAlert(al, hour)
	}
	r.providers = []ProviderInfo{{Name: "openai", Type: "openai", Host: "api.openai.com", Keys: 2, Models: []string{"gpt-4o"},
		Deployments: []DeploymentInfo{{ID: "openai/gpt-4o#0", Model: "gpt-4o", Breaker: "closed"}}},
		{Name: "local", Type: "http", Host: "127.0.0.1:9000", Deployments: []DeploymentInfo{{ID: "local/x#0", Model: "x"}}}}

	authn := auth.Chain(auth.VirtualKeys{Keys: r.km})
	if o.auth != nil {
		authn = o.auth(r.km)
	}
	throttle := o.throttle
	if throttle == nil {
		// Generous, so that the matrix's many refusals from one address
		// are not slowed down; TestThrottle tests the throttle.
		throttle, err = limit.NewAuthThrottle(limit.AuthThrottleConfig{SlowAfter: 1 << 20, BlockAfter: 1<<20 + 1, Now: r.clock.Now,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
	}
	r.h, err = New(Options{Auth: authn, AuthThrottle: throttle, Keys: r.km, Teams: r.km, Users: r.km, Usage: r.usage,
		Audit: r.audit, Alerts: r.alerts, Providers: func() []ProviderInfo { return r.providers }, TrustedProxies: o.trusted, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range r.leaks() {
			t.Error(p)
		}
	})
	return r
}

func (r *rig) addKey(s keys.Spec) keys.Key {
	r.t.Helper()
	k, sec, err := r.km.Create(context.Background(), s)
	if err != nil {
		r.t.Fatalf("create key %s: %v", s.Name, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids[s.Name] = k.ID
	r.secrets[s.Name] = string(sec.Reveal())
	return k
}

// appendAudit chains recs onto the rig's audit log, as the audit writer
// would, so that seqs and hashes are real.
func (r *rig) appendAudit(recs ...audit.Record) {
	r.t.Helper()
	err := r.audit.AppendAudit(context.Background(), func(t audit.Tail) (audit.Batch, error) {
		out := slices.Clone(recs)
		seq, prev := t.Seq, t.Hash
		for i := range out {
			seq++
			out[i].Seq, out[i].PrevHash = seq, prev
			out[i].Hash = out[i].ComputeHash()
			prev = out[i].Hash
		}
		return audit.Batch{Records: out}, nil
	})
	if err != nil {
		r.t.Fatalf("append audit records: %v", err)
	}
}

// saveAlert stores a, filled in with what every alert needs, at time at.
func (r *rig) saveAlert(a alert.Alert, at time.Time) {
	r.t.Helper()
	a.Time, a.Rule, a.Severity, a.Response = at, "test-rule", alert.Warning, alert.ResponseAlert
	a.Message = "alert about " + a.Subject.String()
	a.Observed = alert.Observation{Metric: "requests_per_minute", Value: 120}
	if err := r.alerts.SaveAlert(context.Background(), a); err != nil {
		r.t.Fatalf("save alert %s: %v", a.ID, err)
	}
}

// id returns the id of the rig's key name.
func (r *rig) id(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.ids[name]
	if !ok {
		r.t.Fatalf("no key %s in the rig", name)
	}
	return id
}

func (r *rig) secret(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.secrets[name]
}

// req describes one request to the rig.
type req struct {
	method, path, body string
	// as is the rig key to authenticate with; "" sends no credentials.
	as string
	// bearer, if set, is sent instead.
	bearer string
	remote string
	header http.Header
}

// do sends q and returns the response, after checking it against the
// OpenAPI document.
func (r *rig) do(q req) *httptest.ResponseRecorder {
	r.t.Helper()
	hr := r.request(q)
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(rec, hr)
	r.validate(q, rec)
	body := rec.Body.Bytes()
	shows := ""
	if rec.Code < 300 && strings.HasPrefix(strings.TrimSpace(string(body)), "{") {
		var created struct {
			Key  string `json:"key"`
			Name string `json:"name"`
		}
		if json.Unmarshal(body, &created) == nil && created.Key != "" {
			shows = created.Key
			r.mu.Lock()
			r.secrets["created:"+created.Key] = created.Key
			r.mu.Unlock()
		}
	}
	r.mu.Lock()
	r.seen = append(r.seen, seen{what: q.method + " " + q.path, body: bytes.Clone(body), shows: shows})
	r.mu.Unlock()
	return rec
}

func (r *rig) request(q req) *http.Request {
	r.t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	hr := httptest.NewRequest(q.method, q.path, body)
	if q.body != "" {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range q.header {
		hr.Header[k] = vs
	}
	switch {
	case q.bearer != "":
		hr.Header.Set("Authorization", "Bearer "+q.bearer)
	case q.as != "":
		hr.Header.Set("Authorization", "Bearer "+r.secret(q.as))
	}
	if q.remote != "" {
		hr.RemoteAddr = q.remote
	}
	return hr
}

// validate checks a response of a route in the OpenAPI document against
// it: its status must be listed and its body must match the schema. The
// request of a successful response must match the document too.
func (r *rig) validate(q req, rec *httptest.ResponseRecorder) {
	r.t.Helper()
	router, err := specRouter()
	if err != nil {
		r.t.Fatalf("the OpenAPI document: %v", err)
	}
	hr := r.request(q)
	route, params, err := router.FindRoute(hr)
	if err != nil {
		// Not an operation (an unknown path, a method the path lacks):
		// nothing the document promises.
		return
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route, Options: opts}
	if rec.Code < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			r.t.Errorf("%s %s with %s: the request does not match the OpenAPI document: %v", q.method, q.path, q.body, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		r.t.Errorf("%s %s: response %d does not match the OpenAPI document: %v\n%s", q.method, q.path, rec.Code, err, rec.Body.String())
	}
}

// leaks lists the responses that held a key other than the one they
// created or rotated, part of one, a stored hash of any key, or the
// pepper.
func (r *rig) leaks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var forms []string
	add := func(b []byte) {
		forms = append(forms, string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
	}
	add(r.pepper)
	for _, s := range r.secrets {
		m := hmac.New(sha256.New, r.pepper)
		m.Write([]byte(s))
		add(m.Sum(nil))
	}
	var out []string
	for _, sn := range r.seen {
		for _, f := range forms {
			if bytes.Contains(sn.body, []byte(f)) {
				out = append(out, fmt.Sprintf("%s: the response holds a hash or the pepper:\n%s", sn.what, sn.body))
			}
		}
		for _, s := range r.secrets {
			// The hint shows the prefix and the last four characters;
			// any longer run of the key is a leak.
			if s != sn.shows && len(s) > 20 && bytes.Contains(sn.body, []byte(s[4:20])) {
				out = append(out, fmt.Sprintf("%s: the response holds a key it did not create:\n%s", sn.what, sn.body))
			}
		}
	}
	return out
}

// decode decodes a JSON response body into v.
func decode(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
}

// apiError is the error body.
type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) apiError {
	t.Helper()
	var e apiError
	decode(t, rec, &e)
	return e
}

func mustJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
}
