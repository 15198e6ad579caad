package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/audit"
	"github.com/wardenproject/warden/internal/keys"
	"github.com/wardenproject/warden/internal/monitor/alert"
)

// page fetches one audit page as caller and returns its request ids and
// cursor (-1 for null).
func (r *rig) auditPage(t *testing.T, as, query string) ([]string, int64) {
	t.Helper()
	rec := r.do(req{method: "GET", path: "/admin/v1/audit?" + query, as: as})
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", as, query, rec.Code, rec.Body.String())
	}
	var p auditPage
	decode(t, rec, &p)
	ids := []string{}
	for _, x := range p.Records {
		ids = append(ids, x.RequestID)
	}
	next := int64(-1)
	if p.NextAfterSeq != nil {
		next = *p.NextAfterSeq
	}
	return ids, next
}

func TestAuditPaging(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		as, query string
		ids       []string
		next      int64
	}{
		{"admin", "limit=2", []string{"a1", "a2"}, 2},
		{"admin", "limit=2&after_seq=2", []string{"a3", "a4"}, 4},
		{"admin", "limit=2&after_seq=4", []string{"a5", "a6"}, -1},
		{"admin", "limit=5", []string{"a1", "a2", "a3", "a4", "a5"}, 5},
		{"admin", "limit=6", allAudit, -1},
		{"admin", "after_seq=6", []string{}, -1},
		{"auditor", "action=key.create", []string{"a4"}, -1},
		{"auditor", "kind=admin&key=" + r.id("admin"), []string{"a4"}, -1},
		{"auditor", "until=2h", []string{"a6"}, -1},
		{"auditor", "since=2026-03-10T10:30:00Z&until=2026-03-10T11:30:00Z", []string{"a1", "a2", "a3", "a4", "a5"}, -1},
		// Pages of a scoped caller hold only what the caller may see,
		// and the cursor skips what they may not.
		{"manager", "limit=2", []string{"a1", "a2"}, 2},
		{"manager", "limit=2&after_seq=2", []string{"a5", "a6"}, -1},
		{"manager", "limit=1&after_seq=2", []string{"a5"}, 5},
		{"user", "limit=1", []string{"a1"}, 1},
		{"user", "limit=1&after_seq=1", []string{"a6"}, -1},
		// A key acting for no user sees what was done with it.
		{"ml-svc", "", []string{"a5"}, -1},
		{"ml-svc", "key=" + r.id("ml-svc"), []string{"a5"}, -1},
	}
	for _, tt := range tests {
		ids, next := r.auditPage(t, tt.as, tt.query)
		if !slices.Equal(ids, tt.ids) || next != tt.next {
			t.Errorf("%s %s: %v next %d, want %v next %d", tt.as, tt.query, ids, next, tt.ids, tt.next)
		}
	}
}

func TestAuditRefusals(t *testing.T) {
	r := newRig(t)
	r.addKey(keys.Spec{Name: "loose", Role: keys.RoleManager})
	tests := []struct {
		as, query string
		status    int
		param     string
	}{
		{"admin", "limit=0", 400, "limit"},
		{"admin", "limit=1001", 400, "limit"},
		{"admin", "limit=x", 400, "limit"},
		{"admin", "after_seq=-1", 400, "after_seq"},
		{"admin", "after_seq=1.5", 400, "after_seq"},
		{"admin", "since=yesterday", 400, "since"},
		{"admin", "until=-1h", 400, "until"},
		{"admin", "since=1h&until=2h", 400, ""},
		{"admin", "kind=login", 400, "kind"},
		{"admin", "team=ml", 400, "team"},
		{"admin", "kind=call&kind=admin", 400, "kind"},
		{"ml-svc", "key=" + r.id("user"), 403, ""},
		{"loose", "", 403, ""},
	}
	for _, tt := range tests {
		rec := r.do(req{method: "GET", path: "/admin/v1/audit?" + tt.query, as: tt.as})
		if rec.Code != tt.status {
			t.Errorf("%s %s: %d %s", tt.as, tt.query, rec.Code, rec.Body.String())
			continue
		}
		if e := errorOf(t, rec); deref(e.Error.Param) != tt.param {
			t.Errorf("%s %s: param %q, want %q: %s", tt.as, tt.query, deref(e.Error.Param), tt.param, rec.Body.String())
		}
	}
}

