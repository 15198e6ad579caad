package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Store keeps alerts for the admin API and the CLI. Backends live in
// internal/store; alerttest holds the suite they must pass.
type Store interface {
	// SaveAlert stores a new alert. An alert whose id exists already
	// fails with an error matching store.ErrConflict.
	SaveAlert(ctx context.Context, a Alert) error
	// ListAlerts returns the alerts at or after since (all when since is
	// zero), newest first, at most limit (which must be positive).
	ListAlerts(ctx context.Context, since time.Time, limit int) ([]Alert, error)
	// AckAlert records that an operator saw the alert. Acknowledging an
	// acknowledged alert keeps the first time; an unknown id fails with an
	// error matching store.ErrNotFound.
	AckAlert(ctx context.Context, id string, at time.Time) error
}

// Defaults for Options fields left zero.
const (
	DefaultQueueSize    = 1024
	DefaultDedupeWindow = 15 * time.Minute
	DefaultMaxAttempts  = 5
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultTimeout      = 10 * time.Second
)

// maxDedupeEntries bounds the dedupe table: beyond it, expired entries go,
// and if that is not enough the table starts again (sending a duplicate
// rather than growing without bound).
const maxDedupeEntries = 10_000

// Options configures a Dispatcher.
type Options struct {
	// Store keeps every alert. Required.
	Store Store
	// Webhooks receive every alert that is not a duplicate. Optional.
	Webhooks []Webhook
	// Client makes webhook calls; nil means a client that does not follow
	// redirects (a redirect could move a signed alert to another host or
	// downgrade it to http). A given client should not follow them either.
	Client *http.Client
	// Logger receives delivery failures and drops; nil discards.
	Logger *slog.Logger
	// Now is the clock for timestamps and dedupe; nil means time.Now.
	Now func() time.Time
	// QueueSize bounds the alerts waiting to be stored and, separately,
	// those waiting for each webhook. A full queue drops (counted, logged).
	QueueSize int
	// DedupeWindow: an alert with the same rule, subject and severity as
	// one sent to the webhooks within this window before it (by Alert.Time)
	// is stored but not sent again. An escalation (higher severity) is sent. Negative disables.
	DedupeWindow time.Duration
	// MaxAttempts bounds the tries per webhook delivery.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries: it doubles
	// from MinBackoff per try, up to MaxBackoff, and is jittered to
	// between half and all of that, so that many Wardens retrying against
	// one receiver spread out. A 429's Retry-After is honored up to
	// MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one webhook attempt and one store write.
	Timeout time.Duration
	// Sleep waits between tries; nil means a timer. It returns early with
	// ctx's error when ctx ends. Tests pass one that records and returns.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stats counts what a Dispatcher did with the alerts it was given.
type Stats struct {
	Received     int64 // accepted into the queue
	Dropped      int64 // refused: queue full, closed, or invalid
	Stored       int64
	StoreFailed  int64
	Deduplicated int64 // stored but not sent to webhooks
	Delivered    int64 // webhook deliveries that succeeded
	Failed       int64 // webhook deliveries given up (or dropped from a full webhook queue)
}

// Dispatcher stores alerts and delivers them to webhooks in the
// background: Send never blocks its caller. Close it to flush.
type Dispatcher struct {
	store   Store
	hooks   []*hook
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	sleep   func(context.Context, time.Duration) error
	window  time.Duration
	tries   int
	minWait time.Duration
	maxWait time.Duration
	timeout time.Duration

	mu     sync.RWMutex // guards closed against Send racing Close
	closed bool
	queue  chan Alert

	ctx    context.Context // ends when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	seen map[dedupeKey]time.Time // only the store worker touches it

	received, dropped, stored, storeFailed, deduped, delivered, failed atomic.Int64
	lastDropLog                                                        atomic.Int64
}

type hook struct {
	Webhook
	url   string
	name  string
	queue chan Alert
}

type dedupeKey struct {
	rule     string
	subject  Subject
	severity Severity
}

// New checks the options and starts the dispatcher's workers. A webhook
// with a bad URL, a short secret or an unknown format is an error here,
// not a warning at the first alert.
func New(opts Options) (*Dispatcher, error) {
	if opts.Store == nil {
		return nil, errors.New("alert dispatcher: no store given; every alert must be kept")
	}
	d := &Dispatcher{
		store:   opts.Store,
		client:  opts.Client,
		log:     opts.Logger,
		now:     opts.Now,
		sleep:   opts.Sleep,
		window:  cmpOr(opts.DedupeWindow, DefaultDedupeWindow),
		tries:   cmpOr(opts.MaxAttempts, DefaultMaxAttempts),
		minWait: cmpOr(opts.MinBackoff, DefaultMinBackoff),
		maxWait: cmpOr(opts.MaxBackoff, DefaultMaxBackoff),
		timeout: cmpOr(opts.Timeout, DefaultTimeout),
		seen:    make(map[dedupeKey]time.Time),
	}
	size := cmpOr(opts.QueueSize, DefaultQueueSize)
	var errs []error
	if size < 0 || d.tries < 0 || d.minWait < 0 || d.maxWait < d.minWait || d.timeout < 0 {
		errs = append(errs, errors.New("queue size, attempts, backoff and timeout must be positive, and MaxBackoff at least MinBackoff"))
	}
	for i, w := range opts.Webhooks {
		u, err := webhookURL(w.URL)
		if err != nil {
			errs = append(errs, fmt.Errorf("webhook %d: %w", i+1, err))
			continue
		}
		if w.Format == "" {
			w.Format = FormatJSON
		}
		if w.Format != FormatJSON && w.Format != FormatSlack {
			errs = append(errs, fmt.Errorf("webhook %d (%s): unknown format %q; use json or slack", i+1, w.logName(u), w.Format))
		}
		if w.Secret.Len() < MinSecretLen {
			errs = append(errs, fmt.Errorf("webhook %d (%s): the secret must be at least %d bytes; generate one with openssl rand -hex 32", i+1, w.logName(u), MinSecretLen))
		}
		d.hooks = append(d.hooks, &hook{Webhook: w, url: u.String(), name: w.logName(u), queue: make(chan Alert, size)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("alert dispatcher: %w", err)
	}
	if d.client == nil {
		d.client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.sleep == nil {
		d.sleep = sleepCtx
	}
	d.queue = make(chan Alert, size)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1 + len(d.hooks))
	go d.run()
	for _, h := range d.hooks {
		go d.deliverAll(h)
	}
	return d, nil
}

// cmpOr returns v, or def when v is zero.
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send queues a for storage and delivery and returns at once. An empty ID
// or zero Time is filled in. When the queue is full, or the dispatcher is
// closed, the alert is dropped, counted and logged.
func (d *Dispatcher) Send(a Alert) {
	if a.ID == "" {
		a.ID = NewID()
	}
	if a.Time.IsZero() {
		a.Time = d.now()
	}
	if a.Response == "" {
		a.Response = ResponseAlert
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		d.drop(a, "closed")
		return
	}
	select {
	case d.queue <- a:
		d.received.Add(1)
	default:
		d.drop(a, "queue_full")
	}
}

// drop counts a dropped alert and logs it, at most once a minute so that a
// flood of alerts does not become a flood of logs.
func (d *Dispatcher) drop(a Alert, reason string) {
	n := d.dropped.Add(1)
	now := d.now().UnixNano()
	last := d.lastDropLog.Load()
	if last != 0 && now-last < int64(time.Minute) {
		return
	}
	if d.lastDropLog.CompareAndSwap(last, now) {
		d.log.Warn("alert dropped", "reason", reason, "alert_id", a.ID, "rule", a.Rule, "dropped_total", n)
	}
}

// Stats returns the counters so far.
func (d *Dispatcher) Stats() Stats {
	return Stats{
		Received: d.received.Load(), Dropped: d.dropped.Load(), Stored: d.stored.Load(),
		StoreFailed: d.storeFailed.Load(), Deduplicated: d.deduped.Load(),
		Delivered: d.delivered.Load(), Failed: d.failed.Load(),
	}
}

// Close stops accepting alerts and waits until the queued ones are stored
// and delivered, or until ctx ends; then it abandons what is left (retries
// in progress stop) and returns ctx's error.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("close alert dispatcher: undelivered alerts abandoned: %w", ctx.Err())
	}
}

// run stores each alert and hands it to the webhooks, in order.
func (d *Dispatcher) run() {
	defer d.wg.Done()
	defer func() {
		for _, h := range d.hooks {
			close(h.queue)
		}
	}()
	for a := range d.queue {
		if err := a.Check(); err != nil {
			d.drop(a, "invalid")
			d.log.Error("alert dropped", "reason", "invalid", "alert_id", a.ID, "rule", a.Rule, "error", err)
			continue
		}
		d.save(a)
		if len(d.hooks) == 0 || d.duplicate(a) {
			continue
		}
		for _, h := range d.hooks {
			select {
			case h.queue <- a:
			default:
				d.failed.Add(1)
				d.log.Warn("webhook delivery dropped", "reason", "queue_full", "webhook", h.name, "alert_id", a.ID, "rule", a.Rule)
			}
		}
	}
}

func (d *Dispatcher) save(a Alert) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	if err := d.store.SaveAlert(ctx, a); err != nil {
		d.storeFailed.Add(1)
		d.log.Error("alert not stored", "alert_id", a.ID, "rule", a.Rule, "subject", a.Subject.String(), "error", err)
		return
	}
	d.stored.Add(1)
}

