package scan

// advice says, per rule, how to take a leaked credential out of service.
// Warden makes no call to outside services to check or revoke a key: the
// owner does it in the provider's console, where the audit trail is.
var advice = map[string]string{
	"openai_key":            "revoke the key at platform.openai.com (API keys, or the project's service accounts / admin keys) and create a new one",
	"anthropic_key":         "delete the key in the Anthropic Console (Settings, API keys; admin keys under the organization's admin keys) and create a new one",
	"huggingface_token":     "invalidate the token at huggingface.co (Settings, Access Tokens) and create a new one",
	"google_api_key":        "delete or regenerate the key in the Google Cloud console (APIs & Services, Credentials) or Google AI Studio, and restrict the new key to the APIs it needs",
	"azure_openai_key":      "regenerate the resource's key in the Azure portal (the Azure OpenAI resource, Keys and Endpoint); regenerate key 1 and key 2 in turn to rotate without downtime",
	"cohere_key":            "delete the key in the Cohere dashboard (API keys) and create a new one",
	"mistral_key":           "revoke the key in the Mistral console (API keys) and create a new one",
	"groq_key":              "delete the key in the Groq console (API keys) and create a new one",
	"replicate_token":       "disable the token at replicate.com (Account, API tokens) and create a new one",
	"perplexity_key":        "revoke the key in the Perplexity API settings and create a new one",
	"xai_key":               "delete the key in the xAI console (API keys) and create a new one",
	"deepseek_key":          "delete the key on the DeepSeek platform (API keys) and create a new one",
	"together_key":          "regenerate the key in the Together AI settings (API keys)",
	"fireworks_key":         "delete the key in the Fireworks AI account settings (API keys) and create a new one",
	"openrouter_key":        "disable the key at openrouter.ai (Keys) and create a new one",
	"aws_access_key_id":     "deactivate and delete the access key in IAM (the user's security credentials), check CloudTrail for its use, and move the workload to a role",
	"aws_secret_access_key": "deactivate and delete the access key pair in IAM, check CloudTrail for its use, and move the workload to a role",
	"github_token":          "revoke the token on GitHub (Settings, Developer settings, tokens; or the app's settings) and check the security log",
	"gitlab_token":          "revoke the token in GitLab (user, project or group access tokens) and check the audit events",
	"slack_token":           "revoke the token in the Slack app's settings (OAuth & Permissions; rotate webhooks under Incoming Webhooks)",
	"stripe_key":            "roll the key in the Stripe dashboard (Developers, API keys) and check the logs for its use",
	"twilio_key":            "delete the API key in the Twilio console (API keys & tokens), or rotate the auth token, and create a new one",
	"sendgrid_key":          "delete the key in SendGrid (Settings, API Keys) and create a new one with only the scopes it needs",
	"gcp_service_account":   "delete the service-account key in the Google Cloud console (IAM, Service accounts, Keys), check the audit logs, and prefer workload identity over key files",
	"private_key":           "treat the key pair as compromised: replace it wherever its public key is trusted (servers, certificates, signing) and revoke any certificate for it",
	"jwt":                   "a signed token grants access until it expires: revoke the session it belongs to if the issuer allows, and rotate the signing key if the token was long-lived",
	"warden_key":            "revoke it with `warden keys revoke ID` (warden scan --verify names the ID; --revoke does it)",
	"generic_secret":        "if the value is a real credential, rotate it where it was issued; if it is not, add a warden:allow comment or a .wardenignore entry",
}

// Advice says how to take a leaked credential found by rule out of
// service.
func Advice(rule string) string {
	if a, ok := advice[rule]; ok {
		return a
	}
	return "rotate the credential where it was issued and remove it from the code and its history"
}
