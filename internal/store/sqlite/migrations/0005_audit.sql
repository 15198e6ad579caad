-- 0005: the audit log. Hash-chained records and the signed checkpoints of
-- the chain.
--
-- Times are INTEGER unix nanoseconds, UTC, and money INTEGER nano-dollars,
-- as in 0001 and 0004. Hashes are the 32 bytes of a SHA-256. Fields a
-- record lacks are empty strings or 0, not NULL: the canonical encoding
-- the hashes are taken over has no null.
--
-- The application chains the records; nothing here can stop someone with
-- write access to this file from changing them, and nothing needs to:
-- warden audit verify shows any change. The CHECKs only keep the
-- application's own mistakes out.

-- seq is the position in the chain: 1, 2, 3... without gaps, assigned in
-- the same IMMEDIATE transaction that reads the tail, so that every
-- process appending to this file continues one chain.
CREATE TABLE audit_records (
	seq         INTEGER PRIMARY KEY CHECK (seq > 0),
	prev_hash   BLOB    NOT NULL CHECK (length(prev_hash) = 32),
	hash        BLOB    NOT NULL CHECK (length(hash) = 32),
	at          INTEGER NOT NULL,
	request_id  TEXT    NOT NULL,
	kind        TEXT    NOT NULL CHECK (kind IN ('call', 'admin', 'cli', 'system')),
	action      TEXT    NOT NULL CHECK (length(action) > 0),
	user_name   TEXT    NOT NULL,
	team        TEXT    NOT NULL,
	role        TEXT    NOT NULL,
	key_id      TEXT    NOT NULL,
	client_ip   TEXT    NOT NULL,
	user_agent  TEXT    NOT NULL,
	route       TEXT    NOT NULL,
	model       TEXT    NOT NULL,
	provider    TEXT    NOT NULL,
	deployment  TEXT    NOT NULL,
	status      INTEGER NOT NULL CHECK (status BETWEEN 0 AND 999),
	reason      TEXT    NOT NULL,
	latency     INTEGER NOT NULL CHECK (latency >= 0),
	tokens_in   INTEGER NOT NULL CHECK (tokens_in >= 0),
	tokens_out  INTEGER NOT NULL CHECK (tokens_out >= 0),
	cost        INTEGER NOT NULL CHECK (cost >= 0),
	-- A JSON array of {class, type, action, count}, in the record's order.
	verdicts    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(verdicts) AND json_type(verdicts) = 'array'),
	retries     INTEGER NOT NULL CHECK (retries >= 0),
	fallbacks   INTEGER NOT NULL CHECK (fallbacks >= 0),
	target      TEXT    NOT NULL,
	payload     TEXT    NOT NULL
) STRICT;

-- Queries select a time range (export, tail --since, pruning) or one key.
CREATE INDEX audit_records_at ON audit_records (at);
CREATE INDEX audit_records_key ON audit_records (key_id, seq);

-- A checkpoint signs (seq, hash, at) of the chain with the audit signing
-- key (Ed25519) held in the vault. After a prune the lowest checkpoint is
-- the anchor the remaining records chain from.
CREATE TABLE audit_checkpoints (
	seq       INTEGER PRIMARY KEY CHECK (seq > 0),
	hash      BLOB    NOT NULL CHECK (length(hash) = 32),
	at        INTEGER NOT NULL,
	signature BLOB    NOT NULL CHECK (length(signature) = 64)
) STRICT;
