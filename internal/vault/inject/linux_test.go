//go:build linux

package inject

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/wardenproject/warden/internal/secret"
)

// TestRunCanaryOnlyInEnvironment plants a fake secret and has the child
// look for it in its own /proc files: it must be in the environment block
// and nowhere in argv, which any local user can read.
func TestRunCanaryOnlyInEnvironment(t *testing.T) {
	canary := newCanary()
	c := helperCommand(t, "cmdline", "OPENAI_API_KEY")
	c.Inject = []Var{{Name: "OPENAI_API_KEY", Value: secret.FromString(canary)}}
	r := start(c, runWith(context.Background(), nil, false))
	r.expect(t, "cmdline has canary: false")
	r.expect(t, "environ has canary: true") // the probe works
	res := r.wait()
	if res.code != 0 || res.err != nil {
		t.Fatalf("run = %d, %v", res.code, res.err)
	}
	if out := r.stdout.String() + r.stderr.String(); strings.Contains(out, canary) {
		t.Errorf("the canary reached the child's output: %s", out)
	}
}

// openPTY returns a new pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	ioctl := func(req uintptr, arg unsafe.Pointer) {
		t.Helper()
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), req, uintptr(arg)); errno != 0 {
			t.Fatalf("ioctl %#x on the pty: %v", req, errno)
		}
	}
	var unlock int32
	ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock))
	var n uint32
	ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n))
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pty's terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// helperProcess starts the test binary as a helper directly (not through
// Run), for tests that need it in a session of its own.
func helperProcess(t *testing.T, attr *syscall.SysProcAttr, stdin *os.File, args ...string) (*exec.Cmd, *lines, *lines) {
	t.Helper()
	hc := helperCommand(t, args...)
	stdout, stderr := newLines(), newLines()
	cmd := exec.Command(hc.Path, hc.Args[1:]...)
	cmd.Env, cmd.SysProcAttr, cmd.Stdin, cmd.Stdout, cmd.Stderr = hc.Env, attr, stdin, stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, stderr
}

func TestInForeground(t *testing.T) {
	_, slave := openPTY(t)
	tests := []struct {
		name  string
		attr  *syscall.SysProcAttr
		stdin *os.File
		want  string
	}{
		// A new session that takes the pty as its controlling terminal
		// is that terminal's foreground group.
		{"foreground of its terminal", &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, slave, "foreground true"},
		{"no controlling terminal", &syscall.SysProcAttr{Setsid: true}, nil, "foreground false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, stdout, stderr := helperProcess(t, tt.attr, tt.stdin, "foreground")
			if err := cmd.Wait(); err != nil {
				t.Fatalf("helper: %v; stderr %s", err, stderr)
			}
			if got := stdout.String(); got != tt.want {
				t.Errorf("helper says %q; want %q", got, tt.want)
			}
		})
	}
}

// TestRunCtrlCReachesChildOnce is the end-to-end case for not forwarding
// keyboard signals: a helper plays Warden in the foreground of a pty and
// runs a child; Ctrl-C typed on the pty must reach the child exactly once.
func TestRunCtrlCReachesChildOnce(t *testing.T) {
	master, slave := openPTY(t)
	warden, stdout, stderr := helperProcess(t, &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}, slave, "wrap-signals")
	next := func(want string) {
		t.Helper()
		if got := <-stdout.c; got != want {
			t.Fatalf("got %q; want %q (stderr: %s)", got, want, stderr)
		}
	}
	next("foreground true") // from Warden
	next("ready")           // from the child

	if _, err := master.Write([]byte{0x03}); err != nil { // Ctrl-C
		t.Fatal(err)
	}
	next("signal 2")
	// SIGTERM to Warden alone, which forwards it. Warden handles the
	// terminal's SIGINT before this one (pending signals are delivered
	// lowest number first), so a forwarded SIGINT would reach the child
	// before the SIGTERM and show up as a second "signal 2".
	if err := warden.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("signal 15")
	if err := warden.Wait(); err != nil {
		t.Fatalf("warden: %v; stderr %s", err, stderr)
	}
	if got, want := stdout.String(), "foreground true\nready\nsignal 2\nsignal 15"; got != want {
		t.Errorf("output %q; want %q", got, want)
	}
}
