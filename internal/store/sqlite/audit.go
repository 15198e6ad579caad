package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenproject/warden/internal/audit"
)

var _ audit.Store = (*DB)(nil)

// auditColumns are the columns of audit_records in the order scanRecord
// and the insert use them.
const auditColumns = `seq, prev_hash, hash, at, request_id, kind, action, user_name, team, role, key_id, client_ip,
	user_agent, route, model, provider, deployment, status, reason, latency, tokens_in, tokens_out, cost, verdicts,
	retries, fallbacks, target, payload`

// AppendAudit implements audit.Appender. The tail is read and the batch
// written in one IMMEDIATE transaction: the write lock is held from BEGIN,
// so no other connection, in this process or another, appends in between
// and the chain cannot fork.
func (db *DB) AppendAudit(ctx context.Context, seal func(audit.Tail) (audit.Batch, error)) error {
	return db.write(ctx, "append audit records", func(tx *sql.Tx) error {
		t, err := auditTail(ctx, tx)
		if err != nil {
			return fmt.Errorf("read the chain's tail: %w", err)
		}
		b, err := seal(t)
		if err != nil {
			return err
		}
		if err := audit.CheckBatch(t, b); err != nil {
			return err
		}
		if len(b.Records) > 0 {
			if err := insertAuditRecords(ctx, tx, b.Records); err != nil {
				return err
			}
		}
		if cp := b.Checkpoint; cp != nil {
			at, err := encodeTime("checkpoint time", cp.Time)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, signature) VALUES (?, ?, ?, ?)`,
				cp.Seq, cp.Hash[:], at, cp.Signature); err != nil {
				return fmt.Errorf("checkpoint at seq %d: %w", cp.Seq, err)
			}
		}
		return nil
	})
}

// auditTail reads the end of the chain: the last record, or the anchor
// checkpoint if there are no records, and the latest checkpoint.
func auditTail(ctx context.Context, tx *sql.Tx) (audit.Tail, error) {
	var (
		t    audit.Tail
		hash []byte
	)
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&t.Seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_checkpoints ORDER BY seq LIMIT 1`).Scan(&t.Seq, &hash)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return audit.Tail{}, nil // an empty log
	case err != nil:
		return audit.Tail{}, err
	}
	if t.Hash, err = decodeHash("hash", t.Seq, hash); err != nil {
		return audit.Tail{}, err
	}
	var at int64
	err = tx.QueryRowContext(ctx, `SELECT seq, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&t.CheckpointSeq, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return audit.Tail{}, err
	default:
		t.CheckpointTime = decodeTime(at)
	}
	return t, nil
}

func insertAuditRecords(ctx context.Context, tx *sql.Tx, recs []audit.Record) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_records (`+auditColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range recs {
		r := &recs[i]
		at, err := encodeTime("time of audit record "+strconv.FormatInt(r.Seq, 10), r.Time)
		if err != nil {
			return err
		}
		verdicts := []byte("[]")
		if len(r.Verdicts) > 0 {
			if verdicts, err = json.Marshal(r.Verdicts); err != nil {
				return fmt.Errorf("audit record %d: %w", r.Seq, err)
			}
		}
		if _, err := stmt.ExecContext(ctx, r.Seq, r.PrevHash[:], r.Hash[:], at, r.RequestID, string(r.Kind), r.Action,
			r.Principal.User, r.Principal.Team, r.Principal.Role, r.KeyID, r.ClientIP, r.UserAgent, r.Route, r.Model,
			r.Provider, r.Deployment, r.Status, r.Reason, int64(r.Latency), r.TokensIn, r.TokensOut, r.Cost,
			string(verdicts), r.Retries, r.Fallbacks, r.Target, r.Payload); err != nil {
			return fmt.Errorf("audit record %d (request %s): %w", r.Seq, r.RequestID, err)
		}
	}
	return nil
}

// AuditRecords implements audit.Reader.
func (db *DB) AuditRecords(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	const what = "read audit records"
	if err := q.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var (
		where strings.Builder
		args  = []any{q.AfterSeq, clampTime(q.Since, math.MinInt64), clampTime(q.Until, math.MaxInt64)}
	)
	where.WriteString("seq > ? AND at >= ? AND at < ?")
	for _, f := range []struct{ column, value string }{
		{"key_id", q.KeyID}, {"kind", string(q.Kind)}, {"action", q.Action},
	} {
		if f.value != "" {
			where.WriteString(" AND " + f.column + " = ?")
			args = append(args, f.value)
		}
	}
	order, limit := "ASC", ""
	if q.Limit > 0 {
		limit = " LIMIT " + strconv.Itoa(q.Limit)
		if q.Latest {
			order = "DESC"
		}
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+where.String()+
		` ORDER BY seq `+order+limit, args...)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	out := []audit.Record{}
	for rows.Next() {
		r, err := scanAuditRecord(rows)
		if err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	if order == "DESC" {
		slices.Reverse(out)
	}
	return out, nil
}

func scanAuditRecord(rows *sql.Rows) (audit.Record, error) {
	var (
		r                    audit.Record
		prev, hash, verdicts []byte
		at, latency          int64
	)
	if err := rows.Scan(&r.Seq, &prev, &hash, &at, &r.RequestID, &r.Kind, &r.Action, &r.Principal.User, &r.Principal.Team,
		&r.Principal.Role, &r.KeyID, &r.ClientIP, &r.UserAgent, &r.Route, &r.Model, &r.Provider, &r.Deployment, &r.Status,
		&r.Reason, &latency, &r.TokensIn, &r.TokensOut, &r.Cost, &verdicts, &r.Retries, &r.Fallbacks, &r.Target,
		&r.Payload); err != nil {
		return audit.Record{}, err
	}
	var err error
	if r.PrevHash, err = decodeHash("prev_hash", r.Seq, prev); err != nil {
		return audit.Record{}, err
	}
	if r.Hash, err = decodeHash("hash", r.Seq, hash); err != nil {
		return audit.Record{}, err
	}
	r.Time, r.Latency = decodeTime(at), time.Duration(latency)
	if err := json.Unmarshal(verdicts, &r.Verdicts); err != nil {
		return audit.Record{}, fmt.Errorf("audit record %d: verdicts: %w", r.Seq, err)
	}
	if len(r.Verdicts) == 0 {
		r.Verdicts = nil
	}
	return r, nil
}

// decodeHash reads a stored hash, which the schema holds to 32 bytes.
func decodeHash(column string, seq int64, b []byte) (audit.Hash, error) {
	var h audit.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("audit seq %d: %s is %d bytes, not %d: the database was changed outside warden", seq, column, len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// AuditCheckpoints implements audit.Reader.
func (db *DB) AuditCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]audit.Checkpoint, error) {
	const what = "read audit checkpoints"
	if limit < 0 {
		return nil, fmt.Errorf("%s: limit %d is negative", what, limit)
	}
	query := `SELECT seq, hash, at, signature FROM audit_checkpoints WHERE seq > ? ORDER BY seq`
	if limit > 0 {
		query += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := db.reader.QueryContext(ctx, query, afterSeq)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	out := []audit.Checkpoint{}
	for rows.Next() {
		var (
			cp   audit.Checkpoint
			hash []byte
			at   int64
		)
		if err := rows.Scan(&cp.Seq, &hash, &at, &cp.Signature); err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		if cp.Hash, err = decodeHash("checkpoint hash", cp.Seq, hash); err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		cp.Time = decodeTime(at)
		out = append(out, cp)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return out, nil
}

// PruneAudit implements audit.Pruner.
func (db *DB) PruneAudit(ctx context.Context, before time.Time) (audit.PruneResult, error) {
	var res audit.PruneResult
	cutoff := clampTime(before, math.MinInt64)
	err := db.write(ctx, "prune audit log", func(tx *sql.Tx) error {
		// The first record that must stay bounds the anchor: every
		// record up to it is older than the cutoff, whatever the clocks
		// of the processes that wrote them did.
		var (
			keep   int64
			anchor sql.NullInt64
		)
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(min(seq), ?) FROM audit_records WHERE at >= ?`,
			int64(math.MaxInt64), cutoff).Scan(&keep); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM audit_checkpoints WHERE seq < ?`, keep).Scan(&anchor); err != nil {
			return err
		}
		if !anchor.Valid {
			return nil
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM audit_records WHERE seq <= ?`, anchor.Int64)
		if err != nil {
			return err
		}
		if res.Deleted, err = r.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_checkpoints WHERE seq < ?`, anchor.Int64); err != nil {
			return err
		}
		res.Anchor = anchor.Int64
		return nil
	})
	if err != nil {
		return audit.PruneResult{}, err
	}
	return res, nil
}
