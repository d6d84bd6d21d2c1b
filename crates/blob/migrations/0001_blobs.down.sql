DROP TABLE blobs;
DROP TABLE contents;
