package sqlite

import (
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/alert/alerttest"
)

func TestAlertStoreConformance(t *testing.T) {
	alerttest.RunStore(t, func(t *testing.T) alert.Store {
		return openTest(t, t.TempDir())
	})
}

// TestAlertSchemaChecks writes around SaveAlert: the table itself refuses
// rows the application would never write, so that a bug elsewhere cannot
// store an alert nobody can read back.
func TestAlertSchemaChecks(t *testing.T) {
	db := openTest(t, t.TempDir())
	const insert = `INSERT INTO alerts (id, at, rule, severity, subject_kind, subject, message, observed_metric,
		observed_value, observed_text, baseline_mean, baseline_stddev, baseline_samples, response)
		VALUES (?, 0, ?, ?, 'key', 'key_a', '', '', 0, '', 0, 0, ?, ?)`
	for _, tc := range []struct {
		name               string
		id, rule, severity string
		samples            int64
		response           string
		ok                 bool
	}{
		{"valid", "alr_1", "r", "info", 0, "alert", true},
		{"empty id", "", "r", "info", 0, "alert", false},
		{"empty rule", "alr_2", "", "info", 0, "alert", false},
		{"unknown severity", "alr_3", "r", "loud", 0, "alert", false},
		{"negative samples", "alr_4", "r", "info", -1, "alert", false},
		{"unknown response", "alr_5", "r", "info", 0, "ignore", false},
	} {
		_, err := db.writer.ExecContext(t.Context(), insert, tc.id, tc.rule, tc.severity, tc.samples, tc.response)
		if (err == nil) != tc.ok {
			t.Errorf("%s: insert error %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestAlertAckSurvivesReopen checks that an acknowledgement is on disk,
// not in a cache.
func TestAlertAckSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	a := alert.Alert{ID: "alr_x", Time: at, Rule: "new_ip_range", Severity: alert.Warning,
		Subject: alert.Subject{Kind: alert.SubjectKey, ID: "key_x"}, Message: "m", Response: alert.ResponseAlert}
	if err := db.SaveAlert(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := db.AckAlert(t.Context(), "alr_x", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	got, err := db.ListAlerts(t.Context(), at, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].AckedAt.Equal(at.Add(time.Minute)) {
		t.Fatalf("after reopen: %+v", got)
	}
}
