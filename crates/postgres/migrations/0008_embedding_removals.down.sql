DROP TABLE embedding_removals_forgotten;
DROP TABLE embedding_removal_marks;
DROP TRIGGER embedding_removed ON chunk_embeddings;
DROP FUNCTION embedding_removed();
DROP TABLE embedding_removals;
