package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
)

// about reports whether t is within a minute of d from now.
func about(t *time.Time, d time.Duration) bool {
	if t == nil {
		return false
	}
	diff := t.Sub(time.Now().Add(d))
	return diff > -time.Minute && diff < time.Minute
}

func budgetIs(b *keyview.Budget, usd string, nano int64, period string) bool {
	return b != nil && b.LimitUSD == usd && int64(b.LimitNanoUSD) == nano && string(b.Period) == period
}

// createKey runs keys create --json with args and returns what it printed,
// the key dropped from the recorded outputs.
func (h *harness) createKey(args ...string) createdOut {
	h.t.Helper()
	r := h.mustSecret(append([]string{"keys", "create", "--json"}, args...)...)
	var c createdOut
	decodeStrict(h.t, r.stdout, &c)
	if !keys.Valid(c.Secret) || !keys.ValidID(c.ID) {
		h.t.Fatalf("create --json = %+v", c)
	}
	return c
}

// shown returns the key with id as show --json and list --json print it.
func (h *harness) shown(id string) (show, listed keyview.Key) {
	h.t.Helper()
	decodeStrict(h.t, h.must("", "keys", "show", id, "--json").stdout, &show)
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &list); err != nil {
		h.t.Fatal(err)
	}
	for _, raw := range list {
		var k keyview.Key
		decodeStrict(h.t, string(raw), &k)
		if k.ID == id {
			return show, k
		}
	}
	h.t.Fatalf("list --json lacks %s", id)
	return
}

func setupTeamAndUser(h *harness) {
	h.must("", "teams", "create", "ml")
	h.must("", "users", "create", "ada@example.com", "--team", "ml")
	h.must("", "users", "create", "bob")
}

