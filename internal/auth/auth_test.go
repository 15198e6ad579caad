package auth_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/secret"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fixture struct {
	store *keystest.Memory
	m     *keys.Manager
	now   time.Time
	logs  *logBuffer
	log   *slog.Logger
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: keystest.NewMemory(), now: time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC), logs: &logBuffer{}}
	f.log = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m, err := keys.NewManager(keys.Options{
		Store: f.store, Pepper: secret.New(bytes.Repeat([]byte{1}, 32)),
		Now: func() time.Time { return f.now }, Logger: f.log,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

func (f *fixture) create(t *testing.T, spec keys.Spec) (keys.Key, string) {
	t.Helper()
	k, sec, err := f.m.Create(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return k, sec.RevealString()
}

func request(headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

func TestVirtualKeys(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	live, key := f.create(t, keys.Spec{Name: "app", Models: []string{"gpt-4o"}})
	_, other := f.create(t, keys.Spec{Name: "other"})
	rk, revoked := f.create(t, keys.Spec{Name: "revoked"})
	sk, suspended := f.create(t, keys.Spec{Name: "suspended"})
	_, expired := f.create(t, keys.Spec{Name: "expired", TTL: time.Minute})
	if err := f.m.Revoke(ctx, rk.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Suspend(ctx, sk.ID); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)

	const (
		ok     = ""
		notMin = "not mine"
	)
	for _, tc := range []struct {
		name    string
		xapi    bool
		headers []string
		want    string // ok, notMine, or the caller-facing message
		code    apperr.Code
	}{
		{"bearer", false, []string{"Authorization", "Bearer " + key}, ok, ""},
		{"lower-case scheme, extra spaces", false, []string{"Authorization", "  bearer   " + key + " "}, ok, ""},
		{"no headers", false, nil, notMin, ""},
		{"provider key", false, []string{"Authorization", "Bearer sk-proj-abc"}, notMin, ""},
		{"basic auth", false, []string{"Authorization", "Basic " + key}, notMin, ""},
		{"bare key without scheme", false, []string{"Authorization", key}, notMin, ""},
		{"x-api-key not allowed", false, []string{"X-Api-Key", key}, notMin, ""},
		{"x-api-key allowed", true, []string{"x-api-key", key}, ok, ""},
		{"x-api-key and same bearer", true, []string{"X-Api-Key", key, "Authorization", "Bearer " + key}, ok, ""},
		{"x-api-key provider key, bearer Warden key", true, []string{"X-Api-Key", "sk-ant-xyz", "Authorization", "Bearer " + key}, ok, ""},
		{"two different keys", true, []string{"X-Api-Key", other, "Authorization", "Bearer " + key}, "invalid API key: send one key, in one header", apperr.Unauthenticated},
		{"two Authorization headers", false, []string{"Authorization", "Bearer " + key, "Authorization", "Bearer " + key}, "invalid API key: send one key, in one header", apperr.Unauthenticated},
		{"two x-api-key headers", true, []string{"X-Api-Key", key, "X-Api-Key", key}, "invalid API key: send one key, in one header", apperr.Unauthenticated},
		{"malformed", false, []string{"Authorization", "Bearer wdn_short"}, "invalid API key", apperr.Unauthenticated},
		{"revoked", false, []string{"Authorization", "Bearer " + revoked}, "invalid API key", apperr.Unauthenticated},
		{"suspended", false, []string{"Authorization", "Bearer " + suspended}, "API key suspended", apperr.Unauthenticated},
		{"expired", true, []string{"X-Api-Key", expired}, "API key expired", apperr.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := auth.VirtualKeys{Keys: f.m, AllowXAPIKey: tc.xapi, Logger: f.log}.Authenticate(request(tc.headers...))
			switch tc.want {
			case ok:
				if err != nil || p == nil || p.KeyID != live.ID || p.KeyName != "app" || !p.AllowsModel("gpt-4o") || p.AllowsModel("o1") {
					t.Fatalf("Authenticate = %+v, %v; want the principal of %s", p, err, live.ID)
				}
			case notMin:
				if !errors.Is(err, auth.ErrNoCredentials) || p != nil {
					t.Fatalf("Authenticate = %+v, %v; want ErrNoCredentials", p, err)
				}
			default:
				ae := apperr.From(err)
				if p != nil || ae.Code != tc.code || ae.Message != tc.want {
					t.Fatalf("Authenticate = %+v, %v; want %s %q", p, err, tc.code, tc.want)
				}
			}
		})
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"key_id":"`+sk.ID+`"`) {
		t.Errorf("the refusal of a suspended key was not logged with its id:\n%s", logs)
	}
	for _, k := range []string{key, other, revoked, suspended, expired} {
		if strings.Contains(f.logs.String(), k) {
			t.Fatalf("a key appears in the logs:\n%s", f.logs.String())
		}
	}
}

func TestVirtualKeysFailClosed(t *testing.T) {
	f := newFixture(t)
	_, key := f.create(t, keys.Spec{Name: "app"})
	down := errors.New("database disk image is malformed")
	f.store.Fail(down)
	for _, presented := range []string{key, "wdn_unknown"} {
		p, err := auth.Chain(auth.VirtualKeys{Keys: f.m, Logger: f.log}).Authenticate(request("Authorization", "Bearer "+presented))
		ae := apperr.From(err)
		if p != nil || ae.Code != apperr.Unavailable || ae.HTTPStatus() != http.StatusServiceUnavailable || ae.RetryAfter <= 0 || !errors.Is(err, down) {
			t.Fatalf("with the store down Authenticate = %+v, %v; want Unavailable with Retry-After", p, err)
		}
		if strings.Contains(ae.Message, "malformed") {
			t.Fatalf("the store error reached the caller's message: %q", ae.Message)
		}
	}
	// No key manager at all: refused, not passed.
	p, err := auth.VirtualKeys{}.Authenticate(request("Authorization", "Bearer "+key))
	if p != nil || apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("without a key manager Authenticate = %+v, %v", p, err)
	}
}

// stub records calls and returns a fixed answer.
type stub struct {
	name  string
	p     *auth.Principal
	err   error
	calls *[]string
}

func (s stub) Authenticate(*http.Request) (*auth.Principal, error) {
	*s.calls = append(*s.calls, s.name)
	return s.p, s.err
}

func TestChain(t *testing.T) {
	pa, pb := &auth.Principal{KeyID: "a"}, &auth.Principal{KeyID: "b"}
	notMine := auth.ErrNoCredentials
	internal := errors.New("jwks fetch: dial tcp 10.0.0.7:443: connection refused")
	typed := apperr.New(apperr.Forbidden, "token audience mismatch")
	for _, tc := range []struct {
		name      string
		links     []stub
		headers   []string
		wantKey   string
		wantCalls string
		code      apperr.Code
		msg       string
	}{
		{"first wins", []stub{{name: "1", p: pa}, {name: "2", p: pb}}, nil, "a", "1", "", ""},
		{"not mine passes on", []stub{{name: "1", err: notMine}, {name: "2", p: pb}}, nil, "b", "1,2", "", ""},
		{"wrapped not mine passes on", []stub{{name: "1", err: errors.Join(errors.New("jwt"), notMine)}, {name: "2", p: pb}}, nil, "b", "1,2", "", ""},
		{"definite failure stops", []stub{{name: "1", err: internal}, {name: "2", p: pb}}, nil, "", "1", apperr.Unauthenticated, "invalid API key"},
		{"typed failure kept", []stub{{name: "1", err: typed}, {name: "2", p: pb}}, nil, "", "1", apperr.Forbidden, "token audience mismatch"},
		{"nothing recognised, no headers", []stub{{name: "1", err: notMine}, {name: "2", err: notMine}}, nil, "", "1,2", apperr.Unauthenticated, "missing API key: send Authorization: Bearer wdn_…"},
		{"nothing recognised, a header", []stub{{name: "1", err: notMine}}, []string{"Authorization", "Bearer sk-proj-x"}, "", "1", apperr.Unauthenticated, "invalid API key: Warden keys start with wdn_ (send Authorization: Bearer wdn_…)"},
		{"empty chain", nil, nil, "", "", apperr.Unauthenticated, "missing API key: send Authorization: Bearer wdn_…"},
		{"nil principal, nil error", []stub{{name: "1"}, {name: "2", p: pb}}, nil, "", "1", apperr.Internal, "internal error: authentication failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls []string
			var as []auth.Authenticator
			for _, l := range tc.links {
				l.calls = &calls
				as = append(as, l)
			}
			p, err := auth.Chain(as...).Authenticate(request(tc.headers...))
			if got := strings.Join(calls, ","); got != tc.wantCalls {
				t.Errorf("called %q, want %q", got, tc.wantCalls)
			}
			if tc.wantKey != "" {
				if err != nil || p == nil || p.KeyID != tc.wantKey {
					t.Fatalf("Authenticate = %+v, %v; want principal %s", p, err, tc.wantKey)
				}
				return
			}
			ae := apperr.From(err)
			if p != nil || ae.Code != tc.code || ae.Message != tc.msg {
				t.Fatalf("Authenticate = %+v, %v; want %s %q", p, err, tc.code, tc.msg)
			}
			if strings.Contains(ae.Message, "10.0.0.7") {
				t.Fatal("an internal cause reached the caller's message")
			}
		})
	}
}

// TestCanaryNeverLeaks presents canary credentials every way a client
// might, through a chain as the gateway builds it, and checks that no error
// text (cause included) and no log line contains them.
func TestCanaryNeverLeaks(t *testing.T) {
	f := newFixture(t)
	canaryKey, err := keys.Generate(strings.NewReader(strings.Repeat("canary!", 40)))
	if err != nil {
		t.Fatal(err)
	}
	canaries := []string{
		canaryKey.RevealString(), // well formed, unknown
		"wdn_CANARY9f8e7d6c5b4a", // malformed
		"sk-proj-CANARY-provider-key-pasted-by-mistake",
	}
	_, live := f.create(t, keys.Spec{Name: "app"})
	chain := auth.Chain(auth.VirtualKeys{Keys: f.m, AllowXAPIKey: true, Logger: f.log})
	var texts []string
	for _, c := range canaries {
		for _, h := range [][]string{
			{"Authorization", "Bearer " + c},
			{"X-Api-Key", c},
			{"X-Api-Key", c, "Authorization", "Bearer " + live},
			{"Authorization", "Bearer " + c, "Authorization", "Bearer " + c},
		} {
			_, err := chain.Authenticate(request(h...))
			if err == nil && !strings.HasPrefix(h[1], "sk-") {
				t.Fatalf("a canary authenticated (%v)", h[0])
			}
			if err != nil {
				ae := apperr.From(err)
				texts = append(texts, err.Error(), ae.Message)
			}
		}
	}
	f.store.Fail(errors.New("store down"))
	for _, c := range canaries {
		if _, err := chain.Authenticate(request("Authorization", "Bearer "+c)); err != nil {
			texts = append(texts, err.Error())
		}
	}
	texts = append(texts, f.logs.String())
	for _, c := range append(canaries, live) {
		for _, text := range texts {
			if strings.Contains(text, c) {
				t.Fatalf("a presented credential leaked into %q", text)
			}
		}
	}
}

func TestPrincipalAllowsModel(t *testing.T) {
	var nobody *auth.Principal
	if nobody.AllowsModel("gpt-4o") {
		t.Error("a nil principal may use a model")
	}
	all := &auth.Principal{KeyID: "k"}
	scoped := &auth.Principal{KeyID: "k", Models: []string{"claude-*"}}
	for _, tc := range []struct {
		p     *auth.Principal
		model string
		want  bool
	}{
		{all, "gpt-4o", true},
		{scoped, "claude-3-haiku", true},
		{scoped, "gpt-4o", false},
	} {
		if got := tc.p.AllowsModel(tc.model); got != tc.want {
			t.Errorf("%v AllowsModel(%q) = %v, want %v", tc.p.Models, tc.model, got, tc.want)
		}
	}
}

func TestAuthenticatorFunc(t *testing.T) {
	want := &auth.Principal{Subject: "alice"}
	p, err := auth.Chain(auth.AuthenticatorFunc(func(*http.Request) (*auth.Principal, error) { return want, nil })).Authenticate(request())
	if err != nil || p != want {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
}
