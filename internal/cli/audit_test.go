package cli

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store/sqlite"
)

// writeAudit appends records to the harness's audit log the way a server
// does, with the vault's signing key and a clock reading at, and closes
// the writer (which signs a checkpoint).
func writeAudit(t *testing.T, h *harness, at time.Time, recs ...audit.Record) {
	t.Helper()
	a := &app{io: IO{Environ: h.environ}, env: envMap(h.environ)}
	s, err := a.open(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	signer, err := auditSigner(t.Context(), s.vault)
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.NewWriter(audit.WriterOptions{Store: s.db, Signer: signer, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Log(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func callRecord(i int) audit.Record {
	return audit.Record{
		RequestID: fmt.Sprintf("req-%d", i), Kind: audit.KindCall, Action: "chat.completions",
		KeyID: fmt.Sprintf("key_%d", i%2), Principal: audit.Principal{User: "alice", Team: "ml"},
		Model: "gpt-4o", Status: 200, Latency: 1500 * time.Millisecond, TokensIn: 10, TokensOut: 20, Cost: 1500,
		ClientIP: "192.0.2.1", UserAgent: "=HYPERLINK(\"http://evil\")",
		Verdicts: []audit.Verdict{{Class: "pii", Type: "email", Action: "redact", Count: 1}},
	}
}

func TestAuditCommands(t *testing.T) {
	h := newHarness(t)
	if r := h.must("", "audit", "verify"); r.stdout != "ok: 0 records, 0 checkpoints verified\n" {
		t.Errorf("verify of an empty log printed %q", r.stdout)
	}
	var recs []audit.Record
	for i := 1; i <= 5; i++ {
		recs = append(recs, callRecord(i))
	}
	writeAudit(t, h, time.Now(), recs...)

	t.Run("tail", func(t *testing.T) {
		out := h.must("", "audit", "tail", "-n", "2").stdout
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], " #4 call chat.completions ") || !strings.Contains(lines[1], " #5 ") {
			t.Fatalf("tail -n 2 printed:\n%s", out)
		}
		for _, want := range []string{"status=200", "key=key_1", "user=alice", "cost=$0.0000015", "tokens=10/20",
			"latency=1.5s", "guard=pii/email:redact×1", `agent="=HYPERLINK(\"http://evil\")"`, "request=req-5"} {
			if !strings.Contains(lines[1], want) {
				t.Errorf("tail line lacks %s:\n%s", want, lines[1])
			}
		}
		out = h.must("", "audit", "tail", "--key", "key_0").stdout
		if n := strings.Count(out, "\n"); n != 2 || strings.Contains(out, "key=key_1") {
			t.Errorf("tail --key key_0 printed:\n%s", out)
		}
		out = h.must("", "audit", "tail", "--json", "--kind", "call").stdout
		var seqs []int64
		for line := range strings.Lines(out) {
			var r audit.Record
			decodeStrict(t, line, &r)
			seqs = append(seqs, r.Seq)
		}
		if fmt.Sprint(seqs) != "[1 2 3 4 5]" {
			t.Errorf("tail --json gave seqs %v", seqs)
		}
		if out := h.must("", "audit", "tail", "--kind", "admin").stdout; out != "" {
			t.Errorf("tail --kind admin printed %q", out)
		}
	})

	t.Run("export", func(t *testing.T) {
		out := h.must("", "audit", "export", "--format", "jsonl").stdout
		n := 0
		for line := range strings.Lines(out) {
			var r audit.Record
			decodeStrict(t, line, &r)
			n++
			// An export carries what is needed to check it offline.
			if r.ComputeHash() != r.Hash {
				t.Errorf("exported record %d does not match its hash", r.Seq)
			}
		}
		if n != 5 {
			t.Errorf("export jsonl wrote %d records", n)
		}
		out = h.must("", "audit", "export", "--format", "csv", "--since", "1h", "--key", "key_1").stdout
		rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(auditCSVHeader, ",") {
			t.Fatalf("export csv wrote:\n%s", out)
		}
		col := func(name string) string {
			for i, h := range auditCSVHeader {
				if h == name {
					return rows[1][i]
				}
			}
			t.Fatalf("no column %s", name)
			return ""
		}
		if got := col("user_agent"); got != `'=HYPERLINK("http://evil")` {
			t.Errorf("a formula in a CSV cell came out as %q", got)
		}
		if col("seq") != "1" || col("cost_nano_usd") != "1500" || col("verdicts") != `[{"class":"pii","type":"email","action":"redact","count":1}]` {
			t.Errorf("CSV row: %v", rows[1])
		}
		if out := h.must("", "audit", "export", "--until", "1h").stdout; out != "" {
			t.Errorf("export of records older than an hour printed %q", out)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"audit", "export", "--format", "xml"},
			{"audit", "export", "--since", "yesterday"},
			{"audit", "tail", "--kind", "other"},
			{"audit", "tail", "-n", "0"},
			{"audit", "prune", "--before", ""},
		} {
			if r := h.run("", args...); r.code != 1 || r.stderr == "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
			}
		}
	})

	if r := h.must("", "audit", "verify"); r.stdout != "ok: 5 records, 1 checkpoints verified\n" {
		t.Errorf("verify printed %q", r.stdout)
	}
	tamper(t, h, `UPDATE audit_records SET cost = 1 WHERE seq = 3`)
	r := h.run("", "audit", "verify")
	if r.code != 1 || !strings.Contains(r.stderr, "record 3") || !strings.Contains(r.stderr, "does not match its hash") {
		t.Errorf("verify of a changed log: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// tamper changes the database behind warden's back.
func tamper(t *testing.T, h *harness, stmt string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(h.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), stmt); err != nil {
		t.Fatal(err)
	}
}

func TestAuditPrune(t *testing.T) {
	h := newHarness(t, "USER=operator")
	now := time.Now()
	writeAudit(t, h, now.AddDate(0, 0, -100), callRecord(1), callRecord(2), callRecord(3))
	writeAudit(t, h, now.AddDate(0, 0, -10), callRecord(4), callRecord(5))

	if out := h.must("", "audit", "prune").stdout; !strings.HasPrefix(out, "pruned 3 records") || !strings.Contains(out, "checkpoint at record 3") {
		t.Errorf("prune printed %q", out)
	}
	// The prune is itself in the log, checkpointed.
	out := h.must("", "audit", "tail", "-n", "1").stdout
	if !strings.Contains(out, " #6 cli audit.prune ") || !strings.Contains(out, "target=3") || !strings.Contains(out, "user=operator") {
		t.Errorf("the prune's record: %q", out)
	}
	r := h.must("", "audit", "verify")
	if !strings.HasPrefix(r.stdout, "ok: 3 records, 3 checkpoints verified\n") || !strings.Contains(r.stdout, "starts after the checkpoint at record 3") {
		t.Errorf("verify after prune printed %q", r.stdout)
	}
	if out := h.must("", "audit", "prune", "--before", "30d").stdout; !strings.HasPrefix(out, "nothing to prune") {
		t.Errorf("a second prune printed %q", out)
	}
	if out := h.must("", "audit", "prune", "--before", "1d").stdout; !strings.HasPrefix(out, "pruned 2 records") {
		t.Errorf("prune --before 1d printed %q", out)
	}
	if r := h.must("", "audit", "verify"); !strings.HasPrefix(r.stdout, "ok: 2 records, 3 checkpoints verified\n") {
		t.Errorf("verify after the second prune printed %q", r.stdout)
	}
}

func TestAuditTailFollow(t *testing.T) {
	h := newHarness(t)
	writeAudit(t, h, time.Now(), callRecord(1), callRecord(2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- Execute(ctx, []string{"audit", "tail", "-f", "--key", "key_1"}, IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Environ: h.environ})
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("tail -f never printed %q; it printed:\n%s\nstderr: %s", what, out.String(), errb.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(" #1 ")
	writeAudit(t, h, time.Now(), callRecord(3), callRecord(4), callRecord(5))
	waitFor(" #5 ")
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("tail -f exit %d after interrupt; stderr: %s", code, errb.String())
	}
	got := out.String()
	for _, seq := range []string{" #1 ", " #3 ", " #5 "} {
		if strings.Count(got, seq) != 1 {
			t.Errorf("record%sprinted %d times:\n%s", seq, strings.Count(got, seq), got)
		}
	}
	if strings.Contains(got, "key=key_0") {
		t.Errorf("tail -f --key key_1 printed another key's records:\n%s", got)
	}
}

// TestAuditSigningKey checks the signing key's life: made once, the same
// for every process (even two creating it at once), and never silently
// replaced.
func TestAuditSigningKey(t *testing.T) {
	h := newHarness(t)
	a := &app{io: IO{Environ: h.environ}, env: envMap(h.environ)}
	ctx := context.Background()
	open := func() *session {
		t.Helper()
		s, err := a.open(ctx, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s1, s2 := open(), open()
	if pub, err := auditPublicKey(ctx, s1.vault); err != nil || pub != nil {
		t.Fatalf("public key before any signing = %x, %v; want none", pub, err)
	}
	pubs := make([]ed25519.PublicKey, 2)
	var wg sync.WaitGroup
	for i, s := range []*session{s1, s2} {
		wg.Go(func() {
			signer, err := auditSigner(ctx, s.vault)
			if err != nil {
				t.Error(err)
				return
			}
			pubs[i] = signer.PublicKey()
		})
	}
	wg.Wait()
	if len(pubs[0]) != ed25519.PublicKeySize || !pubs[0].Equal(pubs[1]) {
		t.Fatal("two processes creating the signing key at once got different keys")
	}
	if pub, err := auditPublicKey(ctx, s1.vault); err != nil || !pub.Equal(pubs[0]) {
		t.Fatalf("auditPublicKey = %x, %v; want the signer's", pub, err)
	}
	// A later version set by hand changes nothing; pruning version 1 away
	// is refused rather than papered over with a new key.
	if _, err := s1.vault.Set(ctx, auditKeyName, secret.New(make([]byte, ed25519.SeedSize))); err != nil {
		t.Fatal(err)
	}
	if pub, err := auditPublicKey(ctx, s1.vault); err != nil || !pub.Equal(pubs[0]) {
		t.Fatalf("a second version replaced the signing key (%v)", err)
	}
	if _, err := s1.vault.Prune(ctx, auditKeyName, 1); err != nil {
		t.Fatal(err)
	}
	for name, get := range map[string]func() error{
		"auditSigner":    func() error { _, err := auditSigner(ctx, s1.vault); return err },
		"auditPublicKey": func() error { _, err := auditPublicKey(ctx, s1.vault); return err },
	} {
		if err := get(); err == nil || !strings.Contains(err.Error(), "is gone") {
			t.Errorf("%s after version 1 was pruned = %v", name, err)
		}
	}
}

func TestAuditHelp(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range [][]string{{"audit"}, {"audit", "tail"}, {"audit", "export"}, {"audit", "verify"}, {"audit", "prune"}} {
		r := h.must("", append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Examples:") {
			t.Errorf("%v --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}

// TestCLIChangesAreAudited checks that commands which change state leave
// a record, chained and verifiable, and that reading commands do not.
func TestCLIChangesAreAudited(t *testing.T) {
	h := newHarness(t, "USER=ada")
	h.must("value-of-a-test-secret\n", "secrets", "set", "demo")
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(h.must("", "keys", "create", "--name", "ci", "--json").stdout), &created); err != nil {
		t.Fatal(err)
	}
	h.must("", "keys", "revoke", created.ID)
	h.must("", "keys", "list")
	out := h.must("", "audit", "export", "--format", "jsonl").stdout
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Kind, Action, Target string
			Principal            struct{ User string }
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if rec.Kind != "cli" || rec.Principal.User != "ada" {
			t.Errorf("record %+v", rec)
		}
		actions = append(actions, rec.Action+" "+rec.Target)
	}
	want := []string{"secrets.set demo", "keys.create ", "keys.revoke " + created.ID}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Errorf("audited %q, want %q", actions, want)
	}
	if strings.Contains(out, "value-of-a-test-secret") {
		t.Error("a secret value is in the audit log")
	}
	if v := h.must("", "audit", "verify").stdout; !strings.Contains(v, "ok") {
		t.Errorf("verify: %s", v)
	}
}
