package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/vault"
	"github.com/wardenproject/warden/internal/vault/dotenv"
)

func (a *app) secretsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Store, list and rotate encrypted secrets such as provider keys",
		Long: `Secrets are encrypted at rest with a fresh data key per version, wrapped
by the vault's master key. The master key comes from WARDEN_MASTER_KEY
(base64 of 32 bytes), WARDEN_MASTER_KEY_FILE, WARDEN_PASSPHRASE, or else a
key file that warden generates in the data directory on first use.

Values are never taken from the command line, where other users could read
them in the process list.`,
	}
	cmd.AddCommand(a.secretsSetCmd(), a.secretsListCmd(), a.secretsGetCmd(), a.secretsRmCmd(),
		a.secretsImportCmd(), a.secretsPruneCmd(), a.secretsRotateCmd())
	return cmd
}

func (a *app) secretsSetCmd() *cobra.Command {
	var fromEnv string
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Store a secret value read from stdin (or an environment variable)",
		Long: `Store a secret. The value is read from stdin (one trailing newline is
dropped; at a terminal the input is not echoed), or from the environment
variable named by --from-env. Setting an existing name adds a new version;
old versions stay until pruned.`,
		Example: `  warden secrets set openai                     # type or paste, then Enter
  pbpaste | warden secrets set anthropic
  warden secrets set openai --from-env OPENAI_API_KEY`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !vault.ValidName(name) {
				return fmt.Errorf("invalid secret name %q: use 1-128 letters, digits, '_', '.' or '-'", name)
			}
			val, err := a.readValue(cmd, name, fromEnv)
			if err != nil {
				return err
			}
			defer val.Destroy()
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			meta, err := s.vault.Set(cmd.Context(), name, val)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stored secret %s (version %d)\n", meta.Name, meta.Version)
			a.recordCLI(cmd.Context(), s, cmd, meta.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&fromEnv, "from-env", "", "read the value from this environment variable instead of stdin")
	return cmd
}

// readValue takes a secret value from an environment variable or stdin.
func (a *app) readValue(cmd *cobra.Command, name, fromEnv string) (secret.Secret, error) {
	if fromEnv != "" {
		v, ok := a.env[fromEnv]
		if !ok || v == "" {
			return secret.Secret{}, fmt.Errorf("--from-env %s: the variable is not set or empty", fromEnv)
		}
		return secret.FromString(v), nil
	}
	in := cmd.InOrStdin()
	if f, ok := terminal(in); ok {
		fmt.Fprintf(cmd.ErrOrStderr(), "Value for %s (input hidden): ", name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return secret.Secret{}, fmt.Errorf("read value from terminal: %w", err)
		}
		defer clear(b)
		return secret.New(b), nil
	}
	b, err := io.ReadAll(io.LimitReader(in, vault.MaxSecretSize+2))
	if err != nil {
		return secret.Secret{}, fmt.Errorf("read value from stdin: %w", err)
	}
	defer clear(b)
	v := b
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	if len(v) == 0 {
		return secret.Secret{}, errors.New("no value on stdin: pipe the value in, or use --from-env VAR")
	}
	if len(v) > vault.MaxSecretSize {
		return secret.Secret{}, fmt.Errorf("the value on stdin is larger than %d bytes", vault.MaxSecretSize)
	}
	return secret.New(v), nil
}

