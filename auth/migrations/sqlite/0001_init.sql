-- 0001: the first schema. Times are Unix milliseconds, 0 meaning never.

-- Accounts. Names are unique without regard to ASCII case so that "Alice"
-- and "alice" cannot both exist; the stored spelling is the canonical one.
CREATE TABLE users (
	name          TEXT    NOT NULL PRIMARY KEY COLLATE NOCASE,
	display_name  TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
	password_hash TEXT    NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL,
	last_seen_at  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Sign-in sessions (kind 'session') and publish keys (kind 'key'). Only the
-- SHA-256 of a token is stored; revoking deletes the row.
CREATE TABLE tokens (
	id          TEXT    NOT NULL PRIMARY KEY,
	hash        BLOB    NOT NULL UNIQUE,
	kind        TEXT    NOT NULL CHECK (kind IN ('session', 'key')),
	owner       TEXT    NOT NULL COLLATE NOCASE REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
	action      TEXT    NOT NULL DEFAULT '' CHECK (action IN ('', 'publish', 'view')),
	stream      TEXT    NOT NULL DEFAULT '',
	label       TEXT    NOT NULL DEFAULT '',
	client_addr TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX tokens_owner ON tokens (owner, kind);
CREATE INDEX tokens_expiry ON tokens (expires_at) WHERE expires_at > 0;

-- The RTSP device catalogue. url may carry camera credentials: never log it
-- nor show it to non-admins.
CREATE TABLE devices (
	name       TEXT    NOT NULL PRIMARY KEY,
	url        TEXT    NOT NULL,
	transport  TEXT    NOT NULL DEFAULT '' CHECK (transport IN ('', 'tcp', 'udp')),
	disabled   INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	always_on  INTEGER NOT NULL DEFAULT 0 CHECK (always_on IN (0, 1)),
	restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
	viewers    TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

-- Finished calls. Participants are plain names, not references, so that the
-- history outlives deleted accounts.
CREATE TABLE calls (
	id         TEXT    NOT NULL PRIMARY KEY,
	caller     TEXT    NOT NULL,
	callee     TEXT    NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL DEFAULT 0,
	end_reason TEXT    NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX calls_caller ON calls (caller COLLATE NOCASE, started_at);
CREATE INDEX calls_callee ON calls (callee COLLATE NOCASE, started_at);
