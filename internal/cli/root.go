// Package cli implements the warden command line: every subcommand, wired
// from configuration to the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/store/sqlite"
	"github.com/wardenproject/warden/internal/vault"
)

// IO is what a command reads and writes. Main passes the process's own;
// tests pass buffers and a made-up environment.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Environ is the environment in os.Environ form.
	Environ []string
}

// exitError carries an exit code other than 1 out of a command (exec passes
// its child's code through; doctor reports failed checks).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Execute runs the warden command line with args (without the program name)
// and returns the process exit code.
func Execute(ctx context.Context, args []string, sio IO) int {
	a := &app{io: sio, env: envMap(sio.Environ)}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(sio.Stdin)
	root.SetOut(sio.Stdout)
	root.SetErr(sio.Stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintf(sio.Stderr, "warden: %v\n", err)
	var ce codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 1
}

type app struct {
	io         IO
	env        map[string]string
	configPath string
	dataDir    string
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func (a *app) lookup(name string) (string, bool) {
	v, ok := a.env[name]
	return v, ok
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "warden",
		Short: "A secure gateway and key vault for AI/ML APIs",
		Long: `Warden sits between your applications and AI/ML APIs. It keeps provider
keys encrypted at rest, injects them into programs that need them, and
serves an OpenAI- and Anthropic-compatible gateway in front of providers.

Configuration comes from warden.yaml (--config or WARDEN_CONFIG) and
WARDEN_* environment variables; with neither, the defaults work.`,
		Example: `  # Store a provider key (read from stdin, never from the command line)
  warden secrets set openai

  # Run a program with the key in its environment only
  warden exec --env OPENAI_API_KEY=secret://openai -- python app.py

  # Start the server on 127.0.0.1:8080
  warden serve`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", "", "path to warden.yaml (default: $WARDEN_CONFIG, else none)")
	root.PersistentFlags().StringVar(&a.dataDir, "data-dir", "", "data directory (default: data_dir from config, $WARDEN_DATA_DIR, else ./warden-data)")
	root.AddCommand(a.serveCmd(), a.secretsCmd(), a.keysCmd(), a.teamsCmd(), a.usersCmd(), a.usageCmd(), a.alertsCmd(), a.auditCmd(), a.pricingCmd(), a.guardCmd(), a.scanCmd(), a.execCmd(), a.doctorCmd(), a.versionCmd())
	return root
}

// loadConfig reads the configuration named by --config or WARDEN_CONFIG.
func (a *app) loadConfig() (*config.Config, error) {
	path := a.configPath
	if path == "" {
		path = a.env["WARDEN_CONFIG"]
	}
	cfg, err := config.Load(path, a.io.Environ)
	if err != nil {
		return nil, err
	}
	if a.dataDir != "" {
		cfg.DataDir = a.dataDir
	}
	return cfg, nil
}

// cliLogger writes warnings for people at a terminal.
func (a *app) cliLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.io.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// session is an open store and vault for one command.
type session struct {
	cfg   *config.Config
	db    *sqlite.DB
	vault *vault.Vault
}

func (s *session) Close() error {
	var errs []error
	if s.vault != nil {
		errs = append(errs, s.vault.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// open loads the configuration, opens the store and unlocks the vault.
func (a *app) open(ctx context.Context, log *slog.Logger) (*session, error) {
	cfg, err := a.loadConfig()
	if err != nil {
		return nil, err
	}
	return a.openWith(ctx, cfg, log)
}

func (a *app) openWith(ctx context.Context, cfg *config.Config, log *slog.Logger) (*session, error) {
	src, err := vault.ResolveKeySource(a.lookup, cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	db, err := sqlite.Open(ctx, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	v, err := vault.Open(ctx, vault.Options{Store: db, Keys: src, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &session{cfg: cfg, db: db, vault: v}, nil
}

// Main runs warden as a process: it is all cmd/warden does.
func Main() {
	ctx := context.Background()
	os.Exit(Execute(ctx, os.Args[1:], IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}))
}
