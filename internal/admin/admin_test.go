package admin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/limit"
	"github.com/wardenproject/warden/internal/meter"
)

func TestNewRefusesMissingDependencies(t *testing.T) {
	r := newRig(t)
	full := Options{Auth: auth.VirtualKeys{Keys: r.km}, AuthThrottle: &limit.AuthThrottle{}, Keys: r.km, Teams: r.km, Users: r.km,
		Usage: r.usage, Audit: r.audit, Alerts: r.alerts, Providers: func() []ProviderInfo { return nil }}
	if _, err := New(full); err != nil {
		t.Fatalf("complete options refused: %v", err)
	}
	for name, drop := range map[string]func(*Options){
		"Auth":         func(o *Options) { o.Auth = nil },
		"AuthThrottle": func(o *Options) { o.AuthThrottle = nil },
		"Keys":         func(o *Options) { o.Keys = nil },
		"Teams":        func(o *Options) { o.Teams = nil },
		"Users":        func(o *Options) { o.Users = nil },
		"Usage":        func(o *Options) { o.Usage = nil },
		"Audit":        func(o *Options) { o.Audit = nil },
		"Alerts":       func(o *Options) { o.Alerts = nil },
		"Providers":    func(o *Options) { o.Providers = nil },
	} {
		o := full
		drop(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v", name, err)
		}
	}
}

// TestCreatedKeyIsShownOnceAndWorks creates a key, authenticates with it,
// and checks that no later response shows it.
func TestCreatedKeyIsShownOnceAndWorks(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "POST", path: "/admin/v1/keys", as: "admin",
		body: `{"name":"ci","models":["gpt-4o*"],"ips":["10.0.0.0/8","192.0.2.7"],"limits":{"rpm":60},"budget":{"limit_usd":"5.00","period":"day"},"tags":["ci"],"ttl":"24h","team":"ml"}`})
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	var created struct {
		Secret string `json:"key"`
		keyview.Key
	}
	decode(t, rec, &created)
	if !keys.Valid(created.Secret) {
		t.Fatalf("the created key is not a valid key")
	}
	if loc := rec.Header().Get("Location"); loc != "/admin/v1/keys/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", rec.Header().Get("Cache-Control"))
	}
	if created.Budget == nil || created.Budget.LimitUSD != "5.00" || created.Budget.Period != "day" ||
		created.Limits.RPM != 60 || strings.Join(created.IPs, ",") != "10.0.0.0/8,192.0.2.7/32" ||
		created.ExpiresAt == nil || !created.ExpiresAt.Equal(t0.Add(24*time.Hour)) || deref(created.Team) != "ml" {
		t.Errorf("created key: %s", rec.Body.String())
	}
	k, err := r.km.Authenticate(context.Background(), created.Secret)
	if err != nil || k.ID != created.ID {
		t.Fatalf("the created key does not authenticate: %v", err)
	}
	// The new key calls the admin API as a user from an allowed address.
	me := r.do(req{method: "GET", path: "/admin/v1/me", bearer: created.Secret, remote: "10.1.2.3:5555"})
	if me.Code != http.StatusOK {
		t.Fatalf("me with the new key: %d %s", me.Code, me.Body.String())
	}
	for _, path := range []string{"/admin/v1/keys", "/admin/v1/keys/" + created.ID} {
		if rec := r.do(req{method: "GET", path: path, as: "admin"}); strings.Contains(rec.Body.String(), created.Secret) ||
			strings.Contains(rec.Body.String(), `"key"`) {
			t.Errorf("%s shows the key: %s", path, rec.Body.String())
		}
	}
}

