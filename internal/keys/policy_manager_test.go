package keys_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keystest"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

func ptr[T any](v T) *T { return &v }

func TestCreateWithPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.m.CreateTeam(ctx, keys.Team{Name: "ml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.CreateUser(ctx, keys.User{Name: "ada@example.com", Team: "ml"}); err != nil {
		t.Fatal(err)
	}
	spec := keys.Spec{
		Name: "svc", Models: []string{"gpt-4o"}, Routes: []string{"/v1/*"},
		IPs:    []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104"), netip.MustParsePrefix("2001:db8::/32")},
		Limits: keys.Limits{RPS: 1, RPM: 60, TPM: 10000, MaxParallel: 4},
		Budget: meter.Budget{Limit: 5 * meter.USD, Period: meter.Month},
		User:   "ada@example.com", Role: keys.RoleAdmin, Tags: []string{"ci"},
	}
	k, key := f.create(spec)
	want := keys.Key{
		Models: []string{"gpt-4o"}, Routes: []string{"/v1/*"},
		IPs:    []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		Limits: spec.Limits, Budget: spec.Budget, Team: "ml", User: "ada@example.com", Role: keys.RoleAdmin, Tags: []string{"ci"},
	}
	for _, got := range []keys.Key{k, f.mustAuth(f.m, key, k.ID)} {
		if !slices.Equal(got.Routes, want.Routes) || !slices.Equal(got.IPs, want.IPs) || got.Limits != want.Limits ||
			got.Budget != want.Budget || got.Team != want.Team || got.User != want.User || got.Role != want.Role ||
			!slices.Equal(got.Tags, want.Tags) {
			t.Fatalf("key = %+v,\nwant the policy of %+v (team from the user, IPv4-mapped prefix unmapped)", got, want)
		}
	}
	// The caller's slices are not the key's.
	spec.Routes[0] = "/changed"
	if got, _ := f.m.Get(ctx, k.ID); got.Routes[0] != "/v1/*" {
		t.Fatal("the stored key shares the spec's slice")
	}
	plain, _ := f.create(keys.Spec{Name: "plain"})
	if plain.Role != keys.RoleUser || plain.Routes != nil || plain.Team != "" {
		t.Fatalf("a key without policy = %+v", plain)
	}
}

func TestCreateRefusesBadPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.m.CreateTeam(ctx, keys.Team{Name: "ml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.CreateUser(ctx, keys.User{Name: "ops-bot", Team: "ml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.CreateTeam(ctx, keys.Team{Name: "other"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		spec  keys.Spec
		field string
		msg   string
		is    error
	}{
		{"relative route", keys.Spec{Routes: []string{"v1/*"}}, "routes", "start with '/'", nil},
		{"route with a trailing slash", keys.Spec{Routes: []string{"/v1/"}}, "routes", "/v1/*", nil},
		{"route with dots", keys.Spec{Routes: []string{"/v1/../admin"}}, "routes", "not a clean path", nil},
		{"bad route glob", keys.Spec{Routes: []string{"/v1/[a"}}, "routes", "path.Match", nil},
		{"invalid prefix", keys.Spec{IPs: []netip.Prefix{{}}}, "ips", "invalid", nil},
		{"prefix with host bits", keys.Spec{IPs: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")}}, "ips", "10.0.0.0/8", nil},
		{"negative rpm", keys.Spec{Limits: keys.Limits{RPM: -1}}, "rpm", "negative", nil},
		{"negative parallel", keys.Spec{Limits: keys.Limits{MaxParallel: -3}}, "max_parallel", "negative", nil},
		{"budget without period", keys.Spec{Budget: meter.Budget{Limit: meter.USD}}, "budget", "no period", nil},
		{"period without budget", keys.Spec{Budget: meter.Budget{Period: meter.Day}}, "budget", "without an amount", nil},
		{"unknown period", keys.Spec{Budget: meter.Budget{Limit: 1, Period: "week"}}, "budget_period", "week", nil},
		{"negative budget", keys.Spec{Budget: meter.Budget{Limit: -1, Period: meter.Day}}, "budget", "negative", nil},
		{"unknown role", keys.Spec{Role: "root"}, "role", "admin, manager, user, auditor", nil},
		{"unknown team", keys.Spec{Team: "nope"}, "team", "no team named nope; create it with warden teams create nope", keys.ErrNotFound},
		{"unknown user", keys.Spec{User: "nope"}, "user", "no user named nope; create it with warden users create nope", keys.ErrNotFound},
		{"bad team name", keys.Spec{Team: "a b"}, "team", "letters, digits", nil},
		{"tag with a space", keys.Spec{Tags: []string{"a b"}}, "tags", "space", nil},
		{"duplicate tag", keys.Spec{Tags: []string{"a", "a"}}, "tags", "twice", nil},
		{"negative ttl", keys.Spec{TTL: -time.Hour}, "ttl", "negative", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Name = "x"
			_, _, err := f.m.Create(ctx, tc.spec)
			var fe *keys.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Create = %v; want a FieldError on %s mentioning %q", err, tc.field, tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Create = %v; want it to match %v", err, tc.is)
			}
		})
	}
	if ks, _ := f.m.List(ctx); len(ks) != 0 {
		t.Fatalf("refused creates stored %d keys", len(ks))
	}
	// A user's key may name the user's team, or none (it joins it), but
	// naming another team is allowed too: the key then obeys both teams'
	// policies through its user and its own team.
	k, _ := f.create(keys.Spec{Name: "bot", User: "ops-bot"})
	if k.Team != "ml" {
		t.Fatalf("a key for a user in team ml has team %q", k.Team)
	}
	k, _ = f.create(keys.Spec{Name: "bot2", User: "ops-bot", Team: "other"})
	if k.Team != "other" {
		t.Fatalf("a key given team other has team %q", k.Team)
	}
}

func TestUpdateKey(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, name := range []string{"ml", "ops"} {
		if _, err := f.m.CreateTeam(ctx, keys.Team{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	k, key := f.create(keys.Spec{Name: "svc", Models: []string{"gpt-4o"}, Limits: keys.Limits{RPM: 10, TPM: 99}, Tags: []string{"a"}})
	f.poll(f.m)
	f.mustAuth(f.m, key, k.ID)
	server := f.manager()
	f.poll(server)
	f.mustAuth(server, key, k.ID)

	// Within the cache's freshness, so that the other manager would
	// answer from its cache without a poll.
	f.clock.Add(time.Millisecond)
	exp := f.clock.Now().Add(48 * time.Hour)
	got, err := f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{
		Name: ptr("svc-2"), Routes: []string{"/v1/*"}, IPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Limits: keys.LimitsUpdate{RPM: ptr(int64(0)), MaxParallel: ptr(int64(2))}, Budget: &meter.Budget{Limit: meter.USD, Period: meter.Day},
		Team: ptr("ml"), Role: ptr(keys.RoleManager), ExpiresAt: &exp,
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got keys.Key) {
		t.Helper()
		if got.Name != "svc-2" || !slices.Equal(got.Models, []string{"gpt-4o"}) || !slices.Equal(got.Routes, []string{"/v1/*"}) ||
			len(got.IPs) != 1 || got.Limits != (keys.Limits{TPM: 99, MaxParallel: 2}) || got.Budget.Limit != meter.USD ||
			got.Team != "ml" || got.Role != keys.RoleManager || !slices.Equal(got.Tags, []string{"a"}) || !got.ExpiresAt.Equal(exp) ||
			!got.UpdatedAt.Equal(f.clock.Now()) || got.Hint != k.Hint || got.State != keys.Active {
			t.Fatalf("%s = %+v", what, got)
		}
	}
	check("UpdateKey", got)
	check("Get", must(f.m.Get(ctx, k.ID)))
	// This manager sees it at once; another one after its next poll.
	check("Authenticate here", f.mustAuth(f.m, key, k.ID))
	if stale := f.mustAuth(server, key, k.ID); stale.Name != "svc" {
		t.Fatalf("the other manager changed before a poll: %+v", stale)
	}
	f.poll(server)
	check("Authenticate after a poll", f.mustAuth(server, key, k.ID))

	// Empty slices and "" clear; zero budget removes; TTL is from now.
	f.clock.Add(time.Minute)
	got, err = f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{
		Models: []string{}, Routes: []string{}, IPs: []netip.Prefix{}, Tags: []string{}, Team: ptr(""), Role: ptr(""),
		Budget: &meter.Budget{}, TTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Models != nil || got.Routes != nil || got.IPs != nil || got.Tags != nil || got.Team != "" || got.Role != keys.RoleUser ||
		!got.Budget.IsZero() || !got.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) {
		t.Fatalf("after clearing: %+v", got)
	}
	got, err = f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{ExpiresAt: &time.Time{}})
	if err != nil || !got.ExpiresAt.IsZero() {
		t.Fatalf("clearing the expiry: %+v, %v", got.ExpiresAt, err)
	}

	// An update that changes nothing writes nothing.
	v, _ := f.store.KeysVersion(ctx)
	same, err := f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{Name: ptr("svc-2"), Limits: keys.LimitsUpdate{TPM: ptr(int64(99))}})
	if err != nil || !same.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("a no-op update: %+v, %v", same, err)
	}
	if nv, _ := f.store.KeysVersion(ctx); nv != v {
		t.Fatal("a no-op update changed KeysVersion")
	}

	// Refusals name the field and leave the key alone.
	for _, tc := range []struct {
		name  string
		u     keys.KeyUpdate
		field string
	}{
		{"unknown team", keys.KeyUpdate{Team: ptr("nope")}, "team"},
		{"negative tpm", keys.KeyUpdate{Limits: keys.LimitsUpdate{TPM: ptr(int64(-1))}}, "tpm"},
		{"bad role", keys.KeyUpdate{Role: ptr("owner")}, "role"},
		{"past expiry", keys.KeyUpdate{ExpiresAt: ptr(f.clock.Now().Add(-time.Second))}, "expires_at"},
		{"ttl and expiry", keys.KeyUpdate{TTL: time.Hour, ExpiresAt: ptr(f.clock.Now().Add(time.Hour))}, "expires_at"},
		{"empty name", keys.KeyUpdate{Name: ptr("")}, "name"},
	} {
		_, err := f.m.UpdateKey(ctx, k.ID, tc.u)
		var fe *keys.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: UpdateKey = %v, want a FieldError on %s", tc.name, err, tc.field)
		}
	}
	if after := must(f.m.Get(ctx, k.ID)); !after.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatal("a refused update changed the key")
	}

	// Expired and revoked keys cannot be changed.
	exp2, _ := f.create(keys.Spec{Name: "short", TTL: time.Minute})
	f.clock.Add(time.Minute)
	if _, err := f.m.UpdateKey(ctx, exp2.ID, keys.KeyUpdate{TTL: time.Hour}); !errors.Is(err, keys.ErrExpired) {
		t.Fatalf("UpdateKey of an expired key = %v, want ErrExpired", err)
	}
	if err := f.m.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{Name: ptr("back")})
	if !errors.Is(err, keys.ErrRevoked) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("UpdateKey of a revoked key = %v, want ErrRevoked and store.ErrConflict", err)
	}
	if _, err := f.m.UpdateKey(ctx, "key_0000000000000000", keys.KeyUpdate{Name: ptr("x")}); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("UpdateKey(unknown) = %v", err)
	}
	if _, err := f.m.UpdateKey(ctx, key, keys.KeyUpdate{Name: ptr("x")}); err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("UpdateKey(a key instead of an id) = %v; want an error that does not echo it", err)
	}
	f.noLeak(key)
}

