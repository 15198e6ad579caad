package scan

import (
	"errors"
	"strings"
	"testing"
)

func FuzzParseDiff(f *testing.F) {
	f.Add([]byte("\x00commit 1\x00A\x00a@example.com\x002024-01-02T03:04:05Z\n\ndiff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,0 +2,2 @@\n+a\n+b\n\\ No newline at end of file\n"))
	f.Add([]byte("diff --git \"a/\\303\\251\" \"b/\\303\\251\"\n+++ \"b/\\303\\251\"\t\n@@ -0,0 +1 @@\n+x\n"))
	f.Add([]byte("--- a\t2024\n+++ b\t2024\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n\n"))
	f.Add([]byte("diff --cc m\n@@@ -1 -1 +1 @@@\n++x\n"))
	f.Add([]byte("+++ b/f\n@@ -0,0 +1,99999 @@\n+" + strings.Repeat("y", 300) + "\n"))
	const maxChunk = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		err := newDiffParser(strings.NewReader(string(data)), maxChunk).parse(func(c Chunk) error {
			if c.Path == "" {
				t.Errorf("chunk without a path: %+v", c)
			}
			if c.Load != nil {
				_, err := c.Load()
				var skip *SkipError
				if !errors.As(err, &skip) {
					t.Errorf("Load returned %v, want a SkipError", err)
				}
				return nil
			}
			if len(c.Text) > maxChunk {
				t.Errorf("chunk of %d bytes, over the limit of %d", len(c.Text), maxChunk)
			}
			if n := strings.Count(c.Text, "\n") + 1; len(c.Lines) != n {
				t.Errorf("%d line numbers for %d lines", len(c.Lines), n)
			}
			for _, l := range c.Lines {
				if l < 0 || l > 2*maxLineNumber {
					t.Errorf("line number %d out of range", l)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("parse: %v", err)
		}
	})
}