// TestKeysCreatePolicyFlags checks every policy flag of keys create: its
// value is stored, and create, show and list --json all show it.
func TestKeysCreatePolicyFlags(t *testing.T) {
	h := newHarness(t)
	setupTeamAndUser(h)
	tests := []struct {
		name  string
		args  []string
		check func(k keyview.Key) bool
	}{
		{"no flags", nil, func(k keyview.Key) bool {
			return len(k.Models)+len(k.Routes)+len(k.IPs)+len(k.Tags) == 0 && k.Limits == (keyview.Limits{}) && k.Budget == nil &&
				k.Team == nil && k.User == nil && k.Role == "user" && k.ExpiresAt == nil
		}},
		{"models", []string{"--models", "gpt-4o, claude-*", "--models", "meta-llama/*"}, func(k keyview.Key) bool {
			return slices.Equal(k.Models, []string{"gpt-4o", "claude-*", "meta-llama/*"})
		}},
		{"routes", []string{"--routes", "/v1/chat/completions,/proxy/iris/*"}, func(k keyview.Key) bool {
			return slices.Equal(k.Routes, []string{"/v1/chat/completions", "/proxy/iris/*"})
		}},
		{"ttl", []string{"--ttl", "2h"}, func(k keyview.Key) bool { return about(k.ExpiresAt, 2*time.Hour) }},
		{"expires", []string{"--expires", "2099-01-02T03:04:05+02:00"}, func(k keyview.Key) bool {
			return k.ExpiresAt != nil && k.ExpiresAt.Equal(time.Date(2099, 1, 2, 1, 4, 5, 0, time.UTC))
		}},
		{"ip", []string{"--ip", "10.0.0.0/8", "--ip", "192.0.2.7,2001:db8::1", "--ip", "::ffff:198.51.100.0/120"}, func(k keyview.Key) bool {
			return slices.Equal(k.IPs, []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::1/128", "198.51.100.0/24"})
		}},
		{"rps", []string{"--rps", "3"}, func(k keyview.Key) bool { return k.Limits == keyview.Limits{RPS: 3} }},
		{"rpm", []string{"--rpm", "60"}, func(k keyview.Key) bool { return k.Limits == keyview.Limits{RPM: 60} }},
		{"tpm", []string{"--tpm", "100000"}, func(k keyview.Key) bool { return k.Limits == keyview.Limits{TPM: 100000} }},
		{"max-parallel", []string{"--max-parallel", "4"}, func(k keyview.Key) bool { return k.Limits == keyview.Limits{MaxParallel: 4} }},
		{"budget, a month by default", []string{"--budget", "2.5"}, func(k keyview.Key) bool {
			return budgetIs(k.Budget, "2.50", 2_500_000_000, "month")
		}},
		{"budget and period", []string{"--budget", "$0.000001", "--budget-period", "day"}, func(k keyview.Key) bool {
			return budgetIs(k.Budget, "0.000001", 1000, "day")
		}},
		{"budget in total", []string{"--budget", "100", "--budget-period", "total"}, func(k keyview.Key) bool {
			return budgetIs(k.Budget, "100.00", 100_000_000_000, "total")
		}},
		{"team", []string{"--team", "ml"}, func(k keyview.Key) bool { return k.Team != nil && *k.Team == "ml" && k.User == nil }},
		{"user in a team", []string{"--user", "ada@example.com"}, func(k keyview.Key) bool {
			return k.User != nil && *k.User == "ada@example.com" && k.Team != nil && *k.Team == "ml"
		}},
		{"user in no team", []string{"--user", "bob"}, func(k keyview.Key) bool { return k.User != nil && *k.User == "bob" && k.Team == nil }},
		{"role", []string{"--role", "admin"}, func(k keyview.Key) bool { return k.Role == "admin" }},
		{"tags", []string{"--tags", "ci, nightly"}, func(k keyview.Key) bool { return slices.Equal(k.Tags, []string{"ci", "nightly"}) }},
		{"throwaway", []string{"--throwaway"}, func(k keyview.Key) bool {
			return about(k.ExpiresAt, time.Hour) && budgetIs(k.Budget, "1.00", 1_000_000_000, "total") &&
				k.Limits == keyview.Limits{RPM: 60, MaxParallel: 4} && slices.Equal(k.Tags, []string{"throwaway"})
		}},
		{"throwaway overridden", []string{"--throwaway", "--expires", "2099-01-01T00:00:00Z", "--rpm", "5", "--budget", "3", "--tags", "demo"},
			func(k keyview.Key) bool {
				return k.ExpiresAt != nil && k.ExpiresAt.Year() == 2099 && budgetIs(k.Budget, "3.00", 3_000_000_000, "total") &&
					k.Limits == keyview.Limits{RPM: 5, MaxParallel: 4} && slices.Equal(k.Tags, []string{"demo", "throwaway"})
			}},
		{"throwaway with a daily period", []string{"--throwaway", "--budget-period", "day"}, func(k keyview.Key) bool {
			return budgetIs(k.Budget, "1.00", 1_000_000_000, "day") && about(k.ExpiresAt, time.Hour)
		}},
		{"throwaway without a budget", []string{"--throwaway", "--budget", "0"}, func(k keyview.Key) bool {
			return k.Budget == nil && k.Limits.RPM == 60
		}},
		{"the documented recipe", []string{"--ttl", "1h", "--budget", "1"}, func(k keyview.Key) bool {
			return about(k.ExpiresAt, time.Hour) && budgetIs(k.Budget, "1.00", 1_000_000_000, "month")
		}},
	}
	var created []string
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := h.createKey(append([]string{"--name", fmt.Sprint("k", i)}, tc.args...)...)
			created = append(created, c.Secret)
			show, listed := h.shown(c.ID)
			for what, k := range map[string]keyview.Key{"create --json": c.Key, "show --json": show, "list --json": listed} {
				if !tc.check(k) {
					t.Errorf("%s: %+v", what, k)
				}
			}
		})
	}
	// The human forms show the policy too, and no output shows a key.
	table := h.must("", "keys", "list").stdout
	for _, want := range []string{"POLICY", "routes=/v1/chat/completions,/proxy/iris/*", "ips=10.0.0.0/8,", "rps=3", "rpm=60", "tpm=100000",
		"parallel=4", "budget=$2.50/month", "budget=$0.000001/day", "team=ml", "user=ada@example.com", "role=admin", "tags=ci,nightly"} {
		if !strings.Contains(table, want) {
			t.Errorf("keys list lacks %q:\n%s", want, table)
		}
	}
	var list []keyview.Key
	if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		h.must("", "keys", "show", k.ID)
	}
	for _, key := range created {
		h.assertNowhere(key)
	}
}

