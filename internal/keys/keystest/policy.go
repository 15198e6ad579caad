package keystest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

// newTeam returns a team record as keys.Manager would create it.
func newTeam(name string, i int) keys.Team {
	return keys.Team{Name: name, CreatedAt: at(i), UpdatedAt: at(i)}
}

// newUser returns a user record as keys.Manager would create it.
func newUser(name, team string, i int) keys.User {
	return keys.User{Name: name, Team: team, Role: keys.RoleUser, CreatedAt: at(i), UpdatedAt: at(i)}
}

func createTeam(t *testing.T, s keys.Store, tm keys.Team) {
	t.Helper()
	if err := s.CreateTeam(t.Context(), tm); err != nil {
		t.Fatalf("CreateTeam(%s): %v", tm.Name, err)
	}
}

func createUser(t *testing.T, s keys.Store, u keys.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%s): %v", u.Name, err)
	}
}

func getKey(t *testing.T, s keys.Store, id string) keys.Key {
	t.Helper()
	k, err := s.KeyByID(t.Context(), id)
	if err != nil {
		t.Fatalf("KeyByID(%s): %v", id, err)
	}
	return k
}

// fullPolicy sets every policy field of k to something unusual: IPv4 and
// IPv6 prefixes, non-ASCII patterns, the largest budget, every limit.
func fullPolicy(k keys.Key, team, user string) keys.Key {
	k.Models = []string{"gpt-4o", "meta-llama/*"}
	k.Routes = []string{"/v1/chat/completions", "/proxy/iris/*", "/v1/模型/[a-z]?"}
	k.IPs = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::1/128"),
	}
	k.Limits = keys.Limits{RPS: 5, RPM: 60, TPM: 1 << 40, MaxParallel: 4}
	k.Budget = meter.Budget{Limit: meter.MaxAmount, Period: meter.Month}
	k.Team, k.User, k.Role = team, user, keys.RoleAdmin
	k.Tags = []string{"throwaway", "env=prod", "ünïcode"}
	return k
}

func testPolicy(t *testing.T, s keys.Store) {
	ctx := t.Context()
	createTeam(t, s, newTeam("ml", 0))
	createUser(t, s, newUser("ada@example.com", "ml", 0))

	k := fullPolicy(newKey(id(1), 1), "ml", "ada@example.com")
	h := hashOf("one")
	create(t, s, k, h)
	sameKey(t, "KeyByID", getKey(t, s, k.ID), k)
	got, _, err := s.KeyByHash(ctx, h)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	sameKey(t, "KeyByHash", got, k)

	// Every budget period and role, one field at a time, and the empty
	// values.
	var want []keys.Key
	want = append(want, k)
	for i, edit := range []func(*keys.Key){
		func(k *keys.Key) { k.Budget = meter.Budget{Limit: 1, Period: meter.Day} },
		func(k *keys.Key) { k.Budget = meter.Budget{Limit: meter.USD, Period: meter.Total} },
		func(k *keys.Key) { k.Role = keys.RoleManager },
		func(k *keys.Key) { k.Role = keys.RoleAuditor },
		func(k *keys.Key) { k.Limits = keys.Limits{RPM: 1} },
		func(k *keys.Key) { k.Team = "ml" },
		func(k *keys.Key) { k.Routes, k.IPs, k.Tags = []string{}, []netip.Prefix{}, []string{} },
	} {
		k := newKey(id(10+i), 2+i)
		edit(&k)
		create(t, s, k, hashOf(k.ID))
		sameKey(t, fmt.Sprintf("KeyByID of policy variant %d", i), getKey(t, s, k.ID), k)
		want = append(want, k)
	}

	// No role is the user role.
	k2 := newKey(id(2), 20)
	k2.Role = ""
	create(t, s, k2, hashOf("two"))
	if got := getKey(t, s, k2.ID); got.Role != keys.RoleUser {
		t.Errorf("a key created without a role has role %q, want %q", got.Role, keys.RoleUser)
	}
	k2.Role = keys.RoleUser
	want = append(want, k2)

	ks, err := s.ListKeys(ctx)
	if err != nil || len(ks) != len(want) {
		t.Fatalf("ListKeys = %d keys, %v; want %d", len(ks), err, len(want))
	}
	for i := range ks {
		sameKey(t, "ListKeys["+ks[i].ID+"]", ks[i], want[i])
	}
}