func TestRotateWithGrace(t *testing.T) {
	r := newRig(t)
	old := r.secret("user")
	rec := r.do(req{method: "POST", path: "/admin/v1/keys/" + r.id("user") + "/rotate", as: "user", body: `{"grace":"1h"}`})
	if rec.Code != http.StatusOK {
		t.Fatalf("rotate: %d %s", rec.Code, rec.Body.String())
	}
	var rotated struct {
		Secret string `json:"key"`
		keyview.Key
	}
	decode(t, rec, &rotated)
	if rotated.Secret == old || !keys.Valid(rotated.Secret) || rotated.PreviousValidUntil == nil || !rotated.PreviousValidUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("rotated: %s", rec.Body.String())
	}
	ctx := context.Background()
	if _, err := r.km.Authenticate(ctx, old); err != nil {
		t.Errorf("the old key fails within its grace period: %v", err)
	}
	r.clock.Add(time.Hour)
	if _, err := r.km.Authenticate(ctx, old); err == nil {
		t.Error("the old key works after its grace period")
	}
	if rec := r.do(req{method: "POST", path: "/admin/v1/keys/" + r.id("user") + "/rotate", as: "admin", body: `{"grace":"-1h"}`}); rec.Code != http.StatusBadRequest {
		t.Errorf("negative grace: %d", rec.Code)
	}
}

func TestKeyStates(t *testing.T) {
	r := newRig(t)
	id := r.id("ml-svc")
	path := "/admin/v1/keys/" + id
	for _, step := range []struct {
		op, state string
		status    int
	}{
		{"suspend", "suspended", 200}, {"resume", "active", 200}, {"revoke", "revoked", 200}, {"revoke", "revoked", 200},
		{"resume", "", http.StatusConflict}, {"rotate", "", http.StatusConflict},
	} {
		rec := r.do(req{method: "POST", path: path + "/" + step.op, as: "manager"})
		if rec.Code != step.status {
			t.Fatalf("%s: %d %s", step.op, rec.Code, rec.Body.String())
		}
		if step.state != "" {
			var k keyview.Key
			decode(t, rec, &k)
			if string(k.State) != step.state {
				t.Errorf("after %s: state %s", step.op, k.State)
			}
		}
	}
	if rec := r.do(req{method: "PATCH", path: path, as: "admin", body: `{"name":"x"}`}); rec.Code != http.StatusConflict {
		t.Errorf("update of a revoked key: %d %s", rec.Code, rec.Body.String())
	}
	// A suspended key cannot call the admin API.
	r.do(req{method: "POST", path: "/admin/v1/keys/" + r.id("manager") + "/suspend", as: "admin"})
	if rec := r.do(req{method: "GET", path: "/admin/v1/me", as: "manager"}); rec.Code != http.StatusUnauthorized {
		t.Errorf("suspended key: %d", rec.Code)
	}
}

// TestMergePatch checks the JSON merge patch rules on a key: absent leaves
// a field alone, null clears it, a value replaces it.
func TestMergePatch(t *testing.T) {
	r := newRig(t)
	path := "/admin/v1/keys/" + r.id("ml-svc")
	set := r.do(req{method: "PATCH", path: path, as: "admin", body: `{"models":["a","b"],"tags":["x"],"limits":{"rpm":5,"tpm":100},"budget":{"limit_usd":"2"},"expires_at":"2026-04-01T00:00:00Z","ips":["10.0.0.0/8"]}`})
	if set.Code != 200 {
		t.Fatalf("set: %d %s", set.Code, set.Body.String())
	}
	tests := []struct {
		body  string
		check func(k keyview.Key) bool
	}{
		{`{"name":"renamed"}`, func(k keyview.Key) bool {
			return k.Name == "renamed" && len(k.Models) == 2 && k.Limits.RPM == 5 && k.Budget != nil && k.ExpiresAt != nil
		}},
		{`{"limits":{"rpm":null}}`, func(k keyview.Key) bool { return k.Limits.RPM == 0 && k.Limits.TPM == 100 }},
		{`{"limits":{"tpm":0}}`, func(k keyview.Key) bool { return k.Limits.TPM == 0 }},
		{`{"models":null}`, func(k keyview.Key) bool { return len(k.Models) == 0 && len(k.Tags) == 1 }},
		{`{"tags":[]}`, func(k keyview.Key) bool { return len(k.Tags) == 0 }},
		{`{"budget":null}`, func(k keyview.Key) bool { return k.Budget == nil }},
		{`{"budget":{"limit_usd":"7.5","period":"total"}}`, func(k keyview.Key) bool {
			return k.Budget != nil && k.Budget.LimitUSD == "7.50" && k.Budget.Period == meter.Total
		}},
		{`{"expires_at":null}`, func(k keyview.Key) bool { return k.ExpiresAt == nil }},
		{`{"ips":null}`, func(k keyview.Key) bool { return len(k.IPs) == 0 }},
		{`{"user":"uma"}`, func(k keyview.Key) bool { return deref(k.User) == "uma" && deref(k.Team) == "ml" }},
		{`{"user":null}`, func(k keyview.Key) bool { return k.User == nil }},
		{`{"limits":null}`, func(k keyview.Key) bool { return k.Limits == keyview.Limits{} }},
	}
	for _, tt := range tests {
		rec := r.do(req{method: "PATCH", path: path, as: "admin", body: tt.body})
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", tt.body, rec.Code, rec.Body.String())
		}
		var k keyview.Key
		decode(t, rec, &k)
		if !tt.check(k) {
			t.Errorf("%s: %s", tt.body, rec.Body.String())
		}
	}
}

