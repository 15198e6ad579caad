package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/keys"
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
	p, err := v.Get(ctx, keyPepperName, 1)
	if err == nil {
		if p.Len() < keys.MinPepperLen {
			p.Destroy()
			return secret.Secret{}, fmt.Errorf("the secret %s is shorter than %d bytes; it was not made by warden: restore the data directory from a backup", keyPepperName, keys.MinPepperLen)
		}
		return p, nil
	}
	if !errors.Is(err, vault.ErrNotFound) {
		return secret.Secret{}, fmt.Errorf("read the virtual key pepper: %w", err)
	}
	if exists, err := pepperExists(ctx, v); err != nil {
		return secret.Secret{}, err
	} else if exists {
		return secret.Secret{}, fmt.Errorf("version 1 of the secret %s is gone (pruned?) and every virtual key depends on it: restore the data directory from a backup", keyPepperName)
	}
	b := make([]byte, keys.MinPepperLen)
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return weak randomness).
	_, _ = rand.Read(b)
	fresh := secret.New(b)
	clear(b)
	defer fresh.Destroy()
	if _, err := v.Set(ctx, keyPepperName, fresh); err != nil {
		return secret.Secret{}, fmt.Errorf("store a new virtual key pepper: %w", err)
	}
	// Another process may have stored one at the same moment; version 1
	// is the one every process uses.
	p, err = v.Get(ctx, keyPepperName, 1)
	if err != nil {
		return secret.Secret{}, fmt.Errorf("read the virtual key pepper: %w", err)
	}
	return p, nil
}

