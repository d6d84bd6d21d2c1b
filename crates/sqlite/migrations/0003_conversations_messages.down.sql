DROP VIEW messages_with_metadata;
DROP TRIGGER messages_append_only;
DROP TABLE messages;
DROP TABLE conversations;