// racyStore changes a key between the manager's read and its write once,
// as another process would.
type racyStore struct {
	*keystest.Memory
	before func()
	raced  bool
}

func (r *racyStore) UpdateKey(ctx context.Context, k keys.Key, ifUpdatedAt time.Time) error {
	r.before()
	return r.Memory.UpdateKey(ctx, k, ifUpdatedAt)
}

func TestUpdateKeyRetriesAfterARace(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	k, _ := f.create(keys.Spec{Name: "a", Limits: keys.Limits{RPM: 1}})
	other := f.manager()
	rs := &racyStore{Memory: f.store}
	rs.before = func() {
		if rs.raced {
			return
		}
		rs.raced = true
		if _, err := other.UpdateKey(ctx, k.ID, keys.KeyUpdate{Tags: []string{"theirs"}}); err != nil {
			t.Error(err)
		}
	}
	m := f.manager(func(o *keys.Options) { o.Store = rs })
	got, err := m.UpdateKey(ctx, k.ID, keys.KeyUpdate{Limits: keys.LimitsUpdate{RPM: ptr(int64(5))}})
	if err != nil {
		t.Fatal(err)
	}
	if !rs.raced || got.Limits.RPM != 5 || !slices.Equal(got.Tags, []string{"theirs"}) {
		t.Fatalf("after a race UpdateKey = %+v; want both changes", got)
	}
	if stored := must(f.m.Get(ctx, k.ID)); stored.Limits.RPM != 5 || !slices.Equal(stored.Tags, []string{"theirs"}) {
		t.Fatalf("stored after a race: %+v", stored)
	}
}