// TestBadRequests checks that malformed bodies and fields are refused
// with 400 (413 for size) and name the field at fault.
func TestBadRequests(t *testing.T) {
	r := newRig(t)
	keyPath := "/admin/v1/keys/" + r.id("ml-svc")
	tests := []struct {
		method, path, body string
		status             int
		param              string
	}{
		{"POST", "/admin/v1/keys", `{"name":"a","nmae":"b"}`, 400, "nmae"},
		{"POST", "/admin/v1/keys", `{"name":"a","limits":{"rpx":1}}`, 400, "rpx"},
		{"PATCH", keyPath, `{"limits":{"rpx":1}}`, 400, "rpx"},
		{"PATCH", keyPath, `{"budget":{"limit_usd":"1","extra":1}}`, 400, "extra"},
		{"POST", "/admin/v1/teams", `{"name":"t","colour":"red"}`, 400, "colour"},
		{"POST", "/admin/v1/users", `{"name":"u","tema":"ml"}`, 400, "tema"},
		{"POST", "/admin/v1/keys/" + r.id("ml-svc") + "/rotate", `{"grace":"1h","force":true}`, 400, "force"},
		{"POST", "/admin/v1/keys", `{"name":"a"} {"name":"b"}`, 400, ""},
		{"POST", "/admin/v1/keys", `{"name":`, 400, ""},
		{"POST", "/admin/v1/keys", `[1,2]`, 400, ""},
		{"POST", "/admin/v1/keys", ``, 400, ""},
		{"POST", "/admin/v1/keys", `{"name":5}`, 400, "name"},
		{"POST", "/admin/v1/keys", `{"name":"a","models":"gpt-4o"}`, 400, "models"},
		{"POST", "/admin/v1/keys", `{"name":""}`, 400, "name"},
		{"POST", "/admin/v1/keys", `{"name":"a","ips":["10.1.2.3/8"]}`, 400, "ips"},
		{"POST", "/admin/v1/keys", `{"name":"a","budget":{"limit_usd":"five"}}`, 400, "budget.limit_usd"},
		{"POST", "/admin/v1/keys", `{"name":"a","budget":{"limit_usd":"0"}}`, 400, "budget.limit_usd"},
		{"POST", "/admin/v1/keys", `{"name":"a","budget":{"limit_usd":"5","period":"week"}}`, 400, "budget.period"},
		{"POST", "/admin/v1/keys", `{"name":"a","ttl":"forever"}`, 400, "ttl"},
		{"POST", "/admin/v1/keys", `{"name":"a","ttl":"1h","expires_at":"2027-01-01T00:00:00Z"}`, 400, "expires_at"},
		{"POST", "/admin/v1/keys", `{"name":"a","role":"root"}`, 400, "role"},
		{"POST", "/admin/v1/keys", `{"name":"a","team":"nope"}`, 400, "team"},
		{"POST", "/admin/v1/keys", `{"name":"a","limits":{"rpm":-1}}`, 400, "rpm"},
		{"PATCH", keyPath, `{"name":null}`, 400, "name"},
		{"PATCH", "/admin/v1/teams/ml", `{"budget":{"period":"day"}}`, 400, "budget.limit_usd"},
		{"POST", "/admin/v1/users", `{"name":"-x"}`, 400, "name"},
		{"POST", "/admin/v1/users", `{"name":"x","team":"nope"}`, 400, "team"},
		{"POST", "/admin/v1/keys", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, ""},
		{"GET", "/admin/v1/usage?by=week", "", 400, "by"},
		{"GET", "/admin/v1/usage?since=yesterday", "", 400, "since"},
		{"GET", "/admin/v1/usage?since=1h&until=2h", "", 400, ""},
		{"GET", "/admin/v1/usage?bye=model", "", 400, "bye"},
		{"GET", "/admin/v1/usage?by=model&by=key", "", 400, "by"},
	}
	for _, tt := range tests {
		body := tt.body
		if len(body) > 80 {
			body = body[:80] + "…"
		}
		rec := r.do(req{method: tt.method, path: tt.path, body: tt.body, as: "admin"})
		if rec.Code != tt.status {
			t.Errorf("%s %s %s: %d, want %d: %s", tt.method, tt.path, body, rec.Code, tt.status, rec.Body.String())
			continue
		}
		e := errorOf(t, rec)
		if tt.param != "" && (e.Error.Param == nil || *e.Error.Param != tt.param) {
			t.Errorf("%s %s %s: param %v, want %s (%s)", tt.method, tt.path, body, deref(e.Error.Param), tt.param, e.Error.Message)
		}
		if tt.param != "" && !strings.Contains(e.Error.Message, strings.TrimPrefix(strings.TrimPrefix(tt.param, "budget."), "budget_")) {
			t.Errorf("%s %s %s: message %q does not name %s", tt.method, tt.path, body, e.Error.Message, tt.param)
		}
		if e.Error.Type != "invalid_request_error" {
			t.Errorf("%s %s: type %s", tt.method, tt.path, e.Error.Type)
		}
	}
}

