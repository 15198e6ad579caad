package admin

import (
	"net/http"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
)

// teamCreate is the body of POST /admin/v1/teams.
type teamCreate struct {
	Name   string    `json:"name"`
	Models []string  `json:"models"`
	Limits *limitsIn `json:"limits"`
	Budget *budgetIn `json:"budget"`
}

// teamPatch is the body of PATCH /admin/v1/teams/{name}, a JSON merge
// patch.
type teamPatch struct {
	Models opt[[]string]    `json:"models"`
	Limits opt[limitsPatch] `json:"limits"`
	Budget opt[budgetIn]    `json:"budget"`
}

func (a *api) listTeams(c *call) error {
	ts, err := a.o.Teams.ListTeams(c.r.Context())
	if err != nil {
		return recordErr(err, errInternal)
	}
	out := list[keyview.Team]{Data: []keyview.Team{}}
	for _, t := range ts {
		if reachesTeam(c.access, c.p, t.Name) {
			out.Data = append(out.Data, keyview.FromTeam(t))
		}
	}
	return c.reply(http.StatusOK, out)
}

func (a *api) createTeam(c *call) error {
	if c.access != allAccess {
		return refuse(c.p, c.route.action)
	}
	var in teamCreate
	if err := c.decode(&in, false); err != nil {
		return err
	}
	b, err := in.Budget.budget()
	if err != nil {
		return bodyError(err)
	}
	t, err := a.o.Teams.CreateTeam(c.r.Context(), keys.Team{Name: in.Name, Models: in.Models, Limits: in.Limits.limits(), Budget: b})
	if err != nil {
		return recordErr(err, apperr.New(apperr.Invalid, "the team could not be created"))
	}
	a.audit(c, "team/"+t.Name)
	c.w.Header().Set("Location", "/admin/v1/teams/"+t.Name)
	return c.reply(http.StatusCreated, keyview.FromTeam(t))
}

// reachableTeam loads the team of the path's {name}, if the caller
// reaches it.
func (a *api) reachableTeam(c *call) (keys.Team, error) {
	name := c.params["name"]
	if keys.CheckName("team", name) != nil || !reachesTeam(c.access, c.p, name) {
		return keys.Team{}, noTeam(name)
	}
	t, err := a.o.Teams.GetTeam(c.r.Context(), name)
	if err != nil {
		return keys.Team{}, recordErr(err, noTeam(name))
	}
	return t, nil
}

func (a *api) getTeam(c *call) error {
	t, err := a.reachableTeam(c)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, keyview.FromTeam(t))
}

func (a *api) updateTeam(c *call) error {
	var in teamPatch
	if err := c.decode(&in, false); err != nil {
		return err
	}
	u := keys.TeamUpdate{Models: listUpdate(in.Models), Limits: limitsUpdate(in.Limits)}
	var err error
	if u.Budget, err = budgetUpdate(in.Budget); err != nil {
		return bodyError(err)
	}
	t, err := a.reachableTeam(c)
	if err != nil {
		return err
	}
	switch c.access {
	case allAccess:
	case teamAccess:
		// The team's model cap is the admins' to set: a manager could
		// otherwise open every model to the team.
		if in.Models.Set {
			return refuse(c.p, "change the models of team "+t.Name+"; managers change its limits and budget")
		}
	default:
		return refuse(c.p, c.route.action)
	}
	t, err = a.o.Teams.UpdateTeam(c.r.Context(), t.Name, u)
	if err != nil {
		return recordErr(err, noTeam(c.params["name"]))
	}
	a.audit(c, "team/"+t.Name)
	return c.reply(http.StatusOK, keyview.FromTeam(t))
}

func (a *api) deleteTeam(c *call) error {
	if c.access != allAccess {
		return refuse(c.p, c.route.action)
	}
	name := c.params["name"]
	if keys.CheckName("team", name) != nil {
		return noTeam(name)
	}
	if err := a.o.Teams.DeleteTeam(c.r.Context(), name); err != nil {
		return recordErr(err, noTeam(name))
	}
	a.audit(c, "team/"+name)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
