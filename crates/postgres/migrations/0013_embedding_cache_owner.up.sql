-- Whose text a cached embedding is of (NULL: a global document's, or cached before this
-- column existed), so that deleting a user removes the cache entries of their text.
ALTER TABLE embedding_cache ADD COLUMN owner_id uuid REFERENCES users(id) ON DELETE CASCADE;
CREATE INDEX idx_embedding_cache_owner ON embedding_cache(owner_id) WHERE owner_id IS NOT NULL;
