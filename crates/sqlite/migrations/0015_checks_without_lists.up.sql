-- Migration 14's rewrite, for every other check that lists three or more values: the
-- lists are split into lists of two and comparisons, which SQLite checks in place
-- instead of filling a temporary table on every insert (creating a conversation built
-- two). Each check allows exactly what it allowed; the procedure is migration 14's.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (explainability_level IN (''basic'', ''detailed'', ''debug''))',
    'CHECK (explainability_level IN (''basic'', ''detailed'') OR explainability_level = ''debug'')')
WHERE type = 'table' AND name = 'users';
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (status IN (''active'', ''archived'', ''closed'', ''deleted''))',
    'CHECK (status IN (''active'', ''archived'') OR status IN (''closed'', ''deleted''))')
WHERE type = 'table' AND name = 'conversations';
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (status_before_delete IN (''active'', ''archived'', ''closed''))',
    'CHECK (status_before_delete IN (''active'', ''archived'') OR status_before_delete = ''closed'')')
WHERE type = 'table' AND name = 'conversations';
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (processing_status IN (''pending'', ''processing'', ''completed'', ''failed''))',
    'CHECK (processing_status IN (''pending'', ''processing'') OR processing_status IN (''completed'', ''failed''))')
WHERE type = 'table' AND name = 'documents';
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (status IN (''success'', ''failed'', ''timeout''))',
    'CHECK (status IN (''success'', ''failed'') OR status = ''timeout'')')
WHERE type = 'table' AND name = 'agent_logs';
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (distance IN (''cosine'', ''dot'', ''l2''))',
    'CHECK (distance IN (''cosine'', ''dot'') OR distance = ''l2'')')
WHERE type = 'table' AND name = 'embedding_collections';
PRAGMA writable_schema = RESET;
CREATE TABLE chatstore_schema_changed (x);
DROP TABLE chatstore_schema_changed;
