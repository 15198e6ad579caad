// Package keys implements Warden's virtual keys: the keys Warden hands out
// to applications and people in place of provider keys.
//
// A key is "wdn_" followed by 34 random base62 characters and a 6-character
// checksum that scanners can verify offline (see Valid). Warden stores only
// a keyed hash of it, HMAC-SHA256 under a server pepper, so a copy of the
// database does not let anyone use or even test a key; the key itself is
// shown once, when it is created or rotated.
//
// A key carries its own policy (models, routes, IP allowlist, limits,
// budget, role, tags) and may act for a Team and a User, whose limits and
// budgets apply on top; this package stores and validates policy, and the
// gateway enforces it.
//
// A Manager creates, updates, rotates, suspends and revokes keys, manages
// teams and users, and authenticates presented keys, with a short-lived
// in-memory cache that every process drops when any key, team or user
// changes in the shared store (see Manager.Run).
package keys

import (
	"context"
	"errors"
	"net/netip"
	"path"
	"time"

	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store"
)

// State is the life-cycle state of a key.
type State string

// Key states. Revoked is final: a revoked key never becomes usable again.
const (
	Active    State = "active"
	Suspended State = "suspended"
	Revoked   State = "revoked"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	return s == Active || s == Suspended || s == Revoked
}

var (
	// ErrInvalid means a presented key is not a usable Warden key: it is
	// malformed, fails its checksum, is unknown, revoked, or a rotated-out
	// secret past its grace period. The cases are deliberately not told
	// apart, in the message or in the work done.
	ErrInvalid = errors.New("invalid API key")
	// ErrExpired means a real key was presented after its expiry.
	ErrExpired = errors.New("API key expired")
	// ErrSuspended means a real key was presented while it is suspended.
	ErrSuspended = errors.New("API key suspended")
	// ErrNotFound means no key has the given id.
	ErrNotFound = store.ErrNotFound
	// ErrRevoked means an operation needs a key that is not revoked.
	ErrRevoked = errors.New("the key is revoked")
)

// Key is a virtual key's record. It never holds the key itself.
//
// The policy fields (Models through Tags) are all optional: the zero value
// of each restricts nothing. Team and user limits and budgets apply on top
// of the key's own.
type Key struct {
	// ID is the public identifier, "key_" and 16 base62 characters. It is
	// what logs, audit records and the CLI name a key by.
	ID   string
	Name string
	// Hint is the prefix and the last four characters of the current
	// secret, for telling keys apart in a list.
	Hint string
	// Models are the model names or path.Match globs the key may use;
	// empty means every model. A '*' does not match '/', so a key for
	// "meta-llama/Llama-3-8B" and its siblings needs "meta-llama/*".
	Models []string
	// Routes are the URL paths the key may call (see AllowsRoute); empty
	// means every route.
	Routes []string
	// IPs are the networks the key may be used from (see AllowsIP); empty
	// means anywhere. Prefixes are masked, and IPv4 ones are never written
	// in IPv4-mapped IPv6 form.
	IPs []netip.Prefix
	// Limits bound the key's request and token rates and parallel calls.
	Limits Limits
	// Budget bounds the key's spend per period.
	Budget meter.Budget
	// Team and User name the team and user (see Team, User) the key acts
	// for, whose limits and budgets apply too; empty for none.
	Team, User string
	// Role is one of Roles; RoleUser unless set. A key with RoleAdmin is
	// an admin key for the admin API; data-plane limits still apply.
	Role string
	// Tags are free labels for people and filters.
	Tags []string
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
	State     State
	CreatedAt time.Time
	UpdatedAt time.Time
	// LastUsedAt is when the key last authenticated, recorded in batches
	// (see Options.TouchInterval); zero means never.
	LastUsedAt time.Time
	// PreviousValidUntil is when the secret replaced by the last rotation
	// stops being accepted; zero if the key was never rotated.
	PreviousValidUntil time.Time
}

// AllowsModel reports whether the key may use model.
func (k Key) AllowsModel(model string) bool {
	return allowsModel(k.Models, model)
}

// allowsModel is the one rule for model scopes, shared with auth.Principal
// through Key.AllowsModel.
func allowsModel(patterns []string, model string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		// Patterns were checked when the key was created; a bad one
		// matches nothing rather than everything.
		if ok, err := path.Match(p, model); ok && err == nil {
			return true
		}
	}
	return false
}

// Expired reports whether the key has expired at now.
func (k Key) Expired(now time.Time) bool {
	return !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)
}