type secretJSON struct {
	Name       string     `json:"name"`
	Version    int        `json:"version"`
	Versions   int        `json:"versions"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func (a *app) secretsListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List secrets: names, versions and dates, never values",
		Example: `  warden secrets list
  warden secrets list --json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			metas, err := s.vault.List(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				list := make([]secretJSON, 0, len(metas))
				for _, m := range metas {
					j := secretJSON{Name: m.Name, Version: m.Version, Versions: m.Versions, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
					if !m.LastUsedAt.IsZero() {
						t := m.LastUsedAt
						j.LastUsedAt = &t
					}
					list = append(list, j)
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			if len(metas) == 0 {
				fmt.Fprintln(out, "no secrets yet: add one with warden secrets set NAME")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tVERSION\tVERSIONS\tCREATED\tUPDATED\tLAST USED")
			for _, m := range metas {
				used := "never"
				if !m.LastUsedAt.IsZero() {
					used = m.LastUsedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", m.Name, m.Version, m.Versions,
					m.CreatedAt.Local().Format(time.DateTime), m.UpdatedAt.Local().Format(time.DateTime), used)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) secretsGetCmd() *cobra.Command {
	var reveal bool
	var version int
	cmd := &cobra.Command{
		Use:   "get NAME --reveal",
		Short: "Print a secret's value (only with --reveal)",
		Long: `Print a secret's value to stdout. Because the value then sits in your
terminal's scrollback, warden refuses unless you pass --reveal. To hand a
secret to a program, prefer warden exec.`,
		Example: `  warden secrets get openai --reveal
  warden secrets get openai --reveal --version 2`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !reveal {
				return errors.New("refusing to print a secret value without --reveal; to pass it to a program use warden exec --env VAR=secret://" + args[0] + " -- CMD")
			}
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			val, err := s.vault.Get(cmd.Context(), args[0], version)
			if err != nil {
				return err
			}
			defer val.Destroy()
			w := cmd.OutOrStdout()
			if _, err := w.Write(val.Reveal()); err != nil {
				return err
			}
			_, err = io.WriteString(w, "\n")
			return err
		},
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the value (required)")
	cmd.Flags().IntVar(&version, "version", 0, "version to print (default: newest)")
	return cmd
}

func (a *app) secretsRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME",
		Aliases: []string{"delete"},
		Short:   "Delete a secret and all its versions",
		Example: `  warden secrets rm old-openai-key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.vault.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted secret %s\n", args[0])
			a.recordCLI(cmd.Context(), s, cmd, args[0])
			return nil
		},
	}
}

func (a *app) secretsPruneCmd() *cobra.Command {
	var keep int
	cmd := &cobra.Command{
		Use:     "prune NAME",
		Short:   "Delete old versions of a secret, keeping the newest",
		Example: `  warden secrets prune openai --keep 2`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := s.vault.Prune(cmd.Context(), args[0], keep)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pruned %d old version(s) of %s\n", n, args[0])
			a.recordCLI(cmd.Context(), s, cmd, args[0])
			return nil
		},
	}
	cmd.Flags().IntVar(&keep, "keep", 1, "how many of the newest versions to keep")
	return cmd
}

func (a *app) secretsImportCmd() *cobra.Command {
	var dryRun bool
	var prefix string
	cmd := &cobra.Command{
		Use:   "import FILE.env",
		Short: "Import every assignment of a dotenv file as secrets",
		Long: `Import a .env file with the syntax python-dotenv accepts: comments,
"export" prefixes, single and double quotes, escapes, multi-line values and
${VAR} expansion. Each KEY=value becomes the secret KEY (a new version if it
exists and the value changed). If any line cannot be parsed, nothing is
imported and every bad line is named.

After importing, delete the plaintext file and add it to .gitignore.`,
		Example: `  warden secrets import .env
  warden secrets import --dry-run .env.production
  warden exec --all -- npm start      # run with everything imported`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.importEnv(cmd, args[0], prefix, dryRun)
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show what would be imported without storing anything")
	cmd.Flags().StringVar(&prefix, "prefix", "", "prefix added to every secret name")
	return cmd
}

func (a *app) importEnv(cmd *cobra.Command, path, prefix string, dryRun bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	entries, err := dotenv.Parse(bufio.NewReader(f), a.lookup)
	if err != nil {
		return fmt.Errorf("import %s: nothing was imported; fix these lines:\n%w", path, err)
	}
	entries = dotenv.Last(entries)
	out := cmd.OutOrStdout()
	var toStore []dotenv.Entry
	for _, e := range entries {
		name := prefix + e.Key
		switch {
		case !e.HasValue:
			fmt.Fprintf(out, "  skip %s (line %d): no value\n", name, e.Line)
		case e.Value == "":
			fmt.Fprintf(out, "  skip %s (line %d): empty value\n", name, e.Line)
		case !vault.ValidName(name):
			return fmt.Errorf("import %s: line %d: %q is not a valid secret name; nothing was imported", path, e.Line, name)
		default:
			toStore = append(toStore, e)
		}
	}
	if dryRun {
		for _, e := range toStore {
			fmt.Fprintf(out, "  would import %s (line %d)\n", prefix+e.Key, e.Line)
		}
		fmt.Fprintf(out, "dry run: %d secret(s) would be imported from %s\n", len(toStore), path)
		return nil
	}
	s, err := a.open(cmd.Context(), a.cliLogger())
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := cmd.Context()
	imported := 0
	for _, e := range toStore {
		name := prefix + e.Key
		val := secret.FromString(e.Value)
		if cur, err := s.vault.Get(ctx, name, 0); err == nil {
			same := cur.Equal(val)
			cur.Destroy()
			if same {
				fmt.Fprintf(out, "  unchanged %s\n", name)
				continue
			}
		} else if !errors.Is(err, vault.ErrNotFound) {
			return fmt.Errorf("import %s: %d secret(s) imported before this failure: %w", path, imported, err)
		}
		meta, err := s.vault.Set(ctx, name, val)
		val.Destroy()
		if err != nil {
			return fmt.Errorf("import %s: %d secret(s) imported before this failure: %w", path, imported, err)
		}
		imported++
		fmt.Fprintf(out, "  imported %s (version %d)\n", name, meta.Version)
	}
	fmt.Fprintf(out, "imported %d secret(s) from %s\n", imported, path)
	a.recordCLI(ctx, s, cmd, fmt.Sprintf("%d secret(s)", imported))
	fmt.Fprintf(out, "The plaintext file is still on disk. Delete it (rm %s), make sure %s is in .gitignore,\nand run programs with: warden exec --all -- CMD\n", path, strconv.Quote(path))
	return nil
}

func (a *app) secretsRotateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-master",
		Short: "Rewrap every data key under a new master key",
		Long: `Rewrap every secret's data key under a new master key version, in one
transaction: if interrupted, the vault opens with either the old or the new
key and loses nothing. Secret values themselves are not re-encrypted.

The new key comes from WARDEN_NEW_MASTER_KEY (base64 of 32 bytes),
WARDEN_NEW_MASTER_KEY_FILE or WARDEN_NEW_PASSPHRASE. If the vault uses the
generated key file in the data directory and none of those is set, a new
key file is generated in its place.

After rotating with a new key from the environment, restart warden with the
new key in WARDEN_MASTER_KEY / WARDEN_MASTER_KEY_FILE / WARDEN_PASSPHRASE.`,
		Example: `  warden secrets rotate-master                                   # generated key file
  WARDEN_NEW_MASTER_KEY="$(openssl rand -base64 32)" warden secrets rotate-master`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context(), a.cliLogger())
			if err != nil {
				return err
			}
			defer s.Close()
			next, err := vault.ResolveNextKeySource(a.lookup, s.cfg.DataDir)
			if err != nil {
				return fmt.Errorf("new master key: %w", err)
			}
			oldID, oldVersion := s.vault.ActiveKeyID()
			id, n, err := s.vault.RotateMaster(cmd.Context(), next)
			if err != nil {
				return err
			}
			_, version := s.vault.ActiveKeyID()
			a.recordCLI(cmd.Context(), s, cmd, id)
			fmt.Fprintf(cmd.OutOrStdout(), "rotated master key %s (version %d) -> %s (version %d); rewrapped %d secret version(s)\n",
				oldID, oldVersion, id, version, n)
			if next.Kind != "" && next.Kind != vault.SourceGenerated {
				fmt.Fprintln(cmd.OutOrStdout(), "Now start warden with the new key (WARDEN_MASTER_KEY, WARDEN_MASTER_KEY_FILE or WARDEN_PASSPHRASE); the old key no longer opens the vault.")
			}
			return nil
		},
	}
}
