package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the child program for `warden exec`: with
// childEnv set it checks that the named variable holds the value whose
// SHA-256 is given, without ever printing the value.
const childEnv = "WARDEN_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		name, wantHash, _ := strings.Cut(spec, ":")
		sum := sha256.Sum256([]byte(os.Getenv(name)))
		if hex.EncodeToString(sum[:]) != wantHash {
			fmt.Println("mismatch for", name)
			os.Exit(7)
		}
		// The value must not be on our own command line.
		cmdline, _ := os.ReadFile("/proc/self/cmdline")
		if bytes.Contains(cmdline, []byte(os.Getenv(name))) {
			fmt.Println("value found in argv")
			os.Exit(8)
		}
		fmt.Println("child ok", name)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeProviderKey makes a key shaped like an OpenAI project key, unique to
// this run, so that finding it anywhere means it leaked.
func fakeProviderKey(t *testing.T, prefix string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 48)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return prefix + string(b)
}

// harness runs warden commands in-process against one data directory and
// records every byte they print.
type harness struct {
	t       *testing.T
	dir     string
	environ []string
	mu      sync.Mutex
	outputs []string // every stdout and stderr, except --reveal's stdout
}

func newHarness(t *testing.T, environ ...string) *harness {
	dir := filepath.Join(t.TempDir(), "data")
	base := []string{"WARDEN_DATA_DIR=" + dir, "PATH=" + os.Getenv("PATH")}
	return &harness{t: t, dir: dir, environ: append(base, environ...)}
}

type result struct {
	code           int
	stdout, stderr string
}

func (h *harness) run(stdin string, args ...string) result {
	return h.runCtx(context.Background(), stdin, args...)
}