func TestKeysShowHuman(t *testing.T) {
	h := newHarness(t)
	setupTeamAndUser(h)
	c := h.createKey("--name", "svc", "--user", "ada@example.com", "--role", "auditor", "--ip", "10.0.0.0/8",
		"--routes", "/v1/*", "--rpm", "60", "--budget", "5", "--tags", "x")
	out := h.must("", "keys", "show", c.ID).stdout
	for _, want := range []string{"ID:", c.ID, "Role:", "auditor", "Team:", "ml", "User:", "ada@example.com", "Routes:", "/v1/*",
		"IPs:", "10.0.0.0/8", "Limits:", "rpm=60", "Budget:", "$5.00/month", "Tags:", "Models:", "all", "Expires:", "never", c.Hint} {
		if !strings.Contains(out, want) {
			t.Errorf("keys show lacks %q:\n%s", want, out)
		}
	}
	h.assertNowhere(c.Secret)
}

// TestKeysUpdateFlags applies one update after another to one key and
// checks each flag's effect, clearing with "" included, in update's own
// output and in show and list --json.
func TestKeysUpdateFlags(t *testing.T) {
	h := newHarness(t)
	setupTeamAndUser(h)
	h.must("", "teams", "create", "ops")
	c := h.createKey("--name", "svc", "--models", "gpt-4o", "--routes", "/v1/*", "--ip", "10.0.0.0/8", "--rpm", "60", "--tpm", "1000",
		"--budget", "5", "--budget-period", "day", "--user", "ada@example.com", "--role", "manager", "--tags", "a", "--ttl", "24h")
	steps := []struct {
		args  []string
		check func(k keyview.Key) bool
	}{
		{[]string{"--name", "renamed"}, func(k keyview.Key) bool { return k.Name == "renamed" && slices.Equal(k.Models, []string{"gpt-4o"}) }},
		{[]string{"--models", "o3,o4-mini"}, func(k keyview.Key) bool { return slices.Equal(k.Models, []string{"o3", "o4-mini"}) }},
		{[]string{"--models", ""}, func(k keyview.Key) bool { return len(k.Models) == 0 && k.Models != nil }},
		{[]string{"--routes", "/v1/models"}, func(k keyview.Key) bool { return slices.Equal(k.Routes, []string{"/v1/models"}) }},
		{[]string{"--routes", ""}, func(k keyview.Key) bool { return len(k.Routes) == 0 }},
		{[]string{"--ip", "192.0.2.1", "--ip", "2001:db8::/48"}, func(k keyview.Key) bool {
			return slices.Equal(k.IPs, []string{"192.0.2.1/32", "2001:db8::/48"})
		}},
		{[]string{"--ip", ""}, func(k keyview.Key) bool { return len(k.IPs) == 0 }},
		{[]string{"--rps", "2", "--max-parallel", "3"}, func(k keyview.Key) bool {
			return k.Limits == keyview.Limits{RPS: 2, RPM: 60, TPM: 1000, MaxParallel: 3}
		}},
		{[]string{"--rpm", "0", "--tpm", "5"}, func(k keyview.Key) bool { return k.Limits == keyview.Limits{RPS: 2, TPM: 5, MaxParallel: 3} }},
		{[]string{"--budget", "7"}, func(k keyview.Key) bool { return budgetIs(k.Budget, "7.00", 7_000_000_000, "day") }},
		{[]string{"--budget-period", "total"}, func(k keyview.Key) bool { return budgetIs(k.Budget, "7.00", 7_000_000_000, "total") }},
		{[]string{"--budget", "0"}, func(k keyview.Key) bool { return k.Budget == nil }},
		{[]string{"--budget", "1.25"}, func(k keyview.Key) bool { return budgetIs(k.Budget, "1.25", 1_250_000_000, "month") }},
		{[]string{"--budget", ""}, func(k keyview.Key) bool { return k.Budget == nil }},
		{[]string{"--team", "ops"}, func(k keyview.Key) bool { return k.Team != nil && *k.Team == "ops" && *k.User == "ada@example.com" }},
		{[]string{"--user", "bob", "--team", ""}, func(k keyview.Key) bool { return *k.User == "bob" && k.Team == nil }},
		{[]string{"--user", ""}, func(k keyview.Key) bool { return k.User == nil }},
		{[]string{"--role", "admin"}, func(k keyview.Key) bool { return k.Role == "admin" }},
		{[]string{"--role", ""}, func(k keyview.Key) bool { return k.Role == "user" }},
		{[]string{"--tags", "b,c"}, func(k keyview.Key) bool { return slices.Equal(k.Tags, []string{"b", "c"}) }},
		{[]string{"--tags", ""}, func(k keyview.Key) bool { return len(k.Tags) == 0 }},
		{[]string{"--ttl", "3h"}, func(k keyview.Key) bool { return about(k.ExpiresAt, 3*time.Hour) }},
		{[]string{"--expires", "2099-05-06T07:08:09Z"}, func(k keyview.Key) bool {
			return k.ExpiresAt != nil && k.ExpiresAt.Equal(time.Date(2099, 5, 6, 7, 8, 9, 0, time.UTC))
		}},
		{[]string{"--expires", "never"}, func(k keyview.Key) bool { return k.ExpiresAt == nil }},
		{[]string{"--ttl", "1h"}, func(k keyview.Key) bool { return about(k.ExpiresAt, time.Hour) }},
		{[]string{"--expires", ""}, func(k keyview.Key) bool { return k.ExpiresAt == nil && k.State == keys.Active }},
	}
	for _, st := range steps {
		r := h.must("", append([]string{"keys", "update", c.ID, "--json"}, st.args...)...)
		var updated keyview.Key
		decodeStrict(t, r.stdout, &updated)
		show, listed := h.shown(c.ID)
		for what, k := range map[string]keyview.Key{"update --json": updated, "show --json": show, "list --json": listed} {
			if !st.check(k) {
				t.Errorf("after update %q, %s: %+v", st.args, what, k)
			}
		}
	}
	human := h.must("", "keys", "update", c.ID, "--rpm", "9")
	if !strings.Contains(human.stdout, "updated key "+c.ID) || !strings.Contains(human.stdout, "rpm=9") {
		t.Errorf("keys update output:\n%s", human.stdout)
	}
	// The key still works, with the policy: a server-side manager sees it.
	m, closeM := openKeyManager(t, h)
	defer closeM()
	k, err := m.Authenticate(t.Context(), c.Secret)
	if err != nil || k.Limits.RPM != 9 || k.Name != "renamed" {
		t.Fatalf("after updates Authenticate = %+v, %v", k, err)
	}
	h.assertNowhere(c.Secret)
}

