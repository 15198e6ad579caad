package cli

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/store/sqlite"
	"github.com/wardenproject/warden/internal/vault"
)

// auditKeyName is the vault secret holding the seed of the Ed25519 key
// that signs audit checkpoints. Version 1 is the key for the life of the
// data directory, as with the key pepper: every process reads that
// version, so two processes creating it at once still agree.
const auditKeyName = "warden.audit-signing-key"

// auditFollowInterval is how often tail -f looks for new records.
const auditFollowInterval = 500 * time.Millisecond

// auditSigner returns the signer of audit checkpoints, creating its key
// in the vault on first use.
func auditSigner(ctx context.Context, v *vault.Vault) (*audit.Ed25519Signer, error) {
	seed, err := auditSeedKey.get(ctx, v)
	if err != nil {
		return nil, err
	}
	defer seed.Destroy()
	return audit.NewEd25519Signer(seed.Reveal())
}

// auditPublicKey returns the public key that checks audit checkpoints,
// or nil if the vault has no signing key (nothing was ever signed).
func auditPublicKey(ctx context.Context, v *vault.Vault) (ed25519.PublicKey, error) {
	seed, err := auditSeedKey.read(ctx, v)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		if exists, err := auditSeedKey.exists(ctx, v); err != nil {
			return nil, err
		} else if exists {
			return nil, fmt.Errorf("version 1 of the secret %s is gone (pruned?) and the audit log's checkpoints depend on it: restore the data directory from a backup", auditKeyName)
		}
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer seed.Destroy()
	s, err := audit.NewEd25519Signer(seed.Reveal())
	if err != nil {
		return nil, err
	}
	defer s.Destroy()
	return s.PublicKey(), nil
}

// logCLIAction appends one record of an operator's action to the audit
// log and signs a checkpoint of it before returning.
func (a *app) logCLIAction(ctx context.Context, s *session, log *slog.Logger, rec audit.Record) error {
	signer, err := auditSigner(ctx, s.vault)
	if err != nil {
		return err
	}
	defer signer.Destroy()
	w, err := audit.NewWriter(audit.WriterOptions{Store: s.db, Signer: signer, Logger: log})
	if err != nil {
		return err
	}
	rec.Kind = audit.KindCLI
	if rec.Principal.User == "" {
		rec.Principal.User = cmp.Or(a.env["USER"], "unknown")
	}
	logErr := w.Log(ctx, rec)
	if err := errors.Join(logErr, w.Close(ctx)); err != nil {
		return fmt.Errorf("write the audit record of %s: %w", rec.Action, err)
	}
	return nil
}

// openAuditDB opens the store alone: reading the log needs no master key.
func (a *app) openAuditDB(ctx context.Context) (*sqlite.DB, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, cfg.DataDir)
}

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, export, verify and prune the tamper-evident audit log",
		Long: `Warden writes one audit record for every call through the gateway and every
admin or CLI action: when, who (user, team, role, key id — never the key),
from where, what was called, the outcome, tokens, cost and guardrail
verdicts. Records are hash chained, and checkpoints of the chain are signed
with a key held in the vault, so that warden audit verify finds any record
that was changed, removed, added or moved.`,
		Example: `  warden audit tail -n 50
  warden audit tail -f --key key_3xY9aBcDeFgHiJkL
  warden audit export --format csv --since 30d > audit.csv
  warden audit verify
  warden audit prune --before 90d`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.auditTailCmd(), a.auditExportCmd(), a.auditVerifyCmd(), a.auditPruneCmd())
	return cmd
}

// auditFilter holds the flags that select records.
type auditFilter struct {
	since, until, keyID, kind, action string
}

func (f *auditFilter) register(cmd *cobra.Command, since string, withUntil bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.since, "since", since, "start: a duration back from now (7d, 24h, 90m) or an RFC 3339 time; empty for all")
	if withUntil {
		fl.StringVar(&f.until, "until", "", "end (exclusive), in the same forms; empty for now")
	}
	fl.StringVar(&f.keyID, "key", "", "only records of this key id")
	fl.StringVar(&f.kind, "kind", "", "only records of this kind: call, admin, cli or system")
	fl.StringVar(&f.action, "action", "", "only records of this action, e.g. key.revoke")
}