func testUpdateKey(t *testing.T, s keys.Store) {
	ctx := t.Context()
	createTeam(t, s, newTeam("ml", 0))
	createTeam(t, s, newTeam("ops", 0))
	createUser(t, s, newUser("ada", "ml", 0))
	createUser(t, s, newUser("bob", "", 0))

	k := newKey(id(1), 0)
	k.Models, k.ExpiresAt = []string{"gpt-4o"}, at(1000)
	h := hashOf("one")
	create(t, s, k, h)
	if err := s.RotateKey(ctx, k.ID, hashOf("one-b"), "wdn_…oneb", at(50), at(1)); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if err := s.TouchKey(ctx, k.ID, at(2)); err != nil {
		t.Fatalf("TouchKey: %v", err)
	}
	if err := s.SetKeyState(ctx, k.ID, keys.Suspended, at(3)); err != nil {
		t.Fatalf("SetKeyState: %v", err)
	}
	k = getKey(t, s, k.ID)

	steps := []struct {
		what string
		edit func(*keys.Key)
	}{
		{"set everything", func(k *keys.Key) {
			*k = fullPolicy(*k, "ml", "ada")
			k.Name, k.ExpiresAt = "renamed ✓", at(2000)
		}},
		{"change some", func(k *keys.Key) {
			k.Routes, k.Limits.RPM, k.Team, k.User, k.Role = []string{"/v1/*"}, 120, "ops", "bob", keys.RoleAuditor
		}},
		{"clear everything", func(k *keys.Key) {
			k.Models, k.Routes, k.IPs, k.Tags = []string{}, nil, []netip.Prefix{}, nil
			k.Limits, k.Budget, k.Team, k.User, k.Role, k.ExpiresAt = keys.Limits{}, meter.Budget{}, "", "", keys.RoleUser, time.Time{}
		}},
	}
	v := version(t, s)
	for i, st := range steps {
		next := k
		st.edit(&next)
		next.UpdatedAt = at(10 + i)
		// UpdateKey writes the policy, name, expiry and UpdatedAt only:
		// whatever else the record says is ignored.
		sent := next
		sent.State, sent.Hint, sent.CreatedAt, sent.LastUsedAt, sent.PreviousValidUntil = keys.Active, "wdn_…xxxx", at(99), at(99), at(99)
		if err := s.UpdateKey(ctx, sent, k.UpdatedAt); err != nil {
			t.Fatalf("UpdateKey (%s): %v", st.what, err)
		}
		if nv := version(t, s); nv == v {
			t.Errorf("UpdateKey (%s) did not change KeysVersion", st.what)
		} else {
			v = nv
		}
		for _, e := range []*[]string{&next.Models, &next.Routes, &next.Tags} {
			if len(*e) == 0 {
				*e = nil
			}
		}
		if len(next.IPs) == 0 {
			next.IPs = nil
		}
		sameKey(t, "KeyByID after UpdateKey ("+st.what+")", getKey(t, s, k.ID), next)
		got, previous, err := s.KeyByHash(ctx, hashOf("one-b"))
		if err != nil || previous {
			t.Fatalf("KeyByHash of the current secret after UpdateKey = %v, %v", previous, err)
		}
		sameKey(t, "KeyByHash after UpdateKey ("+st.what+")", got, next)
		if _, previous, err := s.KeyByHash(ctx, h); err != nil || !previous {
			t.Errorf("after UpdateKey the previous secret: previous = %v, %v", previous, err)
		}
		k = next
	}
}

