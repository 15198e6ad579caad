package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

// Team is a group of users and keys that shares limits, a budget and a cap
// on models. A key in a team obeys both its own policy and the team's.
type Team struct {
	// Name identifies the team (see CheckName).
	Name string
	// Limits and Budget apply to all the team's calls together.
	Limits Limits
	Budget meter.Budget
	// Models, if set, caps the models of every key in the team: a call
	// needs both the key's and the team's permission.
	Models    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AllowsModel reports whether the team lets its keys use model.
func (t Team) AllowsModel(model string) bool { return allowsModel(t.Models, model) }

// User is a person (or service) that keys act for, named for example by
// email address.
type User struct {
	// Name identifies the user (see CheckName).
	Name string
	// Team is the team the user belongs to, if any. A key made for the
	// user without a team of its own joins it.
	Team string
	// Role is one of Roles; RoleUser unless set.
	Role string
	// Limits and Budget apply to all the user's calls together.
	Limits    Limits
	Budget    meter.Budget
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TeamUpdate changes some of a team: nil fields are left alone.
type TeamUpdate struct {
	Limits LimitsUpdate
	// Budget replaces the budget; the zero Budget removes it.
	Budget *meter.Budget
	// Models replaces the model cap when not nil; an empty, non-nil slice
	// removes it.
	Models []string
}

// UserUpdate changes some of a user: nil fields are left alone.
type UserUpdate struct {
	// Team moves the user; "" takes the user out of any team.
	Team *string
	// Role changes the role; "" is RoleUser.
	Role   *string
	Limits LimitsUpdate
	// Budget replaces the budget; the zero Budget removes it.
	Budget *meter.Budget
}

// maxUpdateTries bounds how often an update is redone when another
// process changed the same record between its read and its write.
const maxUpdateTries = 3

// CreateTeam creates a team from t's name, limits, budget and models.
func (m *Manager) CreateTeam(ctx context.Context, t Team) (Team, error) {
	if err := CheckName("name", t.Name); err != nil {
		return Team{}, fmt.Errorf("create team: %w", err)
	}
	t, err := checkTeam(t)
	if err != nil {
		return Team{}, fmt.Errorf("create team %s: %w", t.Name, err)
	}
	t.CreatedAt = m.stamp()
	t.UpdatedAt = t.CreatedAt
	if err := m.store.CreateTeam(ctx, t); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Team{}, fmt.Errorf("%w: a team of that name exists (change it with warden teams update %s)", err, t.Name)
		}
		return Team{}, err
	}
	m.log.Info("team created", "team", t.Name)
	return t, nil
}

func checkTeam(t Team) (Team, error) {
	var err error
	if t.Models, err = checkModels(t.Models); err != nil {
		return t, err
	}
	if err := checkLimits(t.Limits); err != nil {
		return t, err
	}
	return t, checkBudget(t.Budget)
}

// GetTeam returns the team with the given name.
func (m *Manager) GetTeam(ctx context.Context, name string) (Team, error) {
	if err := CheckName("team", name); err != nil {
		return Team{}, fmt.Errorf("%w: %w", err, ErrNotFound)
	}
	t, err := m.store.TeamByName(ctx, name)
	if err != nil {
		return Team{}, fmt.Errorf("team %s: %w", name, notFoundHint(err, "team", name))
	}
	return t, nil
}

// ListTeams returns every team, by name.
func (m *Manager) ListTeams(ctx context.Context) ([]Team, error) {
	ts, err := m.store.ListTeams(ctx)
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return ts, nil
}

// UpdateTeam changes a team and returns it as stored. An update that
// changes nothing writes nothing.
func (m *Manager) UpdateTeam(ctx context.Context, name string, u TeamUpdate) (Team, error) {
	if err := CheckName("team", name); err != nil {
		return Team{}, fmt.Errorf("update team: %w: %w", err, ErrNotFound)
	}
	for try := 1; ; try++ {
		t, err := m.store.TeamByName(ctx, name)
		if err != nil {
			return Team{}, fmt.Errorf("update team %s: %w", name, notFoundHint(err, "team", name))
		}
		next := t
		next.Limits = u.Limits.apply(t.Limits)
		if u.Budget != nil {
			next.Budget = *u.Budget
		}
		if u.Models != nil {
			next.Models = u.Models
		}
		if next, err = checkTeam(next); err != nil {
			return Team{}, fmt.Errorf("update team %s: %w", name, err)
		}
		if sameTeam(t, next) {
			return t, nil
		}
		next.UpdatedAt = m.after(t.UpdatedAt)
		err = m.store.UpdateTeam(ctx, next, t.UpdatedAt)
		if errors.Is(err, store.ErrConflict) && try < maxUpdateTries {
			continue
		}
		if err != nil {
			return Team{}, writeErr("update", "team", name, err)
		}
		m.log.Info("team updated", "team", name)
		return next, nil
	}
}

// DeleteTeam deletes a team that no user and no unrevoked key names.
func (m *Manager) DeleteTeam(ctx context.Context, name string) error {
	if err := CheckName("team", name); err != nil {
		return fmt.Errorf("delete team: %w: %w", err, ErrNotFound)
	}
	if err := m.store.DeleteTeam(ctx, name); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w; move them to another team first (warden keys update ID --team OTHER, warden users update NAME --team OTHER) or revoke the keys", err)
		}
		return writeErr("delete", "team", name, err)
	}
	m.log.Info("team deleted", "team", name)
	return nil
}

