package admin

import (
	_ "embed"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/apperr"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
)

// openAPISpec describes this API. Tests check that it lists exactly the
// routes served, and that real responses match its schemas.
//
//go:embed openapi.yaml
var openAPISpec []byte

// OpenAPI returns the API's OpenAPI 3 description, in YAML.
func OpenAPI() []byte { return slices.Clone(openAPISpec) }

func (a *api) openAPI(c *call) error {
	c.w.Header().Set("Content-Type", "application/yaml")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(openAPISpec)
	return nil
}

// meJSON says who the caller is and what their role may do: for every
// operation, the access level.
type meJSON struct {
	Role    string            `json:"role"`
	User    *string           `json:"user"`
	Team    *string           `json:"team"`
	KeyID   *string           `json:"key_id"`
	KeyName *string           `json:"key_name"`
	Subject *string           `json:"subject"`
	Access  map[string]string `json:"access"`
}

func (a *api) me(c *call) error {
	p := c.p
	out := meJSON{Role: string(p.Role), User: optString(p.User), Team: optString(p.Team), KeyID: optString(p.KeyID),
		KeyName: optString(p.KeyName), Subject: optString(p.Subject), Access: map[string]string{}}
	for _, r := range a.routes {
		if !r.public {
			out.Access[r.op] = r.grants.of(p.Role).String()
		}
	}
	return c.reply(http.StatusOK, out)
}

type providerJSON struct {
	Name        string           `json:"name"`
	Type        string           `json:"type"`
	Host        string           `json:"host"`
	Keys        int              `json:"keys"`
	Models      []string         `json:"models"`
	Deployments []deploymentJSON `json:"deployments"`
}

type deploymentJSON struct {
	ID      string  `json:"id"`
	Model   string  `json:"model"`
	Breaker *string `json:"breaker"`
}

func (a *api) listProviders(c *call) error {
	if c.access != allAccess {
		return refuse(c.p, c.route.action)
	}
	out := list[providerJSON]{Data: []providerJSON{}}
	for _, p := range a.o.Providers() {
		j := providerJSON{Name: p.Name, Type: p.Type, Host: p.Host, Keys: p.Keys, Models: orEmpty(slices.Clone(p.Models)),
			Deployments: make([]deploymentJSON, 0, len(p.Deployments))}
		for _, d := range p.Deployments {
			j.Deployments = append(j.Deployments, deploymentJSON{ID: d.ID, Model: d.Model, Breaker: optString(d.Breaker)})
		}
		out.Data = append(out.Data, j)
	}
	return c.reply(http.StatusOK, out)
}

// usageJSON answers GET /admin/v1/usage.
type usageJSON struct {
	By    meter.GroupBy  `json:"by"`
	Since *time.Time     `json:"since"`
	Until *time.Time     `json:"until"`
	Rows  []usageRowJSON `json:"rows"`
}

