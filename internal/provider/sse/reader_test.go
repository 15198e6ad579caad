package sse

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll returns every event of the stream and the error that ended it.
func readAll(r io.Reader, max int) ([]Event, error) {
	rd := NewReaderSize(r, max)
	var evs []Event
	for {
		ev, err := rd.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

// chunkReader returns its input in reads of sizes taken in turn from
// sizes (each at least 1), so tests can split a stream anywhere.
type chunkReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(c.sizes) > 0 {
		n = max(1, c.sizes[c.i%len(c.sizes)])
		c.i++
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// ev is shorthand for an expected event; Raw is filled in by the test.
type ev struct {
	Event, Data, ID string
	Retry           int
	HasData         bool
	Raw             string
}

func simplify(evs []Event) []ev {
	out := make([]ev, 0, len(evs))
	for _, e := range evs {
		out = append(out, ev{e.Event, e.Data, e.ID, e.Retry, e.HasData, string(e.Raw)})
	}
	return out
}

func TestReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ev
		wantErr error
	}{
		{"empty", "", nil, io.EOF},
		{"one event", "data: hello\n\n", []ev{{"", "hello", "", -1, true, "data: hello\n\n"}}, io.EOF},
		{"no space after colon", "data:hello\n\n", []ev{{"", "hello", "", -1, true, "data:hello\n\n"}}, io.EOF},
		{"only one leading space removed", "data:  x\n\n", []ev{{"", " x", "", -1, true, "data:  x\n\n"}}, io.EOF},
		{"multi-line data", "data: a\ndata: b\ndata:\n\n", []ev{{"", "a\nb\n", "", -1, true, "data: a\ndata: b\ndata:\n\n"}}, io.EOF},
		{"field name without colon", "data\n\n", []ev{{"", "", "", -1, true, "data\n\n"}}, io.EOF},
		{"event type", "event: message_start\ndata: {}\n\n", []ev{{"message_start", "{}", "", -1, true, "event: message_start\ndata: {}\n\n"}}, io.EOF},
		{"last event field wins", "event: a\nevent: b\ndata: x\n\n", []ev{{"b", "x", "", -1, true, "event: a\nevent: b\ndata: x\n\n"}}, io.EOF},
		{"CRLF", "data: a\r\ndata: b\r\n\r\n", []ev{{"", "a\nb", "", -1, true, "data: a\r\ndata: b\r\n\r\n"}}, io.EOF},
		{"CR only", "data: a\rdata: b\r\r", []ev{{"", "a\nb", "", -1, true, "data: a\rdata: b\r\r"}}, io.EOF},
		{"mixed endings", "data: a\r\ndata: b\rdata: c\n\r\n", []ev{{"", "a\nb\nc", "", -1, true, "data: a\r\ndata: b\rdata: c\n\r\n"}}, io.EOF},
		{"BOM skipped once and kept in Raw", "\uFEFFdata: x\n\n\uFEFFdata: y\n\n", []ev{
			{"", "x", "", -1, true, "\uFEFFdata: x\n\n"},
			{"", "", "", -1, false, "\uFEFFdata: y\n\n"}, // a second BOM is part of the field name
		}, io.EOF},
		{"comment only", ": keep-alive\n\n", []ev{{"", "", "", -1, false, ": keep-alive\n\n"}}, io.EOF},
		{"lone blank lines", "\n\r\n", []ev{{"", "", "", -1, false, "\n"}, {"", "", "", -1, false, "\r\n"}}, io.EOF},
		{"id persists", "id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", []ev{
			{"", "a", "7", -1, true, "id: 7\ndata: a\n\n"},
			{"", "b", "7", -1, true, "data: b\n\n"},
			{"", "c", "", -1, true, "id\ndata: c\n\n"},
		}, io.EOF},
		{"id with NUL ignored", "id: 1\n\nid: a\x00b\ndata: x\n\n", []ev{
			{"", "", "1", -1, false, "id: 1\n\n"},
			{"", "x", "1", -1, true, "id: a\x00b\ndata: x\n\n"},
		}, io.EOF},
		{"retry", "retry: 3000\n\nretry: 3x\n\nretry:\n\nretry: 99999999999999999999999\n\n", []ev{
			{"", "", "", 3000, false, "retry: 3000\n\n"},
			{"", "", "", -1, false, "retry: 3x\n\n"},
			{"", "", "", -1, false, "retry:\n\n"},
			{"", "", "", -1, false, "retry: 99999999999999999999999\n\n"},
		}, io.EOF},
		{"unknown field ignored", "foo: bar\ndata: x\n\n", []ev{{"", "x", "", -1, true, "foo: bar\ndata: x\n\n"}}, io.EOF},
		{"colon in value", "data: {\"a\":1}\n\n", []ev{{"", "{\"a\":1}", "", -1, true, "data: {\"a\":1}\n\n"}}, io.EOF},
		{"truncated mid-line", "data: a\n\ndata: b", []ev{{"", "a", "", -1, true, "data: a\n\n"}}, ErrTruncated},
		{"truncated after line", "data: a\n\ndata: b\n", []ev{{"", "a", "", -1, true, "data: a\n\n"}}, ErrTruncated},
		{"truncated CR at end is a line end only", "data: a\r", nil, ErrTruncated},
		{"final CR completes event", "data: a\r\r", []ev{{"", "a", "", -1, true, "data: a\r\r"}}, io.EOF},
		{"too large", "data: " + strings.Repeat("x", 100) + "\n\n", nil, ErrEventTooLarge},
		{"too large before EOF", "data: " + strings.Repeat("x", 100), nil, ErrEventTooLarge},
		{"events then too large", "data: a\n\ndata: " + strings.Repeat("x", 100) + "\n\n", []ev{{"", "a", "", -1, true, "data: a\n\n"}}, ErrEventTooLarge},
		{"exactly at the limit", "data: " + strings.Repeat("x", 56) + "\n\n", []ev{{"", strings.Repeat("x", 56), "", -1, true, "data: " + strings.Repeat("x", 56) + "\n\n"}}, io.EOF},
	}
	for _, tt := range tests {
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(tt.in) },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tt.in)) },
			"data+err": func() io.Reader { return iotest.DataErrReader(strings.NewReader(tt.in)) },
			"1,2,3":    func() io.Reader { return &chunkReader{data: []byte(tt.in), sizes: []int{1, 2, 3}} },
		}
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				evs, err := readAll(mk(), 64)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("error = %v, want %v", err, tt.wantErr)
				}
				if got := simplify(evs); !reflect.DeepEqual(got, append([]ev{}, tt.want...)) {
					t.Fatalf("events:\n got %#v\nwant %#v", got, tt.want)
				}
			})
		}
	}
}

