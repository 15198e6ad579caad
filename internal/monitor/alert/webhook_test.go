package alert_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/secret"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSignatureScheme checks a delivery the way the package documentation
// tells a receiver to, written out here rather than through Sign.
func TestSignatureScheme(t *testing.T) {
	sec, raw := newSecret(t)
	recv := newReceiver(t, http.StatusOK)
	r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{URL: recv.URL + "/hook", Secret: sec}}})
	r.d.Send(sample("alr_1"))
	r.flush(t)
	got := recv.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	dl := got[0]
	if dl.method != http.MethodPost || dl.contentType != "application/json" || dl.alertID != "alr_1" {
		t.Errorf("method %s, content type %q, alert id %q", dl.method, dl.contentType, dl.alertID)
	}
	if dl.timestamp != strconv.FormatInt(t0.Unix(), 10) {
		t.Errorf("timestamp %q, want unix seconds of the clock, %d", dl.timestamp, t0.Unix())
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(dl.timestamp + "." + string(dl.body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(dl.signature), []byte(want)) {
		t.Fatalf("signature %q, want %q", dl.signature, want)
	}
	var a alert.Alert
	if err := json.Unmarshal(dl.body, &a); err != nil || a.ID != "alr_1" || a.Rule != "request_spike" {
		t.Fatalf("body %s (%v)", dl.body, err)
	}

	// Verify, the receiver's side, agrees, and refuses what it must.
	other, _ := newSecret(t)
	tol := 5 * time.Minute
	for _, tc := range []struct {
		name    string
		key     []byte
		ts, sig string
		body    []byte
		now     time.Time
		ok      bool
	}{
		{"genuine", raw, dl.timestamp, dl.signature, dl.body, t0, true},
		{"genuine, clock a little off", raw, dl.timestamp, dl.signature, dl.body, t0.Add(-4 * time.Minute), true},
		{"altered body", raw, dl.timestamp, dl.signature, append([]byte(" "), dl.body...), t0, false},
		{"other secret", other.Reveal(), dl.timestamp, dl.signature, dl.body, t0, false},
		{"replayed later", raw, dl.timestamp, dl.signature, dl.body, t0.Add(6 * time.Minute), false},
		{"fresh timestamp on an old signature", raw, strconv.FormatInt(t0.Add(10*time.Minute).Unix(), 10), dl.signature, dl.body, t0.Add(10 * time.Minute), false},
		{"timestamp not a number", raw, "soon", dl.signature, dl.body, t0, false},
		{"no signature", raw, dl.timestamp, "", dl.body, t0, false},
	} {
		err := alert.Verify(tc.key, tc.ts, tc.sig, tc.body, tc.now, tol)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, alert.ErrBadSignature)) {
			t.Errorf("%s: Verify = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		script     []int
		retryAfter string
		attempts   int
		delivered  bool
		minWaits   []time.Duration // lower bound of each wait
	}{
		{"500 then success", []int{500, 500, 200}, "", 3, true, []time.Duration{500 * time.Millisecond, time.Second}},
		{"400 is not retried", []int{400}, "", 1, false, nil},
		{"404 is not retried", []int{404}, "", 1, false, nil},
		{"429 honors Retry-After", []int{429, 200}, "7", 2, true, []time.Duration{7 * time.Second}},
		{"gives up after the attempts", []int{503}, "", 5, false, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sec, raw := newSecret(t)
			recv := newReceiver(t, tc.script...)
			recv.retryAfter = tc.retryAfter
			r := newRig(t, alert.Options{
				Webhooks:   []alert.Webhook{{URL: recv.URL, Secret: sec}},
				MinBackoff: time.Second, MaxBackoff: 10 * time.Second,
			})
			r.d.Send(sample("alr_1"))
			r.flush(t)
			got := recv.deliveries()
			if len(got) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(got), tc.attempts)
			}
			// Every attempt is signed anew, with the time it was made.
			for i, dl := range got {
				if err := alert.Verify(raw, dl.timestamp, dl.signature, dl.body, r.clock.Now(), time.Minute); err != nil {
					t.Errorf("attempt %d: %v", i+1, err)
				}
			}
			st := r.d.Stats()
			if tc.delivered != (st.Delivered == 1) || tc.delivered == (st.Failed == 1) || st.Stored != 1 {
				t.Errorf("stats %+v, want delivered=%v and the alert stored", st, tc.delivered)
			}
			waits := r.sleep.got()
			if len(waits) != len(tc.minWaits) {
				t.Fatalf("waits %v, want %d", waits, len(tc.minWaits))
			}
			for i, w := range waits {
				// Jitter keeps a wait between half and all of its step.
				if w < tc.minWaits[i] || w > 2*tc.minWaits[i] {
					t.Errorf("wait %d is %v, want [%v, %v]", i+1, w, tc.minWaits[i], 2*tc.minWaits[i])
				}
			}
		})
	}
}

