-- 0001: the vault. Master key records, secrets and their sealed versions.
--
-- Times are INTEGER unix nanoseconds, UTC: they round-trip a Go time.Time
-- exactly and compare numerically. Tables are STRICT so that a wrong type is
-- an error instead of a silently coerced value.

-- One row per master key version. The key itself is never stored; check_value
-- is a value sealed under the key, so a wrong key is recognised before
-- anything is decrypted or overwritten.
CREATE TABLE master_keys (
	version        INTEGER PRIMARY KEY CHECK (version > 0),
	key_id         TEXT    NOT NULL,
	source         TEXT    NOT NULL,
	kdf_salt       BLOB,
	kdf_time       INTEGER NOT NULL DEFAULT 0 CHECK (kdf_time >= 0),
	kdf_memory_kib INTEGER NOT NULL DEFAULT 0 CHECK (kdf_memory_kib >= 0),
	kdf_threads    INTEGER NOT NULL DEFAULT 0 CHECK (kdf_threads BETWEEN 0 AND 255),
	check_value    BLOB    NOT NULL CHECK (length(check_value) > 0),
	active         INTEGER NOT NULL CHECK (active IN (0, 1)),
	created_at     INTEGER NOT NULL
) STRICT;

-- At most one active master key, whatever the code above does.
CREATE UNIQUE INDEX master_keys_one_active ON master_keys (active) WHERE active = 1;

-- A secret is a name with a random, never reused id. The id (not the name)
-- is what the ciphertext binds, so a secret deleted and created again under
-- the same name cannot be fed its predecessor's envelopes.
CREATE TABLE secrets (
	id           TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL UNIQUE CHECK (length(name) > 0),
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	last_used_at INTEGER
) STRICT;

-- Each version holds one envelope and the master key version that wrapped
-- its data key. The foreign key to master_keys refuses an envelope that
-- names a master key the vault does not have.
CREATE TABLE secret_versions (
	secret_id      TEXT    NOT NULL REFERENCES secrets (id) ON DELETE CASCADE,
	version        INTEGER NOT NULL CHECK (version > 0),
	envelope       BLOB    NOT NULL CHECK (length(envelope) > 0),
	master_version INTEGER NOT NULL REFERENCES master_keys (version),
	created_at     INTEGER NOT NULL,
	PRIMARY KEY (secret_id, version)
) STRICT, WITHOUT ROWID;

-- Rotation and "which secrets still use key N" look envelopes up by master
-- version; the foreign key check on master_keys deletes would too.
CREATE INDEX secret_versions_master_version ON secret_versions (master_version);
