package admin

import (
	"net/http"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
)

// userCreate is the body of POST /admin/v1/users.
type userCreate struct {
	Name   string    `json:"name"`
	Team   string    `json:"team"`
	Role   string    `json:"role"`
	Limits *limitsIn `json:"limits"`
	Budget *budgetIn `json:"budget"`
}

// userPatch is the body of PATCH /admin/v1/users/{name}, a JSON merge
// patch.
type userPatch struct {
	Team   opt[string]      `json:"team"`
	Role   opt[string]      `json:"role"`
	Limits opt[limitsPatch] `json:"limits"`
	Budget opt[budgetIn]    `json:"budget"`
}

func (a *api) listUsers(c *call) error {
	us, err := a.o.Users.ListUsers(c.r.Context())
	if err != nil {
		return recordErr(err, errInternal)
	}
	out := list[keyview.User]{Data: []keyview.User{}}
	for _, u := range us {
		if reachesUser(c.access, c.p, u) {
			out.Data = append(out.Data, keyview.FromUser(u))
		}
	}
	return c.reply(http.StatusOK, out)
}

func (a *api) createUser(c *call) error {
	var in userCreate
	if err := c.decode(&in, false); err != nil {
		return err
	}
	b, err := in.Budget.budget()
	if err != nil {
		return bodyError(err)
	}
	u := keys.User{Name: in.Name, Team: in.Team, Role: in.Role, Limits: in.Limits.limits(), Budget: b}
	p := c.p
	switch c.access {
	case allAccess:
	case teamAccess:
		if err := needTeam(p, "create users"); err != nil {
			return err
		}
		if u.Team != "" && u.Team != p.Team {
			return refuse(p, "create users outside team "+p.Team)
		}
		u.Team = p.Team
	default:
		return refuse(p, c.route.action)
	}
	if err := checkGrant(p, u.Role, "create users"); err != nil {
		return err
	}
	u, err = a.o.Users.CreateUser(c.r.Context(), u)
	if err != nil {
		return recordErr(err, &apperr.Error{Code: apperr.Invalid, Param: "team", Message: "team: the user's team does not exist"})
	}
	a.audit(c, "user/"+u.Name)
	c.w.Header().Set("Location", "/admin/v1/users/"+u.Name)
	return c.reply(http.StatusCreated, keyview.FromUser(u))
}

// reachableUser loads the user of the path's {name}, if the caller
// reaches it.
func (a *api) reachableUser(c *call) (keys.User, error) {
	name := c.params["name"]
	if keys.CheckName("user", name) != nil {
		return keys.User{}, noUser(name)
	}
	u, err := a.o.Users.GetUser(c.r.Context(), name)
	if err != nil {
		return keys.User{}, recordErr(err, noUser(name))
	}
	if !reachesUser(c.access, c.p, u) {
		return keys.User{}, noUser(name)
	}
	return u, nil
}

// writableUser is reachableUser for a change: the caller must also be
// able to give the user's role.
func (a *api) writableUser(c *call) (keys.User, error) {
	u, err := a.reachableUser(c)
	if err != nil {
		return u, err
	}
	return u, checkHolder(c.p, u.Role, c.route.action)
}

func (a *api) getUser(c *call) error {
	u, err := a.reachableUser(c)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, keyview.FromUser(u))
}

func (a *api) updateUser(c *call) error {
	var in userPatch
	if err := c.decode(&in, false); err != nil {
		return err
	}
	up := keys.UserUpdate{Team: in.Team.value(), Role: in.Role.value(), Limits: limitsUpdate(in.Limits)}
	var err error
	if up.Budget, err = budgetUpdate(in.Budget); err != nil {
		return bodyError(err)
	}
	u, err := a.writableUser(c)
	if err != nil {
		return err
	}
	p := c.p
	switch c.access {
	case allAccess:
	case teamAccess:
		if up.Team != nil && *up.Team != p.Team {
			return refuse(p, "move users out of team "+p.Team)
		}
	default:
		return refuse(p, c.route.action)
	}
	if up.Role != nil {
		if err := checkGrant(p, *up.Role, "give users"); err != nil {
			return err
		}
	}
	name := u.Name
	if u, err = a.o.Users.UpdateUser(c.r.Context(), name, up); err != nil {
		return recordErr(err, noUser(name))
	}
	a.audit(c, "user/"+name)
	return c.reply(http.StatusOK, keyview.FromUser(u))
}

func (a *api) deleteUser(c *call) error {
	u, err := a.writableUser(c)
	if err != nil {
		return err
	}
	if c.access != allAccess && c.access != teamAccess {
		return refuse(c.p, c.route.action)
	}
	if err := a.o.Users.DeleteUser(c.r.Context(), u.Name); err != nil {
		return recordErr(err, noUser(u.Name))
	}
	a.audit(c, "user/"+u.Name)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
