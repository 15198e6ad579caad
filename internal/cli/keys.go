package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/vault"
)

// keyPepperName is the vault secret holding the HMAC key of stored virtual
// key hashes. Version 1 is the pepper for the life of the data directory:
// every process reads that version, so two processes creating it at the
// same moment still agree, and a later version (set by hand) changes
// nothing.
const keyPepperName = "warden.key-pepper"

// keyPepper returns the pepper for virtual key hashes, creating it in the
// vault on first use. Callers that can see the key store should use
// keyManager, which also refuses to make a new pepper while keys hashed
// with a lost one exist.
func keyPepper(ctx context.Context, v *vault.Vault) (secret.Secret, error) {
	return pepperKey.get(ctx, v)
}

// keyManager returns a key manager on the session's store, with the
// pepper from its vault. A missing pepper is created only while there are
// no keys: keys hashed with a lost pepper can never be checked again, and
// a fresh pepper would hide that until every caller is refused.
func keyManager(ctx context.Context, s *session, log *slog.Logger, poll time.Duration) (*keys.Manager, error) {
	exists, err := pepperKey.exists(ctx, s.vault)
	if err != nil {
		return nil, err
	}
	if !exists {
		existing, err := s.db.ListKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("check for existing virtual keys: %w", err)
		}
		if len(existing) > 0 {
			return nil, fmt.Errorf("the secret %s is missing but %d virtual key(s) exist, and they cannot be checked without it: restore the data directory from a backup", keyPepperName, len(existing))
		}
	}
	pepper, err := keyPepper(ctx, s.vault)
	if err != nil {
		return nil, err
	}
	defer pepper.Destroy() // the manager keeps its own copy
	return keys.NewManager(keys.Options{Store: s.db, Pepper: pepper, Logger: log, PollInterval: poll})
}

// withKeys opens a session and a key manager for one command, and
// audits the command if it changed something.
func (a *app) withKeys(cmd *cobra.Command, fn func(*keys.Manager) error) error {
	ctx := cmd.Context()
	return a.withSessionKeys(ctx, func(s *session, m *keys.Manager) error {
		if err := fn(m); err != nil {
			return err
		}
		if mutating(cmd) {
			a.recordCLI(ctx, s, cmd, strings.Join(cmd.Flags().Args(), " "))
		}
		return nil
	})
}

// withSessionKeys opens a session and a key manager.
func (a *app) withSessionKeys(ctx context.Context, fn func(*session, *keys.Manager) error) error {
	log := a.cliLogger()
	s, err := a.open(ctx, log)
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := keyManager(ctx, s, log, 0)
	if err != nil {
		return err
	}
	return fn(s, m)
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, update, rotate and revoke virtual keys for callers of the gateway",
		Long: `Virtual keys are what applications and people send to Warden instead of
provider keys: "Authorization: Bearer wdn_…" (or "x-api-key: wdn_…" on
Anthropic routes). Each key carries its own policy: the models and routes
it may use, an IP allowlist, rate, token and concurrency limits, a budget,
the team and user it acts for, a role and tags. A key can be updated,
suspended, rotated or revoked at any time; running servers see the change
within a second.

A key is shown once, when it is created or rotated. Warden keeps only a
keyed hash (HMAC-SHA256 under a pepper held in the vault), so a lost key
cannot be recovered: rotate it. Commands take the key's id (key_…), never
the key itself.`,
		Example: `  warden keys create --name ci-evals --models 'gpt-4o*' --ttl 720h --rpm 60
  warden keys create --name demo --throwaway          # 1h, $1 in total, 60 rpm, 4 parallel
  warden keys list
  warden keys update key_3xY9aBcDeFgHiJkL --budget 20 --budget-period month
  warden keys rotate key_3xY9aBcDeFgHiJkL --grace 1h
  warden keys revoke key_3xY9aBcDeFgHiJkL`,
	}
	cmd.AddCommand(a.keysCreateCmd(), a.keysListCmd(), a.keysShowCmd(), a.keysUpdateCmd(), a.keysRevokeCmd(), a.keysRotateCmd(),
		a.keysStateCmd("suspend", "Stop a key from working until it is resumed",
			"  warden keys suspend key_3xY9aBcDeFgHiJkL", (*keys.Manager).Suspend, "suspended key %s; resume it with warden keys resume %[1]s\n"),
		a.keysStateCmd("resume", "Make a suspended key work again",
			"  warden keys resume key_3xY9aBcDeFgHiJkL", (*keys.Manager).Resume, "resumed key %s\n"))
	return cmd
}