func TestTeamsAndUsers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	v0, _ := f.store.KeysVersion(ctx)
	ml, err := f.m.CreateTeam(ctx, keys.Team{Name: "ml", Models: []string{"gpt-4o*"}, Limits: keys.Limits{RPM: 600},
		Budget: meter.Budget{Limit: 100 * meter.USD, Period: meter.Month}})
	if err != nil {
		t.Fatal(err)
	}
	if !ml.CreatedAt.Equal(f.clock.Now()) || !ml.AllowsModel("gpt-4o-mini") || ml.AllowsModel("claude-3") {
		t.Fatalf("CreateTeam = %+v", ml)
	}
	if v, _ := f.store.KeysVersion(ctx); v == v0 {
		t.Fatal("CreateTeam did not change KeysVersion")
	}
	if _, err := f.m.CreateTeam(ctx, keys.Team{Name: "ml"}); !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "teams update ml") {
		t.Fatalf("CreateTeam of a taken name = %v", err)
	}
	for _, bad := range []keys.Team{
		{Name: ""}, {Name: "a b"}, {Name: "x", Models: []string{"[a"}}, {Name: "x", Limits: keys.Limits{TPM: -1}},
		{Name: "x", Budget: meter.Budget{Limit: 1}},
	} {
		if _, err := f.m.CreateTeam(ctx, bad); err == nil {
			t.Errorf("CreateTeam(%+v) succeeded", bad)
		}
	}

	f.clock.Add(time.Second)
	up, err := f.m.UpdateTeam(ctx, "ml", keys.TeamUpdate{Limits: keys.LimitsUpdate{TPM: ptr(int64(5000))}, Models: []string{}})
	if err != nil || up.Limits != (keys.Limits{RPM: 600, TPM: 5000}) || up.Models != nil || up.Budget.Limit != 100*meter.USD ||
		!up.UpdatedAt.Equal(f.clock.Now()) || !up.CreatedAt.Equal(ml.CreatedAt) {
		t.Fatalf("UpdateTeam = %+v, %v", up, err)
	}
	if _, err := f.m.UpdateTeam(ctx, "nope", keys.TeamUpdate{}); !errors.Is(err, keys.ErrNotFound) || !strings.Contains(err.Error(), "warden teams list") {
		t.Fatalf("UpdateTeam(unknown) = %v", err)
	}

	ada, err := f.m.CreateUser(ctx, keys.User{Name: "ada@example.com", Team: "ml", Limits: keys.Limits{MaxParallel: 2}})
	if err != nil || ada.Role != keys.RoleUser {
		t.Fatalf("CreateUser = %+v, %v", ada, err)
	}
	if _, err := f.m.CreateUser(ctx, keys.User{Name: "bob", Team: "nope"}); !errors.Is(err, keys.ErrNotFound) ||
		!strings.Contains(err.Error(), "warden teams create nope") {
		t.Fatalf("CreateUser in an unknown team = %v", err)
	}
	if _, err := f.m.CreateUser(ctx, keys.User{Name: "bob", Role: "boss"}); err == nil {
		t.Fatal("CreateUser with an unknown role succeeded")
	}
	up2, err := f.m.UpdateUser(ctx, ada.Name, keys.UserUpdate{Role: ptr(keys.RoleAuditor), Budget: &meter.Budget{Limit: meter.USD, Period: meter.Total}})
	if err != nil || up2.Role != keys.RoleAuditor || up2.Team != "ml" || up2.Limits.MaxParallel != 2 || up2.Budget.Period != meter.Total {
		t.Fatalf("UpdateUser = %+v, %v", up2, err)
	}

	// Deleting what keys and users still use is refused, with advice.
	k, _ := f.create(keys.Spec{Name: "ada's", User: ada.Name})
	err = f.m.DeleteTeam(ctx, "ml")
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "1 key(s) and 1 user(s)") || !strings.Contains(err.Error(), "--team") {
		t.Fatalf("DeleteTeam in use = %v", err)
	}
	if err := f.m.DeleteUser(ctx, ada.Name); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("DeleteUser in use = %v", err)
	}
	if _, err := f.m.UpdateKey(ctx, k.ID, keys.KeyUpdate{User: ptr(""), Team: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteUser(ctx, ada.Name); err != nil {
		t.Fatal(err)
	}
	if err := f.m.DeleteTeam(ctx, "ml"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.GetTeam(ctx, "ml"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("GetTeam after delete = %v", err)
	}
	if ts, err := f.m.ListTeams(ctx); err != nil || len(ts) != 0 {
		t.Fatalf("ListTeams = %v, %v", ts, err)
	}
	if us, err := f.m.ListUsers(ctx); err != nil || len(us) != 0 {
		t.Fatalf("ListUsers = %v, %v", us, err)
	}
	if err := f.m.DeleteTeam(ctx, "ml"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("DeleteTeam twice = %v", err)
	}
	// A key pasted where a name belongs is not repeated.
	_, key := f.create(keys.Spec{Name: "k"})
	for _, err := range []error{
		func() error { _, err := f.m.GetTeam(ctx, key); return err }(),
		func() error { _, err := f.m.GetUser(ctx, key); return err }(),
		f.m.DeleteTeam(ctx, key),
		func() error { _, _, err := f.m.Create(ctx, keys.Spec{Name: "x", Team: key}); return err }(),
	} {
		if err == nil || strings.Contains(err.Error(), key) {
			t.Errorf("an error echoes a key given as a name: %v", err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