func TestKeysPolicyErrors(t *testing.T) {
	h := newHarness(t)
	setupTeamAndUser(h)
	c := h.createKey("--name", "a")
	revoked := h.createKey("--name", "b")
	h.must("", "keys", "revoke", revoked.ID)
	canary := fakeProviderKey(t, keys.Prefix)
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"bad CIDR", []string{"keys", "create", "--name", "x", "--ip", "10.0.0.300"}, `--ip: "10.0.0.300" is not an IP address or CIDR prefix`},
		{"CIDR with host bits", []string{"keys", "create", "--name", "x", "--ip", "10.1.2.3/8"}, "write 10.0.0.0/8 for the network"},
		{"hostname for an IP", []string{"keys", "create", "--name", "x", "--ip", "example.com"}, "not an IP address"},
		{"negative rpm", []string{"keys", "create", "--name", "x", "--rpm", "-5"}, "rpm: -5 is negative"},
		{"negative max-parallel", []string{"keys", "create", "--name", "x", "--max-parallel", "-1"}, "max_parallel: -1 is negative"},
		{"rpm not a number", []string{"keys", "create", "--name", "x", "--rpm", "lots"}, "invalid argument"},
		{"unknown role", []string{"keys", "create", "--name", "x", "--role", "boss"}, `role: "boss" is not a role; use one of admin, manager, user, auditor`},
		{"budget period without budget", []string{"keys", "create", "--name", "x", "--budget-period", "day"}, "--budget-period needs --budget"},
		{"unknown budget period", []string{"keys", "create", "--name", "x", "--budget", "1", "--budget-period", "week"}, "use day, month or total"},
		{"bad budget", []string{"keys", "create", "--name", "x", "--budget", "ten"}, "not a dollar amount"},
		{"negative budget", []string{"keys", "create", "--name", "x", "--budget", "-1"}, "negative"},
		{"budget 0 with a period", []string{"keys", "create", "--name", "x", "--budget", "0", "--budget-period", "day"}, "removes the budget"},
		{"unknown team", []string{"keys", "create", "--name", "x", "--team", "nope"}, "no team named nope; create it with warden teams create nope"},
		{"unknown user", []string{"keys", "create", "--name", "x", "--user", "nope"}, "no user named nope; create it with warden users create nope"},
		{"relative route", []string{"keys", "create", "--name", "x", "--routes", "v1/chat"}, "does not start with '/'"},
		{"route with a trailing slash", []string{"keys", "create", "--name", "x", "--routes", "/v1/"}, "/v1/*"},
		{"tag with a space", []string{"keys", "create", "--name", "x", "--tags", "a b"}, "tags:"},
		{"throwaway with ttl and expires", []string{"keys", "create", "--name", "x", "--throwaway", "--ttl", "1h", "--expires", "2099-01-01T00:00:00Z"}, "none of the others"},
		{"update without flags", []string{"keys", "update", c.ID}, "nothing to change"},
		{"update with only --json", []string{"keys", "update", c.ID, "--json"}, "nothing to change"},
		{"update a revoked key", []string{"keys", "update", revoked.ID, "--rpm", "5"}, "revocation is final"},
		{"update an unknown key", []string{"keys", "update", "key_0000000000000000", "--rpm", "5"}, "warden keys list"},
		{"update a key given instead of an id", []string{"keys", "update", c.Secret, "--rpm", "5"}, "not a key id"},
		{"update to an unknown team", []string{"keys", "update", c.ID, "--team", "nope"}, "warden teams create nope"},
		{"update with a bad CIDR", []string{"keys", "update", c.ID, "--ip", "300.1.1.1"}, "not an IP address"},
		{"update with a bad expiry", []string{"keys", "update", c.ID, "--expires", "soon"}, "RFC 3339"},
		{"update with a past expiry", []string{"keys", "update", c.ID, "--expires", "2001-01-01T00:00:00Z"}, "already passed"},
		{"update a period without a budget", []string{"keys", "update", c.ID, "--budget-period", "day"}, "--budget-period needs --budget"},
		{"show an unknown key", []string{"keys", "show", "key_0000000000000000"}, "warden keys list"},
		{"show a canary instead of an id", []string{"keys", "show", canary}, "not a key id"},
		{"team name that is a key", []string{"keys", "create", "--name", "x", "--team", canary}, "names may not contain wdn_"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", r.code, r.stderr, tc.msg)
			}
		})
	}
	var listed []keyview.Key
	if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("refused commands created keys: %d keys (%v)", len(listed), err)
	}
	if listed[0].Limits != (keyview.Limits{}) || listed[0].ExpiresAt != nil {
		t.Fatalf("refused updates changed the key: %+v", listed[0])
	}
	h.assertNowhere(c.Secret)
	h.assertNowhere(revoked.Secret)
	h.assertNowhere(canary)
}

