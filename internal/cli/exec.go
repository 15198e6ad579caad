package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/meter"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/vault/inject"
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// mintOptions are the flags of exec --mint-key.
type mintOptions struct {
	on      bool
	models  []string
	budget  string
	ttl     time.Duration
	baseURL string
}

func (a *app) execCmd() *cobra.Command {
	var envs []string
	var all bool
	var mint mintOptions
	cmd := &cobra.Command{
		Use:   "exec [--env VAR=secret://NAME]... [--all] [--mint-key [--models M] [--budget USD]] -- CMD [ARGS...]",
		Short: "Run a program with secrets in its environment",
		Long: `Run CMD with secrets from the vault added to its environment. The values
exist only in the child's environment: never on its command line, never on
disk. Signals (Ctrl-C, SIGTERM, ...) are forwarded to the child, and warden
exits with the child's exit code.

--all injects every secret whose name is a valid environment variable name
(such as those created by warden secrets import), under that name.

--mint-key gives the child no provider key at all: warden mints a throwaway
virtual key for the child's lifetime, sets OPENAI_API_KEY and
ANTHROPIC_API_KEY to it and OPENAI_BASE_URL and ANTHROPIC_BASE_URL to a
running Warden server, and revokes the key when the child exits, however it
exits. --ttl is the backstop should warden itself be killed: the key expires
on its own.`,
		Example: `  warden exec --env OPENAI_API_KEY=secret://openai -- python app.py
  warden exec --all -- npm start
  warden exec --mint-key --models gpt-4o-mini --budget 2 -- python notebook.py`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !mint.on && (len(mint.models) > 0 || mint.budget != "" || cmd.Flags().Changed("ttl") || mint.baseURL != "") {
				return errors.New("--models, --budget, --ttl and --url go with --mint-key")
			}
			if len(envs) == 0 && !all && !mint.on {
				return errors.New("nothing to inject: give --env VAR=secret://NAME, --all or --mint-key")
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
			var minted string
			if mint.on {
				id, mvars, err := a.mintKey(cmd, s, mint, args[0])
				if err != nil {
					return err
				}
				minted = id
				vars = append(vars, mvars...)
				defer a.revokeMinted(cmd, minted)
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
	cmd.Flags().BoolVar(&mint.on, "mint-key", false, "give the child a throwaway virtual key, revoked when it exits")
	cmd.Flags().StringSliceVar(&mint.models, "models", nil, "with --mint-key: models the key may use (names or globs)")
	cmd.Flags().StringVar(&mint.budget, "budget", "", "with --mint-key: spending limit in US dollars for the key's life")
	cmd.Flags().DurationVar(&mint.ttl, "ttl", 12*time.Hour, "with --mint-key: the key expires after this even if warden is killed")
	cmd.Flags().StringVar(&mint.baseURL, "url", "", "with --mint-key: Warden's URL (default from server.addr in the configuration)")
	return cmd
}

// mintKey creates the throwaway key of exec --mint-key and returns its id
// and the variables that point the OpenAI and Anthropic SDKs at Warden.
func (a *app) mintKey(cmd *cobra.Command, s *session, o mintOptions, program string) (string, []inject.Var, error) {
	ctx := cmd.Context()
	spec := keys.Spec{
		Name:   "exec " + filepath.Base(program),
		Models: o.models,
		TTL:    o.ttl,
		Tags:   []string{"throwaway", "exec"},
	}
	if o.budget != "" {
		amt, err := meter.ParseUSD(o.budget)
		if err != nil {
			return "", nil, fmt.Errorf("--budget: %w", err)
		}
		spec.Budget = meter.Budget{Limit: amt, Period: meter.Total}
	}
	base := o.baseURL
	if base == "" {
		base = serverURL(s.cfg)
	}
	base = strings.TrimRight(base, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", nil, fmt.Errorf("--url %q: expected Warden's base URL such as http://127.0.0.1:8080", base)
	}
	km, err := keyManager(ctx, s, a.cliLogger(), 0)
	if err != nil {
		return "", nil, err
	}
	k, sec, err := km.Create(ctx, spec)
	if err != nil {
		return "", nil, err
	}
	a.recordCLI(ctx, s, cmd, k.ID)
	fmt.Fprintf(cmd.ErrOrStderr(), "warden: minted key %s for %s (expires %s); it is revoked when the program exits\n",
		k.ID, filepath.Base(program), k.ExpiresAt.Format(time.RFC3339))
	vars := []inject.Var{
		{Name: "OPENAI_API_KEY", Value: secret.New(sec.Reveal())}, // a copy: each Var is destroyed on its own
		{Name: "ANTHROPIC_API_KEY", Value: sec},
		{Name: "OPENAI_BASE_URL", Value: secret.New([]byte(base + "/v1"))},
		{Name: "ANTHROPIC_BASE_URL", Value: secret.New([]byte(base))},
	}
	return k.ID, vars, nil
}

// revokeMinted revokes the key of exec --mint-key after the child exited.
// The store is opened again: it was closed while the child ran.
func (a *app) revokeMinted(cmd *cobra.Command, id string) {
	ctx := context.WithoutCancel(cmd.Context())
	err := a.withSessionKeys(ctx, func(s *session, m *keys.Manager) error {
		if err := m.Revoke(ctx, id); err != nil {
			return err
		}
		a.recordCLI(ctx, s, cmd, id)
		return nil
	})
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "warden: could not revoke the minted key %s: %v; revoke it with: warden keys revoke %s\n", id, err, id)
		return
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "warden: revoked key %s\n", id)
}

// serverURL is the base URL of the Warden server the configuration
// describes, as a client on this machine reaches it.
func serverURL(cfg *config.Config) string {
	scheme := "http"
	if t := cfg.Server.TLS; t.CertFile != "" || t.SelfSigned {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(cfg.Server.Addr)
	if err != nil {
		return scheme + "://" + cfg.Server.Addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
