package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/meter"
)

// parseSince reads a time bound: a duration back from now ("7d", "36h",
// "90m") or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 36500 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use a duration back from now such as 7d, 24h or 90m, or an RFC 3339 time such as 2026-01-31T00:00:00Z", s)
}

func (a *app) usageCmd() *cobra.Command {
	var by, since, until, keyID, team, user string
	var asJSON, asCSV bool
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show tokens and cost by key, team, user, model or day",
		Long: `Sums the usage Warden recorded for every call that reached a provider:
requests, input and output tokens and cost in US dollars. Costs come from the
price table in effect when the call was made (see warden pricing show).`,
		Example: `  warden usage --by model --since 7d
  warden usage --by day --team ml --since 30d --csv > ml.csv
  warden usage --by key --since 2026-01-01T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON && asCSV {
				return fmt.Errorf("choose one of --json and --csv")
			}
			now := time.Now()
			q := meter.UsageQuery{By: meter.GroupBy(by), KeyID: keyID, Team: team, User: user}
			var err error
			if q.Since, err = parseSince(since, now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			if q.Until, err = parseSince(until, now); err != nil {
				return fmt.Errorf("--until: %w", err)
			}
			if err := q.Check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := a.open(ctx, a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			rows, err := s.db.UsageSummary(ctx, q)
			if err != nil {
				return err
			}
			return writeUsage(cmd, by, rows, asJSON, asCSV)
		},
	}
	f := cmd.Flags()
	f.StringVar(&by, "by", "model", "group by key, team, user, model or day")
	f.StringVar(&since, "since", "30d", "start: a duration back from now (7d, 24h) or an RFC 3339 time; empty for all")
	f.StringVar(&until, "until", "", "end (exclusive), in the same forms; empty for now")
	f.StringVar(&keyID, "key", "", "only this key id")
	f.StringVar(&team, "team", "", "only this team")
	f.StringVar(&user, "user", "", "only this user")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.BoolVar(&asCSV, "csv", false, "print CSV")
	return cmd
}

func writeUsage(cmd *cobra.Command, by string, rows []meter.UsageRow, asJSON, asCSV bool) error {
	out := cmd.OutOrStdout()
	switch {
	case asJSON:
		type row struct {
			Group        string  `json:"group"`
			Requests     int64   `json:"requests"`
			InputTokens  int64   `json:"input_tokens"`
			OutputTokens int64   `json:"output_tokens"`
			CostUSD      string  `json:"cost_usd"`
			Cost         float64 `json:"cost"`
		}
		list := make([]row, 0, len(rows))
		for _, r := range rows {
			list = append(list, row{r.Group, r.Requests, r.InputTokens, r.OutputTokens, strings.TrimPrefix(r.Cost.String(), "$"), r.Cost.Dollars()})
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"by": by, "rows": list})
	case asCSV:
		w := csv.NewWriter(out)
		_ = w.Write([]string{by, "requests", "input_tokens", "output_tokens", "cost_usd"})
		for _, r := range rows {
			_ = w.Write([]string{r.Group, strconv.FormatInt(r.Requests, 10), strconv.FormatInt(r.InputTokens, 10),
				strconv.FormatInt(r.OutputTokens, 10), strings.TrimPrefix(r.Cost.String(), "$")})
		}
		w.Flush()
		return w.Error()
	}
	if len(rows) == 0 {
		fmt.Fprintln(out, "No usage recorded in that time.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%s\tREQUESTS\tINPUT TOKENS\tOUTPUT TOKENS\tCOST\n", strings.ToUpper(by))
	var total meter.UsageRow
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", r.Group, r.Requests, r.InputTokens, r.OutputTokens, r.Cost)
		total.Requests += r.Requests
		total.InputTokens += r.InputTokens
		total.OutputTokens += r.OutputTokens
		total.Cost += r.Cost
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%d\t%d\t%s\n", total.Requests, total.InputTokens, total.OutputTokens, total.Cost)
	return tw.Flush()
}
