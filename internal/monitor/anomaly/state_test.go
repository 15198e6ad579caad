package anomaly

import (
	"math"
	"net/netip"
	"testing"
)

// TestEWMA checks the baseline against the recurrence written out by hand
// on a short series, and the two properties that matter: a constant
// series has its value as mean and no variance, and the running bucket is
// not a sample until the next bucket starts.
func TestEWMA(t *testing.T) {
	const alpha = 0.5
	xs := []float64{4, 8, 2, 6}
	// By hand: mean 4, var 0; then x=8: diff 4, mean 6, var .5*(0+4*2)=4;
	// x=2: diff -4, mean 4, var .5*(4+(-4)(-2))=6; x=6: diff 2, mean 5,
	// var .5*(6+2*1)=4.
	wantMean, wantVar := 5.0, 4.0
	var r rates
	for i, x := range xs {
		r.add(int64(i), [nMetrics]float64{x}, alpha)
	}
	if r.samples != 3 {
		t.Fatalf("%d samples before the last bucket closes, want 3", r.samples)
	}
	r.add(int64(len(xs)), [nMetrics]float64{}, alpha)
	if r.samples != 4 || r.mean[0] != wantMean || r.vari[0] != wantVar {
		t.Fatalf("samples %d, mean %v, var %v; want 4, %v, %v", r.samples, r.mean[0], r.vari[0], wantMean, wantVar)
	}

	var c rates
	for i := range 100 {
		c.add(int64(i), [nMetrics]float64{7, 700}, 0.05)
	}
	if c.mean[0] != 7 || c.mean[1] != 700 || c.vari[0] != 0 {
		t.Fatalf("constant series: mean %v var %v", c.mean, c.vari)
	}

	// A late event counts in the running bucket, not a past one.
	var l rates
	l.add(10, [nMetrics]float64{1}, alpha)
	l.add(9, [nMetrics]float64{1}, alpha)
	if l.samples != 0 || l.cur[0] != 2 || l.bucket != 10 {
		t.Fatalf("late event: %+v", l)
	}
}

func TestWindow(t *testing.T) {
	const size = 100
	tests := []struct {
		name  string
		times []int64
		want  float64 // estimate after the last
	}{
		{"one window", []int64{0, 10, 20, 99}, 4},
		{"half of the previous window still counts", []int64{10, 20, 30, 40, 150}, 4*0.5 + 1},
		{"a gap forgets", []int64{10, 20, 30, 40, 350}, 1},
		{"late events count now", []int64{150, 120, 50}, 3},
	}
	for _, tc := range tests {
		var w window
		var got float64
		for _, at := range tc.times {
			got = w.add(at+1000*size, size)
		}
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: estimate %v, want %v", tc.name, got, tc.want)
		}
	}
	var w window
	w.add(0, size)
	if !w.fire() || w.fire() {
		t.Error("fire must be true once per window")
	}
	w.add(size, size)
	if !w.fire() {
		t.Error("fire must be true again in the next window")
	}
}

func TestPrefixOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"wdn_", "wdn_"},
		{"wdn_AbCd", "wdn_AbCd"},
		{"wdn_AbCdEfGh0123456789", "wdn_AbCd"},
		{"wdn_\u00e9\u00e9\u00e9", "wdn_\u00e9\u00e9"}, // 4 + 2 + 2 bytes
		{"abcdefg\u00e9", "abcdefg"},                   // the é would straddle the cut
	} {
		if got := prefixOf(tc.in); got != tc.want || len(got) > 8 {
			t.Errorf("prefixOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"192.0.2.1", "192.0.2.254", true},
		{"192.0.2.1", "192.0.3.1", false},
		{"2001:db8:aa::1", "2001:db8:aa:ffff::1", true},
		{"2001:db8:aa::1", "2001:db8:ab::1", false},
		{"0.0.0.1", "::1", false}, // a v4 range is never a v6 range
	} {
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		if got := rangeID(a) == rangeID(b); got != tc.same {
			t.Errorf("%s and %s in one range: %v, want %v", a, b, got, tc.same)
		}
	}
}

func TestRemember(t *testing.T) {
	var set [3]source
	n := 0
	for i, id := range []uint64{1, 2, 3} {
		if remember(set[:], &n, id, int64(i)) {
			t.Fatalf("%d known before it was added", id)
		}
	}
	if !remember(set[:], &n, 1, 10) { // 1 is now the most recent
		t.Fatal("1 forgotten")
	}
	remember(set[:], &n, 4, 11) // evicts 2, the least recently seen
	if remember(set[:], &n, 2, 12) {
		t.Fatal("2 should have been evicted")
	}
	if n != 3 {
		t.Fatalf("set holds %d, want 3", n)
	}
}
