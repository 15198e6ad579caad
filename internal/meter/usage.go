package meter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is the usage of one data-plane call: who made it, what it called,
// the tokens it used and what it cost.
type Record struct {
	Time       time.Time
	RequestID  string // required; a store keeps one record per request id
	KeyID      string
	User       string
	Team       string
	Model      string
	Provider   string
	Deployment string
	Route      string
	Status     int // HTTP status returned to the caller

	InputTokens           int64
	OutputTokens          int64
	CachedInputTokens     int64
	CacheWriteInputTokens int64
	Cost                  Amount

	Stream bool
	// Estimated is true when the upstream reported no usage and the tokens
	// and cost were estimated.
	Estimated bool
}

// Check reports what is wrong with r, if anything.
func (r Record) Check() error {
	switch {
	case r.RequestID == "":
		return errors.New("usage record has no request id")
	case r.Time.IsZero():
		return fmt.Errorf("usage record of request %s has no time", r.RequestID)
	case r.Status < 0 || r.Status > 999:
		return fmt.Errorf("usage record of request %s: status %d is not an HTTP status", r.RequestID, r.Status)
	case r.InputTokens < 0 || r.OutputTokens < 0 || r.CachedInputTokens < 0 || r.CacheWriteInputTokens < 0:
		return fmt.Errorf("usage record of request %s has a negative token count", r.RequestID)
	case r.Cost < 0 || r.Cost > MaxAmount:
		return fmt.Errorf("usage record of request %s: cost %s is not between $0 and %s", r.RequestID, r.Cost, MaxAmount)
	}
	return nil
}

// UsageStore keeps usage records and sums them up. The Recorder writes to
// it; the admin API and the CLI read from it.
type UsageStore interface {
	// RecordUsage stores records, all or none. Every record must pass
	// Check. A record whose request id is already stored is skipped, so
	// that a batch retried after an unclear failure is not counted twice.
	RecordUsage(ctx context.Context, records []Record) error
	// UsageSummary sums the records that match q, one row per group,
	// ordered by group. It returns an empty slice, not nil, if nothing
	// matches.
	UsageSummary(ctx context.Context, q UsageQuery) ([]UsageRow, error)
}

// GroupBy is what a usage summary has one row per.
type GroupBy string

// Groupings of a usage summary. Records without the grouped field (a
// call with no team, say) form a group named "".
const (
	ByKey   GroupBy = "key"
	ByTeam  GroupBy = "team"
	ByUser  GroupBy = "user"
	ByModel GroupBy = "model"
	ByDay   GroupBy = "day" // UTC days, named like 2026-01-31
)

// Valid reports whether g is a known grouping.
func (g GroupBy) Valid() bool {
	switch g {
	case ByKey, ByTeam, ByUser, ByModel, ByDay:
		return true
	}
	return false
}

// UsageQuery selects and groups usage records.
type UsageQuery struct {
	// Since and Until bound the records' times: Since <= Time < Until.
	// A zero bound is open.
	Since, Until time.Time
	By           GroupBy
	// Non-empty filters keep only the records with this key, team or user.
	KeyID, Team, User string
}

// Check reports what is wrong with q, if anything.
func (q UsageQuery) Check() error {
	if !q.By.Valid() {
		return fmt.Errorf("cannot group usage by %q; use key, team, user, model or day", q.By)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return fmt.Errorf("usage query ends (%s) before it starts (%s)", q.Until.UTC().Format(time.RFC3339), q.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// matches reports whether q selects r, ignoring its grouping.
func (q UsageQuery) matches(r Record) bool {
	return (q.Since.IsZero() || !r.Time.Before(q.Since)) &&
		(q.Until.IsZero() || r.Time.Before(q.Until)) &&
		(q.KeyID == "" || r.KeyID == q.KeyID) &&
		(q.Team == "" || r.Team == q.Team) &&
		(q.User == "" || r.User == q.User)
}

// group returns the group r falls in under grouping g.
func (g GroupBy) group(r Record) string {
	switch g {
	case ByKey:
		return r.KeyID
	case ByTeam:
		return r.Team
	case ByUser:
		return r.User
	case ByModel:
		return r.Model
	case ByDay:
		return r.Time.UTC().Format(time.DateOnly)
	}
	return ""
}

// UsageRow is the sum of one group's records.
type UsageRow struct {
	Group        string
	Requests     int64
	InputTokens  int64
	OutputTokens int64
	Cost         Amount
}