// TestNetworkErrorsKeepTheURLSecret retries an unreachable webhook and
// checks that the logs name it by host only: a chat webhook's path is its
// credential.
func TestNetworkErrorsKeepTheURLSecret(t *testing.T) {
	sec, raw := newSecret(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL + "/services/T000/B000/" + string(raw[:24])
	dead.Close()
	r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{URL: url, Secret: sec, Format: alert.FormatSlack}}, MaxAttempts: 3})
	r.d.Send(sample("alr_1"))
	r.flush(t)
	if st := r.d.Stats(); st.Failed != 1 || len(r.sleep.got()) != 2 {
		t.Fatalf("stats %+v, waits %v: want 3 attempts and a failure", st, r.sleep.got())
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "webhook delivery failed") || !strings.Contains(logs, strings.TrimPrefix(dead.URL, "http://")) {
		t.Fatalf("logs do not report the failure by host:\n%s", logs)
	}
	if strings.Contains(logs, string(raw[:24])) || strings.Contains(logs, "/services/") {
		t.Fatalf("logs hold the webhook URL's path:\n%s", logs)
	}
}

func TestFormatsGolden(t *testing.T) {
	for _, tc := range []struct {
		format alert.Format
		file   string
	}{
		{alert.FormatJSON, "alert.json.golden"},
		{alert.FormatSlack, "slack.json.golden"},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			sec, _ := newSecret(t)
			recv := newReceiver(t, http.StatusOK)
			r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{URL: recv.URL, Secret: sec, Format: tc.format}}})
			a := sample("alr_golden")
			a.Response = alert.ResponseSuspend
			a.Observed.Text = "<!channel> & friends"
			r.d.Send(a)
			r.flush(t)
			got := recv.deliveries()
			if len(got) != 1 {
				t.Fatalf("%d deliveries", len(got))
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, append(got[0].body, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[0].body)+"\n" != string(want) {
				t.Fatalf("body\n%s\nwant (%s)\n%s", got[0].body, path, want)
			}
			if tc.format == alert.FormatSlack {
				var m map[string]string
				if err := json.Unmarshal(got[0].body, &m); err != nil || len(m) != 1 || m["text"] == "" {
					t.Fatalf("a Slack body is one text field: %s", got[0].body)
				}
				if strings.ContainsAny(m["text"], "<>") {
					t.Errorf("Slack text holds unescaped markup: %q", m["text"])
				}
			}
		})
	}
}

func TestWebhookConfigRefused(t *testing.T) {
	good, raw := newSecret(t)
	for _, tc := range []struct {
		name string
		hook alert.Webhook
		msg  string
	}{
		{"http to a remote host", alert.Webhook{URL: "http://hooks.example.com/x", Secret: good}, "https"},
		{"ftp", alert.Webhook{URL: "ftp://example.com/x", Secret: good}, "scheme"},
		{"relative", alert.Webhook{URL: "/hook", Secret: good}, "scheme"},
		{"credentials in the URL", alert.Webhook{URL: "https://user:" + string(raw[:12]) + "@example.com/x", Secret: good}, "user name"},
		{"short secret", alert.Webhook{URL: "https://example.com/x", Secret: secret.FromString("short")}, "at least 16 bytes"},
		{"no secret", alert.Webhook{URL: "https://example.com/x"}, "at least 16 bytes"},
		{"unknown format", alert.Webhook{URL: "https://example.com/x", Secret: good, Format: "xml"}, "unknown format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := alert.New(alert.Options{Store: nopStore{}, Webhooks: []alert.Webhook{tc.hook}})
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), string(raw[:12])) || strings.Contains(err.Error(), "/x") {
				t.Fatalf("the error quotes the URL or secret: %v", err)
			}
		})
	}
	if _, err := alert.New(alert.Options{}); err == nil {
		t.Fatal("a dispatcher without a store was accepted")
	}
}

func TestValidateURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://hooks.example.com/services/T/B/x", true},
		{"https://hooks.example.com:8443/x?y=z", true},
		{"http://127.0.0.1:9000/hook", true},
		{"http://[::1]:9000/hook", true},
		{"http://localhost/hook", true},
		{"http://LOCALHOST:80/", true},
		{"http://127.0.0.2/", true},
		{"http://[::ffff:127.0.0.1]/", true},
		{"http://example.com/", false},
		{"http://10.0.0.1/", false},
		{"http://localhost.example.com/", false},
		{"https://", false},
		{"https:///path", false},
		{"https://example.com:0/", false},
		{"https://example.com:99999/", false},
		{"https://example.com:/", false},
		{"https://example.com/#frag", false},
		{"mailto:ops@example.com", false},
		{"javascript:alert(1)", false},
		{"", false},
		{"https://exa mple.com/", false},
	} {
		if err := alert.ValidateURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("ValidateURL(%q) = %v, want ok=%v", tc.url, err, tc.ok)
		}
	}
}
