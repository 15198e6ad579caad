package alert_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardenproject/warden/internal/monitor/alert"
	"github.com/wardenproject/warden/internal/monitor/alert/alerttest"
)

// nopStore accepts everything and keeps nothing.
type nopStore struct{}

func (nopStore) SaveAlert(context.Context, alert.Alert) error { return nil }
func (nopStore) ListAlerts(context.Context, time.Time, int) ([]alert.Alert, error) {
	return nil, nil
}
func (nopStore) AckAlert(context.Context, string, time.Time) error { return nil }

// gateStore blocks every save until released, to fill the queue.
type gateStore struct {
	alerttest.Memory
	gate chan struct{}
}

func (g *gateStore) SaveAlert(ctx context.Context, a alert.Alert) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Memory.SaveAlert(ctx, a)
}

func TestEveryAlertStored(t *testing.T) {
	r := newRig(t, alert.Options{})
	a := sample("")
	a.Time = time.Time{}
	a.Response = ""
	r.d.Send(a) // id, time and response filled in
	r.d.Send(sample("alr_2"))
	bad := sample("alr_3")
	bad.Severity = "loud"
	r.d.Send(bad)
	r.flush(t)
	got, err := r.store.ListAlerts(t.Context(), time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("stored %+v, want 2", got)
	}
	var filled alert.Alert
	for _, a := range got {
		if a.ID != "alr_2" {
			filled = a
		}
	}
	if !strings.HasPrefix(filled.ID, "alr_") || !filled.Time.Equal(t0) || filled.Response != alert.ResponseAlert {
		t.Errorf("filled-in alert %+v", filled)
	}
	if st := r.d.Stats(); st.Stored != 2 || st.Dropped != 1 || st.Received != 3 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(r.logs.String(), "invalid") {
		t.Error("the invalid alert was not logged")
	}
}

func TestDispatcherDedupe(t *testing.T) {
	sec, _ := newSecret(t)
	recv := newReceiver(t, http.StatusOK)
	r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{URL: recv.URL, Secret: sec}}, DedupeWindow: 10 * time.Minute})
	send := func(id string, edit func(*alert.Alert)) {
		a := sample(id)
		if edit != nil {
			edit(&a)
		}
		r.d.Send(a)
	}
	send("alr_1", nil)
	send("alr_2", nil)                                                        // duplicate
	send("alr_3", func(a *alert.Alert) { a.Severity = alert.Critical })       // escalation
	send("alr_4", func(a *alert.Alert) { a.Subject.ID = "key_other" })        // another subject
	send("alr_5", func(a *alert.Alert) { a.Rule = "token_spike" })            // another rule
	send("alr_6", func(a *alert.Alert) { a.Time = t0.Add(11 * time.Minute) }) // the window has passed
	r.flush(t)
	var ids []string
	for _, d := range recv.deliveries() {
		ids = append(ids, d.alertID)
	}
	if strings.Join(ids, ",") != "alr_1,alr_3,alr_4,alr_5,alr_6" {
		t.Fatalf("delivered %v", ids)
	}
	if st := r.d.Stats(); st.Stored != 6 || st.Deduplicated != 1 {
		t.Fatalf("stats %+v: every alert is stored, one deduplicated", st)
	}
}

func TestQueueFullDrops(t *testing.T) {
	g := &gateStore{gate: make(chan struct{})}
	r := newRig(t, alert.Options{Store: g, QueueSize: 2})
	// The worker holds one alert at the gate, the queue two more; the
	// rest are dropped without blocking the sender.
	for i := range 10 {
		r.d.Send(sample("alr_" + string(rune('a'+i))))
	}
	st := r.d.Stats()
	if st.Dropped < 7 || st.Received > 3 || st.Dropped+st.Received != 10 {
		t.Fatalf("stats %+v: want at most 3 accepted, the rest dropped", st)
	}
	if !strings.Contains(r.logs.String(), "reason=queue_full") {
		t.Fatalf("drop not logged:\n%s", r.logs)
	}
	close(g.gate)
	r.flush(t)
	if got, _ := g.ListAlerts(t.Context(), time.Time{}, 100); int64(len(got)) != st.Received {
		t.Fatalf("stored %d, accepted %d", len(got), st.Received)
	}
	r.d.Send(sample("alr_late"))
	if r.d.Stats().Dropped != st.Dropped+1 {
		t.Fatal("an alert sent after Close was not counted as dropped")
	}
}

func TestCloseAbandonsAtDeadline(t *testing.T) {
	sec, _ := newSecret(t)
	recv := newReceiver(t, http.StatusServiceUnavailable)
	started := make(chan struct{}, 10)
	d, err := alert.New(alert.Options{
		Store:    alerttest.NewMemory(),
		Webhooks: []alert.Webhook{{URL: recv.URL, Secret: sec}},
		// A wait that lasts until shutdown.
		Sleep: func(ctx context.Context, _ time.Duration) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Send(sample("alr_1"))
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := d.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if st := d.Stats(); st.Failed != 1 || st.Stored != 1 || len(recv.deliveries()) != 1 {
		t.Fatalf("stats %+v after an abandoned retry", st)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	sec, _ := newSecret(t)
	elsewhere := newReceiver(t, http.StatusOK)
	redirector := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{URL: redirector.URL, Secret: sec}}})
	r.d.Send(sample("alr_1"))
	r.flush(t)
	if n := len(elsewhere.deliveries()); n != 0 {
		t.Fatalf("the redirect was followed: %d deliveries elsewhere", n)
	}
	if st := r.d.Stats(); st.Failed != 1 || len(r.sleep.got()) != 0 {
		t.Fatalf("stats %+v, waits %v: a redirect is a failure, not retried", st, r.sleep.got())
	}
}

func TestHTTPSWebhook(t *testing.T) {
	sec, raw := newSecret(t)
	verified := make(chan error, 1)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		verified <- alert.Verify(raw, req.Header.Get(alert.HeaderTimestamp), req.Header.Get(alert.HeaderSignature), body, t0, time.Minute)
	}))
	t.Cleanup(srv.Close)
	r := newRig(t, alert.Options{Webhooks: []alert.Webhook{{Name: "ops", URL: srv.URL, Secret: sec}}, Client: srv.Client()})
	r.d.Send(sample("alr_1"))
	r.flush(t)
	if st := r.d.Stats(); st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := <-verified; err != nil {
		t.Fatal(err)
	}
}
