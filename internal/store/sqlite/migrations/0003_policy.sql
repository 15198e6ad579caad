-- 0003: policy on virtual keys, and the teams and users keys act for.
--
-- Every policy field is optional and its empty value restricts nothing:
-- '[]' for lists, 0 for limits, NULL for the budget, team and user. Money
-- is INTEGER nano-dollars. Existing keys get the defaults, so an upgrade
-- changes what no key may do.

-- Lists are JSON arrays, like models: URL path patterns, CIDR prefixes in
-- text form, and free tags.
ALTER TABLE virtual_keys ADD COLUMN routes TEXT NOT NULL DEFAULT '[]'
	CHECK (json_valid(routes) AND json_type(routes) = 'array');
ALTER TABLE virtual_keys ADD COLUMN ips TEXT NOT NULL DEFAULT '[]'
	CHECK (json_valid(ips) AND json_type(ips) = 'array');
ALTER TABLE virtual_keys ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'
	CHECK (json_valid(tags) AND json_type(tags) = 'array');

ALTER TABLE virtual_keys ADD COLUMN limit_rps INTEGER NOT NULL DEFAULT 0 CHECK (limit_rps >= 0);
ALTER TABLE virtual_keys ADD COLUMN limit_rpm INTEGER NOT NULL DEFAULT 0 CHECK (limit_rpm >= 0);
ALTER TABLE virtual_keys ADD COLUMN limit_tpm INTEGER NOT NULL DEFAULT 0 CHECK (limit_tpm >= 0);
ALTER TABLE virtual_keys ADD COLUMN max_parallel INTEGER NOT NULL DEFAULT 0 CHECK (max_parallel >= 0);

-- A budget is a positive amount and a period together, or neither. The
-- CHECK that pairs them sits on the column added second.
ALTER TABLE virtual_keys ADD COLUMN budget_period TEXT CHECK (budget_period IN ('day', 'month', 'total'));
ALTER TABLE virtual_keys ADD COLUMN budget_limit INTEGER
	CHECK ((budget_limit IS NULL) = (budget_period IS NULL) AND coalesce(budget_limit > 0, 1));

-- Team and user are names, checked against teams and users by the
-- application in the writing transaction rather than by foreign keys: a
-- revoked key keeps its team and user as history, and must not stop the
-- team or user from being deleted.
ALTER TABLE virtual_keys ADD COLUMN team TEXT CHECK (length(team) > 0);
ALTER TABLE virtual_keys ADD COLUMN user_name TEXT CHECK (length(user_name) > 0);
ALTER TABLE virtual_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user'
	CHECK (role IN ('admin', 'manager', 'user', 'auditor'));

-- Deleting a team or user looks for the keys that still name it.
CREATE INDEX virtual_keys_team ON virtual_keys (team) WHERE team IS NOT NULL;
CREATE INDEX virtual_keys_user ON virtual_keys (user_name) WHERE user_name IS NOT NULL;

CREATE TABLE teams (
	name          TEXT    PRIMARY KEY CHECK (length(name) > 0),
	-- A cap on the models of every key in the team; empty means none.
	models        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(models) AND json_type(models) = 'array'),
	limit_rps     INTEGER NOT NULL DEFAULT 0 CHECK (limit_rps >= 0),
	limit_rpm     INTEGER NOT NULL DEFAULT 0 CHECK (limit_rpm >= 0),
	limit_tpm     INTEGER NOT NULL DEFAULT 0 CHECK (limit_tpm >= 0),
	max_parallel  INTEGER NOT NULL DEFAULT 0 CHECK (max_parallel >= 0),
	budget_limit  INTEGER CHECK (budget_limit > 0),
	budget_period TEXT    CHECK (budget_period IN ('day', 'month', 'total')),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	CHECK ((budget_limit IS NULL) = (budget_period IS NULL))
) STRICT;

CREATE TABLE users (
	name          TEXT    PRIMARY KEY CHECK (length(name) > 0),
	-- A user's team must exist; the application says which users are in
	-- the way when a team is deleted, and this holds if it does not.
	team          TEXT    REFERENCES teams (name) CHECK (length(team) > 0),
	role          TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'manager', 'user', 'auditor')),
	limit_rps     INTEGER NOT NULL DEFAULT 0 CHECK (limit_rps >= 0),
	limit_rpm     INTEGER NOT NULL DEFAULT 0 CHECK (limit_rpm >= 0),
	limit_tpm     INTEGER NOT NULL DEFAULT 0 CHECK (limit_tpm >= 0),
	max_parallel  INTEGER NOT NULL DEFAULT 0 CHECK (max_parallel >= 0),
	budget_limit  INTEGER CHECK (budget_limit > 0),
	budget_period TEXT    CHECK (budget_period IN ('day', 'month', 'total')),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	CHECK ((budget_limit IS NULL) = (budget_period IS NULL))
) STRICT;

CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;
