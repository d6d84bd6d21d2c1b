-- Wakes the other application servers when embeddings change: every statement that
-- writes or removes embeddings (cascades included) notifies the channel
-- `chatstore_embeddings` with the schema's name, delivered when its transaction
-- commits. A server listening there catches its vector index up at once instead of
-- waiting for its timer.
CREATE FUNCTION embeddings_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chatstore_embeddings', current_schema());
    RETURN NULL;
END;
$$;

CREATE TRIGGER embeddings_changed
    AFTER INSERT OR UPDATE OR DELETE ON chunk_embeddings
    FOR EACH STATEMENT EXECUTE FUNCTION embeddings_changed();