func (h *harness) runCtx(ctx context.Context, stdin string, args ...string) result {
	h.t.Helper()
	var out, errb syncBuffer
	code := Execute(ctx, args, IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Environ: h.environ})
	r := result{code, out.String(), errb.String()}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !contains(args, "--reveal") {
		h.outputs = append(h.outputs, r.stdout)
	}
	h.outputs = append(h.outputs, r.stderr)
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe for a server goroutine writing logs
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (h *harness) must(stdin string, args ...string) result {
	h.t.Helper()
	r := h.run(stdin, args...)
	if r.code != 0 {
		h.t.Fatalf("warden %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// assertNowhere checks that canary appears in no recorded output and in no
// file under the data directory, in plain, base64 or hex form.
func (h *harness) assertNowhere(canary string) {
	h.t.Helper()
	forms := []string{canary, base64.StdEncoding.EncodeToString([]byte(canary)), hex.EncodeToString([]byte(canary))}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, out := range h.outputs {
		for _, f := range forms {
			if strings.Contains(out, f) {
				h.t.Fatalf("canary found in command output #%d:\n%s", i, out)
			}
		}
	}
	err := filepath.WalkDir(h.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				h.t.Fatalf("canary found in plaintext in %s", path)
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestCanarySecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	setKey := fakeProviderKey(t, "sk-proj-")
	envKey := fakeProviderKey(t, "sk-ant-api03-")
	fromEnvKey := fakeProviderKey(t, "hf_")
	h.environ = append(h.environ, "SOURCE_KEY="+fromEnvKey)

	h.must(setKey+"\n", "secrets", "set", "openai")
	h.must("", "secrets", "set", "hf", "--from-env", "SOURCE_KEY")

	envFile := filepath.Join(t.TempDir(), "app.env")
	content := "# provider keys\nexport ANTHROPIC_API_KEY=\"" + envKey + "\"\nEMPTY=\nBARE\n"
	if err := os.WriteFile(envFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := h.must("", "secrets", "import", envFile)
	if !strings.Contains(imp.stdout, "imported ANTHROPIC_API_KEY") || !strings.Contains(imp.stdout, ".gitignore") {
		t.Fatalf("import report: %s", imp.stdout)
	}
	// Importing the same file again changes nothing.
	again := h.must("", "secrets", "import", envFile)
	if !strings.Contains(again.stdout, "unchanged ANTHROPIC_API_KEY") {
		t.Fatalf("second import: %s", again.stdout)
	}

	list := h.must("", "secrets", "list")
	for _, n := range []string{"openai", "hf", "ANTHROPIC_API_KEY"} {
		if !strings.Contains(list.stdout, n) {
			t.Fatalf("list lacks %s:\n%s", n, list.stdout)
		}
	}
	h.must("", "secrets", "list", "--json")

	// The child receives each value in its environment.
	for _, c := range []struct{ env, ref, val string }{
		{"OPENAI_API_KEY", "secret://openai", setKey},
		{"ANTHROPIC_API_KEY", "secret://ANTHROPIC_API_KEY", envKey},
		{"HF_TOKEN", "secret://hf", fromEnvKey},
	} {
		h.environ = append(h.environ, childEnv+"="+c.env+":"+sha(c.val))
		r := h.run("", "exec", "--env", c.env+"="+c.ref, "--", os.Args[0], "-test.run=^$")
		h.environ = h.environ[:len(h.environ)-1]
		if r.code != 0 || !strings.Contains(r.stdout, "child ok") {
			t.Fatalf("exec %s: exit %d: %s %s", c.env, r.code, r.stdout, r.stderr)
		}
	}
	// --all injects imported secrets under their own names.
	h.environ = append(h.environ, childEnv+"=ANTHROPIC_API_KEY:"+sha(envKey))
	if r := h.run("", "exec", "--all", "--", os.Args[0], "-test.run=^$"); r.code != 0 {
		t.Fatalf("exec --all: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	h.environ = h.environ[:len(h.environ)-1]

	// get without --reveal refuses; with it, prints exactly the value.
	if r := h.run("", "secrets", "get", "openai"); r.code == 0 || !strings.Contains(r.stderr, "--reveal") {
		t.Fatalf("get without --reveal: exit %d, %s", r.code, r.stderr)
	}
	if r := h.must("", "secrets", "get", "openai", "--reveal"); r.stdout != setKey+"\n" {
		t.Fatal("get --reveal did not print the stored value")
	}

	// A server run on the same data directory logs nothing secret either.
	h.serveBriefly()
	h.must("", "doctor")
	h.must("", "secrets", "rotate-master")

	for _, c := range []string{setKey, envKey, fromEnvKey} {
		h.assertNowhere(c)
	}
}

// serveBriefly starts `warden serve` on a free port, waits for /readyz,
// then stops it with a context cancel (as SIGTERM would).
func (h *harness) serveBriefly() {
	h.t.Helper()
	addr := freeAddr(h.t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- h.runCtx(ctx, "", "serve", "--addr", addr) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || body["status"] != "ready" {
				h.t.Fatalf("readyz: %d %v", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			cancel()
			h.t.Fatalf("server did not become ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	r := <-done
	if r.code != 0 {
		h.t.Fatalf("serve exited %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, `"msg"`) {
		h.t.Fatalf("serve did not log JSON: %s", r.stderr)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestExecPassesExitCodeAndRefusesBadSpecs(t *testing.T) {
	h := newHarness(t)
	h.must("v\n", "secrets", "set", "s")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"nothing to inject", []string{"exec", "--", "true"}, 1, "nothing to inject"},
		{"literal value", []string{"exec", "--env", "A=literal", "--", "true"}, 1, "secret://NAME"},
		{"bad var name", []string{"exec", "--env", "1A=secret://s", "--", "true"}, 1, "valid environment variable"},
		{"missing secret", []string{"exec", "--env", "A=secret://nope", "--", "true"}, 1, "not found"},
		{"child exit code", []string{"exec", "--env", "A=secret://s", "--", "sh", "-c", "exit 42"}, 42, ""},
		{"child not found", []string{"exec", "--env", "A=secret://s", "--", "no-such-program-xyz"}, 127, "no-such-program-xyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d (stderr %s)", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("stderr %q lacks %q", r.stderr, tc.msg)
			}
		})
	}
}

func TestWrongMasterKeyCLI(t *testing.T) {
	key := func() string {
		b := make([]byte, 32)
		rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	h := newHarness(t, "WARDEN_MASTER_KEY="+key())
	h.must("value\n", "secrets", "set", "a")
	db := filepath.Join(h.dir, "warden.db")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	h.environ[len(h.environ)-1] = "WARDEN_MASTER_KEY=" + key()
	for _, args := range [][]string{{"secrets", "list"}, {"secrets", "set", "b"}, {"secrets", "rotate-master"}} {
		r := h.run("x\n", args...)
		if r.code == 0 || !strings.Contains(r.stderr, "wrong master key") || !strings.Contains(r.stderr, "master key id") {
			t.Fatalf("%v with wrong key: exit %d, %s", args, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "panic") || strings.Contains(r.stderr, "goroutine") {
			t.Fatalf("%v: panic output: %s", args, r.stderr)
		}
	}
	after, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the database changed after refused commands")
	}
}

func TestImportRefusesWholeFileOnSyntaxError(t *testing.T) {
	h := newHarness(t)
	canary := fakeProviderKey(t, "sk-")
	f := filepath.Join(t.TempDir(), ".env")
	os.WriteFile(f, []byte("GOOD=1\nBAD=\"unterminated "+canary+"\n"), 0o600)
	r := h.run("", "secrets", "import", f)
	if r.code == 0 || !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, "nothing was imported") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, canary) {
		t.Fatal("syntax error echoed the secret value")
	}
	if l := h.must("", "secrets", "list"); strings.Contains(l.stdout, "GOOD") {
		t.Fatal("a refused import stored some entries")
	}
}

func TestDataDirPermissions(t *testing.T) {
	h := newHarness(t)
	h.must("v\n", "secrets", "set", "a")
	fi, err := os.Stat(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %04o, want 0700", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(h.dir)
	if len(entries) == 0 {
		t.Fatal("data dir is empty")
	}
	for _, e := range entries {
		info, _ := e.Info()
		if info.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s has mode %04o", e.Name(), info.Mode().Perm())
		}
	}
}

func TestDoctorFindsProblems(t *testing.T) {
	h := newHarness(t)
	h.must("v\n", "secrets", "set", "a")
	if err := os.Chmod(h.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := h.run("", "doctor")
	if r.code != 1 || !strings.Contains(r.stdout, "chmod 700") {
		t.Fatalf("doctor on a 0755 data dir: exit %d\n%s", r.code, r.stdout)
	}
	os.Chmod(h.dir, 0o700)
	if r := h.run("", "doctor"); r.code != 0 {
		t.Fatalf("doctor after fix: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHelpHasExamples(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range [][]string{{"serve"}, {"secrets", "set"}, {"secrets", "import"}, {"secrets", "rotate-master"}, {"exec"}, {"doctor"}} {
		r := h.must("", append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Examples:") {
			t.Fatalf("%v --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}
