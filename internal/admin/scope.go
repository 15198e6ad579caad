package admin

import (
	"slices"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/keys"
)

// What each access level reaches. A level a handler does not expect
// reaches nothing (fail closed).

// reachesKey reports whether access l lets p reach key k.
func reachesKey(l access, p *auth.Principal, k keys.Key) bool {
	switch l {
	case allAccess:
		return true
	case teamAccess:
		return p.Team != "" && k.Team == p.Team
	case ownAccess:
		return owns(p, k)
	}
	return false
}

// owns reports whether k is p's: it acts for p's user, or, when p acts
// for no user, it is the very key p authenticated with.
func owns(p *auth.Principal, k keys.Key) bool {
	if p.User != "" {
		return k.User == p.User
	}
	return p.KeyID != "" && k.ID == p.KeyID
}

// reachesTeam reports whether access l lets p reach the team name.
func reachesTeam(l access, p *auth.Principal, name string) bool {
	switch l {
	case allAccess:
		return true
	case teamAccess:
		return p.Team != "" && name == p.Team
	}
	return false
}

// reachesUser reports whether access l lets p reach user u.
func reachesUser(l access, p *auth.Principal, u keys.User) bool {
	switch l {
	case allAccess:
		return true
	case teamAccess:
		return p.Team != "" && u.Team == p.Team
	}
	return false
}

// grantable lists the roles each role may give keys and users. Nobody but
// an admin gives a role above their own: managers give manager and user,
// users only user. Auditors read everything, beyond any one team, so only
// admins make them.
var grantable = map[auth.Role][]string{
	auth.RoleAdmin:   {keys.RoleAdmin, keys.RoleManager, keys.RoleUser, keys.RoleAuditor},
	auth.RoleManager: {keys.RoleManager, keys.RoleUser},
	auth.RoleUser:    {keys.RoleUser},
}

// mayGrant reports whether p may give role (empty: the default, user).
func mayGrant(p *auth.Principal, role string) bool {
	if role == "" {
		role = keys.RoleUser
	}
	return slices.Contains(grantable[p.Role], role)
}

// checkGrant refuses a role p may not give, with what p was doing. A
// name that is no role at all is left to the key manager, which refuses
// it as a bad field.
func checkGrant(p *auth.Principal, role, what string) error {
	if mayGrant(p, role) || (role != "" && !keys.ValidRole(role)) {
		return nil
	}
	if role == "" {
		role = keys.RoleUser
	}
	return refuse(p, what+" with role "+role)
}

// checkHolder refuses changes to a record whose role p could not have
// given: a manager rotating an admin key of their team would get an admin
// key's secret; a user suspending an admin key made for them would take
// an admin's key away.
func checkHolder(p *auth.Principal, role, what string) error {
	if mayGrant(p, role) {
		return nil
	}
	if role == "" {
		role = keys.RoleUser
	}
	return refuse(p, what+" that have role "+role)
}

// needTeam refuses team-level work by a caller that has no team.
func needTeam(p *auth.Principal, what string) error {
	if p.Team != "" {
		return nil
	}
	return apperr.New(apperr.Forbidden, roleNoun(p)+" without a team may not "+what)
}
