package detect

import (
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// The benchmark corpora come from the Go installation: English prose from
// the language specification and memory model (markup and code blocks
// removed), and source code from net/http. Both are read at run time.

var (
	corpusOnce              sync.Once
	corpusProse, corpusCode string
	corpusErr               error
)

func goroot() (string, error) {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	return strings.TrimSpace(string(out)), err
}

var (
	preBlock = regexp.MustCompile(`(?s)<pre>.*?</pre>`)
	tag      = regexp.MustCompile(`<[^>]*>`)
	spaces   = regexp.MustCompile(`\s+`)
)

func loadCorpora() {
	root, err := goroot()
	if err != nil {
		corpusErr = err
		return
	}
	var prose strings.Builder
	for _, name := range []string{"go_mem.html", "go_spec.html"} {
		b, err := os.ReadFile(filepath.Join(root, "doc", name))
		if err != nil {
			corpusErr = err
			return
		}
		s := preBlock.ReplaceAllString(string(b), " ")
		s = html.UnescapeString(tag.ReplaceAllString(s, " "))
		prose.WriteString(spaces.ReplaceAllString(s, " "))
	}
	corpusProse = prose.String()

	files, err := filepath.Glob(filepath.Join(root, "src", "net", "http", "*.go"))
	if err != nil || len(files) == 0 {
		corpusErr = err
		return
	}
	slices.Sort(files)
	var code strings.Builder
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			corpusErr = err
			return
		}
		code.Write(b)
	}
	corpusCode = code.String()
}

// corpus returns n bytes of the named corpus, repeated if it is shorter.
func corpus(b *testing.B, name string, n int) string {
	corpusOnce.Do(loadCorpora)
	if corpusErr != nil {
		b.Fatalf("load benchmark corpus from GOROOT: %v", corpusErr)
	}
	src := map[string]string{"prose": corpusProse, "code": corpusCode}[name]
	if len(src) < 1024 {
		b.Fatalf("corpus %s has only %d bytes", name, len(src))
	}
	for len(src) < n {
		src += "\n" + src
	}
	return src[:n]
}

// BenchmarkSecrets measures the detector with every rule, generic_secret
// included, on clean text ("prefilter"), against running every rule's
// regular expression over the whole text ("all-regexps"): the work the
// pre-filter and the windows save.
//
//	go test ./internal/detect -run '^$' -bench BenchmarkSecrets -benchtime 2s
func BenchmarkSecrets(b *testing.B) {
	d := NewSecrets(SecretsOptions{Generic: true})
	cases := []struct {
		name, corpus string
		size         int
	}{
		{"prose/1KB", "prose", 1 << 10},
		{"prose/10KB", "prose", 10 << 10},
		{"prose/100KB", "prose", 100 << 10},
		{"code/10KB", "code", 10 << 10},
		{"code/100KB", "code", 100 << 10},
	}
	for _, c := range cases {
		text := corpus(b, c.corpus, c.size)
		// The baseline runs first so that the detector's run can report
		// how many times faster it is (x-all-regexps).
		var baseline float64
		b.Run(c.name+"/all-regexps", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				for _, r := range rules {
					r.Regexp.FindAllStringSubmatchIndex(text, -1)
				}
			}
			baseline = float64(b.Elapsed()) / float64(b.N)
		})
		b.Run(c.name+"/prefilter", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			var dst []Finding
			for b.Loop() {
				dst = d.Detect(dst[:0], text)
			}
			if baseline > 0 {
				b.ReportMetric(baseline/(float64(b.Elapsed())/float64(b.N)), "x-all-regexps")
			}
		})
	}
}

// BenchmarkSecretsKeyDense measures text where secrets are common: every
// line of a .env-style file holds a key.
func BenchmarkSecretsKeyDense(b *testing.B) {
	d := NewSecrets(SecretsOptions{Generic: true})
	g := detecttest.NewGen(9)
	var sb strings.Builder
	for sb.Len() < 10<<10 {
		r := rules[g.IntN(len(rules))]
		text, _ := g.Expand(b, r.Positives[g.IntN(len(r.Positives))])
		sb.WriteString(text + "\n")
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	var dst []Finding
	for b.Loop() {
		dst = d.Detect(dst[:0], text)
	}
}

// BenchmarkKeywordScan measures the pre-filter's single pass alone.
func BenchmarkKeywordScan(b *testing.B) {
	d := NewSecrets(SecretsOptions{Generic: true}).(*secrets)
	text := corpus(b, "prose", 100<<10)
	b.SetBytes(int64(len(text)))
	var hits []hit
	for b.Loop() {
		hits = d.index.scan(text, hits[:0])
	}
}

// BenchmarkSecretsAdversarial measures inputs built to make windows
// overlap or regular expressions work hard: keywords repeated back to back
// inside long runs of token characters.
func BenchmarkSecretsAdversarial(b *testing.B) {
	d := NewSecrets(SecretsOptions{Generic: true})
	for _, c := range []struct{ name, unit string }{
		{"key=", "key="},
		{"slack", "xoxb-1-"},
		{"openai", "sk-proj-"},
		{"jwt", "eyJabcdefghijk."},
		{"pem", "-----BEGIN PRIVATE KEY-----\nQUFB\n"},
		{"aws", "aws " + strings.Repeat("Ab1/", 10) + " "},
		{"aws-in-run", "AWS" + strings.Repeat("Ab1/", 100)},
	} {
		text := strings.Repeat(c.unit, 100<<10/len(c.unit))
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			var dst []Finding
			for b.Loop() {
				dst = d.Detect(dst[:0], text)
			}
		})
	}
}
