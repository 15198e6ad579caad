package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// hookMarker identifies a pre-commit hook that warden wrote, so that
// installing again replaces it and a hook of someone else's is kept.
const hookMarker = "# warden-pre-commit-hook"

// preCommitHook runs the staged scan. WARDEN overrides the binary, for
// installs that are not on PATH.
const preCommitHook = `#!/bin/sh
` + hookMarker + `
# Refuses a commit that adds secrets. Written by "warden scan --install-hook".
# Accept a value with a warden:allow comment on its line or a .wardenignore
# entry; skip the check once with "git commit --no-verify".
WARDEN="${WARDEN:-warden}"
if ! command -v "$WARDEN" >/dev/null 2>&1; then
	echo "pre-commit: $WARDEN not found; install warden or set WARDEN to its path" >&2
	exit 1
fi
exec "$WARDEN" scan --staged --progress never
`

// installHook writes the pre-commit hook into the repository at dir,
// where git looks for hooks (core.hooksPath included).
func installHook(ctx context.Context, out io.Writer, dir string, force bool) error {
	var stderr bytes.Buffer
	c := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
	c.Stderr = &stderr
	b, err := c.Output()
	if err != nil {
		return fmt.Errorf("find the hooks directory of %s (is it a git repository?): %s", dir, strings.TrimSpace(stderr.String()))
	}
	hooks := strings.TrimSpace(string(b))
	if err := os.MkdirAll(hooks, 0o755); err != nil {
		return fmt.Errorf("create the hooks directory: %w", err)
	}
	path := filepath.Join(hooks, "pre-commit")
	old, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read the existing hook: %w", err)
	case !bytes.Contains(old, []byte(hookMarker)) && !force:
		return fmt.Errorf("%s exists and was not written by warden; add `warden scan --staged` to it yourself, or rerun with --force to replace it", path)
	}
	if err := os.WriteFile(path, []byte(preCommitHook), 0o755); err != nil {
		return fmt.Errorf("write the hook: %w", err)
	}
	// WriteFile keeps the mode of an existing file.
	if err := os.Chmod(path, 0o755); err != nil {
		return fmt.Errorf("make the hook executable: %w", err)
	}
	fmt.Fprintf(out, "installed %s: commits that add secrets are refused\n", path)
	return nil
}
