DROP TABLE message_search_parts;
DROP INDEX idx_messages_search;
ALTER TABLE messages DROP COLUMN search_vector;
