package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardenproject/warden/internal/auth"
)

// access is how far a role reaches through one route.
type access uint8

const (
	// noAccess refuses the route with a 403.
	noAccess access = iota
	// ownAccess reaches the caller's own records: the keys that act for
	// the caller's user (for a key that acts for no user, that key alone),
	// and their usage.
	ownAccess
	// teamAccess reaches the keys, users, budget and usage of the caller's
	// team.
	teamAccess
	// allAccess reaches everything.
	allAccess
)

var accessNames = [...]string{noAccess: "none", ownAccess: "own", teamAccess: "team", allAccess: "all"}

func (l access) String() string {
	if int(l) < len(accessNames) {
		return accessNames[l]
	}
	return "none"
}

// grants is one route's access for each role. A role that is not one of
// auth.Roles gets noAccess everywhere (fail closed).
type grants struct {
	admin, manager, user, auditor access
}

func (g grants) of(r auth.Role) access {
	switch r {
	case auth.RoleAdmin:
		return g.admin
	case auth.RoleManager:
		return g.manager
	case auth.RoleUser:
		return g.user
	case auth.RoleAuditor:
		return g.auditor
	}
	return noAccess
}

// route is one operation of the API.
type route struct {
	method string
	// pattern is the path as the OpenAPI file writes it, {name} for a
	// parameter segment.
	pattern string
	// op is the operationId in the OpenAPI file.
	op string
	// action says what the route does, for refusals: "a user may not
	// <action>".
	action string
	// public routes are served without authentication.
	public bool
	grants grants
	serve  func(*api, *call) error

	segs []string // pattern split at '/', without the leading empty one
}

// Shorthands for the table below.
const (
	none = noAccess
	own  = ownAccess
	team = teamAccess
	all  = allAccess
)

// routeTable is the whole API and its permission table: for each route,
// the access of admin, manager, user and auditor, in that order. Handlers
// read the access they were given and never look at the role themselves;
// what each level lets through is in scope.go.
var routeTable = []route{
	{method: http.MethodGet, pattern: "/admin/v1/openapi.yaml", op: "getOpenAPI", action: "read the API description", public: true},
	//                                                                                              admin manager user auditor
	{method: http.MethodGet, pattern: "/admin/v1/me", op: "getMe", action: "see who they are", grants: grants{own, own, own, own}},

	{method: http.MethodGet, pattern: "/admin/v1/keys", op: "listKeys", action: "list keys", grants: grants{all, team, own, all}},
	{method: http.MethodPost, pattern: "/admin/v1/keys", op: "createKey", action: "create keys", grants: grants{all, team, own, none}},
	{method: http.MethodGet, pattern: "/admin/v1/keys/{id}", op: "getKey", action: "read keys", grants: grants{all, team, own, all}},
	{method: http.MethodPatch, pattern: "/admin/v1/keys/{id}", op: "updateKey", action: "change keys", grants: grants{all, team, none, none}},
	{method: http.MethodPost, pattern: "/admin/v1/keys/{id}/revoke", op: "revokeKey", action: "revoke keys", grants: grants{all, team, own, none}},
	{method: http.MethodPost, pattern: "/admin/v1/keys/{id}/rotate", op: "rotateKey", action: "rotate keys", grants: grants{all, team, own, none}},
	{method: http.MethodPost, pattern: "/admin/v1/keys/{id}/suspend", op: "suspendKey", action: "suspend keys", grants: grants{all, team, own, none}},
	// Users may suspend their own keys but not resume them: a key an
	// admin or manager suspended stays suspended.
	{method: http.MethodPost, pattern: "/admin/v1/keys/{id}/resume", op: "resumeKey", action: "resume keys", grants: grants{all, team, none, none}},

	{method: http.MethodGet, pattern: "/admin/v1/teams", op: "listTeams", action: "list teams", grants: grants{all, team, none, all}},
	{method: http.MethodPost, pattern: "/admin/v1/teams", op: "createTeam", action: "create teams", grants: grants{all, none, none, none}},
	{method: http.MethodGet, pattern: "/admin/v1/teams/{name}", op: "getTeam", action: "read teams", grants: grants{all, team, none, all}},
	// Managers may change their team's limits and budget, nothing else.
	{method: http.MethodPatch, pattern: "/admin/v1/teams/{name}", op: "updateTeam", action: "change teams", grants: grants{all, team, none, none}},
	{method: http.MethodDelete, pattern: "/admin/v1/teams/{name}", op: "deleteTeam", action: "delete teams", grants: grants{all, none, none, none}},

	{method: http.MethodGet, pattern: "/admin/v1/users", op: "listUsers", action: "list users", grants: grants{all, team, none, all}},
	{method: http.MethodPost, pattern: "/admin/v1/users", op: "createUser", action: "create users", grants: grants{all, team, none, none}},
	{method: http.MethodGet, pattern: "/admin/v1/users/{name}", op: "getUser", action: "read users", grants: grants{all, team, none, all}},
	{method: http.MethodPatch, pattern: "/admin/v1/users/{name}", op: "updateUser", action: "change users", grants: grants{all, team, none, none}},
	{method: http.MethodDelete, pattern: "/admin/v1/users/{name}", op: "deleteUser", action: "delete users", grants: grants{all, team, none, none}},

	{method: http.MethodGet, pattern: "/admin/v1/providers", op: "listProviders", action: "list providers", grants: grants{all, all, none, all}},
	{method: http.MethodGet, pattern: "/admin/v1/usage", op: "getUsage", action: "read usage", grants: grants{all, team, own, all}},

	// The audit log: managers read the records their team's members made,
	// users their own.
	{method: http.MethodGet, pattern: "/admin/v1/audit", op: "listAudit", action: "read the audit log", grants: grants{all, team, own, all}},
	// Managers see the alerts about their team and its keys.
	{method: http.MethodGet, pattern: "/admin/v1/alerts", op: "listAlerts", action: "list alerts", grants: grants{all, team, none, all}},
}

