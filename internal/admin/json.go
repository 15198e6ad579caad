package admin

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
)

// The wire forms of records. Every field is always present, null or empty
// when unset, as in the CLI's --json output, so that clients need not
// guess; none has room for a key, a hash or a provider credential.

// list is every list response: {"data": [...]}, room to grow paging.
type list[T any] struct {
	Data []T `json:"data"`
}

// usd is an amount as a decimal string of dollars, "5.00".
func usd(a meter.Amount) string { return strings.TrimPrefix(a.String(), "$") }

// Request bodies.

// limitsIn is limits in a create request; a limit left out is none.
type limitsIn struct {
	RPS         int64 `json:"rps"`
	RPM         int64 `json:"rpm"`
	TPM         int64 `json:"tpm"`
	MaxParallel int64 `json:"max_parallel"`
}

func (l *limitsIn) limits() keys.Limits {
	if l == nil {
		return keys.Limits{}
	}
	return keys.Limits{RPS: l.RPS, RPM: l.RPM, TPM: l.TPM, MaxParallel: l.MaxParallel}
}

// budgetIn is a budget in a request: {"limit_usd": "5.00", "period":
// "month"}. The period defaults to month, as in the CLI.
type budgetIn struct {
	LimitUSD string `json:"limit_usd"`
	Period   string `json:"period"`
}

func (b *budgetIn) budget() (meter.Budget, error) {
	if b == nil {
		return meter.Budget{}, nil
	}
	amount, err := meter.ParseUSD(b.LimitUSD)
	if err != nil {
		return meter.Budget{}, &keys.FieldError{Field: "budget.limit_usd", Problem: "not a dollar amount; write it as a string such as \"5\" or \"0.25\""}
	}
	p := meter.Period(b.Period)
	if p == "" {
		p = meter.Month
	}
	if !p.Valid() {
		return meter.Budget{}, &keys.FieldError{Field: "budget.period", Problem: "use day, month or total"}
	}
	if amount == 0 {
		return meter.Budget{}, &keys.FieldError{Field: "budget.limit_usd",
			Problem: "a budget needs an amount above $0; to have no budget, leave the budget out (or set it to null in an update)"}
	}
	return meter.Budget{Limit: amount, Period: p}, nil
}

// opt is a field of a JSON merge patch (RFC 7396): absent leaves the
// record's value alone, null removes it, a value replaces it. Its value
// is decoded as strictly as the body around it.
type opt[T any] struct {
	Set, Null bool
	V         T
}

// UnmarshalJSON implements json.Unmarshaler; encoding/json calls it for
// null too, which is what tells null from absent.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&o.V)
}

// value is the patched value: nil when the field is absent, the zero
// value when it is null.
func (o opt[T]) value() *T {
	if !o.Set {
		return nil
	}
	v := o.V
	return &v
}

// limitsPatch changes some limits; null or 0 removes one.
type limitsPatch struct {
	RPS         opt[int64] `json:"rps"`
	RPM         opt[int64] `json:"rpm"`
	TPM         opt[int64] `json:"tpm"`
	MaxParallel opt[int64] `json:"max_parallel"`
}

// update turns a limits patch into a keys.LimitsUpdate. A null limits
// object removes every limit.
func limitsUpdate(o opt[limitsPatch]) keys.LimitsUpdate {
	if !o.Set {
		return keys.LimitsUpdate{}
	}
	if o.Null {
		var zero int64
		return keys.LimitsUpdate{RPS: &zero, RPM: &zero, TPM: &zero, MaxParallel: &zero}
	}
	p := o.V
	return keys.LimitsUpdate{RPS: p.RPS.value(), RPM: p.RPM.value(), TPM: p.TPM.value(), MaxParallel: p.MaxParallel.value()}
}

// budgetUpdate turns a budget patch into the budget to set: nil to leave
// it, the zero Budget (null) to remove it.
func budgetUpdate(o opt[budgetIn]) (*meter.Budget, error) {
	switch {
	case !o.Set:
		return nil, nil
	case o.Null:
		return &meter.Budget{}, nil
	}
	b, err := o.V.budget()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// listUpdate is a list to set: nil to leave it, empty (null or []) to
// clear it.
func listUpdate(o opt[[]string]) []string {
	if !o.Set {
		return nil
	}
	if o.V == nil {
		return []string{}
	}
	return o.V
}

// parseIPs turns allowlist entries into prefixes.
func parseIPs(vals []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(vals))
	for _, v := range vals {
		p, err := keys.ParseIPPrefix(v)
		if err != nil {
			problem := err.Error()
			if strings.Contains(v, keys.Prefix) {
				// Not repeated: it looks like a key in the wrong place.
				problem = "an entry is not an IP address or CIDR prefix"
			}
			return nil, &keys.FieldError{Field: "ips", Problem: problem}
		}
		out = append(out, p)
	}
	return out, nil
}

// parseTTL reads a time to live such as "24h" or "30m".
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, &keys.FieldError{Field: "ttl", Problem: "not a positive duration; write it like \"24h\" or \"90m\""}
	}
	return d, nil
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
