package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/store"
	"github.com/wardenproject/warden/internal/store/sqlite"
)

func (a *app) alertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List and acknowledge alerts",
		Long: `Alerts are what Warden's anomaly detection and budgets found: rate spikes,
keys used from new networks or tools or at unusual hours, bursts of failed
authentication, repeated guardrail blocks and injection attempts, budget
thresholds. Every alert is kept in the data directory, whatever was sent to
webhooks.`,
		Example: `  warden alerts list
  warden alerts list --since 7d --json
  warden alerts ack alr_2xq4mzd7k3v5hb6n1c8wj0fgtp`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(a.alertsListCmd(), a.alertsAckCmd())
	return cmd
}

// openAlerts opens the store alone: alerts hold no secrets, so reading
// and acknowledging them needs no master key.
func (a *app) openAlerts(ctx context.Context) (*sqlite.DB, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, cfg.DataDir)
}

func (a *app) alertsListCmd() *cobra.Command {
	var since string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recent alerts, newest first",
		Example: `  warden alerts list
  warden alerts list --since 7d --limit 500
  warden alerts list --since 2026-03-01T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, err := parseSince(since, time.Now())
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if limit < 1 || limit > 10_000 {
				return errors.New("--limit must be between 1 and 10000")
			}
			ctx := cmd.Context()
			db, err := a.openAlerts(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := db.ListAlerts(ctx, from, limit)
			if err != nil {
				return err
			}
			return writeAlerts(cmd, list, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "start: a duration back from now (24h, 7d) or an RFC 3339 time; empty for all")
	f.IntVar(&limit, "limit", 100, "at most this many alerts")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeAlerts(cmd *cobra.Command, list []alert.Alert, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(list) == 0 {
		fmt.Fprintln(out, "No alerts in that time.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tID\tSEVERITY\tRULE\tSUBJECT\tACKED\tMESSAGE")
	for _, a := range list {
		acked := "-"
		if !a.AckedAt.IsZero() {
			acked = a.AckedAt.UTC().Format(time.RFC3339)
		}
		// Alerts quote outside text (user agents); a terminal must not
		// read any of it as control sequences, nor tabs as columns.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Time.UTC().Format(time.RFC3339), cell(a.ID), cell(string(a.Severity)),
			cell(a.Rule), cell(a.Subject.String()), acked, cell(a.Message))
	}
	return tw.Flush()
}

func cell(s string) string { return alert.Clean(s, alert.MaxMessageLen) }

func (a *app) alertsAckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ack ID",
		Short: "Acknowledge an alert: mark it seen",
		Long: `Records that someone looked at the alert. It stays in the list, marked with
the time of the first acknowledgement. A key the alert suspended stays
suspended: resume it with warden keys resume.`,
		Example: `  warden alerts ack alr_2xq4mzd7k3v5hb6n1c8wj0fgtp`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := args[0]
			if !alertID(id) {
				// Not echoed: a pasted key or token must not end up in
				// terminal scrollback or logs.
				return errors.New("that is not an alert id; alert ids look like alr_ followed by letters and digits (see warden alerts list)")
			}
			ctx := cmd.Context()
			db, err := a.openAlerts(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.AckAlert(ctx, id, time.Now()); errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no alert %s; see warden alerts list --since ''", id)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Acknowledged alert %s.\n", id)
			return nil
		},
	}
}

// alertID reports whether s looks like an alert id.
func alertID(s string) bool {
	rest, ok := strings.CutPrefix(s, "alr_")
	if !ok || rest == "" || len(s) > alert.MaxIDLen {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
