package scan

import (
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// FuzzScanText runs the scanner on arbitrary bytes: it must not panic,
// and every finding must point at its secret.
func FuzzScanText(f *testing.F) {
	g := detecttest.NewGen(7)
	for _, tmpl := range []string{
		"OPENAI_API_KEY=sk-proj-{A:48}\n",
		"x\n\ny = \"{A:24}\" # api_key\n",
		"{\"private_key\": \"{pemjson:PRIVATE KEY}\", \"type\": \"service_account\"}",
		"token: {jwt}\r\nnext line warden:allow\n",
		"{pem:RSA PRIVATE KEY}",
		"",
	} {
		text, _ := g.Expand(f, tmpl)
		f.Add([]byte(text))
	}
	sc, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		text := string(data)
		lines := strings.SplitAfter(text, "\n")
		for _, fd := range sc.Text(nil, Chunk{Path: "fuzz.txt", Text: text}) {
			if fd.Secret == "" || fd.Line < 1 || fd.Line > len(lines) || fd.EndLine < fd.Line || fd.Column < 1 {
				t.Fatalf("bad finding %+v", fd)
			}
			line := lines[fd.Line-1]
			if fd.EndLine == fd.Line {
				if fd.EndColumn > len(line) || line[fd.Column-1:fd.EndColumn] != fd.Secret {
					t.Fatalf("finding %s does not point at its secret in line %q", fd, line)
				}
			} else if !strings.HasPrefix(strings.Join(lines[fd.Line-1:], "")[fd.Column-1:], fd.Secret) {
				t.Fatalf("multi-line finding %s does not start at its secret", fd)
			}
			if strings.Contains(line, AllowMarker) {
				t.Fatalf("finding on a line marked %s: %s", AllowMarker, fd)
			}
			if fd.Fingerprint != Fingerprint(fd.RuleID, fd.Secret) {
				t.Fatalf("fingerprint of %s", fd)
			}
		}
	})
}
