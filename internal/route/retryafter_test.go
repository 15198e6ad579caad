package route

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"  120 ", 2 * time.Minute},
		{"007", 7 * time.Second},
		{"599", 599 * time.Second},
		{"600", MaxRetryAfter},
		{"86400", MaxRetryAfter},
		{"99999999999999999999999999", MaxRetryAfter},
		{"-5", 0},
		{"+5", 0},
		{"1.5", 0},
		{"5s", 0},
		{"soon", 0},
		{"1 2", 0},
		{"Sat, 01 Mar 2025 12:00:30 GMT", 30 * time.Second},
		{"Saturday, 01-Mar-25 12:01:00 GMT", time.Minute},
		{"Sat Mar  1 12:00:05 2025", 5 * time.Second},
		{"Sat, 01 Mar 2025 11:59:00 GMT", 0},
		{"Sat, 01 Mar 2025 12:00:00 GMT", 0},
		{"Sun, 02 Mar 2025 12:00:00 GMT", MaxRetryAfter},
		{"Sat, 01 Mar 2025 12:00:30 PST", 0},
		{"Sat, 01 Mar 2025 25:00:30 GMT", 0},
		{"2025-03-01T12:00:30Z", 0},
	}
	for _, tt := range tests {
		if got := ParseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "600", "-1", "1e3", "99999999999999999999", "Sat, 01 Mar 2025 12:00:30 GMT",
		"Saturday, 01-Mar-25 12:01:00 GMT", "Sat Mar  1 12:00:05 2025", "\t7\n"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := ParseRetryAfter(v, now)
		if d < 0 || d > MaxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", v, d, MaxRetryAfter)
		}
		if d != ParseRetryAfter(v, now) {
			t.Fatalf("ParseRetryAfter(%q) is not deterministic", v)
		}
		trimmed := strings.TrimSpace(v)
		if n, err := strconv.ParseUint(trimmed, 10, 64); err == nil && trimmed[0] != '+' {
			want := min(time.Duration(min(n, 600))*time.Second, MaxRetryAfter)
			if d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, want %v", v, d, want)
			}
		}
	})
}
