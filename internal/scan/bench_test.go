package scan

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// corpusGoSource returns the src directory of the Go installation: a
// large, real tree of source and test data to measure the scanner on.
func corpusGoSource(b *testing.B) string {
	b.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatalf("find the Go source tree: go env GOROOT: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "src")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		b.Fatalf("the Go source tree %s is missing (%v): the benchmark needs a Go installation with its sources", dir, err)
	}
	return dir
}

// corpusWalkRead runs src through the pipeline the scanner uses, with as
// many workers, loading each chunk but detecting nothing: the cost of
// walking and reading alone. It returns the files and bytes read.
func corpusWalkRead(ctx context.Context, src Source, workers int) (files int, bytes int64, err error) {
	chunks := make(chan Chunk, 4*workers)
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		loadErr error
	)
	for range workers {
		wg.Go(func() {
			var n int
			var size int64
			for c := range chunks {
				text := c.Text
				if c.Load != nil {
					t, err := c.Load()
					var skip *SkipError
					switch {
					case errors.As(err, &skip):
						continue
					case err != nil:
						mu.Lock()
						if loadErr == nil {
							loadErr = fmt.Errorf("read %s: %w", c.Path, err)
						}
						mu.Unlock()
						continue
					}
					text = t
				}
				n++
				size += int64(len(text))
			}
			mu.Lock()
			files += n
			bytes += size
			mu.Unlock()
		})
	}
	err = src(ctx, func(c Chunk) error {
		select {
		case chunks <- c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(chunks)
	wg.Wait()
	if err == nil {
		err = loadErr
	}
	return files, bytes, err
}

// BenchmarkScanTree scans the Go source tree with one worker and with one
// per CPU, and, as a baseline, only walks and reads it with as many
// workers, so that the cost of detection shows as the ratio of the two.
func BenchmarkScanTree(b *testing.B) {
	root := corpusGoSource(b)
	ctx := context.Background()
	src := Files([]string{root}, WalkOptions{})
	// Read the tree once, to know its size and to warm the page cache
	// for every sub-benchmark alike.
	files, size, err := corpusWalkRead(ctx, src, runtime.NumCPU())
	if err != nil {
		b.Fatal(err)
	}
	counts := []int{1}
	if n := runtime.NumCPU(); n > 1 {
		counts = append(counts, n)
	}
	for _, w := range counts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			s, err := New(Options{Workers: w})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			for b.Loop() {
				res, err := s.Run(ctx, src, nil)
				if err != nil {
					b.Fatal(err)
				}
				if res.Chunks != files || res.Bytes != size {
					b.Fatalf("scanned %d files, %d bytes; the tree has %d files, %d bytes", res.Chunks, res.Bytes, files, size)
				}
			}
			b.ReportMetric(float64(files), "files/op")
		})
	}
	for _, w := range counts {
		b.Run(fmt.Sprintf("baseline=walk+read/workers=%d", w), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				n, got, err := corpusWalkRead(ctx, src, w)
				if err != nil {
					b.Fatal(err)
				}
				if n != files || got != size {
					b.Fatalf("read %d files, %d bytes; the tree has %d files, %d bytes", n, got, files, size)
				}
			}
			b.ReportMetric(float64(files), "files/op")
		})
	}
}

// corpusSourceCode returns about n bytes of Go-like source code with no
// secret in it, but with the words that make the scanner look closer
// (key, token, secret, auth, sk) as real code has them.
func corpusSourceCode(tb testing.TB, g *detecttest.Gen, n int) string {
	tb.Helper()
	funcs := []string{
		"// {L:1}{a:7} looks the entry up in the cache and returns its value.\nfunc {L:1}{a:7}(ctx context.Context, key string) (string, error) {\n\tcacheKey := fmt.Sprintf(\"%s/%d\", key, {d:3})\n\tif v, ok := cache.Load(cacheKey); ok {\n\t\treturn v.(string), nil\n\t}\n\treturn \"\", fmt.Errorf(\"lookup %s: %w\", key, ErrNotFound)\n}\n",
		"func ({a:1} *{L:1}{a:6}) Next() (Token, error) {\n\ttok := {a:1}.lexer.Scan()\n\tif tok.Kind == EOF {\n\t\treturn Token{}, io.EOF\n\t}\n\t{a:1}.pos += len(tok.Text) + {d:1}\n\treturn tok, nil\n}\n",
		"// {L:1}{a:8} runs the task queue until ctx is done.\nfunc {L:1}{a:8}(ctx context.Context, tasks <-chan Task) error {\n\tfor {\n\t\tselect {\n\t\tcase <-ctx.Done():\n\t\t\treturn ctx.Err()\n\t\tcase t := <-tasks:\n\t\t\tif err := t.Run(ctx); err != nil {\n\t\t\t\tlog.Printf(\"task %s: %v\", t.ID, err)\n\t\t\t}\n\t\t}\n\t}\n}\n",
		"var {a:6}Table = []struct {\n\tname  string\n\tin    int\n\twant  int\n}{\n\t{\"{a:8}\", {d:4}, {d:5}},\n\t{\"{a:8}\", {d:4}, {d:5}},\n\t{\"{a:8}\", {d:4}, {d:5}},\n}\n",
		"func check{L:1}{a:5}(r *http.Request) bool {\n\tauth := r.Header.Get(\"Authorization\")\n\tsecretName := r.URL.Query().Get(\"secret\")\n\treturn auth != \"\" && len(secretName) < {d:2}\n}\n",
		"type {L:1}{a:7}Options struct {\n\t// PassCount is how many passes to make.\n\tPassCount int\n\t// Timeout bounds each pass.\n\tTimeout time.Duration\n\tmask      uint{d:1}\n}\n",
		"const (\n\t{a:5}Limit = {d:4}\n\t{a:5}Ratio = 0.{d:3}\n\t{a:5}Name  = \"{a:12}\"\n)\n",
	}
	var b strings.Builder
	b.WriteString("package bench\n\nimport (\n\t\"context\"\n\t\"fmt\"\n)\n\n")
	for b.Len() < n {
		text, _ := g.Expand(tb, funcs[g.IntN(len(funcs))])
		b.WriteString(text)
		b.WriteByte('\n')
	}
	return b.String()[:n]
}

// BenchmarkScanText measures detection alone on source code with no
// secrets, the common case of a scan.
func BenchmarkScanText(b *testing.B) {
	s, err := New(Options{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}} {
		text := corpusSourceCode(b, detecttest.NewGen(uint64(size.n)), size.n)
		c := Chunk{Path: "bench.go", Text: text}
		if fs := s.Text(nil, c); len(fs) > 0 {
			b.Fatalf("the generated source holds secrets: %v", fs)
		}
		b.Run("size="+size.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			var dst []Finding
			for b.Loop() {
				dst = s.Text(dst[:0], c)
			}
		})
	}
}
