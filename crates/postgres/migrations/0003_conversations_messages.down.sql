DROP VIEW messages_with_metadata;
DROP TRIGGER messages_append_only ON messages;
DROP TABLE messages;
DROP FUNCTION messages_append_only();
DROP TABLE conversations;
