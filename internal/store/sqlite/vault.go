package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/wardenproject/warden/internal/secret"
	"github.com/wardenproject/warden/internal/store"
	"github.com/wardenproject/warden/internal/vault"
)

var _ vault.Store = (*DB)(nil)

// The seal and rewrap callbacks of AddSecretVersion and RotateMasterKey run
// inside a write transaction on the single writer connection. They must not
// call this DB's write methods: those would wait for that connection until
// ctx ends. Reads from the callbacks work but do not see the transaction.

// MasterKeys implements vault.Store.
func (db *DB) MasterKeys(ctx context.Context) ([]vault.MasterKeyRecord, error) {
	const what = "read master key records"
	rows, err := db.reader.QueryContext(ctx, `
		SELECT version, key_id, source, kdf_salt, kdf_time, kdf_memory_kib, kdf_threads,
		       check_value, active, created_at
		FROM master_keys ORDER BY version`)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	recs := []vault.MasterKeyRecord{}
	for rows.Next() {
		var (
			rec                     vault.MasterKeyRecord
			kdfTime, kdfMem, kdfThr int64
			created                 int64
		)
		if err := rows.Scan(&rec.Version, &rec.KeyID, &rec.Source, &rec.KDF.Salt, &kdfTime, &kdfMem, &kdfThr,
			&rec.Check, &rec.Active, &created); err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		// The CHECK constraints keep these in range; the conversions
		// cannot truncate a value this package wrote.
		rec.KDF.Time, rec.KDF.MemoryKiB, rec.KDF.Threads = uint32(kdfTime), uint32(kdfMem), uint8(kdfThr)
		if len(rec.KDF.Salt) == 0 {
			rec.KDF.Salt = nil
		}
		rec.CreatedAt = decodeTime(created)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return recs, nil
}

// InitMasterKey implements vault.Store. The record is stored as the active
// one whatever rec.Active says: the first master key of a vault is the key
// in use by definition, and a vault without an active key cannot be opened.
func (db *DB) InitMasterKey(ctx context.Context, rec vault.MasterKeyRecord) error {
	what := fmt.Sprintf("store master key version %d", rec.Version)
	if err := checkMasterKey(rec); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM master_keys)`).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return fmt.Errorf("the vault already has a master key (rotate it instead): %w", store.ErrConflict)
		}
		return insertMasterKey(ctx, tx, rec)
	})
}

// AddSecretVersion implements vault.Store.
func (db *DB) AddSecretVersion(ctx context.Context, name string, now time.Time, seal func(id string, version int) (vault.Sealed, error)) (vault.SecretMeta, error) {
	what := fmt.Sprintf("add a version to secret %q", name)
	if name == "" {
		return vault.SecretMeta{}, errors.New("add a secret version: the secret name is empty")
	}
	if seal == nil {
		return vault.SecretMeta{}, fmt.Errorf("%s: no seal function given", what)
	}
	ts, err := encodeTime("time", now)
	if err != nil {
		return vault.SecretMeta{}, fmt.Errorf("%s: %w", what, err)
	}
	var meta vault.SecretMeta
	err = db.write(ctx, what, func(tx *sql.Tx) error {
		var (
			created  int64
			lastUsed sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, `SELECT id, created_at, last_used_at FROM secrets WHERE name = ?`, name).
			Scan(&meta.ID, &created, &lastUsed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			meta.ID, created = newID(), ts
			if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`,
				meta.ID, name, ts, ts); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE secrets SET updated_at = ? WHERE id = ?`, ts, meta.ID); err != nil {
				return err
			}
		}
		// The transaction holds the write lock (BEGIN IMMEDIATE), so no
		// other writer can take the same number between this read and the
		// insert below.
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM secret_versions WHERE secret_id = ?`, meta.ID).
			Scan(&latest); err != nil {
			return err
		}
		next := latest + 1
		sealed, err := seal(meta.ID, next)
		if err != nil {
			return fmt.Errorf("seal version %d: %w", next, err)
		}
		if err := checkSealed(ctx, tx, sealed); err != nil {
			return fmt.Errorf("seal version %d: %w", next, err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO secret_versions (secret_id, version, envelope, master_version, created_at)
			VALUES (?, ?, ?, ?, ?)`, meta.ID, next, sealed.Envelope, sealed.MasterVersion, ts); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM secret_versions WHERE secret_id = ?`, meta.ID).
			Scan(&meta.Versions); err != nil {
			return err
		}
		meta.Name, meta.Version = name, next
		meta.CreatedAt, meta.UpdatedAt, meta.LastUsedAt = decodeTime(created), decodeTime(ts), decodeNullTime(lastUsed)
		return nil
	})
	if err != nil {
		return vault.SecretMeta{}, err
	}
	return meta, nil
}

