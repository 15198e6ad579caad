package auth_test

import (
	"testing"

	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
)

// TestPrincipalFromKeyPolicy: the principal of a virtual key acts for the
// key's user and team, with the key's role (RoleUser when it has none).
func TestPrincipalFromKeyPolicy(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.m.CreateTeam(ctx, keys.Team{Name: "ml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.m.CreateUser(ctx, keys.User{Name: "ada@example.com", Team: "ml"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec             keys.Spec
		user, team       string
		role             auth.Role
		wantModelAllowed bool
	}{
		{keys.Spec{Name: "plain"}, "", "", auth.RoleUser, true},
		{keys.Spec{Name: "admin", Role: keys.RoleAdmin, Team: "ml"}, "", "ml", auth.RoleAdmin, true},
		{keys.Spec{Name: "ada", User: "ada@example.com", Role: keys.RoleAuditor, Models: []string{"o3"}}, "ada@example.com", "ml", auth.RoleAuditor, false},
	} {
		k, key := f.create(t, tc.spec)
		p, err := auth.VirtualKeys{Keys: f.m}.Authenticate(request("Authorization", "Bearer "+key))
		if err != nil {
			t.Fatalf("%s: %v", tc.spec.Name, err)
		}
		if p.KeyID != k.ID || p.User != tc.user || p.Team != tc.team || p.Role != tc.role || p.Key == nil || p.Key.Role != string(tc.role) {
			t.Errorf("%s: principal = %+v, want user %q team %q role %q", tc.spec.Name, p, tc.user, tc.team, tc.role)
		}
		if got := p.AllowsModel("gpt-4o"); got != tc.wantModelAllowed {
			t.Errorf("%s: AllowsModel(gpt-4o) = %v", tc.spec.Name, got)
		}
	}
}
