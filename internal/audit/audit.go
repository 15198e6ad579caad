// Package audit keeps Warden's tamper-evident audit log: one record per
// data-plane call and per admin, CLI or system action, hash chained so that
// an edit, deletion, insertion or reordering shows, with checkpoints of the
// chain signed by a key held in the vault.
//
// Each record carries a sequence number (1, 2, 3... without gaps), the hash
// of the record before it (prev_hash; 32 zero bytes for record 1) and its
// own hash, the SHA-256 of its canonical encoding (see AppendCanonical),
// which covers every field but the hash itself. Rewriting one record
// therefore means rewriting every record after it, and a signed checkpoint
// (sequence number, hash and time, signed with Ed25519) pins the chain up
// to its record: records up to the last checkpoint cannot be rewritten,
// removed or added to without the signing key. Records after the last
// checkpoint are protected by the chain alone; the writer signs a
// checkpoint every CheckpointEvery records, every CheckpointInterval while
// records are unsigned, and when it closes.
//
// A Writer takes records off the request path: Log only enqueues, and one
// goroutine assigns sequence numbers and hashes in order, inside the
// store's write transaction, so that several processes appending to one
// store keep one chain. Verify walks the log and names the first record
// that is wrong. Prune drops old records up to a checkpoint, which stays as
// the anchor the remaining records chain from.
//
// What the log can and cannot show: a reader with write access to the
// store can delete the whole log, or a prefix of it ending at a checkpoint
// (exactly what Prune does), or append records after the last checkpoint,
// without Verify noticing. The first two leave a visibly short or empty
// log; the last is bounded by the checkpoint interval. Keep backups or
// ship exports elsewhere to guard against them.
package audit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// DefaultRetention is how long records are kept before Prune may drop
// them, unless the configuration says otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// Kind says what made a record.
type Kind string

// Kinds of record.
const (
	KindCall   Kind = "call"   // a data-plane call through the gateway
	KindAdmin  Kind = "admin"  // an admin API request
	KindCLI    Kind = "cli"    // a warden command run by an operator
	KindSystem Kind = "system" // something Warden did by itself
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	switch k {
	case KindCall, KindAdmin, KindCLI, KindSystem:
		return true
	}
	return false
}

// Principal is who acted: the user, team and role a call or action was
// made as. Fields that do not apply are empty.
type Principal struct {
	User string `json:"user"`
	Team string `json:"team"`
	Role string `json:"role"`
}

// Verdict is what a guard decided about a call: for one class and type of
// finding (say "pii", "email"), the action taken ("redact", "block") and
// how many findings it applied to.
type Verdict struct {
	Class  string `json:"class"`
	Type   string `json:"type"`
	Action string `json:"action"`
	Count  int64  `json:"count"`
}

// Hash is a SHA-256 hash of a record. It prints and marshals as lowercase
// hex. The zero Hash is the prev_hash of the first record.
type Hash [32]byte

// String returns h in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is all zero bytes.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, h[:]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler. It accepts only the
// 64 lowercase hex digits MarshalText writes.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*len(h) {
		return fmt.Errorf("audit hash %q: want %d hex digits", b, 2*len(h))
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("audit hash %q: want lowercase hex digits", b)
		}
	}
	_, err := hex.Decode(h[:], b)
	return err
}

// Record is one entry of the audit log. Callers fill in what they know
// and leave the rest zero; the Writer sets Seq, PrevHash and Hash, and
// Time if it is zero. Nothing secret belongs in a record: key ids, never
// keys, and a Payload only if the operator asked for payloads, already
// redacted by the caller.
type Record struct {
	// Seq numbers the records 1, 2, 3... in the order they were appended.
	Seq int64 `json:"seq"`
	// PrevHash is the Hash of record Seq-1 (or of the anchor checkpoint,
	// after a prune); zero for record 1.
	PrevHash Hash `json:"prev_hash"`
	// Hash is the SHA-256 of the record's canonical encoding.
	Hash Hash `json:"hash"`

	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Kind      Kind      `json:"kind"`
	// Action is what was done, as a dotted name: "chat.completions",
	// "key.create", "key.revoke", "secret.set", "master.rotate",
	// "policy.update", "login", ...
	Action    string    `json:"action"`
	Principal Principal `json:"principal"`
	KeyID     string    `json:"key_id"`
	ClientIP  string    `json:"client_ip"`
	UserAgent string    `json:"user_agent"`
	Route     string    `json:"route"`

	Model      string `json:"model"`
	Provider   string `json:"provider"`
	Deployment string `json:"deployment"`

	// Status is the HTTP status returned, or for other actions 0.
	Status int `json:"status"`
	// Reason is the machine code of a refusal or failure (an apperr
	// code such as "rate_limit_exceeded"); empty on success.
	Reason    string        `json:"reason"`
	Latency   time.Duration `json:"latency_ns"`
	TokensIn  int64         `json:"tokens_in"`
	TokensOut int64         `json:"tokens_out"`
	// Cost is in nano-dollars (1e-9 USD), as meter.Amount.
	Cost      int64     `json:"cost_nano_usd"`
	Verdicts  []Verdict `json:"verdicts"`
	Retries   int       `json:"retries"`
	Fallbacks int       `json:"fallbacks"`

	// Target is the id of the object an admin or CLI action touched (a
	// key id, a secret name, ...).
	Target string `json:"target"`
	// Payload is the redacted request or response, if configured; else
	// empty.
	Payload string `json:"payload"`
}

