// Package alert is what Warden does with a finding once something (the
// anomaly detector, a budget) has made one: an Alert record, kept in the
// store and sent to webhooks by a Dispatcher, off the path of the request
// that caused it.
//
// Webhook deliveries are signed so that a receiver can tell them from
// forgeries and replays; see Sign for the exact scheme.
package alert

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Severity ranks alerts for people: what to look at first.
type Severity string

// Severities, lowest first.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Valid reports whether s is one of the known severities.
func (s Severity) Valid() bool { return s == Info || s == Warning || s == Critical }

// Kinds of Subject.
const (
	SubjectKey       = "key"        // a virtual key, by id
	SubjectTeam      = "team"       // a team, by name
	SubjectIP        = "ip"         // a client address or network
	SubjectKeyPrefix = "key_prefix" // the first characters of a presented key that did not authenticate
	SubjectAccount   = "account"    // a budget account, as the meter names it
)

// Subject is what an alert is about. Kind says how to read ID, so that a
// response (suspending a key) only ever acts on a key id.
type Subject struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// String names the subject for people: key:key_abc.
func (s Subject) String() string { return s.Kind + ":" + s.ID }

// Observation is what was seen. Value is the measured number (requests in
// a minute, failures in a window, a percentage); Text is a measurement that
// is not a number (an address range, a user agent), already cleaned.
type Observation struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Text   string  `json:"text,omitempty"`
}

// Baseline is what was expected: the smoothed mean and standard deviation
// of the metric and how many samples they rest on. Rules without a
// statistical baseline leave it zero or put their threshold in Mean.
type Baseline struct {
	Mean    float64 `json:"mean"`
	StdDev  float64 `json:"stddev"`
	Samples int64   `json:"samples"`
}

// Responses recorded in Alert.Response.
const (
	ResponseAlert   = "alert"   // people were told; nothing else happened
	ResponseSuspend = "suspend" // the key was (asked to be) suspended as well
)

// Alert is one finding. Every field is safe to show to an operator: no key,
// token or secret value, only key ids and at most a short prefix of a key
// that failed to authenticate.
type Alert struct {
	ID       string      `json:"id"`
	Time     time.Time   `json:"time"`
	Rule     string      `json:"rule"`
	Severity Severity    `json:"severity"`
	Subject  Subject     `json:"subject"`
	Message  string      `json:"message"`
	Observed Observation `json:"observed"`
	Baseline Baseline    `json:"baseline"`
	// Response is ResponseAlert or ResponseSuspend.
	Response string `json:"response"`
	// AckedAt is when an operator acknowledged the alert; zero until then.
	AckedAt time.Time `json:"acked_at,omitzero"`
}

// Limits on stored text, so that an alert built from attacker-controlled
// input (a user agent) stays small.
const (
	MaxMessageLen = 1024
	MaxTextLen    = 256
	MaxIDLen      = 128
)

// Check reports what makes a an alert that cannot be stored or sent.
func (a Alert) Check() error {
	var errs []error
	if a.ID == "" || len(a.ID) > MaxIDLen {
		errs = append(errs, fmt.Errorf("the id must be 1 to %d bytes", MaxIDLen))
	}
	if a.Time.IsZero() {
		errs = append(errs, errors.New("the time is not set"))
	}
	if a.Rule == "" || len(a.Rule) > MaxIDLen {
		errs = append(errs, fmt.Errorf("the rule must be 1 to %d bytes", MaxIDLen))
	}
	if !a.Severity.Valid() {
		errs = append(errs, fmt.Errorf("unknown severity %q; use info, warning or critical", a.Severity))
	}
	if a.Subject.Kind == "" || a.Subject.ID == "" {
		errs = append(errs, errors.New("the subject needs a kind and an id"))
	}
	if len(a.Subject.ID) > MaxTextLen || len(a.Subject.Kind) > MaxIDLen {
		errs = append(errs, errors.New("the subject is too long"))
	}
	if len(a.Message) > MaxMessageLen || len(a.Observed.Text) > MaxTextLen || len(a.Observed.Metric) > MaxIDLen {
		errs = append(errs, errors.New("the message or observation is too long"))
	}
	if a.Response != ResponseAlert && a.Response != ResponseSuspend {
		errs = append(errs, fmt.Errorf("unknown response %q; use alert or suspend", a.Response))
	}
	for _, f := range []float64{a.Observed.Value, a.Baseline.Mean, a.Baseline.StdDev} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			errs = append(errs, errors.New("a number is not finite"))
			break
		}
	}
	if a.Baseline.Samples < 0 {
		errs = append(errs, errors.New("the sample count is negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid alert: %w", err)
	}
	return nil
}

// idEncoding is lower-case base32 without padding: ids are safe in URLs,
// file names and shell arguments.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a fresh random alert id, "alr_" and 26 characters.
func NewID() string {
	var b [16]byte
	// crypto/rand.Read never fails (since Go 1.24 it crashes instead).
	_, _ = rand.Read(b[:])
	return "alr_" + idEncoding.EncodeToString(b[:])
}

// Clean makes outside text (a user agent, a presented key prefix) safe to
// put in an alert: valid UTF-8, no control or format characters (which
// could rewrite a terminal or hide text), at most limit bytes.
func Clean(s string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
