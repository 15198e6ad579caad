package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/keys/keyview"
	"github.com/wardenproject/warden/internal/meter"
)

func (a *app) usersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Create, list, update and delete users: the people and services keys act for",
		Long: `A user is a person or service that keys act for, named for example by
email address. A user's limits and budget apply to all the calls of their
keys together, on top of each key's own; a user in a team puts the keys
made for them in that team too.

Keys act for a user with warden keys create --user NAME. A user that keys
(not revoked) still act for cannot be deleted.`,
		Example: `  warden users create ada@example.com --team ml --budget 50
  warden users list
  warden users update ada@example.com --role manager
  warden users rm ada@example.com`,
	}
	cmd.AddCommand(a.usersCreateCmd(), a.usersListCmd(), a.usersShowCmd(), a.usersUpdateCmd(), a.usersRmCmd())
	return cmd
}

func printUser(w io.Writer, u keys.User, asJSON bool) error {
	if asJSON {
		return writeJSON(w, keyview.FromUser(u))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, row := range [][2]string{
		{"Name", u.Name}, {"Team", orDash(u.Team)}, {"Role", u.Role}, {"Limits", orNone(describeLimits(u.Limits))},
		{"Budget", orNone(describeBudget(u.Budget))}, {"Created", describeTime(u.CreatedAt, "")}, {"Updated", describeTime(u.UpdatedAt, "")},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	return tw.Flush()
}

func (a *app) usersCreateCmd() *cobra.Command {
	var (
		lf         limitFlags
		team, role string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--team TEAM] [--role ROLE] [limit and budget flags] [--json]",
		Short: "Create a user",
		Long: `Create a user. NAME is 1-128 letters, digits and . _ - @ +, so an email
address fits. --team must name an existing team (warden teams create).
--role is admin, manager, user (the default) or auditor. Every limit and
budget flag is optional; --budget is in US dollars per --budget-period
(month unless given).`,
		Example: `  warden users create ada@example.com
  warden users create ada@example.com --team ml --role manager --budget 50 --rpm 120
  warden users create ci-bot --team platform --max-parallel 8 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, _, err := lf.budgetFrom(cmd, meter.Budget{}, meter.Month)
			if err != nil {
				return err
			}
			u := keys.User{Name: args[0], Team: strings.TrimSpace(team), Role: strings.TrimSpace(role), Limits: lf.limits(), Budget: b}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				u, err := m.CreateUser(cmd.Context(), u)
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "created user %s\n\n", u.Name)
				}
				return printUser(cmd.OutOrStdout(), u, asJSON)
			})
		},
	}
	lf.register(cmd, false)
	cmd.Flags().StringVar(&team, "team", "", "the team the user belongs to")
	cmd.Flags().StringVar(&role, "role", "", "admin, manager, user or auditor (default user)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) usersListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users with their teams, roles, limits and budgets",
		Example: `  warden users list
  warden users list --json | jq -r '.[] | select(.team == "ml") | .name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				us, err := m.ListUsers(cmd.Context())
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				if asJSON {
					list := make([]keyview.User, 0, len(us))
					for _, u := range us {
						list = append(list, keyview.FromUser(u))
					}
					return writeJSON(w, list)
				}
				if len(us) == 0 {
					fmt.Fprintln(w, "no users yet: create one with warden users create NAME")
					return nil
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tTEAM\tROLE\tLIMITS\tBUDGET\tUPDATED")
				for _, u := range us {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, orDash(u.Team), u.Role, orNone(describeLimits(u.Limits)),
						orNone(describeBudget(u.Budget)), describeTime(u.UpdatedAt, ""))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) usersShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a user",
		Example: `  warden users show ada@example.com
  warden users show ada@example.com --json | jq .limits`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				u, err := m.GetUser(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printUser(cmd.OutOrStdout(), u, asJSON)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) usersUpdateCmd() *cobra.Command {
	var (
		lf         limitFlags
		team, role string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--team TEAM] [--role ROLE] [limit and budget flags] [--json]",
		Short: "Change a user's team, role, limits or budget",
		Long: `Change a user; only the flags given change anything, and running servers
see the change within a second. --team "" takes the user out of any team,
--role "" is the user role, a limit of 0 removes it, and --budget 0 (or
"") removes the budget. --budget alone keeps the budget's period (month
if it had none); --budget-period alone changes the period of the current
amount. Keys already made for the user keep their team.`,
		Example: `  warden users update ada@example.com --role manager
  warden users update ada@example.com --team ops --budget 100
  warden users update ada@example.com --team "" --rpm 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !anyChanged(cmd, append([]string{"team", "role"}, limitFlagNames...)...) {
				return errors.New("nothing to change: give at least one flag (see warden users update --help)")
			}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				cur, err := m.GetUser(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				up := keys.UserUpdate{Limits: lf.limitsUpdate(cmd)}
				b, changed, err := lf.budgetFrom(cmd, cur.Budget, meter.Month)
				if err != nil {
					return err
				}
				if changed {
					up.Budget = &b
				}
				if cmd.Flags().Changed("team") {
					t := strings.TrimSpace(team)
					up.Team = &t
				}
				if cmd.Flags().Changed("role") {
					r := strings.TrimSpace(role)
					up.Role = &r
				}
				u, err := m.UpdateUser(cmd.Context(), args[0], up)
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(cmd.OutOrStdout(), "updated user %s\n\n", u.Name)
				}
				return printUser(cmd.OutOrStdout(), u, asJSON)
			})
		},
	}
	lf.register(cmd, true)
	cmd.Flags().StringVar(&team, "team", "", `move the user to this team; "" takes them out of any team`)
	cmd.Flags().StringVar(&role, "role", "", `admin, manager, user or auditor; "" is user`)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) usersRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a user that no unrevoked key acts for",
		Long: `Delete a user. While keys that are not revoked act for the user, the user
is kept and the command says how many: give the keys to another user first
(warden keys update ID --user OTHER, or --user "") or revoke them.`,
		Example: `  warden users rm ada@example.com`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withKeys(cmd, func(m *keys.Manager) error {
				if err := m.DeleteUser(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted user %s\n", args[0])
				return nil
			})
		},
	}
}
