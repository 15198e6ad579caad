package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wardenproject/warden/internal/store"
	"github.com/wardenproject/warden/internal/vault"
	"github.com/wardenproject/warden/internal/vault/vaulttest"
)

// openTest opens a DB in dir and closes it when the test ends.
func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestVaultStoreConformance(t *testing.T) {
	vaulttest.TestStore(t, func(t *testing.T) vault.Store {
		return openTest(t, t.TempDir())
	})
}

var testMaster = vault.MasterKeyRecord{
	Version: 1, KeyID: "mk-1", Source: "file", Check: []byte("check"), Active: true,
	CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
}

// sealAs returns a seal function whose envelope is tag followed by the id
// and version it was asked to seal.
func sealAs(tag string) func(string, int) (vault.Sealed, error) {
	return func(id string, v int) (vault.Sealed, error) {
		return vault.Sealed{Envelope: fmt.Appendf(nil, "%s|%s|%d", tag, id, v), MasterVersion: 1}, nil
	}
}

// fill writes a master key and one secret version, enough to create the
// WAL and shared-memory files.
func fill(t *testing.T, db *DB) vault.SecretMeta {
	t.Helper()
	if err := db.InitMasterKey(t.Context(), testMaster); err != nil {
		t.Fatalf("InitMasterKey: %v", err)
	}
	meta, err := db.AddSecretVersion(t.Context(), "openai-prod", time.Now(), sealAs("v1"))
	if err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	return meta
}

func TestFileModes(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data", "warden")
	db := openTest(t, dir)
	fill(t, db)

	wantModes := []struct {
		path string
		mode fs.FileMode
	}{
		{filepath.Join(base, "data"), 0o700},
		{dir, 0o700},
		{filepath.Join(dir, FileName), 0o600},
		{filepath.Join(dir, FileName+"-wal"), 0o600},
		{filepath.Join(dir, FileName+"-shm"), 0o600},
	}
	for _, w := range wantModes {
		fi, err := os.Stat(w.path)
		if err != nil {
			t.Errorf("stat: %v", err)
			continue
		}
		if got := fi.Mode().Perm(); got != w.mode {
			t.Errorf("%s has mode %#o, want %#o", w.path, got, w.mode)
		}
	}
}

func TestPathPingClose(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if want := filepath.Join(dir, FileName); db.Path() != want {
		t.Errorf("Path() = %q, want %q", db.Path(), want)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if _, err := os.Stat(db.Path() + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the WAL file is still there after Close (stat: %v); the last connection should checkpoint and remove it", err)
	}
}

// TestPragmasOnEveryConnection holds several connections of each pool open
// at once, so that each is a fresh one, and checks the DSN configured them.
func TestPragmasOnEveryConnection(t *testing.T) {
	db := openTest(t, t.TempDir())
	ctx := t.Context()
	check := func(t *testing.T, c *sql.Conn, want map[string]string) {
		t.Helper()
		for pragma, w := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", pragma, err)
			}
			if !strings.EqualFold(got, w) {
				t.Errorf("PRAGMA %s = %s, want %s", pragma, got, w)
			}
		}
	}
	common := map[string]string{"busy_timeout": "5000", "foreign_keys": "1", "journal_mode": "wal"}
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 3 {
		c, err := db.reader.Conn(ctx)
		if err != nil {
			t.Fatalf("reader connection %d: %v", i, err)
		}
		conns = append(conns, c)
		check(t, c, common)
		check(t, c, map[string]string{"query_only": "1"})
		if _, err := c.ExecContext(ctx, `DELETE FROM secrets`); err == nil {
			t.Errorf("reader connection %d could write", i)
		}
	}
	w, err := db.writer.Conn(ctx)
	if err != nil {
		t.Fatalf("writer connection: %v", err)
	}
	conns = append(conns, w)
	check(t, w, common)
	check(t, w, map[string]string{"synchronous": "2", "secure_delete": "1", "query_only": "0"})
}

