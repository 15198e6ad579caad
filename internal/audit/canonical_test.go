package audit

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current code")

// goldenRecords are the records of testdata/canonical.golden. Their
// encodings and hashes must never change: every stored log depends on
// them.
var goldenRecords = []struct {
	name string
	rec  Record
}{
	{"zero values", Record{Seq: 1, Time: time.Unix(0, 0), Kind: KindSystem, Action: "startup"}},
	{"every field", Record{
		Seq: 42, PrevHash: Hash{0: 0xde, 1: 0xad, 31: 0x01},
		Time:      time.Date(2026, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)),
		RequestID: "req-01HZX", Kind: KindCall, Action: "chat.completions",
		Principal: Principal{User: "alice", Team: "ml", Role: "admin"},
		KeyID:     "key_3xY9aBcDeFgHiJkL", ClientIP: "2001:db8::1", UserAgent: "OpenAI/Python 1.40.0",
		Route: "/v1/chat/completions", Model: "gpt-4o", Provider: "openai", Deployment: "openai-eu",
		Status: 200, Latency: 1500 * time.Millisecond, TokensIn: 1234, TokensOut: 567, Cost: 9223372036854775807,
		Verdicts: []Verdict{
			{Class: "pii", Type: "email", Action: "redact", Count: 2},
			{Class: "secret", Type: "aws-key", Action: "block", Count: 1},
		},
		Retries: 1, Fallbacks: 2, Target: "", Payload: `{"messages":[{"role":"user","content":"[EMAIL]"}]}`,
	}},
	{"admin action with a refusal", Record{
		Seq: 7, Time: time.Date(2026, 1, 31, 23, 59, 59, 100000000, time.UTC), RequestID: "req-2", Kind: KindAdmin,
		Action: "key.revoke", Principal: Principal{User: "bob", Role: "manager"}, Target: "key_abc", Status: 403,
		Reason: "permission_denied", ClientIP: "192.0.2.10",
	}},
	{"awkward strings", Record{
		Seq: 3, Time: time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), Kind: KindCLI, Action: "secret.set",
		UserAgent: "quote\" backslash\\ slash/ tab\t nl\n cr\r bs\b ff\f nul\x00 us\x1f del\x7f",
		Target:    "ünïcödé ✓ 𝄞 \u2028\u2029 <>&",
		Payload:   "invalid \xff\xfe utf-8",
	}},
}

func TestCanonicalGolden(t *testing.T) {
	var b strings.Builder
	for _, g := range goldenRecords {
		r := g.rec
		fmt.Fprintf(&b, "# %s\n%s\nsha256 %s\n\n", g.name, AppendCanonical(nil, &r), r.ComputeHash())
	}
	cp := Checkpoint{Seq: 1000, Hash: Hash{0: 0xab, 31: 0xcd}, Time: time.Date(2026, 3, 1, 10, 1, 0, 0, time.FixedZone("CET", 3600))}
	fmt.Fprintf(&b, "# checkpoint message\n%s\n", CheckpointMessage(&cp))
	compareGolden(t, "canonical.golden", b.String())
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s changed; the canonical encoding must never change for existing records.\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestCanonicalForm checks the rules the golden file cannot: that every
// field of a record's JSON form but hash is encoded, under its JSON key,
// with keys sorted at every level, and that the encoding is JSON that
// decodes to the same record.
func TestCanonicalForm(t *testing.T) {
	for _, g := range goldenRecords {
		t.Run(g.name, func(t *testing.T) {
			r := g.rec
			r.normalize()
			enc := AppendCanonical(nil, &r)
			if !json.Valid(enc) {
				t.Fatalf("not JSON: %s", enc)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, enc); err != nil || !bytes.Equal(compact.Bytes(), enc) {
				t.Errorf("whitespace outside strings: %s", enc)
			}
			checkSortedKeys(t, json.RawMessage(enc))

			// The JSON form has the same keys, plus hash.
			full, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			wantKeys := keyPaths(t, full, "")
			wantKeys = slices.DeleteFunc(wantKeys, func(k string) bool { return k == "hash" })
			if got := keyPaths(t, enc, ""); !slices.Equal(got, wantKeys) {
				t.Errorf("canonical keys\n  %v\nJSON form keys\n  %v", got, wantKeys)
			}

			var back Record
			if err := json.Unmarshal(enc, &back); err != nil {
				t.Fatal(err)
			}
			if len(back.Verdicts) == 0 {
				back.Verdicts = nil
			}
			if !back.Time.Equal(r.Time) {
				t.Errorf("time decodes as %v, want %v", back.Time, r.Time)
			}
			back.Time = r.Time
			if !reflect.DeepEqual(back, r) {
				t.Errorf("encoding decodes with encoding/json to\n  %+v\nwant\n  %+v", back, r)
			}
		})
	}
}

// checkSortedKeys fails if any object in raw has keys out of byte order.
func checkSortedKeys(t *testing.T, raw json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	var stack [][]string // keys seen in each open object; nil for arrays
	expectKey := []bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, []string{})
				expectKey = append(expectKey, true)
			case '[':
				stack = append(stack, nil)
				expectKey = append(expectKey, false)
			default:
				stack = stack[:len(stack)-1]
				expectKey = expectKey[:len(expectKey)-1]
				if n := len(expectKey); n > 0 && stack[n-1] != nil {
					expectKey[n-1] = true
				}
			}
			continue
		case string:
			if n := len(stack); n > 0 && stack[n-1] != nil && expectKey[n-1] {
				keys := stack[n-1]
				if len(keys) > 0 && keys[len(keys)-1] >= v {
					t.Errorf("key %q follows %q: keys must be in ascending byte order", v, keys[len(keys)-1])
				}
				stack[n-1] = append(keys, v)
				expectKey[n-1] = false
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1] != nil {
			expectKey[n-1] = true
		}
	}
}