func (f *auditFilter) query(now time.Time) (audit.Query, error) {
	q := audit.Query{KeyID: f.keyID, Kind: audit.Kind(f.kind), Action: f.action}
	var err error
	if q.Since, err = parseSince(f.since, now); err != nil {
		return audit.Query{}, fmt.Errorf("--since: %w", err)
	}
	if q.Until, err = parseSince(f.until, now); err != nil {
		return audit.Query{}, fmt.Errorf("--until: %w", err)
	}
	if err := q.Check(); err != nil {
		return audit.Query{}, err
	}
	return q, nil
}

func (a *app) auditTailCmd() *cobra.Command {
	var (
		f      auditFilter
		n      int
		follow bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Show the latest audit records, and with -f new ones as they come",
		Example: `  warden audit tail
  warden audit tail -n 100 --since 1h --kind admin
  warden audit tail -f --key key_3xY9aBcDeFgHiJkL --json | jq .`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || n > 10_000 {
				return errors.New("-n must be between 1 and 10000")
			}
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openAuditDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			// Following goes on from the newest record, whether or not it
			// matches, read first so that nothing written meanwhile is
			// missed.
			newest, err := db.AuditRecords(ctx, audit.Query{Limit: 1, Latest: true})
			if err != nil {
				return err
			}
			q.Limit, q.Latest = n, true
			recs, err := db.AuditRecords(ctx, q)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := printAuditRecords(out, recs, asJSON); err != nil {
				return err
			}
			if !follow {
				return nil
			}
			q.Since, q.Limit, q.Latest = time.Time{}, 1000, false
			if len(newest) > 0 {
				q.AfterSeq = newest[0].Seq
			}
			if len(recs) > 0 {
				q.AfterSeq = max(q.AfterSeq, recs[len(recs)-1].Seq)
			}
			t := time.NewTicker(auditFollowInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
				recs, err := db.AuditRecords(ctx, q)
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					return err
				}
				if err := printAuditRecords(out, recs, asJSON); err != nil {
					return err
				}
				if len(recs) > 0 {
					q.AfterSeq = recs[len(recs)-1].Seq
				}
			}
		},
	}
	f.register(cmd, "", false)
	cmd.Flags().IntVarP(&n, "lines", "n", 20, "how many of the latest records to show")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep showing new records until interrupted")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per record")
	return cmd
}

