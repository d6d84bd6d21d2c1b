DROP TABLE embedding_cache;
DROP TABLE chunk_embeddings;
DROP TABLE embedding_collections;
