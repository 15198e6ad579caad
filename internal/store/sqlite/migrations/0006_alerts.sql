-- 0006: alerts raised by anomaly detection and budgets.
--
-- Times are INTEGER unix nanoseconds, UTC, as in 0001. An alert names its
-- subject (a key id, a team, an address) without foreign keys, so that
-- alerts outlive what they were about. Measurements are REAL; the
-- application refuses NaN and infinities, which SQLite cannot store.
CREATE TABLE alerts (
	id               TEXT    PRIMARY KEY CHECK (length(id) > 0),
	at               INTEGER NOT NULL,
	rule             TEXT    NOT NULL CHECK (length(rule) > 0),
	severity         TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
	subject_kind     TEXT    NOT NULL CHECK (length(subject_kind) > 0),
	subject          TEXT    NOT NULL CHECK (length(subject) > 0),
	message          TEXT    NOT NULL,
	observed_metric  TEXT    NOT NULL,
	observed_value   REAL    NOT NULL,
	observed_text    TEXT    NOT NULL,
	baseline_mean    REAL    NOT NULL,
	baseline_stddev  REAL    NOT NULL,
	baseline_samples INTEGER NOT NULL CHECK (baseline_samples >= 0),
	response         TEXT    NOT NULL CHECK (response IN ('alert', 'suspend')),
	-- NULL until an operator acknowledges the alert.
	acked_at         INTEGER
) STRICT;

-- Listing reads the newest alerts after a time.
CREATE INDEX alerts_at ON alerts (at, id);
