package cli

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/meter"
)

func (a *app) teamsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "teams",
		Short: "Create, list, update and delete teams: shared limits, budgets and models for keys and users",
		Long: `A team groups users and keys. Its limits and budget apply to all its
calls together, on top of each key's and user's own, and --models, if
given, caps the models every key of the team may use.

Keys join a team with warden keys create --team NAME (or through their
user); users with warden users create --team NAME. A team that keys or
users are still in cannot be deleted.`,
		Example: `  warden teams create ml --budget 500 --rpm 600 --models 'gpt-4o*,claude-*'
  warden teams list
  warden teams update ml --tpm 2000000
  warden teams rm ml`,
	}
	cmd.AddCommand(a.teamsCreateCmd(), a.teamsListCmd(), a.teamsShowCmd(), a.teamsUpdateCmd(), a.teamsRmCmd())
	return cmd
}

func (a *app) teamsCreateCmd() *cobra.Command {
	var (
		lf     limitFlags
		models []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--models A,B] [limit and budget flags] [--json]",
		Short: "Create a team",
		Long: `Create a team. NAME is 1-128 letters, digits and . _ - @ +. Every flag
is optional: without it the team is not restricted that way. --budget is
in US dollars per --budget-period (month unless given).`,
		Example: `  warden teams create ml
  warden teams create ml --budget 500 --budget-period month --rpm 600 --max-parallel 20
  warden teams create interns --models gpt-4o-mini --budget 50 --tpm 100000 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, _, err := lf.budgetFrom(cmd, meter.Budget{}, meter.Month)
			if err != nil {
				return err
			}
			t := keys.Team{Name: args[0], Models: listFlag(models), Limits: lf.limits(), Budget: b}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				t, err := m.CreateTeam(cmd.Context(), t)
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "created team %s\n\n", t.Name)
				}
				return printTeam(cmd.OutOrStdout(), t, asJSON)
			})
		},
	}
	lf.register(cmd, false)
	cmd.Flags().StringSliceVar(&models, "models", nil, "cap the models of every key in the team: names or globs, comma-separated (default: no cap)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printTeam(w io.Writer, t keys.Team, asJSON bool) error {
	if asJSON {
		return writeJSON(w, keyview.FromTeam(t))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"Name", t.Name}, {"Models", describeModels(t.Models)}, {"Limits", orNone(describeLimits(t.Limits))},
		{"Budget", orNone(describeBudget(t.Budget))}, {"Created", describeTime(t.CreatedAt, "")}, {"Updated", describeTime(t.UpdatedAt, "")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func (a *app) teamsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List teams with their models, limits and budgets",
		Example: `  warden teams list
  warden teams list --json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				ts, err := m.ListTeams(cmd.Context())
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if asJSON {
					list := make([]keyview.Team, 0, len(ts))
					for _, t := range ts {
						list = append(list, keyview.FromTeam(t))
					}
					return writeJSON(w, list)
				}
				if len(ts) == 0 {
					fmt.Fprintln(w, "no teams yet: create one with warden teams create NAME")
					return nil
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tMODELS\tLIMITS\tBUDGET\tUPDATED")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Name, describeModels(t.Models), orNone(describeLimits(t.Limits)),
						orNone(describeBudget(t.Budget)), describeTime(t.UpdatedAt, ""))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) teamsShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a team",
		Example: `  warden teams show ml
  warden teams show ml --json | jq .budget`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				t, err := m.GetTeam(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printTeam(cmd.OutOrStdout(), t, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) teamsUpdateCmd() *cobra.Command {
	var (
		lf     limitFlags
		models []string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--models A,B] [limit and budget flags] [--json]",
		Short: "Change a team's models, limits or budget",
		Long: `Change a team; only the flags given change anything, and running servers
see the change within a second. --models "" removes the model cap, a
limit of 0 removes it, and --budget 0 (or "") removes the budget.
--budget alone keeps the budget's period (month if it had none);
--budget-period alone changes the period of the current amount.`,
		Example: `  warden teams update ml --rpm 1200 --tpm 2000000
  warden teams update ml --budget 1000 --budget-period month
  warden teams update ml --models "" --budget 0     # no model cap, no budget`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !anyChanged(cmd, append([]string{"models"}, limitFlagNames...)...) {
				return errors.New("nothing to change: give at least one flag (see warden teams update --help)")
			}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				cur, err := m.GetTeam(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				u := keys.TeamUpdate{Limits: lf.limitsUpdate(cmd)}
				b, changed, err := lf.budgetFrom(cmd, cur.Budget, meter.Month)
				if err != nil {
					return err
				}
				if changed {
					u.Budget = &b
				}
				if cmd.Flags().Changed("models") {
					u.Models = listFlag(models)
				}
				t, err := m.UpdateTeam(cmd.Context(), args[0], u)
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "updated team %s\n\n", t.Name)
				}
				return printTeam(cmd.OutOrStdout(), t, asJSON)
			})
		},
	}
	lf.register(cmd, true)
	cmd.Flags().StringSliceVar(&models, "models", nil, `cap the models of every key in the team, comma-separated; "" removes the cap`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) teamsRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a team that no user and no unrevoked key is in",
		Long: `Delete a team. While users or keys that are not revoked are in it, the
team is kept and the command says how many: move them first (warden keys
update ID --team OTHER, warden users update NAME --team OTHER) or revoke
the keys. Revoked keys keep the team's name as history.`,
		Example: `  warden teams rm interns`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				if err := m.DeleteTeam(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted team %s\n", args[0])
				return nil
			})
		},
	}
}
