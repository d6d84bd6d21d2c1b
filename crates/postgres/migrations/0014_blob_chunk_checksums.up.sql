-- The fast checksum every read checks (chatstore::blob::chunk_checksum, xxh3-64 of the
-- chunk's bytes, as a bigint), written with each chunk. Chunks stored before this
-- version have none: reads of their content check its blake3 hash instead, and
-- verify_contents records their checksums.
ALTER TABLE blob_chunks ADD COLUMN checksum bigint;