// TestNoEchoOfKeys checks that a key pasted where an id, a name or a field
// belongs does not come back in the error.
func TestNoEchoOfKeys(t *testing.T) {
	r := newRig(t)
	k := r.secret("ops-user")
	for _, q := range []req{
		{method: "GET", path: "/admin/v1/keys/" + k},
		{method: "GET", path: "/admin/v1/teams/" + k},
		{method: "GET", path: "/admin/v1/users/" + k},
		{method: "POST", path: "/admin/v1/keys", body: `{"name":"a","` + k + `":1}`},
		{method: "POST", path: "/admin/v1/keys", body: `{"name":"a","ips":["` + k + `"]}`},
		{method: "POST", path: "/admin/v1/teams", body: `{"name":"` + k + `"}`},
		{method: "GET", path: "/admin/v1/usage?" + k + "=1"},
		{method: "GET", path: "/admin/v1/usage?since=" + k},
		{method: "GET", path: "/admin/v1/" + k},
	} {
		q.as = "admin"
		rec := r.do(q)
		if rec.Code < 400 || strings.Contains(rec.Body.String(), k[4:20]) {
			t.Errorf("%s %s: %d %s", q.method, q.path[:20], rec.Code, rec.Body.String())
		}
	}
}

func TestRoutingEdges(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/admin/v1/keys", http.StatusMethodNotAllowed, "GET, POST"},
		{"PUT", "/admin/v1/teams/ml", http.StatusMethodNotAllowed, "GET, PATCH, DELETE"},
		{"GET", "/admin/v1/keys/" + r.id("user") + "/revoke", http.StatusMethodNotAllowed, "POST"},
		{"GET", "/admin/v1/nothing", http.StatusNotFound, ""},
		{"GET", "/admin/", http.StatusNotFound, ""},
		{"GET", "/admin/v2/keys", http.StatusNotFound, ""},
		{"GET", "/admin/v1/keys/", http.StatusNotFound, ""},
		{"GET", "/admin/v1//keys", http.StatusNotFound, ""},
		{"GET", "/admin/v1/keys/../teams", http.StatusNotFound, ""},
		{"GET", "/admin/v1/./keys", http.StatusNotFound, ""},
		{"GET", "/admin/v1/teams/ml%2Fx", http.StatusNotFound, ""},
		{"GET", "/admin/v1/teams/m%6c", http.StatusOK, ""},
	}
	for _, tt := range tests {
		hr := httptest.NewRequest(tt.method, tt.path, nil)
		hr.Header.Set("Authorization", "Bearer "+r.secret("admin"))
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, hr)
		if rec.Code != tt.status || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q: %s", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), tt.status, tt.allow, rec.Body.String())
		}
		if tt.status >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: content type %q", tt.method, tt.path, rec.Header().Get("Content-Type"))
		}
	}
}