// SecretVersion implements vault.Store.
func (db *DB) SecretVersion(ctx context.Context, name string, version int) (vault.SecretVersion, error) {
	what := fmt.Sprintf("read secret %q", name)
	if version != 0 {
		what = fmt.Sprintf("read secret %q version %d", name, version)
	}
	if version < 0 {
		return vault.SecretVersion{}, fmt.Errorf("%s: the version must be 0 (the newest) or positive", what)
	}
	const query = `
		SELECT s.id, s.name, v.version, v.envelope, v.master_version, v.created_at
		FROM secrets s JOIN secret_versions v ON v.secret_id = s.id
		WHERE s.name = ?`
	var row *sql.Row
	if version == 0 {
		row = db.reader.QueryRowContext(ctx, query+` ORDER BY v.version DESC LIMIT 1`, name)
	} else {
		row = db.reader.QueryRowContext(ctx, query+` AND v.version = ?`, name, version)
	}
	var (
		sv      vault.SecretVersion
		created int64
	)
	err := row.Scan(&sv.SecretID, &sv.Name, &sv.Version, &sv.Sealed.Envelope, &sv.Sealed.MasterVersion, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return vault.SecretVersion{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return vault.SecretVersion{}, db.wrap(ctx, what, err)
	}
	sv.CreatedAt = decodeTime(created)
	return sv, nil
}

// ListSecrets implements vault.Store. Names are ordered bytewise (SQLite's
// BINARY collation), the order sort.Strings gives.
func (db *DB) ListSecrets(ctx context.Context) ([]vault.SecretMeta, error) {
	const what = "list secrets"
	// LEFT JOIN: a secret without versions should not exist, but if one
	// did, hiding it would hide the problem.
	rows, err := db.reader.QueryContext(ctx, `
		SELECT s.id, s.name, s.created_at, s.updated_at, s.last_used_at,
		       COALESCE(MAX(v.version), 0), COUNT(v.version)
		FROM secrets s LEFT JOIN secret_versions v ON v.secret_id = s.id
		GROUP BY s.id
		ORDER BY s.name COLLATE BINARY`)
	if err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	defer rows.Close()
	metas := []vault.SecretMeta{}
	for rows.Next() {
		var (
			m                vault.SecretMeta
			created, updated int64
			lastUsed         sql.NullInt64
		)
		if err := rows.Scan(&m.ID, &m.Name, &created, &updated, &lastUsed, &m.Version, &m.Versions); err != nil {
			return nil, db.wrap(ctx, what, err)
		}
		m.CreatedAt, m.UpdatedAt, m.LastUsedAt = decodeTime(created), decodeTime(updated), decodeNullTime(lastUsed)
		metas = append(metas, m)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, what, err)
	}
	return metas, nil
}

// DeleteSecret implements vault.Store. An unknown name gives
// store.ErrNotFound. The versions go with the secret (ON DELETE CASCADE).
func (db *DB) DeleteSecret(ctx context.Context, name string) error {
	what := fmt.Sprintf("delete secret %q", name)
	return db.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE name = ?`, name)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// TouchSecret implements vault.Store. An unknown id gives
// store.ErrNotFound. The recorded time never moves backwards, so that a
// slow reader finishing late does not hide a more recent read.
func (db *DB) TouchSecret(ctx context.Context, id string, now time.Time) error {
	what := fmt.Sprintf("record use of secret id %s", id)
	ts, err := encodeTime("time", now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return db.write(ctx, what, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET last_used_at = MAX(COALESCE(last_used_at, ?), ?) WHERE id = ?`, ts, ts, id)
		if err != nil {
			return err
		}
		return mustAffect(res)
	})
}

