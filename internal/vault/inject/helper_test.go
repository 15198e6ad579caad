//go:build unix

package inject

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv, when set, makes the test binary act as the child process
// (the re-exec helper pattern): TestMain runs the mode named in its
// arguments instead of the tests.
const helperEnv = "WARDEN_INJECT_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "" {
		os.Exit(m.Run())
	}
	os.Exit(helperMain(os.Args[1:]))
}

// helperMain is the child. Its modes:
//
//	env NAME...      print NAME=value (or "NAME unset") for each name
//	exit N           exit with code N
//	kill N           die of signal N
//	signals          print "signal N" for every forwarded signal; exit 0 on SIGTERM
//	sleep            block until killed
//	graceful N       on SIGTERM print "terminated" and exit with code N
//	ignore-term      ignore SIGTERM and block
//	cmdline NAME     report whether NAME's value is in our argv / environment
//	foreground       print whether inForeground() holds
//	wrap-signals     act as Warden: Run "signals" and exit with its code
//
// Modes that wait for signals print "ready" once their handlers are set.
func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "helper: no mode")
		return 2
	}
	mode, rest := args[0], args[1:]
	switch mode {
	case "env":
		for _, name := range rest {
			if v, ok := os.LookupEnv(name); ok {
				fmt.Printf("%s=%s\n", name, v)
			} else {
				fmt.Printf("%s unset\n", name)
			}
		}
		return 0
	case "exit":
		n, _ := strconv.Atoi(rest[0])
		return n
	case "kill":
		n, _ := strconv.Atoi(rest[0])
		signal.Reset()
		syscall.Kill(os.Getpid(), syscall.Signal(n))
		for {
			time.Sleep(time.Hour) // the signal ends us
		}
	case "signals":
		sigs := make(chan os.Signal, 16)
		signal.Notify(sigs, forwardedSignals...)
		fmt.Println("ready")
		for s := range sigs {
			fmt.Println("signal", int(s.(syscall.Signal)))
			if s == syscall.SIGTERM {
				return 0
			}
		}
	case "sleep":
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	case "graceful":
		n, _ := strconv.Atoi(rest[0])
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Println("ready")
		<-sigs
		fmt.Println("terminated")
		return n
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		for {
			time.Sleep(time.Hour)
		}
	case "cmdline":
		canary := []byte(os.Getenv(rest[0]))
		for _, f := range []string{"cmdline", "environ"} {
			b, err := os.ReadFile("/proc/self/" + f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			// Print only a verdict, never the canary itself.
			fmt.Printf("%s has canary: %t\n", f, len(canary) > 0 && bytes.Contains(b, canary))
		}
		return 0
	case "foreground":
		fmt.Println("foreground", inForeground())
		return 0
	case "wrap-signals":
		fmt.Println("foreground", inForeground())
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		code, err := Run(context.Background(), Command{
			Path: exe, Args: []string{"helper", "signals"},
			Env:    os.Environ(),
			Stdout: os.Stdout, Stderr: os.Stderr,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return code
	}
	fmt.Fprintln(os.Stderr, "helper: unknown mode", mode)
	return 2
}

// helperCommand returns a Command that runs the test binary as the helper
// in the given mode. Args[0] is deliberately not the path, as a user's
// command name would not be.
func helperCommand(t *testing.T, args ...string) Command {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Command{
		Path: exe,
		Args: append([]string{"helper"}, args...),
		// Under -race the helper would otherwise sleep a second at exit
		// waiting for late race reports; it has no goroutines of note.
		Env: []string{helperEnv + "=1", "GORACE=atexit_sleep_ms=0"},
	}
}

// lines collects what a child writes, line by line.
type lines struct {
	mu  sync.Mutex
	buf []byte
	all []string
	c   chan string
}

func newLines() *lines { return &lines{c: make(chan string, 64)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.buf[:i])
		l.buf = l.buf[i+1:]
		l.all = append(l.all, line)
		l.c <- line
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n") + string(l.buf)
}

// result is what run or Run returned.
type result struct {
	code int
	err  error
}

// running is a child started by start.
type running struct {
	stdout *lines
	stderr *lines
	done   chan result
}

// start runs c in the background through runFn and returns at once.
func start(c Command, runFn func(Command) (int, error)) *running {
	r := &running{stdout: newLines(), stderr: newLines(), done: make(chan result, 1)}
	c.Stdout, c.Stderr = r.stdout, r.stderr
	go func() {
		code, err := runFn(c)
		r.done <- result{code, err}
	}()
	return r
}

// expect waits for the child's next line and fails unless it is want. If
// the child ends first, it fails with the child's output.
func (r *running) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-r.stdout.c:
		if got != want {
			t.Fatalf("child wrote %q; want %q (stderr: %s)", got, want, r.stderr)
		}
	case res := <-r.done:
		r.done <- res
		// Output may still be queued behind the exit.
		select {
		case got := <-r.stdout.c:
			if got == want {
				return
			}
			t.Fatalf("child wrote %q; want %q (stderr: %s)", got, want, r.stderr)
		default:
		}
		t.Fatalf("child exited (%d, %v) before writing %q; stdout %q, stderr %q", res.code, res.err, want, r.stdout, r.stderr)
	}
}

// wait returns the child's result.
func (r *running) wait() result {
	res := <-r.done
	r.done <- res
	return res
}
