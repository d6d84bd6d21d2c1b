-- The messages table's check on `role` is rewritten without a list of three: SQLite
-- checks `x IN (a, b, c)` by building a temporary table of the list on every run of the
-- statement, about a sixth of an append's work, while a list of two and a comparison
-- are checked in place. The check allows exactly what it allowed, so every stored row
-- still passes it. The text is edited in place, as SQLite documents for changing a
-- table's constraints without rebuilding it (lang_altertable.html, "Making Other Kinds
-- Of Table Schema Changes"); RESET makes this connection read the schema again, and
-- the table created and dropped moves the schema version, so that every other
-- connection reads it again too.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, 'CHECK (role IN (''user'', ''assistant'', ''system''))',
                       'CHECK (role IN (''user'', ''assistant'') OR role = ''system'')')
WHERE type = 'table' AND name = 'messages';
PRAGMA writable_schema = RESET;
CREATE TABLE chatstore_schema_changed (x);
DROP TABLE chatstore_schema_changed;