// writeJSON prints v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// limitFlags are the limit and budget flags of keys, teams and users.
type limitFlags struct {
	rps, rpm, tpm, parallel int64
	budget, budgetPeriod    string
}

func (lf *limitFlags) register(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	zero := "0 for no limit"
	if update {
		zero = "0 removes the limit"
	}
	f.Int64Var(&lf.rps, "rps", 0, "requests per second ("+zero+")")
	f.Int64Var(&lf.rpm, "rpm", 0, "requests per minute ("+zero+")")
	f.Int64Var(&lf.tpm, "tpm", 0, "tokens (input and output) per minute ("+zero+")")
	f.Int64Var(&lf.parallel, "max-parallel", 0, "calls in flight at once ("+zero+")")
	if update {
		f.StringVar(&lf.budget, "budget", "", `spend limit in USD, e.g. 20 or 0.50; 0 or "" removes the budget`)
		f.StringVar(&lf.budgetPeriod, "budget-period", "", "day, month or total (default: the current period, else month)")
	} else {
		f.StringVar(&lf.budget, "budget", "", "spend limit in USD, e.g. 20 or 0.50")
		f.StringVar(&lf.budgetPeriod, "budget-period", "", "day, month or total (default month; needs --budget)")
	}
}

func (lf *limitFlags) limits() keys.Limits {
	return keys.Limits{RPS: lf.rps, RPM: lf.rpm, TPM: lf.tpm, MaxParallel: lf.parallel}
}

// limitsUpdate returns the limits whose flags were given.
func (lf *limitFlags) limitsUpdate(cmd *cobra.Command) keys.LimitsUpdate {
	f := cmd.Flags()
	var u keys.LimitsUpdate
	for _, x := range []struct {
		flag string
		v    int64
		dst  **int64
	}{{"rps", lf.rps, &u.RPS}, {"rpm", lf.rpm, &u.RPM}, {"tpm", lf.tpm, &u.TPM}, {"max-parallel", lf.parallel, &u.MaxParallel}} {
		if f.Changed(x.flag) {
			v := x.v
			*x.dst = &v
		}
	}
	return u
}

// budgetFrom resolves --budget and --budget-period against cur, the budget
// the record has (zero when creating). It reports whether they change it.
// An amount without a period keeps cur's period, or takes defaultPeriod;
// a period alone changes the period of cur's amount; 0 or "" removes the
// budget.
func (lf *limitFlags) budgetFrom(cmd *cobra.Command, cur meter.Budget, defaultPeriod meter.Period) (meter.Budget, bool, error) {
	amountSet, periodSet := cmd.Flags().Changed("budget"), cmd.Flags().Changed("budget-period")
	if !amountSet && !periodSet {
		return cur, false, nil
	}
	period := cur.Period
	if period == "" {
		period = defaultPeriod
	}
	if periodSet {
		period = meter.Period(strings.TrimSpace(lf.budgetPeriod))
		if !period.Valid() {
			return meter.Budget{}, false, fmt.Errorf("--budget-period %q: use day, month or total", lf.budgetPeriod)
		}
	}
	if !amountSet {
		if cur.IsZero() {
			return meter.Budget{}, false, errors.New("--budget-period needs --budget: give the amount for the period, e.g. --budget 20 --budget-period month")
		}
		return meter.Budget{Limit: cur.Limit, Period: period}, true, nil
	}
	var amount meter.Amount
	if s := strings.TrimSpace(lf.budget); s != "" {
		var err error
		if amount, err = meter.ParseUSD(s); err != nil {
			return meter.Budget{}, false, fmt.Errorf("--budget: %w", err)
		}
	}
	if amount == 0 {
		if periodSet {
			return meter.Budget{}, false, errors.New(`--budget 0 (or "") removes the budget; leave out --budget-period`)
		}
		return meter.Budget{}, true, nil
	}
	return meter.Budget{Limit: amount, Period: period}, true, nil
}

