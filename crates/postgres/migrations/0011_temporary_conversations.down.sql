DROP INDEX idx_conversations_expires_at;
DROP INDEX idx_conversations_user_activity;
CREATE INDEX idx_conversations_user_activity
    ON conversations(user_id, last_activity_at DESC, id DESC)
    INCLUDE (status, is_hidden, auto_hidden, message_count, title);
ALTER TABLE conversations DROP COLUMN expires_at;
