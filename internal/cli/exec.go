package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/vault/inject"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (a *app) execCmd() *cobra.Command {
	var envs []string
	var all bool
	cmd := &cobra.Command{
		Use:   "exec [--env VAR=secret://NAME]... [--all] -- CMD [ARGS...]",
		Short: "Run a program with secrets in its environment",
		Long: `Run CMD with secrets from the vault added to its environment. The values
exist only in the child's environment: never on its command line, never on
disk. Signals (Ctrl-C, SIGTERM, ...) are forwarded to the child, and warden
exits with the child's exit code.

--all injects every secret whose name is a valid environment variable name
(such as those created by warden secrets import), under that name.`,
		Example: `  warden exec --env OPENAI_API_KEY=secret://openai -- python app.py
  warden exec --all -- npm start`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(envs) == 0 && !all {
				return errors.New("nothing to inject: give --env VAR=secret://NAME or --all")
			}
			type want struct{ env, name string }
			var wants []want
			for _, e := range envs {
				v, ref, ok := strings.Cut(e, "=")
				if !ok || !envNameRE.MatchString(v) {
					return fmt.Errorf("--env %q: expected VAR=secret://NAME with VAR a valid environment variable name", e)
				}
				r, err := config.ParseRef(ref)
				if err != nil || r.Scheme != "secret" {
					return fmt.Errorf("--env %s: the value must be a vault reference secret://NAME", v)
				}
				wants = append(wants, want{v, r.Name})
			}
			ctx := cmd.Context()
			s, err := a.open(ctx, a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			if all {
				metas, err := s.vault.List(ctx)
				if err != nil {
					return err
				}
				explicit := map[string]bool{}
				for _, w := range wants {
					explicit[w.env] = true
				}
				for _, m := range metas {
					if !envNameRE.MatchString(m.Name) {
						fmt.Fprintf(cmd.ErrOrStderr(), "warden: --all: skipping secret %s: not a valid environment variable name\n", m.Name)
						continue
					}
					if !explicit[m.Name] {
						wants = append(wants, want{m.Name, m.Name})
					}
				}
			}
			vars := make([]inject.Var, 0, len(wants))
			defer func() {
				for _, v := range vars {
					v.Value.Destroy()
				}
			}()
			for _, w := range wants {
				val, err := s.vault.Get(ctx, w.name, 0)
				if err != nil {
					return fmt.Errorf("--env %s: %w", w.env, err)
				}
				vars = append(vars, inject.Var{Name: w.env, Value: val})
			}
			// The vault is closed before the child runs: a long-lived child
			// should not keep the database open or the master key in memory.
			if err := s.Close(); err != nil {
				return err
			}
			code, err := inject.Run(ctx, inject.Command{
				Path:   args[0],
				Args:   args,
				Env:    a.io.Environ,
				Inject: vars,
				Stdin:  cmd.InOrStdin(),
				Stdout: cmd.OutOrStdout(),
				Stderr: cmd.ErrOrStderr(),
			})
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warden: %v\n", err)
				return exitError{code}
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&envs, "env", nil, "VAR=secret://NAME to inject (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "inject every secret whose name is a valid variable name")
	return cmd
}