func testUpdateKeyConflicts(t *testing.T, s keys.Store) {
	ctx := t.Context()
	createTeam(t, s, newTeam("ml", 0))
	k := newKey(id(1), 0)
	create(t, s, k, hashOf("one"))
	v := version(t, s)

	stale := k
	stale.Name, stale.UpdatedAt = "stale", at(5)
	checkErr(t, "UpdateKey with a stale UpdatedAt", s.UpdateKey(ctx, stale, at(-1)), store.ErrConflict)
	unknown := newKey(id(9), 0)
	unknown.UpdatedAt = at(5)
	checkErr(t, "UpdateKey of an unknown key", s.UpdateKey(ctx, unknown, at(0)), store.ErrNotFound)
	for _, tc := range []struct {
		name string
		edit func(*keys.Key)
	}{
		{"an unknown team", func(k *keys.Key) { k.Team = "nope" }},
		{"an unknown user", func(k *keys.Key) { k.User = "nope" }},
	} {
		bad := k
		tc.edit(&bad)
		bad.UpdatedAt = at(5)
		checkErr(t, "UpdateKey to "+tc.name, s.UpdateKey(ctx, bad, k.UpdatedAt), store.ErrNotFound)
	}
	if nv := version(t, s); nv != v {
		t.Errorf("refused updates changed KeysVersion from %d to %d", v, nv)
	}
	sameKey(t, "after refused updates", getKey(t, s, k.ID), k)

	// A second update with the same expectation loses.
	first := k
	first.Name, first.UpdatedAt = "first", at(6)
	if err := s.UpdateKey(ctx, first, k.UpdatedAt); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	second := k
	second.Name, second.UpdatedAt = "second", at(7)
	checkErr(t, "UpdateKey racing an earlier one", s.UpdateKey(ctx, second, k.UpdatedAt), store.ErrConflict)
	sameKey(t, "after a lost race", getKey(t, s, k.ID), first)

	// A revoked key cannot be changed.
	if err := s.SetKeyState(ctx, k.ID, keys.Revoked, at(8)); err != nil {
		t.Fatalf("SetKeyState: %v", err)
	}
	revoked := getKey(t, s, k.ID)
	next := revoked
	next.Name, next.UpdatedAt = "revived?", at(9)
	checkErr(t, "UpdateKey of a revoked key", s.UpdateKey(ctx, next, revoked.UpdatedAt), store.ErrConflict)
	sameKey(t, "a revoked key after a refused update", getKey(t, s, k.ID), revoked)
}

// sameTeam compares every field of two teams.
func sameTeam(t *testing.T, what string, got, want keys.Team) {
	t.Helper()
	if got.Name != want.Name || got.Limits != want.Limits || got.Budget != want.Budget || !slices.Equal(got.Models, want.Models) ||
		(len(got.Models) == 0 && got.Models != nil) {
		t.Errorf("%s = %+v,\nwant %+v", what, got, want)
	}
	sameTimes(t, what, got.CreatedAt, want.CreatedAt, got.UpdatedAt, want.UpdatedAt)
}

func sameUser(t *testing.T, what string, got, want keys.User) {
	t.Helper()
	if got.Name != want.Name || got.Team != want.Team || got.Role != want.Role || got.Limits != want.Limits || got.Budget != want.Budget {
		t.Errorf("%s = %+v,\nwant %+v", what, got, want)
	}
	sameTimes(t, what, got.CreatedAt, want.CreatedAt, got.UpdatedAt, want.UpdatedAt)
}

func sameTimes(t *testing.T, what string, gotCreated, wantCreated, gotUpdated, wantUpdated time.Time) {
	t.Helper()
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", gotCreated, wantCreated}, {"UpdatedAt", gotUpdated, wantUpdated}} {
		if !f.got.Equal(f.want) || f.got.Location() != time.UTC {
			t.Errorf("%s: %s = %v, want %v in UTC", what, f.name, f.got, f.want)
		}
	}
}

