package meter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SettleWindow is how long after its expiry a reservation can still be
// settled. An expired reservation no longer counts against its budget, but
// a call that outlived it still spent money, and its late Settle must find
// it; after the window a ledger may forget it, so that the reservations of
// a crashed process do not pile up for ever.
const SettleWindow = 24 * time.Hour

// Bucket is one account's spend in one budget period. Period is part of the
// bucket because the first day of a month starts both a daily and a
// monthly period, and the two must not share a counter.
type Bucket struct {
	Account Account
	Period  Period
	// Start is PeriodStart(Period, t) for a time t in the period: midnight
	// UTC for days, the first of the month for months, the zero time for
	// Total.
	Start time.Time
}

// Check reports what is wrong with b, if anything.
func (b Bucket) Check() error {
	switch {
	case b.Account.Kind == "" || b.Account.ID == "":
		return fmt.Errorf("account %q has an empty kind or id", b.Account)
	case !b.Period.Valid():
		return fmt.Errorf("unknown budget period %q; use day, month or total", b.Period)
	case b.Period == Total && !b.Start.IsZero():
		return fmt.Errorf("a total budget's period starts at the zero time, not %s", b.Start.UTC().Format(time.RFC3339))
	case b.Period != Total && (b.Start.IsZero() || !b.Start.Equal(PeriodStart(b.Period, b.Start))):
		return fmt.Errorf("%s does not start a %s period; pass PeriodStart's result", b.Start.UTC().Format(time.RFC3339Nano), b.Period)
	}
	return nil
}

// Hold asks a Ledger to set Amount aside in a bucket whose limit is Limit.
type Hold struct {
	Bucket
	Limit  Amount
	Amount Amount
}

// Ledger keeps spent and reserved amounts per bucket. Budgets is its
// consumer; MemoryLedger and the SQLite store implement it.
//
// Times are passed in rather than read from a clock so that the caller's
// injected clock decides what has expired, in every implementation.
type Ledger interface {
	// Reserve atomically checks that spent + unexpired reservations +
	// Amount <= Limit in the bucket of every hold and, if all fit, records
	// one reservation of all the holds that stops counting at now+ttl. If
	// a hold does not fit nothing is recorded, and refused is its index;
	// otherwise refused is -1 and id names the reservation. The arguments
	// must pass CheckReserve. Reserve also forgets reservations that
	// expired more than SettleWindow before now.
	Reserve(ctx context.Context, holds []Hold, now time.Time, ttl time.Duration) (id string, refused int, err error)
	// Settle drops reservation id and adds actual, which may exceed the
	// amount reserved, to the spent amount of each of its buckets, also if
	// the reservation has expired or its period has ended: the money is
	// spent. It returns each bucket's spent amount after the addition, in
	// the order of the holds. An id that is unknown (already settled,
	// released or forgotten) changes nothing and gives nil, nil, so a
	// retried Settle never counts twice.
	Settle(ctx context.Context, id string, actual Amount) (spent []Amount, err error)
	// Release drops reservation id without spending anything, for calls
	// that failed before the upstream billed them. An unknown id is not an
	// error.
	Release(ctx context.Context, id string) error
	// Spent returns the amount spent in bucket b and the amount held by
	// reservations that are unexpired at now.
	Spent(ctx context.Context, b Bucket, now time.Time) (spent, reserved Amount, err error)
}

// CheckHolds reports what is wrong with a reservation request, if anything:
// there must be at least one hold, each with a valid bucket, amounts
// between zero and MaxAmount, and no bucket named twice (a reservation
// settles each bucket once).
func CheckHolds(holds []Hold) error {
	if len(holds) == 0 {
		return errors.New("no holds to reserve")
	}
	for i, h := range holds {
		if err := h.Check(); err != nil {
			return fmt.Errorf("hold %d: %w", i, err)
		}
		if h.Limit < 0 || h.Limit > MaxAmount || h.Amount < 0 || h.Amount > MaxAmount {
			return fmt.Errorf("hold %d: limit %s and amount %s must be between $0 and %s", i, h.Limit, h.Amount, MaxAmount)
		}
		for j := range i {
			if sameBucket(holds[j].Bucket, h.Bucket) {
				return fmt.Errorf("holds %d and %d name the same bucket; merge them", j, i)
			}
		}
	}
	return nil
}

func sameBucket(a, b Bucket) bool {
	return a.Account == b.Account && a.Period == b.Period && a.Start.Equal(b.Start)
}

// CheckReserve reports what is wrong with the arguments of a Reserve call,
// so that every Ledger refuses the same requests.
func CheckReserve(holds []Hold, now time.Time, ttl time.Duration) error {
	if err := CheckHolds(holds); err != nil {
		return err
	}
	if now.IsZero() {
		return errors.New("no time given; pass the clock's reading")
	}
	if ttl <= 0 {
		return fmt.Errorf("reservation lifetime %s is not positive", ttl)
	}
	return nil
}

