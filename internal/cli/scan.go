package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/scan"
)

// Exit codes of warden scan, the contract with hooks and CI jobs.
const (
	scanClean    = 0
	scanFindings = 1
	scanError    = 2
)

// scanFlags are the options of warden scan.
type scanFlags struct {
	git, staged     bool
	revRange, since string
	format, output  string
	reveal          bool
	baseline        string
	ignoreFile      string
	rules           []string
	noGeneric       bool
	maxFileSize     int64
	workers         int
	progress        string
	installHook     bool
	force           bool
	verify, revoke  bool
	colour          string
}

func (a *app) scanCmd() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan [PATH...]",
		Short: "Find leaked AI provider keys and other secrets in files and git history",
		Long: `Scan files, directories, standard input ("-"), the whole git history (--git)
or what is staged for the next commit (--staged) for secrets: AI provider
keys, cloud and SaaS credentials, private keys, JWTs, Warden keys (checked
offline by their checksum) and high-entropy values assigned to names like
api_key or password.

Directories are walked in parallel; .gitignore rules apply, .git is never
entered, and binary files and files over --max-file-size are skipped with a
note. History scans read the lines each commit added, so a key committed and
deleted later is still found, with the commit that added it.

Findings are printed with the secret masked (--reveal prints it in full; SARIF
never does). Noise control:
  - a "warden:allow" comment on the line accepts that value;
  - .wardenignore (in the scanned directory or repository, or --ignore-file)
    drops paths, rules or single findings by fingerprint;
  - --baseline FILE, a JSON report of an earlier scan, reports only new findings.

Exit status: 0 nothing found, 1 secrets found, 2 the scan failed.`,
		Example: `  # The working tree, as a pre-commit check would see it
  warden scan .

  # Every commit on every branch, as JSON
  warden scan --git --format json > findings.json

  # Only what is new since that report
  warden scan --git --baseline findings.json

  # For code-scanning tools
  warden scan --format sarif --output warden.sarif

  # Block commits that add secrets
  warden scan --install-hook

  # Are the Warden keys found still live? Revoke those that are.
  warden scan --verify --revoke src/`,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := a.runScan(cmd, args, f)
			if err != nil {
				return codedError{code: scanError, err: err}
			}
			if code != scanClean {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return codedError{code: scanError, err: err}
	})
	fl := cmd.Flags()
	fl.BoolVar(&f.git, "git", false, "scan every commit of the repository at PATH (default .): the lines each commit added")
	fl.StringVar(&f.revRange, "range", "", `with --git, a revision range instead of all refs ("main..HEAD", "v1.2.0..")`)
	fl.StringVar(&f.since, "since", "", `with --git, only commits more recent than this date ("2026-01-01", "2 weeks ago")`)
	fl.BoolVar(&f.staged, "staged", false, "scan the changes staged for the next commit (what a pre-commit hook sees)")
	fl.StringVar(&f.format, "format", "text", "report format: text, json or sarif")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to this file instead of standard output")
	fl.BoolVar(&f.reveal, "reveal", false, "print found secrets in full in text and JSON reports (never in SARIF)")
	fl.StringVar(&f.baseline, "baseline", "", "a JSON report of an earlier scan: report only findings not in it")
	fl.StringVar(&f.ignoreFile, "ignore-file", "", "the allowlist file (default: .wardenignore in the scanned directory or repository)")
	fl.StringSliceVar(&f.rules, "rules", nil, "run only these rules (IDs as in the report; default all)")
	fl.BoolVar(&f.noGeneric, "no-generic", false, "leave out generic_secret, the rule for high-entropy values assigned to names like api_key")
	fl.Int64Var(&f.maxFileSize, "max-file-size", 10<<20, "skip files larger than this many bytes")
	fl.IntVar(&f.workers, "workers", 0, "files scanned at once (default: one per CPU)")
	fl.StringVar(&f.progress, "progress", "auto", "progress bar on standard error: auto (on a terminal, not in CI), always or never")
	fl.StringVar(&f.colour, "color", "auto", "colour in text reports: auto, always or never")
	fl.BoolVar(&f.installHook, "install-hook", false, "install a git pre-commit hook that runs warden scan --staged, then exit")
	fl.BoolVar(&f.force, "force", false, "with --install-hook, replace a pre-commit hook warden did not write")
	fl.BoolVar(&f.verify, "verify", false, "check found Warden keys against the configured store and say which are live; say how to rotate other keys")
	fl.BoolVar(&f.revoke, "revoke", false, "revoke every live Warden key found (implies --verify)")
	return cmd
}

