package scan

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/wardenproject/warden/internal/detect"
	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// corpusSeed seeds the corpus of TestCorpus; the default keeps runs
// alike, other seeds look for misses the default does not show.
var corpusSeed = flag.Uint64("corpus.seed", 1, "seed of the corpus TestCorpus generates")

// What the scanner must reach on the corpus.
const (
	corpusMinRecall    = 1.0
	corpusMinPrecision = 0.98
)

// Decoys are kept this many bytes away from any other block, past the
// reach of the context rules (160 bytes around a keyword such as azure),
// so that a decoy is judged on its own, as a rule's Negatives are.
const corpusDecoyGap = 200

// corpusPlant is a key planted in the corpus: the label a finding must
// match.
type corpusPlant struct {
	rule     string
	template int // index in the rule's Positives
	file     string
	// line and endLine are the 1-based lines of the secret's first and
	// last byte.
	line, endLine int
	secret        string
}

// corpusDecoy is a block of text in which nothing may be found.
type corpusDecoy struct {
	kind          string // what it is: "negative openai_key", "placeholder"
	template      string
	file          string
	line, endLine int
}

// corpusBlock is a piece of text to put into a file: a planted key or a
// decoy.
type corpusBlock struct {
	text     string
	spans    []detecttest.Span // the planted secrets in text
	rule     string
	template int
	decoy    string // what the decoy is; empty for a planted key
	tmpl     string // the template, for reports
}

// corpusEmbedder fits an expanded template into a kind of file; ok is
// false when it cannot without changing the secret.
type corpusEmbedder func(text string, spans []detecttest.Span) (out string, outSpans []detecttest.Span, ok bool)

// corpusKind is a kind of file of the corpus.
type corpusKind struct {
	name  string
	files int
	path  func(i int) string
	// header and footer open and close every file of the kind; filler
	// lines go between blocks. All are templates and must not hold a
	// keyword of a context rule.
	header, footer string
	filler         []string
	embed          []corpusEmbedder
	// top and tail say whether a block may be the first line of a file,
	// and the last one with no newline after it.
	top, tail bool
}

var (
	corpusEnvLine   = regexp.MustCompile(`^(?:export )?([A-Za-z_][A-Za-z0-9_]*)=([^\n]*)$`)
	corpusShellLine = regexp.MustCompile(`^(?:curl |git |huggingface-cli |export |[A-Z_]+=)`)
	corpusYAMLLine  = regexp.MustCompile(`^[a-z_]+: [^\n]*$`)
	corpusCodeLine  = regexp.MustCompile(`^[^\n]*(?:\(|\) |[a-zA-Z\]] = |const |from )[^\n]*$`)
)

// corpusShift moves spans by d bytes.
func corpusShift(spans []detecttest.Span, d int) []detecttest.Span {
	out := make([]detecttest.Span, len(spans))
	for i, s := range spans {
		out[i] = detecttest.Span{Start: s.Start + d, End: s.End + d}
	}
	return out
}

// corpusWrap puts text between prefix and suffix. It refuses text with
// any of the forbidden strings in it, and text of several lines unless
// multiline is set.
func corpusWrap(prefix, suffix string, multiline bool, forbid ...string) corpusEmbedder {
	return func(text string, spans []detecttest.Span) (string, []detecttest.Span, bool) {
		if !multiline && strings.Contains(text, "\n") {
			return "", nil, false
		}
		for _, f := range forbid {
			if strings.Contains(text, f) {
				return "", nil, false
			}
		}
		return prefix + text + suffix, corpusShift(spans, len(prefix)), true
	}
}

// corpusWhen applies e only to text that match accepts.
func corpusWhen(match *regexp.Regexp, e corpusEmbedder) corpusEmbedder {
	return func(text string, spans []detecttest.Span) (string, []detecttest.Span, bool) {
		if !match.MatchString(text) {
			return "", nil, false
		}
		return e(text, spans)
	}
}

