package detect

import (
	"regexp"
	"regexp/syntax"
	"strings"
)

// A Rule describes one kind of secret: how to find candidates cheaply, how
// to match them exactly, and how to tell a real one from look-alike text.
// The secret detector ([NewSecrets]) runs the rules; a repository scanner
// and the documentation read them through [Rules].
//
// Every rule carries examples of what it must and must not find. The tests
// expand and run all of them, so a rule cannot be added untested.
type Rule struct {
	// ID names the rule and is the Type of its findings ("openai_key").
	ID string
	// Description says in a sentence what the rule finds.
	Description string
	// Keywords are lower-case literals, one of which occurs (in any ASCII
	// case) in or near every match. Text without any of them is never
	// given to Regexp: that is the pre-filter.
	Keywords []string
	// Regexp matches a candidate (RE2 syntax, so matching takes linear
	// time). The secret is the first group named "secret" that took part
	// in the match (alternatives may each have one); other text in the
	// match is context, such as the variable a value is assigned to.
	Regexp *regexp.Regexp
	// MinEntropy, if set, is the least Shannon entropy (bits per byte, see
	// [ShannonEntropy]) a secret must have; lower means a word, an
	// identifier or a placeholder.
	MinEntropy float64
	// Validate, if set, checks the secret's checksum or structure: ok is
	// false to drop a candidate, verified is true when a checksum or a
	// decoded structure confirms it.
	Validate func(secret string) (ok, verified bool)
	// Confidence is the confidence of an unverified finding; verified
	// findings get [VerifiedConfidence].
	Confidence float64

	// Positives are texts that contain a secret of this kind, marked
	// with « and »; Negatives are texts in which nothing may be found.
	// Both are templates, so that no key-like string is written into the
	// source: {X:n} stands for n random characters from alphabet X (A
	// base62, a lower-case letters and digits, U upper-case letters and
	// digits, L letters, h lower-case hex, H upper-case hex, d digits, b
	// base64, u base64url); {gh} for a GitHub token body with its CRC32
	// tail; {wdn} for a Warden key; {jwt} for a signed JSON Web Token;
	// {pem:LABEL} for a PEM block and {pemjson:LABEL} for the same as a
	// JSON string. Everything else, including a { that starts none of
	// these, is literal.
	Positives, Negatives []string

	// before and after bound the window around a keyword occurrence in
	// which Regexp runs: from before bytes ahead of the keyword to after
	// bytes past its end.
	before, after int
	// span, if set, replaces before and after: it returns the window for
	// the keyword at text[start:end], or ok false when a cheap look at
	// the text shows no match can be there, which saves running Regexp.
	span func(text string, start, end int) (w window, ok bool)
	// anchored says a match starts at its keyword, so a keyword glued to
	// the end of a longer word (the "sk" in "task") is passed over
	// without running Regexp.
	anchored bool
	// near says the keywords are context around the secret rather than
	// part of it ("azure" near a 32-digit hex key).
	near bool
	// alpha holds the bytes that may continue a secret. A match with one
	// of them just before or just after it is part of a longer token and
	// is dropped. leftAlpha, if set, replaces alpha for the byte before.
	alpha, leftAlpha *[256]bool
	// anyValue turns off the placeholder check, for rules whose secrets
	// are verified otherwise or are not single tokens (PEM blocks).
	anyValue bool
	// accept, if set, judges a match by its surroundings.
	accept func(candidate) bool

	// secretGroups and nameGroup are the submatch indexes of the groups
	// named "secret" and "name" (-1 if there is none).
	secretGroups []int
	nameGroup    int
	// runs is set for context rules whose secrets use only bytes in
	// alpha, between minLen and maxLen of them (see Rule.findRuns).
	runs           bool
	minLen, maxLen int
	// mergeLimit bounds how long a window grows by merging the windows
	// of nearby keywords.
	mergeLimit int
}

// candidate is a match and the text around it, for Rule.accept.
type candidate struct {
	secret string
	// name is the group named "name": the variable a value is assigned
	// to.
	name string
	// before is up to 40 bytes of the secret's line before it.
	before string
	// next is the byte after the secret, 0 at the end of the text.
	next byte
}

// VerifiedConfidence is the confidence of a finding whose checksum or
// structure was confirmed.
const VerifiedConfidence = 0.99

// GenericSecret is the ID of the fallback rule that finds high-entropy
// values assigned to names such as api_key or password. It runs only when
// asked for ([SecretsOptions.Generic]) and yields to every specific rule.
const GenericSecret = "generic_secret"

// Context rules look this far, in bytes, on either side of a keyword for
// the secret it announces: the rest of an assignment, a JSON object's
// neighbouring fields, a few lines of a credentials file.
const nearReach = 160

// Character sets that may continue a token, for the boundary check.
var (
	alnum          = charset("A-Za-z0-9")
	base64URLChars = charset("A-Za-z0-9_-")
	alnumUnder     = charset("A-Za-z0-9_")
	base64Chars    = charset("A-Za-z0-9+/=")
	valueChars     = charset("A-Za-z0-9+/=_.~-")
	noChars        = charset("")
)