func TestDataSurvivesReopenAndMigrationsRunOnce(t *testing.T) {
	dir := t.TempDir()
	// Nanoseconds and a zone other than UTC: both must round-trip.
	created := time.Date(2025, 6, 7, 8, 9, 10, 123456789, time.FixedZone("UTC-7", -7*60*60))
	used := created.Add(time.Hour + time.Nanosecond)

	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.InitMasterKey(t.Context(), testMaster); err != nil {
		t.Fatalf("InitMasterKey: %v", err)
	}
	meta, err := db.AddSecretVersion(t.Context(), "openai-prod", created, sealAs("v1"))
	if err != nil {
		t.Fatalf("AddSecretVersion: %v", err)
	}
	if err := db.TouchSecret(t.Context(), meta.ID, used); err != nil {
		t.Fatalf("TouchSecret: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := range 3 {
		db, err := Open(t.Context(), dir)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		metas, err := db.ListSecrets(t.Context())
		if err != nil {
			t.Fatalf("reopen %d: ListSecrets: %v", i, err)
		}
		if len(metas) != 1 {
			t.Fatalf("reopen %d: ListSecrets = %+v, want one secret", i, metas)
		}
		m := metas[0]
		if m.ID != meta.ID || m.CreatedAt != created.UTC() || m.UpdatedAt != created.UTC() || m.LastUsedAt != used.UTC() {
			t.Errorf("reopen %d: meta = %+v, want id %s created %v used %v exactly, in UTC", i, m, meta.ID, created.UTC(), used.UTC())
		}
		sv, err := db.SecretVersion(t.Context(), "openai-prod", 1)
		if err != nil {
			t.Fatalf("reopen %d: SecretVersion: %v", i, err)
		}
		if want := fmt.Appendf(nil, "v1|%s|1", meta.ID); !bytes.Equal(sv.Sealed.Envelope, want) {
			t.Errorf("reopen %d: envelope = %q, want %q", i, sv.Sealed.Envelope, want)
		}
		recs, err := db.MasterKeys(t.Context())
		if err != nil || len(recs) != 1 || recs[0].CreatedAt != testMaster.CreatedAt || !recs[0].Active {
			t.Errorf("reopen %d: MasterKeys = %+v, %v", i, recs, err)
		}
		if got, want := appliedVersions(t, db.writer), embeddedVersions(t); !slices.Equal(got, want) {
			t.Errorf("reopen %d: schema_migrations = %v, want %v", i, got, want)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// embeddedVersions returns the version numbers of the embedded migrations.
func embeddedVersions(t *testing.T) []int {
	t.Helper()
	ms, err := embeddedMigrations.load()
	if err != nil {
		t.Fatalf("load embedded migrations: %v", err)
	}
	var vs []int
	for _, m := range ms {
		vs = append(vs, m.version)
	}
	return vs
}

func appliedVersions(t *testing.T, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) []int {
	t.Helper()
	rows, err := q.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return vs
}

func TestNewerSchemaRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	// A newer warden would have recorded a migration this binary lacks.
	if _, err := db.writer.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (99, 'later')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	_, err = Open(t.Context(), dir)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{"upgrade warden", "99", filepath.Join(dir, FileName)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestCorruptDatabase(t *testing.T) {
	// A real database file, to damage below the header.
	goodDir := t.TempDir()
	fill(t, openTest(t, goodDir))
	good, err := os.ReadFile(filepath.Join(goodDir, FileName))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		content []byte
	}{
		{"text", []byte("OPENAI_API_KEY=this is a .env file, not a database\n")},
		{"repeated garbage", bytes.Repeat([]byte("garbage\x00\xff"), 1024)},
		{"header then garbage", append([]byte("SQLite format 3\x00"), bytes.Repeat([]byte{0xA5}, 8192)...)},
		{"pages overwritten", func() []byte {
			b := slices.Clone(good)
			for i := 100; i < len(b); i++ { // keep the 100-byte header, ruin the rest
				b[i] = byte(i * 7)
			}
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(t.Context(), dir)
			if err == nil {
				db.Close()
				t.Fatal("Open of a damaged database succeeded")
			}
			for _, want := range []string{path, "restore it from a backup"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			// A damaged vault is evidence and maybe recoverable: Open must
			// not have written over it.
			after, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(after, tc.content) {
				t.Errorf("Open changed the damaged file (read error %v)", rerr)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, want string
	}{
		{"empty path", "", "no data directory"},
		{"a file", file, "not a directory"},
		{"below a file", filepath.Join(file, "sub"), file},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.Context(), tc.dir)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestMigrationSourceChecks(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name  string
		files fstest.MapFS
		want  string // error substring; empty: valid
	}{
		{"valid", fstest.MapFS{"m/0001_a.sql": file("SELECT 1"), "m/0002_b.sql": file("SELECT 2"), "m/README": file("x")}, ""},
		{"none", fstest.MapFS{"m/README": file("x")}, "no migrations"},
		{"gap", fstest.MapFS{"m/0001_a.sql": file(""), "m/0003_c.sql": file("")}, "without gaps"},
		{"duplicate", fstest.MapFS{"m/0001_a.sql": file(""), "m/0001_b.sql": file("")}, "without gaps"},
		{"starts at 2", fstest.MapFS{"m/0002_a.sql": file("")}, "without gaps"},
		{"short number", fstest.MapFS{"m/1_a.sql": file("")}, "NNNN_description.sql"},
		{"no description", fstest.MapFS{"m/0001.sql": file("")}, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"m/0000_a.sql": file("")}, "NNNN_description.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := migrationSource{fsys: tc.files, dir: "m"}.load()
			if tc.want == "" {
				if err != nil || len(ms) != 2 || ms[1].version != 2 || ms[1].sql != "SELECT 2" {
					t.Fatalf("load = %+v, %v", ms, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := embeddedMigrations.load(); err != nil {
		t.Errorf("the embedded migrations are broken: %v", err)
	}
}

// TestMigrationsAllOrNothing applies a migration that fails halfway, then
// checks that neither it nor anything else of that Open stayed behind, and
// that a later binary with a good migration upgrades the same file.
func TestMigrationsAllOrNothing(t *testing.T) {
	first, err := fs.ReadFile(migrationFiles, "migrations/0001_vault.sql")
	if err != nil {
		t.Fatal(err)
	}
	src := func(second string) migrationSource {
		return migrationSource{dir: ".", fsys: fstest.MapFS{
			"0001_vault.sql": {Data: first},
			"0002_next.sql":  {Data: []byte(second)},
		}}
	}
	ctx := t.Context()
	dir := t.TempDir()

	_, err = open(ctx, dir, src("CREATE TABLE extra (x INTEGER); THIS IS NOT SQL;"))
	if err == nil || !strings.Contains(err.Error(), "0002_next.sql") {
		t.Fatalf("open with a broken migration = %v, want an error naming 0002_next.sql", err)
	}

	// The first migration only, as a binary from before 0002 would have it.
	db, err := open(ctx, dir, migrationSource{dir: ".", fsys: fstest.MapFS{"0001_vault.sql": {Data: first}}})
	if err != nil {
		t.Fatalf("open with the first migration: %v", err)
	}
	var tables int
	if err := db.reader.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'extra'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Error("the failed migration left its table behind")
	}
	if got := appliedVersions(t, db.reader); !slices.Equal(got, []int{1}) {
		t.Errorf("schema_migrations = %v, want [1]", got)
	}
	fill(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	up, err := open(ctx, dir, src("CREATE TABLE extra (x INTEGER) STRICT;"))
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	defer up.Close()
	if got := appliedVersions(t, up.reader); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("schema_migrations after upgrade = %v, want [1 2]", got)
	}
	if metas, err := up.ListSecrets(ctx); err != nil || len(metas) != 1 {
		t.Errorf("after upgrade ListSecrets = %+v, %v; want the secret stored before", metas, err)
	}
}

// TestTwoHandlesWriteConcurrently opens the same directory twice, as the
// CLI and a running server would, and adds versions through both at once.
// Only SQLite's own locking (BEGIN IMMEDIATE, busy_timeout) keeps them
// apart here.
func TestTwoHandlesWriteConcurrently(t *testing.T) {
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir)
	if err := a.InitMasterKey(t.Context(), testMaster); err != nil {
		t.Fatal(err)
	}
	const perWorker = 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions []int
	)
	for w, db := range []*DB{a, b, a, b} {
		wg.Go(func() {
			for range perWorker {
				m, err := db.AddSecretVersion(t.Context(), "shared", time.Now(), sealAs(fmt.Sprint("w", w)))
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				versions = append(versions, m.Version)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(versions)
	want := make([]int, 4*perWorker)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(versions, want) {
		t.Errorf("versions = %v, want 1..%d each once", versions, len(want))
	}
}

// TestReplacedEnvelopesLeaveNoTrace checks secure_delete: an envelope that
// was rewrapped, pruned or deleted is gone from the file, not left in a
// free page where the retired master key could still open it.
func TestReplacedEnvelopesLeaveNoTrace(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := db.InitMasterKey(ctx, testMaster); err != nil {
		t.Fatal(err)
	}
	for _, add := range []struct{ name, tag string }{
		{"rotated", "OLD-ROTATED"}, {"pruned", "OLD-PRUNED"}, {"pruned", "KEPT"}, {"deleted", "OLD-DELETED"},
	} {
		if _, err := db.AddSecretVersion(ctx, add.name, time.Now(), sealAs(add.tag)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PruneSecretVersions(ctx, "pruned", 1); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSecret(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	next := testMaster
	next.Version, next.KeyID = 2, "mk-2"
	if _, err := db.RotateMasterKey(ctx, next, func(sv vault.SecretVersion) (vault.Sealed, error) {
		return vault.Sealed{Envelope: bytes.Replace(sv.Sealed.Envelope, []byte("OLD-"), []byte("NEW-"), 1), MasterVersion: 2}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}

	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"OLD-ROTATED", "OLD-PRUNED", "OLD-DELETED"} {
		if bytes.Contains(raw, []byte(gone)) {
			t.Errorf("%s is still in the database file", gone)
		}
	}
	for _, kept := range []string{"NEW-ROTATED", "KEPT"} { // the search itself works
		if !bytes.Contains(raw, []byte(kept)) {
			t.Errorf("%s is not in the database file", kept)
		}
	}
}

func TestTimesOutOfRangeRefused(t *testing.T) {
	db := openTest(t, t.TempDir())
	ctx := t.Context()
	zeroCreated := testMaster
	zeroCreated.CreatedAt = time.Time{}
	if err := db.InitMasterKey(ctx, zeroCreated); err == nil {
		t.Error("InitMasterKey with a zero CreatedAt succeeded")
	}
	fill(t, db)
	called := false
	_, err := db.AddSecretVersion(ctx, "x", time.Time{}, func(string, int) (vault.Sealed, error) {
		called = true
		return vault.Sealed{}, nil
	})
	if err == nil || called {
		t.Errorf("AddSecretVersion with a zero time = %v (seal called: %v), want an error before sealing", err, called)
	}
	far := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	meta, err := db.ListSecrets(ctx)
	if err != nil || len(meta) != 1 {
		t.Fatalf("ListSecrets = %+v, %v", meta, err)
	}
	if err := db.TouchSecret(ctx, meta[0].ID, far); err == nil {
		t.Error("TouchSecret in the year 2300 succeeded")
	}
	if _, err := db.SecretVersion(ctx, "x", 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a refused AddSecretVersion stored something: %v", err)
	}
}

// TestOddDirectoryName checks that the DSN escapes the path: a '?' or '#'
// left raw would cut the file name short, a '%' would be decoded.
func TestOddDirectoryName(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "my vault?x=1#frag%41")
	db := openTest(t, dir)
	fill(t, db)
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Errorf("the database is not where it should be: %v", err)
	}
	entries, err := os.ReadDir(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != filepath.Base(dir) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files next to the data directory: %q, want only %q", names, filepath.Base(dir))
	}
}
