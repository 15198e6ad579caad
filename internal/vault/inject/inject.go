// Package inject runs a program with secrets in its environment, and only
// there: `warden exec --env OPENAI_API_KEY=secret://openai -- python app.py`.
//
// The secret values go into the child's environment block and nowhere else:
// not into its argv (which every local user can read in ps and
// /proc/<pid>/cmdline), not onto disk, and not into any error or log line
// this package produces. An environment is readable by the same user and
// by root (/proc/<pid>/environ) and is inherited by the child's own
// children; that is the boundary this way of handing over a key accepts. Warden stays in between as a thin, transparent
// parent: it forwards signals to the child, stops it when its context ends,
// and reports the child's exit status the way a shell does, so that
// `warden exec -- cmd` can stand in for `cmd` in scripts, Makefiles and
// container entrypoints.
package inject

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/secret"
)

// Exit codes for a child that could not be started, as shells use them.
const (
	// ExitNotFound means the program does not exist.
	ExitNotFound = 127
	// ExitCannotRun means the program exists but could not be run (not
	// executable, not a valid binary, a missing working directory, ...),
	// or the command itself was invalid.
	ExitCannotRun = 126
)

// DefaultKillDelay is how long a child gets to exit after SIGTERM, once the
// context ends, before it is killed.
const DefaultKillDelay = 10 * time.Second

// Command describes the child to run.
type Command struct {
	// Path is the program. Without a slash it is looked up in the PATH of
	// this process (exec.LookPath), and only absolute results are
	// accepted; a relative Path is taken relative to Dir. Empty means
	// Args[0].
	Path string
	// Args is the child's argv, Args[0] being the program name as given.
	// Empty means []string{Path}.
	Args []string
	// Env is the base environment, usually os.Environ(). Nil means an
	// empty base, not this process's environment: Run never passes on
	// variables the caller did not hand it.
	Env []string
	// Inject holds the variables added on top of Env; each replaces any
	// Env entry of the same name.
	Inject []Var
	// Stdin, Stdout and Stderr are as in exec.Cmd: nil means the null
	// device, and an *os.File is handed to the child directly.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Dir is the child's working directory; empty means this process's.
	Dir string
	// KillDelay is how long the child gets after SIGTERM, once ctx ends,
	// before it is sent SIGKILL. It also bounds how long Run waits, after
	// the child exits, for output still being copied from pipes it left
	// to its own children. Zero means DefaultKillDelay.
	KillDelay time.Duration
}

// Var is one environment variable to inject. Name must be a POSIX name
// ([A-Za-z_][A-Za-z0-9_]*) and Value must be non-empty.
type Var struct {
	Name  string
	Value secret.Secret
}

// Run starts the child, forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1,
// SIGUSR2 and SIGWINCH to it while it runs, waits for it, and returns its
// exit code: the child's own code, or 128+n if signal n killed it, as a
// shell reports it.
//
// When ctx ends, the child is sent SIGTERM, and SIGKILL if it is still
// running after c.KillDelay; Run still returns its exit code.
//
// err is non-nil only when the child could not be started, with exit code
// ExitNotFound (127) or ExitCannotRun (126). Its message names the program
// or the variable at fault and never holds an environment value.
//
// # Signals and the terminal
//
// The child stays in Warden's process group, so that a terminal's job
// control treats `warden exec -- cmd` as one job: Ctrl-C, Ctrl-\ and
// window resizes reach both processes directly from the kernel. Forwarding
// those as well would deliver them twice, and many programs read a second
// Ctrl-C as "quit now, skip cleanup" (terraform, docker compose, Python's
// finally blocks). So SIGINT and SIGQUIT, the two signals a keyboard sends,
// are not forwarded while Warden's process group is the foreground group
// of its controlling terminal, since the child then has them already. In
// every other case (a background job, a container, a service manager,
// `kill <pid>`) there is no terminal delivery and every signal is
// forwarded. The one loss: `kill -INT <warden pid>` from another shell
// while Warden runs in the foreground of a terminal does not reach the
// child; send SIGTERM instead. SIGWINCH is always forwarded: getting it
// twice only makes a program re-read its window size.
func Run(ctx context.Context, c Command) (exitCode int, err error) {
	// Notify before starting the child: a SIGTERM in between would
	// otherwise kill Warden and leave the child running on its own.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	// After the child is gone, signals regain their default effect on
	// Warden itself.
	defer signal.Stop(sigs)
	return run(ctx, c, sigs, inForeground)
}

// run is Run with the signal source and the terminal check as parameters,
// so that tests can deliver signals without signaling the test process.
func run(ctx context.Context, c Command, sigs <-chan os.Signal, foreground func() bool) (int, error) {
	cmd, code, err := c.build(ctx)
	if err != nil {
		return code, err
	}
	if err := cmd.Start(); err != nil {
		return startError(programName(c), err)
	}

	waited := make(chan struct{})
	go func() {
		// Wait's error says nothing that ProcessState does not; an
		// output-copy failure after a normal exit is not ours to report
		// (the child saw EPIPE or SIGPIPE already).
		_ = cmd.Wait()
		close(waited)
	}()
	for {
		select {
		case <-waited:
			return exitStatus(cmd.ProcessState), nil
		case s := <-sigs:
			if isKeyboardSignal(s) && foreground() {
				continue // the terminal delivered it to the child already
			}
			// An error means the child has just exited (os.ErrProcessDone);
			// the next loop turn collects its status.
			_ = cmd.Process.Signal(s)
		}
	}
}