// codedError is an error printed as usual that ends the process with code.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// runScan runs one scan and returns its exit code; an error means the
// scan could not be done.
func (a *app) runScan(cmd *cobra.Command, args []string, f scanFlags) (int, error) {
	ctx := cmd.Context()
	if f.installHook {
		dir := "."
		if len(args) > 0 {
			dir = args[0]
		}
		return scanClean, installHook(ctx, cmd.OutOrStdout(), dir, f.force)
	}
	switch f.format {
	case "text", "json", "sarif":
	default:
		return 0, fmt.Errorf("unknown --format %q: use text, json or sarif", f.format)
	}
	if f.git && f.staged {
		return 0, errors.New("--git and --staged cannot be combined: --git reads committed history, --staged the next commit")
	}
	if (f.revRange != "" || f.since != "") && !f.git {
		return 0, errors.New("--range and --since need --git")
	}
	if f.revoke {
		f.verify = true
	}
	sc, err := scan.New(scan.Options{Rules: f.rules, NoGeneric: f.noGeneric, Workers: f.workers})
	if err != nil {
		return 0, err
	}
	src, base, err := a.scanSource(ctx, args, f)
	if err != nil {
		return 0, err
	}
	ignore, err := loadScanIgnore(f.ignoreFile, base)
	if err != nil {
		return 0, err
	}
	var baseline scan.Baseline
	if f.baseline != "" {
		if baseline, err = scan.LoadBaseline(f.baseline); err != nil {
			return 0, err
		}
	}

	bar := a.scanProgress(f.progress, f.output != "" && f.output != "-")
	var progress scan.Progress
	if bar != nil {
		progress = func(n int64) { _ = bar.Set64(n) }
	}
	res, err := sc.Run(ctx, src, progress)
	if bar != nil {
		_ = bar.Finish() // clears its line
	}
	if err != nil {
		return 0, err
	}
	res.Findings = filterIgnored(ignore, base, res.Findings, f.git || f.staged)
	if f.baseline != "" {
		res.Findings = baseline.Filter(res.Findings)
	}

	out, closeOut, err := a.scanOutput(f.output)
	if err != nil {
		return 0, err
	}
	opts := scan.ReportOptions{Reveal: f.reveal, Color: a.scanColour(f, out), ToolVersion: Version}
	switch f.format {
	case "json":
		err = scan.WriteJSON(out, res, opts)
	case "sarif":
		err = scan.WriteSARIF(out, res, detect.Rules(), opts)
	default:
		err = scan.WriteText(out, res, opts)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write the report: %w", err)
	}
	if f.verify && len(res.Findings) > 0 {
		if err := a.verifyFindings(ctx, cmd.ErrOrStderr(), res.Findings, f.revoke); err != nil {
			return 0, err
		}
	}
	if len(res.Findings) > 0 {
		return scanFindings, nil
	}
	return scanClean, nil
}

// scanSource picks the source for the arguments and returns it with the
// directory a .wardenignore is looked for in.
func (a *app) scanSource(ctx context.Context, args []string, f scanFlags) (scan.Source, string, error) {
	if f.git || f.staged {
		if len(args) > 1 {
			return nil, "", errors.New("--git and --staged take at most one PATH: the repository")
		}
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		top, err := gitTopLevel(ctx, dir)
		if err != nil {
			return nil, "", err
		}
		if f.staged {
			return scan.GitStaged(top), top, nil
		}
		return scan.GitHistory(top, scan.GitOptions{Range: f.revRange, Since: f.since}), top, nil
	}
	if len(args) == 1 && args[0] == "-" {
		return func(_ context.Context, emit func(scan.Chunk) error) error {
			b, err := io.ReadAll(io.LimitReader(a.io.Stdin, f.maxFileSize+1))
			if err != nil {
				return fmt.Errorf("read standard input: %w", err)
			}
			if int64(len(b)) > f.maxFileSize {
				return fmt.Errorf("standard input is larger than --max-file-size (%d bytes)", f.maxFileSize)
			}
			return emit(scan.Chunk{Path: "-", Text: string(b)})
		}, ".", nil
	}
	for _, p := range args {
		if p == "-" {
			return nil, "", errors.New(`"-" (standard input) cannot be combined with paths`)
		}
	}
	roots := args
	if len(roots) == 0 {
		roots = []string{"."}
	}
	base := "."
	if st, err := os.Stat(roots[0]); err == nil && st.IsDir() {
		base = roots[0]
	}
	return scan.Files(roots, scan.WalkOptions{MaxFileSize: f.maxFileSize}), base, nil
}

// gitTopLevel returns the top directory of the work tree dir is in.
func gitTopLevel(ctx context.Context, dir string) (string, error) {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--show-toplevel")
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("%s is not in a git work tree (%s); scan files without --git or --staged", dir, msg)
	}
	return strings.TrimSpace(string(out)), nil
}

// loadScanIgnore loads the allowlist named by --ignore-file, or
// .wardenignore in base if there is one.
func loadScanIgnore(path, base string) (*scan.Ignore, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("--ignore-file: %w", err)
		}
		return scan.LoadIgnore(path)
	}
	return scan.LoadIgnore(filepath.Join(base, ".wardenignore"))
}

