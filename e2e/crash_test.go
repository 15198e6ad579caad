package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/cli"
)

// childArgs, when set, makes the test binary run warden with these
// arguments (separated by \x1f) instead of the tests: the crash test needs
// a server in a process of its own to kill.
const childArgs = "E2E_WARDEN_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgs); args != "" {
		os.Exit(cli.Execute(context.Background(), strings.Split(args, "\x1f"), cli.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()}))
	}
	os.Exit(m.Run())
}

// auditWindow bounds how long before the kill a response may have been
// answered and still have no audit record: the records of answered calls
// wait at most one write transaction (a few milliseconds) in the queue.
const auditWindow = 250 * time.Millisecond

// TestAuditSurvivesSIGKILL kills a server with SIGKILL under load and
// checks the audit log afterwards: every call answered more than
// auditWindow before the kill has its record, and the chain verifies. The
// measured gap is logged.
func TestAuditSurvivesSIGKILL(t *testing.T) {
	s := startStack(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = []string{"WARDEN_DATA_DIR=" + s.dataDir, "PATH=" + os.Getenv("PATH"),
		childArgs + "=" + strings.Join([]string{"serve", "--config", s.cfgPath, "--addr", addr}, "\x1f")}
	var logs syncBuffer
	child.Stdout, child.Stderr = &logs, &logs
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = child.Process.Kill(); _ = child.Wait() }()
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child server did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	var mu sync.Mutex
	answered := map[string]time.Time{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("crash-%d-%d", w, i)
				req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`))
				req.Header.Set("Authorization", "Bearer "+s.key)
				req.Header.Set("X-Request-Id", id)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				_, _ = resp.Body.Read(make([]byte, 1))
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					answered[id] = time.Now()
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	killedAt := time.Now()
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	close(stop)
	wg.Wait()

	out := s.warden("", "audit", "export", "--format", "jsonl")
	recorded := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil {
			recorded[rec.RequestID] = true
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(answered) < 50 {
		t.Fatalf("only %d calls were answered before the kill; the test needs load", len(answered))
	}
	missing, oldest := 0, time.Duration(0)
	for id, at := range answered {
		if recorded[id] {
			continue
		}
		missing++
		if age := killedAt.Sub(at); age > oldest {
			oldest = age
		}
	}
	t.Logf("SIGKILL under load: %d calls answered, %d without an audit record, the oldest answered %v before the kill", len(answered), missing, oldest)
	if oldest > auditWindow {
		t.Errorf("a call answered %v before the kill has no audit record; the window is %v", oldest, auditWindow)
	}
	if v := s.warden("", "audit", "verify"); !strings.Contains(v, "ok") {
		t.Errorf("audit verify after the kill: %s", v)
	}
}
