// Package sqlite is Warden's embedded storage backend: one SQLite database
// file in the data directory, opened through the pure-Go modernc.org/sqlite
// driver so that the binary needs no C toolchain. It implements the storage
// interfaces declared by the packages that consume them (vault.Store, ...).
//
// Connections come in two pools. All writes go through a writer pool of
// exactly one connection whose transactions begin IMMEDIATE: writes in this
// process queue in Go instead of failing with SQLITE_BUSY, and the write
// lock is taken at BEGIN, where SQLite's busy timeout applies, rather than
// on the first write, where a WAL snapshot that went stale while waiting
// fails at once. Reads go through a separate read-only pool; in WAL mode
// they run concurrently with each other and with the writer and always see
// the last committed transaction.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the name of the database file inside the data directory.
const FileName = "warden.db"

// busyTimeoutMillis bounds how long a statement waits for a lock held by
// another connection (another warden process, or the reader pool during a
// checkpoint) before failing with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// DB is an open Warden database. It is safe for concurrent use.
type DB struct {
	path   string
	writer *sql.DB // one connection, IMMEDIATE transactions: every write
	reader *sql.DB // read-only connections: every read
}

// Open opens (creating if needed) the database in dir and brings its schema
// up to date. dir is created with mode 0700 if missing; an existing
// directory's permissions are left alone (warden doctor reports loose ones).
// The database file is created with mode 0600 before SQLite opens it, so
// that the -wal and -shm files SQLite creates next to it, which take the
// mode of the database file, are private as well.
//
// Open refuses a database whose schema is newer than this binary knows
// (ErrSchemaTooNew) and reports a damaged or foreign file as such.
func Open(ctx context.Context, dir string) (*DB, error) {
	return open(ctx, dir, embeddedMigrations)
}

func open(ctx context.Context, dir string, migrations migrationSource) (*DB, error) {
	if dir == "" {
		return nil, errors.New("open database: no data directory given; set one in the configuration or with --data-dir")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open database: resolve data directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("open database: create data directory %s: %w", abs, err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open database: data directory %s is not a directory; point warden at a directory", abs)
	}
	path := filepath.Join(abs, FileName)
	if err := createPrivate(path); err != nil {
		return nil, err
	}

	db := &DB{path: path}
	db.writer, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, db.openErr(err)
	}
	// One writer connection, kept open for the life of the DB: writes are
	// serialized here instead of contending for SQLite's lock, and the
	// connection is never closed and reopened behind our back.
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)

	if err := db.writer.PingContext(ctx); err != nil {
		return nil, errors.Join(db.openErr(err), db.writer.Close())
	}
	if err := db.checkWAL(ctx); err != nil {
		return nil, errors.Join(err, db.writer.Close())
	}
	if err := db.migrate(ctx, migrations); err != nil {
		return nil, errors.Join(err, db.writer.Close())
	}

	db.reader, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		return nil, errors.Join(db.openErr(err), db.writer.Close())
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.reader.SetMaxOpenConns(n)
	db.reader.SetMaxIdleConns(n)
	if err := db.reader.PingContext(ctx); err != nil {
		return nil, errors.Join(db.openErr(err), db.Close())
	}
	return db, nil
}

// createPrivate creates the database file with mode 0600 if it does not
// exist. An empty file is a valid new database to SQLite.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open database %s: %w; check that the data directory and file belong to the user running warden", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("open database %s: %w", path, err)
	}
	return nil
}

// dsn builds the data source name. The pragmas ride in the DSN, not in an
// Exec after Open, because database/sql opens connections lazily and every
// pooled connection must get them:
//
//   - busy_timeout: wait for another process's lock instead of failing.
//   - foreign_keys: off by default in SQLite, per connection.
//   - journal_mode=WAL (writer): readers and the writer do not block each
//     other. It is persistent, so the read-only pool need not set it.
//   - synchronous=FULL (writer): in WAL mode NORMAL may lose the last
//     committed transactions on power loss. For the vault that is not a
//     matter of a few lost counters: a master key rotation reported as done,
//     after which the operator destroys the old key, must survive a crash,
//     or the secrets are sealed under a key nobody has any more. Vault
//     writes are rare, so the fsync per commit costs nothing that matters.
//   - secure_delete (writer): deleted and overwritten rows are zeroed in the
//     file, so a pruned version or an envelope replaced by rotation (still
//     openable with the retired master key) does not linger in free pages.
//   - query_only (reader): the read pool cannot write by mistake.
//   - _txlock=immediate (writer): BEGIN IMMEDIATE, see the package comment.
func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "secure_delete(1)")
		q.Set("_txlock", "immediate")
	}
	// A file: URI with an escaped path, so that a data directory containing
	// '?', '#' or '%' still names the right file.
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// checkWAL confirms that SQLite really switched to WAL: on file systems
// without shared memory support (some network mounts) the pragma quietly
// keeps the old journal mode, and the concurrency design here assumes WAL.
func (db *DB) checkWAL(ctx context.Context) error {
	var mode string
	if err := db.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return db.openErr(err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("open database %s: SQLite could not enable write-ahead logging (journal mode is %q); put the data directory on a local file system", db.path, mode)
	}
	return nil
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Ping checks that both connection pools can reach the database.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.writer.PingContext(ctx); err != nil {
		return db.wrap(ctx, "ping database", err)
	}
	if err := db.reader.PingContext(ctx); err != nil {
		return db.wrap(ctx, "ping database", err)
	}
	return nil
}

// Close closes the database. The writer closes last so that, as the last
// connection, it checkpoints the WAL into the database file and removes it.
func (db *DB) Close() error {
	var errs []error
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// openErr explains a failure to open or first read the database file.
func (db *DB) openErr(err error) error {
	// The prefix names the file already; the hint need not repeat it.
	return fmt.Errorf("open database %s: %w%s", db.path, err, hint(err, ""))
}

// wrap adds what failed to err, says what to do where SQLite tells us
// enough, and makes a cancellation visible to errors.Is even when the
// driver reports it as an interrupted statement or a finished transaction.
func (db *DB) wrap(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%s: %w (%w)", what, cerr, err)
	}
	return fmt.Errorf("%s: %w%s", what, err, hint(err, db.path))
}

// hint turns the SQLite result codes a user can act on into advice. path
// names the database file in the advice, or is empty if the message names
// it already.
func hint(err error, path string) string {
	var se *sqlitedriver.Error
	if !errors.As(err, &se) {
		return ""
	}
	file := "the database file"
	if path != "" {
		file += " " + path
	}
	switch se.Code() & 0xff { // primary code; extended codes carry detail in the high bits
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Sprintf("; %s is damaged or is not a warden database: restore it from a backup, or move it aside to start an empty vault", file)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "; another process held the database lock for too long: try again, and check for a stuck warden process"
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_AUTH:
		return fmt.Sprintf("; check that %s and its directory are writable by the user running warden", file)
	case sqlite3.SQLITE_FULL:
		return "; the disk is full: free some space"
	case sqlite3.SQLITE_IOERR:
		return "; the disk reported an I/O error: check the file system"
	}
	return ""
}
