package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardenproject/warden/internal/detect/detecttest"
)

// The labelled set testdata/secrets.jsonl holds documents with the secrets
// in them marked by type and byte span, one JSON object a line:
//
//	{"id": "...", "text": "...", "findings": [{"type": "...", "start": 0, "end": 0}]}
//
// It is generated from the rule table's examples, more contexts, and
// hard negatives below, with a fixed seed, so its keys are fake but well
// formed (checksums included). Every string value (id, text, type) is
// stored ROT13-encoded, which keeps byte offsets and hides the fake keys,
// and the provider names next to them, from secret scanners (and push
// protection) that would otherwise flag the repository; decode with
// tr 'A-Za-z' 'N-ZA-Mn-za-m'. Regenerate after changing the rules with
//
//	go test ./internal/detect -run TestSecretsLabelledSet -update

const labelledSetPath = "testdata/secrets.jsonl"

// labelledSeed fixes the set's random values.
const labelledSeed = 20250601

// The -update flag may be registered by another golden-file test of this
// package too; whichever registers it first, both read it.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated test data and golden files")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

type labelledDoc struct {
	ID       string  `json:"id"`
	Text     string  `json:"text"`
	Findings []label `json:"findings"`
}

type label struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// contexts place an example in a larger document; %s is the example.
var contexts = []string{
	"%s",
	"# settings for the staging deploy\n%s\n",
	"Hi, my script fails with 401, here is the config:\n\n```\n%s\n```\n\nAny idea why?",
	"2025-05-04T10:11:12Z DEBUG loaded environment\n%s\n2025-05-04T10:11:13Z INFO ready",
	"<p>Paste this into your shell:</p>\n<pre>\n%s\n</pre>",
	"diff --git a/.env b/.env\n+%s\n",
	"Translate to French: « %s »",
}

// hardNegatives are documents without secrets that look like they might
// have some: keywords in prose and code, hashes, identifiers, lookalike
// prefixes and placeholders.
var hardNegatives = []string{
	"The key to a good API is a small surface.",
	"Pass the token to the next stage; the parser will handle it.",
	"We compared Azure and AWS pricing together with the Mistral and Cohere plans.",
	"The monkey and the turkey went to the market in Asia.",
	"Password managers help; reuse of passwords does not.",
	"for key, value := range headers {\n\treq.Header.Set(key, value)\n}",
	`token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")`,
	`if password == "" { return errMissingPassword }`,
	`secret, err := vault.Get(ctx, "kv/data/billing/stripe")`,
	`apiKey := os.Getenv("OPENAI_API_KEY")`,
	"KEY_SIZE = 2048\nAUTH_METHOD = oauth2",
	"api_key: ${{ secrets.OPENAI_API_KEY }}",
	"GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
	"OPENAI_API_KEY=sk-...",
	"AWS_SECRET_ACCESS_KEY=<secret>",
	"password: changeme",
	"api_key: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	"token: YOUR_TOKEN_HERE",
	"request_id: {h:8}-{h:4}-4{h:3}-a{h:3}-{h:12}",
	"commit {h:40}\nAuthor: Dev <dev@acme.test>",
	"image: registry.acme.test/app@sha256:{h:64}",
	`"integrity": "sha512-{b:86}=="`,
	`<img src="data:image/png;base64,{b:120}">`,
	"from sklearn.model_selection import train_test_split  # sk-learn",
	"hf_hub_download(repo_id=\"org/model\", filename=\"config.json\")",
	"Classic tokens start with ghp_ and bot tokens with xoxb-.",
	"Every JWT header starts with eyJ, the base64 of {\".",
	"Warden keys look like wdn_ followed by 40 characters.",
	"wdn_{A:40}",
	"The AKIA prefix marks long-term AWS keys; ASIA marks temporary ones.",
	"keyboard_layout = \"us-international-alternative\"",
	"tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)",
	"auth: authenticationMiddlewareHandler,",
	"secret_name: production-database-password",
	"public_key = \"{b:60}\"",
	"ssh_key_path: /home/deploy/.ssh/id_ed25519",
	"token_url = \"https://oauth2.googleapis.com/token\"",
	"-----BEGIN CERTIFICATE-----\n{b:64}\n{b:64}\n{b:20}==\n-----END CERTIFICATE-----",
	"-----BEGIN PUBLIC KEY-----\n{b:64}\n{b:24}\n-----END PUBLIC KEY-----",
	"Run `ssh-keygen -t ed25519` to make a new private key.",
	"session_timeout_seconds = 3600\nmax_tokens = 4096",
	"md5: {h:32}  azure-cli-2.61.0.tar.gz",
	"azure_tenant_id: {h:32}\nazure_subscription: {h:32}",
	"AZURE_CLIENT_ID={h:32}",
	"mistral-7b-instruct-v0.3 sha1 {h:40}",
	"The deepseek-r1 paper and the deepseek-v3 report.",
	"SKU-{d:8} ships together with SKU-{d:8}.",
	"Laws and draws: {b:40} is just base64 in a sentence about jaws.",
	`password_hash: "$2b$12${b:53}"`,
	"secret_ref: projects/acme/secrets/db-password/versions/latest",
	"api_key_env: OPENAI_API_KEY_PRODUCTION",
	"auth_url: https://login.microsoftonline.com/{h:8}-{h:4}-{h:4}-{h:4}-{h:12}/oauth2/v2.0/token",
	`secretKeyRef: {name: app-secrets, key: stripe-api-key}`,
	"keyFunc: jwt.ParseWithClaims(tokenString, claims, keyFunc)",
}

