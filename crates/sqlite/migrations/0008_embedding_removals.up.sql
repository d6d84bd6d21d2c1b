-- Which embeddings were removed, so that a vector index can catch up with only what
-- changed since it saved. A removal takes the next version of the sequence
-- chunk_embeddings.version is drawn from, so writes and removals are ordered as one
-- history.
CREATE TABLE embedding_removals (
    version    INTEGER PRIMARY KEY,
    collection TEXT NOT NULL,
    chunk_id   TEXT NOT NULL
) STRICT;

-- Also fired by the cascades from documents, chunks and collections.
CREATE TRIGGER embedding_removed AFTER DELETE ON chunk_embeddings
BEGIN
    UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'chunk_embeddings';
    INSERT INTO embedding_removals (version, collection, chunk_id)
    VALUES (
        (SELECT seq FROM sqlite_sequence WHERE name = 'chunk_embeddings'),
        OLD.collection,
        OLD.chunk_id
    );
END;

-- Removals are forgotten after a while. Each time they are, the version reached is
-- marked with the time; a later call forgets what was before a mark old enough. A
-- version at or below `through` can no longer be caught up from.
CREATE TABLE embedding_removal_marks (
    version   INTEGER PRIMARY KEY,
    marked_at TEXT NOT NULL
) STRICT;

CREATE TABLE embedding_removals_forgotten (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    through INTEGER NOT NULL
) STRICT;

INSERT INTO embedding_removals_forgotten (id, through) VALUES (1, 0);