func TestAuthentication(t *testing.T) {
	r := newRig(t)
	for _, tt := range []struct {
		name   string
		header string
	}{
		{"none", ""},
		{"not bearer", "Basic " + r.secret("admin")},
		{"unknown key", "Bearer wdn_" + strings.Repeat("A", 40)},
		{"provider key", "Bearer sk-proj-canary1234567890"},
	} {
		hr := httptest.NewRequest("GET", "/admin/v1/keys", nil)
		if tt.header != "" {
			hr.Header.Set("Authorization", tt.header)
		}
		rec := httptest.NewRecorder()
		r.h.ServeHTTP(rec, hr)
		e := errorOf(t, rec)
		if rec.Code != http.StatusUnauthorized || e.Error.Type != "authentication_error" || rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s", tt.name, rec.Code, rec.Body.String())
		}
		if strings.Contains(rec.Body.String(), "canary") || strings.Contains(rec.Body.String(), "AAAA") {
			t.Errorf("%s: the credential is echoed: %s", tt.name, rec.Body.String())
		}
	}
	// An expired key is refused.
	r.addKey(keys.Spec{Name: "short", Role: keys.RoleAdmin, TTL: time.Minute})
	if rec := r.do(req{method: "GET", path: "/admin/v1/me", as: "short"}); rec.Code != http.StatusOK {
		t.Fatalf("fresh key: %d", rec.Code)
	}
	r.clock.Add(time.Minute)
	if rec := r.do(req{method: "GET", path: "/admin/v1/me", as: "short"}); rec.Code != http.StatusUnauthorized {
		t.Errorf("expired key: %d", rec.Code)
	}
}

// TestKeyRestrictions checks that a key's IP allowlist and routes apply to
// the admin API, the client address read as on the data plane.
func TestKeyRestrictions(t *testing.T) {
	r := newRigWith(t, rigOptions{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	r.addKey(keys.Spec{Name: "fenced", Role: keys.RoleAdmin, IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	r.addKey(keys.Spec{Name: "dataplane-only", Role: keys.RoleAdmin, Routes: []string{"/v1/*"}})
	r.addKey(keys.Spec{Name: "admin-routes", Role: keys.RoleAdmin, Routes: []string{"/admin/v1/keys"}})
	xff := func(v string) http.Header { return http.Header{"X-Forwarded-For": {v}} }
	tests := []struct {
		name, as, path, remote string
		header                 http.Header
		status                 int
	}{
		{"inside", "fenced", "/admin/v1/keys", "10.1.2.3:1", nil, 200},
		{"outside", "fenced", "/admin/v1/keys", "192.0.2.1:1", nil, 403},
		{"mapped inside", "fenced", "/admin/v1/keys", "[::ffff:10.1.2.3]:1", nil, 200},
		{"trusted proxy for inside", "fenced", "/admin/v1/keys", "127.0.0.1:1", xff("10.9.9.9"), 200},
		{"trusted proxy for outside", "fenced", "/admin/v1/keys", "127.0.0.1:1", xff("10.9.9.9, 192.0.2.1"), 403},
		{"untrusted peer claims inside", "fenced", "/admin/v1/keys", "192.0.2.1:1", xff("10.9.9.9"), 403},
		{"data plane key", "dataplane-only", "/admin/v1/keys", "192.0.2.1:1", nil, 403},
		{"route allowed", "admin-routes", "/admin/v1/keys", "192.0.2.1:1", nil, 200},
		{"route not allowed", "admin-routes", "/admin/v1/teams", "192.0.2.1:1", nil, 403},
	}
	for _, tt := range tests {
		rec := r.do(req{method: "GET", path: tt.path, as: tt.as, remote: tt.remote, header: tt.header})
		if rec.Code != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.name, rec.Code, tt.status, rec.Body.String())
		}
	}
}

// TestThrottle checks that failed authentication from one address is
// throttled and blocked, through the same throttle the data plane uses.
func TestThrottle(t *testing.T) {
	c := newClock()
	th, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{SlowAfter: 2, BlockAfter: 3, MaxDelay: time.Nanosecond, BlockFor: time.Minute, Now: c.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := newRigWith(t, rigOptions{throttle: th})
	bad := req{method: "GET", path: "/admin/v1/me", bearer: "wdn_" + strings.Repeat("B", 40), remote: "192.0.2.9:1"}
	for i := range 3 {
		if rec := r.do(bad); rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, rec.Code)
		}
	}
	good := req{method: "GET", path: "/admin/v1/me", as: "admin", remote: "192.0.2.9:1"}
	rec := r.do(good)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("blocked address: %d %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Another address is not blocked.
	good.remote = "192.0.2.10:1"
	if rec := r.do(good); rec.Code != http.StatusOK {
		t.Fatalf("other address: %d", rec.Code)
	}
	c.Add(time.Minute + time.Second)
	good.remote = "192.0.2.9:1"
	if rec := r.do(good); rec.Code != http.StatusOK {
		t.Fatalf("after the block: %d", rec.Code)
	}
}

func TestMe(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "GET", path: "/admin/v1/me", as: "manager"})
	var me meJSON
	decode(t, rec, &me)
	if me.Role != "manager" || deref(me.User) != "mia" || deref(me.Team) != "ml" || deref(me.KeyID) != r.id("manager") ||
		deref(me.KeyName) != "manager" || me.Subject != nil {
		t.Fatalf("me: %s", rec.Body.String())
	}
	want := map[string]string{"listKeys": "team", "createTeam": "none", "listProviders": "all", "getUsage": "team", "resumeKey": "team"}
	for op, level := range want {
		if me.Access[op] != level {
			t.Errorf("access to %s: %q, want %q", op, me.Access[op], level)
		}
	}
	if _, ok := me.Access["getOpenAPI"]; ok {
		t.Error("access lists the public route")
	}
}

