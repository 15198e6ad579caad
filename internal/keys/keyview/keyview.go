// Package keyview is the JSON form of keys, teams and users that the CLI
// (--json) and the admin API both print. Every field is always present,
// null or empty when unset, so that scripts need not guess; none has room
// for a key, a hash or a provider credential.
package keyview

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
)

// Key is a key's record: never the key, never its hash.
type Key struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Hint               string     `json:"hint"`
	State              keys.State `json:"state"`
	Expired            bool       `json:"expired"`
	Role               string     `json:"role"`
	Team               *string    `json:"team"`
	User               *string    `json:"user"`
	Models             []string   `json:"models"`
	Routes             []string   `json:"routes"`
	IPs                []string   `json:"ips"`
	Limits             Limits     `json:"limits"`
	Budget             *Budget    `json:"budget"`
	Tags               []string   `json:"tags"`
	ExpiresAt          *time.Time `json:"expires_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	LastUsedAt         *time.Time `json:"last_used_at"`
	PreviousValidUntil *time.Time `json:"previous_valid_until"`
}

// Created is a key just created or rotated with the key itself, shown
// this once. Secret is written from the secret's bytes and zeroed after.
type Created struct {
	Secret json.RawMessage `json:"key"`
	Key
}

// Team is a team's record.
type Team struct {
	Name      string    `json:"name"`
	Models    []string  `json:"models"`
	Limits    Limits    `json:"limits"`
	Budget    *Budget   `json:"budget"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// User is a user's record.
type User struct {
	Name      string    `json:"name"`
	Team      *string   `json:"team"`
	Role      string    `json:"role"`
	Limits    Limits    `json:"limits"`
	Budget    *Budget   `json:"budget"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits is keys.Limits; zero is no limit.
type Limits struct {
	RPS         int64 `json:"rps"`
	RPM         int64 `json:"rpm"`
	TPM         int64 `json:"tpm"`
	MaxParallel int64 `json:"max_parallel"`
}

// Budget is a meter.Budget: the amount exactly, as a decimal string of US
// dollars and in nano-dollars, and the period.
type Budget struct {
	LimitUSD     string       `json:"limit_usd"`
	LimitNanoUSD meter.Amount `json:"limit_nano_usd"`
	Period       meter.Period `json:"period"`
}

// FromKey is k as of now.
func FromKey(k keys.Key, now time.Time) Key {
	ips := make([]string, len(k.IPs))
	for i, p := range k.IPs {
		ips[i] = p.String()
	}
	j := Key{
		ID: k.ID, Name: k.Name, Hint: k.Hint, State: k.State, Expired: k.Expired(now), Role: k.Role,
		Team: optString(k.Team), User: optString(k.User), Models: orEmpty(k.Models), Routes: orEmpty(k.Routes), IPs: ips,
		Limits: FromLimits(k.Limits), Budget: FromBudget(k.Budget), Tags: orEmpty(k.Tags),
		ExpiresAt: optTime(k.ExpiresAt), CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt, LastUsedAt: optTime(k.LastUsedAt),
	}
	// The old secret of a rotation is worth telling only while it works.
	if k.State != keys.Revoked && now.Before(k.PreviousValidUntil) {
		j.PreviousValidUntil = optTime(k.PreviousValidUntil)
	}
	return j
}

// FromTeam is t.
func FromTeam(t keys.Team) Team {
	return Team{Name: t.Name, Models: orEmpty(t.Models), Limits: FromLimits(t.Limits), Budget: FromBudget(t.Budget),
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

// FromUser is u.
func FromUser(u keys.User) User {
	return User{Name: u.Name, Team: optString(u.Team), Role: u.Role, Limits: FromLimits(u.Limits), Budget: FromBudget(u.Budget),
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// FromLimits is l.
func FromLimits(l keys.Limits) Limits {
	return Limits{RPS: l.RPS, RPM: l.RPM, TPM: l.TPM, MaxParallel: l.MaxParallel}
}

// FromBudget is b, or nil for no budget.
func FromBudget(b meter.Budget) *Budget {
	if b.IsZero() {
		return nil
	}
	return &Budget{LimitUSD: strings.TrimPrefix(b.Limit.String(), "$"), LimitNanoUSD: b.Limit, Period: b.Period}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