// Store is what keys needs from storage: keys, and the teams and users
// they refer to. Implementations live in the store packages and must pass
// the conformance suite in package keystest.
//
// Times are stored to at least microsecond precision. Errors never carry a
// hash. Unknown ids give an error matching store.ErrNotFound; writes that
// collide with an existing id or hash, or that would bring a revoked key
// back, give store.ErrConflict.
type Store interface {
	// CreateKey stores a new key whose current secret hashes to hash.
	// k.LastUsedAt and k.PreviousValidUntil are ignored; an empty k.Role
	// is stored as RoleUser. A k.Team or k.User that names no team or user
	// gives store.ErrNotFound.
	CreateKey(ctx context.Context, k Key, hash []byte) error
	// KeyByHash returns the key whose current secret hashes to hash, or
	// whose previous (rotated-out) secret does, with previous set. The
	// caller compares k.PreviousValidUntil with its own clock, so that a
	// lookup costs the same whether or not the grace period has run out.
	KeyByHash(ctx context.Context, hash []byte) (k Key, previous bool, err error)
	// KeyByID returns the key with the given id.
	KeyByID(ctx context.Context, id string) (Key, error)
	// ListKeys returns every key, revoked ones included, oldest first
	// (ties by id).
	ListKeys(ctx context.Context) ([]Key, error)
	// UpdateKey replaces the name, policy (Models through Tags), expiry
	// and UpdatedAt of key k.ID with k's, if the stored UpdatedAt still
	// equals ifUpdatedAt: otherwise, or if the key is revoked, it is a
	// conflict, so that two concurrent updates cannot lose one's changes.
	// State, secrets and use times are left alone. References to teams and
	// users are checked as in CreateKey.
	UpdateKey(ctx context.Context, k Key, ifUpdatedAt time.Time) error
	// SetKeyState changes a key's state and UpdatedAt. Setting the state a
	// key already has changes nothing; leaving Revoked is a conflict.
	SetKeyState(ctx context.Context, id string, s State, now time.Time) error
	// RotateKey makes newHash the key's current secret (with newHint its
	// hint) and keeps the current one as the previous secret, accepted
	// until oldValidUntil. A secret that was previous before is forgotten.
	// Rotating a revoked key is a conflict.
	RotateKey(ctx context.Context, id string, newHash []byte, newHint string, oldValidUntil, now time.Time) error
	// TouchKey records a use of the key. LastUsedAt never moves
	// backwards, and touching does not change KeysVersion.
	TouchKey(ctx context.Context, id string, now time.Time) error
	// KeysVersion returns a number that changes with every write that can
	// change an authorization decision (every write of keys, teams and
	// users except TouchKey), in the same transaction as the write, so
	// that servers can poll it cheaply to drop cached lookups. TouchKey
	// leaves it alone: last-used times decide nothing, and servers
	// flushing their own touches would otherwise empty every cache.
	KeysVersion(ctx context.Context) (int64, error)

	TeamStore
	UserStore
}

// TeamStore holds teams. Every successful write changes KeysVersion.
type TeamStore interface {
	// CreateTeam stores a new team; a taken name is a conflict.
	CreateTeam(ctx context.Context, t Team) error
	// TeamByName returns the team with the given name.
	TeamByName(ctx context.Context, name string) (Team, error)
	// ListTeams returns every team, by name.
	ListTeams(ctx context.Context) ([]Team, error)
	// UpdateTeam replaces the limits, budget, models and UpdatedAt of team
	// t.Name with t's, if the stored UpdatedAt still equals ifUpdatedAt
	// (else a conflict).
	UpdateTeam(ctx context.Context, t Team, ifUpdatedAt time.Time) error
	// DeleteTeam deletes a team. While a user, or a key that is not
	// revoked, names the team it is a conflict, whose message says how
	// many of each. Revoked keys keep the name as history.
	DeleteTeam(ctx context.Context, name string) error
}

// UserStore holds users. Every successful write changes KeysVersion.
type UserStore interface {
	// CreateUser stores a new user; a taken name is a conflict, and a
	// u.Team that names no team gives store.ErrNotFound. An empty u.Role
	// is stored as RoleUser.
	CreateUser(ctx context.Context, u User) error
	// UserByName returns the user with the given name.
	UserByName(ctx context.Context, name string) (User, error)
	// ListUsers returns every user, by name.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces the team, role, limits, budget and UpdatedAt of
	// user u.Name with u's, if the stored UpdatedAt still equals
	// ifUpdatedAt (else a conflict). The team is checked as in CreateUser.
	UpdateUser(ctx context.Context, u User, ifUpdatedAt time.Time) error
	// DeleteUser deletes a user. While a key that is not revoked names the
	// user it is a conflict.
	DeleteUser(ctx context.Context, name string) error
}