func TestProviders(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "GET", path: "/admin/v1/providers", as: "auditor"})
	var got list[providerJSON]
	decode(t, rec, &got)
	if len(got.Data) != 2 || got.Data[0].Name != "openai" || got.Data[0].Keys != 2 || got.Data[0].Host != "api.openai.com" ||
		deref(got.Data[0].Deployments[0].Breaker) != "closed" || got.Data[1].Deployments[0].Breaker != nil || got.Data[1].Models == nil {
		t.Fatalf("providers: %s", rec.Body.String())
	}
	// The list is read on every call, so breaker states are current.
	r.providers[0].Deployments[0].Breaker = "open"
	rec = r.do(req{method: "GET", path: "/admin/v1/providers", as: "auditor"})
	decode(t, rec, &got)
	if deref(got.Data[0].Deployments[0].Breaker) != "open" {
		t.Fatalf("breaker not current: %s", rec.Body.String())
	}
}

func TestUsage(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		as, query string
		rows      map[string]int64 // group → input tokens
	}{
		{"admin", "by=model", map[string]int64{"gpt-4o": 30, "claude": 8}},
		{"admin", "by=model&since=", map[string]int64{"gpt-4o": 1030, "claude": 8}},
		{"admin", "by=team", map[string]int64{"": 1, "ml": 30, "ops": 7}},
		{"admin", "by=key&key=" + r.id("user"), map[string]int64{r.id("user"): 10}},
		{"admin", "by=day&since=2026-03-10T00:00:00Z&until=2026-03-11T00:00:00Z", map[string]int64{"2026-03-10": 38}},
		{"admin", "by=model&since=30m", map[string]int64{}},
		{"manager", "by=model", map[string]int64{"gpt-4o": 30}},
		{"user", "by=key", map[string]int64{r.id("user"): 10}},
		{"user", "by=model&since=100d", map[string]int64{"gpt-4o": 1010}},
	}
	for _, tt := range tests {
		rec := r.do(req{method: "GET", path: "/admin/v1/usage?" + tt.query, as: tt.as})
		if rec.Code != 200 {
			t.Fatalf("%s %s: %d %s", tt.as, tt.query, rec.Code, rec.Body.String())
		}
		var u usageJSON
		decode(t, rec, &u)
		got := map[string]int64{}
		for _, row := range u.Rows {
			got[row.Group] = row.InputTokens
		}
		if len(got) != len(tt.rows) {
			t.Errorf("%s %s: %s", tt.as, tt.query, rec.Body.String())
			continue
		}
		for g, n := range tt.rows {
			if got[g] != n {
				t.Errorf("%s %s: group %q has %d input tokens, want %d", tt.as, tt.query, g, got[g], n)
			}
		}
	}
	rec := r.do(req{method: "GET", path: "/admin/v1/usage?by=team", as: "admin"})
	var u usageJSON
	decode(t, rec, &u)
	if u.By != meter.ByTeam || u.Since == nil || !u.Since.Equal(t0.AddDate(0, 0, -30)) || u.Until != nil {
		t.Errorf("usage bounds: %s", rec.Body.String())
	}
	for _, row := range u.Rows {
		if row.Group == "ops" && row.CostUSD != "1.00" {
			t.Errorf("ops cost %s, want 1.00", row.CostUSD)
		}
	}
}

