package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store"
)

// keyCreate is the body of POST /admin/v1/keys.
type keyCreate struct {
	Name      string     `json:"name"`
	Models    []string   `json:"models"`
	Routes    []string   `json:"routes"`
	IPs       []string   `json:"ips"`
	Limits    *limitsIn  `json:"limits"`
	Budget    *budgetIn  `json:"budget"`
	Team      string     `json:"team"`
	User      string     `json:"user"`
	Role      string     `json:"role"`
	Tags      []string   `json:"tags"`
	TTL       string     `json:"ttl"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (in keyCreate) spec() (keys.Spec, error) {
	s := keys.Spec{Name: in.Name, Models: in.Models, Routes: in.Routes, Limits: in.Limits.limits(),
		Team: in.Team, User: in.User, Role: in.Role, Tags: in.Tags}
	var err error
	if s.IPs, err = parseIPs(in.IPs); err != nil {
		return s, err
	}
	if s.Budget, err = in.Budget.budget(); err != nil {
		return s, err
	}
	if s.TTL, err = parseTTL(in.TTL); err != nil {
		return s, err
	}
	if in.ExpiresAt != nil {
		s.ExpiresAt = *in.ExpiresAt
	}
	return s, nil
}

// keyPatch is the body of PATCH /admin/v1/keys/{id}, a JSON merge patch.
type keyPatch struct {
	Name      opt[string]      `json:"name"`
	Models    opt[[]string]    `json:"models"`
	Routes    opt[[]string]    `json:"routes"`
	IPs       opt[[]string]    `json:"ips"`
	Tags      opt[[]string]    `json:"tags"`
	Limits    opt[limitsPatch] `json:"limits"`
	Budget    opt[budgetIn]    `json:"budget"`
	Team      opt[string]      `json:"team"`
	User      opt[string]      `json:"user"`
	Role      opt[string]      `json:"role"`
	TTL       opt[string]      `json:"ttl"`
	ExpiresAt opt[time.Time]   `json:"expires_at"`
}

func (in keyPatch) update() (keys.KeyUpdate, error) {
	u := keys.KeyUpdate{Models: listUpdate(in.Models), Routes: listUpdate(in.Routes), Tags: listUpdate(in.Tags),
		Limits: limitsUpdate(in.Limits), Team: in.Team.value(), User: in.User.value(), Role: in.Role.value(),
		ExpiresAt: in.ExpiresAt.value()}
	if in.Name.Null {
		return u, &keys.FieldError{Field: "name", Problem: "a key always has a name; give a new one or leave it out"}
	}
	u.Name = in.Name.value()
	if ips := listUpdate(in.IPs); ips != nil {
		p, err := parseIPs(ips)
		if err != nil {
			return u, err
		}
		u.IPs = p
	}
	var err error
	if u.Budget, err = budgetUpdate(in.Budget); err != nil {
		return u, err
	}
	if u.TTL, err = parseTTL(in.TTL.V); err != nil {
		return u, err
	}
	return u, nil
}

// rotateIn is the optional body of POST /admin/v1/keys/{id}/rotate.
type rotateIn struct {
	// Grace is how long the old secret keeps working, e.g. "1h"; none
	// stops it at once.
	Grace string `json:"grace"`
}

func (a *api) listKeys(c *call) error {
	ks, err := a.o.Keys.List(c.r.Context())
	if err != nil {
		return recordErr(err, errInternal)
	}
	now := a.now()
	out := list[keyview.Key]{Data: []keyview.Key{}}
	for _, k := range ks {
		if reachesKey(c.access, c.p, k) {
			out.Data = append(out.Data, keyview.FromKey(k, now))
		}
	}
	return c.reply(http.StatusOK, out)
}

func (a *api) createKey(c *call) error {
	var in keyCreate
	if err := c.decode(&in, false); err != nil {
		return err
	}
	spec, err := in.spec()
	if err != nil {
		return bodyError(err)
	}
	p := c.p
	switch c.access {
	case allAccess:
	case teamAccess:
		// Keys a manager makes are in the manager's team, for nobody
		// or a user of it.
		if err := needTeam(p, "create keys"); err != nil {
			return err
		}
		if spec.Team != "" && spec.Team != p.Team {
			return refuse(p, "create keys outside team "+p.Team)
		}
		spec.Team = p.Team
		if spec.User != "" {
			if err := a.userInTeam(c, spec.User, p.Team); err != nil {
				return err
			}
		}
	case ownAccess:
		// Keys a user makes act for that user, in that user's team.
		if p.User == "" {
			return apperr.New(apperr.Forbidden, roleNoun(p)+" whose key acts for no user may not create keys; ask a manager or an admin")
		}
		if spec.User != "" && spec.User != p.User {
			return refuse(p, "create keys for another user")
		}
		if spec.Team != "" && spec.Team != p.Team {
			return refuse(p, "create keys outside their own team")
		}
		spec.User = p.User
	default:
		return refuse(p, c.route.action)
	}
	if err := checkGrant(p, spec.Role, "create keys"); err != nil {
		return err
	}
	k, sec, err := a.o.Keys.Create(c.r.Context(), spec)
	if err != nil {
		return recordErr(err, apperr.New(apperr.Invalid, "a team or user the key names does not exist"))
	}
	defer sec.Destroy()
	a.audit(c, k.ID)
	c.w.Header().Set("Location", "/admin/v1/keys/"+k.ID)
	return a.writeNewKey(c, http.StatusCreated, k, sec)
}

// userInTeam refuses a user that is not in team, without telling whether
// the user exists elsewhere.
func (a *api) userInTeam(c *call, name, team string) error {
	u, err := a.o.Users.GetUser(c.r.Context(), name)
	switch {
	case err == nil && u.Team == team:
		return nil
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return recordErr(err, noUser(name))
	}
	return &apperr.Error{Code: apperr.Invalid, Param: "user", Message: "user: no user of that name in team " + team}
}

// writeNewKey sends a key with its secret, the one time it is shown. The
// secret goes from its own bytes into the response, and every copy is
// zeroed once written.
func (a *api) writeNewKey(c *call, status int, k keys.Key, sec secret.Secret) error {
	quoted := make([]byte, 0, sec.Len()+2)
	quoted = append(append(append(quoted, '"'), sec.Reveal()...), '"')
	defer clear(quoted)
	out := keyview.Created{Secret: quoted, Key: keyview.FromKey(k, a.now())}
	if k.State != keys.Revoked && !k.PreviousValidUntil.IsZero() {
		out.PreviousValidUntil = optTime(k.PreviousValidUntil)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "internal error: cannot encode the new key", err)
	}
	defer clear(b)
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(b)
	_, _ = c.w.Write([]byte("\n"))
	return nil
}

// reachableKey loads the key of the path's {id}, if the caller reaches it.
func (a *api) reachableKey(c *call) (keys.Key, error) {
	id := c.params["id"]
	if !keys.ValidID(id) {
		return keys.Key{}, noKey(id)
	}
	k, err := a.o.Keys.Get(c.r.Context(), id)
	if err != nil {
		return keys.Key{}, recordErr(err, noKey(id))
	}
	if !reachesKey(c.access, c.p, k) {
		return keys.Key{}, noKey(id)
	}
	return k, nil
}

// writableKey is reachableKey for a change: the caller must also be able
// to give the key's role.
func (a *api) writableKey(c *call) (keys.Key, error) {
	k, err := a.reachableKey(c)
	if err != nil {
		return k, err
	}
	return k, checkHolder(c.p, k.Role, c.route.action)
}

func (a *api) getKey(c *call) error {
	k, err := a.reachableKey(c)
	if err != nil {
		return err
	}
	return c.reply(http.StatusOK, keyview.FromKey(k, a.now()))
}

func (a *api) updateKey(c *call) error {
	var in keyPatch
	if err := c.decode(&in, false); err != nil {
		return err
	}
	u, err := in.update()
	if err != nil {
		return bodyError(err)
	}
	k, err := a.writableKey(c)
	if err != nil {
		return err
	}
	p := c.p
	switch c.access {
	case allAccess:
	case teamAccess:
		if u.Team != nil && *u.Team != p.Team {
			return refuse(p, "move keys out of team "+p.Team)
		}
		if u.User != nil && *u.User != "" {
			if err := a.userInTeam(c, *u.User, p.Team); err != nil {
				return err
			}
		}
	default:
		return refuse(p, c.route.action)
	}
	if u.Role != nil {
		if err := checkGrant(p, *u.Role, "give keys"); err != nil {
			return err
		}
	}
	id := k.ID
	k, err = a.o.Keys.UpdateKey(c.r.Context(), id, u)
	if err != nil {
		return recordErr(err, noKey(id))
	}
	a.audit(c, id)
	return c.reply(http.StatusOK, keyview.FromKey(k, a.now()))
}

// keyState serves revoke, suspend and resume, and answers with the key
// as it is afterwards.
func (a *api) keyState(c *call, op func(context.Context, string) error) error {
	k, err := a.writableKey(c)
	if err != nil {
		return err
	}
	id := k.ID
	if err := op(c.r.Context(), id); err != nil {
		return recordErr(err, noKey(id))
	}
	a.audit(c, id)
	if k, err = a.o.Keys.Get(c.r.Context(), id); err != nil {
		return recordErr(err, noKey(id))
	}
	return c.reply(http.StatusOK, keyview.FromKey(k, a.now()))
}

func (a *api) revokeKey(c *call) error  { return a.keyState(c, a.o.Keys.Revoke) }
func (a *api) suspendKey(c *call) error { return a.keyState(c, a.o.Keys.Suspend) }
func (a *api) resumeKey(c *call) error  { return a.keyState(c, a.o.Keys.Resume) }

func (a *api) rotateKey(c *call) error {
	var in rotateIn
	if err := c.decode(&in, true); err != nil {
		return err
	}
	var grace time.Duration
	if in.Grace != "" {
		d, err := time.ParseDuration(in.Grace)
		if err != nil || d < 0 {
			return &apperr.Error{Code: apperr.Invalid, Param: "grace", Message: `grace: not a duration of zero or more; write it like "1h" or "15m"`}
		}
		grace = d
	}
	k, err := a.writableKey(c)
	if err != nil {
		return err
	}
	id := k.ID
	k, sec, err := a.o.Keys.Rotate(c.r.Context(), id, grace)
	if err != nil {
		return recordErr(err, noKey(id))
	}
	defer sec.Destroy()
	a.audit(c, k.ID)
	return a.writeNewKey(c, http.StatusOK, k, sec)
}