func testTeams(t *testing.T, s keys.Store) {
	ctx := t.Context()
	ts, err := s.ListTeams(ctx)
	if err != nil || len(ts) != 0 {
		t.Fatalf("ListTeams of an empty store = %v, %v", ts, err)
	}
	ml := newTeam("ml", 0)
	ml.Models = []string{"gpt-4o*", "claude-*"}
	ml.Limits = keys.Limits{RPS: 1, RPM: 2, TPM: 3, MaxParallel: 4}
	ml.Budget = meter.Budget{Limit: 250 * meter.USD, Period: meter.Month}
	ops := newTeam("ops-π", 1)
	for _, tm := range []keys.Team{ops, ml} {
		createTeam(t, s, tm)
	}
	got, err := s.TeamByName(ctx, "ml")
	if err != nil {
		t.Fatalf("TeamByName: %v", err)
	}
	sameTeam(t, "TeamByName", got, ml)
	ts, err = s.ListTeams(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("ListTeams = %v, %v", ts, err)
	}
	sameTeam(t, "ListTeams[0]", ts[0], ml)
	sameTeam(t, "ListTeams[1]", ts[1], ops)

	dup := newTeam("ml", 5)
	checkErr(t, "CreateTeam with a taken name", s.CreateTeam(ctx, dup), store.ErrConflict)
	_, err = s.TeamByName(ctx, "nope")
	checkErr(t, "TeamByName of an unknown team", err, store.ErrNotFound)

	// Update: every field, then clear them.
	next := ml
	next.Models, next.Limits, next.Budget, next.UpdatedAt = []string{"o3"}, keys.Limits{RPM: 9}, meter.Budget{Limit: 1, Period: meter.Day}, at(10)
	if err := s.UpdateTeam(ctx, next, ml.UpdatedAt); err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	got, _ = s.TeamByName(ctx, "ml")
	sameTeam(t, "after UpdateTeam", got, next)
	cleared := next
	cleared.Models, cleared.Limits, cleared.Budget, cleared.UpdatedAt = []string{}, keys.Limits{}, meter.Budget{}, at(11)
	if err := s.UpdateTeam(ctx, cleared, next.UpdatedAt); err != nil {
		t.Fatalf("UpdateTeam: %v", err)
	}
	got, _ = s.TeamByName(ctx, "ml")
	cleared.Models = nil
	sameTeam(t, "after clearing UpdateTeam", got, cleared)

	stale := cleared
	stale.Limits, stale.UpdatedAt = keys.Limits{RPM: 1}, at(12)
	checkErr(t, "UpdateTeam with a stale UpdatedAt", s.UpdateTeam(ctx, stale, next.UpdatedAt), store.ErrConflict)
	unknown := newTeam("nope", 0)
	checkErr(t, "UpdateTeam of an unknown team", s.UpdateTeam(ctx, unknown, at(0)), store.ErrNotFound)
	got, _ = s.TeamByName(ctx, "ml")
	sameTeam(t, "after refused updates", got, cleared)

	if err := s.DeleteTeam(ctx, "ops-π"); err != nil {
		t.Fatalf("DeleteTeam: %v", err)
	}
	checkErr(t, "DeleteTeam twice", s.DeleteTeam(ctx, "ops-π"), store.ErrNotFound)
	if _, err := s.TeamByName(ctx, "ops-π"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TeamByName of a deleted team = %v", err)
	}
	// The name is free again.
	createTeam(t, s, newTeam("ops-π", 20))
}

func testUsers(t *testing.T, s keys.Store) {
	ctx := t.Context()
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 0 {
		t.Fatalf("ListUsers of an empty store = %v, %v", us, err)
	}
	createTeam(t, s, newTeam("ml", 0))
	createTeam(t, s, newTeam("ops", 0))
	ada := newUser("ada@example.com", "ml", 1)
	ada.Role, ada.Limits, ada.Budget = keys.RoleManager, keys.Limits{TPM: 1000}, meter.Budget{Limit: 3 * meter.USD, Period: meter.Total}
	bob := newUser("bob", "", 2)
	bob.Role = ""
	createUser(t, s, bob)
	createUser(t, s, ada)
	bob.Role = keys.RoleUser

	got, err := s.UserByName(ctx, ada.Name)
	if err != nil {
		t.Fatalf("UserByName: %v", err)
	}
	sameUser(t, "UserByName", got, ada)
	us, err = s.ListUsers(ctx)
	if err != nil || len(us) != 2 {
		t.Fatalf("ListUsers = %v, %v", us, err)
	}
	sameUser(t, "ListUsers[0]", us[0], ada)
	sameUser(t, "ListUsers[1] (created without a role)", us[1], bob)

	checkErr(t, "CreateUser with a taken name", s.CreateUser(ctx, newUser("bob", "", 3)), store.ErrConflict)
	checkErr(t, "CreateUser in an unknown team", s.CreateUser(ctx, newUser("cy", "nope", 3)), store.ErrNotFound)
	if _, err := s.UserByName(ctx, "cy"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a user refused for an unknown team was stored: %v", err)
	}

	next := ada
	next.Team, next.Role, next.Limits, next.Budget, next.UpdatedAt = "ops", keys.RoleAdmin, keys.Limits{RPS: 2}, meter.Budget{}, at(10)
	if err := s.UpdateUser(ctx, next, ada.UpdatedAt); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, _ = s.UserByName(ctx, ada.Name)
	sameUser(t, "after UpdateUser", got, next)

	moved := next
	moved.Team, moved.UpdatedAt = "", at(11)
	if err := s.UpdateUser(ctx, moved, next.UpdatedAt); err != nil {
		t.Fatalf("UpdateUser out of the team: %v", err)
	}
	stale := moved
	stale.Role, stale.UpdatedAt = keys.RoleAuditor, at(12)
	checkErr(t, "UpdateUser with a stale UpdatedAt", s.UpdateUser(ctx, stale, next.UpdatedAt), store.ErrConflict)
	badTeam := moved
	badTeam.Team, badTeam.UpdatedAt = "nope", at(12)
	checkErr(t, "UpdateUser into an unknown team", s.UpdateUser(ctx, badTeam, moved.UpdatedAt), store.ErrNotFound)
	checkErr(t, "UpdateUser of an unknown user", s.UpdateUser(ctx, newUser("nope", "", 0), at(0)), store.ErrNotFound)
	got, _ = s.UserByName(ctx, ada.Name)
	sameUser(t, "after refused updates", got, moved)

	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	checkErr(t, "DeleteUser twice", s.DeleteUser(ctx, "bob"), store.ErrNotFound)
	if _, err := s.UserByName(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByName of a deleted user = %v", err)
	}
}