// CheckSettle reports what is wrong with the arguments of a Settle call.
func CheckSettle(id string, actual Amount) error {
	switch {
	case id == "":
		return errors.New("no reservation id given")
	case actual < 0 || actual > MaxAmount:
		return fmt.Errorf("actual cost %s must be between $0 and %s", actual, MaxAmount)
	}
	return nil
}

// NewReservationID returns a random reservation id: 128 bits, hex.
func NewReservationID() string {
	var b [16]byte
	// crypto/rand.Read never fails; it crashes the program rather than
	// return weak randomness.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// MemoryLedger is a Ledger in process memory, for a single gateway
// process and for tests. The zero value is not usable; call
// NewMemoryLedger.
type MemoryLedger struct {
	mu           sync.Mutex
	spent        map[bucketKey]Amount
	reservations map[string]*memReservation
	// held indexes reservations by bucket, so that Reserve sums only the
	// bucket's own holds.
	held      map[bucketKey]map[*memReservation]Amount
	nextSweep time.Time
}

var _ Ledger = (*MemoryLedger)(nil)

// bucketKey is a Bucket usable as a map key: time.Time values that are
// Equal need not be ==.
type bucketKey struct {
	kind, id string
	period   Period
	start    int64 // Unix seconds; periods start on whole seconds
}

func keyOf(b Bucket) bucketKey {
	return bucketKey{kind: b.Account.Kind, id: b.Account.ID, period: b.Period, start: b.Start.Unix()}
}

type memReservation struct {
	id      string
	buckets []bucketKey
	expires time.Time
}

// NewMemoryLedger returns an empty ledger.
func NewMemoryLedger() *MemoryLedger {
	return &MemoryLedger{
		spent:        make(map[bucketKey]Amount),
		reservations: make(map[string]*memReservation),
		held:         make(map[bucketKey]map[*memReservation]Amount),
	}
}

// sweepEvery bounds how often Reserve looks for forgotten reservations.
const sweepEvery = time.Minute

// Reserve implements Ledger.
func (m *MemoryLedger) Reserve(ctx context.Context, holds []Hold, now time.Time, ttl time.Duration) (string, int, error) {
	if err := CheckReserve(holds, now, ttl); err != nil {
		return "", -1, fmt.Errorf("reserve budget: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return "", -1, fmt.Errorf("reserve budget: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !now.Before(m.nextSweep) {
		m.sweep(now)
	}
	keys := make([]bucketKey, len(holds))
	for i, h := range holds {
		k := keyOf(h.Bucket)
		keys[i] = k
		used := m.spent[k]
		for r, amount := range m.held[k] {
			if now.Before(r.expires) {
				used += amount
			}
		}
		// CheckHolds keeps every term below MaxAmount, and spent grows by
		// at most MaxAmount per Settle: no overflow for billions of calls.
		if used+h.Amount > h.Limit {
			return "", i, nil
		}
	}
	r := &memReservation{id: NewReservationID(), buckets: keys, expires: now.Add(ttl)}
	m.reservations[r.id] = r
	for i, k := range keys {
		if m.held[k] == nil {
			m.held[k] = make(map[*memReservation]Amount)
		}
		m.held[k][r] = holds[i].Amount
	}
	return r.id, -1, nil
}

// sweep forgets reservations that expired more than SettleWindow before
// now. m.mu is held.
func (m *MemoryLedger) sweep(now time.Time) {
	m.nextSweep = now.Add(sweepEvery)
	for _, r := range m.reservations {
		if now.Sub(r.expires) > SettleWindow {
			m.drop(r)
		}
	}
	for k, rs := range m.held {
		if len(rs) == 0 {
			delete(m.held, k)
		}
	}
}

// drop removes r. m.mu is held.
func (m *MemoryLedger) drop(r *memReservation) {
	delete(m.reservations, r.id)
	for _, k := range r.buckets {
		// An emptied bucket keeps its map for the next call; sweep
		// removes it.
		delete(m.held[k], r)
	}
}

// Settle implements Ledger.
func (m *MemoryLedger) Settle(ctx context.Context, id string, actual Amount) ([]Amount, error) {
	if err := CheckSettle(id, actual); err != nil {
		return nil, fmt.Errorf("settle budget reservation: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("settle budget reservation: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.reservations[id]
	if !ok {
		return nil, nil
	}
	m.drop(r)
	spent := make([]Amount, len(r.buckets))
	for i, k := range r.buckets {
		m.spent[k] += actual
		spent[i] = m.spent[k]
	}
	return spent, nil
}

// Release implements Ledger.
func (m *MemoryLedger) Release(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("release budget reservation: no reservation id given")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("release budget reservation: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.reservations[id]; ok {
		m.drop(r)
	}
	return nil
}

// Spent implements Ledger.
func (m *MemoryLedger) Spent(ctx context.Context, b Bucket, now time.Time) (spent, reserved Amount, err error) {
	if err := b.Check(); err != nil {
		return 0, 0, fmt.Errorf("read budget spend: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, fmt.Errorf("read budget spend: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := keyOf(b)
	for r, amount := range m.held[k] {
		if now.Before(r.expires) {
			reserved += amount
		}
	}
	return m.spent[k], reserved, nil
}