// TestManagerWithoutTeam checks that team-level access without a team
// reaches nothing and may create nothing.
func TestManagerWithoutTeam(t *testing.T) {
	r := newRig(t)
	r.addKey(keys.Spec{Name: "loose", Role: keys.RoleManager})
	for _, tt := range []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/admin/v1/keys", "", 200},
		{"POST", "/admin/v1/keys", `{"name":"x"}`, 403},
		{"POST", "/admin/v1/users", `{"name":"x"}`, 403},
		{"GET", "/admin/v1/usage", "", 403},
		{"GET", "/admin/v1/keys/" + r.id("ml-svc"), "", 404},
	} {
		rec := r.do(req{method: tt.method, path: tt.path, body: tt.body, as: "loose"})
		if rec.Code != tt.status {
			t.Errorf("%s %s: %d %s", tt.method, tt.path, rec.Code, rec.Body.String())
		}
		if tt.method == "GET" && rec.Code == 200 {
			var l list[keyview.Key]
			decode(t, rec, &l)
			if len(l.Data) != 0 {
				t.Errorf("a manager without a team sees %d keys", len(l.Data))
			}
		}
	}
}

// TestUserKeyWithoutUser checks what a user-role key acting for nobody
// owns: itself alone.
func TestUserKeyWithoutUser(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "GET", path: "/admin/v1/keys", as: "ml-svc"})
	var l list[keyview.Key]
	decode(t, rec, &l)
	if len(l.Data) != 1 || l.Data[0].ID != r.id("ml-svc") {
		t.Fatalf("ml-svc sees %s", rec.Body.String())
	}
	if rec := r.do(req{method: "POST", path: "/admin/v1/keys", body: `{"name":"x"}`, as: "ml-svc"}); rec.Code != 403 {
		t.Errorf("create: %d", rec.Code)
	}
	rec = r.do(req{method: "GET", path: "/admin/v1/usage?by=key", as: "ml-svc"})
	var u usageJSON
	decode(t, rec, &u)
	if rec.Code != 200 || len(u.Rows) != 0 {
		t.Errorf("usage: %s", rec.Body.String())
	}
}

