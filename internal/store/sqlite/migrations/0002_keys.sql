-- 0002: virtual keys, the keys Warden hands out in place of provider keys.
--
-- A key itself is never stored: hash is HMAC-SHA256 of it under a pepper
-- kept in the vault, so this file alone neither reveals nor tests a key.
-- After a rotation the replaced secret's hash stays in prev_hash, accepted
-- until prev_valid_until; the application compares that time with its own
-- clock. Times are INTEGER unix nanoseconds, UTC, as in 0001.
CREATE TABLE virtual_keys (
	id               TEXT    PRIMARY KEY CHECK (length(id) > 0),
	name             TEXT    NOT NULL CHECK (length(name) > 0),
	hint             TEXT    NOT NULL,
	-- A JSON array of model names or globs; empty means every model.
	models           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(models) AND json_type(models) = 'array'),
	state            TEXT    NOT NULL CHECK (state IN ('active', 'suspended', 'revoked')),
	hash             BLOB    NOT NULL UNIQUE CHECK (length(hash) > 0),
	prev_hash        BLOB    UNIQUE CHECK (length(prev_hash) > 0),
	prev_valid_until INTEGER,
	expires_at       INTEGER,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	last_used_at     INTEGER,
	CHECK ((prev_hash IS NULL) = (prev_valid_until IS NULL))
) STRICT;

-- The list is ordered by creation time.
CREATE INDEX virtual_keys_created ON virtual_keys (created_at, id);

-- One counter, bumped in the same transaction as every write that can
-- change an authentication decision. Servers poll it to drop cached
-- lookups, so a key revoked by the CLI is refused everywhere within a poll.
CREATE TABLE virtual_keys_version (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL
) STRICT;

INSERT INTO virtual_keys_version (id, version) VALUES (1, 0);
