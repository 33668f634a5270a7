-- 0002: what a user chooses about being watched and called, and settings
-- of live streams (as migrations/sqlite/0002_preferences.sql).

-- allow_watch: others may open users/{name} (the page publishes on
-- request). auto_answer: the app accepts incoming calls at once.
ALTER TABLE users ADD COLUMN allow_watch boolean NOT NULL DEFAULT true;
ALTER TABLE users ADD COLUMN auto_answer boolean NOT NULL DEFAULT true;

-- Settings of live/ streams, kept whether or not the stream is live.
-- public: anyone, signed in or not, may view it.
CREATE TABLE stream_settings (
	name       text COLLATE "C" NOT NULL PRIMARY KEY,
	public     boolean     NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL
);