// charset returns the set of bytes listed in spec, where "a-z" is a range.
func charset(spec string) *[256]bool {
	var set [256]bool
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' {
			for c := int(spec[i]); c <= int(spec[i+2]); c++ {
				set[c] = true
			}
			i += 2
			continue
		}
		set[spec[i]] = true
	}
	return &set
}

// rules is the table, in the order findings of equal standing are
// preferred. It is built once; every detector shares the compiled rules.
var rules = compileRules([]Rule{
	{
		ID:          "openai_key",
		Description: "OpenAI API key: a project, service-account or admin key (sk-proj-, sk-svcacct-, sk-admin-), or a legacy sk- key with the T3BlbkFJ marker.",
		Keywords:    []string{"sk-proj-", "sk-svcacct-", "sk-admin-", "sk-none-", "t3blbkfj"},
		Regexp:      regexp.MustCompile(`(?P<secret>sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,200}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})`),
		MinEntropy:  3.5,
		// T3BlbkFJ is base64 for "OpenAI": random text does not carry it.
		Validate:   func(s string) (bool, bool) { return true, strings.Contains(s, "T3BlbkFJ") },
		Confidence: 0.9,
		Positives: []string{
			`OPENAI_API_KEY=«sk-proj-{u:74}T3BlbkFJ{u:74}»`,
			`client = OpenAI(api_key="«sk-{A:20}T3BlbkFJ{A:20}»")`,
			`{"name": "batch-runner", "key": "«sk-svcacct-{u:74}T3BlbkFJ{u:74}»"}`,
			`curl https://api.openai.com/v1/organization/users -H "Authorization: Bearer «sk-admin-{u:58}T3BlbkFJ{u:58}»"`,
			`openai.api_key = '«sk-proj-{A:48}»'`,
		},
		Negatives: []string{
			`OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`Set OPENAI_API_KEY to your key (it starts with sk-proj-...).`,
			`export OPENAI_API_KEY="sk-your-api-key-here"`,
			`key := "sk-proj-" + suffix`,
			`the key looked like sk-proj-{A:20} before it was cut`,
		},
		before: 23, after: 210,
		alpha: base64URLChars,
	},
	{
		ID:          "anthropic_key",
		Description: "Anthropic API or admin key (sk-ant-api03-, sk-ant-admin01-).",
		Keywords:    []string{"sk-ant-"},
		Regexp:      regexp.MustCompile(`(?P<secret>sk-ant-(?:api|admin|oat)[0-9]{2}-[A-Za-z0-9_-]{80,120})`),
		MinEntropy:  3.5,
		Confidence:  0.95,
		Positives: []string{
			`ANTHROPIC_API_KEY=«sk-ant-api03-{u:93}AA»`,
			`curl https://api.anthropic.com/v1/messages -H "x-api-key: «sk-ant-api03-{u:93}AA»"`,
			`admin_key: «sk-ant-admin01-{u:93}AA»`,
		},
		Negatives: []string{
			`ANTHROPIC_API_KEY=sk-ant-api03-...`,
			`ANTHROPIC_API_KEY="sk-ant-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"`,
			`sk-ant-api03-{A:20}`,
		},
		after: 140, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "huggingface_token",
		Description: "Hugging Face user access token (hf_ and 34 or more letters and digits).",
		Keywords:    []string{"hf_"},
		Regexp:      regexp.MustCompile(`(?P<secret>hf_[A-Za-z0-9]{34,40})`),
		MinEntropy:  3.5,
		// Tokens mix upper and lower case; long snake_case names after an
		// hf_ prefix do not.
		Validate:   func(s string) (bool, bool) { return hasUpper(s[3:]) && hasLower(s[3:]), false },
		Confidence: 0.9,
		Positives: []string{
			`HF_TOKEN=«hf_{L:34}»`,
			`huggingface-cli login --token «hf_{L:34}»`,
			`from huggingface_hub import login; login("«hf_{A:37}»")`,
		},
		Negatives: []string{
			`HF_TOKEN=hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`from huggingface_hub import hf_hub_download`,
			`hf_downloadpretrainedcheckpointsfromhub`,
		},
		after: 45, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "google_api_key",
		Description: "Google API key (AIza and 35 characters), used by Gemini, Maps and other Google APIs.",
		Keywords:    []string{"aiza"},
		Regexp:      regexp.MustCompile(`(?P<secret>AIza[A-Za-z0-9_-]{35})`),
		MinEntropy:  3.5,
		Confidence:  0.9,
		Positives: []string{
			`GEMINI_API_KEY=«AIza{u:35}»`,
			`<script src="https://maps.googleapis.com/maps/api/js?key=«AIza{u:35}»&callback=initMap"></script>`,
		},
		Negatives: []string{
			`GOOGLE_API_KEY=AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`,
			`a truncated key, AIza{u:20}, is not a key`,
			`Asia and Aizawl are places, not keys.`,
		},
		after: 40, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "azure_openai_key",
		Description: "Azure OpenAI key: 32 hex digits near the word azure.",
		Keywords:    []string{"azure"},
		Regexp:      regexp.MustCompile(`(?P<secret>[a-fA-F0-9]{32})`),
		MinEntropy:  3.0,
		Validate:    func(s string) (bool, bool) { return hasLetter(s) && hasDigit(s), false },
		Confidence:  0.7,
		Positives: []string{
			`AZURE_OPENAI_API_KEY=«{h:32}»`,
			`{"endpoint": "https://contoso.openai.azure.com/", "api_key": "«{h:32}»"}`,
		},
		Negatives: []string{
			`AZURE_OPENAI_API_KEY=00000000000000000000000000000000`,
			`md5 of the upload: {h:32}`,
			`azure subscription {h:8}-{h:4}-{h:4}-{h:4}-{h:12}`,
		},
		before: nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  alnum,
	},
	{
		ID:          "cohere_key",
		Description: "Cohere API key: 40 letters and digits near the word cohere.",
		Keywords:    []string{"cohere"},
		Regexp:      regexp.MustCompile(`(?P<secret>[A-Za-z0-9]{40})`),
		MinEntropy:  3.5,
		// Keys mix cases and digits; git object names (40 hex) do not.
		Validate:   func(s string) (bool, bool) { return hasUpper(s) && hasLower(s) && hasDigit(s), false },
		Confidence: 0.75,
		Positives: []string{
			`COHERE_API_KEY=«{A:40}»`,
			`co = cohere.ClientV2("«{A:40}»")`,
		},
		Negatives: []string{
			`The refactor is coherent with commit {h:40}.`,
			`COHERE_API_KEY=your-cohere-api-key`,
			`github.com/cohere-ai/cohere-go/v2 v2.12.0 h1:{b:4}+{A:40}/{b:8}=`,
			`"node_modules/cohere-ai": {"integrity": "sha512-{b:6}/{A:40}+{b:20}=="}`,
		},
		before: nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  alnum,
	},
	{
		ID:          "mistral_key",
		Description: "Mistral AI API key: 32 letters and digits near the word mistral.",
		Keywords:    []string{"mistral"},
		Regexp:      regexp.MustCompile(`(?P<secret>[A-Za-z0-9]{32})`),
		MinEntropy:  3.5,
		Validate:    func(s string) (bool, bool) { return hasUpper(s) && hasLower(s) && hasDigit(s), false },
		Confidence:  0.7,
		Positives: []string{
			`MISTRAL_API_KEY=«{A:32}»`,
			`client = Mistral(api_key="«{A:32}»")`,
		},
		Negatives: []string{
			`mistral-large weights, md5 {h:32}`,
			`MISTRAL_API_KEY=<your mistral key>`,
			`github.com/gage-technologies/mistral-go v1.1.0 h1:{b:4}+{A:32}/{b:6}=`,
			`"@mistralai/mistralai": {"resolved": "x", "integrity": "sha512-{b:5}/{A:32}+{b:40}=="}`,
		},
		before: nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  alnum,
	},
	{
		ID:          "groq_key",
		Description: "Groq API key (gsk_ and 52 letters and digits).",
		Keywords:    []string{"gsk_"},
		Regexp:      regexp.MustCompile(`(?P<secret>gsk_[A-Za-z0-9]{52})`),
		MinEntropy:  3.5,
		Confidence:  0.95,
		Positives:   []string{`GROQ_API_KEY=«gsk_{A:52}»`, `client = Groq(api_key="«gsk_{A:52}»")`},
		Negatives:   []string{`GROQ_API_KEY=gsk_...`, `gsk_{A:30} is too short for a key`},
		after:       57, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "replicate_token",
		Description: "Replicate API token (r8_ and 37 letters and digits).",
		Keywords:    []string{"r8_"},
		Regexp:      regexp.MustCompile(`(?P<secret>r8_[A-Za-z0-9]{37})`),
		MinEntropy:  3.5,
		Confidence:  0.9,
		Positives:   []string{`REPLICATE_API_TOKEN=«r8_{A:37}»`, `export REPLICATE_API_TOKEN='«r8_{A:37}»'`},
		Negatives:   []string{`REPLICATE_API_TOKEN=r8_****`, `register r8_{A:12} holds the loop counter`},
		after:       41, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "perplexity_key",
		Description: "Perplexity API key (pplx- and 48 letters and digits).",
		Keywords:    []string{"pplx-"},
		Regexp:      regexp.MustCompile(`(?P<secret>pplx-[A-Za-z0-9]{48})`),
		MinEntropy:  3.5,
		Confidence:  0.95,
		Positives:   []string{`PERPLEXITY_API_KEY=«pplx-{A:48}»`, `-H "Authorization: Bearer «pplx-{A:48}»"`},
		Negatives:   []string{`PERPLEXITY_API_KEY=pplx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`, `pplx-api docs`},
		after:       54, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "xai_key",
		Description: "xAI (Grok) API key (xai- and 80 letters and digits).",
		Keywords:    []string{"xai-"},
		Regexp:      regexp.MustCompile(`(?P<secret>xai-[A-Za-z0-9]{80})`),
		MinEntropy:  3.5,
		Confidence:  0.95,
		Positives:   []string{`XAI_API_KEY=«xai-{A:80}»`, `{"api_key": "«xai-{A:80}»", "model": "grok-4"}`},
		Negatives:   []string{`XAI_API_KEY=xai-...`, `the xai-sdk package`},
		after:       85, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "deepseek_key",
		Description: "DeepSeek API key: sk- and 32 hex digits near the word deepseek.",
		Keywords:    []string{"deepseek"},
		Regexp:      regexp.MustCompile(`(?P<secret>sk-[a-f0-9]{32})`),
		MinEntropy:  3.0,
		Confidence:  0.85,
		Positives: []string{
			`DEEPSEEK_API_KEY=«sk-{h:32}»`,
			`client = OpenAI(api_key="«sk-{h:32}»", base_url="https://api.deepseek.com")`,
		},
		Negatives: []string{`DEEPSEEK_API_KEY=sk-00000000000000000000000000000000`, `sk-{h:32} with no provider named`},
		before:    nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  base64URLChars,
	},
	{
		ID:          "together_key",
		Description: "Together AI API key: tgp_v1_ and 43 characters, or 64 hex digits near the word together.",
		Keywords:    []string{"tgp_v1_", "together"},
		Regexp:      regexp.MustCompile(`(?P<secret>tgp_v1_[A-Za-z0-9_-]{43}|[a-f0-9]{64})`),
		MinEntropy:  3.0,
		Confidence:  0.75,
		Positives:   []string{`TOGETHER_API_KEY=«tgp_v1_{u:43}»`, `TOGETHER_API_KEY=«{h:64}»`},
		Negatives:   []string{`We worked together on it for a week.`, `TOGETHER_API_KEY=tgp_v1_xxxxxxxx`},
		before:      nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  base64URLChars,
	},
	{
		ID:          "fireworks_key",
		Description: "Fireworks AI API key (fw_ and 24 or more letters and digits).",
		Keywords:    []string{"fw_"},
		Regexp:      regexp.MustCompile(`(?P<secret>fw_[A-Za-z0-9]{24,48})`),
		MinEntropy:  3.5,
		// Keys mix cases and digits; firmware identifiers (fw_...) are
		// words.
		Validate:   func(s string) (bool, bool) { return hasUpper(s) && hasLower(s) && hasDigit(s), false },
		Confidence: 0.85,
		Positives:  []string{`FIREWORKS_API_KEY=«fw_{A:24}»`, `fireworks.client.api_key = "«fw_{A:24}»"`},
		Negatives:  []string{`fw_UpdateFirmwareImageNow`, `FIREWORKS_API_KEY=fw_xxxxxxxxxxxxxxxxxxxxxxxx`},
		after:      52, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "openrouter_key",
		Description: "OpenRouter API key (sk-or-v1- and 64 hex digits).",
		Keywords:    []string{"sk-or-v1-"},
		Regexp:      regexp.MustCompile(`(?P<secret>sk-or-v1-[a-f0-9]{64})`),
		MinEntropy:  3.0,
		Confidence:  0.95,
		Positives:   []string{`OPENROUTER_API_KEY=«sk-or-v1-{h:64}»`, `Authorization: Bearer «sk-or-v1-{h:64}»`},
		Negatives:   []string{`OPENROUTER_API_KEY=sk-or-v1-...`, `OPENROUTER_API_KEY=sk-or-v1-0000000000000000000000000000000000000000000000000000000000000000`},
		after:       74, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "aws_access_key_id",
		Description: "AWS access key ID (AKIA or ASIA and 16 upper-case letters and digits).",
		Keywords:    []string{"akia", "asia", "abia", "acca"},
		Regexp:      regexp.MustCompile(`(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})`),
		MinEntropy:  3.0,
		Confidence:  0.9,
		Positives: []string{
			`aws_access_key_id = «AKIA{U:16}»`,
			`{"AccessKeyId": "«ASIA{U:16}»", "Expiration": "2030-01-01T00:00:00Z"}`,
		},
		Negatives: []string{
			// AWS's documented example key, and a nonsense upper-case word.
			`aws_access_key_id = AKIA` + `IOSFODNN7EXAMPLE`,
			`region = "ASIA_PACIFIC_SOUTH_1"`,
			`Travel in Asia: AKIA{U:8} is too short.`,
		},
		after: 21, anchored: true,
		alpha: alnum,
	},
	{
		ID:          "aws_secret_access_key",
		Description: "AWS secret access key: 40 base64 characters near aws or secret_access_key.",
		Keywords:    []string{"aws", "secret_access_key", "secretaccesskey", "secret-access-key"},
		Regexp:      regexp.MustCompile(`(?P<secret>[A-Za-z0-9/+]{40})`),
		MinEntropy:  4.0,
		// Secret keys mix cases and digits; a git object name (40 hex)
		// next to the word aws does not.
		Validate:   func(s string) (bool, bool) { return hasUpper(s) && hasLower(s) && hasDigit(s), false },
		Confidence: 0.8,
		Positives: []string{
			`aws_secret_access_key = «{b:40}»`,
			`{"AccessKeyId": "ASIA-REDACTED", "SecretAccessKey": "«{b:40}»"}`,
			`AWS_SECRET_ACCESS_KEY="«{b:40}»"`,
		},
		Negatives: []string{
			// AWS's documented example secret key.
			`aws_secret_access_key = ` + `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`,
			`aws s3 sync build/ s3://bucket --exclude {h:40}`,
			`The laws were drafted in 1998.`,
		},
		before: nearReach, after: nearReach, near: true,
		accept: notDigestOrID,
		alpha:  base64Chars,
	},
	{
		ID:          "github_token",
		Description: "GitHub token: classic (ghp_, gho_, ghu_, ghs_, ghr_ with a CRC32 checksum tail, verified) or fine-grained (github_pat_).",
		Keywords:    []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		Regexp:      regexp.MustCompile(`(?P<secret>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})`),
		MinEntropy:  3.5,
		Validate:    checkGitHubToken,
		Confidence:  0.8,
		Positives: []string{
			`GITHUB_TOKEN=«ghp_{gh}»`,
			`git clone https://«gho_{gh}»@github.com/acme/app.git`,
			`token: «ghs_{A:36}»`,
			`GH_TOKEN=«github_pat_{A:22}_{A:59}»`,
		},
		Negatives: []string{
			`GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`,
			`GITHUB_TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyz`,
			`ghp_{A:20}`,
		},
		after: 95, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "gitlab_token",
		Description: "GitLab token (glpat-, gldt-, glrt-, glptt- and other gl*- prefixes).",
		Keywords:    []string{"glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-", "glcbt-"},
		Regexp:      regexp.MustCompile(`(?P<secret>gl(?:pat|dt|rt|ptt|ft|soat|cbt)-[A-Za-z0-9_-]{20,64}(?:\.[0-9a-z]{2}\.[0-9a-z]{9})?)`),
		MinEntropy:  3.5,
		Confidence:  0.9,
		Positives: []string{
			`GITLAB_TOKEN=«glpat-{u:20}»`,
			`git remote add origin https://oauth2:«glpat-{u:27}.01.{a:9}»@gitlab.com/acme/app.git`,
			`CI_DEPLOY_TOKEN=«gldt-{u:20}»`,
		},
		Negatives: []string{`GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx`, `GITLAB_TOKEN=glpat-<token>`},
		after:     80, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "slack_token",
		Description: "Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-) or incoming-webhook URL.",
		Keywords:    []string{"xox", "hooks.slack.com"},
		Regexp:      regexp.MustCompile(`(?P<secret>xox(?:[abprs]|e(?:\.xox[bp])?)-[0-9]{1,14}-[0-9A-Za-z-]{10,160}|https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{8,12}/[A-Z0-9]{8,12}/[A-Za-z0-9/]{16,80})`),
		MinEntropy:  3.0,
		Confidence:  0.95,
		Positives: []string{
			`SLACK_BOT_TOKEN=«xoxb-{d:12}-{d:13}-{A:24}»`,
			`slack_user_token: «xoxp-{d:12}-{d:12}-{d:13}-{h:32}»`,
			`curl -X POST -d @msg.json «https://hooks.slack.com/services/T{U:10}/B{U:10}/{A:24}»`,
		},
		Negatives: []string{
			`SLACK_BOT_TOKEN=xoxb-your-bot-token`,
			`https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`,
			`xoxb-1234-abcd`,
		},
		before: 8, after: 180,
		alpha: base64URLChars,
	},
	{
		ID:          "stripe_key",
		Description: "Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_).",
		Keywords:    []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_"},
		Regexp:      regexp.MustCompile(`(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{20,247})`),
		MinEntropy:  3.5,
		Confidence:  0.9,
		Positives: []string{
			`STRIPE_SECRET_KEY=«sk_live_{A:24}»`,
			`Stripe.api_key = "«rk_live_{A:99}»"`,
			`stripe.api_key = '«sk_test_{A:24}»'`,
		},
		Negatives: []string{
			`STRIPE_SECRET_KEY=sk_live_xxxxxxxxxxxxxxxxxxxxxxxx`,
			`STRIPE_SECRET_KEY=sk_test_...`,
			`publishable: pk_live_{A:24}`,
		},
		after: 260, anchored: true,
		alpha: alnumUnder,
	},
	{
		ID:          "twilio_key",
		Description: "Twilio API key SID (SK and 32 hex digits).",
		Keywords:    []string{"sk"},
		Regexp:      regexp.MustCompile(`(?P<secret>SK[0-9a-f]{32})`),
		MinEntropy:  3.0,
		Validate:    func(s string) (bool, bool) { return hasLetter(s[2:]) && hasDigit(s[2:]), false },
		Confidence:  0.75,
		Positives:   []string{`TWILIO_API_KEY=«SK{h:32}»`, `client = Client("«SK{h:32}»", api_secret, account_sid)`},
		Negatives:   []string{`TWILIO_API_KEY=SK00000000000000000000000000000000`, `Ask the desk for SKU 12345; skip the rest.`},
		after:       35, anchored: true,
		alpha: alnum,
	},
	{
		ID:          "sendgrid_key",
		Description: "SendGrid API key (SG., 22 characters, a dot, 43 characters).",
		Keywords:    []string{"sg."},
		Regexp:      regexp.MustCompile(`(?P<secret>SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})`),
		MinEntropy:  3.5,
		Confidence:  0.95,
		Positives:   []string{`SENDGRID_API_KEY=«SG.{u:22}.{u:43}»`, `sg = SendGridAPIClient('«SG.{u:22}.{u:43}»')`},
		Negatives:   []string{`SENDGRID_API_KEY=SG.xxxxxxxxxxxxxxxxxxxxxx.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx`, `See the Singapore office (SG. branch).`},
		after:       70, anchored: true,
		alpha: base64URLChars,
	},
	{
		ID:          "gcp_service_account",
		Description: `Google Cloud service-account key: the private_key of a JSON object with "type": "service_account".`,
		Keywords:    []string{"service_account"},
		Regexp:      regexp.MustCompile(`"private_key"\s*:\s*"(?P<secret>-----BEGIN[ A-Z0-9]*PRIVATE KEY-----[A-Za-z0-9+/=\\\s]+?-----END[ A-Z0-9]*PRIVATE KEY-----)`),
		Validate:    checkPrivateKey,
		Confidence:  0.95,
		Positives: []string{
			`{"type": "service_account", "project_id": "demo-project", "private_key_id": "{h:40}", "private_key": "«{pemjson:PRIVATE KEY}»\n", "client_email": "runner@demo-project.iam.gserviceaccount.com"}`,
		},
		Negatives: []string{
			`{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n"}`,
			`{"type": "service_account", "client_email": "runner@demo-project.iam.gserviceaccount.com"}`,
		},
		near: true, span: serviceAccountSpan,
		alpha:    noChars,
		anyValue: true,
	},
	{
		ID:          "private_key",
		Description: "PEM private key block (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted PKCS#8, PGP).",
		Keywords:    []string{"-----begin"},
		Regexp:      regexp.MustCompile(`(?P<secret>-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\:,.()'"-]+?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----)`),
		Validate:    checkPrivateKey,
		Confidence:  0.9,
		Positives: []string{
			"«{pem:RSA PRIVATE KEY}»",
			"key.pem:\n«{pem:PRIVATE KEY}»\n",
			"«{pem:EC PRIVATE KEY}»",
			"«{pem:OPENSSH PRIVATE KEY}»",
			"«{pem:PGP PRIVATE KEY BLOCK}»",
			`const key = "«{pemjson:PRIVATE KEY}»"`,
			// Legacy encrypted PEM, with RFC 1421 headers.
			"«-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,{H:32}\n\n{b:64}\n{b:64}\n{b:44}==\n-----END RSA PRIVATE KEY-----»",
		},
		Negatives: []string{
			"-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
			"-----BEGIN RSA PRIVATE KEY-----\n<your key here>\n-----END RSA PRIVATE KEY-----",
			"-----BEGIN CERTIFICATE-----\n{b:64}\n{b:64}\n-----END CERTIFICATE-----",
		},
		anchored: true, span: pemSpan,
		alpha:    noChars,
		anyValue: true,
	},
	{
		ID:          "jwt",
		Description: "JSON Web Token: three base64url parts whose header is JSON with an alg (verified when the payload decodes too).",
		Keywords:    []string{"eyj"},
		Regexp:      regexp.MustCompile(`(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})`),
		Validate:    checkJWT,
		Confidence:  0.85,
		Positives: []string{
			`Authorization: Bearer «{jwt}»`,
			`{"id_token": "«{jwt}»"}`,
		},
		Negatives: []string{
			// The example token shown on jwt.io.
			`eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`,
			`eyJ{u:30}.{u:30}.{u:30}`,
		},
		anchored: true, span: jwtSpan,
		alpha: base64URLChars,
	},
	{
		ID:          "warden_key",
		Description: "Warden virtual key (wdn_ and 40 base62 characters whose last six are a CRC32 checksum, verified).",
		Keywords:    []string{"wdn_"},
		Regexp:      regexp.MustCompile(`(?P<secret>wdn_[A-Za-z0-9]{40})`),
		Validate:    checkWardenKey,
		Confidence:  VerifiedConfidence,
		Positives:   []string{`WARDEN_API_KEY=«{wdn}»`, `Authorization: Bearer «{wdn}»`},
		Negatives:   []string{`WARDEN_API_KEY=wdn_{A:40}`, `WARDEN_API_KEY=wdn_...`},
		after:       45, anchored: true,
		alpha:    alnumUnder,
		anyValue: true,
	},
	{
		ID:          GenericSecret,
		Description: "High-entropy value of 20 or more characters assigned to a name such as api_key, secret, token, password or auth (NAME = \"value\", NAME: value, \"name\": \"value\", NAME=value).",
		Keywords:    []string{"key", "secret", "token", "pass", "pwd", "auth", "credential"},
		// Quoted values are printable ASCII without spaces, so that a
		// space or an invisible character ends a value as it ends a
		// token.
		// A name may be quoted, with the quote escaped inside a JSON
		// string (\"api_key\": \"...\", escaped again when nested), and
		// carry a type annotation
		// (apiKey: string = "...").
		Regexp: regexp.MustCompile(`(?i:(?P<name>[a-z0-9_.-]*(?:key|secret|token|pass(?:word|wd|phrase)?|pwd|auth|credential)[a-z0-9_.-]*))(?:\\{0,3}["'])?` +
			`(?:[ \t]*:[ \t]*[A-Za-z_][A-Za-z0-9_.<>\[\]]*[ \t]*=|[ \t]*(?::=|=>|=|:))[ \t]*` +
			`(?:\\{1,3}"(?P<secret>[\x21\x23-\x5b\x5d-\x7e]{20,})\\{1,3}"|"(?P<secret>[\x21\x23-\x7e]{20,})"|'(?P<secret>[\x21-\x26\x28-\x7e]{20,})'|` +
			"`(?P<secret>[\\x21-\\x5f\\x61-\\x7e]{20,})`|" +
			`(?i:bearer|token|basic)[ \t]+(?P<secret>[A-Za-z0-9+/=_.~-]{20,})|(?P<secret>[A-Za-z0-9+/=_.~-]{20,}))`),
		Confidence: 0.5,
		Positives: []string{
			`DB_PASSWORD="«{A:24}»"`,
			`{"client_secret": "«{u:40}»"}`,
			`{"cell_type": "code", "source": ["DB_PASSWORD = \"«{A:24}»\"\n"]}`,
			`{"settings": "{\"client_secret\": \"«{u:40}»\"}"}`,
			`export const SERVICE_TOKEN: string = "«{h:40}»";`,
			`private readonly apiKey: Record<string> = '«{A:32}»'`,
			`api_key: «{A:32}»`,
			`export SERVICE_TOKEN=«{h:40}»`,
			`const authToken = '«{b:44}»';`,
			`Authorization: Basic «{b:40}»`,
		},
		Negatives: []string{
			`password = "hunter2"`,
			`api_key = os.environ["SERVICE_API_KEY_NAME"]`,
			`token: ${GITHUB_TOKEN_FOR_RELEASES}`,
			`secret_key = "your-secret-key-here-change-me"`,
			`API_KEY=<your api key goes here>`,
			`public_key = "{b:60}"`,
			`token_url = "https://oauth2.googleapis.com/token"`,
			`tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)`,
			`apiKey: config.providers.openai.apiKeyFromEnvironment,`,
			`auth: authenticationMiddlewareHandler2,`,
			`keyboard_layout = "us-international-alternative"`,
			`secret_name: production-database-password`,
			`serverConfig.ClientAuth = RequireAndVerifyClientCert`,
			`const key=kernelThreadName+pid+tid;`,
			`--- PASS: TestOutputWithSubtest/sub_test2 (0.00s)`,
			`env GIT_AUTHOR_EMAIL='release-engineering@example.com'`,
			`config.Certificates[0].PrivateKey = testRSAPSS2048PrivateKey`,
		},
		span: assignmentSpan,
		// The byte before a value is an operator, a quote or a space:
		// "=" there is the assignment, not base64 padding.
		alpha: valueChars, leftAlpha: noChars,
		accept: acceptGeneric,
	},
})

