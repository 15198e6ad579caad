package admin

import (
	"github.com/wardenproject/warden/internal/keys/keyview"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

// The callers of the RBAC matrix, in the order of matrixCase.want.
var callers = []string{"admin", "manager", "user", "auditor", "anonymous"}

// matrixCase is one request tried as every caller, in a fresh rig each
// time. The expected statuses are written out here, by hand, from the
// roles' description in the package doc and docs/admin-api.md, not
// derived from the code's permission table.
type matrixCase struct {
	// route is "METHOD pattern" of the route this case exercises.
	route string
	// path may name rig keys as <name>, replaced by their ids.
	path, body string
	// want is the status for admin, manager, user, auditor, anonymous.
	want [5]int
	// visible, for lists, is what each caller sees, by caller.
	visible map[string][]string
	// check, if set, looks further at a successful response.
	check func(t *testing.T, r *rig, caller string, body []byte)
}

const (
	ok200  = http.StatusOK
	made   = http.StatusCreated
	gone   = http.StatusNoContent
	bad    = http.StatusBadRequest
	unauth = http.StatusUnauthorized
	denied = http.StatusForbidden
	hidden = http.StatusNotFound
	clash  = http.StatusConflict
)

var allKeyNames = []string{"admin", "auditor", "manager", "user", "uma-admin", "ml-svc", "ops-user"}
var allUsers = []string{"ann", "aud", "max", "mia", "olga", "oscar", "uma", "una"}

var matrix = []matrixCase{
	{route: "GET /admin/v1/openapi.yaml", path: "/admin/v1/openapi.yaml", want: [5]int{ok200, ok200, ok200, ok200, ok200}},
	{route: "GET /admin/v1/me", path: "/admin/v1/me", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		check: func(t *testing.T, r *rig, caller string, body []byte) {
			var me meJSON
			mustJSON(t, body, &me)
			if me.Role != caller || me.KeyID == nil || *me.KeyID != r.id(caller) {
				t.Errorf("me as %s: %s", caller, body)
			}
		}},

	// Keys.
	{route: "GET /admin/v1/keys", path: "/admin/v1/keys", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		visible: map[string][]string{
			"admin":   allKeyNames,
			"auditor": allKeyNames,
			"manager": {"manager", "user", "uma-admin", "ml-svc"},
			"user":    {"user", "uma-admin"},
		}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new"}`, want: [5]int{made, made, made, denied, unauth},
		check: func(t *testing.T, r *rig, caller string, body []byte) {
			var k keyview.Key
			mustJSON(t, body, &k)
			team, user := deref(k.Team), deref(k.User)
			want := map[string][2]string{"admin": {"", ""}, "manager": {"ml", ""}, "user": {"ml", "uma"}}[caller]
			if team != want[0] || user != want[1] || k.Role != "user" {
				t.Errorf("key created by %s: team %q user %q role %s, want team %q user %q role user", caller, team, user, k.Role, want[0], want[1])
			}
		}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","team":"ops"}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","user":"oscar"}`, want: [5]int{made, bad, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","user":"una"}`, want: [5]int{made, made, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","role":"admin"}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","role":"auditor"}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","role":"manager"}`, want: [5]int{made, made, denied, denied, unauth}},
	{route: "POST /admin/v1/keys", path: "/admin/v1/keys", body: `{"name":"new","role":"user"}`, want: [5]int{made, made, made, denied, unauth}},

	{route: "GET /admin/v1/keys/{id}", path: "/admin/v1/keys/<user>", want: [5]int{ok200, ok200, ok200, ok200, unauth}},
	{route: "GET /admin/v1/keys/{id}", path: "/admin/v1/keys/<ml-svc>", want: [5]int{ok200, ok200, hidden, ok200, unauth}},
	{route: "GET /admin/v1/keys/{id}", path: "/admin/v1/keys/<ops-user>", want: [5]int{ok200, hidden, hidden, ok200, unauth}},
	{route: "GET /admin/v1/keys/{id}", path: "/admin/v1/keys/key_0000000000000000", want: [5]int{hidden, hidden, hidden, hidden, unauth}},

	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<user>", body: `{"name":"renamed"}`, want: [5]int{ok200, ok200, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<ops-user>", body: `{"name":"renamed"}`, want: [5]int{ok200, hidden, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<user>", body: `{"role":"admin"}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<user>", body: `{"team":"ops"}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<user>", body: `{"team":null}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<ml-svc>", body: `{"user":"oscar"}`, want: [5]int{ok200, bad, denied, denied, unauth}},
	{route: "PATCH /admin/v1/keys/{id}", path: "/admin/v1/keys/<uma-admin>", body: `{"name":"renamed"}`, want: [5]int{ok200, denied, denied, denied, unauth}},

	{route: "POST /admin/v1/keys/{id}/revoke", path: "/admin/v1/keys/<user>/revoke", want: [5]int{ok200, ok200, ok200, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/revoke", path: "/admin/v1/keys/<ml-svc>/revoke", want: [5]int{ok200, ok200, hidden, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/revoke", path: "/admin/v1/keys/<ops-user>/revoke", want: [5]int{ok200, hidden, hidden, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/revoke", path: "/admin/v1/keys/<uma-admin>/revoke", want: [5]int{ok200, denied, denied, denied, unauth}},

	{route: "POST /admin/v1/keys/{id}/rotate", path: "/admin/v1/keys/<user>/rotate", want: [5]int{ok200, ok200, ok200, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/rotate", path: "/admin/v1/keys/<ops-user>/rotate", want: [5]int{ok200, hidden, hidden, denied, unauth}},
	// Rotating returns the new secret: an admin key's, for a manager or
	// a user, would be an admin key.
	{route: "POST /admin/v1/keys/{id}/rotate", path: "/admin/v1/keys/<uma-admin>/rotate", want: [5]int{ok200, denied, denied, denied, unauth}},

	{route: "POST /admin/v1/keys/{id}/suspend", path: "/admin/v1/keys/<user>/suspend", want: [5]int{ok200, ok200, ok200, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/suspend", path: "/admin/v1/keys/<ops-user>/suspend", want: [5]int{ok200, hidden, hidden, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/suspend", path: "/admin/v1/keys/<uma-admin>/suspend", want: [5]int{ok200, denied, denied, denied, unauth}},

	{route: "POST /admin/v1/keys/{id}/resume", path: "/admin/v1/keys/<user>/resume", want: [5]int{ok200, ok200, denied, denied, unauth}},
	{route: "POST /admin/v1/keys/{id}/resume", path: "/admin/v1/keys/<ops-user>/resume", want: [5]int{ok200, hidden, denied, denied, unauth}},

	// Teams.
	{route: "GET /admin/v1/teams", path: "/admin/v1/teams", want: [5]int{ok200, ok200, denied, ok200, unauth},
		visible: map[string][]string{
			"admin":   {"ml", "ops", "spare"},
			"auditor": {"ml", "ops", "spare"},
			"manager": {"ml"},
		}},
	{route: "POST /admin/v1/teams", path: "/admin/v1/teams", body: `{"name":"new","budget":{"limit_usd":"10"}}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/teams", path: "/admin/v1/teams", body: `{"name":"ml"}`, want: [5]int{clash, denied, denied, denied, unauth}},
	{route: "GET /admin/v1/teams/{name}", path: "/admin/v1/teams/ml", want: [5]int{ok200, ok200, denied, ok200, unauth}},
	{route: "GET /admin/v1/teams/{name}", path: "/admin/v1/teams/ops", want: [5]int{ok200, hidden, denied, ok200, unauth}},
	{route: "GET /admin/v1/teams/{name}", path: "/admin/v1/teams/nope", want: [5]int{hidden, hidden, denied, hidden, unauth}},
	{route: "PATCH /admin/v1/teams/{name}", path: "/admin/v1/teams/ml", body: `{"limits":{"rpm":10},"budget":{"limit_usd":"50","period":"day"}}`,
		want: [5]int{ok200, ok200, denied, denied, unauth}},
	{route: "PATCH /admin/v1/teams/{name}", path: "/admin/v1/teams/ops", body: `{"limits":{"rpm":10}}`, want: [5]int{ok200, hidden, denied, denied, unauth}},
	{route: "PATCH /admin/v1/teams/{name}", path: "/admin/v1/teams/ml", body: `{"models":["gpt-4o"]}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "DELETE /admin/v1/teams/{name}", path: "/admin/v1/teams/spare", want: [5]int{gone, denied, denied, denied, unauth}},
	{route: "DELETE /admin/v1/teams/{name}", path: "/admin/v1/teams/ml", want: [5]int{clash, denied, denied, denied, unauth}},

	// Users.
	{route: "GET /admin/v1/users", path: "/admin/v1/users", want: [5]int{ok200, ok200, denied, ok200, unauth},
		visible: map[string][]string{
			"admin":   allUsers,
			"auditor": allUsers,
			"manager": {"max", "mia", "uma", "una"},
		}},
	{route: "POST /admin/v1/users", path: "/admin/v1/users", body: `{"name":"newu"}`, want: [5]int{made, made, denied, denied, unauth},
		check: func(t *testing.T, r *rig, caller string, body []byte) {
			var u keyview.User
			mustJSON(t, body, &u)
			want := map[string]string{"admin": "", "manager": "ml"}[caller]
			if deref(u.Team) != want || u.Role != "user" {
				t.Errorf("user created by %s: %s", caller, body)
			}
		}},
	{route: "POST /admin/v1/users", path: "/admin/v1/users", body: `{"name":"newu","team":"ops"}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/users", path: "/admin/v1/users", body: `{"name":"newu","role":"admin"}`, want: [5]int{made, denied, denied, denied, unauth}},
	{route: "POST /admin/v1/users", path: "/admin/v1/users", body: `{"name":"newu","role":"manager"}`, want: [5]int{made, made, denied, denied, unauth}},
	{route: "GET /admin/v1/users/{name}", path: "/admin/v1/users/uma", want: [5]int{ok200, ok200, denied, ok200, unauth}},
	{route: "GET /admin/v1/users/{name}", path: "/admin/v1/users/oscar", want: [5]int{ok200, hidden, denied, ok200, unauth}},
	{route: "PATCH /admin/v1/users/{name}", path: "/admin/v1/users/uma", body: `{"limits":{"rpm":5}}`, want: [5]int{ok200, ok200, denied, denied, unauth}},
	{route: "PATCH /admin/v1/users/{name}", path: "/admin/v1/users/oscar", body: `{"limits":{"rpm":5}}`, want: [5]int{ok200, hidden, denied, denied, unauth}},
	{route: "PATCH /admin/v1/users/{name}", path: "/admin/v1/users/uma", body: `{"role":"auditor"}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "PATCH /admin/v1/users/{name}", path: "/admin/v1/users/uma", body: `{"team":"ops"}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "PATCH /admin/v1/users/{name}", path: "/admin/v1/users/max", body: `{"role":"user"}`, want: [5]int{ok200, denied, denied, denied, unauth}},
	{route: "DELETE /admin/v1/users/{name}", path: "/admin/v1/users/una", want: [5]int{gone, gone, denied, denied, unauth}},
	{route: "DELETE /admin/v1/users/{name}", path: "/admin/v1/users/olga", want: [5]int{gone, hidden, denied, denied, unauth}},
	{route: "DELETE /admin/v1/users/{name}", path: "/admin/v1/users/max", want: [5]int{gone, denied, denied, denied, unauth}},
	{route: "DELETE /admin/v1/users/{name}", path: "/admin/v1/users/uma", want: [5]int{clash, clash, denied, denied, unauth}},

	// Providers and usage.
	{route: "GET /admin/v1/providers", path: "/admin/v1/providers", want: [5]int{ok200, ok200, denied, ok200, unauth}},
	{route: "GET /admin/v1/usage", path: "/admin/v1/usage?by=user", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		visible: map[string][]string{
			"admin":   {"ann", "mia", "oscar", "uma"},
			"auditor": {"ann", "mia", "oscar", "uma"},
			"manager": {"mia", "uma"},
			"user":    {"uma"},
		}},
	{route: "GET /admin/v1/usage", path: "/admin/v1/usage?by=team&team=ops", want: [5]int{ok200, denied, ok200, ok200, unauth},
		visible: map[string][]string{"admin": {"ops"}, "auditor": {"ops"}, "user": {}}},
	{route: "GET /admin/v1/usage", path: "/admin/v1/usage?by=user&user=oscar", want: [5]int{ok200, ok200, denied, ok200, unauth},
		visible: map[string][]string{"admin": {"oscar"}, "auditor": {"oscar"}, "manager": {}}},

	// The audit log, seen as request ids. Managers see what their team
	// did, users what they did themselves.
	{route: "GET /admin/v1/audit", path: "/admin/v1/audit", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		visible: map[string][]string{
			"admin":   allAudit,
			"auditor": allAudit,
			"manager": {"a1", "a2", "a5", "a6"},
			"user":    {"a1", "a6"},
		}},
	{route: "GET /admin/v1/audit", path: "/admin/v1/audit?since=1d&kind=call", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		visible: map[string][]string{
			"admin":   {"a1", "a2", "a3", "a5"},
			"auditor": {"a1", "a2", "a3", "a5"},
			"manager": {"a1", "a2", "a5"},
			"user":    {"a1"},
		}},
	{route: "GET /admin/v1/audit", path: "/admin/v1/audit?key=<ops-user>", want: [5]int{ok200, ok200, ok200, ok200, unauth},
		visible: map[string][]string{"admin": {"a3"}, "auditor": {"a3"}, "manager": {}, "user": {}}},
	{route: "GET /admin/v1/audit", path: "/admin/v1/audit?kind=login", want: [5]int{bad, bad, bad, bad, unauth}},

	// Alerts, seen as alert ids. Managers see those about their team and
	// its keys; users none.
	{route: "GET /admin/v1/alerts", path: "/admin/v1/alerts", want: [5]int{ok200, ok200, denied, ok200, unauth},
		visible: map[string][]string{
			"admin":   allAlerts,
			"auditor": allAlerts,
			"manager": {"ml-team", "uma-key"},
		}},
	{route: "GET /admin/v1/alerts", path: "/admin/v1/alerts?limit=1001", want: [5]int{bad, bad, denied, bad, unauth}},
}

var allAudit = []string{"a1", "a2", "a3", "a4", "a5", "a6"}
var allAlerts = []string{"ml-team", "uma-key", "ops-key", "address", "ops-team"}

// TestRBACMatrix tries every route as every role and as nobody, and
// compares the status, and for lists what each caller sees, with the
// table above.
func TestRBACMatrix(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range matrix {
		covered[tc.route] = true
		method, _, _ := strings.Cut(tc.route, " ")
		for i, caller := range callers {
			t.Run(tc.route+" "+tc.path+" "+tc.body+" as "+caller, func(t *testing.T) {
				r := newRig(t)
				q := req{method: method, path: r.expand(tc.path), body: tc.body}
				if caller != "anonymous" {
					q.as = caller
				}
				rec := r.do(q)
				if rec.Code != tc.want[i] {
					t.Fatalf("status %d, want %d: %s", rec.Code, tc.want[i], rec.Body.String())
				}
				if rec.Code >= 400 {
					checkRefusal(t, rec.Code, caller, errorOf(t, rec))
					return
				}
				if want, ok := tc.visible[caller]; ok {
					if got := r.visible(t, tc.route, rec.Body.Bytes()); !sameSet(got, want) {
						t.Errorf("%s sees %v, want %v", caller, got, want)
					}
				}
				if tc.check != nil {
					tc.check(t, r, caller, rec.Body.Bytes())
				}
			})
		}
	}
	for _, rt := range compiledRoutes {
		if key := rt.method + " " + rt.pattern; !covered[key] {
			t.Errorf("the matrix has no case for %s", key)
		}
	}
}

// checkRefusal checks what a refusal says: a 403 names the caller's role.
func checkRefusal(t *testing.T, status int, caller string, e apiError) {
	t.Helper()
	if e.Error.Message == "" || e.Error.Code == "" {
		t.Errorf("refusal without message or code: %+v", e)
	}
	if status == http.StatusForbidden && !strings.Contains(e.Error.Message, caller) {
		t.Errorf("403 as %s does not name the role: %q", caller, e.Error.Message)
	}
}

// expand replaces <name> in path with the rig key's id.
func (r *rig) expand(path string) string {
	for {
		i := strings.Index(path, "<")
		if i < 0 {
			return path
		}
		j := strings.Index(path[i:], ">")
		path = path[:i] + r.id(path[i+1:i+j]) + path[i+j+1:]
	}
}

// visible lists what a list response shows: key names, team or user
// names, usage groups.
func (r *rig) visible(t *testing.T, route string, body []byte) []string {
	t.Helper()
	var out []string
	switch route {
	case "GET /admin/v1/keys":
		var l list[keyview.Key]
		mustJSON(t, body, &l)
		for _, k := range l.Data {
			out = append(out, k.Name)
		}
	case "GET /admin/v1/teams":
		var l list[keyview.Team]
		mustJSON(t, body, &l)
		for _, x := range l.Data {
			out = append(out, x.Name)
		}
	case "GET /admin/v1/users":
		var l list[keyview.User]
		mustJSON(t, body, &l)
		for _, x := range l.Data {
			out = append(out, x.Name)
		}
	case "GET /admin/v1/usage":
		var u usageJSON
		mustJSON(t, body, &u)
		for _, row := range u.Rows {
			out = append(out, row.Group)
		}
	case "GET /admin/v1/audit":
		var p auditPage
		mustJSON(t, body, &p)
		for _, rec := range p.Records {
			out = append(out, rec.RequestID)
		}
	case "GET /admin/v1/alerts":
		var l list[alert.Alert]
		mustJSON(t, body, &l)
		for _, a := range l.Data {
			out = append(out, a.ID)
		}
	default:
		t.Fatalf("no list in %s", route)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
