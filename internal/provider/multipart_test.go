package provider

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/apperr"
)

// form builds a multipart body from name/content pairs; a name starting
// with "file:" makes a file part.
func form(t testing.TB, boundary string, fields ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		var w io.Writer
		var err error
		if name, ok := strings.CutPrefix(fields[i], "file:"); ok {
			w, err = mw.CreateFormFile(name, "audio.wav")
		} else {
			w, err = mw.CreateFormField(fields[i])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, fields[i+1])
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// formFields parses a multipart body into name -> contents, in order.
func formFields(t testing.TB, body []byte, boundary string) map[string][]string {
	t.Helper()
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	out := map[string][]string{}
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("result is not valid multipart: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("reading a part: %v", err)
		}
		out[p.FormName()] = append(out[p.FormName()], string(b))
	}
}

func TestRewriteMultipart(t *testing.T) {
	// Audio bytes that look almost like framing must survive untouched.
	// (A CRLF followed by "--xyz" would be a real delimiter.)
	audio := "RIFF\x00\x01\r\n\r\n-- xyz\r\n\xff--xyz--\xfe\r\n"
	const ct = "multipart/form-data; boundary=xyz"
	tests := []struct {
		name    string
		ct      string
		body    []byte
		want    map[string][]string
		wantErr bool
	}{
		{"replaced", ct, form(t, "xyz", "file:file", audio, "model", "whisper", "language", "en"),
			map[string][]string{"file": {audio}, "model": {"whisper-1"}, "language": {"en"}}, false},
		{"added", ct, form(t, "xyz", "file:file", audio),
			map[string][]string{"file": {audio}, "model": {"whisper-1"}}, false},
		{"two model fields", ct, form(t, "xyz", "model", "cheap", "file:file", audio, "model", "expensive"), nil, true},
		{"model as a file part still counts", ct, form(t, "xyz", "model", "cheap", "file:model", "expensive"), nil, true},
		{"not multipart", "application/json", []byte(`{"model":"x"}`), nil, true},
		{"no boundary", "multipart/form-data", form(t, "xyz", "model", "x"), nil, true},
		{"wrong boundary", "multipart/form-data; boundary=other", form(t, "xyz", "model", "x"), nil, true},
		{"no parts", ct, []byte("--xyz--\r\n"), nil, true},
		{"truncated", ct, form(t, "xyz", "file:file", audio)[:60], nil, true},
		{"empty", ct, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rewriteMultipart(tt.body, tt.ct, "whisper-1")
			if tt.wantErr {
				if apperr.CodeOf(err) != apperr.Invalid {
					t.Fatalf("error = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("rewriteMultipart: %v", err)
			}
			fields := formFields(t, got, "xyz")
			if len(fields) != len(tt.want) {
				t.Fatalf("fields = %q, want %q", fields, tt.want)
			}
			for k, v := range tt.want {
				if strings.Join(fields[k], "|") != strings.Join(v, "|") {
					t.Fatalf("field %s = %q, want %q", k, fields[k], v)
				}
			}
		})
	}
}

func FuzzRewriteMultipart(f *testing.F) {
	f.Add(form(f, "b", "model", "x", "file:file", "data\r\n--b"), "b")
	f.Add(form(f, "b", "file:file", "data"), "b")
	f.Add([]byte("--b\r\n\r\n--b--"), "b")
	f.Add([]byte(""), "")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		ct := mime.FormatMediaType("multipart/form-data", map[string]string{"boundary": boundary})
		got, err := rewriteMultipart(body, ct, "whisper-1")
		if err != nil {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("error %v is not Invalid", err)
			}
			return
		}
		before := formFields(t, body, boundary)
		after := formFields(t, got, boundary)
		if m := after["model"]; len(m) != 1 || m[0] != "whisper-1" {
			t.Fatalf("model fields = %q", m)
		}
		for k, v := range before {
			if k != "model" && strings.Join(after[k], "\x00") != strings.Join(v, "\x00") {
				t.Fatalf("field %q changed: %q -> %q", k, v, after[k])
			}
		}
	})
}
