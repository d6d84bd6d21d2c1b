DROP TRIGGER embeddings_changed ON chunk_embeddings;
DROP FUNCTION embeddings_changed();