// keyPaths lists the keys of a JSON document as dotted paths, sorted;
// array elements share the path of their array.
func keyPaths(t *testing.T, raw []byte, prefix string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any, prefix string)
	walk = func(v any, prefix string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				out = append(out, prefix+k)
				walk(x, prefix+k+".")
			}
		case []any:
			for _, x := range v {
				walk(x, prefix)
			}
		}
	}
	walk(v, prefix)
	slices.Sort(out)
	return slices.Compact(out)
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`"\`, `"\"\\"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f/<>&", "\"\x7f/<>&\""},
		{"é✓𝄞\u2028", "\"é✓𝄞\u2028\""},
		{"a\xffb", "\"a\uFFFDb\""},
		{"\xe2\x82", "\"\uFFFD\uFFFD\""}, // a cut-off sequence: one U+FFFD per byte
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""},
	}
	for _, tc := range tests {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// normalize replaces invalid bytes as appendString does, so that a
	// stored record reads back as it was hashed.
	for in, want := range map[string]string{"ok é": "ok é", "a\xffb": "a\uFFFDb", "\xe2\x82": "\uFFFD\uFFFD", "\xed\xa0\x80": "\uFFFD\uFFFD\uFFFD"} {
		if got := validUTF8(in); got != want {
			t.Errorf("validUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeCanonicalRefusesOtherForms(t *testing.T) {
	r := goldenRecords[1].rec
	r.normalize()
	good := string(AppendCanonical(nil, &r))
	zero := goldenRecords[0].rec
	zero.normalize()
	empty := string(AppendCanonical(nil, &zero))
	for _, enc := range []string{good, empty} {
		if _, err := DecodeCanonical([]byte(enc)); err != nil {
			t.Fatalf("the canonical form itself: %v", err)
		}
	}
	tests := []struct{ name, in string }{
		{"whitespace", strings.Replace(good, `,"client_ip"`, `, "client_ip"`, 1)},
		{"trailing newline", good + "\n"},
		{"trailing data", good + "{}"},
		{"keys out of order", strings.Replace(good, `{"action":"chat.completions","client_ip":"2001:db8::1"`, `{"client_ip":"2001:db8::1","action":"chat.completions"`, 1)},
		{"missing key", strings.Replace(good, `"target":"",`, "", 1)},
		{"extra key", strings.Replace(good, `{"action"`, `{"a":1,"action"`, 1)},
		{"hash included", strings.Replace(good, `"fallbacks"`, `"hash":"`+strings.Repeat("0", 64)+`","fallbacks"`, 1)},
		{"duplicate key", strings.Replace(good, `"seq":42`, `"seq":41,"seq":42`, 1)},
		{"key in other case", strings.Replace(good, `"seq":`, `"SEQ":`, 1)},
		{"escaped non-ASCII", strings.Replace(good, `"alice"`, `"\u0061lice"`, 1)},
		{"escaped slash", strings.Replace(good, `"/v1/`, `"\/v1/`, 1)},
		{"uppercase hash", strings.Replace(good, "dead", "DEAD", 1)},
		{"short hash", strings.Replace(good, `"prev_hash":"dead`, `"prev_hash":"de`, 1)},
		{"time not in UTC", strings.Replace(good, `"2026-03-01T09:00:00.123456789Z"`, `"2026-03-01T10:00:00.123456789+01:00"`, 1)},
		{"time with trailing zero", strings.Replace(good, `.123456789Z`, `.1234567890Z`, 1)},
		{"number with plus", strings.Replace(good, `"status":200`, `"status":+200`, 1)},
		{"number with leading zero", strings.Replace(good, `"status":200`, `"status":0200`, 1)},
		{"number with exponent", strings.Replace(good, `"status":200`, `"status":2e2`, 1)},
		{"number with fraction", strings.Replace(good, `"status":200`, `"status":200.0`, 1)},
		{"number as string", strings.Replace(good, `"status":200`, `"status":"200"`, 1)},
		{"null verdicts", strings.Replace(empty, `"verdicts":[]`, `"verdicts":null`, 1)},
		{"fraction of zeros", strings.Replace(empty, `"1970-01-01T00:00:00Z"`, `"1970-01-01T00:00:00.000Z"`, 1)},
		{"invalid UTF-8", strings.Replace(good, `"alice"`, "\"al\xffice\"", 1)},
		{"not JSON", "{"},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in == good || tc.in == empty {
				t.Fatal("the test case did not change the encoding")
			}
			if _, err := DecodeCanonical([]byte(tc.in)); err == nil {
				t.Errorf("DecodeCanonical accepted %s", tc.in)
			}
		})
	}
}

func TestHashText(t *testing.T) {
	h := Hash{0: 0xab, 31: 0x01}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	want := `"ab` + strings.Repeat("00", 30) + `01"`
	if string(b) != want {
		t.Fatalf("Hash marshals as %s, want %s", b, want)
	}
	var back Hash
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Fatalf("round trip = %v, %v", back, err)
	}
	for _, bad := range []string{`"AB` + strings.Repeat("00", 31) + `"`, `"abcd"`, `"` + strings.Repeat("zz", 32) + `"`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("Hash accepted %s", bad)
		}
	}
}
