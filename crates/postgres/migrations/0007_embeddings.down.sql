DROP TABLE embedding_cache;
DROP TABLE chunk_embeddings;
DROP TABLE embedding_version;
DROP TABLE embedding_collections;
