-- 0003: who may watch a user and whose calls are answered at once, as
-- choices rather than on/off (as migrations/sqlite/0003_consent.sql).

ALTER TABLE users ADD COLUMN watch_policy text NOT NULL DEFAULT 'everyone'
	CHECK (watch_policy IN ('everyone', 'ask', 'chosen', 'nobody'));
ALTER TABLE users ADD COLUMN answer_policy text NOT NULL DEFAULT 'everyone'
	CHECK (answer_policy IN ('everyone', 'chosen', 'nobody'));
ALTER TABLE users ADD COLUMN chosen text NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN notice_seen boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN password_change boolean NOT NULL DEFAULT false;

UPDATE users SET watch_policy = 'nobody' WHERE NOT allow_watch;
UPDATE users SET answer_policy = 'nobody' WHERE NOT auto_answer;
UPDATE users SET notice_seen = true WHERE last_seen_at IS NOT NULL;

ALTER TABLE users DROP COLUMN allow_watch;
ALTER TABLE users DROP COLUMN auto_answer;
