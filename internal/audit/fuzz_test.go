package audit

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// FuzzCanonicalRoundTrip builds records from fuzzed values and checks
// that, once normalized as the writer does, each encodes to a form that
// decodes to the same record and encodes again to the same bytes.
func FuzzCanonicalRoundTrip(f *testing.F) {
	for _, g := range goldenRecords {
		r := g.rec
		var vClass, vType string
		var vCount int64
		if len(r.Verdicts) > 0 {
			vClass, vType, vCount = r.Verdicts[0].Class, r.Verdicts[0].Type, r.Verdicts[0].Count
		}
		f.Add(r.Seq, r.Time.UnixNano(), r.Action, r.UserAgent, r.Payload, r.Target, int64(r.Status), r.Cost, vClass, vType, vCount)
	}
	f.Add(int64(-1), int64(-1<<63), "\x00", "\xff", "\"\\", "\u2028", int64(-5), int64(-1<<63), "", "\x7f", int64(1<<62))
	f.Fuzz(func(t *testing.T, seq, nanos int64, action, ua, payload, target string, status, cost int64, vClass, vType string, vCount int64) {
		r := Record{
			Seq: seq, PrevHash: Hash{0: byte(seq), 31: byte(cost)}, Time: time.Unix(0, nanos),
			RequestID: action + ua, Kind: Kind(vType), Action: action, Principal: Principal{User: ua, Team: target, Role: vClass},
			KeyID: target, ClientIP: payload, UserAgent: ua, Route: target, Model: vClass, Provider: vType, Deployment: action,
			Status: int(status), Reason: payload, Latency: time.Duration(cost), TokensIn: status, TokensOut: vCount,
			Cost: cost, Retries: int(vCount), Fallbacks: int(status), Target: target, Payload: payload,
		}
		if vClass != "" || vType != "" || vCount != 0 {
			r.Verdicts = []Verdict{{Class: vClass, Type: vType, Action: action, Count: vCount}, {Class: ua}}
		}
		r.normalize()
		enc := AppendCanonical(nil, &r)
		got, err := DecodeCanonical(enc)
		if err != nil {
			t.Fatalf("DecodeCanonical(%s): %v", enc, err)
		}
		if got.Hash != r.ComputeHash() {
			t.Fatalf("decoded hash %s, want %s", got.Hash, r.ComputeHash())
		}
		got.Hash = Hash{}
		if !got.Time.Equal(r.Time) {
			t.Fatalf("time %v decodes as %v", r.Time, got.Time)
		}
		got.Time = r.Time
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("round trip of\n  %+v\ngave\n  %+v", r, got)
		}
		if again := AppendCanonical(nil, &got); !bytes.Equal(again, enc) {
			t.Fatalf("encoding again gave\n  %s\nwant\n  %s", again, enc)
		}
	})
}

// FuzzDecodeCanonical feeds DecodeCanonical arbitrary bytes: whatever it
// accepts must be exactly the canonical encoding of what it returns, so
// that no two encodings share a record.
func FuzzDecodeCanonical(f *testing.F) {
	for _, g := range goldenRecords {
		r := g.rec
		r.normalize()
		f.Add(AppendCanonical(nil, &r))
	}
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeCanonical(b)
		if err != nil {
			return
		}
		if enc := AppendCanonical(nil, &r); !bytes.Equal(enc, b) {
			t.Fatalf("accepted\n  %q\nwhich encodes back as\n  %q", b, enc)
		}
		if r.Hash != r.ComputeHash() {
			t.Fatalf("decoded hash does not match the record")
		}
	})
}