// compileRules fills in what the table leaves implicit and checks what the
// detector relies on; a broken table fails at start-up, not silently.
func compileRules(rs []Rule) []*Rule {
	out := make([]*Rule, len(rs))
	seen := make(map[string]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.ID == "" || seen[r.ID] {
			panic("detect: rule table: missing or duplicate ID " + r.ID)
		}
		seen[r.ID] = true
		if r.alpha == nil {
			panic("detect: rule " + r.ID + ": no token alphabet")
		}
		if r.leftAlpha == nil {
			r.leftAlpha = r.alpha
		}
		r.nameGroup = -1
		for g, name := range r.Regexp.SubexpNames() {
			switch name {
			case "secret":
				r.secretGroups = append(r.secretGroups, g)
			case "name":
				if r.nameGroup < 0 {
					r.nameGroup = g
				}
			}
		}
		if len(r.secretGroups) == 0 {
			panic("detect: rule " + r.ID + ": regexp has no group named secret")
		}
		for _, k := range r.Keywords {
			if k == "" || k != strings.ToLower(k) {
				panic("detect: rule " + r.ID + ": keyword " + k + " is empty or not lower case")
			}
		}
		if r.near {
			r.runs, r.minLen, r.maxLen = secretShape(r.Regexp, r.alpha)
		}
		r.mergeLimit = mergeLimit(r)
		out[i] = r
	}
	return out
}

