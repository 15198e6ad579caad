package alert_test

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardenproject/warden/internal/monitor/alert"
)

func TestCheck(t *testing.T) {
	if err := sample("alr_1").Check(); err != nil {
		t.Fatalf("a valid alert: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*alert.Alert)
	}{
		{"long id", func(a *alert.Alert) { a.ID = strings.Repeat("a", alert.MaxIDLen+1) }},
		{"long message", func(a *alert.Alert) { a.Message = strings.Repeat("m", alert.MaxMessageLen+1) }},
		{"long text", func(a *alert.Alert) { a.Observed.Text = strings.Repeat("t", alert.MaxTextLen+1) }},
		{"subject without kind", func(a *alert.Alert) { a.Subject.Kind = "" }},
		{"NaN mean", func(a *alert.Alert) { a.Baseline.Mean = math.NaN() }},
		{"no response", func(a *alert.Alert) { a.Response = "" }},
	} {
		a := sample("alr_1")
		tc.edit(&a)
		if err := a.Check(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
	}{
		{"curl/8.4.0", 100, "curl/8.4.0"},
		{"a\x1b[2Jb\r\nc", 100, "a?[2Jb??c"},
		{"bidi\u202eevil", 100, "bidi?evil"},
		{"bad\xffutf8", 100, "bad?utf8"},
		{"héllo", 2, "h"}, // é does not fit in the limit
		{"héllo", 3, "hé"},
	} {
		got := alert.Clean(tc.in, tc.limit)
		if got != tc.want || len(got) > tc.limit || !utf8.ValidString(got) {
			t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := alert.NewID()
		if !strings.HasPrefix(id, "alr_") || len(id) != 30 || strings.ToLower(id) != id || seen[id] {
			t.Fatalf("id %q: want alr_ and 26 lower-case characters, unique", id)
		}
		seen[id] = true
	}
}