func testReferences(t *testing.T, s keys.Store) {
	ctx := t.Context()
	createTeam(t, s, newTeam("ml", 0))
	createUser(t, s, newUser("ada", "ml", 0))
	cy := newUser("cy", "ml", 0)
	createUser(t, s, cy)

	// Keys naming what does not exist are refused whole.
	for i, tc := range []struct{ team, user string }{{"nope", ""}, {"", "nope"}, {"ml", "nope"}, {"nope", "ada"}} {
		k := newKey(id(50+i), 0)
		k.Team, k.User = tc.team, tc.user
		checkErr(t, fmt.Sprintf("CreateKey with team %q and user %q", tc.team, tc.user), s.CreateKey(ctx, k, hashOf(k.ID)), store.ErrNotFound, hashOf(k.ID))
	}
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("refused creates stored %d keys (%v)", len(ks), err)
	}

	inTeam := newKey(id(1), 1)
	inTeam.Team = "ml"
	forUser := newKey(id(2), 2)
	forUser.User = "ada"
	create(t, s, inTeam, hashOf("1"))
	create(t, s, forUser, hashOf("2"))

	v := version(t, s)
	msg := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	err := s.DeleteTeam(ctx, "ml")
	checkErr(t, "DeleteTeam with a key and a user in it", err, store.ErrConflict)
	if m := msg(err); !strings.Contains(m, "1 key") || !strings.Contains(m, "2 user") {
		t.Errorf("DeleteTeam refusal %q does not say how many keys and users are in the way", m)
	}
	err = s.DeleteUser(ctx, "ada")
	checkErr(t, "DeleteUser with a key for the user", err, store.ErrConflict)
	if m := msg(err); !strings.Contains(m, "1 key") {
		t.Errorf("DeleteUser refusal %q does not say how many keys are in the way", m)
	}
	if nv := version(t, s); nv != v {
		t.Errorf("refused deletes changed KeysVersion from %d to %d", v, nv)
	}

	// Revoked keys are history: they keep their names and are not in the
	// way.
	for _, k := range []keys.Key{inTeam, forUser} {
		if err := s.SetKeyState(ctx, k.ID, keys.Revoked, at(5)); err != nil {
			t.Fatalf("SetKeyState: %v", err)
		}
	}
	if err := s.DeleteUser(ctx, "ada"); err != nil {
		t.Fatalf("DeleteUser once its keys are revoked: %v", err)
	}
	checkErr(t, "DeleteTeam with a user in it", s.DeleteTeam(ctx, "ml"), store.ErrConflict)
	out := cy
	out.Team, out.UpdatedAt = "", at(6)
	if err := s.UpdateUser(ctx, out, cy.UpdatedAt); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if err := s.DeleteTeam(ctx, "ml"); err != nil {
		t.Fatalf("DeleteTeam once its keys are revoked and users gone: %v", err)
	}
	if got := getKey(t, s, inTeam.ID); got.Team != "ml" || got.State != keys.Revoked {
		t.Errorf("a revoked key lost its team: %+v", got)
	}
	if got := getKey(t, s, forUser.ID); got.User != "ada" {
		t.Errorf("a revoked key lost its user: %+v", got)
	}
}