type usageRowJSON struct {
	Group        string `json:"group"`
	Requests     int64  `json:"requests"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
	CostUSD      string `json:"cost_usd"`
}

// defaultUsageSince is how far back a usage query looks unless told: as
// far as the CLI's warden usage.
const defaultUsageSince = "30d"

// usageParams are the query parameters of GET /admin/v1/usage.
var usageParams = []string{"by", "since", "until", "key", "team", "user"}

// parseUsageQuery reads a usage query from URL parameters. Unknown and
// repeated parameters are refused, as unknown body fields are.
func parseUsageQuery(v url.Values, now time.Time) (meter.UsageQuery, error) {
	if err := checkParams(v, usageParams); err != nil {
		return meter.UsageQuery{}, err
	}
	q := meter.UsageQuery{By: meter.GroupBy(v.Get("by")), KeyID: v.Get("key"), Team: v.Get("team"), User: v.Get("user")}
	if q.By == "" {
		q.By = meter.ByModel
	}
	if !q.By.Valid() {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "by", Message: "by: use key, team, user, model or day"}
	}
	since := defaultUsageSince
	if v.Has("since") {
		since = v.Get("since")
	}
	var err error
	if q.Since, err = parseTimeBound(since, now); err != nil {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "since", Message: "since: " + err.Error()}
	}
	if q.Until, err = parseTimeBound(v.Get("until"), now); err != nil {
		return q, &apperr.Error{Code: apperr.Invalid, Param: "until", Message: "until: " + err.Error()}
	}
	if err := q.Check(); err != nil {
		return q, apperr.Wrap(apperr.Invalid, "until is before since", err)
	}
	return q, nil
}

// checkParams refuses query parameters not in known, and any given more
// than once. A name that is long or looks like a key is not repeated: it
// may be a key pasted in the wrong place.
func checkParams(v url.Values, known []string) error {
	use := "; use " + strings.Join(known[:len(known)-1], ", ") + " and " + known[len(known)-1]
	for name, vals := range v {
		if !slices.Contains(known, name) {
			if len(name) > 64 || strings.Contains(name, keys.Prefix) {
				return apperr.New(apperr.Invalid, "unknown query parameter"+use)
			}
			return &apperr.Error{Code: apperr.Invalid, Param: name, Message: "unknown query parameter " + strconv.Quote(name) + use}
		}
		if len(vals) > 1 {
			return &apperr.Error{Code: apperr.Invalid, Param: name, Message: name + " is given more than once"}
		}
	}
	return nil
}

// parseLimit reads the count parameter name: def when absent, else a
// whole number from 1 to most.
func parseLimit(v url.Values, name string, def, most int) (int, error) {
	if !v.Has(name) {
		return def, nil
	}
	n, err := strconv.Atoi(v.Get(name))
	if err != nil || n < 1 || n > most {
		return 0, &apperr.Error{Code: apperr.Invalid, Param: name, Message: name + ": use a whole number from 1 to " + strconv.Itoa(most)}
	}
	return n, nil
}

// errTimeBound explains the forms a time bound takes, without repeating
// the value given.
var errTimeBound = errors.New("not a time: use a duration back from now such as 7d, 24h or 90m, or an RFC 3339 time such as 2026-01-31T00:00:00Z")

// parseTimeBound reads a time bound as the CLI does: a duration back from
// now ("7d", "36h", "90m") or an RFC 3339 time; "" is open.
func parseTimeBound(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 36500 {
			return now.UTC().AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errTimeBound
}

func (a *api) usage(c *call) error {
	q, err := parseUsageQuery(c.r.URL.Query(), a.now())
	if err != nil {
		return err
	}
	p := c.p
	switch c.access {
	case allAccess:
	case teamAccess:
		if err := needTeam(p, c.route.action); err != nil {
			return err
		}
		if q.Team != "" && q.Team != p.Team {
			return refuse(p, "read the usage of teams other than "+p.Team)
		}
		q.Team = p.Team
	case ownAccess:
		switch {
		case p.User != "":
			if q.User != "" && q.User != p.User {
				return refuse(p, "read the usage of other users")
			}
			q.User = p.User
		case p.KeyID != "":
			if q.KeyID != "" && q.KeyID != p.KeyID {
				return refuse(p, "read the usage of other keys")
			}
			q.KeyID = p.KeyID
		default:
			return refuse(p, c.route.action+" without acting for a user")
		}
	default:
		return refuse(p, c.route.action)
	}
	rows, err := a.o.Usage.UsageSummary(c.r.Context(), q)
	if err != nil {
		return apperr.Wrap(apperr.Internal, "internal error: cannot read usage; see the server log with this request id", err)
	}
	out := usageJSON{By: q.By, Since: optTime(q.Since), Until: optTime(q.Until), Rows: make([]usageRowJSON, 0, len(rows))}
	for _, r := range rows {
		out.Rows = append(out.Rows, usageRowJSON{Group: r.Group, Requests: r.Requests, InputTokens: r.InputTokens,
			OutputTokens: r.OutputTokens, CostUSD: usd(r.Cost)})
	}
	return c.reply(http.StatusOK, out)
}
