package alert

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/secret"
)

// Format is the body a webhook receives.
type Format string

// Formats.
const (
	// FormatJSON posts the alert as a JSON object (the Alert fields).
	FormatJSON Format = "json"
	// FormatSlack posts {"text": "..."}, which Slack incoming webhooks and
	// the many chat tools that copy them accept.
	FormatSlack Format = "slack"
)

// Webhook is one HTTP endpoint that receives every alert.
type Webhook struct {
	// Name identifies the webhook in logs; empty means the URL's scheme
	// and host. The rest of the URL is never logged: chat webhook URLs
	// carry their credential in the path.
	Name string
	// URL is where alerts are posted: https, or http to a loopback
	// address only.
	URL string
	// Secret is the HMAC key the deliveries are signed with, resolved from
	// a configuration reference. At least MinSecretLen bytes.
	Secret secret.Secret
	// Format is FormatJSON (the default when empty) or FormatSlack.
	Format Format
}

// MinSecretLen is the shortest webhook secret accepted: below 128 bits a
// signature is only as strong as a guessable password.
const MinSecretLen = 16

// Signature headers. The scheme, for receivers:
//
//	X-Warden-Timestamp: <unix seconds when the attempt was made, decimal>
//	X-Warden-Signature: sha256=<lower-case hex of HMAC-SHA256(secret, timestamp + "." + body)>
//
// where body is the exact request body bytes. A receiver recomputes the
// MAC over the timestamp header, a period and the raw body, compares it in
// constant time, and refuses a timestamp more than a few minutes from its
// own clock: the timestamp is inside the MAC, so a captured delivery cannot
// be replayed later with a fresh one. Each retry is signed anew with its
// own timestamp. X-Warden-Alert-Id lets a receiver drop a delivery it
// already processed (a retry after a lost response). Verify implements the
// receiving side.
const (
	HeaderSignature = "X-Warden-Signature"
	HeaderTimestamp = "X-Warden-Timestamp"
	HeaderAlertID   = "X-Warden-Alert-Id"
)

// signaturePrefix names the MAC algorithm in the signature header.
const signaturePrefix = "sha256="

// Sign returns the X-Warden-Signature value for body sent at timestamp
// (the X-Warden-Timestamp value).
func Sign(key []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a delivery that was not signed
// with the secret, was altered, or is too old or too far in the future.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver should: the signature over
// timestamp and body, and a timestamp within tolerance of now.
func Verify(key []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: the timestamp is not unix seconds", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: the timestamp is outside the accepted window (replay, or a clock off)", ErrBadSignature)
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(key, timestamp, body))) {
		return ErrBadSignature
	}
	return nil
}

// webhookURL checks a webhook URL and returns it parsed. The errors never
// quote the URL, which may hold a credential.
func webhookURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("the webhook URL does not parse; give an absolute http or https URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, errors.New("the webhook URL's scheme must be https (or http to a loopback address)")
	case u.Opaque != "" || u.Host == "":
		return nil, errors.New("the webhook URL has no host; give an absolute http or https URL")
	case u.User != nil:
		return nil, errors.New("the webhook URL must not carry a user name or password; authenticate with the webhook secret")
	case u.Fragment != "" || u.RawFragment != "":
		return nil, errors.New("the webhook URL must not have a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return nil, errors.New("the webhook URL has no host name")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, errors.New("the webhook URL's port must be 1 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, errors.New("the webhook URL has an empty port")
	}
	if u.Scheme == "http" && !loopback(host) {
		return nil, errors.New("the webhook URL must use https unless it points at a loopback address")
	}
	return u, nil
}

// ValidateURL reports whether raw is acceptable as a webhook URL: http or
// https, absolute, without credentials or fragment, and https unless the
// host is a loopback address or localhost. The error never quotes raw.
func ValidateURL(raw string) error {
	_, err := webhookURL(raw)
	return err
}

// loopback reports whether host names this machine: localhost or a
// loopback address. Other names are not resolved here; a name that
// resolves to a loopback address still needs https.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// logName is how a webhook appears in logs.
func (w Webhook) logName(u *url.URL) string {
	if w.Name != "" {
		return w.Name
	}
	return u.Scheme + "://" + u.Host
}

// body renders a in the webhook's format. HTML escaping is off: the body
// is not HTML, and receivers (people reading logs) see the text as sent.
func (f Format) body(a Alert) ([]byte, error) {
	var v any = a
	if f == FormatSlack {
		v = struct {
			Text string `json:"text"`
		}{slackText(a)}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// slackEscaper escapes the three characters Slack's message formatting
// reads as markup, so that text from outside cannot make links or
// mentions.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackText is the one-message summary of a for chat.
func slackText(a Alert) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "[%s] %s on %s: %s", a.Severity, a.Rule, a.Subject, a.Message)
	if a.Observed.Text != "" {
		fmt.Fprintf(&b, " (seen: %s)", a.Observed.Text)
	}
	if a.Baseline.Samples > 0 {
		fmt.Fprintf(&b, " (observed %s; baseline mean %s, stddev %s over %d samples)",
			num(a.Observed.Value), num(a.Baseline.Mean), num(a.Baseline.StdDev), a.Baseline.Samples)
	}
	if a.Response == ResponseSuspend {
		b.WriteString(" Response: the key is suspended until an admin resumes it.")
	}
	fmt.Fprintf(&b, " [%s, %s]", a.ID, a.Time.UTC().Format(time.RFC3339))
	return slackEscaper.Replace(b.String())
}

// num formats a measurement for people: at most two decimals, none for
// integers.
func num(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }
