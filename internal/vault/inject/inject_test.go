//go:build unix

package inject

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/secret"
)

// newCanary returns a fresh fake secret that no test output contains by
// chance.
func newCanary() string { return "wdn-canary-" + rand.Text() }

// runWith returns a runFn that calls run with the given signal channel and
// terminal answer.
func runWith(ctx context.Context, sigs <-chan os.Signal, foreground bool) func(Command) (int, error) {
	return func(c Command) (int, error) {
		return run(ctx, c, sigs, func() bool { return foreground })
	}
}

func TestRunInjectsAndOverrides(t *testing.T) {
	c := helperCommand(t, "env", "OPENAI_API_KEY", "BASE_ONLY", "SHADOWED", "_UNDERSCORE", "NOT_SET")
	c.Env = append(c.Env, "BASE_ONLY=kept", "SHADOWED=from-base", "SHADOWED=again")
	base := append([]string(nil), c.Env...)
	c.Inject = []Var{
		{Name: "OPENAI_API_KEY", Value: secret.FromString("sk-injected")},
		{Name: "SHADOWED", Value: secret.FromString("from-vault")},
		{Name: "_UNDERSCORE", Value: secret.FromString("ok")},
	}
	r := start(c, runWith(context.Background(), nil, false))
	for _, want := range []string{
		"OPENAI_API_KEY=sk-injected",
		"BASE_ONLY=kept",
		"SHADOWED=from-vault",
		"_UNDERSCORE=ok",
		"NOT_SET unset",
	} {
		r.expect(t, want)
	}
	if res := r.wait(); res.code != 0 || res.err != nil {
		t.Fatalf("run = %d, %v", res.code, res.err)
	}
	if fmt.Sprint(c.Env) != fmt.Sprint(base) {
		t.Errorf("Run changed the caller's Env: %v", c.Env)
	}
}

func TestEnvironReplacesEveryBaseEntry(t *testing.T) {
	env, err := environ(
		[]string{"A=1", "KEY=old", "B=2", "KEY=older", "KEYS=other", "NOEQUALS"},
		[]Var{{Name: "KEY", Value: secret.FromString("new")}},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := "[A=1 B=2 KEYS=other NOEQUALS KEY=new]"
	if got := fmt.Sprint(env); got != want {
		t.Errorf("environ = %s; want %s", got, want)
	}
}

func TestRunNilEnvIsEmpty(t *testing.T) {
	// The helper marker must come from Inject: with a nil Env, nothing of
	// this process's environment may reach the child.
	t.Setenv("WARDEN_INJECT_PARENT_ONLY", "leaked")
	c := helperCommand(t, "env", "WARDEN_INJECT_PARENT_ONLY")
	c.Env = nil
	c.Inject = []Var{
		{Name: helperEnv, Value: secret.FromString("1")},
		{Name: "GORACE", Value: secret.FromString("atexit_sleep_ms=0")},
	}
	r := start(c, runWith(context.Background(), nil, false))
	r.expect(t, "WARDEN_INJECT_PARENT_ONLY unset")
	r.wait()
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"success", []string{"exit", "0"}, 0},
		{"code 3", []string{"exit", "3"}, 3},
		{"code 42", []string{"exit", "42"}, 42},
		{"killed by SIGKILL", []string{"kill", "9"}, 128 + 9},
		{"killed by SIGTERM", []string{"kill", "15"}, 128 + 15},
		{"killed by SIGINT", []string{"kill", "2"}, 128 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := start(helperCommand(t, tt.args...), runWith(context.Background(), nil, false)).wait()
			if res.err != nil || res.code != tt.want {
				t.Errorf("run = %d, %v; want %d, nil", res.code, res.err, tt.want)
			}
		})
	}
}

func TestRunForwardsSignals(t *testing.T) {
	type sig = syscall.Signal
	tests := []struct {
		sig        sig
		foreground bool // Warden's group owns the terminal
		forwarded  bool
	}{
		{syscall.SIGINT, false, true},
		{syscall.SIGQUIT, false, true},
		{syscall.SIGHUP, false, true},
		{syscall.SIGUSR1, false, true},
		{syscall.SIGUSR2, false, true},
		{syscall.SIGWINCH, false, true},
		{syscall.SIGTERM, false, true},
		// In the terminal's foreground the child got the keyboard's
		// signals from the kernel already: no second copy.
		{syscall.SIGINT, true, false},
		{syscall.SIGQUIT, true, false},
		{syscall.SIGHUP, true, true},
		{syscall.SIGUSR1, true, true},
		{syscall.SIGUSR2, true, true},
		{syscall.SIGWINCH, true, true},
		{syscall.SIGTERM, true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/foreground=%t", tt.sig, tt.foreground), func(t *testing.T) {
			sigs := make(chan os.Signal, 2)
			r := start(helperCommand(t, "signals"), runWith(context.Background(), sigs, tt.foreground))
			r.expect(t, "ready")

			sigs <- tt.sig
			if tt.forwarded {
				r.expect(t, fmt.Sprint("signal ", int(tt.sig)))
			}
			if tt.sig != syscall.SIGTERM {
				// SIGTERM ends the helper. Had tt.sig been forwarded
				// anyway, the child would see it first: run forwards in
				// order, and pending signals arrive lowest number first.
				sigs <- syscall.SIGTERM
				r.expect(t, fmt.Sprint("signal ", int(syscall.SIGTERM)))
			}
			if res := r.wait(); res.code != 0 || res.err != nil {
				t.Fatalf("run = %d, %v; want 0", res.code, res.err)
			}
		})
	}
}

