PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (role IN (''user'', ''assistant'') OR role = ''system'')',
                       'CHECK (role IN (''user'', ''assistant'', ''system''))')
WHERE type = 'table' AND name = 'messages';
PRAGMA writable_schema = RESET;
CREATE TABLE chatstore_schema_changed (x);
DROP TABLE chatstore_schema_changed;
