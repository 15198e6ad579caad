package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/auth"
	"github.com/wardenproject/warden/internal/monitor/alert"
)

// Paging of GET /admin/v1/audit.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
	// auditScanBudget bounds how many records one request reads for a
	// caller who sees part of the log: the store cannot select by team or
	// user, so the handler reads and filters, and a page that found few
	// matches within the budget ends early, with a cursor to go on from.
	auditScanBudget = 10 * maxAuditLimit
)

// auditParams are the query parameters of GET /admin/v1/audit.
var auditParams = []string{"since", "until", "key", "kind", "action", "limit", "after_seq"}

// auditPage answers GET /admin/v1/audit.
type auditPage struct {
	Records []audit.Record `json:"records"`
	// NextAfterSeq is the after_seq of the next page; nil when the log
	// holds nothing further for the query.
	NextAfterSeq *int64 `json:"next_after_seq"`
}

// parseAuditQuery reads an audit query from URL parameters; its Limit is
// the page size.
func parseAuditQuery(v url.Values, now time.Time) (audit.Query, error) {
	if err := checkParams(v, auditParams); err != nil {
		return audit.Query{}, err
	}
	q := audit.Query{KeyID: v.Get("key"), Kind: audit.Kind(v.Get("kind")), Action: v.Get("action")}
	if q.Kind != "" && !q.Kind.Valid() {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "kind", Message: "kind: use call, admin, cli or system"}
	}
	var err error
	if q.Since, err = parseTimeBound(v.Get("since"), now); err != nil {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "since", Message: "since: " + err.Error()}
	}
	if q.Until, err = parseTimeBound(v.Get("until"), now); err != nil {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "until", Message: "until: " + err.Error()}
	}
	if q.Limit, err = parseLimit(v, "limit", defaultAuditLimit, maxAuditLimit); err != nil {
		return q, err
	}
	if v.Has("after_seq") {
		q.AfterSeq, err = strconv.ParseInt(v.Get("after_seq"), 10, 64)
		if err != nil || q.AfterSeq < 0 {
			return q, &apperr.Error{Code: apperr.Invalid, Param: "after_seq",
				Message: "after_seq: use a whole number of 0 or more, the next_after_seq of the page before"}
		}
	}
	if err := q.Check(); err != nil {
		return q, apperr.Wrap(apperr.Invalid, "until is before since", err)
	}
	return q, nil
}

func (a *api) listAudit(c *call) error {
	q, err := parseAuditQuery(c.r.URL.Query(), a.now())
	if err != nil {
		return err
	}
	p := c.p
	// keep selects what the store cannot: nil keeps every record it
	// returns.
	var keep func(*audit.Record) bool
	switch c.access {
	case allAccess:
	case teamAccess:
		if err := needTeam(p, c.route.action); err != nil {
			return err
		}
		keep = func(r *audit.Record) bool { return r.Principal.Team == p.Team }
	case ownAccess:
		switch {
		case p.User != "":
			keep = func(r *audit.Record) bool { return r.Principal.User == p.User }
		case p.KeyID != "":
			if q.KeyID != "" && q.KeyID != p.KeyID {
				return refuse(p, "read the audit records of other keys")
			}
			q.KeyID = p.KeyID
		default:
			return refuse(p, c.route.action+" without acting for a user")
		}
	default:
		return refuse(p, c.route.action)
	}
	recs, next, err := a.readAudit(c.r.Context(), q, keep)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "internal error: cannot read the audit log; see the server log with this request id", err)
	}
	for i := range recs {
		if recs[i].Verdicts == nil {
			recs[i].Verdicts = []audit.Verdict{}
		}
	}
	return c.reply(http.StatusOK, auditPage{Records: recs, NextAfterSeq: next})
}

// readAudit reads up to q.Limit records that q selects and keep (if set)
// keeps, and the cursor of the next page: the seq of the last record
// returned when a further one matches, the last seq read when the scan
// budget ran out first, nil when the log has nothing further.
func (a *api) readAudit(ctx context.Context, q audit.Query, keep func(*audit.Record) bool) ([]audit.Record, *int64, error) {
	limit := q.Limit
	// One record beyond the page tells whether there is another page.
	q.Limit = limit + 1
	if keep != nil {
		q.Limit = maxAuditLimit
	}
	out := []audit.Record{}
	for scanned := 0; ; {
		recs, err := a.o.Audit.AuditRecords(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		for i := range recs {
			r := &recs[i]
			if keep == nil || keep(r) {
				if len(out) == limit {
					next := out[len(out)-1].Seq
					return out, &next, nil
				}
				out = append(out, *r)
			}
			q.AfterSeq = max(q.AfterSeq, r.Seq)
		}
		scanned += len(recs)
		if len(recs) < q.Limit {
			return out, nil, nil
		}
		if scanned >= auditScanBudget {
			next := q.AfterSeq
			return out, &next, nil
		}
	}
}

// Listing of GET /admin/v1/alerts.
const (
	defaultAlertLimit = 100
	maxAlertLimit     = 1000
)

// alertParams are the query parameters of GET /admin/v1/alerts.
var alertParams = []string{"since", "limit"}

func (a *api) listAlerts(c *call) error {
	v := c.r.URL.Query()
	if err := checkParams(v, alertParams); err != nil {
		return err
	}
	since, err := parseTimeBound(v.Get("since"), a.now())
	if err != nil {
		return &apperr.Error{Code: apperr.Invalid, Param: "since", Message: "since: " + err.Error()}
	}
	limit, err := parseLimit(v, "limit", defaultAlertLimit, maxAlertLimit)
	if err != nil {
		return err
	}
	switch c.access {
	case allAccess:
	case teamAccess:
		if err := needTeam(c.p, c.route.action); err != nil {
			return err
		}
	default:
		return refuse(c.p, c.route.action)
	}
	// A manager's alerts are picked from the latest maxAlertLimit, so
	// that other teams' alerts do not crowd theirs out of the page.
	fetch := limit
	if c.access != allAccess {
		fetch = maxAlertLimit
	}
	as, err := a.o.Alerts.ListAlerts(c.r.Context(), since, fetch)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "internal error: cannot list alerts; see the server log with this request id", err)
	}
	if c.access != allAccess {
		if as, err = a.teamAlerts(c.r.Context(), c.p, as); err != nil {
			return err
		}
	}
	return c.reply(http.StatusOK, list[alert.Alert]{Data: as[:min(limit, len(as))]})
}

// teamAlerts keeps the alerts about p's team or one of its keys. Alerts
// about anything else (an address, a key prefix, a budget account) may
// concern several teams or none, so only those with all access see them.
func (a *api) teamAlerts(ctx context.Context, p *auth.Principal, as []alert.Alert) ([]alert.Alert, error) {
	var teamKeys map[string]bool
	out := []alert.Alert{}
	for _, al := range as {
		switch al.Subject.Kind {
		case alert.SubjectTeam:
			if al.Subject.ID != p.Team {
				continue
			}
		case alert.SubjectKey:
			if teamKeys == nil {
				ks, err := a.o.Keys.List(ctx)
				if err != nil {
					return nil, recordErr(err, errInternal)
				}
				teamKeys = map[string]bool{}
				for _, k := range ks {
					if reachesKey(teamAccess, p, k) {
						teamKeys[k.ID] = true
					}
				}
			}
			if !teamKeys[al.Subject.ID] {
				continue
			}
		default:
			continue
		}
		out = append(out, al)
	}
	return out, nil
}
