DROP TABLE blobs;
DROP TABLE blob_chunks;
DROP TABLE blob_contents;