func TestReaderErrorIsSticky(t *testing.T) {
	boom := errors.New("connection reset")
	src := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	rd := NewReader(src)
	if _, err := rd.Next(); err != nil {
		t.Fatalf("first event: %v", err)
	}
	for range 2 {
		if _, err := rd.Next(); !errors.Is(err, boom) {
			t.Fatalf("error = %v, want %v", err, boom)
		}
	}
}

// zeroReader never makes progress.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderNoProgress(t *testing.T) {
	if _, err := NewReader(zeroReader{}).Next(); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("error = %v, want io.ErrNoProgress", err)
	}
}

func TestReaderSplitsAtEveryOffset(t *testing.T) {
	in := "\uFEFF: ping\r\n\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\n" +
		"id: 9\rretry: 10\rdata: x\r\rdata: y\n\n"
	want, err := readAll(strings.NewReader(in), MaxEventSize)
	if err != io.EOF || len(want) != 4 {
		t.Fatalf("whole input: %d events, %v", len(want), err)
	}
	for cut := 1; cut < len(in); cut++ {
		got, err := readAll(&chunkReader{data: []byte(in), sizes: []int{cut, len(in)}}, MaxEventSize)
		if err != io.EOF || !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: got %+v (%v), want %+v", cut, simplify(got), err, simplify(want))
		}
	}
}

func BenchmarkReader(b *testing.B) {
	var in bytes.Buffer
	for range 200 {
		in.WriteString("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hello\"}}]}\n\n")
	}
	b.ReportAllocs()
	b.SetBytes(int64(in.Len()))
	for b.Loop() {
		rd := NewReader(bytes.NewReader(in.Bytes()))
		for {
			if _, err := rd.Next(); err != nil {
				break
			}
		}
	}
}

func FuzzReader(f *testing.F) {
	seeds := []string{
		"data: hello\n\n",
		"\uFEFFevent: a\r\ndata: b\r\n\r\n",
		"id: 1\rretry: 5\rdata: x\r\r",
		": c\n\ndata\n\ndata: trailing",
		"data: a\r",
		"\xEF\xBB",
		"data: {\"usage\":null}\n\ndata: [DONE]\n\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint8) {
		const max = 256
		whole, wholeErr := readAll(bytes.NewReader(in), max)

		var raw []byte
		for _, e := range whole {
			if len(e.Raw) == 0 || len(e.Raw) > max {
				t.Fatalf("event Raw has %d bytes", len(e.Raw))
			}
			if last := e.Raw[len(e.Raw)-1]; last != '\n' && last != '\r' {
				t.Fatalf("event Raw %q does not end in a line ending", e.Raw)
			}
			raw = append(raw, e.Raw...)
		}
		if !bytes.HasPrefix(in, raw) {
			t.Fatalf("Raw of events is not a prefix of the input")
		}
		switch wholeErr {
		case io.EOF:
			if len(raw) != len(in) {
				t.Fatalf("EOF after %d of %d bytes", len(raw), len(in))
			}
		case ErrTruncated:
			if len(raw) == len(in) {
				t.Fatalf("truncated with nothing left over")
			}
		case ErrEventTooLarge:
		default:
			t.Fatalf("unexpected error %v", wholeErr)
		}

		sizes := []int{int(seed%7) + 1, int(seed/7%5) + 1, int(seed/35) + 1}
		for _, r := range []io.Reader{
			iotest.OneByteReader(bytes.NewReader(in)),
			&chunkReader{data: in, sizes: sizes},
		} {
			got, err := readAll(r, max)
			if err != wholeErr || !reflect.DeepEqual(got, whole) {
				t.Fatalf("split reads differ: got %+v (%v), want %+v (%v)", simplify(got), err, simplify(whole), wholeErr)
			}
		}
	})
}

func TestReaderReady(t *testing.T) {
	tests := []struct {
		name  string
		input string
		ready []bool // Ready after each Next
	}{
		{"one event", "data: a\n\n", []bool{false}},
		{"two events in one read", "data: a\n\ndata: b\n\n", []bool{true, false}},
		{"a partial event after", "data: a\n\ndata: b", []bool{false}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []bool{true, false}},
		{"lone cr", "data: a\r\rdata: b\r\r", []bool{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.input))
			for i, want := range tt.ready {
				if _, err := r.Next(); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got := r.Ready(); got != want {
					t.Errorf("Ready after event %d = %v, want %v", i, got, want)
				}
			}
		})
	}
	r := NewReader(strings.NewReader("data: a\n\ndata: b"))
	_, _ = r.Next()
	if _, err := r.Next(); err == nil {
		t.Fatal("a truncated event was returned")
	}
	if r.Ready() {
		t.Error("Ready after an error")
	}
}