// build validates c and returns the exec.Cmd for it, or the exit code and
// error to return.
func (c Command) build(ctx context.Context) (*exec.Cmd, int, error) {
	name := programName(c)
	if name == "" {
		return nil, ExitCannotRun, errors.New("inject: no program to run; give a command after --")
	}
	if c.KillDelay < 0 {
		return nil, ExitCannotRun, fmt.Errorf("inject: kill delay is %s; use a positive duration, or 0 for the default (%s)", c.KillDelay, DefaultKillDelay)
	}
	env, err := environ(c.Env, c.Inject)
	if err != nil {
		return nil, ExitCannotRun, err
	}
	if c.Dir != "" {
		// Checked here because os/exec reports a missing directory as a
		// "not exist" error, which would read as a missing program.
		if fi, err := os.Stat(c.Dir); err != nil {
			return nil, ExitCannotRun, fmt.Errorf("inject: cannot run %q: working directory: %w", name, err)
		} else if !fi.IsDir() {
			return nil, ExitCannotRun, fmt.Errorf("inject: cannot run %q: working directory %q is not a directory", name, c.Dir)
		}
	}

	path := c.Path
	if path == "" {
		path = c.Args[0]
	}
	// CommandContext resolves path like exec.LookPath, and keeps a failed
	// lookup in cmd.Err for Start to return.
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = c.Args
	if len(cmd.Args) == 0 {
		cmd.Args = []string{path}
	}
	cmd.Env = env
	cmd.Dir = c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	// When ctx ends: SIGTERM now, SIGKILL after the delay (os/exec does
	// the second step itself once WaitDelay passes).
	cmd.Cancel = func() error { return terminate(cmd.Process) }
	cmd.WaitDelay = c.KillDelay
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = DefaultKillDelay
	}
	// No SysProcAttr: the child stays in Warden's process group and
	// session (see Run).
	return cmd, 0, nil
}

// programName is how errors name the program: as the user typed it.
func programName(c Command) string {
	if len(c.Args) > 0 && c.Args[0] != "" {
		return c.Args[0]
	}
	return c.Path
}

// environ returns base with vars applied: every base entry whose name is
// injected is dropped, and the injected ones are appended.
//
// The values have to become Go strings here, because that is what the
// exec machinery takes; those copies cannot be zeroed and live until the
// garbage collector reuses their memory.
func environ(base []string, vars []Var) ([]string, error) {
	injected := make(map[string]bool, len(vars))
	var errs []error
	for _, v := range vars {
		// Messages name the variable, never its value.
		switch {
		case !validName(v.Name):
			errs = append(errs, fmt.Errorf("%q is not a valid variable name; use letters, digits and _, not starting with a digit", v.Name))
		case injected[v.Name]:
			errs = append(errs, fmt.Errorf("variable %s is injected twice; give it once", v.Name))
		case v.Value.IsZero():
			errs = append(errs, fmt.Errorf("variable %s has an empty value; check that its secret exists and was not destroyed", v.Name))
		case bytes.IndexByte(v.Value.Reveal(), 0) >= 0:
			errs = append(errs, fmt.Errorf("variable %s: its value contains a NUL byte, which an environment cannot hold", v.Name))
		}
		injected[v.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("inject: %w", err)
	}

	env := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !injected[name] {
			env = append(env, kv)
		}
	}
	for _, v := range vars {
		env = append(env, v.Name+"="+v.Value.RevealString())
	}
	return env, nil
}

// validName reports whether s is a POSIX environment variable name,
// [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// startError turns a failure to start the child into a shell exit code and
// an error that says what to do. The errors os/exec returns name the path
// and an errno, never the environment.
func startError(name string, err error) (int, error) {
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return ExitNotFound, fmt.Errorf("inject: program %q not found in PATH; check the name or give its path: %w", name, err)
	case errors.Is(err, exec.ErrDot):
		return ExitCannotRun, fmt.Errorf("inject: program %q was only found through a relative PATH entry, which is refused; give its path, e.g. ./%s: %w", name, name, err)
	case errors.Is(err, fs.ErrNotExist):
		return ExitNotFound, fmt.Errorf("inject: program %q not found; check the path: %w", name, err)
	case errors.Is(err, fs.ErrPermission):
		return ExitCannotRun, fmt.Errorf("inject: program %q is not executable (or is a directory); check its permissions: %w", name, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return ExitCannotRun, fmt.Errorf("inject: program %q not started: %w", name, err)
	default:
		return ExitCannotRun, fmt.Errorf("inject: cannot run %q: %w", name, err)
	}
}

// exitStatus reports a finished child's status as a shell does: its exit
// code, or 128+n if signal n killed it.
func exitStatus(ps *os.ProcessState) int {
	if n, ok := killedBy(ps); ok {
		return 128 + n
	}
	return ps.ExitCode()
}