// TestRunForwardsRealSignal checks that Run itself subscribes to signals,
// with SIGWINCH: its default action is to do nothing, so sending it to the
// test process is harmless even if Run were not listening.
func TestRunForwardsRealSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := start(helperCommand(t, "signals"), func(c Command) (int, error) { return Run(ctx, c) })
	r.expect(t, "ready")
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	r.expect(t, fmt.Sprint("signal ", int(syscall.SIGWINCH)))
	cancel() // ends the child with SIGTERM
	r.expect(t, fmt.Sprint("signal ", int(syscall.SIGTERM)))
	if res := r.wait(); res.code != 0 || res.err != nil {
		t.Fatalf("Run = %d, %v; want 0", res.code, res.err)
	}
}

func TestRunContextCancel(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantLine string // written after SIGTERM, if any
		want     int
	}{
		{"default action: dies of SIGTERM", []string{"sleep"}, "", 128 + int(syscall.SIGTERM)},
		{"handles SIGTERM: own exit code", []string{"graceful", "7"}, "terminated", 7},
		{"ignores SIGTERM: killed after the delay", []string{"ignore-term"}, "", 128 + int(syscall.SIGKILL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := helperCommand(t, tt.args...)
			c.KillDelay = 10 * time.Millisecond
			r := start(c, runWith(ctx, nil, false))
			r.expect(t, "ready")
			cancel()
			if tt.wantLine != "" {
				r.expect(t, tt.wantLine)
			}
			if res := r.wait(); res.err != nil || res.code != tt.want {
				t.Errorf("run = %d, %v; want %d, nil", res.code, res.err, tt.want)
			}
		})
	}
}

func TestRunContextCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	code, err := run(ctx, helperCommand(t, "exit", "0"), nil, func() bool { return false })
	if code != ExitCannotRun || !errors.Is(err, context.Canceled) {
		t.Errorf("run = %d, %v; want %d and context.Canceled", code, err, ExitCannotRun)
	}
}

func TestRunStartFailures(t *testing.T) {
	canary := newCanary()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x00\x01 not a program"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := []Var{{Name: "OPENAI_API_KEY", Value: secret.FromString(canary)}}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}

	type startCase struct {
		name     string
		c        Command
		wantCode int
		wantIs   error  // if set, errors.Is must hold
		wantText string // the error must contain it
	}
	tests := []startCase{
		{"not in PATH", Command{Path: "warden-test-no-such-program"}, ExitNotFound, exec.ErrNotFound, `"warden-test-no-such-program" not found in PATH`},
		{"missing path", Command{Path: filepath.Join(dir, "missing"), Args: []string{"missing"}}, ExitNotFound, os.ErrNotExist, `"missing" not found`},
		{"not executable", Command{Path: notExec}, ExitCannotRun, os.ErrPermission, "not executable"},
		{"directory", Command{Path: dir}, ExitCannotRun, os.ErrPermission, "not executable"},
		{"not a program", Command{Path: garbage}, ExitCannotRun, syscall.ENOEXEC, "cannot run"},
		{"no program", Command{}, ExitCannotRun, nil, "no program to run"},
		{"missing working directory", Command{Path: exe, Dir: filepath.Join(dir, "nope")}, ExitCannotRun, os.ErrNotExist, "working directory"},
		{"working directory is a file", Command{Path: exe, Dir: notExec}, ExitCannotRun, nil, "is not a directory"},
		{"negative kill delay", Command{Path: exe, KillDelay: -time.Second}, ExitCannotRun, nil, "kill delay"},
		{"empty value", Command{Path: exe, Inject: []Var{{Name: "KEY"}}}, ExitCannotRun, nil, "KEY has an empty value"},
		{"NUL in value", Command{Path: exe, Inject: []Var{{Name: "KEY", Value: secret.FromString(canary + "\x00" + canary)}}}, ExitCannotRun, nil, "KEY: its value contains a NUL byte"},
		{"injected twice", Command{Path: exe, Inject: []Var{{Name: "KEY", Value: secret.FromString(canary)}, {Name: "KEY", Value: secret.FromString(canary)}}}, ExitCannotRun, nil, "KEY is injected twice"},
	}
	for _, name := range []string{"", "1ABC", "A-B", "A=B", "A B", "KEY\n", "ÄPI"} {
		tests = append(tests, startCase{
			fmt.Sprintf("bad name %q", name),
			Command{Path: exe, Inject: []Var{{Name: name, Value: secret.FromString(canary)}}},
			ExitCannotRun, nil, "not a valid variable name",
		})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.Inject == nil {
				c.Inject = good
			}
			c.Env = []string{"BASE_SECRET=" + canary}
			code, err := run(context.Background(), c, nil, func() bool { return false })
			if err == nil {
				t.Fatalf("run = %d, nil; want an error", code)
			}
			if code != tt.wantCode {
				t.Errorf("code = %d; want %d", code, tt.wantCode)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(text, canary) {
					t.Fatalf("the error holds the secret value: %s", text)
				}
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not say %q", err, tt.wantText)
			}
		})
	}
}

func TestRunReportsEveryBadVariable(t *testing.T) {
	_, err := run(context.Background(), Command{Path: "true", Inject: []Var{
		{Name: "1BAD", Value: secret.FromString("x")},
		{Name: "EMPTY"},
	}}, nil, func() bool { return false })
	for _, want := range []string{`"1BAD"`, "EMPTY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to mention %s", err, want)
		}
	}
}