// TestChangesAreLogged checks that changes and refusals are logged with
// the caller's key id, and never with a key.
func TestChangesAreLogged(t *testing.T) {
	var logs bytes.Buffer
	r := newRig(t)
	h, err := New(Options{Auth: auth.VirtualKeys{Keys: r.km}, AuthThrottle: mustThrottle(t), Keys: r.km, Teams: r.km, Users: r.km,
		Usage: r.usage, Audit: r.audit, Alerts: r.alerts, Providers: func() []ProviderInfo { return nil }, Now: r.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	rec := r.do(req{method: "POST", path: "/admin/v1/keys", as: "admin", body: `{"name":"logged"}`})
	var created struct {
		Key string `json:"key"`
		ID  string `json:"id"`
	}
	decode(t, rec, &created)
	r.do(req{method: "DELETE", path: "/admin/v1/teams/ml", as: "manager"})
	out := logs.String()
	for _, want := range []string{`"msg":"admin action"`, `"op":"createKey"`, `"target":"` + created.ID, `"key_id":"` + r.id("admin"),
		`"msg":"admin request refused"`, `"decision":"deny"`, `"key_id":"` + r.id("manager")} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	for _, k := range []string{created.Key, r.secret("admin"), r.secret("manager")} {
		if strings.Contains(out, k[4:20]) {
			t.Errorf("the log holds a key:\n%s", out)
		}
	}
}

func mustThrottle(t *testing.T) *limit.AuthThrottle {
	t.Helper()
	th, err := limit.NewAuthThrottle(limit.AuthThrottleConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return th
}

// TestLeakCheckerFindsLeaks makes sure the rig's secret check can fail.
func TestLeakCheckerFindsLeaks(t *testing.T) {
	r := newRig(t)
	k := r.secret("admin")
	r.seen = append(r.seen, seen{what: "planted", body: []byte(`{"x":"` + k + `"}`)})
	if got := r.leaks(); len(got) == 0 {
		t.Fatal("a planted key was not found")
	}
	r.seen = r.seen[:len(r.seen)-1]
}

// oidcIssuer is an OpenID Provider on a loopback server: discovery, a
// JWKS with one ES256 key, and tokens signed by it.
type oidcIssuer struct {
	srv    *httptest.Server
	signer jose.Signer
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	iss.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func (iss *oidcIssuer) token(t *testing.T, now time.Time, sub string, claims map[string]any) string {
	t.Helper()
	tok, err := jwt.Signed(iss.signer).Claims(jwt.Claims{Issuer: iss.srv.URL, Subject: sub, Audience: jwt.Audience{"warden"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestOIDCPrincipals calls the API with OIDC tokens through the same
// chain as the data plane: people get their role's reach from their
// claims, keyed by user and team rather than by key.
func TestOIDCPrincipals(t *testing.T) {
	iss := newOIDCIssuer(t)
	var oidc *auth.OIDC
	var clk *clock
	r := newRigWith(t, rigOptions{auth: func(km *keys.Manager) auth.Authenticator {
		var err error
		oidc, err = auth.NewOIDC(auth.OIDCOptions{Issuer: iss.srv.URL, Audience: []string{"warden"}, UserClaim: "email",
			Now: func() time.Time { return clk.Now() }})
		if err != nil {
			t.Fatal(err)
		}
		return auth.Chain(auth.VirtualKeys{Keys: km}, oidc)
	}})
	clk = r.clock
	manager := iss.token(t, r.clock.Now(), "sub-mia", map[string]any{"email": "mia", "team": "ml", "roles": []string{"manager"}})
	rec := r.do(req{method: "GET", path: "/admin/v1/me", bearer: manager})
	var me meJSON
	decode(t, rec, &me)
	if rec.Code != 200 || me.Role != "manager" || deref(me.Subject) != "sub-mia" || me.KeyID != nil || deref(me.Team) != "ml" {
		t.Fatalf("me with a token: %d %s", rec.Code, rec.Body.String())
	}
	rec = r.do(req{method: "GET", path: "/admin/v1/keys", bearer: manager})
	if got := r.visible(t, "GET /admin/v1/keys", rec.Body.Bytes()); !sameSet(got, []string{"manager", "user", "uma-admin", "ml-svc"}) {
		t.Errorf("manager token sees %v", got)
	}
	user := iss.token(t, r.clock.Now(), "sub-uma", map[string]any{"email": "uma", "team": "ml"})
	rec = r.do(req{method: "GET", path: "/admin/v1/keys", bearer: user})
	if got := r.visible(t, "GET /admin/v1/keys", rec.Body.Bytes()); !sameSet(got, []string{"user", "uma-admin"}) {
		t.Errorf("user token sees %v", got)
	}
	rec = r.do(req{method: "POST", path: "/admin/v1/keys", bearer: user, body: `{"name":"laptop"}`})
	var k keyview.Key
	decode(t, rec, &k)
	if rec.Code != 201 || deref(k.User) != "uma" || deref(k.Team) != "ml" || k.Role != "user" {
		t.Errorf("key made with a user token: %d %s", rec.Code, rec.Body.String())
	}
	if rec := r.do(req{method: "GET", path: "/admin/v1/teams", bearer: user}); rec.Code != 403 {
		t.Errorf("user token lists teams: %d", rec.Code)
	}
	forged := manager[:len(manager)-4] + "AAAA"
	if rec := r.do(req{method: "GET", path: "/admin/v1/me", bearer: forged}); rec.Code != 401 {
		t.Errorf("forged token: %d", rec.Code)
	}
}
