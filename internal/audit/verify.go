package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
)

// verifyPage is how many records Verify reads at a time.
const verifyPage = 1000

// Report is what Verify found.
type Report struct {
	// Records and Checkpoints count what was checked.
	Records     int64
	Checkpoints int
	// FirstSeq and LastSeq are the seqs of the first and last records
	// checked; 0 if none were.
	FirstSeq, LastSeq int64
	// Anchor is the seq of the checkpoint the log starts from after a
	// prune; 0 if it starts at record 1.
	Anchor int64
	// Unsigned counts the records after the last checkpoint, which only
	// the chain protects: a checkpoint will cover them (the writer signs
	// one at least every checkpoint interval and when it closes).
	Unsigned int64
	// Problem is the first thing found wrong, nil if nothing was.
	Problem *Problem
}

// OK reports whether the log verified.
func (r Report) OK() bool { return r.Problem == nil }

// Problem names the first record found wrong and what is wrong with it.
// For a rewritten stretch of the chain, which only a checkpoint reveals,
// Seq is the first record that may have been rewritten.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) String() string { return fmt.Sprintf("record %d: %s", p.Seq, p.Reason) }

// Verify walks the whole log in seq order and checks that seqs run on
// without gaps, that each record's hash matches its contents and links to
// the record before it, and that every checkpoint is signed by pub and
// matches the record it is of. Together these show an edit, a deletion,
// an insertion or a reordering anywhere up to the last checkpoint, and
// anything after it but an appended record. The report names the first
// problem found; the error is for a log that could not be read, or
// checkpoints that cannot be checked because pub is not an Ed25519
// public key.
func Verify(ctx context.Context, s Reader, pub ed25519.PublicKey) (Report, error) {
	var rep Report
	cps, err := s.AuditCheckpoints(ctx, 0, 0)
	if err != nil {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	if len(cps) > 0 && len(pub) != ed25519.PublicKeySize {
		return rep, errors.New("verify audit log: no valid public key to check checkpoint signatures with; pass the audit signing key's public key")
	}
	page, err := s.AuditRecords(ctx, Query{Limit: verifyPage})
	if err != nil {
		return rep, fmt.Errorf("verify audit log: %w", err)
	}
	v := verifier{pub: pub, cps: cps, rep: &rep}

	// A log that does not start at record 1 was pruned: it starts from
	// its lowest checkpoint, the anchor, which must be genuine.
	if (len(page) > 0 && page[0].Seq > 1) || (len(page) == 0 && len(cps) > 0) {
		if len(cps) == 0 || (len(page) > 0 && cps[0].Seq >= page[0].Seq) {
			rep.Problem = &Problem{Seq: page[0].Seq - 1, Reason: fmt.Sprintf(
				"the record is missing: the log starts at record %d, and no checkpoint before it anchors the start (records were deleted outside a prune)", page[0].Seq)}
			return rep, nil
		}
		anchor := cps[0]
		v.cps = cps[1:]
		if !v.signed(&anchor) {
			rep.Problem = &Problem{Seq: anchor.Seq, Reason: "the signature of the anchor checkpoint is not valid: it was forged or changed"}
			return rep, nil
		}
		rep.Anchor, rep.Checkpoints = anchor.Seq, 1
		v.expected, v.prev, v.lastCP = anchor.Seq+1, anchor.Hash, anchor.Seq
	} else {
		v.expected = 1
	}

	for len(page) > 0 {
		for i := range page {
			if !v.check(&page[i]) {
				return rep, nil
			}
		}
		after := page[len(page)-1].Seq
		if len(page) < verifyPage {
			break
		}
		if page, err = s.AuditRecords(ctx, Query{AfterSeq: after, Limit: verifyPage}); err != nil {
			return rep, fmt.Errorf("verify audit log after record %d: %w", after, err)
		}
	}
	if len(v.cps) > 0 {
		rep.Problem = &Problem{Seq: v.expected, Reason: fmt.Sprintf(
			"the record is missing: the checkpoint at seq %d covers it, but the log ends at record %d (records were deleted from the end)", v.cps[0].Seq, v.expected-1)}
		return rep, nil
	}
	rep.Unsigned = max(rep.LastSeq-v.lastCP, 0)
	return rep, nil
}

// verifier is the state of a walk along the chain.
type verifier struct {
	pub      ed25519.PublicKey
	cps      []Checkpoint // not yet reached, in seq order
	rep      *Report
	expected int64 // the seq the next record must have
	prev     Hash  // the hash it must link to
	lastCP   int64 // the seq of the last checkpoint that matched
}

// check checks r and the checkpoint of r, if there is one, and reports
// whether the walk may go on.
func (v *verifier) check(r *Record) bool {
	fail := func(seq int64, format string, args ...any) bool {
		v.rep.Problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return false
	}
	switch {
	case r.Seq != v.expected:
		return fail(v.expected, "the record is missing: the log goes from record %d to record %d", v.expected-1, r.Seq)
	case r.ComputeHash() != r.Hash:
		return fail(r.Seq, "the record does not match its hash: it was changed after it was written")
	case r.PrevHash != v.prev:
		return fail(r.Seq, "the record's prev_hash is not the hash of record %d: a record before it was inserted, removed or replaced", r.Seq-1)
	}
	if v.rep.FirstSeq == 0 {
		v.rep.FirstSeq = r.Seq
	}
	v.rep.Records++
	v.rep.LastSeq = r.Seq
	v.prev = r.Hash
	v.expected++
	if len(v.cps) == 0 || v.cps[0].Seq != r.Seq {
		return true
	}
	cp := v.cps[0]
	v.cps = v.cps[1:]
	if !v.signed(&cp) {
		return fail(r.Seq, "the signature of the checkpoint at this record is not valid: it was forged or changed")
	}
	if cp.Hash != r.Hash {
		return fail(v.lastCP+1, "the checkpoint at record %d does not match it: records %d to %d were rewritten", r.Seq, v.lastCP+1, r.Seq)
	}
	v.rep.Checkpoints++
	v.lastCP = r.Seq
	return true
}

// signed reports whether cp carries a valid signature.
func (v *verifier) signed(cp *Checkpoint) bool {
	return len(cp.Signature) == ed25519.SignatureSize && ed25519.Verify(v.pub, CheckpointMessage(cp), cp.Signature)
}

// Prune deletes the records older than before, up to the latest
// checkpoint that leaves no older record behind it; that checkpoint stays
// as the anchor the remaining records chain from, and Verify still
// passes. Records after the last checkpoint are never pruned.
func Prune(ctx context.Context, s Pruner, before time.Time) (PruneResult, error) {
	if before.IsZero() {
		return PruneResult{}, errors.New("prune audit log: no cutoff time given")
	}
	return s.PruneAudit(ctx, before)
}