// PruneSecretVersions implements vault.Store. keep must be at least 1: a
// secret with no versions left would be a name without a value. An unknown
// name gives store.ErrNotFound.
func (db *DB) PruneSecretVersions(ctx context.Context, name string, keep int) (int, error) {
	what := fmt.Sprintf("prune versions of secret %q", name)
	if keep < 1 {
		return 0, fmt.Errorf("%s: keep must be at least 1 (delete the secret to remove every version)", what)
	}
	var n int64
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM secrets WHERE name = ?`, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `
			DELETE FROM secret_versions
			WHERE secret_id = ? AND version NOT IN (
				SELECT version FROM secret_versions WHERE secret_id = ? ORDER BY version DESC LIMIT ?)`,
			id, id, keep)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// RotateMasterKey implements vault.Store. Beyond the interface's contract:
// rotating a vault that has no master key gives store.ErrNotFound, and a
// next.Version not above every existing version gives store.ErrConflict,
// so that MasterKeys stays in version order with the active key last.
//
// Every envelope is read into memory before the first rewrap, because the
// updates cannot run while a query on the same connection is still open.
// At a few hundred bytes per version that is fine for any realistic vault.
func (db *DB) RotateMasterKey(ctx context.Context, next vault.MasterKeyRecord, rewrap func(vault.SecretVersion) (vault.Sealed, error)) (int, error) {
	what := fmt.Sprintf("rotate to master key version %d", next.Version)
	if err := checkMasterKey(next); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	if rewrap == nil {
		return 0, fmt.Errorf("%s: no rewrap function given", what)
	}
	var n int
	err := db.write(ctx, what, func(tx *sql.Tx) error {
		var latest int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM master_keys`).Scan(&latest); err != nil {
			return err
		}
		if latest == 0 {
			return fmt.Errorf("the vault has no master key to rotate: %w", store.ErrNotFound)
		}
		if next.Version <= latest {
			return fmt.Errorf("the newest master key is already version %d; the new one must be newer: %w", latest, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE master_keys SET active = 0 WHERE active = 1`); err != nil {
			return err
		}
		if err := insertMasterKey(ctx, tx, next); err != nil {
			return err
		}
		versions, err := allVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, sv := range versions {
			// Stop at once when the caller gives up; the deferred rollback
			// undoes what was done so far.
			if err := ctx.Err(); err != nil {
				return err
			}
			sealed, err := rewrap(sv)
			if err != nil {
				return fmt.Errorf("rewrap secret %q version %d: %w", sv.Name, sv.Version, err)
			}
			if err := checkSealed(ctx, tx, sealed); err != nil {
				return fmt.Errorf("rewrap secret %q version %d: %w", sv.Name, sv.Version, err)
			}
			if _, err := tx.ExecContext(ctx, `
				UPDATE secret_versions SET envelope = ?, master_version = ?
				WHERE secret_id = ? AND version = ?`,
				sealed.Envelope, sealed.MasterVersion, sv.SecretID, sv.Version); err != nil {
				return err
			}
		}
		n = len(versions)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// allVersions returns every stored secret version, by name and version.
func allVersions(ctx context.Context, tx *sql.Tx) ([]vault.SecretVersion, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT s.id, s.name, v.version, v.envelope, v.master_version, v.created_at
		FROM secret_versions v JOIN secrets s ON s.id = v.secret_id
		ORDER BY s.name COLLATE BINARY, v.version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.SecretVersion
	for rows.Next() {
		var (
			sv      vault.SecretVersion
			created int64
		)
		if err := rows.Scan(&sv.SecretID, &sv.Name, &sv.Version, &sv.Sealed.Envelope, &sv.Sealed.MasterVersion, &created); err != nil {
			return nil, err
		}
		sv.CreatedAt = decodeTime(created)
		out = append(out, sv)
	}
	return out, rows.Err()
}

// write runs fn in one IMMEDIATE transaction on the writer connection and
// commits, or rolls everything back if fn fails or ctx ends first.
func (db *DB) write(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(ctx, what, err)
	}
	// Rollback after Commit is a no-op; after a failure its error would
	// only hide the one that matters.
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return db.wrap(ctx, what, err)
	}
	if err := commit(ctx, tx); err != nil {
		return db.wrap(ctx, what, err)
	}
	return nil
}

// commit commits tx unless ctx has ended. database/sql rolls a transaction
// back by itself when its context ends, and Commit then reports only
// sql.ErrTxDone; checking first keeps the cause visible to errors.Is.
func commit(ctx context.Context, tx *sql.Tx) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

func insertMasterKey(ctx context.Context, tx *sql.Tx, rec vault.MasterKeyRecord) error {
	ts, err := encodeTime("created_at", rec.CreatedAt)
	if err != nil {
		return err
	}
	var salt []byte
	if len(rec.KDF.Salt) > 0 {
		salt = rec.KDF.Salt
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO master_keys (version, key_id, source, kdf_salt, kdf_time, kdf_memory_kib, kdf_threads,
		                         check_value, active, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
		rec.Version, rec.KeyID, rec.Source, salt, int64(rec.KDF.Time), int64(rec.KDF.MemoryKiB), int64(rec.KDF.Threads),
		rec.Check, ts)
	return err
}

// checkMasterKey rejects records that would make a vault nobody can open.
func checkMasterKey(rec vault.MasterKeyRecord) error {
	switch {
	case rec.Version < 1:
		return fmt.Errorf("master key version %d: versions start at 1", rec.Version)
	case rec.KeyID == "":
		return errors.New("the master key record has no key id")
	case len(rec.Check) == 0:
		return errors.New("the master key record has no check value, so a wrong key could not be recognised")
	}
	if _, err := encodeTime("created_at", rec.CreatedAt); err != nil {
		return err
	}
	return nil
}

// checkSealed validates an envelope from a seal or rewrap callback before it
// is stored. The messages never include the envelope itself.
func checkSealed(ctx context.Context, tx *sql.Tx, s vault.Sealed) error {
	if len(s.Envelope) == 0 {
		return errors.New("the envelope is empty")
	}
	var known bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM master_keys WHERE version = ?)`, s.MasterVersion).
		Scan(&known); err != nil {
		return err
	}
	if !known {
		return fmt.Errorf("the envelope names master key version %d, which the vault does not have", s.MasterVersion)
	}
	return nil
}

