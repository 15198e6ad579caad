package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExecMintKey runs a child with a minted key: the child sees a Warden
// key and Warden's URLs (and no provider key), and the key is revoked when
// the child exits, however it exits.
func TestExecMintKey(t *testing.T) {
	h := newHarness(t) // the generated key file in the data directory
	out := filepath.Join(t.TempDir(), "env")
	script := `printf '%s\n%s\n%s\n%s\n' "$OPENAI_API_KEY" "$ANTHROPIC_API_KEY" "$OPENAI_BASE_URL" "$ANTHROPIC_BASE_URL" > "$0"; `
	idRE := regexp.MustCompile(`minted key (key_[0-9A-Za-z]+)`)
	for _, tc := range []struct {
		name, end string
		code      int
	}{
		{"exit code", "exit 3", 3},
		{"killed by a signal", "kill -KILL $$", 137},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", "exec", "--mint-key", "--models", "gpt-4o-mini", "--budget", "2", "--ttl", "1h",
				"--url", "http://127.0.0.1:9999/", "--", "sh", "-c", script+tc.end, out)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d: %s", r.code, tc.code, r.stderr)
			}
			m := idRE.FindStringSubmatch(r.stderr)
			if m == nil || !strings.Contains(r.stderr, "revoked key "+m[1]) {
				t.Fatalf("stderr does not report minting and revoking: %s", r.stderr)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 4 || !strings.HasPrefix(lines[0], "wdn_") || lines[0] != lines[1] ||
				lines[2] != "http://127.0.0.1:9999/v1" || lines[3] != "http://127.0.0.1:9999" {
				t.Fatalf("child environment %q", lines)
			}
			if strings.Contains(r.stderr+r.stdout, lines[0]) {
				t.Error("the minted key was printed")
			}
			var keys []map[string]any
			if err := json.Unmarshal([]byte(h.must("", "keys", "list", "--json").stdout), &keys); err != nil {
				t.Fatal(err)
			}
			found := false
			for _, k := range keys {
				if k["id"] == m[1] {
					found = true
					if k["state"] != "revoked" {
						t.Errorf("minted key state %v after the child exited, want revoked", k["state"])
					}
				}
			}
			if !found {
				t.Errorf("minted key %s not listed", m[1])
			}
		})
	}
	if r := h.run("", "exec", "--budget", "2", "--", "true"); r.code == 0 || !strings.Contains(r.stderr, "go with --mint-key") {
		t.Errorf("--budget without --mint-key: exit %d %s", r.code, r.stderr)
	}
}