// Rules returns the rule table, generic_secret last. The slices are copies;
// the regular expressions are shared and safe for concurrent use.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	for i, r := range rules {
		out[i] = *r
		out[i].Keywords = append([]string(nil), r.Keywords...)
		out[i].Positives = append([]string(nil), r.Positives...)
		out[i].Negatives = append([]string(nil), r.Negatives...)
		out[i].secretGroups = append([]int(nil), r.secretGroups...)
	}
	return out
}

// ruleByID returns the compiled rule with the given ID, or nil.
func ruleByID(id string) *Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// secretShape reports whether every secret re can match is made of bytes in
// alpha, and the least and greatest length of one. It reads the parsed
// expression rather than trusting a hand-kept copy of its shape.
func secretShape(re *regexp.Regexp, alpha *[256]bool) (ok bool, lo, hi int) {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return false, 0, 0
	}
	lo, hi, ok = -1, 0, true
	var walk func(*syntax.Regexp)
	walk = func(n *syntax.Regexp) {
		if n.Op == syntax.OpCapture && n.Name == "secret" {
			l, h, within := shape(n.Sub[0], alpha)
			ok = ok && within && h >= 0
			if lo < 0 || l < lo {
				lo = l
			}
			hi = max(hi, h)
			return
		}
		for _, s := range n.Sub {
			walk(s)
		}
	}
	walk(tree)
	return ok && lo > 0, lo, hi
}