// mustAffect turns "no row matched" into store.ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// newID returns a random secret id: 128 bits, hex. Random rather than
// sequential so that an id never comes back after a delete, and the
// ciphertext of a deleted secret cannot be passed off as a new one's.
func newID() string {
	var b [16]byte
	// crypto/rand.Read never fails (since Go 1.24 it crashes the program
	// rather than return weak randomness).
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// encodeTime stores t as unix nanoseconds, which round-trips exactly. Times
// outside 1678-2262 (the zero time.Time among them) do not fit and are
// refused rather than silently wrapped around.
func encodeTime(field string, t time.Time) (int64, error) {
	n := t.UnixNano()
	if !time.Unix(0, n).Equal(t) {
		return 0, fmt.Errorf("%s %s is outside the years 1678-2262 that the store can keep; pass a real clock reading", field, t.UTC().Format(time.RFC3339))
	}
	return n, nil
}

func decodeTime(n int64) time.Time { return time.Unix(0, n).UTC() }

func decodeNullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return decodeTime(n.Int64)
}

// The master_keys table stores secret.KDF field by field. This conversion
// stops compiling if the type gains, loses or changes a field, so that a
// new KDF parameter cannot be silently dropped on the way to disk.
var _ = struct {
	Salt      []byte
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}(secret.KDF{})