// handlers binds each operation to its code. It is apart from routeTable
// so that the table reads as a table.
var handlers = map[string]func(*api, *call) error{
	"getOpenAPI": (*api).openAPI,
	"getMe":      (*api).me,

	"listKeys":   (*api).listKeys,
	"createKey":  (*api).createKey,
	"getKey":     (*api).getKey,
	"updateKey":  (*api).updateKey,
	"revokeKey":  (*api).revokeKey,
	"rotateKey":  (*api).rotateKey,
	"suspendKey": (*api).suspendKey,
	"resumeKey":  (*api).resumeKey,

	"listTeams":  (*api).listTeams,
	"createTeam": (*api).createTeam,
	"getTeam":    (*api).getTeam,
	"updateTeam": (*api).updateTeam,
	"deleteTeam": (*api).deleteTeam,

	"listUsers":  (*api).listUsers,
	"createUser": (*api).createUser,
	"getUser":    (*api).getUser,
	"updateUser": (*api).updateUser,
	"deleteUser": (*api).deleteUser,

	"listProviders": (*api).listProviders,
	"getUsage":      (*api).usage,
	"listAudit":     (*api).listAudit,
	"listAlerts":    (*api).listAlerts,
}

// compiledRoutes is routeTable ready for matching. Building it panics on
// a route without a handler: a programming error that every test run
// would hit first.
var compiledRoutes = compile(routeTable)

func compile(table []route) []*route {
	out := make([]*route, 0, len(table))
	for _, r := range table {
		r.serve = handlers[r.op]
		if r.serve == nil {
			panic("admin: no handler for operation " + r.op)
		}
		r.segs = strings.Split(strings.TrimPrefix(r.pattern, "/"), "/")
		out = append(out, &r)
	}
	return out
}

// match finds the route for method and the request's escaped path. It
// returns the route and its path parameters; or nil and the methods the
// path has (none when no route has the path). Paths that are not clean
// (empty, "." or ".." segments, a trailing slash) match nothing: they could
// be read as another path by something in front.
func match(routes []*route, method, escaped string) (*route, map[string]string, []string) {
	rest, ok := strings.CutPrefix(escaped, "/")
	if !ok {
		return nil, nil, nil
	}
	raw := strings.Split(rest, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || u == "." || u == ".." || strings.Contains(u, "/") {
			return nil, nil, nil
		}
		segs[i] = u
	}
	var allow []string
	for _, r := range routes {
		params, ok := r.matchSegs(segs)
		if !ok {
			continue
		}
		if r.method == method {
			return r, params, nil
		}
		if !slices.Contains(allow, r.method) {
			allow = append(allow, r.method)
		}
	}
	return nil, nil, allow
}

func (r *route) matchSegs(segs []string) (map[string]string, bool) {
	if len(segs) != len(r.segs) {
		return nil, false
	}
	var params map[string]string
	for i, p := range r.segs {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			if params == nil {
				params = make(map[string]string, 1)
			}
			params[strings.TrimSuffix(name, "}")] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}