// minTime and maxTime bound the times a record can hold: those an int64
// of nanoseconds since 1970 can represent, as stores keep them.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// Check reports what is wrong with r as something to log, if anything.
// It does not look at Seq, PrevHash and Hash, which the Writer sets.
func (r *Record) Check() error {
	switch {
	case !r.Kind.Valid():
		return fmt.Errorf("audit record: kind %q is not one of call, admin, cli, system", r.Kind)
	case r.Action == "":
		return errors.New("audit record: no action given")
	case r.Time.IsZero():
		return errors.New("audit record: no time given")
	case r.Time.Before(minTime) || r.Time.After(maxTime):
		return fmt.Errorf("audit record: time %s is outside the years 1678-2262", r.Time.UTC().Format(time.RFC3339))
	case r.Status < 0 || r.Status > 999:
		return fmt.Errorf("audit record: status %d is not an HTTP status", r.Status)
	case r.Latency < 0 || r.TokensIn < 0 || r.TokensOut < 0 || r.Cost < 0 || r.Retries < 0 || r.Fallbacks < 0:
		return errors.New("audit record: latency, tokens, cost, retries and fallbacks must not be negative")
	}
	for _, v := range r.Verdicts {
		if v.Count < 0 {
			return fmt.Errorf("audit record: verdict %s/%s has a negative count", v.Class, v.Type)
		}
	}
	return nil
}

// Checkpoint is a signed statement that the chain up to record Seq ends
// in Hash. After a prune the lowest checkpoint is the anchor that the
// first remaining record chains from.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      Hash      `json:"hash"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"`
}

// Tail is the end of the chain as a store sees it inside a write
// transaction.
type Tail struct {
	// Seq and Hash are those of the last record, or of the anchor
	// checkpoint if every record was pruned, or zero for an empty log.
	Seq  int64
	Hash Hash
	// CheckpointSeq and CheckpointTime are those of the latest
	// checkpoint; zero if there is none.
	CheckpointSeq  int64
	CheckpointTime time.Time
}

// Batch is what one write appends: records continuing the chain from the
// tail, and optionally a checkpoint of the new tail.
type Batch struct {
	Records    []Record
	Checkpoint *Checkpoint
}

// CheckBatch reports whether b continues the chain from t: sequence
// numbers follow on, each record links to the one before, and a
// checkpoint, if any, is of the new tail. Stores call it before they
// write, so that a bug cannot fork the chain.
func CheckBatch(t Tail, b Batch) error {
	seq, prev := t.Seq, t.Hash
	for i := range b.Records {
		r := &b.Records[i]
		seq++
		if r.Seq != seq {
			return fmt.Errorf("append audit records: record %d of the batch has seq %d, want %d", i, r.Seq, seq)
		}
		if r.PrevHash != prev {
			return fmt.Errorf("append audit records: record %d does not link to record %d", r.Seq, seq-1)
		}
		prev = r.Hash
	}
	if cp := b.Checkpoint; cp != nil {
		if cp.Seq != seq || cp.Hash != prev || seq == 0 {
			return fmt.Errorf("append audit records: checkpoint at seq %d is not of the chain's tail (seq %d)", cp.Seq, seq)
		}
		if cp.Seq <= t.CheckpointSeq {
			return fmt.Errorf("append audit records: checkpoint at seq %d is not after the latest (seq %d)", cp.Seq, t.CheckpointSeq)
		}
	}
	return nil
}

// Query selects records. Zero fields select everything; records come in
// seq order.
type Query struct {
	// Since and Until bound the records' times: Since <= Time < Until.
	Since, Until time.Time
	KeyID        string
	Kind         Kind
	Action       string
	// AfterSeq keeps only records with a greater seq, for paging.
	AfterSeq int64
	// Limit caps how many records come back; 0 is no cap.
	Limit int
	// Latest, with Limit, returns the last Limit matching records
	// instead of the first (still in seq order), for tail.
	Latest bool
}

// Check reports what is wrong with q, if anything.
func (q Query) Check() error {
	switch {
	case q.Limit < 0:
		return fmt.Errorf("audit query: limit %d is negative", q.Limit)
	case q.AfterSeq < 0:
		return fmt.Errorf("audit query: after seq %d is negative", q.AfterSeq)
	case q.Kind != "" && !q.Kind.Valid():
		return fmt.Errorf("audit query: kind %q is not one of call, admin, cli, system", q.Kind)
	case !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since):
		return fmt.Errorf("audit query ends (%s) before it starts (%s)", q.Until.UTC().Format(time.RFC3339), q.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

// Matches reports whether q selects r, ignoring Limit and Latest. Stores that cannot filter in their query language use it.
func (q Query) Matches(r *Record) bool {
	return (q.Since.IsZero() || !r.Time.Before(q.Since)) &&
		(q.Until.IsZero() || r.Time.Before(q.Until)) &&
		(q.KeyID == "" || r.KeyID == q.KeyID) &&
		(q.Kind == "" || r.Kind == q.Kind) &&
		(q.Action == "" || r.Action == q.Action) &&
		r.Seq > q.AfterSeq
}

// PruneResult says what a prune removed.
type PruneResult struct {
	// Deleted is how many records were removed.
	Deleted int64
	// Anchor is the seq of the checkpoint the remaining records now chain
	// from; 0 if nothing was pruned.
	Anchor int64
}
