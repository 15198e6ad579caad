-- 0004: budget spend, budget reservations and usage records.
--
-- Money is INTEGER nano-dollars and times INTEGER unix nanoseconds, UTC, as
-- in 0001. An account is a kind ('key', 'user', 'team') and an id; rows
-- name accounts without foreign keys, so that spend and usage outlive the
-- keys, users and teams they were charged to.

-- Settled spend per account and budget period. The period is part of the
-- key because the first day of a month starts both a daily and a monthly
-- period. A total budget's period starts at 0.
CREATE TABLE budget_spend (
	account_kind TEXT    NOT NULL CHECK (length(account_kind) > 0),
	account_id   TEXT    NOT NULL CHECK (length(account_id) > 0),
	period       TEXT    NOT NULL CHECK (period IN ('day', 'month', 'total')),
	period_start INTEGER NOT NULL,
	spent        INTEGER NOT NULL CHECK (spent >= 0),
	PRIMARY KEY (account_kind, account_id, period, period_start)
) STRICT, WITHOUT ROWID;

-- Money set aside for calls in progress: one row per budget a call holds
-- money in, removed when the call settles or is released. A row counts
-- until expires_at, so that the reservations of a crashed process stop
-- counting; it stays, settleable, until the application prunes it.
CREATE TABLE budget_holds (
	reservation_id TEXT    NOT NULL CHECK (length(reservation_id) > 0),
	position       INTEGER NOT NULL CHECK (position >= 0),
	account_kind   TEXT    NOT NULL CHECK (length(account_kind) > 0),
	account_id     TEXT    NOT NULL CHECK (length(account_id) > 0),
	period         TEXT    NOT NULL CHECK (period IN ('day', 'month', 'total')),
	period_start   INTEGER NOT NULL,
	amount         INTEGER NOT NULL CHECK (amount >= 0),
	expires_at     INTEGER NOT NULL,
	PRIMARY KEY (reservation_id, position),
	UNIQUE (reservation_id, account_kind, account_id, period, period_start)
) STRICT, WITHOUT ROWID;

-- Reserve sums a bucket's unexpired holds: this index covers that query.
CREATE INDEX budget_holds_bucket ON budget_holds (account_kind, account_id, period, period_start, expires_at, amount);
-- Pruning finds long-expired holds by time.
CREATE INDEX budget_holds_expires ON budget_holds (expires_at);

-- One row per data-plane call. Fields a call lacks (no team, no
-- deployment) are empty strings, not NULL, so that they group together.
CREATE TABLE usage_records (
	request_id               TEXT    PRIMARY KEY CHECK (length(request_id) > 0),
	at                       INTEGER NOT NULL,
	key_id                   TEXT    NOT NULL,
	user_name                TEXT    NOT NULL,
	team                     TEXT    NOT NULL,
	model                    TEXT    NOT NULL,
	provider                 TEXT    NOT NULL,
	deployment               TEXT    NOT NULL,
	route                    TEXT    NOT NULL,
	status                   INTEGER NOT NULL CHECK (status BETWEEN 0 AND 999),
	input_tokens             INTEGER NOT NULL CHECK (input_tokens >= 0),
	output_tokens            INTEGER NOT NULL CHECK (output_tokens >= 0),
	cached_input_tokens      INTEGER NOT NULL CHECK (cached_input_tokens >= 0),
	cache_write_input_tokens INTEGER NOT NULL CHECK (cache_write_input_tokens >= 0),
	cost                     INTEGER NOT NULL CHECK (cost >= 0),
	stream                   INTEGER NOT NULL CHECK (stream IN (0, 1)),
	estimated                INTEGER NOT NULL CHECK (estimated IN (0, 1))
) STRICT;

-- Summaries select a time range, alone or within one key, team or user.
CREATE INDEX usage_records_at ON usage_records (at);
CREATE INDEX usage_records_key_at ON usage_records (key_id, at);
CREATE INDEX usage_records_team_at ON usage_records (team, at);
CREATE INDEX usage_records_user_at ON usage_records (user_name, at);
