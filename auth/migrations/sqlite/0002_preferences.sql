-- 0002: what a user chooses about being watched and called, and settings
-- of live streams.

-- allow_watch: others may open users/{name} (the page publishes on
-- request). auto_answer: the app accepts incoming calls at once.
ALTER TABLE users ADD COLUMN allow_watch INTEGER NOT NULL DEFAULT 1 CHECK (allow_watch IN (0, 1));
ALTER TABLE users ADD COLUMN auto_answer INTEGER NOT NULL DEFAULT 1 CHECK (auto_answer IN (0, 1));

-- Settings of live/ streams, kept whether or not the stream is live.
-- public: anyone, signed in or not, may view it.
CREATE TABLE stream_settings (
	name       TEXT    NOT NULL PRIMARY KEY,
	public     INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
	updated_at INTEGER NOT NULL
) STRICT;