// generateLabelledSet builds the set from the rule table and the lists
// above.
func generateLabelledSet(tb testing.TB) []labelledDoc {
	g := detecttest.NewGen(labelledSeed)
	var docs []labelledDoc
	add := func(id, tmpl, typ string) {
		ctx := contexts[g.IntN(len(contexts))]
		before, after, _ := strings.Cut(ctx, "%s")
		text, spans := g.Expand(tb, tmpl)
		doc := labelledDoc{ID: id, Text: before + text + after}
		for _, s := range spans {
			doc.Findings = append(doc.Findings, label{typ, s.Start + len(before), s.End + len(before)})
		}
		docs = append(docs, doc)
	}
	for _, r := range rules {
		for i, tmpl := range r.Positives {
			for k := range 4 {
				add(fmt.Sprintf("%s/positive/%d/%d", r.ID, i, k), tmpl, r.ID)
			}
		}
		for i, tmpl := range r.Negatives {
			for k := range 2 {
				add(fmt.Sprintf("%s/negative/%d/%d", r.ID, i, k), tmpl, r.ID)
			}
		}
	}
	for i, tmpl := range hardNegatives {
		for k := range 2 {
			add(fmt.Sprintf("hard-negative/%d/%d", i, k), tmpl, "")
		}
	}
	// Documents with several secrets of different kinds, one a line.
	for i := range 40 {
		doc := labelledDoc{ID: fmt.Sprintf("mixed/%d", i)}
		for range 2 + g.IntN(3) {
			r := rules[g.IntN(len(rules))]
			text, spans := g.Expand(tb, r.Positives[g.IntN(len(r.Positives))])
			for _, s := range spans {
				doc.Findings = append(doc.Findings, label{r.ID, s.Start + len(doc.Text), s.End + len(doc.Text)})
			}
			doc.Text += text + "\n"
		}
		docs = append(docs, doc)
	}
	return docs
}

func rot13(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + (c-'a'+13)%26
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + (c-'A'+13)%26
		}
	}
	return string(b)
}

// rot13Doc encodes or decodes the strings of d (ROT13 is its own
// inverse).
func rot13Doc(d labelledDoc) labelledDoc {
	out := labelledDoc{ID: rot13(d.ID), Text: rot13(d.Text)}
	for _, l := range d.Findings {
		out.Findings = append(out.Findings, label{rot13(l.Type), l.Start, l.End})
	}
	return out
}

func encodeLabelledSet(tb testing.TB, docs []labelledDoc) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(rot13Doc(d)); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readLabelledSet(tb testing.TB) []labelledDoc {
	f, err := os.Open(labelledSetPath)
	if err != nil {
		tb.Fatalf("%v (generate it with -update)", err)
	}
	defer f.Close()
	var docs []labelledDoc
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d labelledDoc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			tb.Fatalf("%s line %d: %v", labelledSetPath, len(docs)+1, err)
		}
		docs = append(docs, rot13Doc(d))
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return docs
}

// TestSecretsLabelledSet measures precision and recall per rule on the
// labelled set. Rules backed by a prefix or a checksum must reach 0.95 on
// both; rules that depend on a nearby word, and generic_secret, are
// reported only.
func TestSecretsLabelledSet(t *testing.T) {
	generated := encodeLabelledSet(t, generateLabelledSet(t))
	if updating() {
		if err := os.MkdirAll(filepath.Dir(labelledSetPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(labelledSetPath, generated, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(labelledSetPath)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	if !bytes.Equal(stored, generated) {
		t.Fatalf("%s is out of date with the rule table; regenerate it with -update", labelledSetPath)
	}
	docs := readLabelledSet(t)
	if len(docs) < 300 {
		t.Fatalf("%d documents, want at least 300", len(docs))
	}

	type counts struct{ tp, fp, fn int }
	per := map[string]*counts{}
	for _, r := range rules {
		per[r.ID] = &counts{}
	}
	d := NewSecrets(SecretsOptions{Generic: true})
	for _, doc := range docs {
		got := Resolve(d.Detect(nil, doc.Text))
		matched := make([]bool, len(doc.Findings))
		for _, f := range got {
			i := slices.IndexFunc(doc.Findings, func(l label) bool {
				return l.Type == f.Type && l.Start == f.Start && l.End == f.End
			})
			if i >= 0 && !matched[i] {
				matched[i] = true
				per[f.Type].tp++
				continue
			}
			per[f.Type].fp++
			t.Logf("%s: unexpected %s", doc.ID, describe([]Finding{f}, doc.Text))
		}
		for i, l := range doc.Findings {
			if !matched[i] {
				per[l.Type].fn++
				t.Logf("%s: missed %s[%d:%d]", doc.ID, l.Type, l.Start, l.End)
			}
		}
	}

	var total counts
	t.Logf("%-22s %5s %5s %5s %9s %7s", "rule", "tp", "fp", "fn", "precision", "recall")
	for _, r := range rules {
		c := per[r.ID]
		total.tp += c.tp
		total.fp += c.fp
		total.fn += c.fn
		p, rc := ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn)
		t.Logf("%-22s %5d %5d %5d %9.3f %7.3f", r.ID, c.tp, c.fp, c.fn, p, rc)
		if c.tp+c.fn == 0 {
			t.Errorf("%s: no labelled examples", r.ID)
		}
		if !r.near && r.ID != GenericSecret && (p < 0.95 || rc < 0.95) {
			t.Errorf("%s: precision %.3f, recall %.3f; want at least 0.95 for a prefix or checksum rule", r.ID, p, rc)
		}
	}
	t.Logf("%-22s %5d %5d %5d %9.3f %7.3f (%d documents)", "all", total.tp, total.fp, total.fn,
		ratio(total.tp, total.tp+total.fp), ratio(total.tp, total.tp+total.fn), len(docs))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
