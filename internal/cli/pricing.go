package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/meter"
)

// pricingFile is where `warden pricing update` keeps a price table, in the
// data directory; it replaces the embedded table until `pricing reset`.
const pricingFile = "pricing.json"

// loadSavedPricing returns the table saved by `warden pricing update`, or
// nil if there is none. A saved file that no longer parses stops the
// server: guessing prices would bill wrongly.
func loadSavedPricing(dataDir string) (*meter.Table, error) {
	path := filepath.Join(dataDir, pricingFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the saved price table: %w", err)
	}
	t, err := meter.ParsePricing(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("the saved price table %s is invalid: %w; fix it with warden pricing update FILE, or remove it with warden pricing reset", path, err)
	}
	return t, nil
}

func (a *app) pricingCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pricing",
		Short: "Show or replace the price table used for costs and budgets",
		Long: `Warden prices every call from a table of list prices per model (US dollars
per million input, output and cached tokens, per image, per second of audio),
shipped inside the binary. Replace it with your own file (for negotiated
prices or new models) with "pricing update", or override single models in
warden.yaml under pricing:. A running server reads the table when it starts.`,
	}
	cmd.AddCommand(a.pricingShowCmd(), a.pricingUpdateCmd(), a.pricingResetCmd())
	return cmd
}

func (a *app) pricingShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [MODEL...]",
		Short: "Print the prices in effect (embedded, saved file and config overrides)",
		Example: `  warden pricing show
  warden pricing show gpt-4o-mini claude-3-5-haiku --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.open(ctx, a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			t, err := pricingTable(s.cfg, s)
			if err != nil {
				return err
			}
			models := args
			if len(models) == 0 {
				models = t.Models()
			}
			type row struct {
				Model      string  `json:"model"`
				Provider   string  `json:"provider,omitempty"`
				Input      float64 `json:"input_cost_per_mtok"`
				Output     float64 `json:"output_cost_per_mtok"`
				Cached     float64 `json:"cached_input_cost_per_mtok"`
				CacheWrite float64 `json:"cache_write_cost_per_mtok"`
			}
			var rows []row
			for _, m := range models {
				p, ok := t.Lookup(m)
				if !ok {
					return fmt.Errorf("no price for %q; add it under pricing: in warden.yaml or with warden pricing update", m)
				}
				rows = append(rows, row{m, p.Provider, p.InputPerMTok.Dollars(), p.OutputPerMTok.Dollars(), p.CachedInputPerMTok.Dollars(), p.CacheWritePerMTok.Dollars()})
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"as_of": t.AsOf(), "models": rows})
			}
			fmt.Fprintf(out, "List prices as of %s, US dollars per million tokens.\n", t.AsOf())
			tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tPROVIDER\tINPUT\tOUTPUT\tCACHED INPUT\tCACHE WRITE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%g\t%g\t%g\t%g\n", r.Model, r.Provider, r.Input, r.Output, r.Cached, r.CacheWrite)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) pricingUpdateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "update FILE",
		Short: "Replace the embedded price table with FILE (same format)",
		Long: `Checks FILE (the format of the embedded table: "warden pricing show --json"
shows the prices; unknown fields, negative or absurd prices are refused) and
saves it in the data directory. Servers use it from their next start.`,
		Example: `  warden pricing update ./our-prices.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			t, err := meter.ParsePricing(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
				return err
			}
			dst := filepath.Join(cfg.DataDir, pricingFile)
			tmp := dst + ".tmp"
			if err := os.WriteFile(tmp, b, 0o600); err != nil {
				return err
			}
			if err := os.Rename(tmp, dst); err != nil {
				_ = os.Remove(tmp)
				return err
			}
			models := t.Models()
			slices.Sort(models)
			fmt.Fprintf(cmd.OutOrStdout(), "Saved prices for %d models (as of %s); servers use them from their next start.\n", len(models), t.AsOf())
			return nil
		},
	}
}

func (a *app) pricingResetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "reset",
		Short:   "Go back to the embedded price table",
		Example: `  warden pricing reset`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			err = os.Remove(filepath.Join(cfg.DataDir, pricingFile))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Using the embedded price table from the next start.")
			return nil
		},
	}
}
