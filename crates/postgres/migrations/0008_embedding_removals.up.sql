-- Which embeddings were removed, so that a vector index can catch up with only what
-- changed since it saved. A removal takes the next version from embedding_version,
-- as writes do, so writes and removals are ordered as one history, in commit order.
CREATE TABLE embedding_removals (
    version    bigint PRIMARY KEY,
    collection text COLLATE "C" NOT NULL,
    chunk_id   uuid NOT NULL
);

-- Once per DELETE statement on chunk_embeddings, including those the cascades from
-- documents, chunks and collections run: one UPDATE of embedding_version takes a
-- version for each row removed (per statement rather than per row, so that dropping a
-- large collection does not update that one row once per embedding). The function
-- keeps the schema it was created in, so it finds its tables whatever the caller's
-- search_path.
CREATE FUNCTION embedding_removed() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    removed_count bigint;
    last_version  bigint;
BEGIN
    SELECT count(*) INTO removed_count FROM removed;
    IF removed_count = 0 THEN
        RETURN NULL;
    END IF;
    UPDATE embedding_version SET latest = latest + removed_count WHERE id = 1
        RETURNING latest INTO last_version;
    INSERT INTO embedding_removals (version, collection, chunk_id)
    SELECT last_version - removed_count + row_number() OVER (ORDER BY version),
           collection, chunk_id
    FROM removed;
    RETURN NULL;
END;
$$;

CREATE TRIGGER embedding_removed
    AFTER DELETE ON chunk_embeddings
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION embedding_removed();

-- Removals are forgotten after a while. Each time they are, the version reached is
-- marked with the time; a later call forgets what was before a mark old enough. A
-- version at or below `through` can no longer be caught up from.
CREATE TABLE embedding_removal_marks (
    version   bigint PRIMARY KEY,
    marked_at timestamptz NOT NULL
);

CREATE TABLE embedding_removals_forgotten (
    id      integer PRIMARY KEY CHECK (id = 1),
    through bigint NOT NULL
);

INSERT INTO embedding_removals_forgotten (id, through) VALUES (1, 0);