// printAuditRecords writes recs one line each: a JSON object, or the
// fields that are set as key=value.
func printAuditRecords(w io.Writer, recs []audit.Record, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for i := range recs {
			if err := enc.Encode(&recs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var b strings.Builder
	for i := range recs {
		b.Reset()
		formatAuditLine(&b, &recs[i])
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
	}
	return nil
}

func formatAuditLine(b *strings.Builder, r *audit.Record) {
	fmt.Fprintf(b, "%s #%d %s %s", r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), r.Seq, r.Kind, r.Action)
	field := func(k, v string) {
		if v != "" {
			// %q keeps a value with spaces or control characters on one
			// line and readable.
			if strings.ContainsFunc(v, func(c rune) bool { return c <= ' ' || c == '"' || c == 0x7f }) {
				fmt.Fprintf(b, " %s=%q", k, v)
			} else {
				fmt.Fprintf(b, " %s=%s", k, v)
			}
		}
	}
	if r.Status != 0 {
		field("status", strconv.Itoa(r.Status))
	}
	field("reason", r.Reason)
	field("key", r.KeyID)
	field("user", r.Principal.User)
	field("team", r.Principal.Team)
	field("role", r.Principal.Role)
	field("target", r.Target)
	field("model", r.Model)
	field("provider", r.Provider)
	field("deployment", r.Deployment)
	field("route", r.Route)
	if r.Latency > 0 {
		field("latency", r.Latency.String())
	}
	if r.TokensIn != 0 || r.TokensOut != 0 {
		field("tokens", fmt.Sprintf("%d/%d", r.TokensIn, r.TokensOut))
	}
	if r.Cost != 0 {
		field("cost", meter.Amount(r.Cost).String())
	}
	for _, v := range r.Verdicts {
		field("guard", fmt.Sprintf("%s/%s:%s×%d", v.Class, v.Type, v.Action, v.Count))
	}
	if r.Retries != 0 || r.Fallbacks != 0 {
		field("retries", strconv.Itoa(r.Retries))
		field("fallbacks", strconv.Itoa(r.Fallbacks))
	}
	field("ip", r.ClientIP)
	field("agent", r.UserAgent)
	field("request", r.RequestID)
	b.WriteByte('\n')
}

// auditCSVHeader names the columns of export --format csv.
var auditCSVHeader = []string{"seq", "time", "request_id", "kind", "action", "user", "team", "role", "key_id",
	"client_ip", "user_agent", "route", "model", "provider", "deployment", "status", "reason", "latency_ns",
	"tokens_in", "tokens_out", "cost_nano_usd", "verdicts", "retries", "fallbacks", "target", "payload",
	"prev_hash", "hash"}

func (a *app) auditExportCmd() *cobra.Command {
	var (
		f      auditFilter
		format string
	)
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write audit records to stdout as JSON Lines or CSV",
		Long: `Writes the records that match, oldest first, to stdout: JSON Lines (one
record per line, every field, with its seq and hashes) or CSV with a header
row. In CSV, text that starts with = + - @ or a tab is prefixed with ' so
that a spreadsheet does not run it as a formula; use JSON Lines for the
exact values.`,
		Example: `  warden audit export --format jsonl > audit.jsonl
  warden audit export --format csv --since 30d --kind admin > admin.csv
  warden audit export --format jsonl --since 2026-03-01T00:00:00Z --until 2026-04-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "jsonl" && format != "csv" {
				return fmt.Errorf("--format %q: use jsonl or csv", format)
			}
			q, err := f.query(time.Now())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openAuditDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			out := cmd.OutOrStdout()
			var cw *csv.Writer
			if format == "csv" {
				cw = csv.NewWriter(out)
				if err := cw.Write(auditCSVHeader); err != nil {
					return err
				}
			}
			enc := json.NewEncoder(out)
			q.Limit = 1000
			for {
				recs, err := db.AuditRecords(ctx, q)
				if err != nil {
					return err
				}
				for i := range recs {
					if cw != nil {
						err = cw.Write(auditCSVRow(&recs[i]))
					} else {
						err = enc.Encode(&recs[i])
					}
					if err != nil {
						return err
					}
				}
				if len(recs) < q.Limit {
					break
				}
				q.AfterSeq = recs[len(recs)-1].Seq
			}
			if cw != nil {
				cw.Flush()
				return cw.Error()
			}
			return nil
		},
	}
	f.register(cmd, "", true)
	cmd.Flags().StringVar(&format, "format", "jsonl", "jsonl or csv")
	return cmd
}

func auditCSVRow(r *audit.Record) []string {
	verdicts := "[]"
	if len(r.Verdicts) > 0 {
		b, _ := json.Marshal(r.Verdicts) // plain strings and ints: cannot fail
		verdicts = string(b)
	}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{
		i64(r.Seq), r.Time.UTC().Format(time.RFC3339Nano), csvText(r.RequestID), string(r.Kind), csvText(r.Action),
		csvText(r.Principal.User), csvText(r.Principal.Team), csvText(r.Principal.Role), csvText(r.KeyID),
		csvText(r.ClientIP), csvText(r.UserAgent), csvText(r.Route), csvText(r.Model), csvText(r.Provider),
		csvText(r.Deployment), strconv.Itoa(r.Status), csvText(r.Reason), i64(int64(r.Latency)), i64(r.TokensIn),
		i64(r.TokensOut), i64(r.Cost), verdicts, strconv.Itoa(r.Retries), strconv.Itoa(r.Fallbacks),
		csvText(r.Target), csvText(r.Payload), r.PrevHash.String(), r.Hash.String(),
	}
}

// csvText defuses text a spreadsheet would read as a formula: callers
// choose their user agent, and an export is opened by people.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (a *app) auditVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain and checkpoint signatures",
		Long: `Walks the whole audit log in order and checks that no record is missing,
that every record matches its hash and links to the one before it, and that
every checkpoint carries a valid signature of the key in the vault and
matches its record. Exits 0 and prints "ok" if all is well; otherwise exits
1 and names the first record that is wrong.

Records after the last checkpoint are protected by the chain alone; a
running server signs a checkpoint at least every minute and when it stops.`,
		Example: `  warden audit verify
  warden audit verify --data-dir /backup/warden-data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.open(ctx, a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			pub, err := auditPublicKey(ctx, s.vault)
			if err != nil {
				return err
			}
			rep, err := audit.Verify(ctx, s.db, pub)
			if err != nil {
				return err
			}
			if !rep.OK() {
				return fmt.Errorf("the audit log failed verification at record %d: %s", rep.Problem.Seq, rep.Problem.Reason)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "ok: %d records, %d checkpoints verified\n", rep.Records, rep.Checkpoints)
			if rep.Anchor > 0 {
				fmt.Fprintf(out, "the log was pruned: it starts after the checkpoint at record %d\n", rep.Anchor)
			}
			if rep.Unsigned > 0 {
				fmt.Fprintf(out, "%d newest records are not yet covered by a checkpoint\n", rep.Unsigned)
			}
			return nil
		},
	}
}