func testPolicyVersion(t *testing.T, s keys.Store) {
	ctx := t.Context()
	seen := map[int64]string{version(t, s): "empty store"}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		v := version(t, s)
		if prev, ok := seen[v]; ok {
			t.Errorf("after %s KeysVersion is %d, as it was after %s", what, v, prev)
		}
		seen[v] = what
		for _, read := range []func() error{
			func() error { _, err := s.ListTeams(ctx); return err },
			func() error { _, err := s.ListUsers(ctx); return err },
			func() error { _, err := s.TeamByName(ctx, "ml"); return err },
			func() error { _, err := s.UserByName(ctx, "ada"); return err },
		} {
			read()
		}
		if again := version(t, s); again != v {
			t.Errorf("KeysVersion changed from %d to %d with reads", v, again)
		}
	}
	ml := newTeam("ml", 0)
	step("create team", s.CreateTeam(ctx, ml))
	next := ml
	next.Limits.RPM, next.UpdatedAt = 5, at(1)
	step("update team", s.UpdateTeam(ctx, next, ml.UpdatedAt))
	ada := newUser("ada", "ml", 2)
	step("create user", s.CreateUser(ctx, ada))
	nu := ada
	nu.Role, nu.UpdatedAt = keys.RoleAdmin, at(3)
	step("update user", s.UpdateUser(ctx, nu, ada.UpdatedAt))
	k := newKey(id(1), 4)
	step("create key", s.CreateKey(ctx, k, hashOf("1")))
	nk := k
	nk.Team, nk.UpdatedAt = "ml", at(5)
	step("update key", s.UpdateKey(ctx, nk, k.UpdatedAt))
	step("revoke key", s.SetKeyState(ctx, k.ID, keys.Revoked, at(6)))
	step("delete user", s.DeleteUser(ctx, "ada"))
	step("delete team", s.DeleteTeam(ctx, "ml"))
}

