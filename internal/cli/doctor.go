package cli

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenproject/warden/internal/config"
	"github.com/wardenproject/warden/internal/store/sqlite"
	"github.com/wardenproject/warden/internal/vault"
)

// finding is one line of the doctor's report.
type finding struct {
	level string // OK, WARN or FAIL
	what  string
	fix   string
}

type report struct {
	items []finding
	now   time.Time
}

func (r *report) ok(what string)        { r.items = append(r.items, finding{"OK", what, ""}) }
func (r *report) warn(what, fix string) { r.items = append(r.items, finding{"WARN", what, fix}) }
func (r *report) fail(what, fix string) { r.items = append(r.items, finding{"FAIL", what, fix}) }

func (r *report) failed() bool {
	for _, f := range r.items {
		if f.level == "FAIL" {
			return true
		}
	}
	return false
}

func (r *report) print(w io.Writer) {
	for _, f := range r.items {
		fmt.Fprintf(w, "%-4s  %s\n", f.level, f.what)
		if f.fix != "" {
			fmt.Fprintf(w, "      -> %s\n", f.fix)
		}
	}
}

func (a *app) doctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the configuration, master key, data directory and repository for problems",
		Long: `Check, without starting the server or changing anything:
  - the configuration file (unknown keys, bad values, literal keys)
  - where the master key comes from and the permissions of key files
  - the data directory and database permissions, and that the vault unlocks
  - .env files in the current git repository that git does not ignore
  - TLS settings (plaintext on a public address, certificate expiry)
Exits 1 if any check fails.`,
		Example: `  warden doctor
  warden doctor --config /etc/warden/warden.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := &report{now: time.Now()}
			a.doctor(cmd.Context(), r)
			r.print(cmd.OutOrStdout())
			if r.failed() {
				return exitError{1}
			}
			return nil
		},
	}
}

func (a *app) doctor(ctx context.Context, r *report) {
	cfg, err := a.loadConfig()
	if err != nil {
		var probs config.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				r.fail("config: "+p.String(), "")
			}
		} else {
			r.fail("config: "+err.Error(), "")
		}
		return
	}
	r.ok("configuration is valid")
	a.checkMasterKey(r, cfg)
	a.checkDataDir(ctx, r, cfg)
	checkTLS(r, cfg)
	checkDotenvFiles(ctx, r, ".")
}

func (a *app) checkMasterKey(r *report, cfg *config.Config) {
	src, err := vault.ResolveKeySource(a.lookup, cfg.DataDir)
	if err != nil {
		r.fail("master key: "+err.Error(), "")
		return
	}
	switch src.Kind {
	case vault.SourceEnv:
		r.ok("master key from " + vault.EnvMasterKey)
	case vault.SourceFile:
		r.ok("master key from file " + src.Path + " (mode 0600)")
	case vault.SourcePassphrase:
		r.ok("master key derived from " + vault.EnvPassphrase + " with Argon2id")
	case vault.SourceGenerated:
		fi, err := os.Stat(src.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r.warn("no master key configured; the first run will generate "+src.Path,
				"for production, set WARDEN_MASTER_KEY_FILE (a 0600 file outside the data directory) or WARDEN_PASSPHRASE")
		case err != nil:
			r.fail("master key file: "+err.Error(), "")
		case fi.Mode().Perm()&0o077 != 0:
			r.fail(fmt.Sprintf("master key file %s has mode %04o", src.Path, fi.Mode().Perm()), "chmod 600 "+src.Path)
		default:
			r.warn("master key is the generated file "+src.Path+", stored next to the data it protects",
				"back it up separately; for production use WARDEN_MASTER_KEY_FILE or WARDEN_PASSPHRASE")
		}
	}
	for _, name := range []string{vault.EnvMasterKey, vault.EnvMasterKeyFile, vault.EnvPassphrase} {
		if _, ok := a.env[name]; ok && name != sourceEnvName(src.Kind) {
			r.warn(name+" is set but not used: an earlier master key source takes precedence", "unset it to avoid confusion")
		}
	}
}

func sourceEnvName(kind string) string {
	switch kind {
	case vault.SourceEnv:
		return vault.EnvMasterKey
	case vault.SourceFile:
		return vault.EnvMasterKeyFile
	case vault.SourcePassphrase:
		return vault.EnvPassphrase
	}
	return ""
}

func (a *app) checkDataDir(ctx context.Context, r *report, cfg *config.Config) {
	dir := cfg.DataDir
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		r.ok("data directory " + dir + " does not exist yet; warden creates it (0700) on first use")
		return
	}
	if err != nil {
		r.fail("data directory: "+err.Error(), "")
		return
	}
	if !fi.IsDir() {
		r.fail(dir+" is not a directory", "set data_dir or WARDEN_DATA_DIR to a directory")
		return
	}
	if fi.Mode().Perm()&0o077 != 0 {
		r.fail(fmt.Sprintf("data directory %s has mode %04o: other users can reach the vault", dir, fi.Mode().Perm()), "chmod 700 "+dir)
	} else {
		r.ok("data directory " + dir + " is private (0700)")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.IsDir() {
			continue
		}
		if info.Mode().Perm()&0o077 != 0 {
			p := filepath.Join(dir, e.Name())
			r.fail(fmt.Sprintf("%s has mode %04o", p, info.Mode().Perm()), "chmod 600 "+p)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); errors.Is(err, fs.ErrNotExist) {
		r.ok("no vault yet in " + dir)
		return
	}
	s, err := a.openWith(ctx, cfg, a.cliLogger())
	if err != nil {
		r.fail("vault does not open: "+err.Error(), "")
		return
	}
	defer s.Close()
	id, version := s.vault.ActiveKeyID()
	r.ok(fmt.Sprintf("vault unlocks (master key id %s, version %d)", id, version))
}

func checkTLS(r *report, cfg *config.Config) {
	t := cfg.Server.TLS
	tlsOn := t.SelfSigned || t.CertFile != ""
	host, _, _ := net.SplitHostPort(cfg.Server.Addr)
	loopback := host == "localhost"
	if ip, err := netip.ParseAddr(host); err == nil {
		loopback = ip.IsLoopback()
	}
	switch {
	case !tlsOn && !loopback:
		r.warn("server listens on "+cfg.Server.Addr+" without TLS: keys travel in plaintext",
			"set server.tls.cert_file/key_file, or terminate TLS in a proxy in front of warden and keep warden on loopback")
	case !tlsOn:
		r.ok("server listens on loopback " + cfg.Server.Addr + " (plain HTTP is fine there)")
	case t.SelfSigned && !loopback:
		r.warn("self-signed TLS on "+cfg.Server.Addr, "use a real certificate for anything beyond local testing")
	}
	if t.KeyFile != "" {
		if fi, err := os.Stat(t.KeyFile); err != nil {
			r.fail("TLS key file: "+err.Error(), "")
		} else if fi.Mode().Perm()&0o077 != 0 {
			r.fail(fmt.Sprintf("TLS key file %s has mode %04o", t.KeyFile, fi.Mode().Perm()), "chmod 600 "+t.KeyFile)
		}
	}
	if t.CertFile != "" {
		checkCertExpiry(r, t.CertFile, time.Now())
	}
}

func checkCertExpiry(r *report, path string, now time.Time) {
	b, err := os.ReadFile(path)
	if err != nil {
		r.fail("TLS certificate: "+err.Error(), "")
		return
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		r.fail("TLS certificate "+path+" is not a PEM certificate", "")
		return
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		r.fail("TLS certificate "+path+": "+err.Error(), "")
		return
	}
	switch left := c.NotAfter.Sub(now); {
	case left <= 0:
		r.fail("TLS certificate "+path+" expired on "+c.NotAfter.Format(time.DateOnly), "renew it")
	case left < 30*24*time.Hour:
		r.warn("TLS certificate "+path+" expires on "+c.NotAfter.Format(time.DateOnly), "renew it soon")
	default:
		r.ok("TLS certificate " + path + " valid until " + c.NotAfter.Format(time.DateOnly))
	}
}

// dotenvName matches .env, .env.local, prod.env and the like, but not the
// example files that repositories keep on purpose.
var (
	dotenvName   = regexp.MustCompile(`(^|/)(\.env(\.[^/]+)?|[^/]+\.env)$`)
	dotenvBenign = regexp.MustCompile(`\.(example|sample|template|dist|defaults)$`)
)

// checkDotenvFiles looks for .env files in the git repository around dir
// that are committed, or that git would commit because nothing ignores them.
func checkDotenvFiles(ctx context.Context, r *report, dir string) {
	if _, err := exec.LookPath("git"); err != nil {
		r.ok("git not installed; skipped the .env check")
		return
	}
	if err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		r.ok("not inside a git repository; skipped the .env check")
		return
	}
	list := func(args ...string) []string {
		out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "ls-files", "-z", "--full-name"}, args...)...).Output()
		if err != nil {
			return nil
		}
		var names []string
		for _, n := range bytes.Split(out, []byte{0}) {
			s := string(n)
			if s != "" && dotenvName.MatchString(s) && !dotenvBenign.MatchString(s) {
				names = append(names, s)
			}
		}
		return names
	}
	tracked := list("--cached")
	untracked := list("--others", "--exclude-standard")
	for _, n := range tracked {
		r.fail(".env file committed to git: "+n,
			"import it (warden secrets import "+n+"), rotate every key in it, git rm --cached "+n+", add it to .gitignore, and scan history")
	}
	for _, n := range untracked {
		r.warn(".env file not ignored by git: "+n, "add it to .gitignore, or import it with warden secrets import "+n+" and delete it")
	}
	if len(tracked)+len(untracked) == 0 {
		r.ok("no unignored .env files in this git repository")
	}
}
