DROP INDEX idx_embedding_cache_owner;
ALTER TABLE embedding_cache DROP COLUMN owner_id;
