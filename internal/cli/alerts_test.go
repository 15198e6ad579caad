package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/store/sqlite"
)

// seedAlerts stores alerts in the harness's data directory as serve would.
func seedAlerts(t *testing.T, h *harness, list ...alert.Alert) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), h.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, a := range list {
		if err := db.SaveAlert(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
}

func cliAlert(id string, at time.Time, msg string) alert.Alert {
	return alert.Alert{ID: id, Time: at, Rule: "new_user_agent", Severity: alert.Info,
		Subject: alert.Subject{Kind: alert.SubjectKey, ID: "key_abc"}, Message: msg,
		Observed: alert.Observation{Metric: "user_agent", Text: "curl/8.4.0"}, Response: alert.ResponseAlert}
}

func TestAlertsListAndAck(t *testing.T) {
	h := newHarness(t)
	if r := h.must("", "alerts", "list"); !strings.Contains(r.stdout, "No alerts") {
		t.Fatalf("empty list: %q", r.stdout)
	}
	now := time.Now()
	seedAlerts(t, h,
		cliAlert("alr_recent", now.Add(-2*time.Hour), "key key_abc was used with a new agent\x1b[2J\ttabbed"),
		cliAlert("alr_newest", now.Add(-time.Hour), "newest"),
		cliAlert("alr_old", now.Add(-30*time.Hour), "old"),
	)

	r := h.must("", "alerts", "list")
	if !strings.Contains(r.stdout, "alr_recent") || strings.Contains(r.stdout, "alr_old") {
		t.Fatalf("default list (24h):\n%s", r.stdout)
	}
	if strings.Index(r.stdout, "alr_newest") > strings.Index(r.stdout, "alr_recent") {
		t.Errorf("not newest first:\n%s", r.stdout)
	}
	if strings.ContainsAny(r.stdout, "\x1b") || !strings.Contains(r.stdout, "new agent?[2J?tabbed") {
		t.Errorf("control characters reached the terminal:\n%q", r.stdout)
	}
	if r := h.must("", "alerts", "list", "--since", "48h"); !strings.Contains(r.stdout, "alr_old") {
		t.Fatalf("--since 48h:\n%s", r.stdout)
	}

	if r := h.must("", "alerts", "ack", "alr_recent"); !strings.Contains(r.stdout, "Acknowledged alert alr_recent") {
		t.Fatalf("ack: %q", r.stdout)
	}
	var listed []alert.Alert
	if err := json.Unmarshal([]byte(h.must("", "alerts", "list", "--json", "--limit", "5").stdout), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 2 {
		t.Fatalf("--json listed %d alerts, want 2", len(listed))
	}
	for _, a := range listed {
		if (a.ID == "alr_recent") == a.AckedAt.IsZero() {
			t.Errorf("%s acked at %v", a.ID, a.AckedAt)
		}
		if a.Subject.ID != "key_abc" || a.Observed.Text != "curl/8.4.0" {
			t.Errorf("JSON lost fields: %+v", a)
		}
	}
	if r := h.must("", "alerts", "list", "--json", "--since", "1m"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("empty --json list: %q", r.stdout)
	}
}

func TestAlertsCommandErrors(t *testing.T) {
	h := newHarness(t)
	canary := fakeProviderKey(t, keys.Prefix)
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"unknown id", []string{"alerts", "ack", "alr_missing"}, "no alert alr_missing"},
		{"key instead of id", []string{"alerts", "ack", canary}, "not an alert id"},
		{"no id", []string{"alerts", "ack"}, "accepts 1 arg"},
		{"bad since", []string{"alerts", "list", "--since", "yesterday"}, "RFC 3339"},
		{"bad limit", []string{"alerts", "list", "--limit", "0"}, "--limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.run("", tc.args...)
			if r.code == 0 || !strings.Contains(r.stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want a failure mentioning %q", r.code, r.stderr, tc.msg)
			}
		})
	}
	h.assertNowhere(canary)
	for _, cmd := range [][]string{{"alerts"}, {"alerts", "list"}, {"alerts", "ack"}} {
		if r := h.must("", append(cmd, "--help")...); !strings.Contains(r.stdout, "Examples:") {
			t.Fatalf("%v --help has no examples:\n%s", cmd, r.stdout)
		}
	}
}