func (a *app) auditPruneCmd() *cobra.Command {
	var before string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete audit records older than the retention period",
		Long: `Deletes the records older than --before, up to the last checkpoint that
leaves no newer record behind it. That checkpoint stays as the anchor the
remaining records chain from, so warden audit verify still passes. Records
not yet covered by a checkpoint are never deleted. The prune itself is
recorded in the audit log.`,
		Example: `  warden audit prune                  # the default retention, 90 days
  warden audit prune --before 30d
  warden audit prune --before 2026-01-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if before == "" {
				return errors.New("--before must not be empty: give a duration back from now such as 90d, or an RFC 3339 time")
			}
			cutoff, err := parseSince(before, time.Now())
			if err != nil {
				return fmt.Errorf("--before: %w", err)
			}
			ctx := cmd.Context()
			log := a.cliLogger()
			s, err := a.open(ctx, log)
			if err != nil {
				return err
			}
			defer s.Close()
			res, err := audit.Prune(ctx, s.db, cutoff)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.Deleted == 0 {
				fmt.Fprintf(out, "nothing to prune: no checkpointed record is older than %s\n", cutoff.UTC().Format(time.RFC3339))
				return nil
			}
			if err := a.logCLIAction(ctx, s, log, audit.Record{
				Time: time.Now(), Action: "audit.prune", Target: strconv.FormatInt(res.Anchor, 10), Principal: audit.Principal{Role: "operator"},
			}); err != nil {
				return err
			}
			fmt.Fprintf(out, "pruned %d records older than %s; the log now starts after the checkpoint at record %d\n",
				res.Deleted, cutoff.UTC().Format(time.RFC3339), res.Anchor)
			return nil
		},
	}
	cmd.Flags().StringVar(&before, "before", fmt.Sprintf("%dd", int(audit.DefaultRetention/(24*time.Hour))),
		"delete records older than this: a duration back from now (90d, 720h) or an RFC 3339 time")
	return cmd
}

// recordCLI writes one audit record for a command that changed something
// (a key, a secret, a team, a user): who ran it on this machine, which
// command, on what. A failure to audit is reported on stderr, not hidden;
// the change itself has already happened.
func (a *app) recordCLI(ctx context.Context, s *session, cmd *cobra.Command, target string) {
	action := strings.ReplaceAll(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), " ", ".")
	rec := audit.Record{Time: time.Now(), Action: action, Target: target, Principal: audit.Principal{Role: "operator"}}
	if err := a.logCLIAction(context.WithoutCancel(ctx), s, a.cliLogger(), rec); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warden: the change was made but not written to the audit log: %v\n", err)
	}
}

// mutating reports whether a command changes state (and so is audited).
func mutating(cmd *cobra.Command) bool {
	switch cmd.Name() {
	case "create", "update", "revoke", "rotate", "suspend", "resume", "rm", "set", "import", "rotate-master", "prune":
		return true
	}
	return false
}
