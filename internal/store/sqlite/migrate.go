package sqlite

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// ErrSchemaTooNew means the database was last written by a newer warden
// whose schema this binary does not know. Nothing was changed.
var ErrSchemaTooNew = errors.New("database schema is newer than this warden binary")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationSource is where migrations come from: the embedded files in
// production, a test file system in tests.
type migrationSource struct {
	fsys fs.FS
	dir  string
}

var embeddedMigrations = migrationSource{fsys: migrationFiles, dir: "migrations"}

type migration struct {
	version int
	name    string
	sql     string
}

// load reads the migrations, which are named NNNN_description.sql and must
// be numbered 1, 2, 3... without gaps: a gap would mean a file was lost, and
// applying the rest would build a schema nobody wrote.
func (src migrationSource) load() ([]migration, error) {
	entries, err := fs.ReadDir(src.fsys, src.dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries { // fs.ReadDir sorts by name
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql with NNNN from 0001", name)
		}
		if want := len(ms) + 1; v != want {
			return nil, fmt.Errorf("migration %s: expected version %d next; migrations must be numbered without gaps or duplicates", name, want)
		}
		b, err := fs.ReadFile(src.fsys, path.Join(src.dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, errors.New("no migrations found")
	}
	return ms, nil
}

// migrate brings the schema up to date in one IMMEDIATE transaction: either
// every pending migration is applied and recorded, or none is. The write
// lock taken at BEGIN also keeps two warden processes starting at once from
// applying the same migration twice.
func (db *DB) migrate(ctx context.Context, src migrationSource) error {
	ms, err := src.load()
	if err != nil {
		// A broken build, not a broken database; say so.
		return fmt.Errorf("open database %s: this warden binary is broken: %w", db.path, err)
	}
	latest := ms[len(ms)-1].version

	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return db.openErr(err)
	}
	// Rollback after Commit is a no-op; after a failure its error would only
	// hide the one that matters.
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TEXT    NOT NULL
	) STRICT`); err != nil {
		return db.openErr(err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return db.openErr(err)
	}
	if current > latest {
		return fmt.Errorf("open database %s: schema version %d, but this binary knows up to version %d: %w; upgrade warden (a data directory cannot be downgraded)",
			db.path, current, latest, ErrSchemaTooNew)
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return db.wrap(ctx, fmt.Sprintf("open database %s: apply migration %s", db.path, m.name), err)
		}
		// applied_at is text so that someone inspecting the file with the
		// sqlite3 shell can read it.
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return db.wrap(ctx, fmt.Sprintf("open database %s: record migration %s", db.path, m.name), err)
		}
	}
	if err := commit(ctx, tx); err != nil {
		return db.wrap(ctx, fmt.Sprintf("open database %s: commit migrations", db.path), err)
	}
	return nil
}