// CreateUser creates a user from u's name, team, role, limits and budget.
func (m *Manager) CreateUser(ctx context.Context, u User) (User, error) {
	if err := CheckName("name", u.Name); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	u, err := m.checkUser(ctx, u)
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Name, err)
	}
	u.CreatedAt = m.stamp()
	u.UpdatedAt = u.CreatedAt
	if err := m.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return User{}, fmt.Errorf("%w: a user of that name exists (change it with warden users update %s)", err, u.Name)
		}
		return User{}, err
	}
	m.log.Info("user created", "user", u.Name)
	return u, nil
}

func (m *Manager) checkUser(ctx context.Context, u User) (User, error) {
	var err error
	if u.Role, err = checkRole(u.Role); err != nil {
		return u, err
	}
	if err := checkLimits(u.Limits); err != nil {
		return u, err
	}
	if err := checkBudget(u.Budget); err != nil {
		return u, err
	}
	if err := checkRef("team", u.Team); err != nil {
		return u, err
	}
	if u.Team != "" {
		if _, err := m.store.TeamByName(ctx, u.Team); err != nil {
			return u, refError("team", u.Team, err)
		}
	}
	return u, nil
}

// GetUser returns the user with the given name.
func (m *Manager) GetUser(ctx context.Context, name string) (User, error) {
	if err := CheckName("user", name); err != nil {
		return User{}, fmt.Errorf("%w: %w", err, ErrNotFound)
	}
	u, err := m.store.UserByName(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("user %s: %w", name, notFoundHint(err, "user", name))
	}
	return u, nil
}

// ListUsers returns every user, by name.
func (m *Manager) ListUsers(ctx context.Context) ([]User, error) {
	us, err := m.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UpdateUser changes a user and returns it as stored. An update that
// changes nothing writes nothing. Keys made for the user keep the team
// they have.
func (m *Manager) UpdateUser(ctx context.Context, name string, up UserUpdate) (User, error) {
	if err := CheckName("user", name); err != nil {
		return User{}, fmt.Errorf("update user: %w: %w", err, ErrNotFound)
	}
	for try := 1; ; try++ {
		u, err := m.store.UserByName(ctx, name)
		if err != nil {
			return User{}, fmt.Errorf("update user %s: %w", name, notFoundHint(err, "user", name))
		}
		next := u
		if up.Team != nil {
			next.Team = *up.Team
		}
		if up.Role != nil {
			next.Role = *up.Role
		}
		next.Limits = up.Limits.apply(u.Limits)
		if up.Budget != nil {
			next.Budget = *up.Budget
		}
		if next, err = m.checkUser(ctx, next); err != nil {
			return User{}, fmt.Errorf("update user %s: %w", name, err)
		}
		if sameUser(u, next) {
			return u, nil
		}
		next.UpdatedAt = m.after(u.UpdatedAt)
		err = m.store.UpdateUser(ctx, next, u.UpdatedAt)
		if errors.Is(err, store.ErrConflict) && try < maxUpdateTries {
			continue
		}
		if err != nil {
			return User{}, writeErr("update", "user", name, err)
		}
		m.log.Info("user updated", "user", name)
		return next, nil
	}
}

// DeleteUser deletes a user that no unrevoked key names.
func (m *Manager) DeleteUser(ctx context.Context, name string) error {
	if err := CheckName("user", name); err != nil {
		return fmt.Errorf("delete user: %w: %w", err, ErrNotFound)
	}
	if err := m.store.DeleteUser(ctx, name); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w; give them to another user first (warden keys update ID --user OTHER) or revoke them", err)
		}
		return writeErr("delete", "user", name, err)
	}
	m.log.Info("user deleted", "user", name)
	return nil
}

// after returns the clock reading for an update of a record last updated
// at prev: strictly later, so that the compare-and-swap on UpdatedAt sees
// every update even within one microsecond.
func (m *Manager) after(prev time.Time) time.Time {
	now := m.stamp()
	if !now.After(prev) {
		now = prev.Add(time.Microsecond)
	}
	return now
}

// refError explains a reference to a team or user that could not be
// looked up.
func refError(field, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &FieldError{Field: field, Err: ErrNotFound,
			Problem: fmt.Sprintf("no %s named %s; create it with warden %[1]ss create %[2]s", field, name)}
	}
	return fmt.Errorf("%s: look up %s: %w", field, name, err)
}

// writeErr explains a failed write of a team or user. The store's errors
// already name the operation and record; an unknown one gets a pointer to
// the list instead.
func writeErr(verb, kind, name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %s %s: %w", verb, kind, name, notFoundHint(err, kind, name))
	}
	return err
}

// notFoundHint points at the list command when a team or user is unknown.
func notFoundHint(err error, kind, name string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no %[1]s named %[2]s (see warden %[1]ss list): %[3]w", kind, name, ErrNotFound)
	}
	return err
}

func sameTeam(a, b Team) bool {
	return a.Name == b.Name && a.Limits == b.Limits && a.Budget == b.Budget && equalStrings(a.Models, b.Models) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

func sameUser(a, b User) bool {
	return a.Name == b.Name && a.Team == b.Team && a.Role == b.Role && a.Limits == b.Limits && a.Budget == b.Budget &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// equalStrings compares lists, nil and empty alike.
func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