// listFlag cleans a comma-separated, repeatable flag's values: spaces
// trimmed, empty entries dropped. Given as "" it is an empty, non-nil list.
func listFlag(vals []string) []string {
	out := []string{}
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// keyFlags are the policy flags of keys create and keys update.
type keyFlags struct {
	name                      string
	models, routes, ips, tags []string
	ttl                       time.Duration
	expires                   string
	team, user, role          string
	limits                    limitFlags
	asJSON                    bool
}

func (kf *keyFlags) register(cmd *cobra.Command, update bool) {
	f := cmd.Flags()
	clear := ""
	if update {
		clear = `; "" clears`
	}
	f.StringVar(&kf.name, "name", "", "a name for people: what or who the key is for")
	f.StringSliceVar(&kf.models, "models", nil, "models the key may use: names or globs, comma-separated, repeatable (default: all)"+clear)
	f.StringSliceVar(&kf.routes, "routes", nil, "URL paths the key may call, e.g. /v1/chat/completions or /v1/* (default: all)"+clear)
	f.StringSliceVar(&kf.ips, "ip", nil, "networks the key may be used from: CIDR or a bare IP, repeatable (default: anywhere)"+clear)
	f.DurationVar(&kf.ttl, "ttl", 0, "expire the key this long from now, e.g. 24h")
	if update {
		f.StringVar(&kf.expires, "expires", "", `expire the key at this RFC 3339 time; "" or never: never expires`)
	} else {
		f.StringVar(&kf.expires, "expires", "", "expire the key at this RFC 3339 time")
	}
	kf.limits.register(cmd, update)
	f.StringVar(&kf.team, "team", "", "the team the key belongs to (default: the user's team)"+clear)
	f.StringVar(&kf.user, "user", "", "the user the key acts for"+clear)
	f.StringVar(&kf.role, "role", "", "admin, manager, user or auditor (default user)")
	f.StringSliceVar(&kf.tags, "tags", nil, "labels for people and filters, comma-separated"+clear)
	f.BoolVar(&kf.asJSON, "json", false, "print JSON")
	cmd.MarkFlagsMutuallyExclusive("ttl", "expires")
}

// parseIPs turns --ip values into prefixes.
func parseIPs(vals []string) ([]netip.Prefix, error) {
	out := []netip.Prefix{}
	for _, v := range listFlag(vals) {
		p, err := keys.ParseIPPrefix(v)
		if err != nil {
			return nil, fmt.Errorf("--ip: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseExpires(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("--expires %q: use an RFC 3339 time such as 2026-01-31T00:00:00Z", s)
	}
	return t, nil
}

// throwaway holds the defaults of keys create --throwaway.
var throwaway = struct {
	ttl         time.Duration
	budget      meter.Budget
	rpm         int64
	maxParallel int64
	tag         string
}{time.Hour, meter.Budget{Limit: meter.USD, Period: meter.Total}, 60, 4, "throwaway"}

// spec builds a keys.Spec from create's flags.
func (kf *keyFlags) spec(cmd *cobra.Command, isThrowaway bool) (keys.Spec, error) {
	f := cmd.Flags()
	s := keys.Spec{
		Name: kf.name, TTL: kf.ttl, Models: listFlag(kf.models), Routes: listFlag(kf.routes), Tags: listFlag(kf.tags),
		Limits: kf.limits.limits(), Team: strings.TrimSpace(kf.team), User: strings.TrimSpace(kf.user), Role: strings.TrimSpace(kf.role),
	}
	var err error
	if s.IPs, err = parseIPs(kf.ips); err != nil {
		return s, err
	}
	if strings.TrimSpace(kf.expires) != "" {
		if s.ExpiresAt, err = parseExpires(kf.expires); err != nil {
			return s, err
		}
	}
	// A throwaway key starts from the throwaway budget, so that --budget
	// or --budget-period alone changes just that part of it.
	var base meter.Budget
	if isThrowaway {
		base = throwaway.budget
	}
	if s.Budget, _, err = kf.limits.budgetFrom(cmd, base, meter.Month); err != nil {
		return s, err
	}
	if isThrowaway {
		if !f.Changed("ttl") && !f.Changed("expires") {
			s.TTL = throwaway.ttl
		}
		if !f.Changed("rpm") {
			s.Limits.RPM = throwaway.rpm
		}
		if !f.Changed("max-parallel") {
			s.Limits.MaxParallel = throwaway.maxParallel
		}
		if !slices.Contains(s.Tags, throwaway.tag) {
			s.Tags = append(s.Tags, throwaway.tag)
		}
	}
	return s, nil
}

func (a *app) keysCreateCmd() *cobra.Command {
	var (
		kf          keyFlags
		isThrowaway bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [policy flags] [--throwaway] [--json]",
		Short: "Create a virtual key and print it once",
		Long: `Create a virtual key and print it. This is the only time the key is shown:
store it where the application reads it (a secret manager, or
warden secrets set on the application's side).

Every policy flag is optional; without it the key is not restricted that
way. --models takes model names or globs and --routes URL path patterns
('*' and '?' do not match '/', so use 'meta-llama/*' for a model family;
a route ending in /* takes in the whole subtree). --ip takes CIDR prefixes
or bare addresses. --ttl takes Go durations (90m, 24h, 720h), --expires an
RFC 3339 time. --budget is in US dollars per --budget-period (month unless
given). --team and --user must name an existing team and user (warden
teams create, warden users create); a key for a user in a team joins that
team unless --team says otherwise. A key with --role admin may use the
admin API; its data-plane limits and budget still apply.

--throwaway makes a short-lived key for a demo or a test: unless given
otherwise it expires in 1h, may spend $1 in total, makes 60 requests a
minute and 4 at once, and is tagged "throwaway". The same by hand:
--ttl 1h --budget 1 --budget-period total --rpm 60 --max-parallel 4.`,
		Example: `  warden keys create --name ci-evals
  warden keys create --name demo --ttl 1h --budget 1           # expires in an hour, $1 a month at most
  warden keys create --name demo --throwaway                   # 1h, $1 in total, 60 rpm, 4 parallel
  warden keys create --name intern-sandbox --models gpt-4o-mini,'claude-3-5-haiku*' --ttl 168h
  warden keys create --name iris-client --routes '/proxy/iris/*' --ip 10.0.0.0/8 --ip 192.0.2.7
  warden keys create --name ada-laptop --user ada@example.com --rpm 60 --tpm 100000 --budget 20
  warden keys create --name ops-admin --role admin --team platform --tags ops,oncall
  warden keys create --name batch --expires 2026-01-31T00:00:00Z --json | jq -r .key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := kf.spec(cmd, isThrowaway)
			if err != nil {
				return err
			}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				k, sec, err := m.Create(cmd.Context(), spec)
				if err != nil {
					return err
				}
				defer sec.Destroy()
				return printNewKey(cmd.OutOrStdout(), "Created", k, sec, kf.asJSON)
			})
		},
	}
	kf.register(cmd, false)
	cmd.Flags().BoolVar(&isThrowaway, "throwaway", false, "a short-lived demo key: --ttl 1h --budget 1 --budget-period total --rpm 60 --max-parallel 4 unless given")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// printNewKey shows a key that was just created or rotated: the one time
// its secret is printed.
func printNewKey(w io.Writer, verb string, k keys.Key, sec secret.Secret, asJSON bool) error {
	if asJSON {
		quoted := make([]byte, 0, sec.Len()+2)
		quoted = append(append(append(quoted, '"'), sec.Reveal()...), '"')
		defer clear(quoted)
		out := keyview.Created{Secret: quoted, Key: keyview.FromKey(k, k.UpdatedAt)}
		if verb == "Rotated" {
			out.PreviousValidUntil = optTime(k.PreviousValidUntil)
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		defer clear(b)
		if _, err := w.Write(b); err != nil {
			return err
		}
		_, err = io.WriteString(w, "\n")
		return err
	}
	fmt.Fprintf(w, "%s key %s (%s).\n\n    ", verb, k.ID, k.Name)
	if _, err := w.Write(sec.Reveal()); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n\nThis is the only time the key is shown: copy it now. Warden keeps only a keyed hash.\n")
	fmt.Fprintf(w, "Models:  %s\n", describeModels(k.Models))
	fmt.Fprintf(w, "Expires: %s\n", describeTime(k.ExpiresAt, "never"))
	fmt.Fprintf(w, "Policy:  %s\n", describePolicy(k))
	return nil
}

func describeModels(ms []string) string {
	if len(ms) == 0 {
		return "all"
	}
	return strings.Join(ms, ",")
}

func describeTime(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.Local().Format(time.DateTime)
}

// describeLimits writes limits compactly ("rpm=60 parallel=4"), or "".
func describeLimits(l keys.Limits) string {
	var parts []string
	for _, x := range []struct {
		name string
		v    int64
	}{{"rps", l.RPS}, {"rpm", l.RPM}, {"tpm", l.TPM}, {"parallel", l.MaxParallel}} {
		if x.v > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", x.name, x.v))
		}
	}
	return strings.Join(parts, " ")
}

func describeBudget(b meter.Budget) string {
	if b.IsZero() {
		return ""
	}
	return b.Limit.String() + "/" + string(b.Period)
}

// describePolicy writes a key's policy other than models on one line, "-"
// if it has none.
func describePolicy(k keys.Key) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+"="+v)
		}
	}
	if k.Role != keys.RoleUser {
		add("role", k.Role)
	}
	add("team", k.Team)
	add("user", k.User)
	add("routes", strings.Join(k.Routes, ","))
	ips := make([]string, len(k.IPs))
	for i, p := range k.IPs {
		ips[i] = p.String()
	}
	add("ips", strings.Join(ips, ","))
	if l := describeLimits(k.Limits); l != "" {
		parts = append(parts, l)
	}
	add("budget", describeBudget(k.Budget))
	add("tags", strings.Join(k.Tags, ","))
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func (a *app) keysListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List virtual keys: ids, names, hints, states and policies, never the keys",
		Long: `List every key, revoked ones included, oldest first. The POLICY column
shows what restricts each key besides its models (role if not user, team,
user, routes, IPs, limits, budget, tags); --json shows everything.`,
		Example: `  warden keys list
  warden keys list --json | jq -r '.[] | select(.state == "active") | .id'
  warden keys list --json | jq '.[] | select(.team == "ml") | {id, budget}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				ks, err := m.List(cmd.Context())
				if err != nil {
					return err
				}
				return printKeys(cmd.OutOrStdout(), ks, time.Now(), asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printKeys(w io.Writer, ks []keys.Key, now time.Time, asJSON bool) error {
	if asJSON {
		list := make([]keyview.Key, 0, len(ks))
		for _, k := range ks {
			list = append(list, keyview.FromKey(k, now))
		}
		return writeJSON(w, list)
	}
	if len(ks) == 0 {
		fmt.Fprintln(w, "no keys yet: create one with warden keys create --name NAME")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tHINT\tMODELS\tSTATE\tEXPIRES\tLAST USED\tPOLICY")
	for _, k := range ks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, describeModels(k.Models), describeState(k, now),
			describeTime(k.ExpiresAt, "never"), describeTime(k.LastUsedAt, "never"), describePolicy(k))
	}
	return tw.Flush()
}

// describeState is a key's state as a person needs it: expired keys and
// rotation grace periods included.
func describeState(k keys.Key, now time.Time) string {
	state := string(k.State)
	if k.State == keys.Active && k.Expired(now) {
		state = "expired"
	}
	if k.State != keys.Revoked && now.Before(k.PreviousValidUntil) {
		state += " (old key until " + describeTime(k.PreviousValidUntil, "") + ")"
	}
	return state
}

// printKey shows one key in full, one field a line.
func printKey(w io.Writer, k keys.Key, now time.Time, asJSON bool) error {
	if asJSON {
		return writeJSON(w, keyview.FromKey(k, now))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ips := make([]string, len(k.IPs))
	for i, p := range k.IPs {
		ips[i] = p.String()
	}
	for _, row := range [][2]string{
		{"ID", k.ID}, {"Name", k.Name}, {"Hint", k.Hint}, {"State", describeState(k, now)}, {"Role", k.Role},
		{"Team", orDash(k.Team)}, {"User", orDash(k.User)},
		{"Models", describeModels(k.Models)}, {"Routes", orAll(strings.Join(k.Routes, ","))},
		{"IPs", orAll(strings.Join(ips, ","))}, {"Limits", orNone(describeLimits(k.Limits))},
		{"Budget", orNone(describeBudget(k.Budget))}, {"Tags", orDash(strings.Join(k.Tags, ","))},
		{"Expires", describeTime(k.ExpiresAt, "never")}, {"Created", describeTime(k.CreatedAt, "")},
		{"Updated", describeTime(k.UpdatedAt, "")}, {"Last used", describeTime(k.LastUsedAt, "never")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func orDash(s string) string { return orText(s, "-") }
func orAll(s string) string  { return orText(s, "all") }
func orNone(s string) string { return orText(s, "none") }

func orText(s, empty string) string {
	if s == "" {
		return empty
	}
	return s
}

func (a *app) keysShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one key's record and policy, never the key",
		Example: `  warden keys show key_3xY9aBcDeFgHiJkL
  warden keys show key_3xY9aBcDeFgHiJkL --json | jq .limits`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				k, err := m.Get(cmd.Context(), args[0])
				if err != nil {
					return keyArgError(err)
				}
				return printKey(cmd.OutOrStdout(), k, time.Now(), asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// update builds a keys.KeyUpdate from update's flags: only the flags given
// change anything. cur is the key as it is, for the budget's period.
func (kf *keyFlags) update(cmd *cobra.Command, cur keys.Key) (keys.KeyUpdate, error) {
	f := cmd.Flags()
	var u keys.KeyUpdate
	if f.Changed("name") {
		u.Name = &kf.name
	}
	for _, x := range []struct {
		flag string
		vals []string
		dst  *[]string
	}{{"models", kf.models, &u.Models}, {"routes", kf.routes, &u.Routes}, {"tags", kf.tags, &u.Tags}} {
		if f.Changed(x.flag) {
			*x.dst = listFlag(x.vals)
		}
	}
	if f.Changed("ip") {
		ips, err := parseIPs(kf.ips)
		if err != nil {
			return u, err
		}
		u.IPs = ips
	}
	u.TTL = kf.ttl
	if f.Changed("expires") {
		var t time.Time
		if s := strings.TrimSpace(kf.expires); s != "" && s != "never" {
			var err error
			if t, err = parseExpires(s); err != nil {
				return u, err
			}
		}
		u.ExpiresAt = &t
	}
	u.Limits = kf.limits.limitsUpdate(cmd)
	b, changed, err := kf.limits.budgetFrom(cmd, cur.Budget, meter.Month)
	if err != nil {
		return u, err
	}
	if changed {
		u.Budget = &b
	}
	for _, x := range []struct {
		flag string
		v    string
		dst  **string
	}{{"team", kf.team, &u.Team}, {"user", kf.user, &u.User}, {"role", kf.role, &u.Role}} {
		if f.Changed(x.flag) {
			v := strings.TrimSpace(x.v)
			*x.dst = &v
		}
	}
	return u, nil
}

// anyChanged reports whether any of the named flags was given.
func anyChanged(cmd *cobra.Command, names ...string) bool {
	return slices.ContainsFunc(names, cmd.Flags().Changed)
}

// limitFlagNames and keyFlagNames are the flags that limitFlags and
// keyFlags register, but for --json.
var (
	limitFlagNames = []string{"rps", "rpm", "tpm", "max-parallel", "budget", "budget-period"}
	keyFlagNames   = append([]string{"name", "models", "routes", "ip", "ttl", "expires", "team", "user", "role", "tags"}, limitFlagNames...)
)

func (a *app) keysUpdateCmd() *cobra.Command {
	var kf keyFlags
	cmd := &cobra.Command{
		Use:   "update ID [policy flags] [--json]",
		Short: "Change a key's name, policy or expiry",
		Long: `Change a key's name, policy or expiry; only the flags given change
anything, and running servers see the change within a second. The flags
are those of keys create.

To clear a list or a reference give it empty: --models "" (every model),
--routes "", --ip "", --tags "", --team "", --user "". --expires "" (or
never) makes the key never expire; --ttl sets the expiry from now. A limit
of 0 removes it, and --budget 0 (or "") removes the budget. --budget alone
keeps the budget's period (month if it had none); --budget-period alone
changes the period of the current amount. --role "" is the user role.

Revoked and expired keys cannot be changed: create a new key.`,
		Example: `  warden keys update key_3xY9aBcDeFgHiJkL --rpm 120 --tpm 200000
  warden keys update key_3xY9aBcDeFgHiJkL --budget 50 --budget-period month
  warden keys update key_3xY9aBcDeFgHiJkL --ip 10.0.0.0/8 --ip 2001:db8::/32
  warden keys update key_3xY9aBcDeFgHiJkL --models "" --ip "" --budget 0   # lift those restrictions
  warden keys update key_3xY9aBcDeFgHiJkL --team ml --user ada@example.com --role manager
  warden keys update key_3xY9aBcDeFgHiJkL --ttl 24h --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !anyChanged(cmd, keyFlagNames...) {
				return errors.New("nothing to change: give at least one flag (see warden keys update --help)")
			}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				cur, err := m.Get(cmd.Context(), args[0])
				if err != nil {
					return keyArgError(err)
				}
				u, err := kf.update(cmd, cur)
				if err != nil {
					return err
				}
				k, err := m.UpdateKey(cmd.Context(), args[0], u)
				if err != nil {
					return keyArgError(err)
				}
				w := cmd.OutOrStdout()
				if !kf.asJSON {
					fmt.Fprintf(w, "updated key %s\n\n", k.ID)
				}
				return printKey(w, k, time.Now(), kf.asJSON)
			})
		},
	}
	kf.register(cmd, true)
	return cmd
}

// keyArgError explains a failure on a key named by id, with a pointer to
// the list when the id is unknown.
func keyArgError(err error) error {
	if errors.Is(err, keys.ErrNotFound) {
		return fmt.Errorf("%w (see warden keys list)", err)
	}
	return err
}

func (a *app) keysRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key for good",
		Long: `Revoke a key. Revocation is final, and covers the key's previous secret if
it is still in a rotation grace period. Running servers refuse the key
within a second.`,
		Example: `  warden keys revoke key_3xY9aBcDeFgHiJkL`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				if err := m.Revoke(cmd.Context(), args[0]); err != nil {
					return keyArgError(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked key %s\n", args[0])
				return nil
			})
		},
	}
}

func (a *app) keysRotateCmd() *cobra.Command {
	var (
		grace  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "rotate ID [--grace DURATION] [--json]",
		Short: "Give a key a new secret and print it once",
		Long: `Give a key a new secret, keeping its id, name, models and expiry, and print
the new secret. This is the only time it is shown.

By default the old secret stops working at once, which is what a leaked
key needs. To switch clients over without downtime, give --grace: the old
secret keeps working that long. Rotating again during a grace period ends
the older secret at once.`,
		Example: `  warden keys rotate key_3xY9aBcDeFgHiJkL              # old secret stops now
  warden keys rotate key_3xY9aBcDeFgHiJkL --grace 1h    # old secret works for another hour
  warden keys rotate key_3xY9aBcDeFgHiJkL --json | jq -r .key`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				k, sec, err := m.Rotate(cmd.Context(), args[0], grace)
				if err != nil {
					return keyArgError(err)
				}
				defer sec.Destroy()
				w := cmd.OutOrStdout()
				if err := printNewKey(w, "Rotated", k, sec, asJSON); err != nil {
					return err
				}
				if !asJSON {
					if grace > 0 {
						fmt.Fprintf(w, "The old secret keeps working until %s (grace %s).\n", describeTime(k.PreviousValidUntil, ""), grace)
					} else {
						fmt.Fprintln(w, "The old secret has stopped working.")
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "keep the old secret working this long, e.g. 1h (default: stop it now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// keysStateCmd builds suspend and resume, which differ only in words.
func (a *app) keysStateCmd(verb, short, example string, op func(*keys.Manager, context.Context, string) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " ID",
		Short:   short,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				if err := op(m, cmd.Context(), args[0]); err != nil {
					return keyArgError(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), done, args[0])
				return nil
			})
		},
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