// filterIgnored drops the findings ignore drops. Its path patterns are
// relative to the directory of the ignore file, base; paths of history
// and staged findings already are, those of a file scan are relative to
// where the scan started.
func filterIgnored(ignore *scan.Ignore, base string, fs []scan.Finding, fromGit bool) []scan.Finding {
	out := fs[:0]
	for _, f := range fs {
		g := f
		if !fromGit && f.File != "-" {
			if rel, err := filepath.Rel(base, filepath.FromSlash(f.File)); err == nil && filepath.IsLocal(rel) {
				g.File = filepath.ToSlash(rel)
			}
		}
		if !ignore.Drops(g) {
			out = append(out, f)
		}
	}
	return out
}

// scanOutput opens the report's destination.
func (a *app) scanOutput(path string) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return a.io.Stdout, func() error { return nil }, nil
	}
	// 0600: with --reveal the report holds secrets.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("open the report file: %w", err)
	}
	return file, file.Close, nil
}

// terminal returns the file behind a command's reader or writer if it is
// a terminal.
func terminal(rw any) (*os.File, bool) {
	file, ok := rw.(*os.File)
	if !ok || !term.IsTerminal(int(file.Fd())) {
		return nil, false
	}
	return file, true
}

// isTerminal reports whether a command's reader or writer is a terminal.
func isTerminal(rw any) bool {
	_, ok := terminal(rw)
	return ok
}

// scanProgress returns a progress bar on standard error, or nil when
// there should be none: in CI, turned off, or when the report or the bar
// would go anywhere but a terminal (a pipe, a log file).
func (a *app) scanProgress(mode string, toFile bool) *progressbar.ProgressBar {
	switch mode {
	case "never":
		return nil
	case "always":
	default:
		if !isTerminal(a.io.Stderr) || (!toFile && !isTerminal(a.io.Stdout)) || a.env["CI"] != "" {
			return nil
		}
	}
	return progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(a.io.Stderr),
		progressbar.OptionSetDescription("scanning"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// scanColour decides whether the text report is coloured.
func (a *app) scanColour(f scanFlags, out io.Writer) bool {
	switch f.colour {
	case "always":
		return true
	case "never":
		return false
	}
	_, noColour := a.env["NO_COLOR"]
	return f.format == "text" && !noColour && isTerminal(out)
}

// verifyFindings says, for each finding, whether the key is live and what
// to do: Warden keys are looked up in the configured store (and revoked
// with revoke); other keys get the provider's rotation advice, with no
// call to any outside service.
func (a *app) verifyFindings(ctx context.Context, w io.Writer, fs []scan.Finding, revoke bool) error {
	var wardenKeys []scan.Finding
	advised := map[string]bool{}
	for _, f := range fs {
		if f.RuleID == "warden_key" {
			wardenKeys = append(wardenKeys, f)
			continue
		}
		if !advised[f.RuleID] {
			advised[f.RuleID] = true
			fmt.Fprintf(w, "%s: %s\n", f.RuleID, scan.Advice(f.RuleID))
		}
	}
	if len(wardenKeys) == 0 {
		return nil
	}
	return a.withSessionKeys(ctx, func(s *session, m *keys.Manager) error {
		done := map[string]bool{}
		for _, f := range wardenKeys {
			k, previous, found, err := m.Lookup(ctx, f.Secret)
			if err != nil {
				return err
			}
			where := f.File + ":" + fmt.Sprint(f.Line)
			switch {
			case !found:
				fmt.Fprintf(w, "%s: Warden key %s is not a key of this store (another deployment, or a test key)\n", where, scan.Mask(f.Secret))
				continue
			case k.State == keys.Revoked:
				fmt.Fprintf(w, "%s: Warden key %s (%s) is already revoked; remove it from the code\n", where, k.ID, k.Name)
				continue
			case previous && !time.Now().Before(k.PreviousValidUntil):
				fmt.Fprintf(w, "%s: Warden key %s (%s) is a rotated-out secret and no longer works; remove it from the code\n", where, k.ID, k.Name)
				continue
			}
			state := string(k.State)
			if k.Expired(time.Now()) {
				state = "expired"
			}
			if !revoke {
				fmt.Fprintf(w, "%s: Warden key %s (%s) is LIVE (%s): revoke it with `warden keys revoke %s`, or rerun with --revoke\n", where, k.ID, k.Name, state, k.ID)
				continue
			}
			if done[k.ID] {
				continue
			}
			if err := m.Revoke(ctx, k.ID); err != nil {
				return fmt.Errorf("revoke key %s: %w", k.ID, err)
			}
			done[k.ID] = true
			rec := audit.Record{Time: time.Now(), Action: "scan.revoke", Target: k.ID, Principal: audit.Principal{Role: "operator"}}
			if err := a.logCLIAction(context.WithoutCancel(ctx), s, a.cliLogger(), rec); err != nil {
				fmt.Fprintf(w, "warden: the key was revoked but not written to the audit log: %v\n", err)
			}
			fmt.Fprintf(w, "%s: Warden key %s (%s) was live and is now revoked\n", where, k.ID, k.Name)
		}
		return nil
	})
}