// pepperExists reports whether the vault has any version of the pepper.
func pepperExists(ctx context.Context, v *vault.Vault) (bool, error) {
	cur, err := v.Get(ctx, keyPepperName, 0)
	switch {
	case err == nil:
		cur.Destroy()
		return true, nil
	case errors.Is(err, vault.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("read the virtual key pepper: %w", err)
}

// keyManager returns a key manager on the session's store, with the
// pepper from its vault. A missing pepper is created only while there are
// no keys: keys hashed with a lost pepper can never be checked again, and
// a fresh pepper would hide that until every caller is refused.
func keyManager(ctx context.Context, s *session, log *slog.Logger, poll time.Duration) (*keys.Manager, error) {
	exists, err := pepperExists(ctx, s.vault)
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

// withKeys opens a session and a key manager for one command.
func (a *app) withKeys(cmd *cobra.Command, fn func(*keys.Manager) error) error {
	ctx := cmd.Context()
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
	return fn(m)
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Create, list, rotate and revoke virtual keys for callers of the gateway",
		Long: `Virtual keys are what applications and people send to Warden instead of
provider keys: "Authorization: Bearer wdn_…" (or "x-api-key: wdn_…" on
Anthropic routes). Each key can be limited to some models, can expire, and
can be suspended, rotated or revoked at any time; a running server refuses
a revoked key within a second.

A key is shown once, when it is created or rotated. Warden keeps only a
keyed hash (HMAC-SHA256 under a pepper held in the vault), so a lost key
cannot be recovered: rotate it. Commands take the key's id (key_…), never
the key itself.`,
		Example: `  warden keys create --name ci-evals --models 'gpt-4o*' --ttl 720h
  warden keys list
  warden keys rotate key_3xY9aBcDeFgHiJkL --grace 1h
  warden keys revoke key_3xY9aBcDeFgHiJkL`,
	}
	cmd.AddCommand(a.keysCreateCmd(), a.keysListCmd(), a.keysRevokeCmd(), a.keysRotateCmd(),
		a.keysStateCmd("suspend", "Stop a key from working until it is resumed",
			"  warden keys suspend key_3xY9aBcDeFgHiJkL", (*keys.Manager).Suspend, "suspended key %s; resume it with warden keys resume %[1]s\n"),
		a.keysStateCmd("resume", "Make a suspended key work again",
			"  warden keys resume key_3xY9aBcDeFgHiJkL", (*keys.Manager).Resume, "resumed key %s\n"))
	return cmd
}

// createdJSON is what create and rotate print with --json. Key is written
// from the secret's bytes, which are zeroed afterwards.
type createdJSON struct {
	ID                 string          `json:"id"`
	Key                json.RawMessage `json:"key"`
	Name               string          `json:"name"`
	Models             []string        `json:"models"`
	ExpiresAt          *time.Time      `json:"expires_at"`
	PreviousValidUntil *time.Time      `json:"previous_valid_until,omitempty"`
}

// keyJSON is one key in list --json: never the key, never its hash.
type keyJSON struct {
	ID                 string     `json:"id"`
	Name               string     `json:"name"`
	Hint               string     `json:"hint"`
	Models             []string   `json:"models"`
	State              keys.State `json:"state"`
	Expired            bool       `json:"expired"`
	ExpiresAt          *time.Time `json:"expires_at"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	LastUsedAt         *time.Time `json:"last_used_at"`
	PreviousValidUntil *time.Time `json:"previous_valid_until,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func modelsOrEmpty(ms []string) []string {
	if ms == nil {
		return []string{}
	}
	return ms
}

func (a *app) keysCreateCmd() *cobra.Command {
	var (
		name    string
		models  []string
		ttl     time.Duration
		expires string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--models A,B] [--ttl DURATION | --expires TIME] [--json]",
		Short: "Create a virtual key and print it once",
		Long: `Create a virtual key and print it. This is the only time the key is shown:
store it where the application reads it (a secret manager, or
warden secrets set on the application's side).

--models limits the key to model names or globs ('*' and '?' do not match
'/', so use 'meta-llama/*' for a family). Without it the key may use every
model. --ttl takes Go durations (90m, 24h, 720h); --expires an RFC 3339
time.`,
		Example: `  warden keys create --name ci-evals
  warden keys create --name intern-sandbox --models gpt-4o-mini,'claude-3-5-haiku*' --ttl 168h
  warden keys create --name batch --expires 2026-01-31T00:00:00Z --json | jq -r .key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec := keys.Spec{Name: name, TTL: ttl}
			for _, m := range models {
				spec.Models = append(spec.Models, strings.TrimSpace(m))
			}
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return fmt.Errorf("--expires %q: use an RFC 3339 time such as 2026-01-31T00:00:00Z", expires)
				}
				spec.ExpiresAt = t
			}
			return a.withKeys(cmd, func(m *keys.Manager) error {
				k, sec, err := m.Create(cmd.Context(), spec)
				if err != nil {
					return err
				}
				defer sec.Destroy()
				return printNewKey(cmd.OutOrStdout(), "Created", k, sec, asJSON)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "a name for people: what or who the key is for (required)")
	f.StringSliceVar(&models, "models", nil, "models the key may use, comma-separated names or globs (default: all)")
	f.DurationVar(&ttl, "ttl", 0, "expire the key after this long, e.g. 24h")
	f.StringVar(&expires, "expires", "", "expire the key at this RFC 3339 time")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("name")
	cmd.MarkFlagsMutuallyExclusive("ttl", "expires")
	return cmd
}

// printNewKey shows a key that was just created or rotated: the one time
// its secret is printed.
func printNewKey(w io.Writer, verb string, k keys.Key, sec secret.Secret, asJSON bool) error {
	if asJSON {
		quoted := make([]byte, 0, sec.Len()+2)
		quoted = append(append(append(quoted, '"'), sec.Reveal()...), '"')
		defer clear(quoted)
		out := createdJSON{ID: k.ID, Key: quoted, Name: k.Name, Models: modelsOrEmpty(k.Models), ExpiresAt: optTime(k.ExpiresAt)}
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

func (a *app) keysListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List virtual keys: ids, names, hints, scopes and states, never the keys",
		Example: `  warden keys list
  warden keys list --json | jq -r '.[] | select(.state == "active") | .id'`,
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
		list := make([]keyJSON, 0, len(ks))
		for _, k := range ks {
			j := keyJSON{
				ID: k.ID, Name: k.Name, Hint: k.Hint, Models: modelsOrEmpty(k.Models), State: k.State,
				Expired: k.Expired(now), ExpiresAt: optTime(k.ExpiresAt), CreatedAt: k.CreatedAt,
				UpdatedAt: k.UpdatedAt, LastUsedAt: optTime(k.LastUsedAt),
			}
			if k.State != keys.Revoked && now.Before(k.PreviousValidUntil) {
				j.PreviousValidUntil = optTime(k.PreviousValidUntil)
			}
			list = append(list, j)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	if len(ks) == 0 {
		fmt.Fprintln(w, "no keys yet: create one with warden keys create --name NAME")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tHINT\tMODELS\tSTATE\tEXPIRES\tCREATED\tLAST USED")
	for _, k := range ks {
		state := string(k.State)
		if k.State == keys.Active && k.Expired(now) {
			state = "expired"
		}
		if k.State != keys.Revoked && now.Before(k.PreviousValidUntil) {
			state += " (old key until " + describeTime(k.PreviousValidUntil, "") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Hint, describeModels(k.Models), state,
			describeTime(k.ExpiresAt, "never"), describeTime(k.CreatedAt, ""), describeTime(k.LastUsedAt, "never"))
	}
	return tw.Flush()
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