func TestTeamsCommands(t *testing.T) {
	h := newHarness(t)
	if r := h.must("", "teams", "list"); !strings.Contains(r.stdout, "no teams yet") {
		t.Fatalf("empty teams list: %s", r.stdout)
	}
	if r := h.must("", "teams", "list", "--json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty teams list --json: %q", r.stdout)
	}
	var tm keyview.Team
	decodeStrict(t, h.must("", "teams", "create", "ml", "--models", "gpt-4o*,claude-*", "--rps", "1", "--rpm", "600", "--tpm", "9000",
		"--max-parallel", "20", "--budget", "500", "--json").stdout, &tm)
	if tm.Name != "ml" || !slices.Equal(tm.Models, []string{"gpt-4o*", "claude-*"}) ||
		tm.Limits != (keyview.Limits{RPS: 1, RPM: 600, TPM: 9000, MaxParallel: 20}) || !budgetIs(tm.Budget, "500.00", 500_000_000_000, "month") {
		t.Fatalf("teams create --json = %+v", tm)
	}
	h.must("", "teams", "create", "interns", "--budget", "50", "--budget-period", "total")
	var shown keyview.Team
	decodeStrict(t, h.must("", "teams", "show", "ml", "--json").stdout, &shown)
	if shown.Name != tm.Name || !slices.Equal(shown.Models, tm.Models) || shown.Limits != tm.Limits || *shown.Budget != *tm.Budget {
		t.Fatalf("teams show --json = %+v, want %+v", shown, tm)
	}
	var list []keyview.Team
	if err := json.Unmarshal([]byte(h.must("", "teams", "list", "--json").stdout), &list); err != nil || len(list) != 2 ||
		list[0].Name != "interns" || list[1].Name != "ml" || !budgetIs(list[0].Budget, "50.00", 50_000_000_000, "total") {
		t.Fatalf("teams list --json = %+v (%v)", list, err)
	}
	table := h.must("", "teams", "list").stdout
	for _, want := range []string{"NAME", "interns", "ml", "gpt-4o*,claude-*", "rps=1 rpm=600 tpm=9000 parallel=20", "$500.00/month", "$50.00/total"} {
		if !strings.Contains(table, want) {
			t.Errorf("teams list lacks %q:\n%s", want, table)
		}
	}
	human := h.must("", "teams", "show", "ml").stdout
	for _, want := range []string{"Name:", "Models:", "Limits:", "rpm=600", "Budget:", "$500.00/month"} {
		if !strings.Contains(human, want) {
			t.Errorf("teams show lacks %q:\n%s", want, human)
		}
	}

	var up keyview.Team
	decodeStrict(t, h.must("", "teams", "update", "ml", "--models", "", "--rpm", "0", "--budget", "700", "--json").stdout, &up)
	if len(up.Models) != 0 || up.Limits != (keyview.Limits{RPS: 1, TPM: 9000, MaxParallel: 20}) || !budgetIs(up.Budget, "700.00", 700_000_000_000, "month") {
		t.Fatalf("teams update --json = %+v", up)
	}
	decodeStrict(t, h.must("", "teams", "update", "ml", "--budget-period", "day", "--json").stdout, &up)
	if !budgetIs(up.Budget, "700.00", 700_000_000_000, "day") {
		t.Fatalf("teams update --budget-period = %+v", up.Budget)
	}
	decodeStrict(t, h.must("", "teams", "update", "ml", "--budget", "0", "--json").stdout, &up)
	if up.Budget != nil {
		t.Fatalf("teams update --budget 0 = %+v", up.Budget)
	}

	// A team in use cannot go; once nothing uses it, it can.
	h.must("", "users", "create", "ada", "--team", "ml")
	c := h.createKey("--name", "k", "--team", "ml")
	r := h.run("", "teams", "rm", "ml")
	if r.code == 0 || !strings.Contains(r.stderr, "1 key(s) and 1 user(s)") || !strings.Contains(r.stderr, "--team OTHER") {
		t.Fatalf("teams rm of a team in use: exit %d, %s", r.code, r.stderr)
	}
	h.must("", "keys", "revoke", c.ID)
	h.must("", "users", "update", "ada", "--team", "")
	if r := h.must("", "teams", "rm", "ml"); !strings.Contains(r.stdout, "deleted team ml") {
		t.Fatalf("teams rm: %s", r.stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"duplicate", []string{"teams", "create", "interns"}, "a team of that name exists"},
		{"bad name", []string{"teams", "create", "two words"}, "letters, digits"},
		{"negative tpm", []string{"teams", "create", "x", "--tpm", "-1"}, "tpm: -1 is negative"},
		{"bad model glob", []string{"teams", "create", "x", "--models", "gpt-[4"}, "path.Match"},
		{"period without budget", []string{"teams", "create", "x", "--budget-period", "month"}, "--budget-period needs --budget"},
		{"show unknown", []string{"teams", "show", "ml"}, "no team named ml (see warden teams list)"},
		{"update unknown", []string{"teams", "update", "ml", "--rpm", "1"}, "no team named ml"},
		{"update without flags", []string{"teams", "update", "interns"}, "nothing to change"},
		{"rm unknown", []string{"teams", "rm", "ml"}, "no team named ml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", r.code, r.stderr, tc.msg)
			}
		})
	}
	h.assertNowhere(c.Secret)
}