// shape returns the least and greatest byte length of what n matches (hi
// -1 if unbounded) and whether all its bytes are in alpha.
func shape(n *syntax.Regexp, alpha *[256]bool) (lo, hi int, within bool) {
	switch n.Op {
	case syntax.OpLiteral:
		for _, r := range n.Rune {
			if r >= 0x80 || !alpha[r] || n.Flags&syntax.FoldCase != 0 && isLetter(byte(r)) && !alpha[r^0x20] {
				return len(n.Rune), len(n.Rune), false
			}
		}
		return len(n.Rune), len(n.Rune), true
	case syntax.OpCharClass:
		for i := 0; i < len(n.Rune); i += 2 {
			if n.Rune[i+1] >= 0x80 {
				return 1, 1, false
			}
			for r := n.Rune[i]; r <= n.Rune[i+1]; r++ {
				if !alpha[r] {
					return 1, 1, false
				}
			}
		}
		return 1, 1, true
	case syntax.OpCapture:
		return shape(n.Sub[0], alpha)
	case syntax.OpConcat, syntax.OpAlternate:
		within = true
		for i, s := range n.Sub {
			l, h, w := shape(s, alpha)
			within = within && w
			switch {
			case n.Op == syntax.OpConcat:
				lo += l
				if hi >= 0 {
					hi = add(hi, h)
				}
			case i == 0:
				lo, hi = l, h
			default:
				lo = min(lo, l)
				if hi >= 0 {
					hi = maxLen(hi, h)
				}
			}
		}
		return lo, hi, within
	case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
		l, h, w := shape(n.Sub[0], alpha)
		least, most := n.Min, n.Max
		switch n.Op {
		case syntax.OpStar:
			least, most = 0, -1
		case syntax.OpPlus:
			least, most = 1, -1
		case syntax.OpQuest:
			least, most = 0, 1
		}
		if most < 0 || h < 0 {
			return l * least, -1, w
		}
		return l * least, h * most, w
	default:
		// Anything else (any character, anchors, empty matches) is
		// outside what the run search handles.
		return 0, -1, false
	}
}

// add and maxLen combine upper bounds where -1 is unbounded.
func add(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

func maxLen(a, b int) int {
	if a < 0 || b < 0 {
		return -1
	}
	return max(a, b)
}

// mergeLimit returns how long a rule's windows may grow. Package regexp
// matches short inputs with a backtracker several times faster than its
// general machine, up to 256 Kibit of (instruction, position) pairs, so
// windows stay under that for the rule's program; runs-searched rules
// (see Rule.findRuns) do not run Regexp on the window and merge freely.
// The figure only affects speed, never results.
func mergeLimit(r *Rule) int {
	if r.runs {
		return 1 << 20
	}
	tree, err := syntax.Parse(r.Regexp.String(), syntax.Perl)
	if err != nil {
		return 256
	}
	prog, err := syntax.Compile(tree.Simplify())
	if err != nil {
		return 256
	}
	return min(max(256<<10/len(prog.Inst)-1, 256), 4<<10)
}
