-- Temporary conversations: one with an expiry time is never listed or opened once that
-- time has passed, and the cleanup removes it with its messages and attachments.
ALTER TABLE conversations ADD COLUMN expires_at TEXT;

-- The listing's covering index carries the expiry too, so a listing still reads only
-- the index.
DROP INDEX idx_conversations_user_activity;
CREATE INDEX idx_conversations_user_activity
    ON conversations(user_id, last_activity_at DESC, id DESC,
                     status, is_hidden, auto_hidden, message_count, title, expires_at);

-- What the cleanup looks for.
CREATE INDEX idx_conversations_expires_at
    ON conversations(expires_at) WHERE expires_at IS NOT NULL;
