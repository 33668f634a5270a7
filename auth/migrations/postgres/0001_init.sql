-- 0001: the first schema, as migrations/sqlite/0001_init.sql in
-- PostgreSQL's words. Times are timestamptz, NULL meaning never. Names
-- are text COLLATE "C" (compared and ordered byte by byte, as SQLite
-- does); user names are unique without regard to ASCII case through an
-- index on lower(name), which the C collation keeps to ASCII.

-- Accounts; the stored spelling of a name is the canonical one.
CREATE TABLE users (
	name          text COLLATE "C" NOT NULL PRIMARY KEY,
	display_name  text        NOT NULL,
	role          text        NOT NULL CHECK (role IN ('admin', 'user')),
	password_hash text        NOT NULL,
	disabled      boolean     NOT NULL DEFAULT false,
	created_at    timestamptz NOT NULL,
	last_seen_at  timestamptz
);
CREATE UNIQUE INDEX users_name_nocase ON users (lower(name));

-- Sign-in sessions (kind 'session') and publish keys (kind 'key'). Only the
-- SHA-256 of a token is stored; revoking deletes the row.
CREATE TABLE tokens (
	id          text COLLATE "C" NOT NULL PRIMARY KEY,
	hash        bytea       NOT NULL UNIQUE,
	kind        text        NOT NULL CHECK (kind IN ('session', 'key')),
	owner       text COLLATE "C" NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
	action      text        NOT NULL DEFAULT '' CHECK (action IN ('', 'publish', 'view')),
	stream      text COLLATE "C" NOT NULL DEFAULT '',
	label       text        NOT NULL DEFAULT '',
	client_addr text        NOT NULL DEFAULT '',
	created_at  timestamptz NOT NULL,
	expires_at  timestamptz
);
CREATE INDEX tokens_owner ON tokens (lower(owner), kind);
CREATE INDEX tokens_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;

-- The RTSP device catalogue. url may carry camera credentials: never log it
-- nor show it to non-admins.
CREATE TABLE devices (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	url        text        NOT NULL,
	transport  text        NOT NULL DEFAULT '' CHECK (transport IN ('', 'tcp', 'udp')),
	disabled   boolean     NOT NULL DEFAULT false,
	always_on  boolean     NOT NULL DEFAULT false,
	restricted boolean     NOT NULL DEFAULT false,
	viewers    text[] COLLATE "C" NOT NULL DEFAULT '{}',
	created_at timestamptz NOT NULL,
	updated_at timestamptz NOT NULL
);

-- Finished calls. Participants are plain names, not references, so that the
-- history outlives deleted accounts.
CREATE TABLE calls (
	id         text COLLATE "C" NOT NULL PRIMARY KEY,
	caller     text COLLATE "C" NOT NULL,
	callee     text COLLATE "C" NOT NULL,
	started_at timestamptz NOT NULL,
	ended_at   timestamptz,
	end_reason text        NOT NULL DEFAULT ''
);
CREATE INDEX calls_caller ON calls (lower(caller), started_at);
CREATE INDEX calls_callee ON calls (lower(callee), started_at);