// corpusAssign rewrites NAME=VALUE into another language's assignment,
// pre(NAME) + VALUE + post, with the value's quotes taken off. Only a
// template whose secrets are in the value qualifies.
func corpusAssign(pre func(name string) string, post string) corpusEmbedder {
	return func(text string, spans []detecttest.Span) (string, []detecttest.Span, bool) {
		m := corpusEnvLine.FindStringSubmatchIndex(text)
		if m == nil {
			return "", nil, false
		}
		name, vStart, vEnd := text[m[2]:m[3]], m[4], m[5]
		if v := text[vStart:vEnd]; len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			vStart, vEnd = vStart+1, vEnd-1
		}
		value := text[vStart:vEnd]
		if strings.ContainsAny(value, `"'\`) {
			return "", nil, false
		}
		for _, s := range spans {
			if s.Start < vStart || s.End > vEnd {
				return "", nil, false
			}
		}
		p := pre(name)
		return p + value + post, corpusShift(spans, len(p)-vStart), true
	}
}

// corpusJSONEscape escapes s for a JSON string.
func corpusJSONEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(s)
}

// corpusJSONString puts text into a JSON string between prefix and
// suffix. The secrets must come through the escaping unchanged.
func corpusJSONString(prefix, suffix string) corpusEmbedder {
	return func(text string, spans []detecttest.Span) (string, []detecttest.Span, bool) {
		out := make([]detecttest.Span, len(spans))
		for i, s := range spans {
			secret := text[s.Start:s.End]
			if corpusJSONEscape(secret) != secret {
				return "", nil, false
			}
			start := len(prefix) + len(corpusJSONEscape(text[:s.Start]))
			out[i] = detecttest.Span{Start: start, End: start + len(secret)}
		}
		return prefix + corpusJSONEscape(text) + suffix, out, true
	}
}

// corpusKinds returns the kinds of file the corpus is made of.
func corpusKinds() []*corpusKind {
	single := func(prefix, suffix string) corpusEmbedder { return corpusWrap(prefix, suffix, false) }
	return []*corpusKind{
		{
			name: "env", files: 30,
			path: func(i int) string {
				return fmt.Sprintf("services/svc%02d/%s", i, []string{".env", ".env.local", ".env.production"}[i%3])
			},
			filler: []string{"PORT={d:4}", "LOG_LEVEL=info", "APP_ENV=staging", "DATABASE_HOST=db-{d:2}.internal",
				"CACHE_TTL_SECONDS={d:3}", "FEATURE_FLAGS=search,billing,export", "# Local overrides for development", "", "MAX_UPLOAD_MB={d:2}"},
			embed: []corpusEmbedder{corpusWhen(corpusEnvLine, single("", "")), single("# ", "")},
			top:   true, tail: true,
		},
		{
			name: "shell", files: 20,
			path:   func(i int) string { return fmt.Sprintf("scripts/deploy-%02d.sh", i) },
			header: "#!/usr/bin/env bash\nset -euo pipefail",
			filler: []string{`echo "building $PROJECT_NAME"`, `cd "$(dirname "$0")/.."`, "go build -o bin/app ./cmd/app",
				`if [ -z "${CI:-}" ]; then`, "fi", "mkdir -p dist/{d:2}", "rm -rf build/tmp", `for f in dist/*; do echo "$f"; done`},
			embed: []corpusEmbedder{
				corpusWhen(corpusShellLine, single("", "")),
				corpusWhen(corpusEnvLine, single("export ", "")),
				single("# ", ""),
				corpusWrap("cat > /etc/app/credentials <<'EOF'\n", "\nEOF", true, "\nEOF"),
			},
			tail: true,
		},
		{
			name: "dockerfile", files: 15,
			path:   func(i int) string { return fmt.Sprintf("images/app%02d/Dockerfile", i) },
			header: "FROM golang:1.26-alpine AS build",
			filler: []string{"WORKDIR /src", "COPY go.mod go.sum ./", "RUN go mod download", "COPY . .",
				"RUN CGO_ENABLED=0 go build -o /out/app ./cmd/app", "EXPOSE {d:4}", "USER 65532:65532"},
			embed: []corpusEmbedder{
				corpusWhen(corpusEnvLine, single("ENV ", "")),
				corpusWhen(corpusEnvLine, single("ARG ", "")),
				corpusWhen(corpusShellLine, single("RUN ", "")),
				single("# ", ""),
			},
			tail: true,
		},
		{
			name: "python", files: 35,
			path:   func(i int) string { return fmt.Sprintf("py/pkg%02d/client_%02d.py", i/5, i) },
			header: "import json\nimport os",
			filler: []string{"def handler(event, context):", `    return {"status": {d:3}}`, "logger = logging.getLogger(__name__)",
				"MAX_RETRIES = {d:1}", "for item in items:", "    results.append(item.upper())", "class Settings:", "    debug = False", ""},
			embed: []corpusEmbedder{
				corpusWhen(corpusCodeLine, single("", "")),
				single("# ", ""),
				corpusWrap(`"""`+"\n", "\n"+`"""`, true, `"""`),
				corpusAssign(func(n string) string { return n + ` = "` }, `"`),
			},
			top: true, tail: true,
		},
		{
			name: "javascript", files: 20,
			path:   func(i int) string { return fmt.Sprintf("web/src/module%02d.js", i) },
			header: `import fs from "node:fs";`,
			filler: []string{"export function add(a, b) { return a + b; }", "const retries = {d:1};",
				`console.log("ready on port", port);`, "if (process.argv.length > 2) {", "}", "module.exports = { add };"},
			embed: []corpusEmbedder{
				single("// ", ""),
				corpusWrap("const sample = `", "`;", true, "`", "${"),
				corpusAssign(func(n string) string { return "process.env." + n + ` = "` }, `";`),
				corpusWhen(regexp.MustCompile(`^\{.*\}$`), single("const settings = ", ";")),
			},
			tail: true,
		},
		{
			name: "typescript", files: 15,
			path:   func(i int) string { return fmt.Sprintf("web/src/lib/client%02d.ts", i) },
			header: `import { readFile } from "node:fs/promises";`,
			filler: []string{"export interface Options { retries: number }", "const timeoutMs: number = {d:4};",
				"export async function load(p: string): Promise<string> {", `  return readFile(p, "utf8");`, "}"},
			embed: []corpusEmbedder{
				single("// ", ""),
				corpusWrap("export const fixture = `", "`;", true, "`", "${"),
				corpusAssign(func(n string) string { return "export const " + n + `: string = "` }, `";`),
			},
		},
		{
			name: "go", files: 35,
			path:   func(i int) string { return fmt.Sprintf("internal/svc%02d/config_%02d.go", i/5, i) },
			header: "package config\n\nimport \"fmt\"",
			filler: []string{`func init() { fmt.Println("ready") }`, "var defaultPort = {d:4}", "type Options struct{ Retries int }",
				"// Retry with backoff before giving up.", "", "func double(n int) int { return 2 * n }"},
			embed: []corpusEmbedder{
				single("// ", ""),
				corpusWrap("const sample = `", "`", true, "`"),
				corpusAssign(func(n string) string { return "const " + n + ` = "` }, `"`),
			},
			tail: true,
		},
		{
			name: "yaml", files: 20,
			path:   func(i int) string { return fmt.Sprintf("config/app%02d/config.yaml", i) },
			header: "# Service configuration",
			filler: []string{"server:", "  port: {d:4}", "  read_timeout: 30s", "logging:", "  level: info", "features:", "  - search", "  - billing"},
			embed: []corpusEmbedder{
				corpusAssign(func(n string) string { return n + ": " }, ""),
				corpusWhen(corpusYAMLLine, single("", "")),
				single("# ", ""),
				corpusWhen(regexp.MustCompile(`^\{.*\}$`), single("payload: ", "")),
			},
			top: true, tail: true,
		},
		{
			name: "json", files: 20,
			path:   func(i int) string { return fmt.Sprintf("config/app%02d/settings.json", i) },
			header: "{",
			footer: "  \"version\": {d:1}\n}",
			filler: []string{`  "editor.tabSize": 2,`, `  "files.trimTrailingWhitespace": true,`, `  "region": "eu-west-1",`, `  "retries": {d:1},`},
			embed: []corpusEmbedder{
				corpusAssign(func(n string) string { return `  "` + n + `": "` }, `",`),
				corpusJSONString(`  "note": "`, `",`),
				corpusWhen(regexp.MustCompile(`^\{.*\}$`), single(`  "credentials": `, ",")),
			},
		},
		{
			name: "terraform", files: 15,
			path:   func(i int) string { return fmt.Sprintf("infra/stack%02d/main.tf", i) },
			header: "terraform {\n  required_version = \">= 1.6\"\n}",
			filler: []string{`resource "null_resource" "noop{d:2}" {}`, "locals {", `  region = "eu-west-1"`, "}",
				`output "endpoint" { value = local.endpoint }`, `variable "replicas" { default = {d:1} }`},
			embed: []corpusEmbedder{
				corpusAssign(func(n string) string { return "locals { " + n + ` = "` }, `" }`),
				single("# ", ""),
				corpusWrap("locals {\n  blob = <<EOT\n", "\nEOT\n}", true, "EOT"),
			},
			top: true, tail: true,
		},
		{
			name: "markdown", files: 35,
			path:   func(i int) string { return fmt.Sprintf("docs/guide-%02d.md", i) },
			header: "# Setup\n\nThis guide explains how to run the service locally.",
			filler: []string{"Run the tests before sending a change.", "## Configuration", "- Install Go 1.{d:2} or later.",
				"See the [design notes](design.md) for details.", ""},
			embed: []corpusEmbedder{
				corpusWrap("```\n", "\n```", true, "```"),
				corpusWrap("Use `", "` as shown.", false, "`"),
				single("", ""),
			},
			top: true, tail: true,
		},
		{
			name: "notebook", files: 10,
			path:   func(i int) string { return fmt.Sprintf("notebooks/eval-%02d.ipynb", i) },
			header: "{\n \"cells\": [\n  {\n   \"cell_type\": \"code\",\n   \"metadata\": {},\n   \"source\": [",
			footer: "    \"print(\\\"done\\\")\\n\"\n   ]\n  }\n ],\n \"nbformat\": 4\n}",
			filler: []string{`    "import pandas as pd\n",`, `    "df = pd.read_csv(\"data.csv\")\n",`, `    "df.describe()\n",`},
			embed:  []corpusEmbedder{corpusJSONString(`    "`, `\n",`)},
		},
		{
			name: "k8s", files: 12,
			path:   func(i int) string { return fmt.Sprintf("deploy/k8s/secret-%02d.yaml", i) },
			header: "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-{d:2}\n  namespace: default\ntype: Opaque\nstringData:",
			filler: []string{"  LOG_LEVEL: info", `  REPLICA_COUNT: "{d:1}"`, "  REGION: eu-west-1"},
			embed: []corpusEmbedder{
				corpusAssign(func(n string) string { return "  " + n + ": " }, ""),
				corpusWhen(corpusYAMLLine, single("  ", "")),
				single("  # ", ""),
			},
			tail: true,
		},
		{
			name: "workflow", files: 12,
			path:   func(i int) string { return fmt.Sprintf(".github/workflows/ci-%02d.yml", i) },
			header: "name: ci\non:\n  push:\n    branches: [main]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:",
			filler: []string{"      - run: go test ./...", "      - run: go vet ./...", "      - name: Build", "        run: make build"},
			embed: []corpusEmbedder{
				corpusAssign(func(n string) string { return "      - run: make deploy\n        env:\n          " + n + ": " }, ""),
				corpusWhen(corpusShellLine, single("      - run: ", "")),
				single("      # ", ""),
			},
			tail: true,
		},
		{
			name: "keyfile", files: 6,
			path:   func(i int) string { return fmt.Sprintf("keys/deploy-%02d.key", i) },
			filler: []string{"Bag Attributes", "    friendlyName: deploy", "subject=/CN=deploy.example.test"},
			embed:  []corpusEmbedder{corpusWhen(regexp.MustCompile(`^-----BEGIN`), corpusWrap("", "", true))},
			top:    true, tail: true,
		},
	}
}

// corpusDecoyTemplate is a decoy other than a rule's Negatives: a line a
// scanner meets in real files and must leave alone.
type corpusDecoyTemplate struct {
	kind  string
	files []string // kinds of file it goes in
	tmpl  string
}

// corpusDecoys returns the decoys besides the rules' Negatives. Documented
// example keys are split so that this file holds none whole.
func corpusDecoys() []corpusDecoyTemplate {
	awsID := "AKIA" + "IOSFODNN7EXAMPLE"
	awsValue := "wJalrXUtnFEMI" + "/K7MDENG/" + "bPxRfiCYEXAMPLEKEY"
	jwtIO := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ" + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	uuid := "{h:8}-{h:4}-4{h:3}-a{h:3}-{h:12}"
	env := []string{"env", "shell", "dockerfile"}
	return []corpusDecoyTemplate{
		// Placeholders.
		{"placeholder", env, "OPENAI_API_KEY=sk-...xxxx"},
		{"placeholder", env, "OPENAI_API_KEY=your-api-key-here"},
		{"placeholder", env, "OPENAI_API_KEY=<OPENAI_API_KEY>"},
		{"placeholder", env, "OPENAI_API_KEY=${OPENAI_API_KEY}"},
		{"placeholder", env, "OPENAI_API_KEY=sk-XXXXXXXX"},
		{"placeholder", env, "OPENAI_API_KEY=sk-XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"},
		{"placeholder", env, "ANTHROPIC_API_KEY=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"placeholder", env, "GROQ_API_KEY=gsk_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"},
		{"placeholder", env, "API_TOKEN=0000000000000000000000000000000000000000"},
		{"placeholder", []string{"python"}, `api_key = os.environ["OPENAI_API_KEY"]`},
		{"placeholder", []string{"python"}, `client = OpenAI(api_key=os.getenv("OPENAI_API_KEY"))`},
		{"placeholder", []string{"python"}, `api_key = "sk-XXXXXXXX"`},
		{"placeholder", []string{"javascript", "typescript"}, "const apiKey = process.env.OPENAI_API_KEY;"},
		{"placeholder", []string{"javascript", "typescript"}, `const client = new OpenAI({ apiKey: "<OPENAI_API_KEY>" });`},
		{"placeholder", []string{"yaml", "k8s"}, "api_key: ${OPENAI_API_KEY}"},
		{"placeholder", []string{"yaml", "k8s"}, `slack_token: "{{ .Values.slackToken }}"`},
		{"placeholder", []string{"yaml", "k8s"}, "password: changeme"},
		{"placeholder", []string{"yaml"}, `api_key: "********************************"`},
		{"placeholder", []string{"workflow"}, "        env:\n          GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}\n          OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}"},
		{"placeholder", []string{"markdown"}, "Set `OPENAI_API_KEY=sk-...` in your shell, then run `make dev`."},
		{"placeholder", []string{"markdown"}, "```\nexport ANTHROPIC_API_KEY=\"your-api-key-here\"\n```"},
		{"placeholder", []string{"terraform"}, `variable "openai_api_key" { sensitive = true }`},
		{"placeholder", []string{"json"}, `  "apiKey": "${OPENAI_API_KEY}",`},
		// Documentation example keys.
		{"doc example", []string{"markdown"}, "```ini\n[default]\naws_access_key_id = " + awsID + "\naws_secret_access_key = " + awsValue + "\n```"},
		{"doc example", []string{"env"}, "AWS_ACCESS_KEY_ID=" + awsID + "\nAWS_SECRET_ACCESS_KEY=" + awsValue},
		{"doc example", []string{"markdown"}, "The token from the JWT debugger, `" + jwtIO + "`, is public."},
		{"doc example", []string{"markdown"}, "Send `Authorization: Bearer <token>` with every request."},
		// Git object names.
		{"git sha", []string{"markdown"}, "## Changes\n\n- Fix the retry loop ({h:7})\n- commit {h:40}\n- Merge: {h:7} {h:7}"},
		{"git sha", []string{"workflow"}, "      - uses: actions/checkout@{h:40} # v4.2.2\n      - uses: actions/setup-go@{h:40} # v5.5.0"},
		{"git sha", []string{"workflow"}, "      - uses: aws-actions/configure-aws-credentials@{h:40} # v4\n        with:\n          aws-region: us-east-1\n          role-to-assume: arn:aws:iam::{d:12}:role/deploy"},
		{"git sha", []string{"yaml"}, "repos:\n  - repo: https://github.com/pre-commit/pre-commit-hooks\n    rev: {h:40}"},
		{"git sha", []string{"go"}, "// Fixed upstream in {h:40}, see the issue."},
		{"git sha", []string{"dockerfile"}, "ARG GIT_COMMIT={h:40}"},
		// UUIDs.
		{"uuid", []string{"terraform"}, "provider \"azurerm\" {\n  features {}\n  subscription_id = \"" + uuid + "\"\n  tenant_id       = \"" + uuid + "\"\n}"},
		{"uuid", []string{"env"}, "AZURE_CLIENT_ID=" + uuid + "\nAZURE_TENANT_ID=" + uuid},
		{"uuid", []string{"json"}, `  "id": "` + uuid + `",`},
		{"uuid", []string{"python"}, `TRACE_ID = "` + uuid + `"`},
		{"uuid", []string{"yaml"}, "request_id: " + uuid},
		// Digests.
		{"digest", []string{"dockerfile"}, "FROM python:3.12-slim@sha256:{h:64} AS runtime"},
		{"digest", []string{"yaml", "k8s"}, "image: ghcr.io/acme/app@sha256:{h:64}"},
		{"digest", []string{"markdown"}, "```\n{h:64}  warden_linux_amd64.tar.gz\n{h:64}  warden_darwin_arm64.tar.gz\n```"},
		{"digest", []string{"python"}, `EXPECTED_SHA256 = "{h:64}"`},
		// Base64 image data.
		{"image", []string{"markdown"}, "![logo](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAA{b:1600}=)"},
		{"image", []string{"notebook"}, `    "<img src=\"data:image/png;base64,iVBORw0KGgo{b:2400}\">\n",`},
		{"image", []string{"javascript", "typescript"}, `const logo = "data:image/png;base64,iVBORw0KGgo{b:900}==";`},
		// Random identifiers in code.
		{"identifier", []string{"go"}, `var requestID = "{A:24}"`},
		{"identifier", []string{"go"}, `nonce := "{h:24}"`},
		{"identifier", []string{"javascript", "typescript"}, `export const componentId = "c{A:20}";`},
		{"identifier", []string{"javascript"}, `const cacheBuster = "{a:16}";`},
		{"identifier", []string{"python"}, `RUN_ID = "{a:22}"`},
		{"identifier", []string{"json"}, `  "buildNumber": "{d:6}-{a:12}",`},
		// Long test vectors.
		{"test vector", []string{"go"}, "var vectors = []struct{ in, want string }{\n\t{\"{h:128}\", \"{h:64}\"},\n\t{\"{b:88}\", \"{h:64}\"},\n}"},
		{"test vector", []string{"python"}, `VECTOR = bytes.fromhex("{h:256}")`},
		{"test vector", []string{"typescript"}, `const expected = "{b:344}";`},
	}
}

// corpusFile is a file of the corpus being made.
type corpusFile struct {
	name   string
	kind   *corpusKind
	blocks []corpusBlock
}

// corpus is a generated corpus and its labels.
type corpus struct {
	files  map[string]string // slash path → content
	plants []corpusPlant
	decoys []corpusDecoy
}

// corpusPick returns a random element of xs.
func corpusPick[T any](g *detecttest.Gen, xs []T) T { return xs[g.IntN(len(xs))] }

// corpusEmbed fits text into a random kind of kinds, with a random
// embedder that takes it, and returns the kind.
func corpusEmbed(g *detecttest.Gen, kinds []*corpusKind, text string, spans []detecttest.Span) (*corpusKind, string, []detecttest.Span, bool) {
	type option struct {
		kind  *corpusKind
		text  string
		spans []detecttest.Span
	}
	var opts []option
	for _, k := range kinds {
		for _, e := range k.embed {
			if out, s, ok := e(text, spans); ok {
				opts = append(opts, option{k, out, s})
			}
		}
	}
	if len(opts) == 0 {
		return nil, "", nil, false
	}
	o := corpusPick(g, opts)
	return o.kind, o.text, o.spans, true
}

// corpusGenerate makes the corpus for seed.
func corpusGenerate(tb testing.TB, seed uint64) corpus {
	tb.Helper()
	g := detecttest.NewGen(seed)
	kinds := corpusKinds()
	byName := map[string]*corpusKind{}
	var files []*corpusFile
	perKind := map[*corpusKind][]*corpusFile{}
	for _, k := range kinds {
		byName[k.name] = k
		for i := range k.files {
			f := &corpusFile{name: k.path(i), kind: k}
			files = append(files, f)
			perKind[k] = append(perKind[k], f)
		}
	}
	place := func(k *corpusKind, b corpusBlock) {
		f := corpusPick(g, perKind[k])
		f.blocks = append(f.blocks, b)
	}

	// Planted keys: every Positives template of every rule, several
	// times, each time in a kind of file it has not been in yet where
	// possible.
	for _, r := range detect.Rules() {
		n := max(3, (6+len(r.Positives)-1)/len(r.Positives))
		for ti, tmpl := range r.Positives {
			used := map[*corpusKind]bool{}
			for range n {
				text, spans := g.Expand(tb, tmpl)
				fresh := slices.DeleteFunc(slices.Clone(kinds), func(k *corpusKind) bool { return used[k] })
				k, out, outSpans, ok := corpusEmbed(g, fresh, text, spans)
				if !ok {
					k, out, outSpans, ok = corpusEmbed(g, kinds, text, spans)
				}
				if !ok {
					tb.Fatalf("%s Positives[%d] %q fits no kind of file", r.ID, ti, tmpl)
				}
				used[k] = true
				place(k, corpusBlock{text: out, spans: outSpans, rule: r.ID, template: ti, tmpl: tmpl})
			}
		}
	}
	// Decoys: every Negatives template of every rule, and the list above.
	for _, r := range detect.Rules() {
		for ti, tmpl := range r.Negatives {
			for range 2 {
				text, _ := g.Expand(tb, tmpl)
				k, out, _, ok := corpusEmbed(g, kinds, text, nil)
				if !ok {
					tb.Fatalf("%s Negatives[%d] %q fits no kind of file", r.ID, ti, tmpl)
				}
				place(k, corpusBlock{text: out, decoy: fmt.Sprintf("negative %s/%d", r.ID, ti), tmpl: tmpl})
			}
		}
	}
	for _, d := range corpusDecoys() {
		for range 2 {
			text, _ := g.Expand(tb, d.tmpl)
			k, ok := byName[corpusPick(g, d.files)]
			if !ok {
				tb.Fatalf("decoy %q: no kind of file %v", d.tmpl, d.files)
			}
			place(k, corpusBlock{text: text, decoy: d.kind, tmpl: d.tmpl})
		}
	}

	c := corpus{files: map[string]string{}}
	words := corpusContextWords()
	var tops, tails int
	for _, f := range files {
		g.Shuffle(len(f.blocks), func(i, j int) { f.blocks[i], f.blocks[j] = f.blocks[j], f.blocks[i] })
		// Put a planted key on the first line of some files and on the
		// last, with no newline after it, of others; the first files
		// that can take one get one, so every seed has both.
		planted := slices.IndexFunc(f.blocks, func(b corpusBlock) bool { return b.decoy == "" })
		top := f.kind.top && planted >= 0 && (tops < 3 || g.IntN(4) == 0)
		tail := f.kind.tail && planted >= 0 && !top && (tails < 3 || g.IntN(4) == 0)
		switch {
		case top:
			f.blocks[0], f.blocks[planted] = f.blocks[planted], f.blocks[0]
			tops++
		case tail:
			last := len(f.blocks) - 1
			f.blocks[last], f.blocks[planted] = f.blocks[planted], f.blocks[last]
			tails++
		}
		text, plants, decoys := corpusLayout(tb, g, f, top, tail, words)
		c.files[f.name] = text
		c.plants = append(c.plants, plants...)
		c.decoys = append(c.decoys, decoys...)
	}
	for name, text := range corpusLockfiles(tb, g) {
		c.files[name] = text
		c.decoys = append(c.decoys, corpusDecoy{kind: "lockfile", template: path.Base(name), file: name, line: 1, endLine: strings.Count(text, "\n") + 1})
	}
	return c
}

// corpusContextWords returns the keywords of the context rules, which find
// a bare value near a word: filler must hold none of them, or it would
// give a decoy a context it does not have on its own.
func corpusContextWords() []string {
	var words []string
	for _, r := range detect.Rules() {
		switch r.ID {
		case "azure_openai_key", "cohere_key", "mistral_key", "deepseek_key", "together_key", "aws_secret_access_key", "gcp_service_account":
			words = append(words, r.Keywords...)
		}
	}
	return words
}

// corpusLayout writes the blocks of f between filler lines, the first
// block on line 1 if top is set and the last one with no newline after it
// if tail is set, and returns the text and its labels.
func corpusLayout(tb testing.TB, g *detecttest.Gen, f *corpusFile, top, tail bool, words []string) (string, []corpusPlant, []corpusDecoy) {
	tb.Helper()
	var b strings.Builder
	line := func(s string) {
		lower := strings.ToLower(s)
		for _, w := range words {
			if strings.Contains(lower, w) {
				tb.Fatalf("corpus kind %s: filler %q holds the context word %q", f.kind.name, s, w)
			}
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	filler := func(minBytes, minLines int) {
		start := b.Len()
		for n := 0; n < minLines || b.Len()-start < minBytes; n++ {
			text, _ := g.Expand(tb, corpusPick(g, f.kind.filler))
			line(text)
		}
	}
	type placed struct {
		block corpusBlock
		start int
	}
	var blocks []placed
	put := func(blk corpusBlock, newline bool) {
		blocks = append(blocks, placed{blk, b.Len()})
		b.WriteString(blk.text)
		if newline {
			b.WriteByte('\n')
		}
	}
	rest := f.blocks
	if top {
		put(rest[0], true)
		rest = rest[1:]
	}
	if f.kind.header != "" {
		h, _ := g.Expand(tb, f.kind.header)
		line(h)
	}
	prevDecoy := false
	for i, blk := range rest {
		gap := 0
		if prevDecoy || blk.decoy != "" {
			gap = corpusDecoyGap
		}
		filler(gap, 1+g.IntN(3))
		if g.IntN(5) == 0 {
			filler(0, 10+g.IntN(60)) // some files are long
		}
		last := tail && i == len(rest)-1
		put(blk, !last)
		prevDecoy = blk.decoy != ""
	}
	if !tail {
		gap := 0
		if prevDecoy {
			gap = corpusDecoyGap
		}
		filler(gap, g.IntN(3))
		if f.kind.footer != "" {
			ft, _ := g.Expand(tb, f.kind.footer)
			line(ft)
		}
	}
	text := b.String()
	lineOf := func(off int) int { return strings.Count(text[:off], "\n") + 1 }
	var plants []corpusPlant
	var decoys []corpusDecoy
	for _, p := range blocks {
		end := p.start + len(p.block.text)
		if p.block.decoy != "" {
			decoys = append(decoys, corpusDecoy{kind: p.block.decoy, template: p.block.tmpl, file: f.name, line: lineOf(p.start), endLine: lineOf(max(p.start, end-1))})
			continue
		}
		for _, s := range p.block.spans {
			start, stop := p.start+s.Start, p.start+s.End
			plants = append(plants, corpusPlant{
				rule: p.block.rule, template: p.block.template, file: f.name,
				line: lineOf(start), endLine: lineOf(stop - 1), secret: text[start:stop],
			})
		}
	}
	return text, plants, decoys
}

// corpusLockfiles returns lockfiles and checksum lists: long runs of
// digests, none of them a secret.
func corpusLockfiles(tb testing.TB, g *detecttest.Gen) map[string]string {
	tb.Helper()
	files := map[string]string{}
	pkgs := []string{"together-ai", "openai", "left-pad", "azure-storage", "aws-sdk", "cohere-ai", "mistralai", "lodash", "react"}
	expand := func(tmpl string) string {
		s, _ := g.Expand(tb, tmpl)
		return s
	}
	for i := range 3 {
		var b strings.Builder
		b.WriteString("{\n  \"name\": \"web\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n")
		for j := range 40 {
			p := pkgs[(i+j)%len(pkgs)]
			fmt.Fprintf(&b, "    \"node_modules/%s-%d\": {\n      \"version\": \"1.%d.%d\",\n", p, j, j%7, j%3)
			fmt.Fprintf(&b, "      \"resolved\": \"https://registry.npmjs.org/%s/-/%s-1.%d.%d.tgz\",\n", p, p, j%7, j%3)
			b.WriteString(expand("      \"integrity\": \"sha512-{b:86}==\"\n    },\n"))
		}
		b.WriteString("  }\n}\n")
		files[fmt.Sprintf("web/app%d/package-lock.json", i)] = b.String()
	}
	for i := range 3 {
		var b strings.Builder
		for j := range 60 {
			p := pkgs[(i+j)%len(pkgs)]
			fmt.Fprintf(&b, "github.com/acme/%s v1.%d.%d h1:%s=\n", p, j, i, expand("{b:43}"))
			fmt.Fprintf(&b, "github.com/acme/%s v1.%d.%d/go.mod h1:%s=\n", p, j, i, expand("{b:43}"))
		}
		files[fmt.Sprintf("mod%d/go.sum", i)] = b.String()
	}
	for i := range 2 {
		var b strings.Builder
		for j := range 30 {
			p := pkgs[(i+j)%len(pkgs)]
			fmt.Fprintf(&b, "[[package]]\nname = %q\nversion = \"1.%d.0\"\nfiles = [\n", p, j)
			b.WriteString(expand(fmt.Sprintf("    {file = \"%s-1.%d.0-py3-none-any.whl\", hash = \"sha256:{h:64}\"},\n", p, j)))
			b.WriteString(expand(fmt.Sprintf("    {file = \"%s-1.%d.0.tar.gz\", hash = \"sha256:{h:64}\"},\n]\n\n", p, j)))
		}
		files[fmt.Sprintf("py/lock%d/poetry.lock", i)] = b.String()
	}
	for i := range 2 {
		var b strings.Builder
		b.WriteString("version = 3\n\n")
		for j := range 30 {
			p := pkgs[(i+j)%len(pkgs)]
			fmt.Fprintf(&b, "[[package]]\nname = %q\nversion = \"0.%d.1\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n", p, j)
			b.WriteString(expand("checksum = \"{h:64}\"\n\n"))
		}
		files[fmt.Sprintf("rust/crate%d/Cargo.lock", i)] = b.String()
	}
	return files
}

// corpusMatch reports whether finding f is the planted key p, and whether
// exactly. A finding matches when it is in p's file, its lines overlap
// p's, and its secret is p's, or one contains the other and the shorter
// is at least 16 bytes and half the longer (a rule that takes a quote or
// leaves out a checksum tail still points at the key).
func corpusMatch(f Finding, root string, p corpusPlant) (ok, exact bool) {
	if corpusRel(root, f.File) != p.file || f.Line > p.endLine || f.EndLine < p.line {
		return false, false
	}
	if f.Secret == p.secret {
		return true, true
	}
	short, long := f.Secret, p.secret
	if len(short) > len(long) {
		short, long = long, short
	}
	return len(short) >= 16 && 2*len(short) >= len(long) && strings.Contains(long, short), false
}

// corpusRel returns the path of a finding's file below root.
func corpusRel(root, file string) string {
	r := path.Clean(filepath.ToSlash(root))
	if rel, ok := strings.CutPrefix(file, r+"/"); ok {
		return rel
	}
	return file
}

// corpusScore is how the scanner did on a corpus.
type corpusScore struct {
	perRule map[string]*corpusRuleScore
	plants  int
	found   int
	// findings counts all findings, matched those that are a planted key.
	findings, matched int
	// duplicates counts the false positives that repeat a matched
	// finding: the same secret at the same place under another rule.
	duplicates     int
	misses         []corpusPlant
	falsePositives []string
}

// corpusRuleScore is the score of one rule.
type corpusRuleScore struct {
	planted, found, exact, otherRule, falsePositives, duplicates int
}

func (s corpusScore) recall() float64 {
	if s.plants == 0 {
		return 0
	}
	return float64(s.found) / float64(s.plants)
}

func (s corpusScore) precision() float64 {
	if s.findings == 0 {
		return 0
	}
	return float64(s.matched) / float64(s.findings)
}

// corpusEvaluate matches findings to planted keys one to one, exact
// matches first, and attributes the rest to the decoy they are in.
func corpusEvaluate(c corpus, root string, findings []Finding) corpusScore {
	s := corpusScore{perRule: map[string]*corpusRuleScore{}, plants: len(c.plants), findings: len(findings)}
	rule := func(id string) *corpusRuleScore {
		if s.perRule[id] == nil {
			s.perRule[id] = &corpusRuleScore{}
		}
		return s.perRule[id]
	}
	for _, r := range detect.Rules() {
		rule(r.ID)
	}
	used := make([]bool, len(findings))
	for _, p := range c.plants {
		rs := rule(p.rule)
		rs.planted++
		best, bestExact := -1, false
		for i, f := range findings {
			if used[i] {
				continue
			}
			if ok, exact := corpusMatch(f, root, p); ok && (best < 0 || exact && !bestExact) {
				best, bestExact = i, exact
			}
		}
		if best < 0 {
			s.misses = append(s.misses, p)
			continue
		}
		used[best] = true
		s.found++
		s.matched++
		rs.found++
		if bestExact {
			rs.exact++
		}
		if findings[best].RuleID != p.rule {
			rs.otherRule++
		}
	}
	for i, f := range findings {
		if used[i] {
			continue
		}
		rs := rule(f.RuleID)
		rs.falsePositives++
		file := corpusRel(root, f.File)
		dup := slices.IndexFunc(findings, func(o Finding) bool {
			return o.File == f.File && o.Line == f.Line && o.Column == f.Column && o.Secret == f.Secret
		})
		if dup >= 0 && used[dup] {
			rs.duplicates++
			s.duplicates++
			s.falsePositives = append(s.falsePositives, fmt.Sprintf("%s at %s:%d (%s) is a duplicate of the %s finding of a planted key", f.RuleID, file, f.Line, Mask(f.Secret), findings[dup].RuleID))
			continue
		}
		where := "filler"
		for _, d := range c.decoys {
			if d.file == file && f.Line <= d.endLine && f.EndLine >= d.line {
				where = fmt.Sprintf("decoy %s %q", d.kind, d.template)
				break
			}
		}
		if where == "filler" {
			for _, p := range c.plants {
				if p.file == file && f.Line <= p.endLine && f.EndLine >= p.line {
					where = fmt.Sprintf("next to planted %s/%d", p.rule, p.template)
					break
				}
			}
		}
		s.falsePositives = append(s.falsePositives, fmt.Sprintf("%s at %s:%d (%s) in %s", f.RuleID, file, f.Line, Mask(f.Secret), where))
	}
	return s
}

// report renders the score as a table and lists what went wrong.
func (s corpusScore) report(seed uint64, c corpus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "corpus seed %d: %d files, %d planted keys, %d decoys\n", seed, len(c.files), len(c.plants), len(c.decoys))
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rule\tplanted\tfound\texact\tas other rule\tmissed\tfalse positives\tof which duplicates\t")
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range s.perRule {
			if !yield(id) {
				return
			}
		}
	})
	var tot corpusRuleScore
	for _, id := range ids {
		r := s.perRule[id]
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", id, r.planted, r.found, r.exact, r.otherRule, r.planted-r.found, r.falsePositives, r.duplicates)
		tot.planted += r.planted
		tot.found += r.found
		tot.exact += r.exact
		tot.otherRule += r.otherRule
		tot.falsePositives += r.falsePositives
		tot.duplicates += r.duplicates
	}
	fmt.Fprintf(w, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", tot.planted, tot.found, tot.exact, tot.otherRule, tot.planted-tot.found, tot.falsePositives, tot.duplicates)
	w.Flush()
	fmt.Fprintf(&b, "recall %.4f (%d/%d)  precision %.4f (%d/%d findings; one finding per planted key, so a duplicate counts as false)\n",
		s.recall(), s.found, s.plants, s.precision(), s.matched, s.findings)
	rules := map[string]detect.Rule{}
	for _, r := range detect.Rules() {
		rules[r.ID] = r
	}
	for _, p := range s.misses {
		fmt.Fprintf(&b, "MISSED %s Positives[%d] %q at %s:%d\n", p.rule, p.template, rules[p.rule].Positives[p.template], p.file, p.line)
	}
	for _, fp := range s.falsePositives {
		fmt.Fprintf(&b, "FALSE POSITIVE %s\n", fp)
	}
	return b.String()
}

// TestCorpus is the acceptance measure of the scanner: it writes a
// labelled corpus of realistic files into a temporary directory, with fake
// keys of every rule planted in them and decoys around them, scans the
// directory as `warden scan` does, and holds recall and precision to
// corpusMinRecall and corpusMinPrecision. A planted key counts as found
// whatever rule finds it (see corpusMatch); each key accounts for one
// finding, so a second finding of the same key counts against precision.
// The corpus is made at run time from a seed; try others with
//
//	go test -run TestCorpus -v ./internal/scan/ -corpus.seed=N
func TestCorpus(t *testing.T) {
	seed := *corpusSeed
	c := corpusGenerate(t, seed)
	corpusCheckCoverage(t, c)
	dir := t.TempDir()
	for name, text := range c.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), Files([]string{dir}, WalkOptions{}), nil)
	if err != nil {
		t.Fatalf("scan the corpus: %v", err)
	}
	if len(res.Skipped) > 0 {
		t.Errorf("scan skipped corpus files: %+v", res.Skipped)
	}
	if res.Chunks != len(c.files) {
		t.Errorf("scanned %d files, the corpus has %d", res.Chunks, len(c.files))
	}
	score := corpusEvaluate(c, dir, res.Findings)
	report := score.report(seed, c)
	t.Logf("\n%s", report)
	if testing.Verbose() {
		fmt.Print(report)
	}
	if r := score.recall(); r < corpusMinRecall {
		t.Errorf("recall %.4f, want at least %.2f: %d planted keys missed (listed above)", r, corpusMinRecall, len(score.misses))
	}
	if p := score.precision(); p < corpusMinPrecision {
		t.Errorf("precision %.4f, want at least %.2f: %d false positives (listed above)", p, corpusMinPrecision, len(score.falsePositives))
	}
}

// corpusCheckCoverage fails the test if the generator left something out
// that the measure is meant to cover.
func corpusCheckCoverage(t *testing.T, c corpus) {
	t.Helper()
	seen := map[string]bool{}
	var top, tail int
	for _, p := range c.plants {
		seen[fmt.Sprintf("%s/%d", p.rule, p.template)] = true
		text := c.files[p.file]
		if p.line == 1 {
			top++
		}
		if strings.HasSuffix(text, p.secret) {
			tail++
		}
		// The label is where the secret is.
		lines := strings.Split(text, "\n")
		if got := strings.Join(lines[p.line-1:p.endLine], "\n"); !strings.Contains(got, p.secret) {
			t.Fatalf("label %s/%d: %s:%d-%d does not hold its secret", p.rule, p.template, p.file, p.line, p.endLine)
		}
	}
	for _, r := range detect.Rules() {
		for i := range r.Positives {
			if !seen[fmt.Sprintf("%s/%d", r.ID, i)] {
				t.Errorf("%s Positives[%d] is not planted", r.ID, i)
			}
		}
	}
	if top == 0 || tail == 0 {
		t.Errorf("%d keys planted on a first line, %d at the end of a file with no newline; want some of each", top, tail)
	}
	if len(c.files) < 300 {
		t.Errorf("corpus has %d files, want a few hundred", len(c.files))
	}
}