func testPolicyCanceledContext(t *testing.T, s keys.Store) {
	createTeam(t, s, newTeam("ml", 0))
	createUser(t, s, newUser("ada", "ml", 0))
	k := newKey(id(1), 0)
	create(t, s, k, hashOf("one"))
	v := version(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	next := k
	next.Name, next.UpdatedAt = "x", at(1)
	checkErr(t, "UpdateKey", s.UpdateKey(ctx, next, k.UpdatedAt), context.Canceled)
	checkErr(t, "CreateTeam", s.CreateTeam(ctx, newTeam("ops", 1)), context.Canceled)
	_, err := s.TeamByName(ctx, "ml")
	checkErr(t, "TeamByName", err, context.Canceled)
	_, err = s.ListTeams(ctx)
	checkErr(t, "ListTeams", err, context.Canceled)
	nt := newTeam("ml", 0)
	nt.UpdatedAt = at(1)
	checkErr(t, "UpdateTeam", s.UpdateTeam(ctx, nt, at(0)), context.Canceled)
	checkErr(t, "DeleteTeam", s.DeleteTeam(ctx, "ml"), context.Canceled)
	checkErr(t, "CreateUser", s.CreateUser(ctx, newUser("bob", "", 1)), context.Canceled)
	_, err = s.UserByName(ctx, "ada")
	checkErr(t, "UserByName", err, context.Canceled)
	_, err = s.ListUsers(ctx)
	checkErr(t, "ListUsers", err, context.Canceled)
	nu := newUser("ada", "", 0)
	nu.UpdatedAt = at(1)
	checkErr(t, "UpdateUser", s.UpdateUser(ctx, nu, at(0)), context.Canceled)
	checkErr(t, "DeleteUser", s.DeleteUser(ctx, "ada"), context.Canceled)

	if nv := version(t, s); nv != v {
		t.Errorf("canceled writes changed KeysVersion from %d to %d", v, nv)
	}
	sameKey(t, "after a canceled update", getKey(t, s, k.ID), k)
	if _, err := s.TeamByName(t.Context(), "ops"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a canceled CreateTeam stored the team: %v", err)
	}
	if _, err := s.UserByName(t.Context(), "ada"); err != nil {
		t.Errorf("a canceled DeleteUser deleted the user: %v", err)
	}
}

func testPolicyInvalidInput(t *testing.T, s keys.Store) {
	ctx := t.Context()
	createTeam(t, s, newTeam("ml", 0))
	good := newKey(id(1), 0)
	for _, tc := range []struct {
		name string
		edit func(*keys.Key)
	}{
		{"a negative limit", func(k *keys.Key) { k.Limits.RPM = -1 }},
		{"a negative parallel limit", func(k *keys.Key) { k.Limits.MaxParallel = -1 }},
		{"a budget without a period", func(k *keys.Key) { k.Budget = meter.Budget{Limit: meter.USD} }},
		{"a budget with an unknown period", func(k *keys.Key) { k.Budget = meter.Budget{Limit: meter.USD, Period: "week"} }},
		{"a period without an amount", func(k *keys.Key) { k.Budget = meter.Budget{Period: meter.Day} }},
		{"a negative budget", func(k *keys.Key) { k.Budget = meter.Budget{Limit: -1, Period: meter.Day} }},
		{"an unknown role", func(k *keys.Key) { k.Role = "root" }},
		{"an invalid prefix", func(k *keys.Key) { k.IPs = []netip.Prefix{{}} }},
	} {
		k := good
		tc.edit(&k)
		checkErr(t, "CreateKey with "+tc.name, s.CreateKey(ctx, k, hashOf(tc.name)), nil, hashOf(tc.name))
	}
	if ks, err := s.ListKeys(ctx); err != nil || len(ks) != 0 {
		t.Errorf("refused creates stored %d keys (%v)", len(ks), err)
	}
	create(t, s, good, hashOf("good"))
	bad := good
	bad.Limits.TPM, bad.UpdatedAt = -5, at(1)
	checkErr(t, "UpdateKey with a negative limit", s.UpdateKey(ctx, bad, good.UpdatedAt), nil)
	sameKey(t, "after a refused update", getKey(t, s, good.ID), good)

	for _, tc := range []struct {
		name string
		team keys.Team
	}{
		{"no name", keys.Team{CreatedAt: at(0), UpdatedAt: at(0)}},
		{"a negative limit", keys.Team{Name: "a", Limits: keys.Limits{RPS: -1}, CreatedAt: at(0), UpdatedAt: at(0)}},
		{"a budget without a period", keys.Team{Name: "b", Budget: meter.Budget{Limit: 1}, CreatedAt: at(0), UpdatedAt: at(0)}},
		{"no creation time", keys.Team{Name: "c", UpdatedAt: at(0)}},
	} {
		checkErr(t, "CreateTeam with "+tc.name, s.CreateTeam(ctx, tc.team), nil)
	}
	for _, tc := range []struct {
		name string
		user keys.User
	}{
		{"no name", keys.User{CreatedAt: at(0), UpdatedAt: at(0)}},
		{"an unknown role", keys.User{Name: "a", Role: "root", CreatedAt: at(0), UpdatedAt: at(0)}},
		{"a negative limit", keys.User{Name: "b", Limits: keys.Limits{TPM: -1}, CreatedAt: at(0), UpdatedAt: at(0)}},
		{"a bad budget", keys.User{Name: "c", Budget: meter.Budget{Limit: 1, Period: "week"}, CreatedAt: at(0), UpdatedAt: at(0)}},
	} {
		checkErr(t, "CreateUser with "+tc.name, s.CreateUser(ctx, tc.user), nil)
	}
	if ts, _ := s.ListTeams(ctx); len(ts) != 1 {
		t.Errorf("refused CreateTeam calls stored teams: %+v", ts)
	}
	if us, _ := s.ListUsers(ctx); len(us) != 0 {
		t.Errorf("refused CreateUser calls stored users: %+v", us)
	}
}