// TestAuditScanBudget checks that a scoped caller's page stops after the
// scan budget with a cursor that goes on, rather than reading the whole
// log in one request, and that following the cursor finds the rest.
func TestAuditScanBudget(t *testing.T) {
	r := newRig(t)
	other := make([]audit.Record, auditScanBudget+500)
	for i := range other {
		other[i] = audit.Record{Time: t0, RequestID: fmt.Sprintf("ops-%d", i), Kind: audit.KindCall, Action: "chat.completions",
			KeyID: r.id("ops-user"), Principal: audit.Principal{User: "oscar", Team: "ops", Role: "user"}}
	}
	r.appendAudit(other...)
	r.appendAudit(audit.Record{Time: t0, RequestID: "late", Kind: audit.KindCall, Action: "chat.completions",
		KeyID: r.id("user"), Principal: audit.Principal{User: "uma", Team: "ml", Role: "user"}})

	ids, next := r.auditPage(t, "manager", "after_seq=6")
	if len(ids) != 0 || next != 6+auditScanBudget {
		t.Fatalf("first page: %v next %d, want none next %d", ids, next, 6+auditScanBudget)
	}
	ids, next = r.auditPage(t, "manager", fmt.Sprintf("after_seq=%d", next))
	if !slices.Equal(ids, []string{"late"}) || next != -1 {
		t.Fatalf("second page: %v next %d", ids, next)
	}
	// Callers who see everything get full pages.
	ids, next = r.auditPage(t, "auditor", "after_seq=6&limit=1000")
	if len(ids) != 1000 || next != 1006 {
		t.Fatalf("auditor: %d records next %d", len(ids), next)
	}
}

// TestAuditRecordShape checks the record as served: hashes in hex, the
// chain visible, verdicts a list even when empty.
func TestAuditRecordShape(t *testing.T) {
	r := newRig(t)
	rec := r.do(req{method: "GET", path: "/admin/v1/audit?limit=2", as: "auditor"})
	var p auditPage
	decode(t, rec, &p)
	if len(p.Records) != 2 || p.Records[1].PrevHash != p.Records[0].Hash || p.Records[0].Hash.IsZero() ||
		!p.Records[0].PrevHash.IsZero() || p.Records[0].Hash != p.Records[0].ComputeHash() {
		t.Fatalf("records do not chain: %s", rec.Body.String())
	}
	body := rec.Body.String()
	if strings.Contains(body, `"verdicts":null`) || !strings.Contains(body, `"verdicts":[]`) ||
		!strings.Contains(body, `"hash":"`+p.Records[0].Hash.String()+`"`) {
		t.Errorf("record shape: %s", body)
	}
}

func TestAlerts(t *testing.T) {
	r := newRig(t)
	r.addKey(keys.Spec{Name: "loose", Role: keys.RoleManager})
	// Another team's alerts, newer than the manager's, must not push
	// theirs out of the page.
	for i := range 150 {
		r.saveAlert(alert.Alert{ID: fmt.Sprintf("ops-%03d", i), Subject: alert.Subject{Kind: alert.SubjectTeam, ID: "ops"}},
			t0.Add(-time.Minute))
	}
	r.saveAlert(alert.Alert{ID: "old", Subject: alert.Subject{Kind: alert.SubjectTeam, ID: "ml"}}, t0.Add(-48*time.Hour))
	tests := []struct {
		as, query string
		status    int
		ids       []string // nil: only the count is checked
		count     int
	}{
		{as: "admin", query: "", status: 200, count: 100},
		{as: "admin", query: "limit=1000", status: 200, count: 156},
		// Newest first; at one time, by id, descending.
		{as: "auditor", query: "since=30m&limit=3", status: 200, ids: []string{"ops-149", "ops-148", "ops-147"}},
		{as: "auditor", query: "since=2h&limit=157", status: 200, count: 155},
		{as: "auditor", query: "since=2026-03-10T12:00:00Z", status: 200, ids: []string{}},
		{as: "manager", query: "", status: 200, ids: []string{"uma-key", "ml-team", "old"}},
		{as: "manager", query: "since=1d", status: 200, ids: []string{"uma-key", "ml-team"}},
		{as: "manager", query: "limit=1", status: 200, ids: []string{"uma-key"}},
		{as: "loose", query: "", status: 403},
		{as: "user", query: "", status: 403},
		{as: "admin", query: "limit=0", status: 400},
		{as: "admin", query: "since=soon", status: 400},
		{as: "admin", query: "until=1h", status: 400},
	}
	for _, tt := range tests {
		rec := r.do(req{method: "GET", path: "/admin/v1/alerts?" + tt.query, as: tt.as})
		if rec.Code != tt.status {
			t.Errorf("%s %s: %d %s", tt.as, tt.query, rec.Code, rec.Body.String())
			continue
		}
		if rec.Code != 200 {
			continue
		}
		var l list[alert.Alert]
		decode(t, rec, &l)
		var ids []string
		for _, a := range l.Data {
			ids = append(ids, a.ID)
		}
		if tt.ids != nil && !slices.Equal(orEmpty(ids), tt.ids) || tt.ids == nil && len(ids) != tt.count {
			t.Errorf("%s %s: %v", tt.as, tt.query, ids)
		}
	}
}