func TestUsersCommands(t *testing.T) {
	h := newHarness(t)
	if r := h.must("", "users", "list"); !strings.Contains(r.stdout, "no users yet") {
		t.Fatalf("empty users list: %s", r.stdout)
	}
	h.must("", "teams", "create", "ml")
	h.must("", "teams", "create", "ops")
	var u keyview.User
	decodeStrict(t, h.must("", "users", "create", "ada@example.com", "--team", "ml", "--role", "manager", "--rpm", "120",
		"--max-parallel", "2", "--budget", "50", "--budget-period", "day", "--json").stdout, &u)
	if u.Name != "ada@example.com" || u.Team == nil || *u.Team != "ml" || u.Role != "manager" ||
		u.Limits != (keyview.Limits{RPM: 120, MaxParallel: 2}) || !budgetIs(u.Budget, "50.00", 50_000_000_000, "day") {
		t.Fatalf("users create --json = %+v", u)
	}
	h.must("", "users", "create", "ci-bot")
	var shown keyview.User
	decodeStrict(t, h.must("", "users", "show", "ci-bot", "--json").stdout, &shown)
	if shown.Team != nil || shown.Role != "user" || shown.Budget != nil {
		t.Fatalf("users show --json of a plain user = %+v", shown)
	}
	table := h.must("", "users", "list").stdout
	for _, want := range []string{"NAME", "ada@example.com", "ml", "manager", "rpm=120 parallel=2", "$50.00/day", "ci-bot"} {
		if !strings.Contains(table, want) {
			t.Errorf("users list lacks %q:\n%s", want, table)
		}
	}
	var list []keyview.User
	if err := json.Unmarshal([]byte(h.must("", "users", "list", "--json").stdout), &list); err != nil || len(list) != 2 || list[0].Name != "ada@example.com" {
		t.Fatalf("users list --json = %+v (%v)", list, err)
	}

	var up keyview.User
	decodeStrict(t, h.must("", "users", "update", "ada@example.com", "--team", "ops", "--role", "auditor", "--rpm", "0", "--budget", "60", "--json").stdout, &up)
	if *up.Team != "ops" || up.Role != "auditor" || up.Limits != (keyview.Limits{MaxParallel: 2}) || !budgetIs(up.Budget, "60.00", 60_000_000_000, "day") {
		t.Fatalf("users update --json = %+v", up)
	}
	decodeStrict(t, h.must("", "users", "update", "ada@example.com", "--team", "", "--role", "", "--json").stdout, &up)
	if up.Team != nil || up.Role != "user" {
		t.Fatalf("users update clearing = %+v", up)
	}
	human := h.must("", "users", "show", "ada@example.com").stdout
	for _, want := range []string{"Name:", "ada@example.com", "Team:", "Role:", "user", "Budget:", "$60.00/day"} {
		if !strings.Contains(human, want) {
			t.Errorf("users show lacks %q:\n%s", want, human)
		}
	}

	c := h.createKey("--name", "k", "--user", "ci-bot")
	r := h.run("", "users", "rm", "ci-bot")
	if r.code == 0 || !strings.Contains(r.stderr, "1 key(s)") || !strings.Contains(r.stderr, "--user OTHER") {
		t.Fatalf("users rm of a user with keys: exit %d, %s", r.code, r.stderr)
	}
	h.must("", "keys", "update", c.ID, "--user", "")
	if r := h.must("", "users", "rm", "ci-bot"); !strings.Contains(r.stdout, "deleted user ci-bot") {
		t.Fatalf("users rm: %s", r.stdout)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"duplicate", []string{"users", "create", "ada@example.com"}, "a user of that name exists"},
		{"unknown team", []string{"users", "create", "bob", "--team", "nope"}, "no team named nope; create it with warden teams create nope"},
		{"unknown role", []string{"users", "create", "bob", "--role", "root"}, "is not a role"},
		{"negative rps", []string{"users", "create", "bob", "--rps", "-2"}, "rps: -2 is negative"},
		{"bad budget", []string{"users", "create", "bob", "--budget", "1.0000000001"}, "nine decimals"},
		{"update to an unknown team", []string{"users", "update", "ada@example.com", "--team", "nope"}, "warden teams create nope"},
		{"update unknown", []string{"users", "update", "bob", "--rpm", "1"}, "no user named bob"},
		{"update without flags", []string{"users", "update", "ada@example.com", "--json"}, "nothing to change"},
		{"show unknown", []string{"users", "show", "bob"}, "no user named bob (see warden users list)"},
		{"rm unknown", []string{"users", "rm", "bob"}, "no user named bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", r.code, r.stderr, tc.msg)
			}
		})
	}
	h.assertNowhere(c.Secret)
}

func TestPolicyCommandsHelp(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range [][]string{
		{"keys", "update"}, {"keys", "show"},
		{"teams"}, {"teams", "create"}, {"teams", "update"}, {"teams", "list"}, {"teams", "show"}, {"teams", "rm"},
		{"users"}, {"users", "create"}, {"users", "update"}, {"users", "list"}, {"users", "show"}, {"users", "rm"},
	} {
		r := h.must("", append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%v --help has no examples:\n%s", cmd, r.stdout)
		}
	}
	create := h.must("", "keys", "create", "--help").stdout
	for _, want := range []string{"--ttl 1h --budget 1", "--throwaway", "--ip", "--routes", "--rpm", "--rps", "--tpm", "--max-parallel",
		"--budget-period", "--team", "--user", "--role", "--tags"} {
		if !strings.Contains(create, want) {
			t.Errorf("keys create --help lacks %q", want)
		}
	}
	update := h.must("", "keys", "update", "--help").stdout
	for _, want := range []string{`--models ""`, `--ip ""`, `--team ""`, "--budget 0"} {
		if !strings.Contains(update, want) {
			t.Errorf("keys update --help does not document clearing with %q", want)
		}
	}
}
