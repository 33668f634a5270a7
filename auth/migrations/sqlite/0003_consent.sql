-- 0003: who may watch a user and whose calls are answered at once, as
-- choices rather than on/off; the people a user chose; whether the user
-- has read what others can do with their camera; whether the account
-- still has the password the server set up.

-- watch_policy: everyone (signed in), ask (each time, on the user's
-- page), chosen (only the users in chosen), nobody.
ALTER TABLE users ADD COLUMN watch_policy TEXT NOT NULL DEFAULT 'everyone'
	CHECK (watch_policy IN ('everyone', 'ask', 'chosen', 'nobody'));
-- answer_policy: everyone, chosen (the users in chosen), nobody (all ring).
ALTER TABLE users ADD COLUMN answer_policy TEXT NOT NULL DEFAULT 'everyone'
	CHECK (answer_policy IN ('everyone', 'chosen', 'nobody'));
-- chosen: a JSON list of account names, as the accounts spell them.
ALTER TABLE users ADD COLUMN chosen TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN notice_seen INTEGER NOT NULL DEFAULT 0 CHECK (notice_seen IN (0, 1));
ALTER TABLE users ADD COLUMN password_change INTEGER NOT NULL DEFAULT 0 CHECK (password_change IN (0, 1));

UPDATE users SET watch_policy = 'nobody' WHERE allow_watch = 0;
UPDATE users SET answer_policy = 'nobody' WHERE auto_answer = 0;
-- Those who have signed in before know the app already.
UPDATE users SET notice_seen = 1 WHERE last_seen_at > 0;

ALTER TABLE users DROP COLUMN allow_watch;
ALTER TABLE users DROP COLUMN auto_answer;