// duplicate reports whether an alert like a went to the webhooks within
// the window before it, by the alerts' times, and remembers a otherwise.
func (d *Dispatcher) duplicate(a Alert) bool {
	if d.window < 0 {
		return false
	}
	k := dedupeKey{a.Rule, a.Subject, a.Severity}
	now := a.Time
	if last, ok := d.seen[k]; ok && now.Sub(last) < d.window && !now.Before(last) {
		d.deduped.Add(1)
		return true
	}
	if len(d.seen) >= maxDedupeEntries {
		for k, t := range d.seen {
			if now.Sub(t) >= d.window {
				delete(d.seen, k)
			}
		}
		if len(d.seen) >= maxDedupeEntries {
			clear(d.seen)
		}
	}
	d.seen[k] = now
	return false
}

// deliverAll delivers h's queue, one alert at a time, so that a slow
// receiver holds up only itself.
func (d *Dispatcher) deliverAll(h *hook) {
	defer d.wg.Done()
	for a := range h.queue {
		if err := d.deliver(h, a); err != nil {
			d.failed.Add(1)
			d.log.Error("webhook delivery failed", "webhook", h.name, "alert_id", a.ID, "rule", a.Rule, "error", err)
			continue
		}
		d.delivered.Add(1)
	}
}

// deliver posts a to h, retrying network errors, 5xx and 429 with
// backoff up to the attempt limit.
func (d *Dispatcher) deliver(h *hook, a Alert) error {
	body, err := h.Format.body(a)
	if err != nil {
		return fmt.Errorf("render alert: %w", err)
	}
	for attempt := 1; ; attempt++ {
		retry, wait, err := d.attempt(h, a.ID, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= d.tries || d.ctx.Err() != nil {
			return fmt.Errorf("attempt %d of %d: %w", attempt, d.tries, err)
		}
		wait = max(wait, d.backoff(attempt))
		d.log.Warn("webhook delivery will be retried", "webhook", h.name, "alert_id", a.ID, "attempt", attempt, "wait", wait, "error", err)
		if err := d.sleep(d.ctx, min(wait, d.maxWait)); err != nil {
			return fmt.Errorf("attempt %d of %d, then shutdown: %w", attempt, d.tries, err)
		}
	}
}

// backoff is the jittered wait after the given attempt.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	ceil := d.maxWait
	if attempt-1 < 32 {
		if w := d.minWait << (attempt - 1); w > 0 && w < ceil {
			ceil = w
		}
	}
	half := ceil / 2
	return half + rand.N(ceil-half+1)
}

// attempt makes one delivery. It says whether a failure is worth another
// try and how long the receiver asked to wait.
func (d *Dispatcher) attempt(h *hook, id string, body []byte) (retry bool, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("build the request: the webhook URL is not usable")
	}
	ts := strconv.FormatInt(d.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "warden-alerts/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(h.Secret.Reveal(), ts, body))
	req.Header.Set(HeaderAlertID, id)
	resp, err := d.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL, whose path may be the
		// credential of a chat webhook; keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, 0, fmt.Errorf("post to the webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, 0, nil
	case c == http.StatusTooManyRequests:
		return true, retryAfter(resp.Header.Get("Retry-After"), d.now()), fmt.Errorf("the webhook answered %s", resp.Status)
	case c >= 500:
		return true, 0, fmt.Errorf("the webhook answered %s", resp.Status)
	default:
		return false, 0, fmt.Errorf("the webhook answered %s; check its URL and that it accepts the %s format", resp.Status, h.Format)
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(min(s, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
